/**
 * Worker body for worker.test.ts (not a test itself): loads the codec inside a worker_thread,
 * encodes the stripe it is sent and posts the stripe back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadErasureCodec } from '../../../src/erasure/index.js';

const { k, n, shardLen, stripe } = workerData as { k: number; n: number; shardLen: number; stripe: Uint8Array };
const codec = await loadErasureCodec(k, n);
codec.encode(stripe, shardLen);
// Rebuild with the data shards lost, too, so the worker's reconstruct path runs on its own instance.
const damaged = stripe.slice();
damaged.fill(0, 0, Math.min(n - k, k) * shardLen);
codec.reconstruct(damaged, shardLen, Array.from({ length: n }, (_, i) => i >= Math.min(n - k, k)));
parentPort!.postMessage({ stripe, rebuilt: damaged });
