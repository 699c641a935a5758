/** Opening the configured array and unlocking its keys — the first step of every command but init. */
import type { Provider } from '../providers/index.js';
import { RaicArray, repoKeys, unlockMaster, type RepoKeys, type Tuning } from '../store/index.js';
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
