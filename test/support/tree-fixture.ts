/**
 * Directory trees for backup tests. Terms:
 *
 * - A tree is built by `buildTree` from a seed: every byte, name, mode and mtime follows from the seed,
 *   so a failing run can be rebuilt exactly. Besides the files it holds what a backup must carry across:
 *   nested and empty directories, symlinks (relative, absolute, dangling, to a directory), names with
 *   spaces and non-ASCII, read-only and executable modes, directory modes, mtimes set to the millisecond.
 * - A big tree is built by `buildBigTree` from a seed string and counts: many small files and a few
 *   large ones (the shape of the backup-tree test and the bench, whose figures are compared across runs,
 *   so its bytes and sizes must not change), plus an empty directory, symlinks, non-ASCII names and modes.
 *   Its mtimes are the build's own (only one is set), so its snapshot is taken after building.
 * - A tree snapshot (`snapshotTree`) is the map relative path → what a restore must reproduce: type, mode,
 *   mtime in ms, and size + SHA-256 for a file or the target for a symlink. The tree's root is the path ".".
 *   Two trees are equal (`assertSameTree`) when their snapshots are; a failure lists the paths that differ.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rm, symlink, lutimes, utimes, chmod, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (mode & 0o7777); symlinks report 0o777 on Linux and are compared too. */
  mode: number;
  /** Modification time in whole milliseconds (rounded from the nanosecond stamp). */
  mtimeMs: number;
  size?: number;
  sha256?: string;
  target?: string;
}

export type TreeSnapshot = Map<string, TreeEntry>;

export interface TreeSpec {
  seed: number;
  /** Byte size of each regular file, in the order they are created. */
  sizes: number[];
  /** Files per directory before a new one is started (default 24). */
  filesPerDir?: number;
}

export interface BuiltTree {
  root: string;
  /** Relative paths of the regular files, in `sizes` order. */
  files: string[];
  totalBytes: number;
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same sequence on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random integer in [lo, hi]. */
export const between = (rand: () => number, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** A pseudo-random byte stream determined by `keyText` alone: AES-256-CTR over zeros, ~1 GB/s. Each call takes the next `bytes`. */
export function keystream(keyText: string): (bytes: number) => Buffer {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(keyText).digest(), Buffer.alloc(16));
  return (bytes) => cipher.update(Buffer.alloc(bytes));
}

/** `size` pseudo-random bytes determined by (seed, label). */
export function seededBytes(seed: number, label: string, size: number): Buffer {
  return keystream(`raic tree ${seed} ${label}`)(size);
}

/**
 * Sizes for a tree of `count` files totalling about `totalBytes`: mostly small files (restic's typical
 * home directory), a few large ones carrying most of the bytes, a handful of empty files.
 */
export function mixedSizes(seed: number, count: number, totalBytes: number): number[] {
  const rand = prng(seed ^ 0x5eed);
  const large = Math.max(1, Math.round(count / 40));
  const sizes: number[] = [];
  for (let i = 0; i < count - large; i++) sizes.push(i % 37 === 5 ? 0 : between(rand, 1, 96 * 1024));
  const left = Math.max(0, totalBytes - sizes.reduce((s, n) => s + n, 0));
  for (let i = 0; i < large; i++) sizes.push(Math.floor(left / large) + (i === 0 ? left % large : 0));
  // Spread the large files among the small ones (deterministically).
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!];
  }
  return sizes;
}

const BASE_MTIME_MS = Date.UTC(2023, 4, 17, 9, 30, 0);
const NAMES = ['report', 'notes ', 'Übersicht', 'données', '写真', 'a b c', 'data', 'x', 'README'];
const FILE_MODES = [0o644, 0o644, 0o600, 0o755, 0o444, 0o640];

/** Seconds since the epoch for utimes, from whole milliseconds. */
const secs = (ms: number): number => ms / 1000;

/** Creates the tree under `root` (made if missing): `spec.sizes.length` files plus the fixed oddities above. */
export async function buildTree(root: string, spec: TreeSpec): Promise<BuiltTree> {
  const rand = prng(spec.seed);
  const perDir = spec.filesPerDir ?? 24;
  const files: string[] = [];
  const dirs: string[] = [];
  await mkdir(root, { recursive: true });
  let dir = '';
  for (let i = 0; i < spec.sizes.length; i++) {
    if (i % perDir === 0) {
      const d = Math.floor(i / perDir);
      // Nest every third directory inside the previous one; names vary in alphabet and spacing.
      dir = d % 3 === 2 && dir !== '' ? join(dir, `sub ${d}`) : `dir-${d}-${NAMES[d % NAMES.length]!.trim()}`;
      await mkdir(join(root, dir), { recursive: true });
      dirs.push(dir);
    }
    const name = `${NAMES[i % NAMES.length]}${i}${i % 5 === 0 ? '.bin' : '.txt'}`;
    const rel = join(dir, name);
    await writeFile(join(root, rel), seededBytes(spec.seed, rel, spec.sizes[i]!));
    await chmod(join(root, rel), FILE_MODES[i % FILE_MODES.length]!);
    const t = BASE_MTIME_MS + between(rand, 0, 400 * 86400_000);
    await utimes(join(root, rel), secs(t), secs(t));
    files.push(rel);
  }
  // What a tree of files alone would not exercise.
  await mkdir(join(root, 'empty dir'));
  await mkdir(join(root, 'nested', 'empty', 'deeper'), { recursive: true });
  await mkdir(join(root, 'private'), { mode: 0o700 });
  await writeFile(join(root, 'private', 'key'), seededBytes(spec.seed, 'private/key', 64));
  await chmod(join(root, 'private', 'key'), 0o400);
  const first = files[0] ?? 'missing';
  await symlink(first, join(root, 'link-to-first'));
  await symlink('/etc/hostname', join(root, 'absolute link'));
  await symlink('no/such/target', join(root, 'dangling-ñ'));
  await symlink(dirs[0] ?? '.', join(root, 'link-to-dir'));
  for (const link of ['link-to-first', 'absolute link', 'dangling-ñ', 'link-to-dir']) {
    const t = BASE_MTIME_MS + between(rand, 0, 86400_000);
    await lutimes(join(root, link), secs(t), secs(t));
  }
  // Directory mtimes last (creating entries inside a directory changes its mtime), deepest first.
  const allDirs = ['empty dir', 'nested/empty/deeper', 'nested/empty', 'nested', 'private', ...dirs].sort((a, b) => b.length - a.length);
  for (const d of [...allDirs, '.']) {
    const t = BASE_MTIME_MS + between(rand, 0, 400 * 86400_000);
    await utimes(join(root, d), secs(t), secs(t));
  }
  return { root, files, totalBytes: spec.sizes.reduce((s, n) => s + n, 0) };
}

export interface BigTreeSpec {
  smallFiles: number;
  /** Mean size of a small file; each is 0.5×–1.5× of it. */
  smallBytes: number;
  largeFiles: number;
  largeBytes: number;
  seed: string;
}

/** Builds a big tree under `root`; returns how many files and bytes it wrote. */
export async function buildBigTree(root: string, spec: BigTreeSpec): Promise<{ files: number; bytes: number }> {
  // Keys of the form `${seed}/${label}`: the bytes (and so the sizes) of every tree built so far stay the same.
  const bytesOf = (label: string): ((bytes: number) => Buffer) => keystream(`${spec.seed}/${label}`);
  let files = 0;
  let bytes = 0;
  const sizeOf = bytesOf('sizes');
  for (let i = 0; i < spec.smallFiles; i++) {
    const dir = join(root, `d${i % 20}`, `e${i % 7}`);
    await mkdir(dir, { recursive: true });
    // Sizes vary 0.5×–1.5× around the mean so chunk boundaries and pack fills vary too.
    const size = Math.floor(spec.smallBytes * (0.5 + sizeOf(1)[0]! / 255));
    await writeFile(join(dir, `f${i}.bin`), bytesOf(`small${i}`)(size));
    files += 1;
    bytes += size;
  }
  await mkdir(join(root, 'large'), { recursive: true });
  for (let i = 0; i < spec.largeFiles; i++) {
    const next = bytesOf(`large${i}`);
    const parts: Buffer[] = [];
    for (let left = spec.largeBytes; left > 0; left -= 8 * 1024 * 1024) parts.push(next(Math.min(left, 8 * 1024 * 1024)));
    await writeFile(join(root, 'large', `big ${i} é.bin`), Buffer.concat(parts));
    files += 1;
    bytes += spec.largeBytes;
  }
  await mkdir(join(root, 'empty dir'));
  await mkdir(join(root, 'modes'));
  await writeFile(join(root, 'modes', 'script.sh'), '#!/bin/sh\necho hi\n');
  await chmod(join(root, 'modes', 'script.sh'), 0o750);
  await writeFile(join(root, 'modes', 'private'), 'secret-ish\n');
  await chmod(join(root, 'modes', 'private'), 0o600);
  await symlink('../large', join(root, 'modes', 'link to large'));
  await symlink('/nonexistent/target', join(root, 'modes', 'dangling'));
  await utimes(join(root, 'modes', 'private'), new Date('2001-02-03T04:05:06.789Z'), new Date('2001-02-03T04:05:06.789Z'));
  return { files: files + 2, bytes };
}

async function fileHash(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of createReadStream(path)) h.update(piece as Buffer);
  return h.digest('hex');
}

/** Every entry under `root` (root itself as "."), without following symlinks. */
export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const out: TreeSnapshot = new Map();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const base = { mode: Number(st.mode & 0o7777n), mtimeMs: Number((st.mtimeNs + 500_000n) / 1_000_000n) };
    if (st.isSymbolicLink()) {
      out.set(rel, { type: 'symlink', ...base, target: await readlink(abs) });
    } else if (st.isFile()) {
      out.set(rel, { type: 'file', ...base, size: Number(st.size), sha256: await fileHash(abs) });
    } else if (st.isDirectory()) {
      out.set(rel, { type: 'dir', ...base });
      for (const name of (await readdir(abs)).sort()) await visit(rel === '.' ? name : join(rel, name));
    }
  };
  await visit('.');
  return out;
}

/** Lines naming each path whose entry differs (missing, extra, or which fields), at most `limit`. */
export function diffTrees(expected: TreeSnapshot, actual: TreeSnapshot, limit = 20): string[] {
  const lines: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) lines.push(`missing: ${path}`);
    else {
      const fields = (Object.keys(want) as (keyof TreeEntry)[]).filter((k) => want[k] !== got[k]);
      const show = (f: keyof TreeEntry, v: TreeEntry[keyof TreeEntry]): string => (f === 'mode' ? `0o${(v as number).toString(8)}` : String(v));
      if (fields.length > 0) lines.push(`differs: ${path} (${fields.map((f) => `${f} ${show(f, want[f])} → ${show(f, got[f])}`).join(', ')})`);
    }
  }
  for (const path of actual.keys()) if (!expected.has(path)) lines.push(`extra: ${path}`);
  return lines.length > limit ? [...lines.slice(0, limit), `… ${lines.length - limit} more`] : lines;
}

/** Asserts two trees (or a tree and a recorded snapshot) are identical bit for bit, with metadata. */
export async function assertSameTree(expected: TreeSnapshot | string, actualRoot: string, what = 'restored tree'): Promise<void> {
  const want = typeof expected === 'string' ? await snapshotTree(expected) : expected;
  const got = await snapshotTree(actualRoot);
  const diff = diffTrees(want, got);
  assert.equal(diff.length, 0, `${what} differs from the source:\n  ${diff.join('\n  ')}`);
}

/** The snapshot without `paths` and everything below them (what a backup that skipped them holds). */
export function without(snap: TreeSnapshot, paths: string[]): TreeSnapshot {
  return new Map([...snap].filter(([p]) => !paths.some((q) => p === q || p.startsWith(`${q}/`))));
}

export interface TreeChange {
  kind: 'rewrite' | 'patch' | 'append' | 'add' | 'delete';
  path: string;
}

/**
 * Changes `count` things in a tree built by buildTree, deterministically from `seed`: rewrites a small
 * file, overwrites a few bytes inside a file in place (same size: only its mtime tells), appends to one,
 * adds a new file, deletes one. Returns what it did; `files` is updated to the current file list.
 */
export async function modifyTree(tree: BuiltTree, seed: number, count: number): Promise<TreeChange[]> {
  const rand = prng(seed);
  const changes: TreeChange[] = [];
  const kinds: TreeChange['kind'][] = ['patch', 'rewrite', 'append', 'add', 'delete'];
  for (let i = 0; i < count; i++) {
    const kind = kinds[(seed + i) % kinds.length]!;
    const pick = tree.files[Math.floor(rand() * tree.files.length)]!;
    const abs = join(tree.root, pick);
    // Read-only modes stay as they are: the change goes through a writable mode and back.
    const mode = Number((await lstat(abs)).mode & 0o7777);
    if (kind === 'delete') {
      await rm(abs);
      tree.files = tree.files.filter((f) => f !== pick);
      changes.push({ kind, path: pick });
      continue;
    }
    if (kind === 'add') {
      const rel = join(dirname(pick), `added-${seed}-${i}.bin`);
      await writeFile(join(tree.root, rel), seededBytes(seed, rel, between(rand, 1, 3 * 1024 * 1024)));
      tree.files.push(rel);
      changes.push({ kind, path: rel });
      continue;
    }
    await chmod(abs, 0o600);
    if (kind === 'rewrite') await writeFile(abs, seededBytes(seed, `${pick} ${i}`, between(rand, 0, 64 * 1024)));
    else {
      const fh = await open(abs, kind === 'append' ? 'a' : 'r+');
      try {
        const size = (await fh.stat()).size;
        const bytes = seededBytes(seed, `${pick} patch ${i}`, kind === 'append' ? between(rand, 1, 512 * 1024) : 16);
        await fh.write(bytes, 0, bytes.length, kind === 'append' ? null : Math.floor(rand() * Math.max(1, size - 16)));
      } finally {
        await fh.close();
      }
    }
    await chmod(abs, mode);
    changes.push({ kind, path: pick });
  }
  return changes;
}
