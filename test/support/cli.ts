/**
 * Runs the real `raic` binary (bin/run.js → dist) as a user would, with its own config and passphrase
 * in the environment, and returns exit code, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../../..');
export const raicBin = join(repoRoot, 'bin', 'run.js');

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
}

export function runRaic(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [raicBin, ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, RAIC_KDF_FAST: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      opts.onStdout?.(b);
      if (opts.keepStdout !== false) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolvePromise({ code: code ?? -1, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading all of stdin
    const input = opts.stdin;
    if (input === undefined) child.stdin.end();
    else if (Buffer.isBuffer(input)) child.stdin.end(input);
    else if ('file' in input) createReadStream(input.file).pipe(child.stdin);
    else input.pipe(child.stdin);
  });
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
  const argv = [...wrapper, process.execPath, raicBin, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, env: { ...process.env, RAIC_KDF_FAST: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { pid: child.pid!, kill: () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), done };
}
