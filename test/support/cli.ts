/**
 * Runs the real `raic` binary (bin/run.js → dist) as a user would, with its own config and passphrase
 * in the environment: `runRaic` to its end (exit code, stdout, stderr), `startRaic` in the background
 * with the child kept. Both spawn through one `launch`.
 */
import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
export const raicBin = join(repoRoot, 'bin', 'run.js');
/**
 * The Node flags of bin/run.js's #! line (its young and old generation limits): spawned as `node bin/run.js`
 * (the way a wrapper such as setpriv can run it) the line is only a comment, and raic would run with Node's
 * defaults, not as users run it — a get's peak RSS then wandered from 226 to 303 MB between runs.
 */
export const raicNodeFlags: string[] = shebangFlags(readFileSync(raicBin, 'utf8').split('\n', 1)[0]!);

function shebangFlags(line: string): string[] {
  const flags = /^#!\/usr\/bin\/env -S node(?<flags>( --\S+)*)$/.exec(line)?.groups?.flags;
  if (flags === undefined) throw new Error(`bin/run.js starts with ${JSON.stringify(line)}, not "#!/usr/bin/env -S node [--flag...]": the tests cannot run it as users do`);
  return flags.trim().split(' ').filter(Boolean);
}
/** Where the binary's caches go in this test process (see launch). */
export const testCacheHome = join(tmpdir(), `raic-test-cache-${process.pid}`);
process.on('exit', () => rmSync(testCacheHome, { recursive: true, force: true }));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (for `get -`). */
  stdoutBytes: Buffer;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Bytes, a file path to stream, or a Readable, fed to stdin. */
  stdin?: Buffer | { file: string } | Readable;
  /** Keep stdout bytes (default true); false discards them (huge gets). */
  keepStdout?: boolean;
  /** Sees every stdout piece as it arrives (e.g. to hash a huge get). */
  onStdout?: (piece: Buffer) => void;
  cwd?: string;
  /** `init` with the real KDF cost (tests pass --insecure-kdf to init otherwise). */
  realKdf?: boolean;
}

/** Runs the binary to its end; `code` is -1 when a signal ended it. */
export async function runRaic(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const { code, stdout, stderr, stdoutBytes } = await launch(args, opts).done;
  return { code: code ?? -1, stdout, stderr, stdoutBytes };
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `raic-${label}-`));
}

/** Asserts the shape every user-facing failure must have: one line on stderr, no stack trace. */
export function oneCleanErrorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one stderr line, got ${lines.length}:\n${stderr}`);
  if (/\n\s+at |Error: .*\n|node:internal/.test(stderr)) throw new Error(`stack trace on stderr:\n${stderr}`);
  return lines[0]!;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StartedRaic {
  pid: number;
  /** SIGKILL, if still running; true when a signal was sent. */
  kill(): boolean;
  done: Promise<Finished>;
}

/**
 * Starts the real binary with pipes (as cron would: no TTY, stdin closed) and keeps the child, so a test
 * can kill it or start another beside it. `wrapper` runs it under another program (e.g. setpriv).
 */
export function startRaic(args: string[], env: Record<string, string | undefined>, wrapper: string[] = []): StartedRaic {
  return launch(args, { env, wrapper, stdin: 'ignore' });
}

interface LaunchOptions extends Omit<RunOptions, 'stdin'> {
  /** As RunOptions.stdin; absent: an empty pipe; 'ignore': no stdin at all (/dev/null). */
  stdin?: RunOptions['stdin'] | 'ignore';
  wrapper?: string[];
}

/** Both entry points spawn here, so the binary, its environment and the capture of output are one. */
function launch(args: string[], opts: LaunchOptions): StartedRaic & { done: Promise<Finished & { stdoutBytes: Buffer }> } {
  // Arrays made by tests use the trivial KDF (thousands of runs each unlock the key); users never get it.
  const argv = [...(opts.wrapper ?? []), process.execPath, ...raicNodeFlags, raicBin, ...args, ...(args[0] === 'init' && !opts.realKdf ? ['--insecure-kdf'] : [])];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd ?? repoRoot,
    // A cache root per test process unless the test names one: no test reads another's cache or the user's.
    env: { ...process.env, XDG_CACHE_HOME: testCacheHome, ...opts.env },
    stdio: [opts.stdin === 'ignore' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // stdout and stderr are always pipes (only stdin varies), so neither is null.
  child.stdout!.on('data', (b: Buffer) => {
    opts.onStdout?.(b);
    if (opts.keepStdout !== false) out.push(b);
  });
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<Finished & { stdoutBytes: Buffer }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
  });
  const input = opts.stdin;
  if (child.stdin) {
    child.stdin.on('error', () => undefined); // the command may exit before reading all of stdin
    if (input === undefined || input === 'ignore') child.stdin.end();
    else if (Buffer.isBuffer(input)) child.stdin.end(input);
    else if ('file' in input) createReadStream(input.file).pipe(child.stdin);
    else input.pipe(child.stdin);
  }
  return { pid: child.pid!, kill: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), done };
}
