/**
 * `raic cache`: what the local caches hold, and cleaning them. Needs no passphrase and no member: a cache is
 * a directory per array id under the root (cache/), and deleting one only costs downloads.
 */
import { readdirSync, rmSync } from 'node:fs';
import { walkFiles } from '../cache/index.js';
import { join } from 'node:path';

export interface CacheDirInfo {
  arrayId: string;
  dir: string;
  bytes: number;
  files: number;
  /** Newest file's modification time (ISO), or null for an empty cache. */
  lastWritten: string | null;
  /** The configured array's cache. */
  current: boolean;
}

const ARRAY_DIR = /^[0-9a-f]{32}$/;

/** Every array's cache under `root` (none when the root does not exist). */
export function listCaches(root: string, currentArrayId: string | null): CacheDirInfo[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((name) => ARRAY_DIR.test(name))
    .sort()
    .map((arrayId) => {
      const dir = join(root, arrayId);
      const usage = { bytes: 0, files: 0, newest: 0 };
      walkFiles(dir, (_, st) => {
        usage.bytes += st.size;
        usage.files += 1;
        usage.newest = Math.max(usage.newest, st.mtimeMs);
      });
      return { arrayId, dir, bytes: usage.bytes, files: usage.files, lastWritten: usage.newest > 0 ? new Date(usage.newest).toISOString() : null, current: arrayId === currentArrayId };
    });
}

/** Deletes the caches chosen (the configured array's, or every array's); returns what was deleted. */
export function removeCaches(root: string, which: { all: true } | { arrayId: string }): CacheDirInfo[] {
  const chosen = listCaches(root, 'all' in which ? null : which.arrayId).filter((c) => 'all' in which || c.current);
  for (const c of chosen) rmSync(c.dir, { recursive: true, force: true });
  return chosen;
}
