/** Runs in a worker thread for worker.test.ts: exercises every crypto entry point and posts the results back. */
import { parentPort, workerData } from 'node:worker_threads';
import { deriveKeyFromPassphrase, deriveSubkey, hash, keyedHash, open, seal } from '../../../src/crypto/index.js';

const { key, message, params } = workerData as { key: Uint8Array; message: Uint8Array; params: import('../../../src/crypto/index.js').KdfParams };

const sealed = seal(key, message, Buffer.from('worker'));
const reopened = open(key, sealed, Buffer.from('worker'));
parentPort!.postMessage({
  sealed,
  reopenedOk: Buffer.from(reopened).equals(Buffer.from(message)),
  keyed: keyedHash(key, message),
  digest: hash(message),
  subkey: deriveSubkey(key, 'index'),
  kek: await deriveKeyFromPassphrase('from a worker', params),
});
