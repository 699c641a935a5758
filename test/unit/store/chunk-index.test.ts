/** ChunkIndex: the compact id → ref table behaves as a Map over many growths, and stays small. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChunkIndex } from '../../../src/store/chunk-index.js';
import { REF_BYTES, REF_LIST_HEADER_BYTES, encodeRefList, type ChunkRef } from '../../../src/store/chunk-ref.js';

const packs = Array.from({ length: 7 }, () => randomBytes(16));
const ref = (i: number): ChunkRef => ({ id: randomBytes(32), pack: packs[i % packs.length]!, offset: (i * 7919) >>> 0, length: 40 + i, size: 1 + i, meta: i % 3 === 0 });

describe('ChunkIndex', () => {
  it('agrees with a Map through growth, replacement and iteration', () => {
    const index = new ChunkIndex();
    const model = new Map<string, ChunkRef>();
    for (let i = 0; i < 20_000; i++) {
      const r = ref(i);
      index.set(r.id.toString('hex'), r);
      model.set(r.id.toString('hex'), r);
    }
    // Replace some: the newer ref wins, the size does not change.
    for (const [hex, r] of [...model].slice(0, 500)) {
      const moved = { ...r, pack: packs[0]!, offset: 12345, meta: !r.meta };
      index.set(hex, moved);
      model.set(hex, moved);
    }
    assert.equal(index.size, model.size);
    for (const [hex, want] of model) {
      const got = index.get(hex);
      assert.ok(got && got.id.equals(want.id) && got.pack.equals(want.pack), hex);
      assert.deepEqual([got.offset, got.length, got.size, got.meta], [want.offset, want.length, want.size, want.meta]);
      assert.ok(index.has(hex));
    }
    assert.equal(index.has(randomBytes(32).toString('hex')), false);
    assert.equal(index.get(randomBytes(32).toString('hex')), undefined);
    const seen = new Set([...index].map(([hex]) => hex));
    assert.deepEqual(seen, new Set(model.keys()));
    assert.equal([...index.values()].length, model.size);
  });

  it('holds each chunk in under 200 bytes, at any fill', () => {
    const index = new ChunkIndex();
    for (let i = 1; i <= 300_000; i++) {
      const r = ref(i);
      index.set(r.id.toString('hex'), r);
      // Just after a growth the table is least full: the worst case.
      if (i % 50_000 === 0 || i === 196_609) assert.ok(index.residentBytes() / i < 200, `${(index.residentBytes() / i).toFixed(0)} bytes per chunk at ${i}`);
    }
  });

  it('reserve, setRef and getById agree with set/get; packs() names exactly the packs some entry still names', () => {
    const index = new ChunkIndex();
    index.reserve(5_000);
    const refs = Array.from({ length: 5_000 }, (_, i) => ref(i));
    for (const r of refs) index.setRef(r);
    for (const r of refs) assert.ok(index.getById(r.id)!.pack.equals(r.pack));
    assert.equal(index.getById(randomBytes(32)), undefined);
    assert.deepEqual([...index.packs()].sort(), packs.map((p) => p.toString('hex')).sort());
    // Move every entry of packs[1] to packs[0]: packs[1] is no longer named.
    for (const r of refs) if (r.pack.equals(packs[1]!)) index.setRef({ ...r, pack: packs[0]! });
    assert.equal(index.size, refs.length);
    assert.ok(!index.packs().has(packs[1]!.toString('hex')));
    assert.equal(index.packs().size, packs.length - 1);
  });

  it('addEncoded loads a ref list as setRef would, later refs winning, asking keepPack once per pack', () => {
    // Refs grouped by pack, as trailers and index segments hold them, then a few for chunks already listed.
    const refs = Array.from({ length: 3_000 }, (_, i) => ref(i)).sort((a, b) => a.pack.compare(b.pack));
    const moved = refs.slice(0, 40).map((r) => ({ ...r, pack: packs[2]!, offset: 777, meta: !r.meta }));
    const list = encodeRefList('TESTLIST', [...refs, ...moved]);
    const dropped = packs[5]!.toString('hex');
    const asked: string[] = [];
    const index = new ChunkIndex();
    index.addEncoded(list, REF_LIST_HEADER_BYTES, refs.length + moved.length, (hex) => {
      asked.push(hex);
      return hex !== dropped;
    });
    const model = new ChunkIndex();
    for (const r of [...refs, ...moved]) if (!r.pack.equals(packs[5]!)) model.setRef(r);
    assert.deepEqual(asked.sort(), packs.map((p) => p.toString('hex')).sort());
    assert.ok(model.size > 2_000);
    assert.equal(index.size, model.size);
    for (const [hex, want] of model) assert.deepEqual(index.get(hex), want, hex);
    assert.deepEqual(index.packs(), model.packs());
    assert.ok(!index.packs().has(dropped));
    // Without a filter, every ref is kept.
    const all = new ChunkIndex();
    all.addEncoded(list, REF_LIST_HEADER_BYTES, refs.length + moved.length);
    assert.equal(all.size, refs.length);
  });

  it('addEncoded refuses a ref with flags it does not know, and a list shorter than its count', () => {
    const list = encodeRefList('TESTLIST', [ref(1), ref(2)]);
    list[REF_LIST_HEADER_BYTES + REF_BYTES + 60] = 4;
    assert.throws(() => new ChunkIndex().addEncoded(list, REF_LIST_HEADER_BYTES, 2), (err: Error & { code?: string }) => err.code === 'Integrity' && /unknown flags 4/.test(err.message));
    assert.throws(() => new ChunkIndex().addEncoded(list, REF_LIST_HEADER_BYTES, 3), (err: Error & { code?: string }) => err.code === 'Integrity' && /truncated/.test(err.message));
  });
});
