/**
 * measureSources: the size of what a backup will see — regular files and their bytes under the given
 * paths, with the same excludes — counted by a walk of lstat calls alone, run beside the backup so a
 * person watching gets a percentage and an ETA (restic's scanner does the same). Only for the progress
 * bar: the backup never depends on it, and cron runs (no TTY) skip it.
 */
import { lstat, readdir } from 'node:fs/promises';
import { childPath, displayPath, fsPath, nameFromBytes, type Excluder } from '../tree/index.js';

export interface SourceSize {
  files: number;
  bytes: number;
}

/** Walks depth-first; calls `onUpdate` as the counts grow (at most every 100 ms) and resolves with the totals. */
export async function measureSources(
  paths: readonly string[],
  exclude: Excluder,
  onUpdate: (size: SourceSize) => void,
  signal?: AbortSignal,
): Promise<SourceSize> {
  const size: SourceSize = { files: 0, bytes: 0 };
  let last = 0;
  const visit = async (path: string): Promise<void> => {
    if (signal?.aborted || exclude(displayPath(path))) return;
    const st = await lstat(fsPath(path)).catch(() => null); // unreadable: the backup itself reports it
    if (!st) return;
    if (st.isFile()) {
      size.files += 1;
      size.bytes += st.size;
      if (Date.now() - last >= 100) {
        last = Date.now();
        onUpdate({ ...size });
      }
    } else if (st.isDirectory()) {
      const names = (await readdir(fsPath(path), { encoding: 'buffer' }).catch(() => [] as Buffer[])).map(nameFromBytes);
      for (const name of names.sort()) await visit(childPath(path, name));
    }
  };
  for (const p of paths) await visit(p);
  onUpdate({ ...size });
  return size;
}
