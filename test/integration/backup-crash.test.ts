/**
 * Crash safety of `raic backup`: the real binary is killed with SIGKILL at 20+ moments chosen by a seeded
 * PRNG, a few files changing between runs. A moment is a random delay after an anchor, so the kills land in
 * every phase whatever the machine's speed: the process start (50 ms..3 s: startup, lock, walk, reading,
 * uploading), or the first new object on member 0 under locks/ (walking), packs/ (uploading), index/ (the
 * commit under way), manifests/ (the record pending) or snapshots/ (the record reaching the members). The
 * first runs upload the whole tree (nothing is committed yet); later ones have a parent snapshot and read
 * only what changed.
 *
 * After each kill: `raic check` passes (every 5th kill with --read-data), no temp file is left outside the
 * members' `.raic-tmp`, every few runs the latest snapshot restores bit-exact. At the end: every committed
 * snapshot restores bit-exact, and a backup that must read every file (another --host: no parent) stores
 * almost nothing — what the killed runs uploaded, including a pack no index names yet, is reused.
 */
import assert from 'node:assert/strict';
import { startRaic as startRaicProcess, type StartedRaic } from '../support/cli.js';
import { chmod, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { repoRoot } from '../support/cli.js';
import { assertSameTree, between, buildTree, mixedSizes, modifyTree, prng, seededBytes, snapshotTree, type BuiltTree, type TreeSnapshot } from '../support/tree-fixture.js';

const SEED = 20240611;
const MiB = 1024 * 1024;
const TREE_FILES = 300;
const TREE_BYTES = 80 * MiB;
/** Kills wanted; the schedule runs until this many runs were really killed (some finish first). */
const KILLS = 22;
const MAX_RUNS = 40;

type Anchor = 'start' | 'lock' | 'pack' | 'index' | 'manifest' | 'record';
/** The member-0 folder whose first new object is each anchor. */
const WATCHED = { lock: 'locks', pack: 'packs', index: 'index', manifest: 'manifests', record: 'snapshots' } as const;
/**
 * The schedule: first the initial upload of the whole tree, killed pack by pack (each run re-reads the
 * tree, finds what the killed ones stored, and uploads the next part); then blocks of these anchors, each
 * block shuffled, so every phase comes up again and again whatever the speed of the machine.
 */
const INITIAL_UPLOAD_RUNS = 4;
const BLOCK: Anchor[] = ['start', 'start', 'start', 'lock', 'lock', 'pack', 'index', 'manifest', 'record'];

function schedule(rand: () => number, runs: number): Anchor[] {
  const out: Anchor[] = Array.from({ length: INITIAL_UPLOAD_RUNS }, () => 'pack');
  while (out.length < runs) {
    const block = [...BLOCK];
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [block[i], block[j]] = [block[j]!, block[i]!];
    }
    out.push(...block);
  }
  return out;
}

/** How long after its anchor the kill comes (ms); from the start, up to `span`. */
function delayAfter(anchor: Anchor, rand: () => number, span: number): number {
  switch (anchor) {
    case 'start':
      return between(rand, 50, span);
    case 'lock':
      return between(rand, 0, 300); // taking the lock (200 ms settle), loading the index, walking
    case 'pack':
      return between(rand, 0, 40);
    case 'index':
      return between(rand, 0, 5);
    default:
      return 0;
  }
}

/**
 * Where the member listing says a run stopped: before its lock was written; holding the lock with nothing
 * stored (walking, reading); new packs only; index or manifest but no record; committed.
 */
type Phase = 'starting' | 'walking' | 'uploading' | 'committing' | 'committed';

const startRaic = (a: ArrayFixture, args: string[], wrapper: string[] = []): StartedRaic => startRaicProcess(args, a.env, wrapper);

/** Object keys under `prefix` on a local member (temp files excluded: they live in .raic-tmp). */
async function keysUnder(memberDir: string, prefix: string): Promise<Set<string>> {
  try {
    const entries = await readdir(join(memberDir, prefix), { withFileTypes: true, recursive: true });
    return new Set(entries.filter((e) => e.isFile()).map((e) => relative(memberDir, join(e.parentPath, e.name))));
  } catch {
    return new Set();
  }
}

/** Files in a member outside `.raic-tmp` whose names are not object keys: a temp file left behind by a crash. */
async function strayFiles(memberDir: string): Promise<string[]> {
  const key = /^(config|(keys|members|locks|snapshots)\/[0-9a-f]+|(packs|index|manifests)\/[0-9a-f]{2}\/[0-9a-f]+|forward\/[0-9a-f]{2}\/[0-9a-f]+(\.[0-9]+)?)$/;
  const entries = await readdir(memberDir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(memberDir, join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith('.raic-tmp/') && !key.test(p));
}

interface Listing {
  locks: Set<string>;
  packs: Set<string>;
  index: Set<string>;
  manifests: Set<string>;
  snapshots: Set<string>;
}

async function listing(memberDir: string): Promise<Listing> {
  const [locks, packs, index, manifests, snapshots] = await Promise.all(['locks', 'packs', 'index', 'manifests', 'snapshots'].map((p) => keysUnder(memberDir, p)));
  return { locks: locks!, packs: packs!, index: index!, manifests: manifests!, snapshots: snapshots! };
}

const added = (before: Set<string>, now: Set<string>): number => [...now].filter((k) => !before.has(k)).length;

function phaseOf(before: Listing, now: Listing): Phase {
  if (added(before.snapshots, now.snapshots) > 0) return 'committed';
  if (added(before.index, now.index) > 0 || added(before.manifests, now.manifests) > 0) return 'committing';
  if (added(before.packs, now.packs) > 0) return 'uploading';
  // A SIGKILLed run leaves its lock behind: if there is a new one, the run had got past taking it.
  return added(before.locks, now.locks) > 0 ? 'walking' : 'starting';
}

/** Resolves when `prefix` on the member holds a key not in `before` (polled every 2 ms), or when `stop` settles. */
async function firstNew(memberDir: string, prefix: string, before: Set<string>, stop: Promise<unknown>, accept: (key: string) => Promise<boolean> = async () => true): Promise<boolean> {
  let stopped = false;
  void stop.finally(() => (stopped = true));
  while (!stopped) {
    for (const key of await keysUnder(memberDir, prefix)) if (!before.has(key) && (await accept(key))) return true;
    await sleep(2);
  }
  return false;
}

/** Smaller packs than this are metadata packs (tree blobs); the fresh data's packs are MiBs. */
const MIN_DATA_PACK_BYTES = 1024 * 1024;

/** Snapshot ids committed so far: the catalog records (`snapshots/<id>`) on any member, as `raic snapshots` reads them. */
async function committedIds(a: ArrayFixture): Promise<string[]> {
  const ids = new Set<string>();
  for (const dir of a.memberDirs) for (const key of await keysUnder(dir, 'snapshots')) ids.add(key.slice('snapshots/'.length));
  return [...ids].sort();
}

/** Restores one snapshot into a fresh directory, compares it with what it must hold, removes it. */
async function restoreAndCompare(a: ArrayFixture, id: string, want: TreeSnapshot, sourceRoot: string, label: string): Promise<void> {
  const target = join(a.dir, `restore-${label}`);
  await a.ok(['restore', id, '--target', target]);
  await assertSameTree(want, join(target, sourceRoot), `snapshot ${id.slice(0, 8)} (${label})`);
  await rm(target, { recursive: true, force: true });
}

describe('raic backup killed with SIGKILL at random moments (k=2, n=3, local members)', { timeout: 600_000 }, () => {
  let a: ArrayFixture;
  let tree: BuiltTree;
  const rand = prng(SEED);
  /** What each committed snapshot must restore to: the source as it was during its run. */
  const expected = new Map<string, TreeSnapshot>();
  const phases: Record<Phase, number> = { starting: 0, walking: 0, uploading: 0, committing: 0, committed: 0 };
  const log: string[] = [];
  const timings: Record<string, number> = {};

  before(async () => {
    a = await localArray(2, 3, { label: 'crash' });
    tree = await buildTree(join(a.dir, 'src'), { seed: SEED, sizes: mixedSizes(SEED, TREE_FILES, TREE_BYTES) });
  });
  after(async () => {
    console.log(`backup-crash: phases at kill ${JSON.stringify(phases)}; ${JSON.stringify(timings)}\n  ${log.join('\n  ')}`);
    await a.cleanup();
  });

  it('leaves a passing check after every kill, every committed snapshot restorable, and the upload reused', async () => {
    const started = performance.now();
    const member0 = a.memberDirs[0]!;
    let kills = 0;
    let runs = 0;
    let known: string[] = [];
    let latest: string | undefined;
    let lastFinishedMs = 3000;
    const anchors = schedule(rand, MAX_RUNS);
    while (kills < KILLS && runs < MAX_RUNS) {
      runs += 1;
      if (runs > 1) await modifyTree(tree, SEED + runs, 3);
      const source = await snapshotTree(tree.root);
      const anchor = anchors[runs - 1]!;
      // From the start: 50 ms..3 s, or up to a little past the last run that was not killed, so that most
      // runs are really killed however fast they have become.
      const delay = delayAfter(anchor, rand, Math.min(3000, Math.max(400, Math.round(1.2 * lastFinishedMs))));
      const before = await listing(member0);

      const t0 = performance.now();
      const run = startRaic(a, ['backup', tree.root, '--json']);
      const watched = anchor === 'start' ? null : WATCHED[anchor];
      if (watched === null || (await firstNew(member0, watched, before[watched], run.done))) await sleep(delay);
      run.kill();
      const result = await run.done;
      const ms = Math.round(performance.now() - t0);
      // A run may finish between the moment and the signal: then it is an ordinary run, and must succeed.
      const killed = result.signal === 'SIGKILL';
      const phase = phaseOf(before, await listing(member0));
      if (killed) {
        kills += 1;
        phases[phase] += 1;
      } else {
        assert.equal(result.code, 0, `run ${runs} (not killed) failed: ${result.stderr}`);
        lastFinishedMs = ms;
      }
      log.push(`run ${runs}: ${anchor} + ${delay} ms → ${killed ? `killed after ${ms} ms, ${phase}` : `finished in ${ms} ms`}`);

      // A snapshot committed by this run holds the source as it was during the run.
      const now = await committedIds(a);
      const fresh = now.filter((id) => !known.includes(id));
      assert.ok(fresh.length <= 1, `run ${runs} committed ${fresh.length} snapshots`);
      if (!killed) assert.deepEqual(fresh, [(JSON.parse(result.stdout) as { snapshotId: string }).snapshotId]);
      for (const id of fresh) expected.set(id, source);
      latest = fresh[0] ?? latest;
      assert.deepEqual(now.filter((id) => known.includes(id)), known, 'a committed snapshot disappeared');
      known = now;

      const readData = killed && kills % 5 === 0;
      const check = await a.raic(readData ? ['check', '--read-data'] : ['check']);
      assert.equal(check.code, 0, `check${readData ? ' --read-data' : ''} after ${log.at(-1)}:\n${check.stdout}${check.stderr}`);
      for (const dir of a.memberDirs) assert.deepEqual(await strayFiles(dir), [], `temp files left in ${dir}`);
      if (runs % 4 === 0 && latest !== undefined) await restoreAndCompare(a, latest, expected.get(latest)!, tree.root, `run-${runs}`);
    }
    timings.killLoopSeconds = Math.round((performance.now() - started) / 1000);
    timings.runs = runs;
    timings.kills = kills;
    assert.ok(kills >= 20, `only ${kills} of ${runs} runs were killed before they finished`);
    // The anchors exist so that each phase is hit whatever the speed of the machine; see that it was.
    assert.ok(phases.uploading >= 2, `too few kills while uploading: ${JSON.stringify(phases)}`);
    assert.ok(phases.committing + phases.committed >= 2, `too few kills while committing: ${JSON.stringify(phases)}`);
    assert.ok(phases.walking >= 1, `no kill while walking: ${JSON.stringify(phases)}`);

    // The killed runs' locks are stale (their processes are gone): they blocked nothing, and unlock removes them.
    const left = new Set<string>();
    for (const dir of a.memberDirs) for (const key of await keysUnder(dir, 'locks')) left.add(key);
    // (A run killed after its record may already have released its lock.)
    const holding = kills - phases.starting - phases.committed;
    assert.ok(left.size >= holding, `${holding} runs were killed holding a lock, ${left.size} locks left`);
    const unlock = JSON.parse(await a.ok(['unlock', '--json'])) as { removed: { key: string; stale: boolean }[]; kept: unknown[] };
    assert.deepEqual(unlock.removed.map((l) => l.key).sort(), [...left].sort());
    assert.deepEqual(unlock.kept, []);
    for (const dir of a.memberDirs) assert.equal((await keysUnder(dir, 'locks')).size, 0);

    // Fresh data in the three largest files, and a run killed once a pack of it is on every member (before
    // any index names it): that pack is the killed run's work the next backup must adopt, not redo.
    const sizes = await Promise.all(tree.files.map(async (f) => ({ f, size: (await stat(join(tree.root, f))).size })));
    const largest = sizes.sort((x, y) => y.size - x.size).slice(0, 3);
    const freshBytes = largest.reduce((sum, x) => sum + x.size, 0);
    for (const { f, size } of largest) {
      await chmod(join(tree.root, f), 0o644);
      await writeFile(join(tree.root, f), seededBytes(SEED, `${f} fresh`, size));
    }
    const beforeLast = await listing(member0);
    const last = startRaic(a, ['backup', tree.root]);
    // A data pack (file content; metadata packs of tree blobs are a few KiB and may land first, at the end).
    const isDataPack = async (key: string): Promise<boolean> => (await stat(join(member0, key)).then((s) => s.size, () => 0)) >= MIN_DATA_PACK_BYTES;
    assert.ok(await firstNew(member0, 'packs', beforeLast.packs, last.done, isDataPack), 'the run stored no pack of the fresh data');
    // Frozen at once, then let on a millisecond at a time until data packs holding most of the fresh data are
    // on every member (how many packs that takes follows the pack size): a fast run could otherwise commit
    // between the packs landing everywhere and the kill.
    process.kill(last.pid, 'SIGSTOP');
    const landedBodyBytes = async (): Promise<number> => {
      const everywhere = await Promise.all(a.memberDirs.map((d) => keysUnder(d, 'packs')));
      let bytes = 0;
      for (const k of everywhere[0]!) {
        if (beforeLast.packs.has(k) || !everywhere.every((keys) => keys.has(k)) || !(await isDataPack(k))) continue;
        bytes += (await stat(join(member0, k))).size * 2; // member object ≈ body / k (k = 2)
      }
      return bytes;
    };
    while ((await landedBodyBytes()) < 0.6 * freshBytes) {
      process.kill(last.pid, 'SIGCONT');
      await sleep(1);
      process.kill(last.pid, 'SIGSTOP');
    }
    last.kill();
    assert.equal((await last.done).signal, 'SIGKILL', 'the run with fresh data finished before it could be killed');
    assert.equal(phaseOf(beforeLast, await listing(member0)), 'uploading');

    // A backup with no parent snapshot (another host name) reads every file; what the killed runs stored
    // is found (adopted from unindexed packs, or indexed) and not sent again.
    const t1 = performance.now();
    const source = await snapshotTree(tree.root);
    const finalOut = await a.raic(['backup', tree.root, '--host', 'after-the-crashes', '--json']);
    assert.equal(finalOut.code, 0, finalOut.stderr);
    const final = JSON.parse(finalOut.stdout) as { snapshotId: string; bytes: number; bytesRead: number; newBytes: number; storedBytes: number; errors: unknown[] };
    timings.finalBackupSeconds = Math.round((performance.now() - t1) / 100) / 10;
    timings.freshBytes = freshBytes;
    timings.finalNewBytes = final.newBytes;
    timings.finalStoredBytes = final.storedBytes;
    expected.set(final.snapshotId, source);
    assert.deepEqual(final.errors, []);
    assert.equal(final.bytesRead, final.bytes, 'the final backup should have read every file');
    assert.ok(final.bytes > 0.9 * TREE_BYTES, `final backup saw only ${final.bytes} bytes`);
    assert.ok(final.newBytes < freshBytes, `final backup stored ${final.newBytes} new bytes: more than the ${freshBytes} fresh ones`);
    assert.ok(final.storedBytes < final.bytes / 5, `final backup uploaded ${final.storedBytes} bytes for ${final.bytes}`);
    // Without adoption the fresh data would all be new again; only what the killed run had not packed yet is.
    assert.ok(final.newBytes < freshBytes / 2, `final backup stored ${final.newBytes} new bytes of ${freshBytes} fresh ones: the killed run's pack was not reused`);

    // Every committed snapshot, as the user lists them, restores bit-exact; the data is intact everywhere.
    const t2 = performance.now();
    const listed = (JSON.parse(await a.ok(['snapshots', '--json'])) as { manifestId: string }[]).map((s) => s.manifestId).sort();
    assert.deepEqual(listed, await committedIds(a));
    assert.ok(listed.length >= 3, `only ${listed.length} snapshots committed`);
    for (let i = 0; i < listed.length; i += 2) {
      await Promise.all(listed.slice(i, i + 2).map((id) => restoreAndCompare(a, id, expected.get(id)!, tree.root, `final-${id.slice(0, 8)}`)));
    }
    const check = await a.raic(['check', '--read-data']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    timings.snapshots = listed.length;
    timings.restoreAllSeconds = Math.round((performance.now() - t2) / 1000);
    timings.totalSeconds = Math.round((performance.now() - started) / 1000);
  });
});

/**
 * The writes of one object to the n members are not atomic together: a kill can fall after member 0 stored
 * it and before the others did. Random kills reach these states rarely; here each is made exactly — kill
 * as the object appears on member 0, then remove it from the other members — and the array must behave as
 * after any crash: check passes, the next backup commits, and its snapshot restores.
 */
describe('a kill between the members\' writes of one object (k=2, n=3)', { timeout: 120_000 }, () => {
  const made: ArrayFixture[] = [];
  after(async () => Promise.all(made.map((a) => a.cleanup())));

  const killBetweenWrites = async (prefix: 'packs' | 'index' | 'manifests' | 'snapshots'): Promise<{ a: ArrayFixture; tree: BuiltTree; source: TreeSnapshot }> => {
    const a = await localArray(2, 3, { label: `crash-${prefix}` });
    made.push(a);
    const tree = await buildTree(join(a.dir, 'src'), { seed: SEED + 1, sizes: mixedSizes(SEED + 1, 40, 12 * MiB) });
    const [m0, ...others] = a.memberDirs;
    const before = await listing(m0!);
    const source = await snapshotTree(tree.root);
    if (prefix === 'manifests') {
      // The manifest and the catalog record are written one right after the other: a kill timed by watching
      // the member's directory lost that race on a loaded machine. The state is made exactly instead: a whole
      // backup, then its record removed everywhere — a manifest whose record never landed.
      await a.ok(['backup', tree.root]);
      for (const dir of a.memberDirs) for (const key of await keysUnder(dir, 'snapshots')) await rm(join(dir, key), { force: true });
    } else {
      const run = startRaic(a, ['backup', tree.root]);
      assert.ok(await firstNew(m0!, prefix, before[prefix], run.done), `the backup finished before it stored anything under ${prefix}/`);
      run.kill();
      assert.equal((await run.done).signal, 'SIGKILL');
    }
    if (prefix !== 'snapshots') assert.deepEqual(await committedIds(a), [], 'killed too late: the snapshot was committed');
    const partial = [...(await listing(m0!))[prefix]].filter((k) => !before[prefix].has(k));
    for (const dir of others) for (const key of partial) await rm(join(dir!, key), { force: true });
    return { a, tree, source };
  };

  const afterwards = async (a: ArrayFixture, tree: BuiltTree, what: string): Promise<void> => {
    const check = await a.raic(['check']);
    assert.equal(check.code, 0, `check fails after a kill that left ${what}:\n${check.stdout}`);
    const source = await snapshotTree(tree.root);
    const out = await a.raic(['backup', tree.root, '--json']);
    assert.equal(out.code, 0, out.stderr);
    const again = await a.raic(['check']);
    assert.equal(again.code, 0, `check fails after the next backup (${what}):\n${again.stdout}`);
    await restoreAndCompare(a, (JSON.parse(out.stdout) as { snapshotId: string }).snapshotId, source, tree.root, 'after');
  };

  it('a pack on member 0 only is not adopted by the next backup', async () => {
    const { a, tree } = await killBetweenWrites('packs');
    await afterwards(a, tree, 'a pack on one member');
  });

  it('an index segment on member 0 only', async () => {
    const { a, tree } = await killBetweenWrites('index');
    await afterwards(a, tree, 'an index segment on one member');
  });

  it('a snapshot manifest on member 0 only (no catalog record)', async () => {
    const { a, tree } = await killBetweenWrites('manifests');
    await afterwards(a, tree, 'a manifest on one member');
  });

  it('a catalog record on member 0 only: the snapshot is committed and restores', async () => {
    const { a, tree, source } = await killBetweenWrites('snapshots');
    const [id] = await committedIds(a);
    assert.ok(id !== undefined);
    await restoreAndCompare(a, id, source, tree.root, 'record-on-one');
    await afterwards(a, tree, 'a catalog record on one member');
  });
});
