/**
 * Pins the parity bytes of `rs-vandermonde-gf256/1`: if these change, stored arrays no longer decode.
 * Input: data byte i = (i*7 + 3) mod 256, 8-byte shards. The expected parity was computed with the
 * TypeScript reference and the Rust crate (they agreed), then written here; the SIMD codec raic runs
 * must keep producing them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CODEC_ID, loadErasureCodec } from '../../../src/erasure/index.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { SimdCodec } from '../../../src/erasure/simd-codec.js';
import { loadCrateCodec } from '../../support/wasm-reed-solomon.js';

const SHARD = 8;
const GOLDEN: { k: number; n: number; parity: string[] }[] = [
  { k: 4, n: 6, parity: ['e29f7f2522fcd033', 'a0f07a6d6a4498ab'] },
  { k: 3, n: 5, parity: ['4b32d9c0c7eed5fc', 'e34dac252246d089'] },
];

function goldenStripe(k: number, n: number): Uint8Array {
  const stripe = new Uint8Array(n * SHARD);
  for (let i = 0; i < k * SHARD; i++) stripe[i] = (i * 7 + 3) % 256;
  return stripe;
}

function parityHex(stripe: Uint8Array, k: number, n: number): string[] {
  const out: string[] = [];
  for (let p = k; p < n; p++) out.push(Buffer.from(stripe.subarray(p * SHARD, (p + 1) * SHARD)).toString('hex'));
  return out;
}

test('codec id names the algorithm and its version', () => {
  assert.equal(CODEC_ID, 'rs-vandermonde-gf256/1');
});

for (const { k, n, parity } of GOLDEN) {
  test(`golden parity ${k}-of-${n}: SIMD codec`, async () => {
    const stripe = goldenStripe(k, n);
    const codec = await loadErasureCodec(k, n);
    assert.ok(codec instanceof SimdCodec);
    codec.encode(stripe, SHARD);
    assert.deepEqual(parityHex(stripe, k, n), parity);
    assert.deepEqual(stripe.subarray(0, k * SHARD), goldenStripe(k, n).subarray(0, k * SHARD), 'data shards untouched');
  });

  test(`golden parity ${k}-of-${n}: the crate`, async () => {
    const stripe = goldenStripe(k, n);
    (await loadCrateCodec(k, n)).encode(stripe, SHARD);
    assert.deepEqual(parityHex(stripe, k, n), parity);
  });

  test(`golden parity ${k}-of-${n}: reference codec`, () => {
    const stripe = goldenStripe(k, n);
    new ReferenceCodec(k, n).encode(stripe, SHARD);
    assert.deepEqual(parityHex(stripe, k, n), parity);
  });
}
