/**
 * Lock exclusion where the issue said it broke (k=2, n=3, in-process, members whose listings lag 1 s):
 * two backups whose lock holders share a host name and a pid — two containers named "box", each with its
 * own pid namespace, one of them with its clock 40 minutes behind — beside a prune run as a third "box"
 * with the same pid. Every round leaves garbage holding the backups' data (a copy backed up, its record
 * then forgotten), so a prune that ran inside a backup's session would delete what the backup dedups
 * against, and the snapshot would not restore.
 *
 * - The prune starts once the backups hold their locks, while the listings do not show their current lock
 *   objects yet: it must be refused. The backups wait at their commit point until the prune has ended,
 *   then confirm their lock and commit.
 * - Backups and prune start together (every lock written before any is listed): whatever wins, never a
 *   backup and the prune at once; a backup that had to yield runs again afterwards.
 * Each time every committed snapshot restores bit-exact, and at the end check (reading all data) is clean.
 * Verdicts do not depend on timing: every order the race may take is allowed, only the outcome is checked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backup, type BackupResult } from '../../src/core/backup.js';
import { readCatalog, removeCatalogRecord } from '../../src/core/catalog.js';
import { checkArray } from '../../src/core/check.js';
import { loadManifest } from '../../src/core/get.js';
import { prune, type PruneResult } from '../../src/core/prune.js';
import { restoreTree } from '../../src/core/restore.js';
import { isRaicError } from '../../src/errors.js';
import {
  LockSightings,
  Members,
  RaicArray,
  acquireLock,
  lockQuorum,
  newMasterKey,
  parseCapability,
  repoKeys,
  thisPidScope,
  type Lock,
  type LockOptions,
  type RepoKeys,
} from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';
import { LaggingProvider } from '../support/lagging-provider.js';
import { MemoryProvider } from '../support/memory-provider.js';
import { assertSameTree, buildTree, mixedSizes, snapshotTree, type TreeSnapshot } from '../support/tree-fixture.js';
import { writeMemberConfigs } from '../support/member-configs.js';

const LAG_MS = 1000;
const K = 2;
const N = 3;
const SEED = 5150;
const MiB = 1024 * 1024;
/** A pid no process here has: the old rule ("same host name, pid gone") called such holders dead. */
const PID = 2 ** 22 + 12345;
/** This kernel boot, another pid namespace: how a container on this machine would name its pid scope. */
const scope = (container: string): string => (thisPidScope() ?? 'boot test pid:[0]').replace(/pid:\[\d+\]$/, `pid:[${container}]`);

/** Who takes a lock: a "machine" with its own identity and clock, over the same lagging members. */
interface Machine {
  name: string;
  array: RaicArray;
  lock: Pick<LockOptions, 'host' | 'pid' | 'pidScope' | 'wallClock' | 'sightings'>;
}

describe('locks on members whose listings lag: two "box" backups beside a "box" prune', { timeout: 120_000 }, () => {
  let dir: string;
  let lagging: LaggingProvider[];
  let keys: RepoKeys;
  const machines: Machine[] = [];
  /** Every snapshot committed, with the tree it must restore to. */
  const committed: { id: string; capability: string; want: TreeSnapshot; root: string }[] = [];
  const outcomes: string[] = [];
  /** When each run held its established lock (performance.now()): a backup from its confirmation, a prune
   * from its acquisition, each to its release. */
  const held: { who: string; exclusive: boolean; from: number; to: number }[] = [];
  let seed = SEED;

  before(async () => {
    dir = await tempDir('locks-lagging');
    lagging = Array.from({ length: N }, (_, i) => new LaggingProvider(new MemoryProvider({ name: `lagging-${i}` }), LAG_MS));
    const arrayId = randomBytes(16).toString('hex');
    await writeMemberConfigs(lagging, arrayId, K);
    keys = repoKeys(newMasterKey());
    const machine = (name: string, lock: Machine['lock']): Machine => ({
      name,
      // Its own view of the members (and its own pools); the members, and their lag, are shared.
      array: RaicArray.fromMembers({ arrayId, k: K, n: N }, Members.fromProviders(lagging), { workers: 1 }),
      lock: { host: 'box', pid: PID, sightings: new LockSightings(), ...lock },
    });
    machines.push(
      machine('backup-a', { pidScope: scope('container-a') }),
      machine('backup-b', { pidScope: scope('container-b'), wallClock: () => Date.now() - 40 * 60_000 }),
      machine('prune', { pidScope: scope('container-c') }),
    );
  });

  after(async () => {
    console.log(`locks-lagging: ${outcomes.join('; ')}`);
    for (const m of machines) await m.array.close();
    await rm(dir, { recursive: true, force: true });
  });

  const backupA = (): Machine => machines[0]!;
  const backupB = (): Machine => machines[1]!;
  const pruner = (): Machine => machines[2]!;

  const lockOptions = (m: Machine, exclusive: boolean): LockOptions => ({
    exclusive,
    command: exclusive ? 'prune' : 'backup',
    need: lockQuorum(K, N),
    confirmInBackground: !exclusive, // as the commands do
    ...m.lock,
  });

  /** A backup as `raic backup` runs it; `beforeCommit` is awaited first at the commit point. */
  async function runBackup(m: Machine, root: string, hooks: { locked?: (lock: Lock) => void; beforeCommit?: Promise<unknown> } = {}): Promise<BackupResult> {
    const lock = await acquireLock(m.array.members, keys.locks, lockOptions(m, false));
    hooks.locked?.(lock);
    let from: number | undefined;
    lock.confirmed.then(
      () => (from = performance.now()),
      () => undefined,
    );
    try {
      const result = await backup(m.array, keys, await readCatalog(m.array, keys), {
        paths: [root],
        host: m.name,
        signal: lock.signal,
        commitGate: lock.confirmed,
        confirmCommit: async () => {
          await hooks.beforeCommit;
          await lock.confirm();
        },
      });
      await lock.release();
      held.push({ who: m.name, exclusive: false, from: from!, to: performance.now() });
      return result;
    } finally {
      await lock.release();
    }
  }

  /** A prune as `raic prune` runs it. */
  async function runPrune(m: Machine): Promise<PruneResult> {
    const lock = await acquireLock(m.array.members, keys.locks, lockOptions(m, true));
    const from = performance.now();
    try {
      return await prune(m.array, keys, { dryRun: false, signal: lock.signal, confirmLock: () => lock.confirm() });
    } finally {
      await lock.release();
      held.push({ who: m.name, exclusive: true, from, to: performance.now() });
    }
  }

  /** No prune's hold overlapped another run's. */
  function assertExclusion(): void {
    for (const p of held.filter((h) => h.exclusive)) {
      for (const o of held.filter((h) => h !== p)) {
        assert.ok(o.to < p.from || p.to < o.from, `${p.who} held its lock while ${o.who} did: ${JSON.stringify(held)}`);
      }
    }
  }

  /** Backs up a copy of `root` and forgets it: the copy's data stays in the array as garbage. */
  async function garbageOf(root: string): Promise<void> {
    const copy = `${root}-garbage`;
    await cp(root, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    const garbage = await backup(pruner().array, keys, [], { paths: [copy], host: 'garbage' });
    await removeCatalogRecord(pruner().array, keys, garbage.snapshotId);
    await rm(copy, { recursive: true });
  }

  /** Two fresh trees, and garbage holding their data: a copy backed up, then its record forgotten. */
  async function trees(round: string): Promise<{ root: string; want: TreeSnapshot; bytes: number }[]> {
    const out: { root: string; want: TreeSnapshot; bytes: number }[] = [];
    for (const label of ['a', 'b']) {
      const root = join(dir, `${round}-${label}`);
      seed += 1;
      const built = await buildTree(root, { seed, sizes: mixedSizes(seed, 30, 3 * MiB) });
      await garbageOf(root);
      out.push({ root, want: await snapshotTree(root), bytes: built.totalBytes });
    }
    // Let the listings show the garbage packs, so the backups dedup against them (what a wrong prune deletes).
    await new Promise((resolve) => setTimeout(resolve, LAG_MS + 100));
    return out;
  }

  async function restoresBitExact(): Promise<void> {
    const m = backupA();
    for (const s of committed) {
      const target = join(dir, `restore-${s.id.slice(0, 12)}`);
      await mkdir(target);
      await restoreTree(m.array, await loadManifest(m.array, parseCapability(s.capability)), { target });
      await assertSameTree(s.want, join(target, s.root), `snapshot ${s.id.slice(0, 8)}`);
      await rm(target, { recursive: true });
    }
  }

  const isLocked = (r: PromiseSettledResult<unknown>): boolean => r.status === 'rejected' && isRaicError(r.reason, 'Locked');

  it('a prune arriving while the backups hold locks the listings do not show yet is refused; both backups commit', async () => {
    const [a, b] = await trees('held');
    const locks: Lock[] = [];
    let pruneEnded!: () => void;
    const pruneDone = new Promise<void>((resolve) => (pruneEnded = resolve));
    const backups = Promise.allSettled([
      runBackup(backupA(), a!.root, { locked: (l) => locks.push(l), beforeCommit: pruneDone }),
      runBackup(backupB(), b!.root, { locked: (l) => locks.push(l), beforeCommit: pruneDone }),
    ]);
    while (locks.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    // Both backups are past their lock's confirmation: their current lock objects are younger than the lag.
    await Promise.all(locks.map((l) => l.confirmed));
    const pruned = await Promise.allSettled([runPrune(pruner())]);
    pruneEnded();
    assert.ok(isLocked(pruned[0]!), `the prune was not refused: ${pruned[0]!.status === 'rejected' ? String(pruned[0]!.reason) : 'it ran'}`);
    assert.match(String((pruned[0] as PromiseRejectedResult).reason), /shared lock of .*@box, pid 4206649/);
    const [ra, rb] = await backups;
    assert.equal(ra!.status, 'fulfilled', ra!.status === 'rejected' ? String(ra!.reason) : '');
    assert.equal(rb!.status, 'fulfilled', rb!.status === 'rejected' ? String(rb!.reason) : '');
    for (const [r, t] of [[ra, a], [rb, b]] as const) {
      const res = (r as PromiseFulfilledResult<BackupResult>).value;
      assert.ok(res.newBytes < t!.bytes / 4, `the backup stored ${res.newBytes} of ${t!.bytes} bytes anew: it did not dedup against the garbage`);
      committed.push({ id: res.snapshotId, capability: res.capability, want: t!.want, root: t!.root });
    }
    outcomes.push('held: prune refused, both backups committed');
    assertExclusion();
    await restoresBitExact();
  });

  it('backups and a prune started together never run at once; every committed snapshot restores', async () => {
    for (let round = 1; round <= 2; round++) {
      const [a, b] = await trees(`together-${round}`);
      const results = await Promise.allSettled([runBackup(backupA(), a!.root), runBackup(backupB(), b!.root), runPrune(pruner())]);
      for (const r of results) assert.ok(r.status === 'fulfilled' || isLocked(r), `failed other than Locked: ${r.status === 'rejected' ? String(r.reason) : ''}`);
      const [ra, rb, rp] = results;
      const ran = (r: PromiseSettledResult<unknown>): boolean => r.status === 'fulfilled';
      assertExclusion();
      outcomes.push(`together-${round}: backup-a ${ran(ra!) ? 'committed' : 'locked out'}, backup-b ${ran(rb!) ? 'committed' : 'locked out'}, prune ${ran(rp!) ? 'ran' : 'locked out'}`);
      for (const [r, t, m] of [[ra, a, backupA()], [rb, b, backupB()]] as const) {
        // A backup that yielded runs again, alone.
        const res = r!.status === 'fulfilled' ? (r as PromiseFulfilledResult<BackupResult>).value : await runBackup(m, t!.root);
        committed.push({ id: res.snapshotId, capability: res.capability, want: t!.want, root: t!.root });
      }
      await restoresBitExact();
    }
  });

  it('a last prune removes the garbage; every snapshot still restores, check reading all data is clean, no lock is left', async () => {
    seed += 1;
    const last = join(dir, 'last');
    await buildTree(last, { seed, sizes: mixedSizes(seed, 10, MiB) });
    await garbageOf(last);
    await new Promise((resolve) => setTimeout(resolve, LAG_MS + 100)); // listings show every pack: prune judges them all
    const result = await runPrune(pruner());
    assert.ok(result.packsDeleted > 0, 'the last prune found no garbage');
    await restoresBitExact();
    // Every member's listing lags here, alike: they agree on segments deleted a moment ago, and check believes
    // listings that agree (it asks the members only where they disagree). Let them catch up with the prune.
    await new Promise((resolve) => setTimeout(resolve, LAG_MS + 100));
    const records = await readCatalog(backupA().array, keys);
    assert.deepEqual(records.map((r) => r.manifestId).sort(), committed.map((s) => s.id).sort());
    const report = await checkArray(backupA().array, keys, true);
    assert.equal(report.ok, true, JSON.stringify(report.members.filter((m) => m.damaged.length > 0)));
    for (const p of lagging) {
      const left: string[] = [];
      for await (const o of p.inner.list('locks/')) left.push(o.key);
      assert.deepEqual(left, []);
    }
  });
});
