/**
 * Repository locks (restic's model). Terms and guarantees:
 *
 * - A lock is one object `locks/<random id>` stored on every up member, its content sealed under the
 *   caller's lock key (the repository's `locks` subkey) with ad = "raic lock v1 <object key>": JSON
 *   { v, exclusive, host, pid, user, time, refreshedAt, command }. Providers see only a random name and
 *   ciphertext, never a host or user name. A write succeeds when at least `need` members hold it.
 * - shared (backup): many may be held at once, from any number of hosts. exclusive (prune): no other lock
 *   may be held alongside it.
 * - Acquiring = list the locks (union over the up members; at least `need` must answer), read each; refuse
 *   (`Locked`, naming holder, pid, age and `raic unlock`) if a live lock blocks us; write ours; wait
 *   `settleMs` (listings of some providers lag, e.g. Swift); list again. If a blocking lock appeared in
 *   between — for a shared lock, any live exclusive one; for an exclusive lock, any other live lock — we
 *   delete ours and retry after a random back-off (at most MAX_ATTEMPTS tries), then refuse.
 *   Race resolution: write-then-re-list on both sides means that of two racing lockers at least one sees
 *   the other, so yielding to *every* rival seen in the re-check never lets two conflicting locks be held.
 *   We do not let a shared lock keep its place against an "younger" exclusive one by comparing `time`:
 *   that stamp is taken before a write of unbounded duration, on another host's clock, so "younger" does
 *   not prove the other side saw ours. Both sides yielding is safe; the random back-off makes one of them
 *   win the next round (two exclusive lockers started together: exactly one succeeds).
 * - Stale: a lock whose holder is known gone — same host name as this machine and its pid no longer
 *   exists (ESRCH) — or whose refreshedAt is older than `staleAfterMs` (default 30 min). Stale locks never
 *   block; acquire reports them (Lock.staleLocks) and `raic unlock` removes them. Hosts must have distinct
 *   host names; a reused pid only keeps a dead lock live until it ages out (the safe direction). Clocks of
 *   the hosts are assumed to agree to well within `staleAfterMs`.
 * - Unreadable: a lock object that cannot be opened with our key (another array sharing these members?
 *   damaged?) or not read at all counts as live and of unknown kind: it blocks exclusive locks (safety
 *   first: it may be a prune we cannot see into), not shared ones. Only `raic unlock --remove-all` removes it.
 * - While held, the Lock rewrites itself every `refreshEveryMs` (default 5 min) as a new object with a new
 *   refreshedAt, then deletes the old one (objects are never overwritten). If the lock was removed by
 *   someone (`raic unlock --remove-all`), or could not be refreshed before others would call it stale,
 *   `Lock.signal` aborts with `Locked`: the holder must stop. release() stops refreshing and deletes the
 *   lock from every up member; it is idempotent and never rejects (a copy left on an unreachable member
 *   goes stale by itself).
 * - `need`: members that must hold a lock / answer a listing. With need = k two lockers that see different
 *   members down may miss each other; `lockQuorum(k, n)` (a majority, at least k) rules that out.
 */
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { open, randomBytes, seal } from '../crypto/index.js';
import { RaicError, isRaicError } from '../errors.js';
import { LOCKS_PREFIX } from './layout.js';
import type { Members } from './members.js';
import { messageOf, removeEverywhere } from './replicated.js';

export const DEFAULT_STALE_AFTER_MS = 30 * 60_000;
export const DEFAULT_REFRESH_EVERY_MS = 5 * 60_000;
/** restic waits 200 ms between writing its lock and looking for others, for lagging listings. */
export const DEFAULT_SETTLE_MS = 200;
/** Tries when racing another locker before giving up with `Locked`. */
const MAX_ATTEMPTS = 4;

export interface LockInfo {
  key: string;
  exclusive: boolean;
  host: string;
  pid: number;
  user: string;
  time: Date;
  refreshedAt: Date;
  command: string;
  stale: boolean;
  staleReason?: string;
  /** Set when the object could not be read or opened with the key (why); the fields above are then
   * placeholders (exclusive false, empty strings, pid 0, times at the epoch) and stale is false. */
  unreadable?: string;
}

export interface LockOptions {
  exclusive: boolean;
  /** What holds the lock, shown to whoever it blocks (e.g. "backup"). */
  command: string;
  /** Members that must store the lock and answer its listings (at least k; see lockQuorum). */
  need: number;
  /** Another lock not refreshed for this long is stale (default 30 min). */
  staleAfterMs?: number;
  /** Our lock is rewritten this often while held (default 5 min); must be below staleAfterMs. */
  refreshEveryMs?: number;
  /** Wait between writing our lock and re-listing (default 200 ms). */
  settleMs?: number;
  /**
   * Return once our lock is written; the settle wait and the re-check run meanwhile and settle
   * `Lock.confirmed` (a rival found: our lock is removed, `signal` aborts, no retry). For append-only work
   * that writes nothing a reader relies on (index, manifest, catalog) before `confirmed` resolves: a
   * backup's walk and pack uploads then overlap the wait.
   */
  confirmInBackground?: boolean;
  /** Written into the lock, and "this machine" for the dead-pid check (default os.hostname()). */
  host?: string;
  /** Written into the lock (default process.pid). */
  pid?: number;
}

export interface Lock {
  /** The lock object's current key (changes on each refresh). */
  readonly key: string;
  /** Stale locks seen (and ignored) while acquiring: worth a note suggesting `raic unlock`. */
  readonly staleLocks: readonly LockInfo[];
  /** Aborts (reason: RaicError `Locked`) when the lock can no longer be trusted: removed by someone,
   * or not refreshed in time. Long operations should stop on it. */
  readonly signal: AbortSignal;
  /** Resolves once no conflicting lock can be held beside ours (at once unless confirmInBackground). */
  readonly confirmed: Promise<void>;
  /** Stops refreshing and deletes the lock on every up member. Idempotent; never rejects. */
  release(): Promise<void>;
}

/** The `need` under which any two lockers' member sets overlap (a majority), and at least k. */
export function lockQuorum(k: number, n: number): number {
  return Math.max(k, Math.floor(n / 2) + 1);
}

/** A lock's content (what `openLock` returns). */
export interface LockPayload {
  v: 1;
  exclusive: boolean;
  host: string;
  pid: number;
  user: string;
  time: string;
  refreshedAt: string;
  command: string;
}

/** What "stale" is judged against. */
interface Judge {
  host: string;
  staleAfterMs: number;
  now: number;
}

const adFor = (key: string): Buffer => Buffer.from(`raic lock v1 ${key}`);
const newLockKey = (): string => `${LOCKS_PREFIX}${randomBytes(16).toString('hex')}`;

export async function acquireLock(members: Members, lockKey: Uint8Array, opts: LockOptions): Promise<Lock> {
  const staleAfterMs = opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const refreshEveryMs = opts.refreshEveryMs ?? DEFAULT_REFRESH_EVERY_MS;
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  if (!Number.isInteger(opts.need) || opts.need < 1 || opts.need > members.n) {
    throw new RaicError('Usage', `lock quorum must be 1..${members.n}, got ${opts.need}`);
  }
  if (!(refreshEveryMs > 0 && refreshEveryMs < staleAfterMs)) {
    throw new RaicError('Usage', `lock refresh interval (${refreshEveryMs} ms) must be positive and below the stale limit (${staleAfterMs} ms)`);
  }
  const host = opts.host ?? hostname();
  const base = { v: 1 as const, exclusive: opts.exclusive, host, pid: opts.pid ?? process.pid, user: currentUser(), command: opts.command };
  const judge = (): Judge => ({ host, staleAfterMs, now: Date.now() });
  const cache = new Map<string, LockPayload>();

  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    members.requireUp(opts.need, 'cannot take the lock');
    const before = await scanLocks(members, lockKey, judge(), cache, opts.need);
    const holders = blockers(before, opts.exclusive, null);
    if (holders.length > 0) throw lockedError(holders, opts.exclusive, false, attempt);

    const now = new Date().toISOString();
    const payload: LockPayload = { ...base, time: now, refreshedAt: now };
    const key = newLockKey();
    await writeLock(members, lockKey, key, payload, opts.need);
    if (opts.confirmInBackground) {
      const held = new HeldLock(members, lockKey, key, payload, opts.need, refreshEveryMs, staleAfterMs, before.filter((l) => l.stale));
      held.confirmWith(
        (async () => {
          await sleep(settleMs);
          const rivals = blockers(await scanLocks(members, lockKey, judge(), cache, opts.need), opts.exclusive, key);
          if (rivals.length > 0) throw lockedError(rivals, opts.exclusive, true, attempt);
        })(),
      );
      return held;
    }
    let rivals: LockInfo[];
    let after: LockInfo[];
    try {
      await sleep(settleMs);
      after = await scanLocks(members, lockKey, judge(), cache, opts.need);
      rivals = blockers(after, opts.exclusive, key);
    } catch (err) {
      await removeEverywhere(members, key);
      throw err;
    }
    if (rivals.length === 0) {
      const stale = [...before, ...after].filter((l, i, all) => l.stale && all.findIndex((m) => m.key === l.key) === i);
      return new HeldLock(members, lockKey, key, payload, opts.need, refreshEveryMs, staleAfterMs, stale);
    }
    await removeEverywhere(members, key);
    if (attempt >= MAX_ATTEMPTS) throw lockedError(rivals, opts.exclusive, true, attempt);
    // Exponential random back-off scaled by how long one attempt took, so two racers drift apart.
    await sleep(Math.random() * Math.max(Date.now() - started, 10) * 2 ** (attempt + 2));
  }
}

/** Every lock object on the members (union), oldest first, with its staleness judged now. */
export async function listLocks(members: Members, lockKey: Uint8Array, opts: { staleAfterMs?: number; host?: string } = {}): Promise<LockInfo[]> {
  const judge = { host: opts.host ?? hostname(), staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS, now: Date.now() };
  return scanLocks(members, lockKey, judge, new Map(), 1);
}

/**
 * Deletes each lock object from every up member; resolves how many were deleted everywhere reachable.
 * Rejects `Usage` for a key that is not a lock's (nothing else may be removed this way), `Quorum` naming the
 * members where a delete failed (after trying them all).
 */
export async function removeLocks(members: Members, keys: string[]): Promise<number> {
  const unique = [...new Set(keys)];
  const bad = unique.find((k) => !k.startsWith(LOCKS_PREFIX) || k.length === LOCKS_PREFIX.length);
  if (bad !== undefined) throw new RaicError('Usage', `not a lock object: ${JSON.stringify(bad)}`);
  const limit = pLimit(8);
  const failures: string[] = [];
  let removed = 0;
  await Promise.all(
    unique.map((key) =>
      limit(async () => {
        const failed = await removeEverywhere(members, key);
        if (failed.length === 0) removed += 1;
        else failures.push(`${key}: ${failed.join(', ')}`);
      }),
    ),
  );
  if (failures.length > 0) {
    throw new RaicError('Quorum', `removed ${removed} of ${unique.length} locks; could not delete ${failures.join('; ')}`, {
      hint: 'fix the member(s) and run `raic unlock` again',
    });
  }
  return removed;
}

/** One line naming a lock's holder for messages: kind, user@host, pid, command, ages. */
export function describeLock(l: LockInfo, now = Date.now()): string {
  if (l.unreadable !== undefined) return `unreadable lock ${l.key} (${l.unreadable})`;
  return (
    `${l.exclusive ? 'exclusive' : 'shared'} lock of ${l.user}@${l.host}, pid ${l.pid} (${l.command}), ` +
    `taken ${formatAge(now - l.time.getTime())} ago, refreshed ${formatAge(now - l.refreshedAt.getTime())} ago`
  );
}

/** Locks in `locks` (other than `own`) that forbid holding ours. */
function blockers(locks: LockInfo[], exclusive: boolean, own: string | null): LockInfo[] {
  const live = locks.filter((l) => l.key !== own && !l.stale);
  if (!exclusive) return live.filter((l) => l.unreadable === undefined && l.exclusive);
  // Readable exclusive first, then shared, then unreadable: the most telling holder is named first.
  const rank = (l: LockInfo): number => (l.unreadable !== undefined ? 2 : l.exclusive ? 0 : 1);
  return live.sort((a, b) => rank(a) - rank(b));
}

function lockedError(holders: LockInfo[], exclusive: boolean, race: boolean, attempts: number): RaicError {
  const first = holders[0]!;
  const more = holders.length > 1 ? ` (and ${holders.length - 1} more)` : '';
  const want = exclusive ? 'an exclusive' : 'a shared';
  if (first.unreadable !== undefined) {
    return new RaicError(
      'Locked',
      `cannot take ${want} lock: the members hold a lock that this array's key cannot read (${first.key}: ${first.unreadable})${more}; it may belong to another array on the same members, or be damaged`,
      { hint: 'if you are sure no raic is using these members, `raic unlock --remove-all` removes it' },
    );
  }
  const why = race ? `another raic took a lock at the same moment (${attempts} tries)` : 'the array is locked';
  return new RaicError('Locked', `cannot take ${want} lock: ${why}: ${describeLock(first)} [${first.key}]${more}`, {
    hint: 'wait for it to finish; if that raic is no longer running, `raic unlock` removes stale locks (`--remove-all` removes every lock)',
  });
}

/**
 * Lists `locks/` on every up member and reads each lock found. Rejects `Quorum` if fewer than `need`
 * members answered the listing (a lock held only elsewhere could be missed). Objects are immutable, so
 * decoded payloads are cached by key.
 */
async function scanLocks(members: Members, lockKey: Uint8Array, judge: Judge, cache: Map<string, LockPayload>, need: number): Promise<LockInfo[]> {
  const holders = new Map<string, number[]>();
  let answered = 0;
  const problems: string[] = [];
  await Promise.all(
    members.up().map(async (slot) => {
      try {
        const keys = await members.call(slot.index, async (p) => {
          const found: string[] = [];
          for await (const o of p.list(LOCKS_PREFIX)) found.push(o.key);
          return found;
        });
        for (const key of keys) holders.set(key, [...(holders.get(key) ?? []), slot.index]);
        answered += 1;
      } catch (err) {
        if (!isRaicError(err)) throw err;
        if (err.code === 'NotFound') answered += 1;
        else problems.push(`${slot.url}: ${err.message}`);
      }
    }),
  );
  if (answered < need) {
    const down = members.describeDown();
    throw new RaicError('Quorum', `could list the locks on only ${answered} of ${members.n} members, ${need} needed (${[...problems, ...(down ? [down] : [])].join('; ')})`, {
      hint: 'bring the members back, then retry',
    });
  }
  const limit = pLimit(8);
  const infos = await Promise.all([...holders].map(([key, on]) => limit(() => readLock(members, lockKey, key, on, judge, cache))));
  return infos.filter((l): l is LockInfo => l !== null).sort((a, b) => a.time.getTime() - b.time.getTime() || (a.key < b.key ? -1 : 1));
}

/** The lock at `key`, tried on each member listing it; null if it vanished meanwhile (released). */
async function readLock(members: Members, lockKey: Uint8Array, key: string, on: number[], judge: Judge, cache: Map<string, LockPayload>): Promise<LockInfo | null> {
  let payload = cache.get(key);
  const problems: string[] = [];
  for (const index of on) {
    if (payload !== undefined) break;
    try {
      payload = openLock(lockKey, key, await members.call(index, (p) => p.get(key)));
      cache.set(key, payload);
    } catch (err) {
      if (!isRaicError(err)) throw err;
      if (err.code !== 'NotFound') problems.push(err.code === 'Integrity' ? err.message : `${members.slots[index]?.url}: ${err.message}`);
    }
  }
  if (payload !== undefined) return toInfo(key, payload, judge);
  if (problems.length === 0) return null;
  return { key, exclusive: false, host: '', pid: 0, user: '', time: new Date(0), refreshedAt: new Date(0), command: '', stale: false, unreadable: [...new Set(problems)].join('; ') };
}

/** A lock object's content as a member served it: opens under the lock key, bound to its object key. Rejects Integrity. */
export function openLock(lockKey: Uint8Array, key: string, sealed: Uint8Array): LockPayload {
  return parsePayload(open(lockKey, sealed, adFor(key)));
}

function parsePayload(bytes: Uint8Array): LockPayload {
  let p: Partial<LockPayload>;
  try {
    p = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<LockPayload>;
  } catch {
    throw new RaicError('Integrity', 'lock content is not JSON');
  }
  // JSON.parse may return null, a number, an array: only an object has fields to check.
  const ok =
    typeof p === 'object' &&
    p !== null &&
    p.v === 1 &&
    typeof p.exclusive === 'boolean' &&
    typeof p.host === 'string' &&
    Number.isSafeInteger(p.pid) &&
    typeof p.user === 'string' &&
    typeof p.command === 'string' &&
    !Number.isNaN(Date.parse(String(p.time))) &&
    !Number.isNaN(Date.parse(String(p.refreshedAt)));
  if (!ok) throw new RaicError('Integrity', 'lock content is malformed');
  return p as LockPayload;
}

function toInfo(key: string, p: LockPayload, judge: Judge): LockInfo {
  const refreshedAt = new Date(p.refreshedAt);
  const info: LockInfo = { key, exclusive: p.exclusive, host: p.host, pid: p.pid, user: p.user, time: new Date(p.time), refreshedAt, command: p.command, stale: false };
  const age = judge.now - refreshedAt.getTime();
  if (p.host === judge.host && processGone(p.pid)) info.staleReason = `process ${p.pid} is no longer running on this host`;
  else if (age > judge.staleAfterMs) info.staleReason = `not refreshed for ${formatAge(age)} (stale after ${formatAge(judge.staleAfterMs)})`;
  info.stale = info.staleReason !== undefined;
  return info;
}

/** True only when the OS says no such process (ESRCH); EPERM means it exists under another user. */
function processGone(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false; // 0 and negatives address process groups
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Stores the sealed lock on every up member; rejects `Quorum` (leaving nothing behind) if fewer than `need` took it. */
async function writeLock(members: Members, lockKey: Uint8Array, key: string, payload: LockPayload, need: number): Promise<void> {
  const body = seal(lockKey, Buffer.from(JSON.stringify(payload)), adFor(key));
  const up = members.up();
  const results = await Promise.allSettled(up.map((s) => members.call(s.index, (p) => p.put(key, body))));
  const stored = results.filter((r) => r.status === 'fulfilled').length;
  if (stored >= need) return;
  await removeEverywhere(members, key);
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${up[i]!.url} (${messageOf(r.reason)})`] : []));
  const down = members.describeDown();
  throw new RaicError('Quorum', `could not store the lock on enough members: ${stored} of ${members.n} took it, ${need} needed (${[...failed, ...(down ? [down] : [])].join('; ')})`, {
    hint: 'bring the members back, then retry',
  });
}

/** Whether any up member still holds `key`: 'absent' only when every one of them says NotFound. */
async function presence(members: Members, key: string): Promise<'present' | 'absent' | 'unknown'> {
  const results = await Promise.allSettled(members.up().map((s) => members.call(s.index, (p) => p.head(key))));
  if (results.some((r) => r.status === 'fulfilled')) return 'present';
  return results.length > 0 && results.every((r) => r.status === 'rejected' && isRaicError(r.reason, 'NotFound')) ? 'absent' : 'unknown';
}

class HeldLock implements Lock {
  private current: string;
  /** Superseded copies whose delete failed; retried on each refresh and on release. */
  private readonly leftovers = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private releasing: Promise<void> | undefined;
  private lastRefreshMs: number;
  private readonly controller = new AbortController();
  confirmed: Promise<void> = Promise.resolve();

  constructor(
    private readonly members: Members,
    private readonly lockKey: Uint8Array,
    key: string,
    private payload: LockPayload,
    private readonly need: number,
    private readonly refreshEveryMs: number,
    private readonly staleAfterMs: number,
    readonly staleLocks: readonly LockInfo[],
  ) {
    this.current = key;
    this.lastRefreshMs = Date.parse(payload.refreshedAt);
    this.schedule();
  }

  get key(): string {
    return this.current;
  }

  /** The background re-check (confirmInBackground): its failure aborts `signal` and removes the lock. */
  confirmWith(check: Promise<void>): void {
    this.confirmed = check.catch(async (err: unknown) => {
      clearTimeout(this.timer);
      this.controller.abort(err);
      await this.release();
      throw err;
    });
    this.confirmed.catch(() => undefined); // the holder awaits it before committing
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  release(): Promise<void> {
    return (this.releasing ??= this.doRelease());
  }

  private async doRelease(): Promise<void> {
    clearTimeout(this.timer);
    await this.inFlight;
    await Promise.all([this.current, ...this.leftovers].map((k) => removeEverywhere(this.members, k)));
  }

  private schedule(): void {
    if (this.releasing !== undefined || this.controller.signal.aborted) return;
    // unref: a lock someone forgot to release must not keep the process alive.
    this.timer = setTimeout(() => {
      this.inFlight = this.refresh().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.refreshEveryMs).unref();
  }

  /** Never rejects: a failure is retried next time, or aborts `signal` once others may call us stale. */
  private async refresh(): Promise<void> {
    try {
      if ((await presence(this.members, this.current)) === 'absent') {
        this.lose(`the lock ${this.current} was removed while held (by \`raic unlock --remove-all\`?)`);
        return;
      }
      const now = new Date();
      const next = newLockKey();
      const payload = { ...this.payload, refreshedAt: now.toISOString() };
      await writeLock(this.members, this.lockKey, next, payload, this.need);
      this.leftovers.add(this.current);
      this.current = next;
      this.payload = payload;
      this.lastRefreshMs = now.getTime();
      for (const old of [...this.leftovers]) {
        if ((await removeEverywhere(this.members, old)).length === 0) this.leftovers.delete(old);
      }
    } catch (err) {
      if (Date.now() + this.refreshEveryMs - this.lastRefreshMs >= this.staleAfterMs) {
        this.lose(`could not refresh the lock for ${formatAge(Date.now() - this.lastRefreshMs)}; others may now treat it as stale (${messageOf(err)})`);
      }
    }
  }

  private lose(reason: string): void {
    clearTimeout(this.timer);
    this.controller.abort(new RaicError('Locked', reason, { hint: 'stop and run the command again' }));
  }
}

/** The local user's name, for records that say who wrote them (locks, key objects). */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** "42s", "7m", "3h05m", "4d" — ages in messages. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d`;
}
