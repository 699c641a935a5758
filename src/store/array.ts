/**
 * RaicArray: an opened array — its shape, its members (slot i holds share i) and the pool that encodes
 * and decodes stripes. Opening reads each member's public config and sets aside members that are
 * unreachable or hold another array, so every later failure message can name them.
 */
import { ObjectCache, type CacheMode } from '../cache/index.js';
import { RaicError, isRaicError } from '../errors.js';
import type { Provider } from '../providers/index.js';
import { FORMAT_VERSION, UnsupportedVersion, parseArrayConfig, type ArrayConfig } from './array-config.js';
import { CACHED_PREFIXES, CONFIG_KEY } from './layout.js';
import { Members } from './members.js';
import { messageOf } from './replicated.js';
import { CodecPool } from './codec-pool.js';
import { defaultTuning, type Tuning } from './tuning.js';

export interface ArrayShape {
  arrayId: string;
  k: number;
  n: number;
  /** Write quorum: members that must store every object for a write to commit (k ≤ minMembers ≤ n). */
  minMembers?: number;
}

/** Default write quorum: one member of slack beyond k (so a just-written stripe survives one loss), at most n. */
export function defaultMinMembers(k: number, n: number): number {
  return Math.min(n, k + 1);
}

/** A local cache for the run: its root directory (the array's own directory is made below it) and mode. */
export interface CacheChoice {
  root: string;
  mode: CacheMode;
}

export class RaicArray {
  private poolInstance: CodecPool | null = null;

  private constructor(
    readonly shape: ArrayShape,
    readonly members: Members,
    readonly tuning: Tuning,
  ) {}

  get k(): number {
    return this.shape.k;
  }

  get n(): number {
    return this.shape.n;
  }

  /** Members that must store each object for a write to commit; the rest is repair debt. */
  get writeQuorum(): number {
    return Math.max(this.shape.k, Math.min(this.shape.n, this.shape.minMembers ?? defaultMinMembers(this.shape.k, this.shape.n)));
  }

  get pool(): CodecPool {
    return (this.poolInstance ??= new CodecPool(this.tuning.workers));
  }

  /** Starts the worker threads now (they load their modules meanwhile), rather than at their first job. */
  startWorkers(): void {
    void this.pool;
  }

  /**
   * Opens the members listed (in share order) and checks each holds this array at its index.
   * Rejects `Quorum` (naming the unusable members) when fewer than `need` (default k) are usable.
   */
  static async open(shape: ArrayShape, urls: readonly string[], opts: { tuning?: Partial<Tuning>; need?: number; wrap?: (p: Provider) => Provider; cache?: CacheChoice; listAhead?: readonly string[] } = {}): Promise<RaicArray> {
    if (urls.length !== shape.n) throw new RaicError('Config', `the config lists ${urls.length} members but the array has n=${shape.n}`);
    const cache = opts.cache ? ObjectCache.inRoot(opts.cache.root, shape.arrayId, CACHED_PREFIXES, opts.cache.mode) : null;
    const members = await Members.open(urls, opts.wrap, cache);
    // The caller's first listings run while the configs are read (see Members.listAhead for which may).
    if (opts.listAhead) members.listAhead(opts.listAhead);
    await verifyMembers(members, shape);
    const array = new RaicArray(shape, members, defaultTuning(opts.tuning));
    try {
      members.requireUp(opts.need ?? shape.k, 'cannot use the array');
    } catch (err) {
      await array.close();
      throw err;
    }
    return array;
  }

  static fromMembers(shape: ArrayShape, members: Members, tuning?: Partial<Tuning>): RaicArray {
    return new RaicArray(shape, members, defaultTuning(tuning));
  }

  async close(): Promise<void> {
    await this.poolInstance?.close();
    this.poolInstance = null;
    await this.members.close();
  }
}

/**
 * Reads `config` from every up member; marks down those that lack it or disagree. When k or more members hold
 * the array in another format version, rejects with that one line (one member's old config only marks it down).
 */
export async function verifyMembers(members: Members, shape: ArrayShape): Promise<void> {
  const otherVersion: UnsupportedVersion[] = [];
  await Promise.all(
    members.up().map(async (slot) => {
      let config: ArrayConfig;
      try {
        config = parseArrayConfig(await members.call(slot.index, (p) => p.get(CONFIG_KEY)), slot.url);
      } catch (err) {
        if (err instanceof UnsupportedVersion) otherVersion.push(err);
        if (isRaicError(err, 'NotFound')) members.markDown(slot.index, 'holds no raic array (deleted or empty?)');
        else members.markDown(slot.index, messageOf(err));
        return;
      }
      if (config.arrayId !== shape.arrayId) members.markDown(slot.index, `holds a different array (${config.arrayId})`);
      else if (config.member !== slot.index || config.k !== shape.k || config.n !== shape.n) {
        members.markDown(slot.index, `holds share ${config.member} of a ${config.k}-of-${config.n} array, the config expects share ${slot.index} of ${shape.k}-of-${shape.n}`);
      }
    }),
  );
  if (otherVersion.length >= shape.k) {
    throw new RaicError('Permanent', `this array is in format version ${String(otherVersion[0]!.version)}; this raic reads version ${FORMAT_VERSION} only`, {
      hint: 'use the raic release that made the array to restore from it, then back up into a new array',
    });
  }
}
