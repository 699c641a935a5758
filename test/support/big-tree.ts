/**
 * A large deterministic source tree for backup tests and the bench: many small files and a few large
 * ones (incompressible, AES-CTR keystream), nested directories, plus the awkward cases a restore must
 * get right — an empty directory, a symlink, names with spaces and non-ASCII, unusual modes.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface TreeSpec {
  smallFiles: number;
  smallBytes: number;
  largeFiles: number;
  largeBytes: number;
  seed: string;
}

function keystream(seed: string, label: string): (bytes: number) => Buffer {
  const key = createHash('sha256').update(`${seed}/${label}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (bytes) => cipher.update(Buffer.alloc(bytes));
}

/** Builds the tree under `root`; returns the number of files and bytes written. */
export async function buildTree(root: string, spec: TreeSpec): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const sizeOf = keystream(spec.seed, 'sizes');
  for (let i = 0; i < spec.smallFiles; i++) {
    const dir = join(root, `d${i % 20}`, `e${i % 7}`);
    await mkdir(dir, { recursive: true });
    // Sizes vary 0.5×–1.5× around the mean so chunk boundaries and pack fills vary too.
    const size = Math.floor(spec.smallBytes * (0.5 + sizeOf(1)[0]! / 255));
    await writeFile(join(dir, `f${i}.bin`), keystream(spec.seed, `small${i}`)(size));
    files += 1;
    bytes += size;
  }
  await mkdir(join(root, 'large'), { recursive: true });
  for (let i = 0; i < spec.largeFiles; i++) {
    const next = keystream(spec.seed, `large${i}`);
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

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeMs: number;
  hash?: string;
  target?: string;
}

/** Everything a restore must reproduce, keyed by path relative to `root`. */
export async function describeTree(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const st = await lstat(p);
      const rel = relative(root, p);
      const base = { mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs) };
      if (st.isSymbolicLink()) out.set(rel, { type: 'symlink', ...base, mode: 0, target: await readlink(p) });
      else if (st.isDirectory()) {
        out.set(rel, { type: 'dir', ...base });
        await walk(p);
      } else out.set(rel, { type: 'file', ...base, hash: createHash('sha256').update(await readFile(p)).digest('hex') });
    }
  };
  await walk(root);
  return out;
}
