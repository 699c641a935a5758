/**
 * Overlapping runs of the real binary on one array (k=2, n=3, local members):
 *
 * - two `raic backup` processes of different trees started at the same moment both commit (shared locks),
 *   and both snapshots restore bit-exact;
 * - `raic prune` started at offsets around a backup: it is either locked out (exit 11, every object left
 *   in place) or runs wholly before or after the backup — and the backup's snapshot restores bit-exact in
 *   every case. Each round the backup's data also sits in the array as garbage (a forgotten snapshot of a
 *   copy of the tree), so a prune that ran inside the backup's dedup window would delete what it needs;
 * - a SIGKILLed backup's lock blocks neither the next backup nor a prune, a SIGKILLed prune's lock does
 *   not block the next backup, and `raic unlock` removes both.
 */
import assert from 'node:assert/strict';
import { startRaic as startRaicProcess, type StartedRaic } from '../support/cli.js';
import { cp, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { repoRoot } from '../support/cli.js';
import { assertSameTree, buildTree, mixedSizes, prng, between, snapshotTree, type TreeSnapshot } from '../support/tree-fixture.js';

const SEED = 7311;
const MiB = 1024 * 1024;

const startRaic = (a: ArrayFixture, args: string[], wrapper: string[] = []): StartedRaic => startRaicProcess(args, a.env, wrapper);

/** Every object on every member (member index / key), temp files and locks aside. */
async function objects(a: ArrayFixture): Promise<Set<string>> {
  const all = new Set<string>();
  for (const [i, dir] of a.memberDirs.entries()) {
    for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
      const key = relative(dir, join(e.parentPath, e.name));
      if (e.isFile() && !key.startsWith('.raic-tmp/') && !key.startsWith('locks/')) all.add(`${i}/${key}`);
    }
  }
  return all;
}

async function lockKeys(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'locks')).catch(() => [] as string[])).sort();
}

/** Polls until member 0 holds a lock object; false if the process ended first. */
async function lockAppears(a: ArrayFixture, done: Promise<unknown>): Promise<boolean> {
  let ended = false;
  void done.finally(() => (ended = true));
  while (!ended) {
    if ((await lockKeys(a.memberDirs[0]!)).length > 0) return true;
    await sleep(2);
  }
  return false;
}

const snapshotIdOf = (stdout: string): string => (JSON.parse(stdout) as { snapshotId: string }).snapshotId;

async function restoreAndCompare(a: ArrayFixture, id: string, want: TreeSnapshot, sourceRoot: string, label: string): Promise<void> {
  const target = join(a.dir, `restore-${label}`);
  await a.ok(['restore', id, '--target', target]);
  await assertSameTree(want, join(target, sourceRoot), `snapshot ${id.slice(0, 8)} (${label})`);
  await rm(target, { recursive: true, force: true });
}

describe('concurrent raic runs on one array (k=2, n=3, local members)', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  const outcomes: string[] = [];
  before(async () => {
    a = await localArray(2, 3, { label: 'concurrency' });
  });
  after(async () => {
    console.log(`backup-concurrency: prune beside backup: ${outcomes.join('; ')}`);
    await a.cleanup();
  });

  it('two backups of different trees started together both commit, and both restore bit-exact', async () => {
    const one = await buildTree(join(a.dir, 'tree one'), { seed: SEED, sizes: mixedSizes(SEED, 80, 24 * MiB) });
    const two = await buildTree(join(a.dir, 'tree two'), { seed: SEED + 1, sizes: mixedSizes(SEED + 1, 80, 24 * MiB) });
    // Some identical content in both: the two sessions race to store the same chunks.
    await cp(join(one.root, one.files[0]!), join(two.root, 'same as in tree one'), { preserveTimestamps: true });
    const [want1, want2] = await Promise.all([snapshotTree(one.root), snapshotTree(two.root)]);

    for (let round = 1; round <= 2; round++) {
      const runs = [startRaic(a, ['backup', one.root, '--json']), startRaic(a, ['backup', two.root, '--json'])];
      const [r1, r2] = await Promise.all(runs.map((r) => r.done));
      assert.equal(r1!.code, 0, r1!.stderr);
      assert.equal(r2!.code, 0, r2!.stderr);
      const ids = [snapshotIdOf(r1!.stdout), snapshotIdOf(r2!.stdout)];
      const listed = (JSON.parse(await a.ok(['snapshots', '--json'])) as { manifestId: string }[]).map((s) => s.manifestId);
      for (const id of ids) assert.ok(listed.includes(id), `snapshot ${id} not listed`);
      await restoreAndCompare(a, ids[0]!, want1, one.root, `one-${round}`);
      await restoreAndCompare(a, ids[1]!, want2, two.root, `two-${round}`);
    }
    const check = await a.raic(['check', '--read-data']);
    assert.equal(check.code, 0, check.stdout);
  });

  it('prune beside a backup is locked out (exit 11, deletes nothing) or runs before/after; the snapshot always restores', async () => {
    const rand = prng(SEED);
    // Prune's start relative to the backup's (ms): before, together, while it walks and uploads, near its end.
    const offsets = [-900, -300, 0, 250, 600, between(rand, 100, 1500), between(rand, 100, 1500)];
    for (const [round, offset] of offsets.entries()) {
      const tree = await buildTree(join(a.dir, `race-${round}`), { seed: SEED + 10 + round, sizes: mixedSizes(SEED + round, 40, 12 * MiB) });
      // Garbage holding the tree's data: a copy backed up under another host, then forgotten.
      const copy = join(a.dir, `garbage-${round}`);
      await cp(tree.root, copy, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
      const host = `garbage-${round}`;
      await a.ok(['backup', copy, '--host', host]);
      await rm(copy, { recursive: true });
      await buildTree(copy, { seed: 1, sizes: [10] });
      await a.ok(['backup', copy, '--host', host]);
      await a.ok(['forget', '--host', host, '--keep-last', '1']);
      const want = await snapshotTree(tree.root);

      const stored = await objects(a);
      const startBackup = (): ReturnType<typeof startRaic> => startRaic(a, ['backup', tree.root, '--json']);
      const startPrune = (): ReturnType<typeof startRaic> => startRaic(a, ['prune', '--json']);
      let backupRun: ReturnType<typeof startRaic>;
      let pruneRun: ReturnType<typeof startRaic>;
      if (offset < 0) {
        pruneRun = startPrune();
        await sleep(-offset);
        backupRun = startBackup();
      } else {
        backupRun = startBackup();
        await sleep(offset);
        pruneRun = startPrune();
      }
      const [b, p] = await Promise.all([backupRun.done, pruneRun.done]);
      assert.ok(b.code === 0 || b.code === 11, `backup exited ${b.code}: ${b.stderr}`);
      assert.ok(p.code === 0 || p.code === 11, `prune exited ${p.code}: ${p.stderr}`);
      assert.ok(b.code === 0 || p.code === 0, `both were locked out:\n${b.stderr}\n${p.stderr}`);
      if (p.code === 11) {
        assert.match(p.stderr, /lock/);
        const now = await objects(a);
        assert.deepEqual([...stored].filter((k) => !now.has(k)), [], 'a prune that was locked out deleted objects');
      }
      if (b.code === 11) assert.match(b.stderr, /lock/);
      outcomes.push(`${offset} ms: backup ${b.code}, prune ${p.code}`);
      const id = b.code === 0 ? snapshotIdOf(b.stdout) : snapshotIdOf(await a.ok(['backup', tree.root, '--json']));
      await restoreAndCompare(a, id, want, tree.root, `race-${round}`);
      const check = await a.raic(['check']);
      assert.equal(check.code, 0, check.stdout);
      await rm(tree.root, { recursive: true });
    }
    // Both orders happened: the test saw a prune locked out and a prune that ran beside a backup's lifetime.
    assert.ok(outcomes.some((o) => o.endsWith('prune 11')), `no prune was locked out: ${outcomes.join('; ')}`);
    assert.ok(outcomes.some((o) => o.endsWith('prune 0')), `no prune ran: ${outcomes.join('; ')}`);
    const check = await a.raic(['check', '--read-data']);
    assert.equal(check.code, 0, check.stdout);
  });

  it("a SIGKILLed backup's or prune's lock blocks neither backup nor prune, and raic unlock removes it", async () => {
    const tree = await buildTree(join(a.dir, 'stale'), { seed: SEED + 99, sizes: mixedSizes(SEED + 99, 30, 8 * MiB) });
    const want = await snapshotTree(tree.root);
    const killHolding = async (args: string[]): Promise<string[]> => {
      const run = startRaic(a, args);
      assert.ok(await lockAppears(a, run.done), `${args[0]} ended before it took its lock`);
      run.kill();
      assert.equal((await run.done).signal, 'SIGKILL');
      const left = await lockKeys(a.memberDirs[0]!);
      assert.equal(left.length, 1, `${args[0]} left ${left.length} locks`);
      return left;
    };

    // A dead backup's shared lock: the next backup commits and a prune (exclusive) is not refused.
    const backupLock = await killHolding(['backup', tree.root]);
    const next = await a.raic(['backup', tree.root, '--json']);
    assert.equal(next.code, 0, next.stderr);
    await restoreAndCompare(a, snapshotIdOf(next.stdout), want, tree.root, 'after-stale-backup-lock');
    const prune = await a.raic(['prune']);
    assert.equal(prune.code, 0, prune.stderr);
    const unlock1 = JSON.parse(await a.ok(['unlock', '--json'])) as { removed: { key: string; kind: string; stale: boolean }[] };
    assert.deepEqual(
      unlock1.removed.map((l) => [l.key, l.kind, l.stale]),
      [[`locks/${backupLock[0]}`, 'shared', true]],
    );
    for (const dir of a.memberDirs) assert.deepEqual(await lockKeys(dir), []);

    // A dead prune's exclusive lock: the next backup is not refused.
    const pruneLock = await killHolding(['prune']);
    const after = await a.raic(['backup', tree.root, '--json']);
    assert.equal(after.code, 0, after.stderr);
    const unlock2 = JSON.parse(await a.ok(['unlock', '--json'])) as { removed: { key: string; kind: string; stale: boolean }[] };
    assert.deepEqual(
      unlock2.removed.map((l) => [l.key, l.kind, l.stale]),
      [[`locks/${pruneLock[0]}`, 'exclusive', true]],
    );
    for (const dir of a.memberDirs) assert.deepEqual(await lockKeys(dir), []);
    const check = await a.raic(['check']);
    assert.equal(check.code, 0, check.stdout);
  });
});
