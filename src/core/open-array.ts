/** Opening the configured array and unlocking its keys — the first step of every command but init. */
import type { Provider } from '../providers/index.js';
import { RaicArray, repoKeys, unlockKey, unlockMaster, type RepoKeys, type Tuning, type UnlockedKey } from '../store/index.js';
import { readLocalConfig } from './local-config.js';

export interface OpenOptions {
  configPath: string;
  tuning?: Partial<Tuning>;
  /** Members that must be usable to proceed (default k). */
  need?: number | undefined;
  /** Wraps each provider (tests inject faults here). */
  wrap?: (p: Provider) => Provider;
}

export async function openConfiguredArray(opts: OpenOptions): Promise<RaicArray> {
  const config = await readLocalConfig(opts.configPath);
  return RaicArray.open({ arrayId: config.arrayId, k: config.k, n: config.n, ...(config.minMembers !== undefined ? { minMembers: config.minMembers } : {}) }, config.members, {
    ...(opts.tuning ? { tuning: opts.tuning } : {}),
    ...(opts.wrap ? { wrap: opts.wrap } : {}),
    ...(opts.need !== undefined ? { need: opts.need } : {}),
  });
}

export async function unlockArray(array: RaicArray, passphrase: string): Promise<RepoKeys> {
  return repoKeys(await unlockMaster(array.members, passphrase, array.shape.arrayId));
}

/** As unlockArray, and which key object the passphrase opened (`raic key` needs it). */
export async function unlockArrayKey(array: RaicArray, passphrase: string): Promise<{ keys: RepoKeys; current: UnlockedKey }> {
  const current = await unlockKey(array.members, passphrase, array.shape.arrayId);
  return { keys: repoKeys(current.master), current };
}
