/**
 * Running an operation under a repository lock: backups and puts share (they only append), forget
 * and prune are exclusive (they delete). The lock is released however the operation ends. When this
 * machine first saw each lock (how staleness is judged: store/lock-sightings.ts) is kept beside the local
 * config, so it carries over from one run to the next.
 */
import { dirname, join } from 'node:path';
import { LockSightings, acquireLock, bootClock, lockQuorum, type Lock, type RaicArray, type RepoKeys } from '../store/index.js';

export interface WithLockOptions {
  exclusive: boolean;
  command: string;
  confirmInBackground?: boolean;
  /** The local config file (lock sightings are kept in its directory). */
  configPath: string;
}

/** This machine's lock sightings for the array, in the config's directory: lock-sightings-<array id>.json. */
export function lockSightings(configPath: string, arrayId: string): LockSightings {
  return new LockSightings(bootClock(), join(dirname(configPath), `lock-sightings-${arrayId}.json`));
}

export async function withLock<T>(array: RaicArray, keys: RepoKeys, opts: WithLockOptions, fn: (lock: Lock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(array.members, keys.locks, {
    exclusive: opts.exclusive,
    command: opts.command,
    ...(opts.confirmInBackground !== undefined ? { confirmInBackground: opts.confirmInBackground } : {}),
    need: lockQuorum(array.k, array.n),
    sightings: lockSightings(opts.configPath, array.shape.arrayId),
  });
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
