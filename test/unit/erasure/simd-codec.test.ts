/**
 * The SIMD codec's own guarantees: WASM memory stays at its fixed size whatever the stripe and shape;
 * codecs of different shapes share one thread's instance without mixing their tables; both kernel
 * variants (standard and relaxed swizzle) give the reference's bytes. Byte-identity with the crate
 * is in simd-vs-crate.test.ts, every survivor subset in every-survivor-subset.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gfSimdModuleBytes, MEMORY_PAGES } from '../../../src/erasure/gf-simd-wasm.js';
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { compileGfSimd, SimdCodec, simdKernel } from '../../../src/erasure/simd-codec.js';
import { loadCrateCodec } from '../../support/wasm-reed-solomon.js';
import { checkKernel, KERNEL_CHECKS, wasmApi } from './kernel-check.js';
import { damage, randomStripe } from './stripe-helpers.js';

test('WASM memory stays at its fixed size for large stripes, n = 255 and the largest tables', async () => {
  const module = await compileGfSimd();
  const kernel = simdKernel(module);
  const fixed = MEMORY_PAGES * 65536;
  assert.equal(kernel.memoryBytes, fixed);
  // [k, n, shard length]: 127+128 and 128+127 need the most coefficient tables (16,256 pairs).
  for (const [k, n, shardLen] of [[10, 14, (4 << 20) + 3], [1, 255, 70_001], [127, 255, 33], [128, 255, 33]] as const) {
    const codec = new SimdCodec(k, n, module);
    const reference = new ReferenceCodec(k, n);
    const stripe = randomStripe(k, n, shardLen);
    const expected = stripe.slice();
    codec.encode(stripe, shardLen);
    // The reference is slow for 4 MiB shards; the crate is as independent.
    if (shardLen < 100_000) reference.encode(expected, shardLen);
    else (await loadCrateCodec(k, n)).encode(expected, shardLen);
    assert.ok(Buffer.from(stripe).equals(expected), `${k}-of-${n} encode`);
    // Lose every parity shard and as many data shards as possible, and rebuild all of them.
    const survivors = Array.from({ length: k }, (_, i) => n - k + i);
    const { damaged, present } = damage(stripe, n, shardLen, survivors);
    codec.reconstruct(damaged, shardLen, present, { restoreParity: true });
    assert.ok(Buffer.from(damaged).equals(stripe), `${k}-of-${n} rebuild`);
    assert.equal(kernel.memoryBytes, fixed, `${k}-of-${n}, ${shardLen} B`);
    assert.equal(simdKernel(module), kernel, 'same instance throughout');
  }
});

test('codecs of different shapes interleaved on one instance keep their own tables', async () => {
  const module = await compileGfSimd();
  const shapes = [[4, 6], [10, 14], [3, 10], [4, 6]] as const;
  const codecs = shapes.map(([k, n]) => new SimdCodec(k, n, module));
  const references = shapes.map(([k, n]) => new ReferenceCodec(k, n));
  for (let round = 0; round < 3; round++) {
    for (const [i, codec] of codecs.entries()) {
      const { k, n } = codec;
      const stripe = randomStripe(k, n, 1001);
      const expected = stripe.slice();
      codec.encode(stripe, 1001);
      references[i]!.encode(expected, 1001);
      assert.ok(Buffer.from(stripe).equals(expected), `round ${round}, ${k}-of-${n} encode`);
      const { damaged, present } = damage(stripe, n, 1001, Array.from({ length: k }, (_, j) => n - 1 - j));
      codec.reconstruct(damaged, 1001, present);
      assert.ok(Buffer.from(damaged.subarray(0, k * 1001)).equals(stripe.subarray(0, k * 1001)), `round ${round}, ${k}-of-${n} rebuild`);
    }
  }
});

test('nothing to rebuild leaves the stripe as it was', async () => {
  const codec = new SimdCodec(4, 6, await compileGfSimd());
  const stripe = randomStripe(4, 6, 100);
  codec.encode(stripe, 100);
  const before = stripe.slice();
  codec.reconstruct(stripe, 100, [true, true, true, true, true, true], { restoreParity: true });
  // Parity lost but not asked for: nothing to do either.
  const { damaged, present } = damage(stripe, 6, 100, [0, 1, 2, 3]);
  const damagedBefore = damaged.slice();
  codec.reconstruct(damaged, 100, present);
  assert.deepEqual(stripe, before);
  assert.deepEqual(damaged, damagedBefore);
});

test('the standard-swizzle kernel gives the reference bytes', async () => {
  const module = await wasmApi.compile(gfSimdModuleBytes());
  assert.equal(checkKernel(module), KERNEL_CHECKS);
});

test('the relaxed-swizzle kernel gives the reference bytes, and is picked where the runtime has it', async () => {
  const relaxedBytes = gfSimdModuleBytes({ relaxedSwizzle: true });
  assert.notDeepEqual(relaxedBytes, gfSimdModuleBytes());
  // Node 20 has relaxed SIMD behind a flag; later versions have it on.
  const flags = wasmApi.validate(relaxedBytes) ? [] : ['--experimental-wasm-relaxed-simd'];
  const child = fileURLToPath(new URL('./relaxed-swizzle-child.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, child]);
  assert.deepEqual(JSON.parse(stdout), { checked: KERNEL_CHECKS, picked: true });
});
