import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { seal } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';
import { LockSightings, type ObserverClock } from '../../../src/store/lock-sightings.js';
import { acquireLock, describeLock, listLocks, removeLocks, thisPidScope, type Lock, type LockInfo, type LockOptions } from '../../../src/store/locks.js';
import { Members } from '../../../src/store/members.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { LaggingProvider } from '../../support/lagging-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';

const key = randomBytes(32);
/** Tests need no settling time: the memory provider's listings are immediate. */
const FAST = { settleMs: 2 } as const;

function memoryArray(n = 3): { providers: MemoryProvider[]; members: Members } {
  const providers = Array.from({ length: n }, (_, i) => new MemoryProvider({ name: `m${i}` }));
  return { providers, members: Members.fromProviders(providers) };
}

const lockObjects = (p: MemoryProvider): string[] => [...p.objects.keys()].filter((k) => k.startsWith('locks/')).sort();

const opts = (o: Partial<LockOptions> & { exclusive: boolean }): LockOptions => ({ command: o.exclusive ? 'prune' : 'backup', need: 2, ...FAST, ...o });

/** Rejects with Locked and a message matching every pattern. */
async function assertLocked(p: Promise<Lock>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isRaicError(err, 'Locked'), `expected Locked, got ${String(err)}`);
    for (const re of patterns) assert.match(err.message + (err.hint ?? ''), re);
    return true;
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** An observer's clock that moves only when told. */
function manualClock(epoch = 'test'): ObserverClock & { advance(ms: number): void } {
  let t = 1_000_000;
  return { epoch, now: () => t, advance: (ms) => void (t += ms) };
}

/** Stores a lock object as another raic would (the format of locks.ts), bypassing acquireLock. */
async function plantLock(providers: MemoryProvider[], payload: Record<string, unknown>): Promise<string> {
  const lockKey = `locks/${randomBytes(16).toString('hex')}`;
  const now = new Date().toISOString();
  const full = { v: 1, host: 'elsewhere', pid: 99, user: 'root', time: now, refreshedAt: now, command: 'backup', ...payload };
  const body = seal(key, Buffer.from(JSON.stringify(full)), Buffer.from(`raic lock v1 ${lockKey}`));
  for (const p of providers) await p.put(lockKey, body);
  return lockKey;
}

/** The pid of a process that has exited (spawned and waited for). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

describe('repository locks', () => {
  it('shared locks coexist, are stored sealed on every member, and release removes them', async () => {
    const { providers, members } = memoryArray();
    const a = await acquireLock(members, key, opts({ exclusive: false, host: 'host-a' }));
    const b = await acquireLock(members, key, opts({ exclusive: false, host: 'host-b' }));
    for (const p of providers) {
      assert.deepEqual(lockObjects(p), [a.key, b.key].sort());
      for (const k of lockObjects(p)) assert.ok(!p.objects.get(k)!.includes('host-'), 'host name stored in plaintext');
    }
    const listed = await listLocks(members, key);
    assert.deepEqual(listed.map((l) => [l.host, l.exclusive, l.stale, l.command]).sort(), [
      ['host-a', false, false, 'backup'],
      ['host-b', false, false, 'backup'],
    ]);
    await a.release();
    await b.release();
    for (const p of providers) assert.deepEqual(lockObjects(p), []);
  });

  it('an exclusive lock is refused while a shared one is held, naming the holder, and leaves nothing behind', async () => {
    const { providers, members } = memoryArray();
    const shared = await acquireLock(members, key, opts({ exclusive: false, host: 'nas-7', pid: 4242, pidScope: 'elsewhere' }));
    await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /shared lock of .*@nas-7/, /pid 4242/, /backup/, /taken \d+s ago/, /raic unlock/);
    for (const p of providers) assert.deepEqual(lockObjects(p), [shared.key]);
    await shared.release();
    const excl = await acquireLock(members, key, opts({ exclusive: true }));
    await excl.release();
  });

  it('an exclusive lock blocks other exclusive and shared locks', async () => {
    const { members } = memoryArray();
    const excl = await acquireLock(members, key, opts({ exclusive: true, host: 'pruner', pid: 777, pidScope: 'elsewhere' }));
    await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /exclusive lock of .*@pruner/, /pid 777/, /prune/);
    await assertLocked(acquireLock(members, key, opts({ exclusive: false })), /exclusive lock of .*@pruner/, /pid 777/, /raic unlock/);
    await excl.release();
    const shared = await acquireLock(members, key, opts({ exclusive: false }));
    await shared.release();
  });

  it('a lock whose process is gone on this machine is stale and does not block', async () => {
    const { providers, members } = memoryArray();
    const pid = await deadPid();
    const orphan = await acquireLock(members, key, opts({ exclusive: false, pid }));
    const [info] = await listLocks(members, key);
    assert.equal(info?.host, hostname());
    assert.equal(info?.pidScope, thisPidScope());
    assert.equal(info?.stale, true);
    assert.match(info?.staleReason ?? '', new RegExp(`process ${pid} is no longer running`));
    // Seen from another pid namespace (another container with the same host name) it is not judged by pid.
    assert.equal((await listLocks(members, key, { pidScope: 'boot 0 pid:[1]' }))[0]?.stale, false);
    assert.equal((await listLocks(members, key, { pidScope: null }))[0]?.stale, false);

    const excl = await acquireLock(members, key, opts({ exclusive: true }));
    assert.deepEqual(
      excl.staleLocks.map((l) => l.key),
      [orphan.key],
    );
    await excl.release();
    for (const p of providers) assert.deepEqual(lockObjects(p), [orphan.key]);
    await orphan.release();
  });

  it('a lock this machine has seen unchanged for the limit is stale and does not block; a fresh one does', async () => {
    const { members } = memoryArray();
    const old = await acquireLock(members, key, opts({ exclusive: false, host: 'far-away', pidScope: 'elsewhere' }));
    const clock = manualClock();
    const sightings = new LockSightings(clock);
    assert.equal((await listLocks(members, key, { sightings }))[0]?.stale, false);
    clock.advance(59_000);
    await assertLocked(acquireLock(members, key, opts({ exclusive: true, staleAfterMs: 60_000, refreshEveryMs: 1000, sightings })), /far-away/, /seen for 59s so far/);
    clock.advance(1000);
    const [info] = await listLocks(members, key, { staleAfterMs: 60_000, sightings });
    assert.equal(info?.stale, true);
    assert.match(info?.staleReason ?? '', /unchanged for 1m as seen from this machine/);
    const excl = await acquireLock(members, key, opts({ exclusive: true, staleAfterMs: 60_000, refreshEveryMs: 1000, sightings }));
    assert.deepEqual(
      excl.staleLocks.map((l) => l.key),
      [old.key],
    );
    await excl.release();
    await old.release();
  });

  it('refresh writes a new lock object and deletes the old one', async () => {
    const { providers, members } = memoryArray();
    const lock = await acquireLock(members, key, opts({ exclusive: true, refreshEveryMs: 150, staleAfterMs: 10_000 }));
    const first = lock.key;
    const [before] = await listLocks(members, key);
    await until('a refresh', () => lock.key !== first && providers.every((p) => !p.objects.has(first)));
    for (const p of providers) assert.deepEqual(lockObjects(p), [lock.key]);
    const [after] = await listLocks(members, key);
    assert.equal(after?.key, lock.key);
    assert.ok(after!.refreshedAt > before!.refreshedAt, 'refreshedAt moved forward');
    assert.equal(after!.time.getTime(), before!.time.getTime(), 'time is when the lock was first taken');
    assert.equal(lock.signal.aborted, false);
    await lock.release();
    await sleep(80); // no refresh may run after release
    for (const p of providers) assert.deepEqual(lockObjects(p), []);
  });

  it('release deletes the lock on every member and is idempotent', async () => {
    const { providers, members } = memoryArray(4);
    const lock = await acquireLock(members, key, opts({ exclusive: true }));
    for (const p of providers) assert.deepEqual(lockObjects(p), [lock.key]);
    await Promise.all([lock.release(), lock.release()]);
    await lock.release();
    for (const p of providers) assert.deepEqual(lockObjects(p), []);
  });

  it('two exclusive acquisitions started together: exactly one wins, every time', async () => {
    const { providers } = memoryArray();
    for (let round = 0; round < 8; round++) {
      // Two "hosts", each with its own view of the same members, at latencies that vary by round.
      const view = (ms: number): Members => Members.fromProviders(providers.map((p) => new FaultyProvider(p).addLatency(ms)));
      const results = await Promise.allSettled([
        acquireLock(view(round % 3), key, opts({ exclusive: true, host: 'host-a' })),
        acquireLock(view((round * 2) % 5), key, opts({ exclusive: true, host: 'host-b' })),
      ]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
      assert.ok(isRaicError(lost[0], 'Locked'), String(lost[0]));
      for (const p of providers) assert.deepEqual(lockObjects(p), [won[0]!.key]);
      await won[0]!.release();
    }
  });

  it('a shared lock is written once and keeps its tentative mark while held; an exclusive one is established', async () => {
    for (const confirmInBackground of [false, true]) {
      const { providers, members } = memoryArray();
      const puts = providers.map(() => 0);
      providers.forEach((p, i) => {
        const put = p.put.bind(p);
        p.put = (k, body, o) => ((puts[i]! += k.startsWith('locks/') ? 1 : 0), put(k, body, o));
      });
      const shared = await acquireLock(members, key, opts({ exclusive: false, confirmInBackground }));
      await shared.confirmed;
      assert.deepEqual(puts, [1, 1, 1], `one lock write per member (confirmInBackground ${confirmInBackground})`);
      const [held] = await listLocks(members, key);
      assert.equal(held!.key, shared.key);
      assert.equal(held!.tentative, true);
      assert.doesNotMatch(describeLock(held!), /being taken/);
      // Still a lock: an exclusive locker refuses (its first scan sees it) and leaves nothing behind.
      await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /shared lock of/);
      for (const p of providers) assert.deepEqual(lockObjects(p), [shared.key]);
      await shared.release();
      const excl = await acquireLock(members, key, opts({ exclusive: true }));
      const [established] = await listLocks(members, key);
      assert.equal(established!.tentative, false);
      await excl.release();
    }
  });

  it('a shared and an exclusive acquisition started together never both hold', async () => {
    const { providers } = memoryArray();
    for (let round = 0; round < 8; round++) {
      const results = await Promise.allSettled([
        acquireLock(Members.fromProviders(providers), key, opts({ exclusive: false, host: 'backup-host' })),
        acquireLock(Members.fromProviders(providers), key, opts({ exclusive: true, host: 'prune-host' })),
      ]);
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      assert.equal(won.length, 1, `round ${round}: ${won.length} holders`);
      await won[0]!.release();
    }
  });

  it('a lock sealed under another key blocks exclusive locks (not shared ones) and is never stale', async () => {
    const { members } = memoryArray();
    const foreign = await acquireLock(members, randomBytes(32), opts({ exclusive: false, pid: await deadPid() }));
    const [info] = await listLocks(members, key, { staleAfterMs: 1 });
    assert.equal(info?.key, foreign.key);
    assert.match(info?.unreadable ?? '', /failed authentication/);
    assert.equal(info?.stale, false);
    await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /cannot read/, new RegExp(foreign.key), /--remove-all/);
    const shared = await acquireLock(members, key, opts({ exclusive: false }));
    await shared.release();
    await foreign.release();
  });

  it('reads a lock from another member when one copy is damaged', async () => {
    const { providers, members } = memoryArray();
    const holder = await acquireLock(members, key, opts({ exclusive: true, host: 'pruner' }));
    const bytes = providers[0]!.objects.get(holder.key)!;
    bytes[bytes.length - 1]! ^= 1;
    const [info] = await listLocks(members, key);
    assert.equal(info?.unreadable, undefined);
    assert.equal(info?.host, 'pruner');
    await holder.release();
  });

  it('tolerates a member that is down while `need` members hold the lock; below that, fails cleanly', async () => {
    const providers = Array.from({ length: 3 }, (_, i) => new FaultyProvider(new MemoryProvider({ name: `f${i}` })));
    providers[2]!.down();
    const members = Members.fromProviders(providers);
    const lock = await acquireLock(members, key, opts({ exclusive: true, need: 2 }));
    providers[2]!.up();
    assert.deepEqual(
      providers.map((p) => lockObjects(p.inner as MemoryProvider).length),
      [1, 1, 0],
    );
    await lock.release();

    providers[2]!.down();
    await assert.rejects(acquireLock(Members.fromProviders(providers), key, opts({ exclusive: true, need: 3 })), (e) => isRaicError(e, 'Quorum'));
    providers[1]!.failAlways('Permanent', { ops: ['put'] });
    await assert.rejects(acquireLock(Members.fromProviders(providers), key, opts({ exclusive: true, need: 2 })), (e) => isRaicError(e, 'Quorum') && /1 of 3 took it/.test(e.message));
    providers[2]!.up();
    for (const p of providers) assert.deepEqual(lockObjects(p.inner as MemoryProvider), [], 'a failed acquisition left a lock behind');
  });

  it('signals the holder when its lock is removed by someone else', async () => {
    const { providers, members } = memoryArray();
    const lock = await acquireLock(members, key, opts({ exclusive: true, refreshEveryMs: 100, staleAfterMs: 10_000 }));
    assert.equal(await removeLocks(members, [lock.key]), 1);
    await until('the lock to be reported lost', () => lock.signal.aborted);
    assert.ok(isRaicError(lock.signal.reason, 'Locked'));
    assert.match((lock.signal.reason as Error).message, /removed while held/);
    await sleep(60);
    for (const p of providers) assert.deepEqual(lockObjects(p), [], 'a lost lock must not be rewritten');
    await lock.release();
  });

  it('removeLocks deletes only lock objects', async () => {
    const { providers, members } = memoryArray();
    await providers[0]!.put('config', Buffer.from('{}'));
    await assert.rejects(removeLocks(members, ['config']), (e) => isRaicError(e, 'Usage'));
    await assert.rejects(removeLocks(members, ['locks/']), (e) => isRaicError(e, 'Usage'));
    assert.ok(providers[0]!.objects.has('config'));
    assert.equal(await removeLocks(members, []), 0);
  });
  it('confirmInBackground: returns before the settle wait; confirmed resolves when no rival appears', async () => {
    const { providers, members } = memoryArray();
    const started = performance.now();
    const lock = await acquireLock(members, key, opts({ exclusive: false, settleMs: 300, confirmInBackground: true }));
    assert.ok(performance.now() - started < 250, 'returned only after the settle wait');
    for (const p of providers) assert.deepEqual(lockObjects(p), [lock.key]);
    await lock.confirmed;
    assert.ok(performance.now() - started >= 300, 'confirmed before the settle wait ended');
    assert.equal(lock.signal.aborted, false);
    await lock.release();
  });

  it('confirmInBackground: an exclusive lock written during the settle wait fails confirmed, aborts signal, removes ours', async () => {
    const { providers, members } = memoryArray();
    const lock = await acquireLock(members, key, opts({ exclusive: false, settleMs: 300, confirmInBackground: true }));
    // A pruner racing us: it writes its lock now (its own re-check would see ours and yield; here it is simply held).
    const rivalKey = 'locks/' + 'ab'.repeat(16);
    const now = new Date().toISOString();
    const payload = { v: 1, exclusive: true, host: 'pruner', pid: 99, user: 'root', time: now, refreshedAt: now, command: 'prune' };
    const body = seal(key, Buffer.from(JSON.stringify(payload)), Buffer.from(`raic lock v1 ${rivalKey}`)); // the lock format (locks.ts)
    for (const p of providers) await p.put(rivalKey, body);
    await assertLocked(lock.confirmed.then(() => lock), /exclusive lock of .*@pruner/);
    assert.equal(lock.signal.aborted, true);
    assert.ok(isRaicError(lock.signal.reason, 'Locked'));
    for (const p of providers) assert.deepEqual(lockObjects(p), [rivalKey]);
  });
});

describe('lock holders, clocks and lagging listings', () => {
  it('holders sharing a host name and pid are told apart: the dead-pid rule needs the same pid namespace', async () => {
    const { members } = memoryArray();
    const pid = await deadPid();
    // Two containers named "box": the same host name and pid, each its own pid namespace on one kernel.
    const a = await acquireLock(members, key, opts({ exclusive: false, host: 'box', pid, pidScope: 'boot 1 pid:[4026531001]' }));
    const b = await acquireLock(members, key, opts({ exclusive: false, host: 'box', pid, pidScope: 'boot 1 pid:[4026531002]' }));
    const seen = await listLocks(members, key, { pidScope: 'boot 1 pid:[4026531003]' });
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0]!.holder, seen[1]!.holder);
    assert.ok(seen.every((l) => !l.stale && l.host === 'box' && l.pid === pid));
    // A prune in a third container named "box", with the same pid: both backups block it.
    await assertLocked(acquireLock(members, key, opts({ exclusive: true, host: 'box', pid, pidScope: 'boot 1 pid:[4026531003]' })), /shared lock of .*@box/, /and 1 more/);
    // Seen from inside a's own namespace, where that pid is gone, a is stale and b is not.
    const fromA = await listLocks(members, key, { pidScope: 'boot 1 pid:[4026531001]' });
    assert.deepEqual(fromA.map((l) => [l.key, l.stale]).sort(), [[a.key, true], [b.key, false]].sort());
    await a.release();
    await b.release();
  });

  it("staleness never compares a lock's time stamps with our clock: clocks 40 minutes apart change nothing", async () => {
    const { members } = memoryArray();
    const clock = manualClock();
    const sightings = new LockSightings(clock);
    const behind = await acquireLock(members, key, opts({ exclusive: false, host: 'slow-clock', pidScope: 'elsewhere', wallClock: () => Date.now() - 40 * 60_000, refreshEveryMs: 50 }));
    const [info] = await listLocks(members, key, { sightings });
    assert.equal(info?.stale, false, 'stale at first sight because its clock is behind');
    assert.match(describeOf(info!), /taken 40m ago/);
    await assertLocked(acquireLock(members, key, opts({ exclusive: true, sightings })), /slow-clock/);
    // 31 minutes on our clock; the holder has replaced its lock meanwhile, so what we see now is new to us.
    const before = behind.key;
    await until('a refresh', () => behind.key !== before);
    clock.advance(31 * 60_000);
    await until('the old object to go', async () => (await listLocks(members, key, { sightings })).length === 1);
    const [now] = await listLocks(members, key, { sightings });
    assert.equal(now?.stale, false);
    // Our clock 40 minutes ahead of the holder's and nothing refreshed: still live until we have watched it 30 minutes.
    const still = await acquireLock(members, key, opts({ exclusive: false, host: 'ahead', pidScope: 'elsewhere', wallClock: () => Date.now() + 40 * 60_000 }));
    await behind.release();
    assert.equal((await listLocks(members, key, { sightings }))[0]?.stale, false);
    clock.advance(30 * 60_000);
    assert.equal((await listLocks(members, key, { sightings }))[0]?.stale, true);
    await still.release();
  });

  it('sightings persist in a file; those of another clock epoch, or of locks gone, are dropped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raic-sightings-'));
    const file = join(dir, 'sub', 'lock-sightings-x.json');
    try {
      const clock = manualClock('boot a');
      assert.deepEqual([...(await new LockSightings(clock, file).see(['locks/1', 'locks/2']))], [['locks/1', 1_000_000], ['locks/2', 1_000_000]]);
      clock.advance(5000);
      assert.deepEqual([...(await new LockSightings(clock, file).see(['locks/1', 'locks/3']))], [['locks/1', 1_000_000], ['locks/3', 1_005_000]]);
      assert.deepEqual([...(await new LockSightings(clock, file).see(['locks/2']))], [['locks/2', 1_005_000]], 'locks/2 was forgotten when not listed');
      const rebooted = manualClock('boot b');
      assert.deepEqual([...(await new LockSightings(rebooted, file).see(['locks/2']))], [['locks/2', 1_000_000]]);
      await writeFile(file, 'not json');
      assert.deepEqual([...(await new LockSightings(clock, file).see(['locks/9']))], [['locks/9', 1_005_000]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Memory members behind listings that lag `lagMs` on a clock the test moves. */
  function laggingArray(lagMs: number): { inner: MemoryProvider[]; lagging: LaggingProvider[]; time: { t: number }; view(): Members } {
    const time = { t: 0 };
    const inner = Array.from({ length: 3 }, (_, i) => new MemoryProvider({ name: `lag${i}` }));
    const lagging = inner.map((p) => new LaggingProvider(p, lagMs, () => time.t));
    return { inner, lagging, time, view: () => Members.fromProviders(lagging) };
  }

  it('an established lock the listings do not show yet is found: the locker waits until its own lock is listed', async () => {
    const { inner, lagging, time, view } = laggingArray(0);
    const backup = await acquireLock(view(), key, opts({ exclusive: false, host: 'backup-host' }));
    // From now on listings trail by 10 s of the test's clock, which stands still: the backup's lock is not listed.
    for (const p of lagging) p.setLag(10_000);
    assert.deepEqual(await listLocks(view(), key), []);
    let settled = false;
    const prune = acquireLock(view(), key, opts({ exclusive: true, host: 'prune-host' })).finally(() => (settled = true));
    prune.catch(() => undefined);
    await until("the prune's lock to be written", () => inner.every((p) => lockObjects(p).length === 2));
    await sleep(50);
    assert.equal(settled, false, 'the prune went ahead before the listings showed its own lock');
    time.t += 10_000; // the listings catch up: both locks listed
    await assertLocked(prune, /the array is locked: shared lock of .*@backup-host/);
    for (const p of inner) assert.deepEqual(lockObjects(p), [backup.key]);
    await backup.release();
  });

  it('a locker whose lock the listings never show gives up, leaving nothing', async () => {
    const { inner, view } = laggingArray(10_000);
    await assert.rejects(acquireLock(view(), key, opts({ exclusive: true, visibleWithinMs: 150 })), (e) => isRaicError(e, 'Locked') && /listings of only 0 of the 2 members needed/.test(e.message));
    for (const p of inner) assert.deepEqual(lockObjects(p), []);
  });

  it('two lockers racing behind lagging listings never both hold', async () => {
    for (let round = 0; round < 4; round++) {
      const { inner, time, view } = laggingArray(1000);
      const results = Promise.allSettled([
        acquireLock(view(), key, opts({ exclusive: false, host: 'backup-host', confirmInBackground: true })).then(async (l) => (await l.confirmed, l)),
        acquireLock(view(), key, opts({ exclusive: true, host: 'prune-host' })),
      ]);
      await until('both locks written', () => inner.every((p) => lockObjects(p).length === 2));
      const ticking = setInterval(() => (time.t += 100), 5); // listings catch up while they poll
      const won = (await results).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      clearInterval(ticking);
      assert.ok(won.length <= 1, `round ${round}: ${won.length} holders`);
      for (const l of won) await l.release();
    }
  });

  it('a replaced lock object stays until the new one is listed, so a lagging listing never loses the holder', async () => {
    const { inner, time, view } = laggingArray(1000);
    const ticking = setInterval(() => (time.t += 200), 5);
    const lock = await acquireLock(view(), key, opts({ exclusive: true, refreshEveryMs: 100 }));
    clearInterval(ticking); // the clock stands: nothing written from now on is listed
    const first = lock.key;
    await until('a refresh', () => lock.key !== first);
    await sleep(150);
    for (const p of inner) assert.ok(lockObjects(p).includes(first), 'the old object went before the new one was listed');
    const seen = await listLocks(view(), key);
    assert.ok(seen.length >= 1, 'a lagging listing lost the holder');
    assert.ok(!seen.some((l) => l.key === lock.key), 'the new object is listed although the clock stands');
    assert.equal(new Set(seen.map((l) => l.holder)).size, 1);
    await assertLocked(acquireLock(view(), key, opts({ exclusive: false, visibleWithinMs: 100 })), /exclusive lock of/);
    time.t += 5000;
    await until('the old object to go', () => inner.every((p) => !lockObjects(p).includes(first)));
    await lock.release();
  });

  it("confirm: ignores a tentative rival, fails on an established one, on a lost lock, and on its holder's own silence", async () => {
    const { providers, members } = memoryArray();
    const prune = await acquireLock(members, key, opts({ exclusive: true }));
    await prune.confirm();
    const tentative = await plantLock(providers, { exclusive: false, holder: 'ab'.repeat(16), tentative: true });
    await prune.confirm();
    await removeLocks(members, [tentative]);
    await plantLock(providers, { exclusive: false, holder: 'cd'.repeat(16) });
    await assert.rejects(prune.confirm(), (e) => isRaicError(e, 'Locked') && /conflicting lock is held beside ours: shared lock of root@elsewhere/.test(e.message));
    assert.equal(prune.signal.aborted, true);
    await assert.rejects(prune.confirm(), (e) => isRaicError(e, 'Locked'));
    await prune.release();
    await removeLocks(members, (await listLocks(members, key)).map((l) => l.key));

    const removed = await acquireLock(members, key, opts({ exclusive: true }));
    await removeLocks(members, [removed.key]);
    await assert.rejects(removed.confirm(), (e) => isRaicError(e, 'Locked') && /removed while held/.test(e.message));
    await removed.release();

    const clock = manualClock();
    const silent = await acquireLock(members, key, opts({ exclusive: true, sightings: new LockSightings(clock), staleAfterMs: 60_000, refreshEveryMs: 20_000 }));
    clock.advance(39_000);
    await silent.confirm();
    clock.advance(1000); // 40 s unreplaced: within one refresh interval of what others call stale
    await assert.rejects(silent.confirm(), (e) => isRaicError(e, 'Locked') && /last replaced 40s ago/.test(e.message));
    await silent.release();
    for (const p of providers) assert.deepEqual(lockObjects(p), []);
  });
});

const describeOf = (l: LockInfo): string => describeLock(l);
