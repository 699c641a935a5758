/**
 * unlock: removes lock objects left behind by raic runs that ended without releasing them (crash, kill,
 * lost network). By default only stale locks go (store/locks.ts): the holder's process is gone on this
 * machine (same kernel boot and pid namespace), or this machine has seen the lock object unchanged for the
 * stale limit (30 min; first sightings are remembered between runs, so a second `raic unlock` half an hour
 * after the first removes what a crashed machine elsewhere left). Live ones are kept and reported.
 * removeAll removes every lock, unreadable ones included — for when the user knows no raic is running
 * against these members.
 */
import { listLocks, removeLocks, type LockInfo, type LockSightings, type RaicArray, type RepoKeys } from '../store/index.js';

export interface UnlockOptions {
  removeAll?: boolean;
  /** Locks seen unchanged for this long are stale (default: store/locks.ts, 30 min). */
  staleAfterMs?: number;
  /** This machine's first sightings of locks (default: this run's only). */
  sightings?: LockSightings;
}

/** One lock as reported (JSON-friendly: times as ISO strings, null when the lock is unreadable). */
export interface LockReport {
  key: string;
  kind: 'shared' | 'exclusive' | 'unreadable';
  host: string | null;
  pid: number | null;
  /** The holder's random id; null when unreadable or written by a raic that did not record one. */
  holder: string | null;
  user: string | null;
  command: string | null;
  /** By the holder's clock: shown, never judged. */
  time: string | null;
  refreshedAt: string | null;
  /** How long this machine has seen this lock object unchanged (its own clock). */
  watchedMs: number;
  stale: boolean;
  /** Why it is stale, or why it could not be read. */
  reason: string | null;
}

export interface UnlockResult {
  removed: LockReport[];
  kept: LockReport[];
  /** Members that could not be reached: locks they hold were not removed. */
  down: string[];
}

export async function unlockLocks(array: RaicArray, keys: RepoKeys, opts: UnlockOptions = {}): Promise<UnlockResult> {
  const locks = await listLocks(array.members, keys.locks, {
    ...(opts.staleAfterMs !== undefined ? { staleAfterMs: opts.staleAfterMs } : {}),
    ...(opts.sightings !== undefined ? { sightings: opts.sightings } : {}),
  });
  const doomed = locks.filter((l) => opts.removeAll === true || l.stale);
  await removeLocks(
    array.members,
    doomed.map((l) => l.key),
  );
  const gone = new Set(doomed.map((l) => l.key));
  return {
    removed: doomed.map(report),
    kept: locks.filter((l) => !gone.has(l.key)).map(report),
    down: array.members.slots.filter((s) => s.downReason !== null).map((s) => `${s.url} (${s.downReason})`),
  };
}

function report(l: LockInfo): LockReport {
  if (l.unreadable !== undefined) {
    return { key: l.key, kind: 'unreadable', host: null, pid: null, holder: null, user: null, command: null, time: null, refreshedAt: null, watchedMs: l.watchedMs, stale: false, reason: l.unreadable };
  }
  return {
    key: l.key,
    kind: l.exclusive ? 'exclusive' : 'shared',
    host: l.host,
    pid: l.pid,
    holder: l.holder || null,
    user: l.user,
    command: l.command,
    time: l.time.toISOString(),
    refreshedAt: l.refreshedAt.toISOString(),
    watchedMs: l.watchedMs,
    stale: l.stale,
    reason: l.staleReason ?? null,
  };
}
