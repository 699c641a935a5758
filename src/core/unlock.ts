/**
 * unlock: removes lock objects left behind by raic runs that ended without releasing them (crash, kill,
 * lost network). By default only stale locks go (holder's process gone on this host, or not refreshed
 * within the stale limit: store/locks.ts); live ones are kept and reported. removeAll removes every lock,
 * unreadable ones included — for when the user knows no raic is running against these members.
 */
import { listLocks, removeLocks, type LockInfo, type RaicArray, type RepoKeys } from '../store/index.js';

export interface UnlockOptions {
  removeAll?: boolean;
  /** Locks not refreshed for this long are stale (default: store/locks.ts, 30 min). */
  staleAfterMs?: number;
}

/** One lock as reported (JSON-friendly: times as ISO strings, null when the lock is unreadable). */
export interface LockReport {
  key: string;
  kind: 'shared' | 'exclusive' | 'unreadable';
  host: string | null;
  pid: number | null;
  user: string | null;
  command: string | null;
  time: string | null;
  refreshedAt: string | null;
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
  const locks = await listLocks(array.members, keys.locks, opts.staleAfterMs === undefined ? {} : { staleAfterMs: opts.staleAfterMs });
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
    return { key: l.key, kind: 'unreadable', host: null, pid: null, user: null, command: null, time: null, refreshedAt: null, stale: false, reason: l.unreadable };
  }
  return {
    key: l.key,
    kind: l.exclusive ? 'exclusive' : 'shared',
    host: l.host,
    pid: l.pid,
    user: l.user,
    command: l.command,
    time: l.time.toISOString(),
    refreshedAt: l.refreshedAt.toISOString(),
    stale: l.stale,
    reason: l.staleReason ?? null,
  };
}
