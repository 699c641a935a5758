/**
 * For each shape, every way of keeping exactly k shards rebuilds the stripe bit-exact, on ONE codec
 * instance (the upstream JS wrapper corrupted its WASM allocator after the first reconstruct, which
 * only a reused instance shows).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadErasureCodec, type ErasureCodec } from '../../../src/erasure/index.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
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

function checkAllSubsets(codec: ErasureCodec, restoreParity: boolean): number {
  const { k, n } = codec;
  const original = randomStripe(k, n, SHARD);
  codec.encode(original, SHARD);
  let checked = 0;
  for (const survivors of subsets(n, k)) {
    const { damaged, present } = damage(original, n, SHARD, survivors);
    codec.reconstruct(damaged, SHARD, present, { restoreParity });
    const where = `survivors ${survivors.join(',')}`;
    assert.deepEqual(damaged.subarray(0, k * SHARD), original.subarray(0, k * SHARD), `data, ${where}`);
    if (restoreParity) {
      assert.deepEqual(damaged, original, `parity, ${where}`);
    } else {
      // Missing parity is left alone when not asked for.
      for (let p = k; p < n; p++) {
        const shard = damaged.subarray(p * SHARD, (p + 1) * SHARD);
        const expected = present[p] ? original.subarray(p * SHARD, (p + 1) * SHARD) : new Uint8Array(SHARD);
        assert.deepEqual(shard, expected, `parity ${p} untouched, ${where}`);
      }
    }
    checked++;
  }
  return checked;
}

for (const [k, n] of SHAPES) {
  test(`${k}-of-${n}: every set of ${k} survivors rebuilds the data (WASM, one instance)`, async () => {
    const codec = await loadErasureCodec(k, n);
    assert.equal(checkAllSubsets(codec, false), binomial(n, k));
    assert.equal(checkAllSubsets(codec, true), binomial(n, k));
  });

  test(`${k}-of-${n}: every set of ${k} survivors rebuilds the data (reference)`, () => {
    const codec = new ReferenceCodec(k, n);
    assert.equal(checkAllSubsets(codec, true), binomial(n, k));
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
