/** Opening the configured array and unlocking its keys — the first step of every command but init. */
import { ObjectCache, defaultCacheRoot, prepareCacheRoot, type CacheMode } from '../cache/index.js';
import { RaicError } from '../errors.js';
import type { Provider } from '../providers/index.js';
import {
  FORGOTTEN_PREFIX,
  FORWARD_PREFIX,
  KEYS_PREFIX,
  LOCKS_PREFIX,
  REMOVED_KEYS_PREFIX,
  RaicArray,
  SNAPSHOTS_PREFIX,
  repoKeys,
  startEarlyKek,
  unlockKey,
  unlockMaster,
  type CacheChoice,
  type EarlyKek,
  type RepoKeys,
  type Tuning,
  type UnlockedKey,
} from '../store/index.js';
import { readLocalConfig } from './local-config.js';

/** The local metadata cache a command runs with (issue 11). */
export interface CacheSetting {
  /** false: `--no-cache`. */
  enabled: boolean;
  /** Root directory (`--cache-dir`); default $XDG_CACHE_HOME/raic or ~/.cache/raic. */
  dir?: string | undefined;
  /** check and repair `refresh`: they must see what members hold now. Default `use`. */
  mode?: CacheMode;
}

export interface OpenOptions {
  configPath: string;
  tuning?: Partial<Tuning>;
  /** Members that must be usable to proceed (default k). */
  need?: number | undefined;
  /** Wraps each provider (tests inject faults here). */
  wrap?: (p: Provider) => Provider;
  /** Without it, no cache (library callers opt in; the CLI does unless --no-cache). */
  cache?: CacheSetting | undefined;
  /** What the caller lists first, listed while the members' configs are read (FIRST_LISTINGS). */
  firstListings?: FirstListings;
  /**
   * The passphrase, asked once the local config is read: Argon2 then starts on the parameters this host last
   * opened the array with (a note in its cache) while the members are reached, and unlockArray needs no
   * passphrase of its own.
   */
  passphrase?: () => Promise<string>;
}

/**
 * The listings a command makes first, started as the array opens so their round trips overlap the config reads
 * and the KDF (Members.listAhead): `unlock` the key objects; `lock` those and the locks (backup and put take a
 * shared lock right after the KDF: its first scan may be that old, the lock protocol lists again after writing
 * ours); `catalog` the key objects and the catalog (snapshots), `read` those and the forwarding records (restore
 * and ls of a snapshot id: they take no lock, so nothing they list must follow one; given a capability they
 * list only the forwarding records). Listings a locked run makes after its lock — the catalog, the
 * index — are never listed ahead.
 */
export type FirstListings = 'unlock' | 'lock' | 'catalog' | 'read' | 'forwards';

const UNLOCK_LISTINGS = [KEYS_PREFIX, REMOVED_KEYS_PREFIX];
const CATALOG_LISTINGS = [...UNLOCK_LISTINGS, SNAPSHOTS_PREFIX, FORGOTTEN_PREFIX];

const FIRST_LISTINGS: Record<FirstListings, readonly string[]> = {
  unlock: UNLOCK_LISTINGS,
  lock: [...UNLOCK_LISTINGS, LOCKS_PREFIX],
  catalog: CATALOG_LISTINGS,
  read: [...CATALOG_LISTINGS, FORWARD_PREFIX],
  forwards: [FORWARD_PREFIX],
};

/**
 * The cache root to use, made if missing; null when disabled. A default root that cannot be made (a read-only
 * home) means running without a cache; a directory the user named that cannot be made is their mistake.
 */
export function cacheChoice(setting: CacheSetting | undefined): CacheChoice | null {
  if (!setting?.enabled) return null;
  const root = setting.dir ?? defaultCacheRoot();
  try {
    prepareCacheRoot(root);
  } catch (err) {
    if (setting.dir === undefined) return null;
    throw new RaicError('Usage', `cannot use the cache directory ${root}: ${(err as Error).message}`, { hint: 'name a writable directory with --cache-dir, or run with --no-cache' });
  }
  return { root, mode: setting.mode ?? 'use' };
}

/** The passphrase an array was opened with (OpenOptions.passphrase) and the Argon2 run started on it. */
const givenPassphrases = new WeakMap<RaicArray, { passphrase: string; early: EarlyKek | null }>();

export async function openConfiguredArray(opts: OpenOptions): Promise<RaicArray> {
  const config = await readLocalConfig(opts.configPath);
  const cache = cacheChoice(opts.cache);
  let given: { passphrase: string; early: EarlyKek | null } | null = null;
  if (opts.passphrase) {
    const passphrase = await opts.passphrase();
    given = { passphrase, early: cache ? startEarlyKek(ObjectCache.inRoot(cache.root, config.arrayId, [], cache.mode), passphrase) : null };
  }
  const array = await RaicArray.open({ arrayId: config.arrayId, k: config.k, n: config.n, ...(config.minMembers !== undefined ? { minMembers: config.minMembers } : {}) }, config.members, {
    ...(opts.tuning ? { tuning: opts.tuning } : {}),
    ...(opts.wrap ? { wrap: opts.wrap } : {}),
    ...(opts.need !== undefined ? { need: opts.need } : {}),
    ...withCache(cache),
    ...(opts.firstListings ? { listAhead: FIRST_LISTINGS[opts.firstListings] } : {}),
  }).catch(async (err: unknown) => {
    await given?.early?.kek; // not left running (64 MiB) while the error is reported
    throw err;
  });
  if (given) givenPassphrases.set(array, given);
  return array;
}

const withCache = (cache: CacheChoice | null): { cache?: CacheChoice } => (cache ? { cache } : {});

/** The array's keys, from `passphrase` or the one it was opened with (OpenOptions.passphrase). */
export async function unlockArray(array: RaicArray, passphrase?: string): Promise<RepoKeys> {
  const given = givenPassphrases.get(array);
  const pass = passphrase ?? given?.passphrase;
  if (pass === undefined) throw new RaicError('Usage', 'unlockArray: no passphrase given');
  return repoKeys(await unlockMaster(array.members, pass, array.shape.arrayId, pass === given?.passphrase ? given.early : undefined));
}

/** As unlockArray, and which key object the passphrase opened (`raic key` needs it). */
export async function unlockArrayKey(array: RaicArray, passphrase: string): Promise<{ keys: RepoKeys; current: UnlockedKey }> {
  const current = await unlockKey(array.members, passphrase, array.shape.arrayId);
  return { keys: repoKeys(current.master), current };
}
