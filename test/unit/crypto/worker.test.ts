import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { KEY_BYTES, deriveKeyFromPassphrase, deriveSubkey, hash, keyedHash, open, randomBytes, type KdfParams } from '../../../src/crypto/index.js';

test('crypto works inside worker threads, and its results agree with the main thread', async () => {
  const key = randomBytes(KEY_BYTES);
  const message = randomBytes(100_000);
  const params: KdfParams = { alg: 'argon2id13', opslimit: 1, memlimit: 64 * 1024, salt: randomBytes(16).toString('base64') };
  // Two workers at once: the native addon must load in several threads of one process.
  const workers = [0, 1].map(() => new Worker(new URL('./worker-fixture.js', import.meta.url), { workerData: { key, message, params } }));
  const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0] as Record<string, Uint8Array | boolean>));
  await Promise.all(workers.map((w) => w.terminate()));

  const kek = await deriveKeyFromPassphrase('from a worker', params);
  for (const r of results) {
    assert.equal(r['reopenedOk'], true);
    assert.deepEqual(Buffer.from(open(key, r['sealed'] as Uint8Array, Buffer.from('worker'))), message);
    assert.deepEqual(Buffer.from(r['keyed'] as Uint8Array), keyedHash(key, message));
    assert.deepEqual(Buffer.from(r['digest'] as Uint8Array), hash(message));
    assert.deepEqual(Buffer.from(r['subkey'] as Uint8Array), deriveSubkey(key, 'index'));
    assert.deepEqual(Buffer.from(r['kek'] as Uint8Array), kek);
  }
  assert.notDeepEqual(Buffer.from(results[0]!['sealed'] as Uint8Array), Buffer.from(results[1]!['sealed'] as Uint8Array));
});
