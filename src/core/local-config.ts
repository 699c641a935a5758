/**
 * The local config: which members make up the array (in share order) and its shape. No secrets —
 * credentials come from the environment or files named per provider. Default location:
 * $XDG_CONFIG_HOME/raic/config.json (~/.config/raic/config.json); overridden by --config or RAIC_CONFIG.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { RaicError } from '../errors.js';

export interface LocalConfig {
  version: 1;
  arrayId: string;
  k: number;
  n: number;
  /** Member URLs; index i holds share i. */
  members: string[];
  /** Write quorum (default k+1, at most n): see RaicArray.writeQuorum. */
  minMembers?: number;
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'raic', 'config.json');
}

export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.RAIC_CONFIG ?? defaultConfigPath(env);
}

export async function readLocalConfig(path: string): Promise<LocalConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RaicError('NoArray', `no raic config at ${path}`, { hint: 'run `raic init --k K URL...` first, or point --config / RAIC_CONFIG at your config' });
    }
    throw new RaicError('Config', `cannot read the config ${path}: ${(err as Error).message}`);
  }
  let c: Partial<LocalConfig>;
  try {
    c = JSON.parse(text) as Partial<LocalConfig>;
  } catch {
    throw new RaicError('Config', `the config ${path} is not valid JSON`);
  }
  if (c.version !== 1 || typeof c.arrayId !== 'string' || !Array.isArray(c.members) || !Number.isInteger(c.k) || c.members.length !== c.n) {
    throw new RaicError('Config', `the config ${path} is not a raic config (or is damaged)`);
  }
  return c as LocalConfig;
}

/** Written atomically (temp + rename) so an interrupted init never leaves half a config. */
export async function writeLocalConfig(path: string, config: LocalConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
