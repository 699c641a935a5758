/**
 * Three independent implementations of rs-vandermonde-gf256/1 — the SIMD codec raic runs, the Rust
 * reed-solomon-erasure crate (WASM build, test/support) and the TypeScript reference — must write
 * byte-identical parity for every shape and shard length, and each must decode the others' stripes.
 * Lengths cover: shorter than one SIMD step, not a multiple of 16, exactly 16, several blocks with a
 * partial last block (65535, 1 MiB + 3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadErasureCodec, type ErasureCodec } from '../../../src/erasure/index.js';
import { encodingMatrix, gfInverse, gfMul, gfPow } from '../../../src/erasure/gf256-reference.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { SimdCodec } from '../../../src/erasure/simd-codec.js';
import { loadCrateCodec } from '../../support/wasm-reed-solomon.js';
import { damage, randomStripe } from './stripe-helpers.js';

const SMALL_LENGTHS = [1, 15, 16, 17, 33, 1000];

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

test('loadErasureCodec returns the SIMD codec on this runtime, one per shape and thread', async () => {
  const codec = await loadErasureCodec(4, 6);
  assert.ok(codec instanceof SimdCodec);
  assert.equal(await loadErasureCodec(4, 6), codec, 'the same codec (and its cached decode plans) again');
  assert.notEqual(await loadErasureCodec(3, 6), codec);
});

/** Encodes one random stripe with each codec; asserts they agree and returns the stripe. */
function encodeAll(codecs: ErasureCodec[], shardLen: number, where: string): Uint8Array {
  const { k, n } = codecs[0]!;
  const input = randomStripe(k, n, shardLen);
  const outputs = codecs.map((codec) => {
    const stripe = input.slice();
    codec.encode(stripe, shardLen);
    return stripe;
  });
  for (let i = 1; i < outputs.length; i++) assert.ok(Buffer.from(outputs[i]!).equals(outputs[0]!), `codec ${i} differs, ${where}`);
  assert.ok(Buffer.from(outputs[0]!.subarray(0, k * shardLen)).equals(input.subarray(0, k * shardLen)), `data untouched, ${where}`);
  return outputs[0]!;
}

/** Loses n-k shards (data first) and rebuilds them with each codec, parity included. */
function rebuildAll(codecs: ErasureCodec[], stripe: Uint8Array, shardLen: number, where: string): void {
  const { k, n } = codecs[0]!;
  const lost = new Set(Array.from({ length: n - k }, (_, i) => (i * 7) % n));
  const survivors = Array.from({ length: n }, (_, i) => i).filter((i) => !lost.has(i));
  for (const [i, codec] of codecs.entries()) {
    const { damaged, present } = damage(stripe, n, shardLen, survivors.slice(0, k));
    codec.reconstruct(damaged, shardLen, present, { restoreParity: true });
    assert.ok(Buffer.from(damaged).equals(stripe), `codec ${i} rebuild, ${where}`);
  }
}

async function threeCodecs(k: number, n: number): Promise<ErasureCodec[]> {
  return [await loadErasureCodec(k, n), await loadCrateCodec(k, n), new ReferenceCodec(k, n)];
}

test('every shape with n <= 14: SIMD = crate = reference, short and odd lengths', async () => {
  let shapes = 0;
  for (let n = 2; n <= 14; n++) {
    for (let k = 1; k < n; k++) {
      const codecs = await threeCodecs(k, n);
      for (const shardLen of SMALL_LENGTHS) {
        const stripe = encodeAll(codecs, shardLen, `${k}-of-${n}, ${shardLen} B`);
        if (shardLen === 17) rebuildAll(codecs, stripe, shardLen, `${k}-of-${n}, ${shardLen} B`);
      }
      shapes++;
    }
  }
  assert.equal(shapes, 91);
});

const EDGE_SHAPES: [number, number, number[]][] = [
  [1, 2, [65535, (1 << 20) + 3]],
  [4, 6, [65535, (1 << 20) + 3]],
  [10, 14, [65535, (1 << 20) + 3]],
  [3, 10, [65535]],
  [1, 255, [...SMALL_LENGTHS, 65535]],
  [17, 40, [...SMALL_LENGTHS, 20011]],
  // Few lengths: the crate and the reference invert a 128- or 254-square matrix per rebuild.
  [128, 255, [1, 16, 33]],
  [254, 255, [15, 17, 4099]],
];

for (const [k, n, lengths] of EDGE_SHAPES) {
  test(`${k}-of-${n}: SIMD = crate = reference at ${lengths.join(', ')} bytes, and each decodes the others`, async () => {
    const codecs = await threeCodecs(k, n);
    for (const shardLen of lengths) {
      const where = `${k}-of-${n}, ${shardLen} B`;
      const stripe = encodeAll(codecs, shardLen, where);
      assert.ok(stripe.subarray(k * shardLen).some((b) => b !== 0), `parity is not all zero, ${where}`);
      rebuildAll(codecs, stripe, shardLen, where);
    }
  });
}
