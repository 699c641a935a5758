/**
 * Repository locks (restic's model, with staleness judged without comparing two machines' clocks).
 * Terms and guarantees:
 *
 * - A lock is one object `locks/<random id>` stored on every up member, its content sealed under the
 *   caller's lock key (the repository's `locks` subkey) with ad = "raic lock v1 <object key>": JSON
 *   { v, exclusive, host, pid, user, time, refreshedAt, command, holder, pidScope?, tentative? }. Providers
 *   see only a random name and ciphertext, never a host or user name. A write succeeds when at least
 *   `need` members hold it. Objects are never overwritten: the holder replaces its lock with a new object
 *   (a new key) to refresh it or to drop `tentative`; the old object is deleted once the new one shows in
 *   the listings of `need` members, so a lagging listing never shows a holder nothing but a deleted key.
 * - Reading: a scan lists `locks/` on every up member and reads each object listed. A listed object that
 *   every member listing it calls absent was deleted; since it may have been replaced by one the listing
 *   did not show yet, the scan lists again (a listing taken after that delete shows the replacement).
 * - Holder: `holder` is 16 random bytes drawn for each lock and kept across its objects; it, not host name
 *   and pid, tells holders apart (two containers with one host name and one pid are two holders).
 *   `pidScope` says where `pid` means something: "boot <kernel boot id> pid:[<pid namespace inode>]" on
 *   Linux, absent elsewhere. host, user, pid, time and refreshedAt are shown to people, never judged.
 * - shared (backup, put): many may be held at once. exclusive (prune, forget, repair): no other lock may be
 *   held alongside it.
 * - Acquiring = list the locks (union over the up members; at least `need` must answer), read each; refuse
 *   (`Locked`, naming holder, pid, age and `raic unlock`) if a live lock blocks us; write ours, marked
 *   tentative; list again, after `settleMs` (default: at once) and then at growing intervals, until the listings of `need`
 *   members show our own lock (at most `visibleWithinMs`, else `Locked`). Such a listing shows every lock
 *   written to that member before ours (a listing may lag, but shows a prefix of the member's history), and
 *   any two sets of `need` members share one (lockQuorum): of two lockers, the later one to write there sees
 *   the earlier. If that listing shows a blocking lock — for a shared lock, any live exclusive one; for an
 *   exclusive lock, any other live lock — we delete ours; if every such lock is tentative (a race) we retry
 *   after a random back-off (at most MAX_ATTEMPTS tries), else refuse. Otherwise an exclusive lock is
 *   rewritten without the tentative mark: it is established. Both sides of a race yielding is safe; the random
 *   back-off makes one of them win the next round (two exclusive lockers started together: exactly one succeeds).
 *   A shared lock keeps its mark for as long as it is held: it never has to win a race. An exclusive locker
 *   whose listing shows it backs off and then refuses on its next first scan; an exclusive holder's confirm()
 *   may pass over it, since a shared lock written after an exclusive one (on the member every two quorums
 *   share) sees that one in its own listing and yields. Establishing it cost a write, a listing and a delete on
 *   every member in each backup and put (an unchanged cloud backup: 2.05-2.10 -> 1.91-2.02 s).
 * - Stale (never blocks; acquire reports it in Lock.staleLocks, `raic unlock` removes it), judged by the
 *   observer alone:
 *   (a) its pidScope equals ours and the OS says its pid does not exist (ESRCH): its process is gone. A
 *       reused pid keeps a dead lock live until (b) (the safe direction). Without pidScope (other OSes,
 *       locks of older raic versions) this never applies;
 *   (b) this machine has seen the very same lock object present for `staleAfterMs` (default 30 min) on its
 *       own clock (store/lock-sightings.ts): a live holder replaces it every `refreshEveryMs`. The time
 *       stamps inside the lock are never compared with our clock.
 * - Unreadable: a lock object that cannot be opened with our key (another array sharing these members?
 *   damaged?) or not read at all counts as live and established, of unknown kind: it blocks exclusive locks
 *   (safety first: it may be a prune we cannot see into), not shared ones. Only `raic unlock --remove-all`
 *   removes it.
 * - While held, the Lock replaces itself every `refreshEveryMs` (default 5 min). If it was removed by someone
 *   (`raic unlock --remove-all`), or could not be replaced before others could call it stale, `Lock.signal`
 *   aborts with `Locked`: the holder must stop. `Lock.confirm()` checks, before each step that deletes or
 *   commits, that the lock is still ours: not lost, written recently enough, still on `need` members, and no
 *   established conflicting lock listed (a tentative one yields to us by the rule above). release() stops
 *   refreshing and deletes every object of the lock from every up member; it is idempotent and never
 *   rejects (a copy left on an unreachable member goes stale by itself).
 * - `need`: members that must hold a lock / answer a listing. With need = k two lockers that see different
 *   members down may miss each other; `lockQuorum(k, n)` (a majority, at least k) rules that out.
 */
import { readlinkSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { open, randomBytes, seal } from '../crypto/index.js';
import { RaicError, isRaicError } from '../errors.js';
import { LOCKS_PREFIX } from './layout.js';
import { LockSightings, linuxBootId } from './lock-sightings.js';
import type { Members } from './members.js';
import { messageOf, removeEverywhere } from './replicated.js';

export const DEFAULT_STALE_AFTER_MS = 30 * 60_000;
export const DEFAULT_REFRESH_EVERY_MS = 5 * 60_000;
/**
 * First look for our own lock in the listings: at once. Safety does not rest on the wait (a listing that shows
 * our lock shows whatever was written there before it; one that does not is simply taken again, 10 ms later and
 * at doubling intervals), and on a cloud a wait here lies on every locked command's critical path. restic waits
 * 200 ms once, assuming listings never lag by more.
 */
export const DEFAULT_SETTLE_MS = 0;
/** How long the listings may take to show a lock we wrote before we give up with `Locked`. */
export const DEFAULT_VISIBLE_WITHIN_MS = 60_000;
/** Tries when racing another locker before giving up with `Locked`. */
const MAX_ATTEMPTS = 4;
/** Longest pause between two listings while waiting for our lock to show. */
const MAX_POLL_MS = 2000;
/** Listings per scan while listed objects keep vanishing under it (each pass follows a delete it saw). */
const MAX_SCAN_PASSES = 8;

export interface LockInfo {
  key: string;
  exclusive: boolean;
  host: string;
  pid: number;
  user: string;
  time: Date;
  refreshedAt: Date;
  command: string;
  /** The holder's random id (hex); "" for locks written before raic recorded one. */
  holder: string;
  /** Where the holder's pid is meaningful (see thisPidScope); null when the lock does not say. */
  pidScope: string | null;
  /** An exclusive lock whose holder has not yet seen that no conflicting lock was there first (it yields to one),
   * or a shared lock (marked so for as long as it is held: see "Acquiring"). */
  tentative: boolean;
  /** How long this machine has seen this very object present (its own clock): a live holder replaces it. */
  watchedMs: number;
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
  /** Another lock this machine has seen unchanged for this long is stale (default 30 min). */
  staleAfterMs?: number;
  /** Our lock is replaced this often while held (default 5 min); must be below staleAfterMs. */
  refreshEveryMs?: number;
  /** Wait between writing our lock and the first listing that may show it (default 0: list at once). */
  settleMs?: number;
  /** Give up (`Locked`) when the listings have not shown our lock after this long (default 60 s). */
  visibleWithinMs?: number;
  /**
   * Return once our lock is written; the wait for the listings and the re-check run meanwhile and settle
   * `Lock.confirmed` (a rival found: our lock is removed, `signal` aborts, no retry). For append-only work
   * that writes nothing a reader relies on (index, manifest, catalog) before `confirmed` resolves: a
   * backup's walk and pack uploads then overlap the wait.
   */
  confirmInBackground?: boolean;
  /** Written into the lock, shown only (default os.hostname()). */
  host?: string;
  /** Written into the lock (default process.pid). */
  pid?: number;
  /** Written into the lock, and "here" for the dead-pid check (default thisPidScope()); null: none. */
  pidScope?: string | null;
  /** When this machine first saw each lock (default: remembered for this call and the lock's life). */
  sightings?: LockSightings;
  /** The time stamps written into the lock, shown as ages only (default Date.now). */
  wallClock?: () => number;
}

export interface Lock {
  /** The lock object's current key (changes on each refresh). */
  readonly key: string;
  /** Stale locks seen (and ignored) while acquiring: worth a note suggesting `raic unlock`. */
  readonly staleLocks: readonly LockInfo[];
  /** Aborts (reason: RaicError `Locked`) when the lock can no longer be trusted: removed by someone,
   * not refreshed in time, or a confirm() that failed. Long operations should stop on it. */
  readonly signal: AbortSignal;
  /** Resolves once no conflicting lock can be held beside ours (at once unless confirmInBackground). */
  readonly confirmed: Promise<void>;
  /**
   * Checks that the lock is still ours, before a step that deletes or commits: awaits `confirmed`, then
   * rejects `Locked` (and aborts `signal`) if the lock was lost, was last replaced too long ago for others'
   * patience, is stored on fewer than `need` members, or an established conflicting lock is listed. Costs
   * one listing of `locks/` and one head per member (plus a read of each lock listed).
   */
  confirm(): Promise<void>;
  /** Stops refreshing and deletes the lock on every up member. Idempotent; never rejects. */
  release(): Promise<void>;
}

/** The `need` under which any two lockers' member sets overlap (a majority), and at least k. */
export function lockQuorum(k: number, n: number): number {
  return Math.max(k, Math.floor(n / 2) + 1);
}

let ownScope: string | null | undefined;

/** Where this process's pid means something: this boot of this kernel and this pid namespace (Linux); null
 * elsewhere. Containers on one host have their own pid namespaces (unless they share the host's). */
export function thisPidScope(): string | null {
  if (ownScope !== undefined) return ownScope;
  ownScope = null;
  const boot = linuxBootId();
  if (boot !== null) {
    try {
      ownScope = `boot ${boot} ${readlinkSync('/proc/self/ns/pid')}`;
    } catch {
      ownScope = null;
    }
  }
  return ownScope;
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
  /** Absent in locks of raic versions before holders were named. */
  holder?: string;
  pidScope?: string;
  tentative?: true;
}

/** What a scan needs: where the locks are, how to open them, and how to judge them. */
interface ScanContext {
  members: Members;
  lockKey: Uint8Array;
  /** Members that must answer the listing. */
  need: number;
  staleAfterMs: number;
  pidScope: string | null;
  sightings: LockSightings;
}

/** Everything a lock being acquired or held works with. */
interface LockContext extends ScanContext {
  exclusive: boolean;
  refreshEveryMs: number;
  settleMs: number;
  visibleWithinMs: number;
  wallClock: () => number;
}

interface Scan {
  locks: LockInfo[];
  /** Lock key → how many members' listings showed it. */
  showing: Map<string, number>;
}

const adFor = (key: string): Buffer => Buffer.from(`raic lock v1 ${key}`);
const newLockKey = (): string => `${LOCKS_PREFIX}${randomBytes(16).toString('hex')}`;

export async function acquireLock(members: Members, lockKey: Uint8Array, opts: LockOptions): Promise<Lock> {
  const ctx: LockContext = {
    members,
    lockKey,
    need: opts.need,
    exclusive: opts.exclusive,
    staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    refreshEveryMs: opts.refreshEveryMs ?? DEFAULT_REFRESH_EVERY_MS,
    settleMs: opts.settleMs ?? DEFAULT_SETTLE_MS,
    visibleWithinMs: opts.visibleWithinMs ?? DEFAULT_VISIBLE_WITHIN_MS,
    pidScope: opts.pidScope === undefined ? thisPidScope() : opts.pidScope,
    sightings: opts.sightings ?? new LockSightings(),
    wallClock: opts.wallClock ?? Date.now,
  };
  if (!Number.isInteger(opts.need) || opts.need < 1 || opts.need > members.n) {
    throw new RaicError('Usage', `lock quorum must be 1..${members.n}, got ${opts.need}`);
  }
  if (!(ctx.refreshEveryMs > 0 && ctx.refreshEveryMs < ctx.staleAfterMs)) {
    throw new RaicError('Usage', `lock refresh interval (${ctx.refreshEveryMs} ms) must be positive and below the stale limit (${ctx.staleAfterMs} ms)`);
  }
  const holder = randomBytes(16).toString('hex');
  const base = {
    v: 1 as const,
    exclusive: opts.exclusive,
    host: opts.host ?? hostname(),
    pid: opts.pid ?? process.pid,
    user: currentUser(),
    command: opts.command,
    holder,
    ...(ctx.pidScope !== null ? { pidScope: ctx.pidScope } : {}),
  };

  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    members.requireUp(opts.need, 'cannot take the lock');
    const before = (await scanLocks(ctx)).locks;
    const holders = blockers(before, opts.exclusive, holder);
    if (holders.length > 0) throw lockedError(holders, opts.exclusive, false, attempt, ctx.staleAfterMs);

    const now = new Date(ctx.wallClock()).toISOString();
    const key = newLockKey();
    const payload: LockPayload = { ...base, time: now, refreshedAt: now, tentative: true };
    await writeLock(ctx, key, payload);
    const held = new HeldLock(ctx, key, payload, before);
    if (opts.confirmInBackground) {
      held.confirmWith(
        (async () => {
          const rivals = blockers(await scanUntilShown(ctx, key, ctx.settleMs), opts.exclusive, holder);
          if (rivals.length > 0) throw lockedError(rivals, opts.exclusive, rivals.every((l) => l.tentative), attempt, ctx.staleAfterMs);
          if (opts.exclusive) await held.establish();
        })(),
      );
      return held;
    }
    let rivals: LockInfo[];
    try {
      const after = await scanUntilShown(ctx, key, ctx.settleMs);
      held.noteStale(after);
      rivals = blockers(after, opts.exclusive, holder);
      if (rivals.length === 0) {
        if (opts.exclusive) {
          await held.establish();
          await held.retired(); // one object again (unless the listings are slow to show the new one)
        }
        return held;
      }
    } catch (err) {
      await held.release();
      throw err;
    }
    await held.release();
    // Only tentative rivals: they are racing us and yield too. An established one holds the array.
    const race = rivals.every((l) => l.tentative);
    if (!race || attempt >= MAX_ATTEMPTS) throw lockedError(rivals, opts.exclusive, race, attempt, ctx.staleAfterMs);
    // Exponential random back-off scaled by how long one attempt took, so two racers drift apart.
    await sleep(Math.random() * Math.max(performance.now() - started, 10) * 2 ** (attempt + 2));
  }
}

/** Every lock object on the members (union), oldest first, with its staleness judged now. */
export async function listLocks(
  members: Members,
  lockKey: Uint8Array,
  opts: { staleAfterMs?: number; pidScope?: string | null; sightings?: LockSightings } = {},
): Promise<LockInfo[]> {
  const ctx: ScanContext = {
    members,
    lockKey,
    need: 1,
    staleAfterMs: opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS,
    pidScope: opts.pidScope === undefined ? thisPidScope() : opts.pidScope,
    sightings: opts.sightings ?? new LockSightings(),
  };
  return (await scanLocks(ctx)).locks;
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

/** One line naming a lock's holder for messages: kind, user@host, pid, holder id, command, ages by its clock. */
export function describeLock(l: LockInfo, now = Date.now()): string {
  if (l.unreadable !== undefined) return `unreadable lock ${l.key} (${l.unreadable})`;
  return (
    `${l.exclusive ? 'exclusive' : 'shared'} lock of ${l.user}@${l.host}, pid ${l.pid}${l.holder ? `, holder ${l.holder.slice(0, 8)}` : ''} (${l.command})` +
    `${l.tentative && l.exclusive ? ', being taken' : ''}, taken ${formatAge(now - l.time.getTime())} ago, refreshed ${formatAge(now - l.refreshedAt.getTime())} ago`
  );
}

/** Locks in `locks` (other than the holder `own`'s) that forbid holding ours. */
function blockers(locks: LockInfo[], exclusive: boolean, own: string): LockInfo[] {
  const live = locks.filter((l) => l.holder !== own && !l.stale);
  if (!exclusive) return live.filter((l) => l.unreadable === undefined && l.exclusive);
  // Readable exclusive first, then shared, then unreadable: the most telling holder is named first.
  const rank = (l: LockInfo): number => (l.unreadable !== undefined ? 2 : l.exclusive ? 0 : 1);
  return live.sort((a, b) => rank(a) - rank(b));
}

function lockedError(holders: LockInfo[], exclusive: boolean, race: boolean, attempts: number, staleAfterMs: number): RaicError {
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
    hint:
      `wait for it to finish; a lock is stale once its process is gone on this machine, or once this machine has seen it unchanged ` +
      `for ${formatAge(staleAfterMs)} (seen for ${formatAge(first.watchedMs)} so far) — then \`raic unlock\` removes it (\`--remove-all\` removes every lock)`,
  });
}

/**
 * Lists `locks/` on every up member and reads each lock found (see "Reading" above). Rejects `Quorum` if
 * fewer than `need` members answered a listing (a lock held only elsewhere could be missed).
 */
async function scanLocks(ctx: ScanContext, ours: ReadonlySet<string> = new Set()): Promise<Scan> {
  const deleted = new Set<string>();
  for (let pass = 1; ; pass++) {
    const listed = await listEverywhere(ctx);
    const limit = pLimit(8);
    // Our own objects (`ours`) are not read: a round trip on a commit's path for what we wrote ourselves.
    const read = await Promise.all([...listed].filter(([key]) => !deleted.has(key) && !ours.has(key)).map(([key, on]) => limit(async () => [key, await readLock(ctx, key, on)] as const)));
    const vanished = read.filter(([, r]) => r === null).map(([key]) => key);
    if (vanished.length === 0) {
      const present = read.flatMap(([key, r]) => (r === null ? [] : [[key, r] as const]));
      const firstSeen = await ctx.sightings.see(present.map(([key]) => key));
      const now = ctx.sightings.clock.now();
      const locks = present.map(([key, r]) => toInfo(key, r, now - (firstSeen.get(key) ?? now), ctx));
      locks.sort((a, b) => a.time.getTime() - b.time.getTime() || (a.key < b.key ? -1 : 1));
      return { locks, showing: new Map([...listed].map(([key, on]) => [key, on.length])) };
    }
    if (pass >= MAX_SCAN_PASSES) {
      throw new RaicError('Transient', `the locks kept changing while being read (${pass} listings)`, { hint: 'retry' });
    }
    for (const key of vanished) deleted.add(key);
  }
}

/** Lock key → the members whose listing shows it. */
async function listEverywhere(ctx: ScanContext): Promise<Map<string, number[]>> {
  const { members } = ctx;
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
  if (answered < ctx.need) {
    const down = members.describeDown();
    throw new RaicError('Quorum', `could list the locks on only ${answered} of ${members.n} members, ${ctx.need} needed (${[...problems, ...(down ? [down] : [])].join('; ')})`, {
      hint: 'bring the members back, then retry',
    });
  }
  return holders;
}

/**
 * Lists the locks until the listings of `need` members show `key` (ours, just written), first after
 * `firstWaitMs`, then at doubling intervals: such a listing shows every lock written to that member before
 * ours. Rejects `Locked` once `visibleWithinMs` has passed; stops when `signal` aborts. Our own objects (`ours`)
 * are listed but not read back.
 */
async function scanUntilShown(ctx: LockContext, key: string, firstWaitMs: number, signal?: AbortSignal, ours: ReadonlySet<string> = new Set([key])): Promise<LockInfo[]> {
  const started = performance.now();
  for (let wait = firstWaitMs; ; wait = Math.min(Math.max(2 * wait, 10), MAX_POLL_MS)) {
    if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {});
    signal?.throwIfAborted();
    const scan = await scanLocks(ctx, ours);
    const shown = scan.showing.get(key) ?? 0;
    if (shown >= ctx.need) return scan.locks;
    const waited = performance.now() - started;
    if (waited + Math.min(Math.max(2 * wait, 10), MAX_POLL_MS) > ctx.visibleWithinMs) {
      throw new RaicError(
        'Locked',
        `cannot confirm the lock: after ${formatAge(waited)} the listings of only ${shown} of the ${ctx.need} members needed show it (listings that lag hide other raic runs' locks)`,
        { hint: 'retry later; a member whose listings lag by more than a minute cannot be locked safely' },
      );
    }
  }
}

type ReadResult = LockPayload | { unreadable: string };

/** The lock at `key`, tried on each member listing it; null if every one of them says it is absent (deleted). */
async function readLock(ctx: ScanContext, key: string, on: number[]): Promise<ReadResult | null> {
  const problems: string[] = [];
  for (const index of on) {
    try {
      return openLock(ctx.lockKey, key, await ctx.members.call(index, (p) => p.get(key)));
    } catch (err) {
      if (!isRaicError(err)) throw err;
      if (err.code !== 'NotFound') problems.push(err.code === 'Integrity' ? err.message : `${ctx.members.slots[index]?.url}: ${err.message}`);
    }
  }
  return problems.length === 0 ? null : { unreadable: [...new Set(problems)].join('; ') };
}

/** A lock object's bytes as a member served them, opened and checked. Rejects Integrity. */
export function openLock(lockKey: Uint8Array, key: string, sealed: Uint8Array): LockPayload {
  return parsePayload(open(lockKey, sealed, adFor(key))); // open rejects Integrity ("failed authentication")
}

function parsePayload(bytes: Uint8Array): LockPayload {
  let p: Partial<LockPayload> | null;
  try {
    p = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<LockPayload> | null;
  } catch {
    throw new RaicError('Integrity', 'lock content is not JSON');
  }
  // JSON null, a number or an array parse too: only an object can be a lock.
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new RaicError('Integrity', 'lock content is malformed');
  const ok =
    p.v === 1 &&
    typeof p.exclusive === 'boolean' &&
    typeof p.host === 'string' &&
    Number.isSafeInteger(p.pid) &&
    typeof p.user === 'string' &&
    typeof p.command === 'string' &&
    !Number.isNaN(Date.parse(String(p.time))) &&
    !Number.isNaN(Date.parse(String(p.refreshedAt))) &&
    (p.holder === undefined || typeof p.holder === 'string') &&
    (p.pidScope === undefined || typeof p.pidScope === 'string') &&
    (p.tentative === undefined || p.tentative === true);
  if (!ok) throw new RaicError('Integrity', 'lock content is malformed');
  return p as LockPayload;
}

function toInfo(key: string, r: ReadResult, watchedMs: number, ctx: ScanContext): LockInfo {
  if ('unreadable' in r) {
    const epoch = new Date(0);
    return { key, exclusive: false, host: '', pid: 0, user: '', time: epoch, refreshedAt: epoch, command: '', holder: '', pidScope: null, tentative: false, watchedMs, stale: false, unreadable: r.unreadable };
  }
  const info: LockInfo = {
    key,
    exclusive: r.exclusive,
    host: r.host,
    pid: r.pid,
    user: r.user,
    time: new Date(r.time),
    refreshedAt: new Date(r.refreshedAt),
    command: r.command,
    holder: r.holder ?? '',
    pidScope: r.pidScope ?? null,
    tentative: r.tentative === true,
    watchedMs,
    stale: false,
  };
  if (r.pidScope !== undefined && r.pidScope === ctx.pidScope && processGone(r.pid)) info.staleReason = `process ${r.pid} is no longer running on this machine`;
  else if (watchedMs >= ctx.staleAfterMs) info.staleReason = `unchanged for ${formatAge(watchedMs)} as seen from this machine (stale after ${formatAge(ctx.staleAfterMs)})`;
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
async function writeLock(ctx: ScanContext, key: string, payload: LockPayload): Promise<void> {
  const { members } = ctx;
  const body = seal(ctx.lockKey, Buffer.from(JSON.stringify(payload)), adFor(key));
  const up = members.up();
  const results = await Promise.allSettled(up.map((s) => members.call(s.index, (p) => p.put(key, body))));
  const stored = results.filter((r) => r.status === 'fulfilled').length;
  if (stored >= ctx.need) return;
  await removeEverywhere(members, key);
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${up[i]!.url} (${messageOf(r.reason)})`] : []));
  const down = members.describeDown();
  throw new RaicError('Quorum', `could not store the lock on enough members: ${stored} of ${members.n} took it, ${ctx.need} needed (${[...failed, ...(down ? [down] : [])].join('; ')})`, {
    hint: 'bring the members back, then retry',
  });
}

/** How many up members hold `key`, and how many could not say. */
async function copiesOf(members: Members, key: string): Promise<{ present: number; unknown: number }> {
  const results = await Promise.allSettled(members.up().map((s) => members.call(s.index, (p) => p.head(key))));
  return {
    present: results.filter((r) => r.status === 'fulfilled').length,
    unknown: results.filter((r) => r.status === 'rejected' && !isRaicError(r.reason, 'NotFound')).length,
  };
}

class HeldLock implements Lock {
  private current: string;
  /** Earlier objects of this lock, deleted once `current` shows in `need` members' listings (or on release). */
  private readonly superseded = new Set<string>();
  private readonly holder: string;
  private readonly stale: LockInfo[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Replacements of the lock object (establish, refresh), one at a time. */
  private rotating: Promise<void> = Promise.resolve();
  private retiring: Promise<void> = Promise.resolve();
  private releasing: Promise<void> | undefined;
  /** When the current object was written (ctx.sightings.clock). */
  private lastWrite: number;
  private readonly controller = new AbortController();
  /** Aborted by release(): ends the waits for listings. */
  private readonly stopping = new AbortController();
  confirmed: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: LockContext,
    key: string,
    private payload: LockPayload,
    seen: LockInfo[],
  ) {
    this.current = key;
    this.holder = payload.holder!;
    this.lastWrite = ctx.sightings.clock.now();
    this.noteStale(seen);
    this.schedule();
  }

  get key(): string {
    return this.current;
  }

  get staleLocks(): readonly LockInfo[] {
    return this.stale;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  noteStale(locks: readonly LockInfo[]): void {
    for (const l of locks) if (l.stale && !this.stale.some((s) => s.key === l.key)) this.stale.push(l);
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

  /** Replaces the tentative object with an established one: from now on rivals' confirm() counts it. */
  establish(): Promise<void> {
    return this.rotate(({ tentative: _, ...established }) => established);
  }

  /** Resolves once the latest replacement's superseded objects are deleted, or left for later. */
  retired(): Promise<void> {
    return this.retiring;
  }

  async confirm(): Promise<void> {
    await this.confirmed;
    if (this.controller.signal.aborted) throw this.lostError();
    const since = this.ctx.sightings.clock.now() - this.lastWrite;
    if (since >= this.ctx.staleAfterMs - this.ctx.refreshEveryMs) {
      throw this.lose(`the lock was last replaced ${formatAge(since)} ago; other machines may soon judge it stale`);
    }
    const key = this.current;
    // Both are reads after the same point (nothing is committed until they pass): asked at once, one round trip.
    const [{ present, unknown }, scan] = await Promise.all([copiesOf(this.ctx.members, key), scanLocks(this.ctx, new Set([key, ...this.superseded]))]);
    if (present === 0 && unknown === 0) throw this.lose(`the lock ${key} was removed while held (by \`raic unlock --remove-all\`?)`);
    if (present < this.ctx.need) throw this.lose(`the lock ${key} is on only ${present} members, ${this.ctx.need} needed`);
    // A tentative rival yields to us once its listings show our lock; an established one does not.
    const rivals = blockers(scan.locks, this.ctx.exclusive, this.holder).filter((l) => !l.tentative);
    if (rivals.length > 0) throw this.lose(`a conflicting lock is held beside ours: ${describeLock(rivals[0]!)} [${rivals[0]!.key}]`);
    if (this.controller.signal.aborted) throw this.lostError();
  }

  release(): Promise<void> {
    return (this.releasing ??= this.doRelease());
  }

  private async doRelease(): Promise<void> {
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.inFlight;
    await this.rotating;
    await this.retiring;
    await Promise.all([this.current, ...this.superseded].map((k) => removeEverywhere(this.ctx.members, k)));
  }

  private schedule(): void {
    if (this.releasing !== undefined || this.controller.signal.aborted) return;
    // unref: a lock someone forgot to release must not keep the process alive.
    this.timer = setTimeout(() => {
      this.inFlight = this.refresh().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    }, this.ctx.refreshEveryMs).unref();
  }

  /** Never rejects: a failure is retried next time, or aborts `signal` once others may call us stale. */
  private async refresh(): Promise<void> {
    try {
      const { present, unknown } = await copiesOf(this.ctx.members, this.current);
      if (present === 0 && unknown === 0) {
        this.lose(`the lock ${this.current} was removed while held (by \`raic unlock --remove-all\`?)`);
        return;
      }
      await this.rotate((p) => ({ ...p, refreshedAt: new Date(this.ctx.wallClock()).toISOString() }));
    } catch (err) {
      const since = this.ctx.sightings.clock.now() - this.lastWrite;
      if (since + this.ctx.refreshEveryMs >= this.ctx.staleAfterMs) {
        this.lose(`could not refresh the lock for ${formatAge(since)}; others may now treat it as stale (${messageOf(err)})`);
      }
    }
  }

  /** Writes `change(current content)` as a new object that becomes the lock; the old one is retired in the background. */
  private rotate(change: (p: LockPayload) => LockPayload): Promise<void> {
    const run = this.rotating.then(async () => {
      if (this.releasing !== undefined || this.controller.signal.aborted) return;
      const payload = change(this.payload);
      const next = newLockKey();
      await writeLock(this.ctx, next, payload);
      this.superseded.add(this.current);
      this.current = next;
      this.payload = payload;
      this.lastWrite = this.ctx.sightings.clock.now();
      this.retiring = this.retire(next);
    });
    this.rotating = run.catch(() => undefined);
    return run;
  }

  /** Deletes the superseded objects once `key` shows in `need` members' listings; otherwise leaves them to
   * the next rotation or release (a holder briefly seen twice is still one holder). Never rejects. */
  private async retire(key: string): Promise<void> {
    try {
      await scanUntilShown(this.ctx, key, 0, this.stopping.signal, new Set([key, ...this.superseded]));
    } catch {
      return;
    }
    if (this.current !== key) return;
    for (const old of [...this.superseded]) {
      if ((await removeEverywhere(this.ctx.members, old)).length === 0) this.superseded.delete(old);
    }
  }

  private lostError(): RaicError {
    const reason: unknown = this.controller.signal.reason;
    return isRaicError(reason) ? reason : new RaicError('Locked', `the lock is no longer held (${messageOf(reason)})`);
  }

  private lose(reason: string): RaicError {
    clearTimeout(this.timer);
    if (!this.controller.signal.aborted) this.controller.abort(new RaicError('Locked', reason, { hint: 'stop and run the command again' }));
    return this.lostError();
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
