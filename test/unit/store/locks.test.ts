import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { seal } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';
import { acquireLock, listLocks, removeLocks, type Lock, type LockOptions } from '../../../src/store/locks.js';
import { Members } from '../../../src/store/members.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
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
    const shared = await acquireLock(members, key, opts({ exclusive: false, host: 'nas-7', pid: 4242 }));
    await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /shared lock of .*@nas-7/, /pid 4242/, /backup/, /taken \d+s ago/, /raic unlock/);
    for (const p of providers) assert.deepEqual(lockObjects(p), [shared.key]);
    await shared.release();
    const excl = await acquireLock(members, key, opts({ exclusive: true }));
    await excl.release();
  });

  it('an exclusive lock blocks other exclusive and shared locks', async () => {
    const { members } = memoryArray();
    const excl = await acquireLock(members, key, opts({ exclusive: true, host: 'pruner', pid: 777 }));
    await assertLocked(acquireLock(members, key, opts({ exclusive: true })), /exclusive lock of .*@pruner/, /pid 777/, /prune/);
    await assertLocked(acquireLock(members, key, opts({ exclusive: false })), /exclusive lock of .*@pruner/, /pid 777/, /raic unlock/);
    await excl.release();
    const shared = await acquireLock(members, key, opts({ exclusive: false }));
    await shared.release();
  });

  it('a lock whose process is gone on this host is stale and does not block', async () => {
    const { providers, members } = memoryArray();
    const pid = await deadPid();
    const orphan = await acquireLock(members, key, opts({ exclusive: false, pid }));
    const [info] = await listLocks(members, key);
    assert.equal(info?.host, hostname());
    assert.equal(info?.stale, true);
    assert.match(info?.staleReason ?? '', new RegExp(`process ${pid} is no longer running`));
    // The same lock from another host name is not judged by pid: it stays live.
    assert.equal((await listLocks(members, key, { host: 'someone-else' }))[0]?.stale, false);

    const excl = await acquireLock(members, key, opts({ exclusive: true }));
    assert.deepEqual(
      excl.staleLocks.map((l) => l.key),
      [orphan.key],
    );
    await excl.release();
    for (const p of providers) assert.deepEqual(lockObjects(p), [orphan.key]);
    await orphan.release();
  });

  it('a lock not refreshed within the limit is stale and does not block; a fresh one does', async () => {
    const { members } = memoryArray();
    const old = await acquireLock(members, key, opts({ exclusive: false, host: 'far-away' }));
    assert.equal((await listLocks(members, key))[0]?.stale, false);
    await assertLocked(acquireLock(members, key, opts({ exclusive: true, staleAfterMs: 60_000, refreshEveryMs: 1000 })), /far-away/);
    await sleep(120);
    const [info] = await listLocks(members, key, { staleAfterMs: 50 });
    assert.equal(info?.stale, true);
    assert.match(info?.staleReason ?? '', /not refreshed for/);
    const excl = await acquireLock(members, key, opts({ exclusive: true, staleAfterMs: 50, refreshEveryMs: 40 }));
    assert.equal(excl.staleLocks.length, 1);
    await excl.release();
    await old.release();
  });

  it('refresh writes a new lock object and deletes the old one', async () => {
    const { providers, members } = memoryArray();
    const lock = await acquireLock(members, key, opts({ exclusive: true, refreshEveryMs: 30, staleAfterMs: 10_000 }));
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
    const lock = await acquireLock(members, key, opts({ exclusive: true, refreshEveryMs: 20, staleAfterMs: 10_000 }));
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
