/** A fresh array on local directories for CLI tests: its own config file and passphrase. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { oneCleanErrorLine, runRaic, tempDir, type RunOptions, type RunResult } from './cli.js';

export interface ArrayFixture {
  dir: string;
  config: string;
  memberDirs: string[];
  urls: string[];
  env: Record<string, string>;
  raic(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Runs and asserts exit 0, returning stdout. */
  ok(args: string[], opts?: RunOptions): Promise<string>;
  cleanup(): Promise<void>;
}

export async function localArray(k: number, n: number, opts: { extraUrls?: string[]; label?: string } = {}): Promise<ArrayFixture> {
  const dir = await tempDir(opts.label ?? 'array');
  const memberDirs = Array.from({ length: n - (opts.extraUrls?.length ?? 0) }, (_, i) => join(dir, `member-${i}`));
  await Promise.all(memberDirs.map((d) => mkdir(d)));
  const urls = [...memberDirs.map((d) => `file://${d}`), ...(opts.extraUrls ?? [])];
  const config = join(dir, 'config.json');
  const env = { RAIC_CONFIG: config, RAIC_PASSWORD: 'correct horse battery staple' };
  const fixture: ArrayFixture = {
    dir,
    config,
    memberDirs,
    urls,
    env,
    raic: (args, o = {}) => runRaic(args, { ...o, env: { ...env, ...o.env } }),
    async ok(args, o = {}) {
      const r = await fixture.raic(args, o);
      if (r.code !== 0) throw new Error(`raic ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await fixture.ok(['init', '--k', String(k), ...urls]);
  return fixture;
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export async function randomFile(dir: string, name: string, size: number): Promise<{ path: string; bytes: Buffer }> {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { path, bytes };
}

export async function putFile(a: ArrayFixture, path: string): Promise<string> {
  const out = await a.ok(['put', path]);
  const lines = out.trim().split('\n');
  if (lines.length !== 1 || !lines[0]!.startsWith('raic:file:1:')) throw new Error(`put printed ${JSON.stringify(out)}`);
  return lines[0]!;
}

export async function getBytes(a: ArrayFixture, cap: string, out: string): Promise<Buffer> {
  await a.ok(['get', cap, out]);
  return readFile(out);
}

export { oneCleanErrorLine };
