/** Ways to hurt a local member directory: lose it, flip bytes in its packs, truncate them. */
import { open, readdir, rename, stat, truncate } from 'node:fs/promises';
import { join, relative } from 'node:path';

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

export async function packFiles(memberDir: string): Promise<string[]> {
  return (await filesUnder(join(memberDir, 'packs'))).filter((f) => !f.includes('.tmp'));
}

/** Moves a member directory away; returns a function that puts it back. */
export async function hideDir(dir: string): Promise<() => Promise<void>> {
  const hidden = `${dir}.hidden`;
  await rename(dir, hidden);
  return () => rename(hidden, dir);
}

/** XORs one byte at each offset (negative offsets count from the end). */
export async function flipBytes(file: string, offsets: number[]): Promise<void> {
  const size = (await stat(file)).size;
  const fh = await open(file, 'r+');
  try {
    for (const off of offsets) {
      const at = off < 0 ? size + off : off;
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, at);
      b[0] = b[0]! ^ 0x5a;
      await fh.write(b, 0, 1, at);
    }
  } finally {
    await fh.close();
  }
}

export async function truncateTo(file: string, fraction: number): Promise<void> {
  await truncate(file, Math.floor((await stat(file)).size * fraction));
}

/** The object key of a file inside a member directory (as check reports it). */
export const keyOf = (memberDir: string, file: string): string => relative(memberDir, file);
