/**
 * Whole-pack erasure coding (pack-codec.ts): every chunk range of a body is found in the data shares as they
 * are, any range is rebuilt from the same range of any k shares, region hashes catch a lying member, and the
 * table names its object, fits the array, and is bounded before use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { isRaicError } from '../../../src/errors.js';
import { encodePack, encodePackTable, shareOf, tableLengthOf, OBJECT_HEADER_BYTES, decodeShare, locateRange, parsePackTable, rebuildRange, regionSpan, regionsMatch, regionsPerShare } from '../../../src/store/pack-codec.js';

const R = 1024; // small regions, so small bodies have many

describe('pack codec', () => {
  for (const [k, n] of [[2, 3], [4, 6], [3, 7], [1, 2]] as const) {
    it(`k=${k} n=${n}: ranges read from data shares as they are; any k shares rebuild any range`, async () => {
      const codec = await loadErasureCodec(k, n);
      for (const size of [1, 17, R * 3 + 5, 50_000, 1_300_001]) { // the last: shares longer than one encoding slice
        const body = randomBytes(size);
        const id = randomBytes(16);
        const p = encodePack(body, codec, id, 0, R);
        const t = parsePackTable(p.tableBytes, id, { k, n });
        for (const obj of p.objects) assert.equal(tableLengthOf(obj), p.tableBytes.length);
        assert.deepEqual(p.objects[0]!.subarray(OBJECT_HEADER_BYTES, OBJECT_HEADER_BYTES + p.tableBytes.length), p.tableBytes);
        assert.equal(t.shareLen, Math.ceil(size / k));
        const share = (i: number): Uint8Array => shareOf(p, i);
        for (let i = 0; i < n; i++) assert.ok(regionsMatch(t, i, 0, share(i)), `share ${i} matches its table`);
        // Healthy reads: the pieces, concatenated, are the body's bytes.
        for (const [off, len] of [[0, size], [Math.floor(size / 3), Math.max(1, Math.floor(size / 2))], [size - 1, 1]] as const) {
          if (off + len > size) continue;
          const got = Buffer.concat(locateRange(t, off, len).map((pc) => share(pc.share).subarray(pc.from, pc.to)));
          assert.deepEqual(got, body.subarray(off, off + len), `range ${off}+${len}`);
        }
        // Degraded: lose n − k shares (the first ones: data shares), rebuild a region-aligned range.
        const { from, to } = regionSpan(t, Math.floor(t.shareLen / 2), t.shareLen);
        const ranges = Array.from({ length: n }, (_, i) => (i < n - k ? null : share(i).slice(from, to)));
        const rebuilt = rebuildRange(codec, ranges, to - from);
        for (let i = 0; i < n; i++) assert.deepEqual(Buffer.from(rebuilt[i]!), Buffer.from(share(i).subarray(from, to)), `share ${i} rebuilt`);
        // decodeShare: one missing data share from any k others, any range (not region-aligned; the last size
        // spans several of its 256 KiB blocks), the same bytes as the share holds.
        const a = Math.floor(t.shareLen / 3);
        const b = t.shareLen;
        for (const want of [0, k - 1]) {
          const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== want).slice(-k);
          const given = Array.from({ length: n }, (_, i) => (others.includes(i) ? share(i).slice(a, b) : null));
          assert.deepEqual(decodeShare(codec, given, b - a, want), Buffer.from(share(want).subarray(a, b)), `share ${want} decoded from ${others}`);
        }
      }
    });
  }

  it('decodeShare refuses a present or parity share, ranges of other lengths, and fewer than k', async () => {
    const codec = await loadErasureCodec(2, 4);
    const r = (len: number): Uint8Array => randomBytes(len);
    assert.throws(() => decodeShare(codec, [r(8), r(8), r(8), null], 8, 0), (e: unknown) => isRaicError(e, 'Usage'));
    assert.throws(() => decodeShare(codec, [null, r(8), r(8), null], 8, 3), (e: unknown) => isRaicError(e, 'Usage'));
    assert.throws(() => decodeShare(codec, [null, r(8), r(7), null], 8, 0), (e: unknown) => isRaicError(e, 'Usage'));
    assert.throws(() => decodeShare(codec, [null, r(8), null, null], 8, 0), (e: unknown) => isRaicError(e));
  });

  it('a lying member is caught region by region', async () => {
    const codec = await loadErasureCodec(2, 4);
    const id = randomBytes(16);
    const p = encodePack(randomBytes(10 * R), codec, id, 0, R);
    const t = parsePackTable(p.tableBytes, id, { k: 2, n: 4 });
    const share1 = Buffer.from(shareOf(p, 1));
    assert.ok(regionsMatch(t, 1, 2 * R, share1.subarray(2 * R, 4 * R)));
    share1[3 * R + 7]! ^= 1;
    assert.equal(regionsMatch(t, 1, 2 * R, share1.subarray(2 * R, 4 * R)), false, 'flipped bit');
    assert.equal(regionsMatch(t, 1, 2 * R + 1, share1.subarray(2 * R + 1, 4 * R)), false, 'unaligned');
    assert.equal(regionsMatch(t, 0, 0, share1.subarray(0, R)), false, 'another share\'s bytes');
    assert.equal(regionsMatch(t, 1, 0, share1.subarray(0, R - 1)), false, 'a region cut short');
  });

  it('the table names its object, fits the array shape, and is bounded', async () => {
    const codec = await loadErasureCodec(2, 3);
    const id = randomBytes(16);
    const p = encodePack(randomBytes(5000), codec, id, 100, R);
    const bad = (bytes: Uint8Array, shape = { k: 2, n: 3 }, name: Uint8Array = id): void =>
      assert.throws(() => parsePackTable(bytes, name, shape), (e: unknown) => isRaicError(e, 'Integrity'));
    assert.equal(parsePackTable(p.tableBytes, id, { k: 2, n: 3 }).trailerBytes, 100);
    bad(p.tableBytes, { k: 2, n: 4 });
    bad(p.tableBytes, { k: 2, n: 3 }, randomBytes(16)); // another object's table
    bad(p.tableBytes.subarray(0, 20));
    bad(Buffer.concat([p.tableBytes, Buffer.alloc(16)]));
    // A table that lies about its geometry is refused before it is used.
    const t = parsePackTable(p.tableBytes, id, { k: 2, n: 3 });
    bad(encodePackTable({ ...t, shareLen: 1 }));
    bad(encodePackTable({ ...t, trailerBytes: t.bodyBytes + 1 }));
    bad(encodePackTable({ ...t, regionBytes: 1 }));
    // A member object announcing a huge table is refused before anything is fetched for it.
    const header = Buffer.from(p.objects[0]!.subarray(0, OBJECT_HEADER_BYTES));
    header.writeUInt32BE(2 ** 31, 8);
    assert.throws(() => tableLengthOf(header), (e: unknown) => isRaicError(e, 'Integrity'));
    assert.equal(regionsPerShare({ shareLen: 2500, regionBytes: R }), 3);
    assert.throws(() => locateRange({ shareLen: 2500, bodyBytes: 5000 }, 4990, 11), (e: unknown) => isRaicError(e, 'Integrity'));
  });
});
