/**
 * Exclude patterns for `raic backup`, restic-style: a pattern without "/" matches a file or directory
 * name anywhere (`*.tmp`, `node_modules`); a pattern with "/" matches the absolute path (`/home/alice/.cache`, globs allowed).
 * An excluded directory is not descended into. `--exclude-file` holds one pattern per line; blank lines
 * and lines starting with # are ignored.
 */
import { readFile } from 'node:fs/promises';
import picomatch from 'picomatch';
import { RaicError } from '../errors.js';

export type Excluder = (absPath: string) => boolean;

export function makeExcluder(patterns: readonly string[]): Excluder {
  if (patterns.length === 0) return () => false;
  const byName = patterns.filter((p) => !p.includes('/'));
  const byPath = patterns.filter((p) => p.includes('/'));
  const nameMatch = byName.length > 0 ? picomatch(byName, { dot: true }) : null;
  const pathMatch = byPath.length > 0 ? picomatch(byPath, { dot: true }) : null;
  return (absPath) => {
    const name = absPath.slice(absPath.lastIndexOf('/') + 1);
    return (nameMatch?.(name) ?? false) || (pathMatch?.(absPath) ?? false);
  };
}

export async function readExcludeFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RaicError('Usage', `cannot read the exclude file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
