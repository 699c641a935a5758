/**
 * Running an operation under a repository lock: backups and puts share (they only append), forget
 * and prune are exclusive (they delete). The lock is released however the operation ends.
 */
import { acquireLock, lockQuorum, type Lock, type RaicArray, type RepoKeys } from '../store/index.js';

export async function withLock<T>(array: RaicArray, keys: RepoKeys, opts: { exclusive: boolean; command: string; confirmInBackground?: boolean }, fn: (lock: Lock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(array.members, keys.locks, { ...opts, need: lockQuorum(array.k, array.n) });
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
