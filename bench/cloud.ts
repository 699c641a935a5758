/**
 * The cloud profile of `npm run bench` (run when RAIC_BENCH_CLOUD is set, or alone with RAIC_BENCH_ONLY=cloud):
 * raic k=4 n=6 on six buckets of the project's real S3 server (the Swift all-in-one's S3 API, as recorded in
 * /tmp/raic-servers/env.json), each member reached through a link relay of link-relay.ts on 127.0.0.1; restic
 * (its Swift backend on the same server — the S3 API rejects restic's aws-chunked uploads) through one such
 * link. Every byte is counted at the links. Steps, for both tools: init, first backup of a real tree, unchanged
 * re-backup (warm cache, then with the local cache deleted), restore (checked identical), put of a random file,
 * get of that file (checked identical); printed with seconds, MB up and MB down for each tool and the ratios
 * raic ÷ restic. With RAIC_BENCH_ROUNDS=N these steps run N times, each round on a fresh array and repository, the
 * tools taking turns to go first: a step's seconds and bytes are then the medians of its rounds, its seconds
 * shown with their range (one sample of a 2 s step on this machine moved by ±15% from run to run).
 *
 * Then the slow uplink: all six members behind one shared link of RAIC_BENCH_CLOUD_UPLINK_MBIT (default 5
 * Mbit/s, both ways) at RAIC_BENCH_CLOUD_UPLINK_RTT_MS (default 30 ms), `raic put` of the same file into a fresh
 * array, beside restic's backup of it on one link of the same speed. A failure is a result row with its error
 * line, not a crash.
 *
 *   RAIC_BENCH_CLOUD            per-link (each member its own capped link) or shared (one upstream cap and one
 *                               downstream cap for all six members); restic's one link has the same caps
 *   RAIC_BENCH_CLOUD_RTT_MS     round-trip time of every link (default 50)
 *   RAIC_BENCH_CLOUD_MBIT       upstream cap of each link, or of the shared one, Mbit/s (default 50)
 *   RAIC_BENCH_CLOUD_DOWN_MBIT  downstream cap (default: RAIC_BENCH_CLOUD_MBIT)
 *   RAIC_BENCH_CLOUD_TREE       directory whose files are copied, in name order, into the scratch dir as the tree
 *                               both tools back up (default /usr/share/doc)
 *   RAIC_BENCH_CLOUD_TREE_MB    stop copying after this many MB (10^6 bytes; default 120)
 *   RAIC_BENCH_CLOUD_FILE_MB    size of the random file put and got, MiB (default 32)
 *   RAIC_BENCH_CLOUD_UPLINK_MBIT, RAIC_BENCH_CLOUD_UPLINK_RTT_MS  the slow uplink (0 Mbit/s skips it)
 *   RAIC_BENCH_CLOUD_UPLINK_TREE_MB  a copy of this many MB of RAIC_BENCH_CLOUD_TREE backed up over the slow uplink
 *                               too, by both tools (default 50; 0 skips it)
 *
 * Then one slow member: a fresh array whose member RAIC_BENCH_CLOUD_SLOW_MEMBER (default 5, a parity member;
 * 0 to 3 are data members, whose shares healthy reads ask for) is on its own link of
 * RAIC_BENCH_CLOUD_SLOW_MBIT (default 8 Mbit/s both ways), the others on the profile's links: backup and restore
 * of the tree, put and get of the file, each beside the all-fast time (the main part's, or one measured here when
 * the main part is not run) and the ratio (issue 11 asks ≤ 1.5× for backup and put, ≤ 1.3× for restore and get);
 * then `raic repair` and `raic check` on the full-speed links, with their exit codes.
 *
 *   RAIC_BENCH_CLOUD_SLOW_MBIT  the slow member's link (0 skips the part)
 *   RAIC_BENCH_CLOUD_SLOW_MEMBER  which member is slow (default 5)
 *   RAIC_BENCH_CLOUD_PARTS      which parts run, comma-separated: main, uplink, slow (default all three)
 *
 * Scratch space under RAIC_BENCH_DIR (default /tmp); buckets, containers and scratch dir are removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hostPort, swiftServer, uniqueName, type SwiftServer } from '../test/support/servers.js';
import { S3Admin } from '../test/support/s3-admin.js';
import { RateCap, linkCaps, linkRelay, totalCounters, type LinkRelay } from './link-relay.js';
import { MiB, combineSteps, measure, medianOf, sha256File, spanText, writeRandomFile } from './measure.js';
import { compareTree, describeDiff, recordTree, type TreeDiff, type TreeRecord } from './tree-compare.js';

export type CloudLayout = 'per-link' | 'shared';

export interface CloudSettings {
  layout: CloudLayout;
  rttMs: number;
  upMbit: number;
  downMbit: number;
  tree: string;
  treeBytes: number;
  fileBytes: number;
  /** 0: no slow-uplink part */
  uplinkMbit: number;
  /** bytes of the real tree backed up over the slow uplink (0: none) */
  uplinkTreeBytes: number;
  uplinkRttMs: number;
  /** 0: no slow-member part */
  slowMbit: number;
  /** which member is on the slow link: a parity member (k..n-1) is skipped by healthy reads, a data member is not */
  slowMember: number;
  parts: Set<CloudPart>;
}

const PARTS = ['main', 'uplink', 'slow'] as const;
type CloudPart = (typeof PARTS)[number];

function partsKnob(raw: string | undefined): Set<CloudPart> {
  if (raw === undefined || raw.trim() === '') return new Set(PARTS);
  const parts = raw.split(',').map((p) => p.trim());
  for (const p of parts) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`RAIC_BENCH_CLOUD_PARTS=${raw}: want a comma-separated list of ${PARTS.join(', ')}`);
  return new Set(parts as CloudPart[]);
}

// As bin/run.js does: the SDK's warning about its future Node support is noise in the bench's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const N = 6;
const K = 4;

function numberKnob(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${raw}: want a number ≥ ${min}`);
  return value;
}

/** A member index 0..N-1 from the environment. */
function memberKnob(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = numberKnob(env, name, fallback, 0);
  if (!Number.isInteger(value) || value > N - 1) throw new Error(`${name}=${env[name]}: want a member index 0..${N - 1}`);
  return value;
}

/** The cloud profile's settings from the environment, or undefined when it is not asked for; checked before
 * anything runs (a typo fails now, not after the long parts). */
export function cloudSettings(env: NodeJS.ProcessEnv, onlyCloud: boolean): CloudSettings | undefined {
  const raw = env.RAIC_BENCH_CLOUD?.trim() ?? '';
  if (raw === '' && !onlyCloud) return undefined;
  const layout = raw === '' ? 'per-link' : raw;
  if (layout !== 'per-link' && layout !== 'shared') throw new Error(`RAIC_BENCH_CLOUD=${raw}: want per-link or shared`);
  const upMbit = numberKnob(env, 'RAIC_BENCH_CLOUD_MBIT', 50, 0.01);
  const tree = resolve(env.RAIC_BENCH_CLOUD_TREE ?? '/usr/share/doc');
  if (!statSync(tree, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`RAIC_BENCH_CLOUD_TREE: ${tree} is not a directory`);
  return {
    layout,
    rttMs: numberKnob(env, 'RAIC_BENCH_CLOUD_RTT_MS', 50, 0),
    upMbit,
    downMbit: numberKnob(env, 'RAIC_BENCH_CLOUD_DOWN_MBIT', upMbit, 0.01),
    tree,
    treeBytes: numberKnob(env, 'RAIC_BENCH_CLOUD_TREE_MB', 120, 0.001) * 1e6,
    fileBytes: Math.round(numberKnob(env, 'RAIC_BENCH_CLOUD_FILE_MB', 32, 0.001) * MiB),
    uplinkMbit: numberKnob(env, 'RAIC_BENCH_CLOUD_UPLINK_MBIT', 5, 0),
    uplinkRttMs: numberKnob(env, 'RAIC_BENCH_CLOUD_UPLINK_RTT_MS', 30, 0),
    uplinkTreeBytes: numberKnob(env, 'RAIC_BENCH_CLOUD_UPLINK_TREE_MB', 50, 0) * 1e6,
    slowMbit: numberKnob(env, 'RAIC_BENCH_CLOUD_SLOW_MBIT', 8, 0),
    slowMember: memberKnob(env, 'RAIC_BENCH_CLOUD_SLOW_MEMBER', N - 1),
    parts: partsKnob(env.RAIC_BENCH_CLOUD_PARTS),
  };
}

/** Copies regular files and symlinks of `from` into `to`, depth first in name order, until `budget` bytes are
 * copied; unreadable and special files are left out. */
async function freezeTree(from: string, to: string, budget: number): Promise<void> {
  let copied = 0;
  const copyDir = async (src: string, dst: string): Promise<void> => {
    await mkdir(dst, { recursive: true });
    const names = (await readdir(src).catch(() => [] as string[])).sort();
    for (const name of names) {
      if (copied >= budget) return;
      const s = join(src, name);
      const d = join(dst, name);
      const st = await lstat(s).catch(() => undefined);
      if (st === undefined) continue;
      if (st.isDirectory()) await copyDir(s, d);
      else if (st.isSymbolicLink()) await symlink(await readlink(s), d);
      else if (st.isFile()) {
        const ok = await copyFile(s, d).then(() => true, () => false);
        if (ok) copied += st.size;
      }
    }
  };
  await copyDir(from, to);
}

interface StepResult {
  seconds: number;
  up: number;
  down: number;
  exitCode: number;
  /** the last line of stderr when the step failed (or a check of its output did) */
  error?: string;
  stdout: string;
  /** bytes through the last of the step's links (the slow member's, in the slow-member part) */
  slowLink?: { up: number; down: number };
}

const STEPS = ['init', 'first backup', 'unchanged backup', 'unchanged, no cache', 'restore', 'put file', 'get file'] as const;
type Step = (typeof STEPS)[number];

interface ToolRun {
  steps: Map<Step, StepResult>;
  verify?: TreeDiff;
  /** Over several rounds: each step's fastest and slowest seconds (steps holds the medians). */
  range?: Map<Step, [number, number]>;
}

/** One ToolRun from a tool's rounds: per step the median seconds, bytes up and bytes down, and the range of the
 * seconds; a step that failed in some round keeps that round's result; the first restore check that differed. */
function combineRounds(runs: ToolRun[]): ToolRun {
  if (runs.length === 1) return runs[0]!;
  const { steps, range } = combineSteps(
    STEPS,
    runs.map((r) => r.steps),
    (results) =>
      results.find((r) => r.error !== undefined) ?? {
        ...results[0]!,
        seconds: medianOf(results.map((r) => r.seconds)),
        up: medianOf(results.map((r) => r.up)),
        down: medianOf(results.map((r) => r.down)),
      },
  );
  return { steps, verify: runs.find((r) => r.verify && !r.verify.identical)?.verify ?? runs[0]!.verify, range };
}

/** raic's exit code for "committed, but some member missed objects: run raic repair". */
const DEGRADED = 4;

const lastLine = (text: string): string => text.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? '(no message)';

/** Runs one command, counting the bytes that cross `links` while it runs; never throws on its exit code. */
async function runStep(label: string, links: LinkRelay[], cmd: string, args: string[], env: NodeJS.ProcessEnv, watch = links.length - 1): Promise<StepResult> {
  process.stderr.write(`  ${label}…\n`);
  const before = totalCounters(links);
  const lastBefore = links[watch]?.counters();
  const m = await measure(label, 0, cmd, args, env, { okExitCodes: 'any' });
  const after = totalCounters(links);
  const lastAfter = links[watch]?.counters();
  const result: StepResult = { seconds: m.seconds, up: after.up - before.up, down: after.down - before.down, exitCode: m.exitCode, stdout: m.stdout };
  if (lastBefore && lastAfter) result.slowLink = { up: lastAfter.up - lastBefore.up, down: lastAfter.down - lastBefore.down };
  if (m.exitCode !== 0) result.error = `exit ${m.exitCode}: ${lastLine(m.stderr)}`;
  return result;
}

/** `count` relays in front of the server at `endpoint`, with the given caps. */
function relaysFor(endpoint: string, rttMs: number, caps: { up: RateCap; down: RateCap }[]): Promise<LinkRelay[]> {
  return Promise.all(caps.map((c) => linkRelay({ target: hostPort(endpoint), rttMs, up: c.up, down: c.down })));
}

interface Context {
  raicBin: string;
  scratch: string;
  server: SwiftServer;
  /** every bucket and container made, deleted at the end */
  buckets: string[];
  relays: LinkRelay[];
}

function raicEnv(ctx: Context, name: string): NodeJS.ProcessEnv {
  const { s3 } = ctx.server;
  return {
    RAIC_CONFIG: join(ctx.scratch, `${name}-config.json`),
    RAIC_PASSWORD: 'bench',
    // a cache raic may keep goes with the scratch dir
    XDG_CACHE_HOME: join(ctx.scratch, `${name}-cache`),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_PROFILE: undefined,
  };
}

/** Six members on fresh buckets, each through its relay; returns their URLs. */
function memberUrls(ctx: Context, relays: LinkRelay[]): string[] {
  return relays.map((r, i) => {
    const bucket = uniqueName(`raic-cloud-m${i}`);
    ctx.buckets.push(bucket);
    return `s3://${bucket}/raic?endpoint=${r.url}&region=${ctx.server.s3.region}`;
  });
}

function resticEnv(ctx: Context, name: string, relay: LinkRelay): NodeJS.ProcessEnv {
  const container = uniqueName(`raic-cloud-${name}`);
  ctx.buckets.push(container);
  const { swift } = ctx.server;
  return {
    RESTIC_REPOSITORY: `swift:${container}:/`,
    RESTIC_PASSWORD: 'bench',
    RESTIC_CACHE_DIR: join(ctx.scratch, `${name}-cache`),
    // v1 auth through the link; tempauth builds the storage URL from the Host header, so objects go through it too
    ST_AUTH: `${relay.url}${new URL(swift.authUrl).pathname}`,
    ST_USER: swift.username,
    ST_KEY: swift.key,
    OS_AUTH_URL: undefined,
    OS_STORAGE_URL: undefined,
    OS_AUTH_TOKEN: undefined,
  };
}

interface Inputs {
  tree: string;
  record: TreeRecord;
  file: string;
  fileSha: string;
}

/** raic's steps on a fresh array behind `caps` (one per member); `prefix` labels its progress lines and files. */
async function runRaic(ctx: Context, s: CloudSettings, inputs: Inputs, caps: { up: RateCap; down: RateCap }[], prefix = 'raic', watch = N - 1): Promise<ToolRun & { relays: LinkRelay[]; env: NodeJS.ProcessEnv }> {
  const relays = await relaysFor(ctx.server.s3.endpoint, s.rttMs, caps);
  ctx.relays.push(...relays);
  const env = raicEnv(ctx, prefix.replace(/[^a-z0-9]+/g, '-'));
  const run: ToolRun & { relays: LinkRelay[]; env: NodeJS.ProcessEnv } = { steps: new Map(), relays, env };
  const step = async (name: Step, args: string[]): Promise<StepResult> => {
    // The executable itself, as users run it (its #! line carries raic's Node flags).
    const result = await runStep(`${prefix} ${name}`, relays, ctx.raicBin, [...args, '--json'], env, watch);
    run.steps.set(name, result);
    return result;
  };
  if ((await step('init', ['init', '--k', String(K), ...memberUrls(ctx, relays)])).exitCode !== 0) return run;
  await step('first backup', ['backup', inputs.tree]);
  await step('unchanged backup', ['backup', inputs.tree]);
  // The same with the local cache deleted: it must fetch metadata only.
  await rm(env.XDG_CACHE_HOME!, { recursive: true, force: true });
  await step('unchanged, no cache', ['backup', inputs.tree]);
  const target = `${env.RAIC_CONFIG!.replace(/-config\.json$/, '')}-restore`;
  await step('restore', ['restore', 'latest', '--target', target]);
  run.verify = await compareTree(inputs.record, join(target, inputs.tree));
  await rm(target, { recursive: true, force: true });
  const put = await step('put file', ['put', inputs.file]);
  if (put.exitCode !== 0 && put.exitCode !== DEGRADED) return run;
  const out = join(ctx.scratch, 'raic-get.bin');
  const cap = (JSON.parse(put.stdout) as { capability: string }).capability;
  const get = await step('get file', ['get', cap, out]);
  if (get.exitCode === 0 && (await sha256File(out)) !== inputs.fileSha) get.error = 'the file got differs from the file put';
  await rm(out, { force: true });
  return run;
}

/** The profile's links for the six members. */
const profileCaps = (s: CloudSettings): { up: RateCap; down: RateCap }[] => linkCaps(s.layout, N, s.upMbit * 1e6, s.downMbit * 1e6);

interface SlowMember {
  slow: ToolRun;
  fast: ToolRun;
  repair?: StepResult;
  check?: StepResult;
}

/** The slow-member part: member s.slowMember on its own slow link; the all-fast run to compare with is `fast`, or made here. */
async function runSlowMember(ctx: Context, s: CloudSettings, inputs: Inputs, fast: ToolRun | undefined): Promise<SlowMember> {
  const caps = profileCaps(s);
  caps[s.slowMember] = { up: new RateCap(s.slowMbit * 1e6), down: new RateCap(s.slowMbit * 1e6) };
  const slow = await runRaic(ctx, s, inputs, caps, 'slow member: raic', s.slowMember);
  const out: SlowMember = { slow, fast: fast ?? (await runRaic(ctx, s, inputs, profileCaps(s), 'all fast: raic')) };
  if (slow.steps.get('init')?.exitCode !== 0) return out;
  // On the same links: repair catches the slow member up through its own slow link.
  out.repair = await runStep('slow member: raic repair', slow.relays, ctx.raicBin, ['repair', '--json'], slow.env, s.slowMember);
  out.check = await runStep('slow member: raic check', slow.relays, ctx.raicBin, ['check', '--json'], slow.env, s.slowMember);
  return out;
}

async function runRestic(ctx: Context, s: CloudSettings, inputs: Inputs, name = 'restic'): Promise<ToolRun> {
  const [relay] = await relaysFor(ctx.server.endpoint, s.rttMs, linkCaps('per-link', 1, s.upMbit * 1e6, s.downMbit * 1e6));
  ctx.relays.push(relay!);
  const env = resticEnv(ctx, name, relay!);
  const run: ToolRun = { steps: new Map() };
  const step = async (label: Step, args: string[]): Promise<StepResult> => {
    const result = await runStep(`${name} ${label}`, [relay!], 'restic', args, env);
    run.steps.set(label, result);
    return result;
  };
  if ((await step('init', ['init', '--quiet'])).exitCode !== 0) return run;
  await step('first backup', ['backup', '--quiet', inputs.tree]);
  await step('unchanged backup', ['backup', '--quiet', inputs.tree]);
  await rm(env.RESTIC_CACHE_DIR!, { recursive: true, force: true });
  await step('unchanged, no cache', ['backup', '--quiet', inputs.tree]);
  const target = join(ctx.scratch, 'restic-restore');
  await step('restore', ['restore', 'latest', '--path', inputs.tree, '--target', target, '--quiet']);
  run.verify = await compareTree(inputs.record, join(target, inputs.tree));
  await rm(target, { recursive: true, force: true });
  await step('put file', ['backup', '--quiet', inputs.file]);
  const fileTarget = join(ctx.scratch, 'restic-get');
  const get = await step('get file', ['restore', 'latest', '--path', inputs.file, '--target', fileTarget, '--quiet']);
  if (get.exitCode === 0 && (await sha256File(join(fileTarget, inputs.file)).catch(() => '')) !== inputs.fileSha) get.error = 'the file restored differs from the file backed up';
  await rm(fileTarget, { recursive: true, force: true });
  return run;
}

interface SlowUplink {
  raicInit?: StepResult;
  raicPut?: StepResult;
  resticPut?: StepResult;
  /** backup of the uplink tree (a real tree of RAIC_BENCH_CLOUD_UPLINK_TREE_MB) after the put */
  raicBackup?: StepResult;
  resticBackup?: StepResult;
  treeBytes?: number;
}

async function runSlowUplink(ctx: Context, s: CloudSettings, inputs: Inputs): Promise<SlowUplink> {
  const bps = s.uplinkMbit * 1e6;
  const out: SlowUplink = {};
  const relays = await relaysFor(ctx.server.s3.endpoint, s.uplinkRttMs, linkCaps('shared', N, bps, bps));
  ctx.relays.push(...relays);
  const env = raicEnv(ctx, 'uplink');
  out.raicInit = await runStep('slow uplink: raic init', relays, ctx.raicBin, ['init', '--k', String(K), ...memberUrls(ctx, relays), '--json'], env);
  if (out.raicInit.exitCode === 0) out.raicPut = await runStep('slow uplink: raic put', relays, ctx.raicBin, ['put', inputs.file, '--json'], env);
  let tree: string | undefined;
  if (s.uplinkTreeBytes > 0) {
    tree = join(ctx.scratch, 'uplink-tree');
    await freezeTree(s.tree, tree, s.uplinkTreeBytes);
    out.treeBytes = (await recordTree(tree)).bytes;
    if (out.raicInit.exitCode === 0) out.raicBackup = await runStep('slow uplink: raic backup', relays, ctx.raicBin, ['backup', tree, '--json'], env);
  }
  const [relay] = await relaysFor(ctx.server.endpoint, s.uplinkRttMs, linkCaps('per-link', 1, bps, bps));
  ctx.relays.push(relay!);
  const renv = resticEnv(ctx, 'restic-uplink', relay!);
  const rinit = await runStep('slow uplink: restic init', [relay!], 'restic', ['init', '--quiet'], renv);
  out.resticPut = rinit.exitCode === 0 ? await runStep('slow uplink: restic backup', [relay!], 'restic', ['backup', '--quiet', inputs.file], renv) : rinit;
  if (tree && rinit.exitCode === 0) out.resticBackup = await runStep('slow uplink: restic backup of the tree', [relay!], 'restic', ['backup', '--quiet', tree], renv);
  return out;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 1);
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : a > 0 ? '∞' : '–');

function printMain(s: CloudSettings, inputs: Inputs, raic: ToolRun, restic: ToolRun, resticVersion: string, rounds: number): void {
  const { record } = inputs;
  const links = s.layout === 'shared' ? 'all six members behind one shared link' : 'each member on its own link';
  console.log(`\ncloud profile (${s.layout}) — raic k=${K} n=${N}, six S3 buckets on the Swift server's S3 API, ${links}; ${resticVersion} (Swift API) on one link`);
  console.log(`links: ${s.rttMs} ms RTT, ${s.upMbit} Mbit/s up, ${s.downMbit} Mbit/s down${s.layout === 'shared' ? ' (shared)' : ' per link'}; bytes counted at the links; MB = 10^6 bytes`);
  const skipped = record.skipped ? `, ${record.skipped} skipped` : '';
  console.log(`tree: a copy of ${s.tree} (first ${mb(s.treeBytes)} MB): ${record.files} files, ${record.dirs} dirs, ${record.symlinks} symlinks, ${mb(record.bytes)} MB${skipped}; file: ${(s.fileBytes / MiB).toFixed(0)} MiB random`);
  const cols = [17, 8, 8, 9, 9, 8, 9, 8, 8, 8];
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]!) : c.padStart(cols[i]!))).join(' ');
  console.log(line(['step', 'raic s', 'up MB', 'down MB', 'restic s', 'up MB', 'down MB', 's ratio', 'up', 'down']));
  const cell = (r: StepResult | undefined, f: (r: StepResult) => string): string => (r ? f(r) : 'n/a');
  const seconds = (r: StepResult): string => `${r.seconds.toFixed(2)}${r.error ? '!' : ''}`;
  const notes: string[] = [];
  const span = (run: ToolRun, step: Step): string => {
    const r = run.range?.get(step);
    return r ? spanText(r) : 'n/a';
  };
  const rangeOf = (step: Step): string => (rounds > 1 ? `   [raic ${span(raic, step)}, restic ${span(restic, step)}]` : '');
  for (const step of STEPS) {
    const ours = raic.steps.get(step);
    const theirs = restic.steps.get(step);
    if (!ours && !theirs) continue;
    if (ours?.error) notes.push(`raic ${step} FAILED after ${ours.seconds.toFixed(1)} s: ${ours.error}`);
    if (theirs?.error) notes.push(`restic ${step} FAILED after ${theirs.seconds.toFixed(1)} s: ${theirs.error}`);
    const both = ours && theirs;
    console.log(
      line([
        step.replace('file', `${(s.fileBytes / MiB).toFixed(0)} MiB`),
        cell(ours, seconds),
        cell(ours, (r) => mb(r.up)),
        cell(ours, (r) => mb(r.down)),
        cell(theirs, seconds),
        cell(theirs, (r) => mb(r.up)),
        cell(theirs, (r) => mb(r.down)),
        both ? ratio(ours.seconds, theirs.seconds) : 'n/a',
        both ? ratio(ours.up, theirs.up) : 'n/a',
        both ? ratio(ours.down, theirs.down) : 'n/a',
      ]) + rangeOf(step),
    );
  }
  console.log('ratios = raic ÷ restic (seconds: < 1 means raic is faster; bytes: < 1 means raic moves fewer); ! = the step failed');
  if (rounds > 1) console.log(`over ${rounds} rounds (fresh array and repository each, the tools taking turns to go first): seconds and MB are medians, [ranges] fastest–slowest`);
  console.log(`restore check: raic ${raic.verify ? describeDiff(raic.verify) : 'not run'}; restic ${restic.verify ? describeDiff(restic.verify) : 'not run'}`);
  for (const note of notes) console.log(`note: ${note}`);
}

function printSlowUplink(s: CloudSettings, slow: SlowUplink): void {
  const bits = s.fileBytes * 8;
  const bps = s.uplinkMbit * 1e6;
  const ideal = ((N / K) * bits) / bps;
  console.log(`\nslow uplink — all six raic members behind one shared ${s.uplinkMbit} Mbit/s link (each way), ${s.uplinkRttMs} ms RTT; put of a ${(s.fileBytes / MiB).toFixed(0)} MiB random file`);
  const describe = (r: StepResult | undefined): string =>
    r === undefined
      ? 'not run'
      : `${r.error ? `FAILED (${r.error})` : 'ok'} after ${r.seconds.toFixed(1)} s, ${mb(r.up)} MB up, ${mb(r.down)} MB down`;
  if (slow.raicInit?.error) console.log(`raic init:           ${describe(slow.raicInit)}`);
  console.log(`raic put:            ${describe(slow.raicPut)}`);
  console.log(`restic backup (one ${s.uplinkMbit} Mbit/s link): ${describe(slow.resticPut)}`);
  const verdict = slow.raicPut && !slow.raicPut.error ? `${(slow.raicPut.seconds / ideal).toFixed(2)}× that` : 'no time: the put failed';
  console.log(`ideal for n/k × the file at ${s.uplinkMbit} Mbit/s: ${ideal.toFixed(1)} s (issue 11 asks ≤ 1.5×, ${(1.5 * ideal).toFixed(1)} s); raic: ${verdict}`);
  if (slow.treeBytes !== undefined) {
    console.log(`backup of a ${mb(slow.treeBytes)} MB copy of ${s.tree}, same links:`);
    console.log(`raic backup:         ${describe(slow.raicBackup)}`);
    console.log(`restic backup:       ${describe(slow.resticBackup)}`);
  }
}

function printSlowMember(s: CloudSettings, r: SlowMember): void {
  console.log(`\none slow member — member ${s.slowMember} (${s.slowMember < K ? 'data' : 'parity'}) on its own ${s.slowMbit} Mbit/s link (each way), the others on the profile's links (${s.upMbit} Mbit/s up, ${s.downMbit} down, ${s.rttMs} ms RTT); fresh arrays`);
  const rows: [Step, string, number][] = [
    ['first backup', 'backup', 1.5],
    ['restore', 'restore', 1.3],
    ['put file', `put ${(s.fileBytes / MiB).toFixed(0)} MiB`, 1.5],
    ['get file', `get ${(s.fileBytes / MiB).toFixed(0)} MiB`, 1.3],
  ];
  const cols = [14, 10, 11, 8, 8, 12, 12];
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]!) : c.padStart(cols[i]!))).join(' ');
  console.log(line(['step', 'all fast s', 'one slow s', 'ratio', 'target', 'slow link up', 'slow link dn']));
  const slowLink = (st: StepResult | undefined, dir: 'up' | 'down'): string => (st?.slowLink ? mb(st.slowLink[dir]) : 'n/a');
  for (const [step, label, target] of rows) {
    const f = r.fast.steps.get(step);
    const sl = r.slow.steps.get(step);
    // Exit 4 (committed; the slow member missed objects) is the expected outcome here, not a failure.
    const failed = (x: StepResult): boolean => x.exitCode !== 0 && x.exitCode !== DEGRADED;
    const secs = (x: StepResult | undefined): string => (x ? `${x.seconds.toFixed(2)}${failed(x) ? '!' : ''}` : 'n/a');
    console.log(line([label, secs(f), secs(sl), f && sl ? ratio(sl.seconds, f.seconds) : 'n/a', `≤ ${target}×`, slowLink(sl, 'up'), slowLink(sl, 'down')]));
    for (const [which, x] of [['all fast', f], ['one slow', sl]] as const) if (x && x.error && (failed(x) || which === 'all fast')) console.log(`note: ${label}, ${which}: ${x.error}`);
  }
  const fastGet = r.fast.steps.get('get file');
  const slowGet = r.slow.steps.get('get file');
  const fileMB = s.fileBytes / 1e6;
  if (fastGet && slowGet) {
    console.log(`bytes down for the get: all fast ${mb(fastGet.down)} MB, one slow ${mb(slowGet.down)} MB, for a ${mb(s.fileBytes)} MB file (${(fastGet.down / fileMB / 1e6).toFixed(3)}× and ${(slowGet.down / fileMB / 1e6).toFixed(3)}×: hedges and tables included)`);
  }
  const putSummary = r.slow.steps.get('put file')?.error;
  if (putSummary) console.log(`the put's summary with one slow member: ${putSummary}`);
  console.log(`restore check: ${r.slow.verify ? describeDiff(r.slow.verify) : 'not run'}; slow link MB = bytes through member ${s.slowMember}'s link (MB = 10^6 bytes)`);
  const exit = (x: StepResult | undefined): string => (x ? `exit ${x.exitCode} after ${x.seconds.toFixed(1)} s, ${mb(x.up)} MB up, ${mb(x.down)} MB down` : 'not run');
  const stderrOf = (x: StepResult | undefined): string => (x?.error ? ` (${x.error})` : '');
  console.log(`degraded runs (exit 4 = committed, some member missed objects): ${rows.map(([step, label]) => `${label} ${r.slow.steps.get(step)?.exitCode ?? 'n/a'}`).join(', ')}`);
  console.log(`then, on the same links: raic repair: ${exit(r.repair)}${stderrOf(r.repair)}; raic check: ${exit(r.check)}${stderrOf(r.check)}`);
}

/** Runs the cloud profile and prints its tables. */
export async function cloudBench(s: CloudSettings, raicBin: string, base: string, rounds = 1): Promise<void> {
  const server = await swiftServer(); // fails, naming the command that starts it, when the server is not up
  if (spawnSync('restic', ['version']).status !== 0) throw new Error('the cloud profile needs restic (apt-get install restic)');
  const resticVersion = spawnSync('restic', ['version']).stdout.toString().split(' compiled')[0]!.trim();
  const ctx: Context = { raicBin, scratch: await mkdtemp(join(base, 'raic-cloud-')), server, buckets: [], relays: [] };
  try {
    process.stderr.write(`cloud: copying up to ${mb(s.treeBytes)} MB of ${s.tree}, writing a ${(s.fileBytes / MiB).toFixed(0)} MiB random file…\n`);
    const tree = join(ctx.scratch, 'tree');
    await freezeTree(s.tree, tree, s.treeBytes);
    const record = await recordTree(tree);
    const file = join(ctx.scratch, 'file.bin');
    const inputs: Inputs = { tree, record, file, fileSha: await writeRandomFile(file, s.fileBytes) };
    let raic: ToolRun | undefined;
    if (s.parts.has('main')) {
      const raicRuns: ToolRun[] = [];
      const resticRuns: ToolRun[] = [];
      for (let round = 1; round <= rounds; round++) {
        if (rounds > 1) process.stderr.write(`cloud: round ${round} of ${rounds}\n`);
        const tag = rounds > 1 ? `-r${round}` : '';
        const ours = async (): Promise<void> => void raicRuns.push(await runRaic(ctx, s, inputs, profileCaps(s), `raic${tag}`));
        const theirs = async (): Promise<void> => void resticRuns.push(await runRestic(ctx, s, inputs, `restic${tag}`));
        // Odd rounds raic first, even rounds restic first: neither always runs on the other's leftovers.
        if (round % 2 === 1) await ours().then(theirs);
        else await theirs().then(ours);
      }
      raic = combineRounds(raicRuns);
      const restic = combineRounds(resticRuns);
      printMain(s, inputs, raic, restic, resticVersion, rounds);
      const all = [...raicRuns, ...resticRuns];
      if (all.some((run) => !run.verify?.identical || [...run.steps.values()].some((r) => r.error !== undefined))) process.exitCode = 1;
    }
    if (s.parts.has('uplink') && s.uplinkMbit > 0) printSlowUplink(s, await runSlowUplink(ctx, s, inputs));
    if (s.parts.has('slow') && s.slowMbit > 0) printSlowMember(s, await runSlowMember(ctx, s, inputs, raic));
  } finally {
    for (const r of ctx.relays) await r.close();
    const admin = new S3Admin(server.s3);
    for (const bucket of ctx.buckets) {
      await admin.deleteBucket(bucket).catch((err: Error) => process.stderr.write(`cloud: could not delete bucket ${bucket}: ${err.message}\n`));
    }
    admin.close();
    await rm(ctx.scratch, { recursive: true, force: true });
  }
}
