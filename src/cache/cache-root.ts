/**
 * Where caches live: `$XDG_CACHE_HOME/raic`, else `~/.cache/raic` (restic's and the XDG convention). The
 * root is marked with a CACHEDIR.TAG (https://bford.info/cachedir/) so backup tools, raic's own included
 * where they honour it, skip it.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'raic');
}

const TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by raic.\n# For information about cache directory tags, see https://bford.info/cachedir/\n';

/** Creates the root (and its tag) if missing. Throws what mkdir throws. */
export function prepareCacheRoot(root: string): void {
  mkdirSync(root, { recursive: true });
  const tag = join(root, 'CACHEDIR.TAG');
  if (!existsSync(tag)) writeFileSync(tag, TAG);
}
