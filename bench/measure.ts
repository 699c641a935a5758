/**
 * Helpers shared by the bench scripts (bench.ts, real-trees.ts, cloud.ts): run a command and measure its wall
 * time and peak RSS, write a random file, hash a file, add up the bytes stored under directories, check whether
 * restic is installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const MiB = 1024 * 1024;

/** The median of `xs` (the mean of the middle two for an even count); NaN for none. */
export function medianOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Fastest–slowest seconds of a step's rounds, as the tables print them: "7.78–8.33". */
export const spanText = ([fastest, slowest]: readonly [number, number]): string => `${fastest.toFixed(2)}–${slowest.toFixed(2)}`;

/**
 * A tool's rounds of steps as one: per step, what its rounds measured, made one by `combine` (a median, …), and
 * the fastest and slowest of their seconds. Steps no round ran are left out.
 */
export function combineSteps<S, R extends { seconds: number }>(steps: readonly S[], rounds: readonly Map<S, R>[], combine: (measured: R[]) => R): { steps: Map<S, R>; range: Map<S, [number, number]> } {
  const combined = new Map<S, R>();
  const range = new Map<S, [number, number]>();
  for (const step of steps) {
    const measured = rounds.map((r) => r.get(step)).filter((m): m is R => m !== undefined);
    if (measured.length === 0) continue;
    const seconds = measured.map((m) => m.seconds);
    combined.set(step, combine(measured));
    range.set(step, [Math.min(...seconds), Math.max(...seconds)]);
  }
  return { steps: combined, range };
}

export interface Measured {
  name: string;
  seconds: number;
  bytes: number;
  peakRssMB: number;
}

export interface MeasureOptions {
  /** Exit codes that count as success (default [0]); e.g. 3 for "committed, but some files were unreadable";
   * 'any': never reject on the exit code (the caller reads `exitCode`). */
  okExitCodes?: number[] | 'any';
}

/**
 * Runs a command, sampling its VmHWM (peak RSS) from /proc until it exits. The page cache's dirty data is written
 * back first (sync, untimed): otherwise a step pays for the write-back of whatever ran before it (the other
 * tool's restore, its own tool's backup: ext4 here starts writing a dirty page back ~30 s after it was dirtied,
 * i.e. in the middle of a later step), and which tool pays depends on the order the steps ran in.
 */
export function measure(
  name: string,
  bytes: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: MeasureOptions = {},
): Promise<Measured & { stdout: string; stderr: string; exitCode: number }> {
  const ok = opts.okExitCodes ?? [0];
  spawnSync('sync');
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let peakKB = 0;
    const sample = async (): Promise<void> => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(status);
        if (m) peakKB = Math.max(peakKB, Number(m[1]));
      } catch {
        // exited between samples
      }
    };
    const timer = setInterval(() => void sample(), 50);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      if (code === null || (ok !== 'any' && !ok.includes(code))) return reject(new Error(`${name}: ${cmd} exited ${code}: ${stderr}`));
      // Prefer the process's own exact figure when it reports one (raic --json prints one JSON document,
      // pretty-printed over several lines; try the whole output, then its last line).
      const reported = reportedPeakRssMB(stdout);
      if (reported) peakKB = Math.max(peakKB, reported * 1024);
      resolvePromise({ name, seconds, bytes, peakRssMB: Math.round(peakKB / 1024), stdout, stderr, exitCode: code });
    });
  });
}

function reportedPeakRssMB(stdout: string): number | undefined {
  const text = stdout.trim();
  for (const candidate of [text, text.split('\n').pop() ?? '']) {
    try {
      const value = (JSON.parse(candidate) as { peakRssMB?: unknown }).peakRssMB;
      if (typeof value === 'number') return value;
    } catch {
      // not JSON
    }
  }
  return undefined;
}

/** Writes `bytes` of incompressible data (an AES-CTR keystream: fast, no dedup between chunks); returns its SHA-256 hex. */
export async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const zero = Buffer.alloc(4 * MiB);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= zero.length) {
    const piece = cipher.update(left >= zero.length ? zero : zero.subarray(0, left));
    hash.update(piece);
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
  return hash.digest('hex');
}

/** SHA-256 of a file's contents, streamed, as hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

/** Sum of the sizes of the regular files under the given directories (symlinks are not followed). */
export async function storedBytes(dirs: string[]): Promise<number> {
  let total = 0;
  const stack = [...dirs];
  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) total += (await stat(path)).size;
    }
  }
  return total;
}

export function resticInstalled(): boolean {
  return spawnSync('restic', ['version']).status === 0;
}

/**
 * A fresh raic array under `dir`: six file:// members (dir/member-0…5), k=4, its config at dir/config.json,
 * initialised with `raicBin`. Returns its members and the environment that opens it.
 */
export async function initRaicArray(raicBin: string, dir: string): Promise<{ members: string[]; env: NodeJS.ProcessEnv }> {
  const members = Array.from({ length: 6 }, (_, i) => join(dir, `member-${i}`));
  for (const m of members) await mkdir(m, { recursive: true });
  const env = { RAIC_CONFIG: join(dir, 'config.json'), RAIC_PASSWORD: 'bench' };
  const init = spawnSync(process.execPath, [raicBin, 'init', '--k', '4', ...members.map((m) => `file://${m}`)], { env: { ...process.env, ...env } });
  if (init.status !== 0) throw new Error(`raic init failed: ${init.stderr.toString()}`);
  return { members, env };
}
