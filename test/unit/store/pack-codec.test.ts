/**
 * Whole-pack erasure coding (pack-codec.ts): every chunk range of a body is found in the data shares as they
 * are, any range is rebuilt from the same range of any k shares, region hashes catch a lying member, and the
 * table is bound to the pack id and bounded before use.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { isRaicError } from '../../../src/errors.js';
import { encodePack, encodePackTable, locateRange, parsePackTable, rebuildRange, regionSpan, regionsMatch, regionsPerShare } from '../../../src/store/pack-codec.js';

const R = 1024; // small regions, so small bodies have many

describe('pack codec', () => {
  for (const [k, n] of [[2, 3], [4, 6], [3, 7], [1, 2]] as const) {
    it(`k=${k} n=${n}: ranges read from data shares as they are; any k shares rebuild any range`, async () => {
      const codec = await loadErasureCodec(k, n);
      for (const size of [1, 17, R * 3 + 5, 50_000]) {
        const body = randomBytes(size);
        const p = encodePack(body, codec, R);
        const t = parsePackTable(p.tableBytes, p.id, { k, n });
        assert.equal(t.shareLen, Math.ceil(size / k));
        const share = (i: number): Uint8Array => p.stripe.subarray(i * p.shareLen, (i + 1) * p.shareLen);
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
      }
    });
  }

  it('a lying member is caught region by region', async () => {
    const codec = await loadErasureCodec(2, 4);
    const p = encodePack(randomBytes(10 * R), codec, R);
    const t = parsePackTable(p.tableBytes, p.id, { k: 2, n: 4 });
    const share1 = Buffer.from(p.stripe.subarray(p.shareLen, 2 * p.shareLen));
    assert.ok(regionsMatch(t, 1, 2 * R, share1.subarray(2 * R, 4 * R)));
    share1[3 * R + 7]! ^= 1;
    assert.equal(regionsMatch(t, 1, 2 * R, share1.subarray(2 * R, 4 * R)), false, 'flipped bit');
    assert.equal(regionsMatch(t, 1, 2 * R + 1, share1.subarray(2 * R + 1, 4 * R)), false, 'unaligned');
    assert.equal(regionsMatch(t, 0, 0, share1.subarray(0, R)), false, 'another share\'s bytes');
    assert.equal(regionsMatch(t, 1, 0, share1.subarray(0, R - 1)), false, 'a region cut short');
  });

  it('the table is bound to the pack id, the array shape, and bounded', async () => {
    const codec = await loadErasureCodec(2, 3);
    const p = encodePack(randomBytes(5000), codec, R);
    const bad = (bytes: Uint8Array, shape = { k: 2, n: 3 }): void =>
      assert.throws(() => parsePackTable(bytes, p.id, shape), (e: unknown) => isRaicError(e, 'Integrity'));
    bad(p.tableBytes, { k: 2, n: 4 });
    const flipped = Buffer.from(p.tableBytes);
    flipped[30]! ^= 1;
    bad(flipped);
    bad(p.tableBytes.subarray(0, 20));
    // A table that names itself correctly but lies about its geometry (a writer's bug or a forger with no
    // reference to match) is refused before it is used.
    const lying = encodePackTable({ ...parsePackTable(p.tableBytes, p.id, { k: 2, n: 3 }), shareLen: 1 });
    assert.throws(() => parsePackTable(lying, encodePack(randomBytes(1), codec, R).id, { k: 2, n: 3 }), (e: unknown) => isRaicError(e, 'Integrity'));
    assert.equal(regionsPerShare({ shareLen: 2500, regionBytes: R }), 3);
    assert.throws(() => locateRange({ shareLen: 2500, bodyBytes: 5000 }, 4990, 11), (e: unknown) => isRaicError(e, 'Integrity'));
  });
});
