/**
 * The catalog: one sealed record per snapshot (`raic backup`) and per put file, replicated on every
 * member as `snapshots/<manifest id>`. A record holds the capability of what it names, so the
 * passphrase opens everything; the record is written last — it is the commit point of a backup.
 */
import { hostname } from 'node:os';
import { RaicError } from '../errors.js';
import { open, seal } from '../crypto/index.js';
import { SNAPSHOTS_PREFIX, getFromAny, idOfKey, listUnion, putOnAll, snapshotKey, type RaicArray, type RepoKeys } from '../store/index.js';

export interface SnapshotStats {
  files: number;
  dirs?: number;
  /** Plaintext bytes the snapshot describes. */
  bytes: number;
  /** Plaintext bytes that were new to the array. */
  newBytes: number;
}

export interface CatalogRecord {
  kind: 'file' | 'tree';
  /** Hex id of the manifest; the record's id. */
  manifestId: string;
  capability: string;
  time: string;
  host: string;
  paths: string[];
  tags: string[];
  stats: SnapshotStats;
  /** Manifest id of the parent snapshot used for change detection, if any. */
  parent?: string;
}

const AD = Buffer.from('raic catalog v1');

export async function writeCatalogRecord(array: RaicArray, keys: RepoKeys, rec: Omit<CatalogRecord, 'host'> & { host?: string | undefined }): Promise<CatalogRecord> {
  const full: CatalogRecord = { ...rec, host: rec.host ?? hostname() };
  await putOnAll(array.members, snapshotKey(full.manifestId), seal(keys.catalog, Buffer.from(JSON.stringify(full)), AD), 'snapshot record', array.writeQuorum);
  return full;
}

/** Every record found on any up member, oldest first. */
export async function readCatalog(array: RaicArray, keys: RepoKeys): Promise<CatalogRecord[]> {
  const records: CatalogRecord[] = [];
  for (const key of (await listUnion(array.members, SNAPSHOTS_PREFIX)).keys()) {
    records.push(
      await getFromAny(array.members, key, `snapshot record ${idOfKey(key).slice(0, 8)}`, (bytes) => JSON.parse(Buffer.from(open(keys.catalog, bytes, AD)).toString('utf8')) as CatalogRecord),
    );
  }
  return records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.manifestId.localeCompare(b.manifestId)));
}

/** The record named by an id prefix (≥ 4 hex chars) or "latest" (optionally per host/paths). */
export function findRecord(records: readonly CatalogRecord[], ref: string, filter: { host?: string | undefined; kind?: 'tree' | 'file' } = {}): CatalogRecord {
  const pool = records.filter((r) => (!filter.kind || r.kind === filter.kind) && (!filter.host || r.host === filter.host));
  if (ref === 'latest') {
    const last = pool.at(-1);
    if (!last) throw new RaicError('NotFound', 'there are no snapshots yet', { hint: 'run raic backup first' });
    return last;
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new RaicError('Usage', `"${ref}" is not a snapshot id (hex, at least 4 characters) or "latest"`);
  const matches = pool.filter((r) => r.manifestId.startsWith(ref));
  if (matches.length === 0) throw new RaicError('NotFound', `no snapshot ${ref}`, { hint: 'raic snapshots lists them' });
  if (matches.length > 1) throw new RaicError('Usage', `snapshot id ${ref} is ambiguous (${matches.length} match); give more characters`);
  return matches[0]!;
}

export async function removeCatalogRecord(array: RaicArray, manifestId: string): Promise<void> {
  await Promise.all(array.members.up().map((s) => array.members.call(s.index, (p) => p.delete(snapshotKey(manifestId)))));
}

/** The latest snapshot of the same host and the same set of paths: the parent for change detection. */
export function findParent(records: readonly CatalogRecord[], host: string, paths: readonly string[]): CatalogRecord | undefined {
  const want = [...paths].sort().join('\0');
  return records.filter((r) => r.kind === 'tree' && r.host === host && [...r.paths].sort().join('\0') === want).at(-1);
}
