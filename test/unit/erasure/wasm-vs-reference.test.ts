/**
 * The WASM crate and the TypeScript reference are independent implementations of the same code:
 * their parity must be byte-identical for every shape we route to WASM, including the edges
 * (k = 1, parity-heavy, n = 255), and each must decode the other's stripes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { encodingMatrix, gfInverse, gfMul, gfPow } from '../../../src/erasure/gf256-reference.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { damage, randomStripe } from './stripe-helpers.js';

const SHAPES: [number, number][] = [
  [1, 2],
  [2, 3],
  [3, 5],
  [4, 6],
  [3, 10],
  [10, 14],
  [1, 255],
  [17, 40],
  [128, 255],
  [254, 255],
];

test('GF(2^8) arithmetic: polynomial 0x11d, inverses, powers', () => {
  assert.equal(gfMul(0x80, 2), 0x1d); // x^7 · x = x^8 = x^4 + x^3 + x^2 + 1
  assert.equal(gfMul(0, 0xff), 0);
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInverse(a)), 1, `inverse of ${a}`);
  assert.equal(gfPow(0, 0), 1);
  assert.equal(gfPow(2, 8), 0x1d);
  assert.throws(() => gfInverse(0), RangeError);
});

test('encoding matrix is systematic: identity on top', () => {
  const m = encodingMatrix(5, 9);
  for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) assert.equal(m[r]![c], r === c ? 1 : 0);
});

for (const [k, n] of SHAPES) {
  test(`${k}-of-${n}: WASM parity equals reference parity, and each decodes the other`, async () => {
    const shard = n > 20 ? 5 : 301;
    const wasm = await loadErasureCodec(k, n);
    const reference = new ReferenceCodec(k, n);
    const byWasm = randomStripe(k, n, shard);
    const byReference = byWasm.slice();
    wasm.encode(byWasm, shard);
    reference.encode(byReference, shard);
    assert.deepEqual(byWasm, byReference);
    assert.ok(byWasm.subarray(k * shard).some((b) => b !== 0), 'parity is not all zero');

    // Lose as many shards as allowed, data first, and rebuild with each codec.
    const lost = new Set(Array.from({ length: n - k }, (_, i) => (i * 7) % n));
    const survivors = Array.from({ length: n }, (_, i) => i).filter((i) => !lost.has(i));
    for (const codec of [wasm, reference]) {
      const { damaged, present } = damage(byWasm, n, shard, survivors.slice(0, k));
      codec.reconstruct(damaged, shard, present, { restoreParity: true });
      assert.deepEqual(damaged, byWasm);
    }
  });
}
