import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { RaicError, isRaicError } from '../../../src/errors.js';
import { hash } from '../../../src/crypto/index.js';
import type { ChunkEntry } from '../../../src/store/chunk-ref.js';
import { ForwardRecord, ForwardTable, encodeForwardRecord, writeForwardRecord, type ForwardMove } from '../../../src/store/forwarding.js';
import { forwardKey, packKey } from '../../../src/store/layout.js';
import { Members } from '../../../src/store/members.js';
import { PackWriter } from '../../../src/store/pack-writer.js';
import { ChunkReader } from '../../../src/store/chunk-reader.js';
import { CodecPool } from '../../../src/store/codec-pool.js';
import { MemoryProvider } from '../../support/memory-provider.js';

const move = (offset: number): ForwardMove => ({ id: randomBytes(32), key: randomBytes(32), to: { pack: randomBytes(16), offset, length: 1000 + offset % 7 } });
const isIntegrity = (err: unknown): boolean => isRaicError(err, 'Integrity');

/** The record with its checksum recomputed after `edit`: what a provider that alters it on purpose stores. */
function reforged(bytes: Buffer, edit: (body: Buffer) => void): Buffer {
  const body = Buffer.from(bytes.subarray(0, bytes.length - 32));
  edit(body);
  return Buffer.concat([body, hash(body)]);
}

const ENTRY = 82;
const HEADER = 16;
const GEN = 3;

describe('forwarding record codec', () => {
  const oldPack = randomBytes(16);
  const moves = Array.from({ length: 50 }, (_, i) => move(2 ** 40 + i * 1000)); // 48-bit offsets
  const bytes = encodeForwardRecord(oldPack, GEN, moves);

  it('gives each moved chunk its new place, only with that chunk', () => {
    assert.equal(bytes.length, HEADER + 50 * ENTRY + 32);
    const record = ForwardRecord.decode(oldPack, GEN, bytes);
    assert.equal(record.count, 50);
    for (const m of moves) {
      const at = record.lookup(m);
      assert.ok(at && at.pack.equals(m.to.pack), 'new pack');
      assert.equal(at.offset, m.to.offset);
      assert.equal(at.length, m.to.length);
    }
    assert.equal(record.lookup({ id: randomBytes(32), key: randomBytes(32) }), null, 'a chunk that did not move is not found');
  });

  it('reveals nothing of the new places in the clear', () => {
    for (const m of moves) assert.equal(bytes.indexOf(m.to.pack), -1);
    for (const m of moves) assert.equal(bytes.indexOf(m.id), -1, 'chunk ids are not stored either (only a hash prefix)');
  });

  it('does not open under a wrong key: the right tag with another key is Integrity', () => {
    const record = ForwardRecord.decode(oldPack, GEN, bytes);
    assert.throws(() => record.lookup({ id: moves[7]!.id, key: randomBytes(32) }), isIntegrity);
    assert.throws(() => record.lookup({ id: moves[7]!.id, key: moves[8]!.key }), isIntegrity);
  });

  it('is bound to its old pack: read as another pack’s record, no entry opens', () => {
    const record = ForwardRecord.decode(randomBytes(16), GEN, bytes);
    assert.throws(() => record.lookup(moves[0]!), isIntegrity);
  });

  it('is bound to its generation: read as another, refused; with the generation rewritten, no entry opens', () => {
    assert.throws(() => ForwardRecord.decode(oldPack, GEN + 1, bytes), isIntegrity);
    const renamed = ForwardRecord.decode(oldPack, GEN + 1, reforged(bytes, (body) => body.writeUInt32BE(GEN + 1, 8)));
    for (const m of moves.slice(0, 5)) assert.throws(() => renamed.lookup(m), isIntegrity);
  });

  it('reads generation 0, the layout before generations (its own magic, no generation field)', () => {
    const legacy = encodeForwardRecord(oldPack, 0, moves);
    assert.equal(legacy.toString('latin1', 0, 8), 'RAICFWD2');
    assert.equal(legacy.length, 12 + 50 * ENTRY + 32);
    const record = ForwardRecord.decode(oldPack, 0, legacy);
    for (const m of moves) assert.ok(record.lookup(m)?.pack.equals(m.to.pack));
    assert.throws(() => ForwardRecord.decode(oldPack, GEN, legacy), isIntegrity);
    assert.throws(() => ForwardRecord.decode(oldPack, 0, bytes), isIntegrity);
  });

  it('rejects accidental damage anywhere (checksum), a wrong magic and a wrong length', () => {
    for (const at of [0, 9, HEADER + 3, HEADER + 20, HEADER + 49 * ENTRY + 81, bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x01;
      assert.throws(() => ForwardRecord.decode(oldPack, GEN, bad), isIntegrity, `flip at ${at}`);
    }
    assert.throws(() => ForwardRecord.decode(oldPack, GEN, bytes.subarray(0, bytes.length - 1)), isIntegrity);
    assert.throws(() => ForwardRecord.decode(oldPack, GEN, Buffer.concat([bytes, Buffer.alloc(ENTRY)])), isIntegrity);
    assert.throws(() => ForwardRecord.decode(oldPack, GEN, Buffer.alloc(10)), isIntegrity);
  });

  it('rejects a tampered entry even with the checksum recomputed; the other entries still open', () => {
    const record = ForwardRecord.decode(oldPack, GEN, bytes);
    // Which move sits at sorted position 5: find it by looking each up in the pristine record's order.
    const tags = moves.map((m) => hash(m.id).subarray(0, 16));
    const order = tags.map((t, i) => [t, i] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
    const victim = moves[order[5]![1]]!;
    assert.ok(record.lookup(victim));
    for (const offsetInEntry of [16, 16 + 24, ENTRY - 1]) {
      const forged = ForwardRecord.decode(oldPack, GEN, reforged(bytes, (body) => (body[HEADER + 5 * ENTRY + offsetInEntry]! ^= 0x80)));
      assert.throws(() => forged.lookup(victim), isIntegrity, `byte ${offsetInEntry} of the entry`);
      for (const m of moves) if (m !== victim) assert.ok(forged.lookup(m));
    }
    // A swapped pair of sealed parts: each opens under neither key.
    const swapped = ForwardRecord.decode(
      oldPack,
      GEN,
      reforged(bytes, (body) => {
        const a = Buffer.from(body.subarray(HEADER + 16, HEADER + ENTRY));
        body.copy(body, HEADER + 16, HEADER + ENTRY + 16, HEADER + 2 * ENTRY);
        a.copy(body, HEADER + ENTRY + 16);
      }),
    );
    assert.throws(() => swapped.lookup(moves[order[0]![1]]!), isIntegrity);
    assert.throws(() => swapped.lookup(moves[order[1]![1]]!), isIntegrity);
    // Entries out of tag order are refused whole.
    assert.throws(() => ForwardRecord.decode(oldPack, GEN, reforged(bytes, (body) => body.copy(body, HEADER, HEADER + ENTRY, HEADER + 2 * ENTRY))), isIntegrity);
  });

  it('records a chunk named twice once; an empty record finds nothing', () => {
    const m = move(5);
    assert.equal(ForwardRecord.decode(oldPack, GEN, encodeForwardRecord(oldPack, GEN, [m, m])).count, 1);
    assert.equal(ForwardRecord.decode(oldPack, GEN, encodeForwardRecord(oldPack, GEN, [])).lookup(m), null);
  });
});

describe('ForwardTable over three members', () => {
  const providers = [0, 1, 2].map((i) => new MemoryProvider({ name: `m${i}` }));
  const members = Members.fromProviders(providers);
  const oldPack = randomBytes(16);
  const hex = oldPack.toString('hex');
  const moves = [move(1), move(2), move(3)];

  it('looks chunks up from the first sound copy, and says null for a pack with no record', async () => {
    await writeForwardRecord(members, oldPack, 1, moves);
    for (const p of providers) assert.ok(p.objects.has(forwardKey(hex, 1)));
    // Member 0's copy damaged by accident: refused, member 1's is used.
    providers[0]!.objects.get(forwardKey(hex, 1))![20]! ^= 0xff;
    const table = new ForwardTable(members);
    const at = await table.lookup(hex, [1], moves[1]!);
    assert.ok(at?.pack.equals(moves[1]!.to.pack));
    assert.equal(at?.record, forwardKey(hex, 1));
    assert.deepEqual(table.keys(), [forwardKey(hex, 1)]);
    assert.equal(await table.lookup(randomBytes(16).toString('hex'), [1], moves[0]!), null);
  });

  it('falls back to another member when one copy was altered with its checksum recomputed', async () => {
    const key = forwardKey(hex, 1);
    const pristine = providers[1]!.objects.get(key)!;
    providers[0]!.objects.set(key, reforged(pristine, (body) => body.fill(0x33, HEADER + 16, HEADER + ENTRY)));
    const first = moves.map((m) => ({ m, tag: hash(m.id).subarray(0, 16) })).sort((a, b) => Buffer.compare(a.tag, b.tag))[0]!.m;
    const table = new ForwardTable(members);
    assert.ok((await table.lookup(hex, [1], first))?.pack.equals(first.to.pack));
    // Altered on every member: Integrity, never a wrong place.
    for (const p of providers) p.objects.set(key, providers[0]!.objects.get(key)!);
    await assert.rejects(new ForwardTable(members).lookup(hex, [1], first), isIntegrity);
  });

  it('the newest generation that names a chunk decides; a forged or replayed newer one is passed over', async () => {
    const pack = randomBytes(16);
    const p = pack.toString('hex');
    const [x, y] = [move(10), move(20)];
    const xNow = { ...x, to: { pack: randomBytes(16), offset: 7, length: 99 } };
    await writeForwardRecord(members, pack, 1, [x, y]);
    await writeForwardRecord(members, pack, 2, [xNow]); // x moved again; y not named any more
    const table = new ForwardTable(members);
    assert.ok((await table.lookup(p, [2, 1], x))?.pack.equals(xNow.to.pack), 'generation 2 decides for x');
    const yAt = await table.lookup(p, [1, 2], y);
    assert.ok(yAt?.pack.equals(y.to.pack), 'generation 1 still answers for y');
    assert.equal(yAt?.record, forwardKey(p, 1));
    // One member lists a generation 3 that is generation 1's bytes (a replay), another one that is garbage.
    providers[1]!.objects.set(forwardKey(p, 3), providers[1]!.objects.get(forwardKey(p, 1))!);
    providers[2]!.objects.set(forwardKey(p, 4), randomBytes(200));
    const wary = new ForwardTable(members);
    assert.ok((await wary.lookup(p, [4, 3, 2, 1], x))?.pack.equals(xNow.to.pack), 'x from generation 2');
    assert.ok((await wary.lookup(p, [4, 3, 2, 1], y))?.pack.equals(y.to.pack), 'y from generation 1');
    assert.deepEqual(wary.keys().sort(), [forwardKey(p, 1), forwardKey(p, 2)].sort());
    // A generation listed but gone everywhere (deleted since the listing) is passed over too.
    assert.ok((await new ForwardTable(members).lookup(p, [9, 2], x))?.pack.equals(xNow.to.pack));
  });

  it('strict: a newer generation no member can be asked for is an error, not a cue to use an older one', async () => {
    const pack = randomBytes(16);
    const p = pack.toString('hex');
    const x = move(30);
    const flaky = [0, 1, 2].map((i) => new MemoryProvider({ name: `f${i}` }));
    const fm = Members.fromProviders(flaky);
    await writeForwardRecord(fm, pack, 1, [x]);
    await writeForwardRecord(fm, pack, 2, [{ ...x, to: { pack: randomBytes(16), offset: 1, length: 2 } }]);
    for (const f of flaky) {
      const get = f.get.bind(f);
      f.get = async (key, range) => {
        if (key === forwardKey(p, 2)) throw new RaicError('Permanent', 'refused');
        return get(key, range);
      };
    }
    assert.ok((await new ForwardTable(fm).lookup(p, [2, 1], x))?.pack.equals(x.to.pack), 'a reader makes do with generation 1');
    await assert.rejects(new ForwardTable(fm, { strict: true }).lookup(p, [2, 1], x), (err: unknown) => isRaicError(err, 'Quorum'));
  });

  it('a new generation is not written over other bytes under its name', async () => {
    const pack = randomBytes(16);
    providers[2]!.objects.set(forwardKey(pack.toString('hex'), 5), randomBytes(100));
    await assert.rejects(writeForwardRecord(members, pack, 5, [move(1)]), (err: unknown) => isRaicError(err, 'Quorum'));
    // The same bytes already there (a retried write) are fine.
    await writeForwardRecord(members, pack, 6, [moves[0]!]);
    for (const p of providers) p.objects.delete(forwardKey(pack.toString('hex'), 6));
  });
});

describe('ChunkReader follows forwarding records', () => {
  const k = 2;
  const n = 3;
  const indexKey = randomBytes(32);
  let pool: CodecPool;
  let providers: MemoryProvider[];
  let members: Members;
  before(() => {
    pool = new CodecPool(1);
    providers = Array.from({ length: n }, (_, i) => new MemoryProvider({ name: `r${i}` }));
    members = Members.fromProviders(providers);
  });
  after(async () => pool.close());

  it('reads a chunk moved twice from its original entry; locate names the pack that holds it; no record → missing', async () => {
    const plaintext = randomBytes(300_000);
    const enc = await pool.seal({ plaintext, convergenceKey: randomBytes(32), compression: 'auto' });
    const at: ChunkEntry[] = [];
    // Three copies of the sealed chunk in three packs A, B, C (as repacking writes them: same bytes, new place).
    for (let i = 0; i < 3; i++) {
      const writer = new PackWriter(members, k, indexKey, 4 << 20, 8 << 20);
      if (i > 0) await writer.add({ id: randomBytes(32), size: 1000, sealed: randomBytes(1000 * i) }); // shifts the offset
      at.push({ ...(await writer.add(enc)), key: Buffer.from(enc.key) });
      await writer.finish();
    }
    const [a, b, c] = at as [ChunkEntry, ChunkEntry, ChunkEntry];
    const [aHex, bHex] = [a.pack.toString('hex'), b.pack.toString('hex')];
    assert.notEqual(b.offset, a.offset);
    // A → B in the layout before generations (generation 0), B → C in generation 1.
    const legacy = encodeForwardRecord(a.pack, 0, [{ id: a.id, key: a.key, to: { pack: b.pack, offset: b.offset, length: b.length } }]);
    for (const p of providers) await p.put(forwardKey(aHex, 0), legacy);
    await writeForwardRecord(members, b.pack, 1, [{ id: a.id, key: a.key, to: { pack: c.pack, offset: c.offset, length: c.length } }]);
    for (const p of providers) {
      p.objects.delete(packKey(aHex));
      p.objects.delete(packKey(bHex));
    }

    const reader = new ChunkReader(members, pool, k, plaintext.length);
    assert.ok(Buffer.from(await reader.read(a)).equals(plaintext));
    assert.equal(reader.problems.length, 0, JSON.stringify(reader.problems));
    assert.equal(reader.longestForwardChain, 2);
    const where = await reader.locate(a);
    assert.ok(where.pack.equals(c.pack));
    assert.equal(where.offset, c.offset);
    assert.deepEqual(reader.forwardRecordKeys().sort(), [forwardKey(aHex, 0), forwardKey(bHex, 1)].sort());
    // A pack still present is its own location.
    const direct = new ChunkReader(members, pool, k, plaintext.length);
    assert.ok((await direct.locate(c)).pack.equals(c.pack));
    assert.equal(direct.longestForwardChain, 0);

    // A newer generation of A's record sends the chunk straight to C: one step, though generation 0 is still listed.
    await writeForwardRecord(members, a.pack, 1, [{ id: a.id, key: a.key, to: { pack: c.pack, offset: c.offset, length: c.length } }]);
    const short = new ChunkReader(members, pool, k, plaintext.length);
    assert.ok(Buffer.from(await short.read(a)).equals(plaintext));
    assert.equal(short.longestForwardChain, 1);
    assert.deepEqual(short.forwardRecordKeys(), [forwardKey(aHex, 1)]);
    for (const p of providers) p.objects.delete(forwardKey(aHex, 1));

    // Without the second record the chain breaks: the pack is missing, and the read says so.
    for (const p of providers) p.objects.delete(forwardKey(bHex, 1));
    const broken = new ChunkReader(members, pool, k, plaintext.length);
    await assert.rejects(broken.read(a), (err: unknown) => isRaicError(err, 'NotFound'));
    assert.ok(broken.problems.length > 0 && broken.problems.every((p) => p.problem === 'missing' && p.object === packKey(bHex)));
  });
});
