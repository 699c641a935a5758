import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
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
const HEADER = 12;

describe('forwarding record codec', () => {
  const oldPack = randomBytes(16);
  const moves = Array.from({ length: 50 }, (_, i) => move(2 ** 40 + i * 1000)); // 48-bit offsets
  const bytes = encodeForwardRecord(oldPack, moves);

  it('gives each moved chunk its new place, only with that chunk', () => {
    assert.equal(bytes.length, HEADER + 50 * ENTRY + 32);
    const record = ForwardRecord.decode(oldPack, bytes);
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
    const record = ForwardRecord.decode(oldPack, bytes);
    assert.throws(() => record.lookup({ id: moves[7]!.id, key: randomBytes(32) }), isIntegrity);
    assert.throws(() => record.lookup({ id: moves[7]!.id, key: moves[8]!.key }), isIntegrity);
  });

  it('is bound to its old pack: read as another pack’s record, no entry opens', () => {
    const record = ForwardRecord.decode(randomBytes(16), bytes);
    assert.throws(() => record.lookup(moves[0]!), isIntegrity);
  });

  it('rejects accidental damage anywhere (checksum), a wrong magic and a wrong length', () => {
    for (const at of [0, 9, HEADER + 3, HEADER + 20, HEADER + 49 * ENTRY + 81, bytes.length - 1]) {
      const bad = Buffer.from(bytes);
      bad[at]! ^= 0x01;
      assert.throws(() => ForwardRecord.decode(oldPack, bad), isIntegrity, `flip at ${at}`);
    }
    assert.throws(() => ForwardRecord.decode(oldPack, bytes.subarray(0, bytes.length - 1)), isIntegrity);
    assert.throws(() => ForwardRecord.decode(oldPack, Buffer.concat([bytes, Buffer.alloc(ENTRY)])), isIntegrity);
    assert.throws(() => ForwardRecord.decode(oldPack, Buffer.alloc(10)), isIntegrity);
  });

  it('rejects a tampered entry even with the checksum recomputed; the other entries still open', () => {
    const record = ForwardRecord.decode(oldPack, bytes);
    // Which move sits at sorted position 5: find it by looking each up in the pristine record's order.
    const tags = moves.map((m) => hash(m.id).subarray(0, 16));
    const order = tags.map((t, i) => [t, i] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
    const victim = moves[order[5]![1]]!;
    assert.ok(record.lookup(victim));
    for (const offsetInEntry of [16, 16 + 24, ENTRY - 1]) {
      const forged = ForwardRecord.decode(oldPack, reforged(bytes, (body) => (body[HEADER + 5 * ENTRY + offsetInEntry]! ^= 0x80)));
      assert.throws(() => forged.lookup(victim), isIntegrity, `byte ${offsetInEntry} of the entry`);
      for (const m of moves) if (m !== victim) assert.ok(forged.lookup(m));
    }
    // A swapped pair of sealed parts: each opens under neither key.
    const swapped = ForwardRecord.decode(
      oldPack,
      reforged(bytes, (body) => {
        const a = Buffer.from(body.subarray(HEADER + 16, HEADER + ENTRY));
        body.copy(body, HEADER + 16, HEADER + ENTRY + 16, HEADER + 2 * ENTRY);
        a.copy(body, HEADER + ENTRY + 16);
      }),
    );
    assert.throws(() => swapped.lookup(moves[order[0]![1]]!), isIntegrity);
    assert.throws(() => swapped.lookup(moves[order[1]![1]]!), isIntegrity);
    // Entries out of tag order are refused whole.
    assert.throws(() => ForwardRecord.decode(oldPack, reforged(bytes, (body) => body.copy(body, HEADER, HEADER + ENTRY, HEADER + 2 * ENTRY))), isIntegrity);
  });

  it('records a chunk named twice once; an empty record finds nothing', () => {
    const m = move(5);
    assert.equal(ForwardRecord.decode(oldPack, encodeForwardRecord(oldPack, [m, m])).count, 1);
    assert.equal(ForwardRecord.decode(oldPack, encodeForwardRecord(oldPack, [])).lookup(m), null);
  });
});

describe('ForwardTable over three members', () => {
  const providers = [0, 1, 2].map((i) => new MemoryProvider({ name: `m${i}` }));
  const members = Members.fromProviders(providers);
  const oldPack = randomBytes(16);
  const hex = oldPack.toString('hex');
  const moves = [move(1), move(2), move(3)];

  it('looks chunks up from the first sound copy, and says null for a pack with no record', async () => {
    await writeForwardRecord(members, oldPack, moves);
    for (const p of providers) assert.ok(p.objects.has(forwardKey(hex)));
    // Member 0's copy damaged by accident: refused, member 1's is used.
    providers[0]!.objects.get(forwardKey(hex))![20]! ^= 0xff;
    const table = new ForwardTable(members);
    assert.equal(table.has(hex), false);
    const at = await table.lookup(hex, moves[1]!);
    assert.ok(at?.pack.equals(moves[1]!.to.pack));
    assert.equal(table.has(hex), true);
    assert.deepEqual(table.keys(), [forwardKey(hex)]);
    assert.equal(await table.lookup(randomBytes(16).toString('hex'), moves[0]!), null);
  });

  it('falls back to another member when one copy was altered with its checksum recomputed', async () => {
    const key = forwardKey(hex);
    const pristine = providers[1]!.objects.get(key)!;
    providers[0]!.objects.set(key, reforged(pristine, (body) => body.fill(0x33, HEADER + 16, HEADER + ENTRY)));
    const first = moves.map((m) => ({ m, tag: hash(m.id).subarray(0, 16) })).sort((a, b) => Buffer.compare(a.tag, b.tag))[0]!.m;
    const table = new ForwardTable(members);
    assert.ok((await table.lookup(hex, first))?.pack.equals(first.to.pack));
    // Altered on every member: Integrity, never a wrong place.
    for (const p of providers) p.objects.set(key, providers[0]!.objects.get(key)!);
    await assert.rejects(new ForwardTable(members).lookup(hex, first), isIntegrity);
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
    assert.notEqual(b.offset, a.offset);
    await writeForwardRecord(members, a.pack, [{ id: a.id, key: a.key, to: { pack: b.pack, offset: b.offset, length: b.length } }]);
    await writeForwardRecord(members, b.pack, [{ id: a.id, key: a.key, to: { pack: c.pack, offset: c.offset, length: c.length } }]);
    for (const p of providers) {
      p.objects.delete(packKey(a.pack.toString('hex')));
      p.objects.delete(packKey(b.pack.toString('hex')));
    }

    const reader = new ChunkReader(members, pool, k, plaintext.length);
    assert.ok(Buffer.from(await reader.read(a)).equals(plaintext));
    assert.equal(reader.problems.length, 0, JSON.stringify(reader.problems));
    const where = await reader.locate(a);
    assert.ok(where.pack.equals(c.pack));
    assert.equal(where.offset, c.offset);
    assert.deepEqual(reader.forwardRecordKeys().sort(), [forwardKey(a.pack.toString('hex')), forwardKey(b.pack.toString('hex'))].sort());
    // A pack still present is its own location.
    assert.ok((await new ChunkReader(members, pool, k, plaintext.length).locate(c)).pack.equals(c.pack));

    // Without the second record the chain breaks: the pack is missing, and the read says so.
    for (const p of providers) p.objects.delete(forwardKey(b.pack.toString('hex')));
    const broken = new ChunkReader(members, pool, k, plaintext.length);
    await assert.rejects(broken.read(a), (err: unknown) => isRaicError(err, 'NotFound'));
    assert.ok(broken.problems.length > 0 && broken.problems.every((p) => p.problem === 'missing' && p.object === packKey(b.pack.toString('hex'))));
  });
});
