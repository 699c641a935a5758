/**
 * Real-data profiles of `npm run bench`, each run by raic (k=4, n=6, six local file:// members) and by restic
 * (local repository, default compression) in the same run: first backup, unchanged re-backup, restore (checked
 * identical to the source: paths, file contents by SHA-256, symlink targets), bytes stored, peak RSS of each step.
 *
 *   usr-share     the machine's /usr/share (RAIC_BENCH_USR_SHARE to point elsewhere), read in place
 *   node-modules  a copy of this repository's node_modules (RAIC_BENCH_NODE_MODULES to copy another dir),
 *                 frozen in the scratch dir so both tools read the same tree
 *   tiny          RAIC_BENCH_TINY_FILES (default 100,000) files of ~125 random bytes over ~1 directory per
 *                 100 files; then a one-file backup of one new small file (another path) into the same
 *                 array / repository, which has to load the whole index
 *
 * RAIC_BENCH_REAL=usr-share,node-modules,tiny picks profiles (default all; "none" skips them). Everything is
 * written under a scratch dir in RAIC_BENCH_DIR (default /tmp), removed at the end of each profile.
 *
 * RAIC_BENCH_ROUNDS=N (default 1) runs each profile's steps N times, each round on a fresh array and repository,
 * the tools taking turns to go first; a step's time is then the median of its rounds, shown with their range,
 * and its peak RSS the highest. On a machine whose speed drifts by ±20% within minutes, one sample per step
 * decides nothing closer than that.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes, randomInt } from 'node:crypto';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { combineSteps, initRaicArray, measure, medianOf, resticInstalled, spanText, storedBytes, type Measured } from './measure.js';
import { compareTree, describeDiff, recordTree, type TreeDiff, type TreeRecord } from './tree-compare.js';

export interface RealTreesOptions {
  /** from selectRealProfiles() */
  profiles: RealProfile[];
  /** bin/run.js of this checkout */
  raicBin: string;
  /** where scratch dirs are made (RAIC_BENCH_DIR) */
  base: string;
  /** default source of the node-modules profile */
  nodeModules: string;
  /** from selectRounds() */
  rounds: number;
}

const PROFILES = ['usr-share', 'node-modules', 'tiny'] as const;
export type RealProfile = (typeof PROFILES)[number];
type ProfileName = RealProfile;

const STEPS = ['first backup', 'unchanged backup', 'restore', 'one-file backup'] as const;
type Step = (typeof STEPS)[number];

interface Prepared {
  /** absolute path of the tree both tools back up */
  source: string;
  /** where it came from, for the heading */
  origin: string;
  /** tiny: a new small file outside the tree, backed up on its own after the tree */
  extraFile?: { path: string; bytes: number };
}

interface ToolRun {
  steps: Map<Step, Measured>;
  stored: number;
  verify: TreeDiff;
  notes: string[];
  /** Over several rounds: each step's fastest and slowest time (steps holds the median). */
  range?: Map<Step, [number, number]>;
}

/** One ToolRun from a tool's rounds: the median time of each step, its range, the highest peak RSS; stored bytes
 * and notes of the first round; the first restore check that differed, if any. */
function combineRounds(runs: ToolRun[]): ToolRun {
  if (runs.length === 1) return runs[0]!;
  const { steps, range } = combineSteps(
    STEPS,
    runs.map((r) => r.steps),
    (measured) => ({ ...measured[0]!, seconds: medianOf(measured.map((m) => m.seconds)), peakRssMB: Math.max(...measured.map((m) => m.peakRssMB)) }),
  );
  const verify = runs.find((r) => !r.verify.identical)?.verify ?? runs[0]!.verify;
  return { steps, stored: runs[0]!.stored, verify, notes: runs.flatMap((r) => r.notes), range };
}

/** RAIC_BENCH_ROUNDS (its value passed in), checked before anything runs. */
export function selectRounds(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 1;
  const rounds = Number(value);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error(`RAIC_BENCH_ROUNDS=${value}: want a whole number from 1 to 9`);
  return rounds;
}

/** The profiles named by RAIC_BENCH_REAL (its value passed in), checked before anything runs. */
export function selectRealProfiles(value: string | undefined): RealProfile[] {
  if (value === undefined || value.trim() === '') return [...PROFILES];
  if (value.trim() === 'none') return [];
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) {
    if (!(PROFILES as readonly string[]).includes(name)) throw new Error(`RAIC_BENCH_REAL: unknown profile "${name}" (known: ${PROFILES.join(', ')}, or none)`);
  }
  return PROFILES.filter((p) => names.includes(p));
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Runs op over 0..count-1, at most `limit` at a time. */
async function forEachIndex(count: number, limit: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** `files` files of 94–156 random bytes (mean 125), 100 to a directory, directories 32 to a parent. */
async function buildTinyTree(dir: string, files: number): Promise<void> {
  const dirs = Math.max(1, Math.round(files / 100));
  const dirOf = (d: number): string => join(dir, `d${String(Math.floor(d / 32)).padStart(2, '0')}`, `s${String(d % 32).padStart(2, '0')}`);
  for (let d = 0; d < dirs; d++) await mkdir(dirOf(d), { recursive: true });
  await forEachIndex(files, 32, (i) => writeFile(join(dirOf(i % dirs), `f${i}.bin`), randomBytes(94 + randomInt(63))));
}

async function prepare(name: ProfileName, scratch: string, opts: RealTreesOptions): Promise<Prepared | undefined> {
  switch (name) {
    case 'usr-share': {
      const source = resolve(process.env.RAIC_BENCH_USR_SHARE ?? '/usr/share');
      if (!(await isDirectory(source))) {
        console.log(`usr-share: ${source} is not a directory here: profile skipped`);
        return undefined;
      }
      return { source, origin: source };
    }
    case 'node-modules': {
      const from = resolve(process.env.RAIC_BENCH_NODE_MODULES ?? opts.nodeModules);
      if (!(await isDirectory(from))) {
        console.log(`node-modules: ${from} is not a directory here: profile skipped`);
        return undefined;
      }
      const source = join(scratch, 'node_modules');
      process.stderr.write(`node-modules: copying ${from}…\n`);
      await cp(from, source, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      return { source, origin: `a copy of ${from}` };
    }
    case 'tiny': {
      const files = Number(process.env.RAIC_BENCH_TINY_FILES ?? 100_000);
      if (!Number.isInteger(files) || files < 1) throw new Error(`RAIC_BENCH_TINY_FILES=${process.env.RAIC_BENCH_TINY_FILES}: want a positive integer`);
      const source = join(scratch, 'tiny');
      process.stderr.write(`tiny: writing ${files} tiny files…\n`);
      await buildTinyTree(source, files);
      const extraDir = join(scratch, 'one-more');
      await mkdir(extraDir);
      const extra = { path: join(extraDir, 'new-file.bin'), bytes: 1000 };
      await writeFile(extra.path, randomBytes(extra.bytes));
      return { source, origin: `${files} generated files`, extraFile: extra };
    }
  }
}

/** Both tools exit 3 when a snapshot was saved without some unreadable files: that is noted, not fatal. */
const OK_UNREADABLE = { okExitCodes: [0, 3] };

function noteExit(run: ToolRun, step: Step, result: { exitCode: number; stderr: string }): void {
  if (result.exitCode !== 0) run.notes.push(`${step}: exit ${result.exitCode} (some files unreadable): ${result.stderr.trim().split('\n').slice(0, 2).join(' | ')}`);
}

// Neither tool's restored tree is deleted before the other tool has run (they go with the profile's scratch
// dir): on ext4 without a journal (this machine) a new inode skips every one deleted in its group in the last
// ~30 s, so a restore of 100k files just after the other tool's restore was deleted took up to twice as long,
// a handicap for whichever ran second.

async function runRaic(raicBin: string, work: string, prepared: Prepared, record: TreeRecord): Promise<ToolRun> {
  const dir = join(work, 'raic');
  const { members, env } = await initRaicArray(raicBin, dir);
  const run: ToolRun = { steps: new Map(), stored: 0, verify: { identical: false, checked: 0, missing: [], extra: [], differ: [] }, notes: [] };
  const step = async (name: Step, bytes: number, args: string[]): Promise<void> => {
    process.stderr.write(`  raic ${name}…\n`);
    // The executable itself, as users run it (its #! line carries raic's Node flags).
    const result = await measure(`raic ${name}`, bytes, raicBin, [...args, '--json'], env, OK_UNREADABLE);
    noteExit(run, name, result);
    run.steps.set(name, result);
  };
  await step('first backup', record.bytes, ['backup', prepared.source]);
  await step('unchanged backup', record.bytes, ['backup', prepared.source]);
  run.stored = await storedBytes(members);
  const target = join(work, 'raic-restore');
  await step('restore', record.bytes, ['restore', 'latest', '--target', target]);
  run.verify = await compareTree(record, join(target, prepared.source));
  // The restored tree stays until the profile's scratch dir goes (see above runRaic).
  if (prepared.extraFile) await step('one-file backup', prepared.extraFile.bytes, ['backup', prepared.extraFile.path]);
  await rm(dir, { recursive: true, force: true });
  return run;
}

async function runRestic(work: string, prepared: Prepared, record: TreeRecord): Promise<ToolRun> {
  const repo = join(work, 'restic-repo');
  // Default settings (cache on, default compression); the cache lives in the scratch dir so it goes with it.
  const env = { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'restic-cache') };
  const init = spawnSync('restic', ['init', '--quiet'], { env: { ...process.env, ...env } });
  if (init.status !== 0) throw new Error(`restic init failed: ${init.stderr.toString()}`);
  const run: ToolRun = { steps: new Map(), stored: 0, verify: { identical: false, checked: 0, missing: [], extra: [], differ: [] }, notes: [] };
  const step = async (name: Step, bytes: number, args: string[]): Promise<void> => {
    process.stderr.write(`  restic ${name}…\n`);
    const result = await measure(`restic ${name}`, bytes, 'restic', args, env, OK_UNREADABLE);
    noteExit(run, name, result);
    run.steps.set(name, result);
  };
  await step('first backup', record.bytes, ['backup', '--quiet', prepared.source]);
  await step('unchanged backup', record.bytes, ['backup', '--quiet', prepared.source]);
  run.stored = await storedBytes([repo]);
  const target = join(work, 'restic-restore');
  await step('restore', record.bytes, ['restore', 'latest', '--target', target, '--quiet']);
  run.verify = await compareTree(record, join(target, prepared.source));
  if (prepared.extraFile) await step('one-file backup', prepared.extraFile.bytes, ['backup', '--quiet', prepared.extraFile.path]);
  await rm(repo, { recursive: true, force: true });
  return run;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

const rangeNote = (ours: [number, number] | undefined, theirs: [number, number] | undefined): string =>
  ours ? `   [raic ${spanText(ours)}${theirs ? `, restic ${spanText(theirs)}` : ''}]` : '';

function printProfile(name: ProfileName, prepared: Prepared, record: TreeRecord, raic: ToolRun, restic: ToolRun | undefined, resticVersion: string, rounds: number): void {
  const cols = [26, 9, 11, 10, 12, 14, 12];
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]!) : c.padStart(cols[i]!))).join(' ');
  const skipped = record.skipped ? `, ${record.skipped} special/unreadable skipped` : '';
  console.log(`\nreal data: ${name} — ${prepared.origin}: ${record.files} files, ${record.dirs} dirs, ${record.symlinks} symlinks, ${mb(record.bytes)}${skipped}`);
  console.log(`raic k=4 n=6 (six file:// members) vs ${restic ? resticVersion : 'restic (not installed)'}; MB = 10^6 bytes`);
  console.log(line(['step', 'raic s', 'raic RSS', 'restic s', 'restic RSS', 'time ratio*', 'RSS ratio']));
  for (const step of STEPS) {
    const ours = raic.steps.get(step);
    if (!ours) continue;
    const theirs = restic?.steps.get(step);
    const label = step === 'one-file backup' && prepared.extraFile ? `one-file backup (${prepared.extraFile.bytes} B)` : step;
    console.log(
      line([
        label,
        ours.seconds.toFixed(2),
        `${ours.peakRssMB} MB`,
        theirs ? theirs.seconds.toFixed(2) : 'n/a',
        theirs ? `${theirs.peakRssMB} MB` : 'n/a',
        theirs ? `${(theirs.seconds / ours.seconds).toFixed(2)}×` : 'n/a',
        theirs ? `${(ours.peakRssMB / theirs.peakRssMB).toFixed(2)}×` : 'n/a',
      ]) + rangeNote(raic.range?.get(step), restic?.range?.get(step)),
    );
  }
  const times = (bytes: number): string => `${(bytes / Math.max(1, record.bytes)).toFixed(2)}× source`;
  console.log(`stored: raic ${mb(raic.stored)} (${times(raic.stored)}), restic ${restic ? `${mb(restic.stored)} (${times(restic.stored)})` : 'n/a'}; raic ÷ restic ${restic ? `${(raic.stored / restic.stored).toFixed(2)}×` : 'n/a'}`);
  console.log(`restore check: raic ${describeDiff(raic.verify)}; restic ${restic ? describeDiff(restic.verify) : 'n/a'}`);
  console.log('* time ratio = restic s ÷ raic s (>1: raic faster); RSS ratio = raic ÷ restic (<1: raic smaller)');
  if (rounds > 1) console.log(`over ${rounds} rounds (fresh array and repository each, the tools taking turns to go first): seconds are medians, [ranges] fastest–slowest, RSS the highest`);
  for (const note of raic.notes) console.log(`note: raic ${note}`);
  for (const note of restic?.notes ?? []) console.log(`note: restic ${note}`);
}

/**
 * How long ext4 without a journal (this machine) skips an inode after its deletion: ~30 s, 35 while its
 * block is dirty. A restore started sooner after a profile's scratch dir (some 100k inodes) went makes every
 * file creation skip those, and took up to twice as long (see above runRaic).
 */
const DELETED_INODES_SKIPPED_MS = 36_000;

/** Runs the chosen profiles and prints a table for each. */
export async function realTreesBench(opts: RealTreesOptions): Promise<void> {
  const chosen = opts.profiles;
  if (chosen.length === 0) {
    process.stderr.write('real-data profiles skipped (RAIC_BENCH_REAL=none)\n');
    return;
  }
  const withRestic = resticInstalled();
  if (!withRestic) process.stderr.write('restic is not installed (apt-get install restic): real-data profiles run raic only, no comparison\n');
  const resticVersion = withRestic ? spawnSync('restic', ['version']).stdout.toString().split(' compiled')[0]!.trim() : '';
  let differs = false;
  for (const name of chosen) {
    const scratch = await mkdtemp(join(opts.base, `raic-real-${name}-`));
    try {
      const prepared = await prepare(name, scratch, opts);
      if (!prepared) continue;
      process.stderr.write(`${name}: recording ${prepared.source} (paths, SHA-256 of contents)…\n`);
      const record = await recordTree(prepared.source);
      const raicRuns: ToolRun[] = [];
      const resticRuns: ToolRun[] = [];
      for (let round = 0; round < opts.rounds; round++) {
        const work = join(scratch, `round-${round + 1}`);
        await mkdir(work);
        if (opts.rounds > 1) process.stderr.write(`${name}: round ${round + 1} of ${opts.rounds}\n`);
        const tools = [async () => raicRuns.push(await runRaic(opts.raicBin, work, prepared, record)), async () => withRestic && resticRuns.push(await runRestic(work, prepared, record))];
        // Odd rounds raic first, even rounds restic first: neither always runs on the other's leftovers.
        for (const tool of round % 2 ? tools.reverse() : tools) await tool();
      }
      const raic = combineRounds(raicRuns);
      const restic = withRestic ? combineRounds(resticRuns) : undefined;
      printProfile(name, prepared, record, raic, restic, resticVersion, opts.rounds);
      if (!raic.verify.identical || (restic && !restic.verify.identical)) differs = true;
    } finally {
      await rm(scratch, { recursive: true, force: true });
      // What comes next (another profile, the cloud part) restores too: not among inodes ext4 still skips.
      await delay(DELETED_INODES_SKIPPED_MS);
    }
  }
  if (differs) {
    console.log('\na restore differed from its source (see "restore check" above)');
    process.exitCode = 1;
  }
}
