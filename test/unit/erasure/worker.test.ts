/** The codec loads and runs inside worker_threads (each with its own WASM instance). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { randomStripe } from './stripe-helpers.js';

async function encodeInWorker(k: number, n: number, shardLen: number, stripe: Uint8Array) {
  const worker = new Worker(new URL('./encode-worker.js', import.meta.url), { workerData: { k, n, shardLen, stripe } });
  const [reply] = (await once(worker, 'message')) as [{ stripe: Uint8Array; rebuilt: Uint8Array }];
  await worker.terminate();
  return reply;
}

test('encode inside a Worker equals encode on the main thread', async () => {
  for (const [k, n] of [[4, 6], [10, 14], [3, 10]] as const) {
    const shardLen = 4099;
    const input = randomStripe(k, n, shardLen);
    const mainThread = input.slice();
    (await loadErasureCodec(k, n)).encode(mainThread, shardLen);
    const [a, b] = await Promise.all([encodeInWorker(k, n, shardLen, input), encodeInWorker(k, n, shardLen, input)]);
    assert.deepEqual(a.stripe, mainThread, `${k}-of-${n}`);
    assert.deepEqual(b.stripe, mainThread, `${k}-of-${n}, second worker`);
    assert.deepEqual(a.rebuilt, mainThread, `${k}-of-${n}, rebuilt in worker`);
  }
});
