/** Argument errors: bad shapes and stripes are Usage; too few shards to rebuild is Integrity. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { loadErasureCodec, shardLength, type ErasureCodec } from '../../../src/erasure/index.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { compileGfSimd, SimdCodec } from '../../../src/erasure/simd-codec.js';
import { loadCrateCodec } from '../../support/wasm-reed-solomon.js';
import { damage, randomStripe } from './stripe-helpers.js';

const isUsage = (err: unknown) => isRaicError(err, 'Usage');
const isIntegrity = (err: unknown) => isRaicError(err, 'Integrity');

test('invalid k/n is a Usage error', async () => {
  const module = await compileGfSimd();
  for (const [k, n] of [[0, 2], [2, 2], [3, 2], [1, 256], [200, 300], [1.5, 3], [2, NaN], [-1, 3]] as const) {
    await assert.rejects(loadErasureCodec(k, n), isUsage, `k=${k} n=${n}`);
    assert.throws(() => new SimdCodec(k, n, module), isUsage, `SIMD k=${k} n=${n}`);
    assert.throws(() => new ReferenceCodec(k, n), isUsage, `reference k=${k} n=${n}`);
    await assert.rejects(loadCrateCodec(k, n), isUsage, `crate k=${k} n=${n}`);
  }
  assert.equal((await loadErasureCodec(1, 2)).n, 2);
  assert.equal((await loadErasureCodec(254, 255)).k, 254);
});

/** The codec raic runs (SIMD), the reference, and the crate: the same errors from each. */
async function allCodecs(k: number, n: number): Promise<ErasureCodec[]> {
  return [await loadErasureCodec(k, n), new ReferenceCodec(k, n), await loadCrateCodec(k, n)];
}

test('fewer than k shards present is an Integrity error, and the stripe is left as it was', async () => {
  for (const codec of await allCodecs(4, 6)) {
    const stripe = randomStripe(4, 6, 16);
    codec.encode(stripe, 16);
    for (const survivors of [[0, 1, 2], [3, 4, 5], [], [5]]) {
      const { damaged, present } = damage(stripe, 6, 16, survivors);
      const before = damaged.slice();
      assert.throws(() => codec.reconstruct(damaged, 16, present), isIntegrity, `survivors ${survivors.join(',')}`);
      assert.deepEqual(damaged, before);
    }
    // The codec still works after refusing.
    const { damaged, present } = damage(stripe, 6, 16, [1, 3, 4, 5]);
    codec.reconstruct(damaged, 16, present, { restoreParity: true });
    assert.deepEqual(damaged, stripe);
  }
});

test('malformed stripes and flags are Usage errors', async () => {
  for (const codec of await allCodecs(3, 5)) {
    assert.throws(() => codec.encode(new Uint8Array(49), 10), isUsage, 'stripe not n × shardLen');
    assert.throws(() => codec.encode(new Uint8Array(0), 0), isUsage, 'shardLen 0');
    assert.throws(() => codec.encode(new Uint8Array(5 * 2.5), 2.5), isUsage, 'fractional shardLen');
    const present = [true, true, true, true];
    assert.throws(() => codec.reconstruct(new Uint8Array(50), 10, present), isUsage, 'present has 4 flags for 5 shards');
  }
});

test('shardLength is ceil(bytes / k), at least 1', () => {
  assert.equal(shardLength(0, 4), 1);
  assert.equal(shardLength(1, 4), 1);
  assert.equal(shardLength(4, 4), 1);
  assert.equal(shardLength(5, 4), 2);
  assert.equal(shardLength(4 << 20, 4), 1 << 20);
  assert.equal(shardLength((4 << 20) + 1, 4), (1 << 20) + 1);
  assert.equal(shardLength(1000, 3), 334);
  assert.throws(() => shardLength(-1, 4), isUsage);
  assert.throws(() => shardLength(10, 0), isUsage);
  assert.throws(() => shardLength(1.5, 2), isUsage);
});
