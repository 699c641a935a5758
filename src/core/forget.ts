/**
 * forget: apply a retention policy to the snapshots (backups; files stored with put are not
 * snapshots and are kept) and remove the records of those it does not keep. Data is freed by prune.
 * Runs under the exclusive lock; before each record's removal (its tombstone, then the record) it confirms
 * the lock is still held (`confirmLock`), and stops there if not.
 */
import { abortError } from '../errors.js';
import { applyRetention, type RetentionDecision, type RetentionPolicy } from './retention.js';
import { readCatalog, removeCatalogRecord, type CatalogRecord } from './catalog.js';
import type { RaicArray, RepoKeys } from '../store/index.js';

export interface ForgetResult {
  keep: { id: string; time: string; host: string; paths: string[]; reasons: string[] }[];
  remove: { id: string; time: string; host: string; paths: string[] }[];
  dryRun: boolean;
}

export interface ForgetOptions {
  dryRun: boolean;
  host?: string | undefined;
  /** Stops before the next removal when aborted (e.g. the exclusive lock was lost). */
  signal?: AbortSignal;
  /** The exclusive lock's confirm(): called before each record is removed; when it rejects, forget stops there. */
  confirmLock?: () => Promise<void>;
}

export async function forget(array: RaicArray, keys: RepoKeys, policy: RetentionPolicy, opts: ForgetOptions): Promise<ForgetResult> {
  const records = (await readCatalog(array, keys)).filter((r) => r.kind === 'tree' && (!opts.host || r.host === opts.host));
  const byId = new Map(records.map((r) => [r.manifestId, r]));
  const decision: RetentionDecision = applyRetention(
    records.map((r) => ({ id: r.manifestId, time: new Date(r.time), host: r.host, paths: r.paths, tags: r.tags })),
    policy,
  );
  const brief = (r: CatalogRecord) => ({ id: r.manifestId, time: r.time, host: r.host, paths: r.paths });
  if (!opts.dryRun) {
    array.members.requireUp(array.n, 'cannot forget (every member must be reachable, or a removed record would survive on one)');
    for (const s of decision.remove) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      await opts.confirmLock?.();
      await removeCatalogRecord(array, keys, s.id);
    }
  }
  return {
    keep: decision.keep.map((k) => ({ ...brief(byId.get(k.snapshot.id)!), reasons: k.reasons })),
    remove: decision.remove.map((s) => brief(byId.get(s.id)!)),
    dryRun: opts.dryRun,
  };
}
