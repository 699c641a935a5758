/**
 * WASM memory never shrinks, so anything the codec leaks per call is leaked for good: repeated
 * calls on one instance must leave memory where the first few calls put it. Large shapes, where the
 * crate's allocator does fragment, must stay under the ceiling by replacing the instance.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { WasmCodec } from '../../../src/erasure/load-codec.js';
import { isRaicError } from '../../../src/errors.js';
import { compileWasm, HEAP_SLACK_BYTES, wasmInstance, withWasm } from '../../../src/erasure/wasm-reed-solomon.js';
import { damage, randomStripe } from './stripe-helpers.js';

/** k distinct random shard indices out of n. */
function randomSurvivors(k: number, n: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}

for (const [k, n] of [[4, 6], [10, 14], [3, 10]] as const) {
  test(`${k}-of-${n}: 2000 reconstructs on one instance do not grow WASM memory`, async () => {
    const shard = 1024;
    const codec = await loadErasureCodec(k, n);
    const original = randomStripe(k, n, shard);
    codec.encode(original, shard);
    const instance = wasmInstance(await compileWasm());
    let settled = 0;
    for (let call = 0; call < 2000; call++) {
      const { damaged, present } = damage(original, n, shard, randomSurvivors(k, n));
      codec.reconstruct(damaged, shard, present, { restoreParity: call % 2 === 0 });
      if (call % 97 === 0) assert.deepEqual(damaged.subarray(0, k * shard), original.subarray(0, k * shard));
      if (call === 9) settled = instance.memoryBytes;
    }
    assert.equal(wasmInstance(await compileWasm()), instance, 'same instance throughout');
    assert.equal(instance.memoryBytes, settled, `memory after 10 calls ${settled}, after 2000 ${instance.memoryBytes}`);
  });
}

test('stripes of varying size (chunks) reuse the buffer and stay correct', async () => {
  const codec = await loadErasureCodec(4, 6);
  const instance = wasmInstance(await compileWasm());
  const sizes = Array.from({ length: 400 }, () => randomInt(1, 64 << 10));
  let settled = 0;
  for (const [i, shard] of sizes.entries()) {
    const original = randomStripe(4, 6, shard);
    codec.encode(original, shard);
    const { damaged, present } = damage(original, 6, shard, randomSurvivors(4, 6));
    codec.reconstruct(damaged, shard, present, { restoreParity: true });
    assert.deepEqual(damaged, original, `shard length ${shard}`);
    if (i === 199) settled = instance.memoryBytes;
  }
  assert.equal(wasmInstance(await compileWasm()), instance, 'same instance throughout');
  assert.ok(instance.memoryBytes <= settled + (1 << 20), `memory ${settled} -> ${instance.memoryBytes}`);
});

test('large shapes, where the crate fragments its heap, stay under the ceiling', async () => {
  // 128+127 leaks ~400 KB per call inside the crate; the ceiling replaces the instance instead.
  const codec = await loadErasureCodec(128, 255);
  const original = randomStripe(128, 255, 8);
  codec.encode(original, 8);
  const module = await compileWasm();
  const instances = new Set();
  let peak = 0;
  for (let call = 0; call < 150; call++) {
    const { damaged, present } = damage(original, 255, 8, randomSurvivors(128, 255));
    codec.reconstruct(damaged, 8, present);
    assert.deepEqual(damaged.subarray(0, 128 * 8), original.subarray(0, 128 * 8));
    const instance = wasmInstance(module);
    instances.add(instance);
    peak = Math.max(peak, instance.memoryBytes);
  }
  assert.ok(instances.size > 1, 'the instance was replaced at least once');
  assert.ok(peak <= HEAP_SLACK_BYTES + (8 << 20), `peak WASM memory ${peak}`);
});

test('stripes over the WASM limit go to the reference, with the same bytes', async () => {
  const module = await compileWasm();
  const small = new WasmCodec(4, 6, module, 6 * 100);
  const normal = await loadErasureCodec(4, 6);
  const before = wasmInstance(module).memoryBytes;
  const a = randomStripe(4, 6, 1000);
  const b = a.slice();
  small.encode(a, 1000); // 6000 bytes > 600: reference
  normal.encode(b, 1000); // WASM
  assert.deepEqual(a, b);
  const { damaged, present } = damage(a, 6, 1000, [0, 2, 4, 5]);
  small.reconstruct(damaged, 1000, present, { restoreParity: true });
  assert.deepEqual(damaged, a);
  assert.equal(wasmInstance(module).memoryBytes, before);
});

test('a failure inside WASM drops the instance and surfaces as Permanent; the next call works', async () => {
  const module = await compileWasm();
  const before = wasmInstance(module);
  assert.throws(
    () =>
      withWasm(module, () => {
        throw new Error('trap stand-in');
      }),
    (err: unknown) => isRaicError(err, 'Permanent'),
  );
  assert.notEqual(wasmInstance(module), before, 'a fresh instance replaced the failed one');
  const codec = await loadErasureCodec(2, 3);
  const stripe = randomStripe(2, 3, 64);
  codec.encode(stripe, 64);
  const { damaged, present } = damage(stripe, 3, 64, [1, 2]);
  codec.reconstruct(damaged, 64, present);
  assert.deepEqual(damaged, stripe);
});
