/**
 * For each shape, every way of keeping exactly k shards rebuilds the stripe bit-exact, on ONE codec
 * instance (state kept between calls — the SIMD codec's cached decode plans and loaded tables, the
 * crate's allocator, which its upstream JS wrapper corrupted after the first reconstruct — only
 * shows on a reused instance).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadErasureCodec, type ErasureCodec } from '../../../src/erasure/index.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { MAX_BLOCK, SimdCodec } from '../../../src/erasure/simd-codec.js';
import { binomial, damage, randomStripe, subsets } from './stripe-helpers.js';

const SHAPES: [number, number][] = [
  [1, 2],
  [2, 3],
  [3, 5],
  [4, 6],
  [3, 10],
  [10, 14],
];
const SHARD = 37; // small and odd, so it is fast and not a multiple of any unrolling width
/** Three SIMD blocks and a partial fourth. */
const MULTI_BLOCK_SHARD = 3 * MAX_BLOCK + 5;

function checkAllSubsets(codec: ErasureCodec, restoreParity: boolean, shardLen = SHARD): number {
  const { k, n } = codec;
  const original = randomStripe(k, n, shardLen);
  codec.encode(original, shardLen);
  let checked = 0;
  for (const survivors of subsets(n, k)) {
    const { damaged, present } = damage(original, n, shardLen, survivors);
    codec.reconstruct(damaged, shardLen, present, { restoreParity });
    const where = `survivors ${survivors.join(',')}`;
    assert.deepEqual(damaged.subarray(0, k * shardLen), original.subarray(0, k * shardLen), `data, ${where}`);
    if (restoreParity) {
      assert.deepEqual(damaged, original, `parity, ${where}`);
    } else {
      // Missing parity is left alone when not asked for.
      for (let p = k; p < n; p++) {
        const shard = damaged.subarray(p * shardLen, (p + 1) * shardLen);
        const expected = present[p] ? original.subarray(p * shardLen, (p + 1) * shardLen) : new Uint8Array(shardLen);
        assert.deepEqual(shard, expected, `parity ${p} untouched, ${where}`);
      }
    }
    checked++;
  }
  return checked;
}

for (const [k, n] of SHAPES) {
  test(`${k}-of-${n}: every set of ${k} survivors rebuilds the data (SIMD, one instance)`, async () => {
    const codec = await loadErasureCodec(k, n);
    assert.ok(codec instanceof SimdCodec);
    assert.equal(checkAllSubsets(codec, false), binomial(n, k));
    assert.equal(checkAllSubsets(codec, true), binomial(n, k));
  });

  test(`${k}-of-${n}: every set of ${k} survivors rebuilds the data (reference)`, () => {
    const codec = new ReferenceCodec(k, n);
    assert.equal(checkAllSubsets(codec, true), binomial(n, k));
  });
}

for (const [k, n] of [[3, 5], [4, 6]] as const) {
  test(`${k}-of-${n}: every set of ${k} survivors rebuilds ${MULTI_BLOCK_SHARD}-byte shards (SIMD, several blocks)`, async () => {
    const codec = await loadErasureCodec(k, n);
    assert.equal(checkAllSubsets(codec, false, MULTI_BLOCK_SHARD), binomial(n, k));
    assert.equal(checkAllSubsets(codec, true, MULTI_BLOCK_SHARD), binomial(n, k));
  });
}

test('more survivors than k, and all present, also work', async () => {
  const codec = await loadErasureCodec(4, 6);
  const original = randomStripe(4, 6, SHARD);
  codec.encode(original, SHARD);
  for (const survivors of [[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [0, 2, 3, 4, 5], [0, 1, 2, 3, 5]]) {
    const { damaged, present } = damage(original, 6, SHARD, survivors);
    codec.reconstruct(damaged, SHARD, present, { restoreParity: true });
    assert.deepEqual(damaged, original, `survivors ${survivors.join(',')}`);
  }
});
