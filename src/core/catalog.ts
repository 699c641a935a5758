/**
 * The catalog: one sealed record per snapshot (`raic backup`) and per put file, replicated on every
 * member as `snapshots/<manifest id>`. A record holds the capability of what it names, so the
 * passphrase opens everything; the record is written last — it is the commit point of a backup.
 *
 * What one member says does not decide what exists: a record must open under the catalog key and name the id
 * it is stored under; a key no member can supply soundly that fewer than k members list is a phantom (a
 * member's invention or a leftover), skipped, not an error. `forget` leaves a sealed tombstone
 * (`forgotten/<id>`) on every member before it deletes a record, and a record with a tombstone on any member
 * stays forgotten: a member rolled back to before the forget replays the record, but cannot remove the
 * tombstones the others hold, nor forge one.
 */
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { RaicError } from '../errors.js';
import { open, seal } from '../crypto/index.js';
import { FORGOTTEN_PREFIX, SNAPSHOTS_PREFIX, forgottenKey, getFromAny, idOfKey, listCounts, putOnAll, snapshotKey, tombstonedIds, type RaicArray, type RepoKeys } from '../store/index.js';

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
const TOMBSTONE_AD = 'raic forgotten v1 ';

export async function writeCatalogRecord(array: RaicArray, keys: RepoKeys, rec: Omit<CatalogRecord, 'host'> & { host?: string | undefined }): Promise<CatalogRecord> {
  const full: CatalogRecord = { ...rec, host: rec.host ?? hostname() };
  await putOnAll(array.members, snapshotKey(full.manifestId), seal(keys.catalog, Buffer.from(JSON.stringify(full)), AD), 'snapshot record', array.writeQuorum);
  return full;
}

/** A record as a member served it: it must open under the catalog key and name the id it is stored under. */
export function openRecord(keys: RepoKeys, id: string, bytes: Buffer): CatalogRecord {
  let rec: CatalogRecord;
  try {
    rec = JSON.parse(Buffer.from(open(keys.catalog, bytes, AD)).toString('utf8')) as CatalogRecord;
  } catch (cause) {
    throw new RaicError('Integrity', `snapshot record ${id.slice(0, 8)} does not open`, { cause });
  }
  if (!isRecordOf(rec, id)) throw new RaicError('Integrity', `snapshot record ${id.slice(0, 8)} is not the record of that snapshot`);
  return rec;
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStrings = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');

/**
 * Whether an opened record is a CatalogRecord naming `id`. It is authenticated, but commands read every field
 * (`snapshots` joins the tags, retention compares times, prune reads the capability): a record of another
 * shape must fail here, as damage, not later as a TypeError.
 */
function isRecordOf(rec: CatalogRecord | null, id: string): boolean {
  const stats = rec?.stats as Partial<Record<keyof SnapshotStats, unknown>> | null | undefined;
  return (
    typeof rec === 'object' &&
    rec !== null &&
    (rec.kind === 'file' || rec.kind === 'tree') &&
    rec.manifestId === id &&
    typeof rec.capability === 'string' &&
    typeof rec.time === 'string' &&
    typeof rec.host === 'string' &&
    isStrings(rec.paths) &&
    isStrings(rec.tags) &&
    (rec.parent === undefined || typeof rec.parent === 'string') &&
    typeof stats === 'object' &&
    stats !== null &&
    isCount(stats.files) &&
    isCount(stats.bytes) &&
    isCount(stats.newBytes) &&
    (stats.dirs === undefined || isCount(stats.dirs))
  );
}

/**
 * Of `candidates` (ids some member still lists a record or manifest for), those with a sound tombstone on some
 * up member: forgotten, whatever another member still lists. Only tombstones of candidates are read, so a run
 * costs one listing however many snapshots were ever forgotten.
 */
export async function forgottenIds(array: RaicArray, keys: RepoKeys, candidates: Iterable<string> | Promise<Iterable<string>>): Promise<Set<string>> {
  return tombstonedIds(array.members, FORGOTTEN_PREFIX, candidates, (id, bytes) => open(keys.catalog, bytes, Buffer.from(TOMBSTONE_AD + id)));
}

/**
 * Every committed record, oldest first: found on any up member, opened and bound to its id, not forgotten.
 * Rejects when a record that k or more members list cannot be read from any of them (real damage: commands
 * that act on the catalog must not act on a partial one).
 */
export async function readCatalog(array: RaicArray, keys: RepoKeys): Promise<CatalogRecord[]> {
  const listing = listCounts(array.members, SNAPSHOTS_PREFIX);
  const [listed, forgotten] = await Promise.all([listing, forgottenIds(array, keys, listing.then((l) => [...l.keys()].map(idOfKey)))]);
  const limit = pLimit(8);
  const read = await Promise.all(
    [...listed].map(([key, holders]) =>
      limit(async (): Promise<CatalogRecord | null> => {
        const id = idOfKey(key);
        if (forgotten.has(id)) return null;
        try {
          return await getFromAny(array.members, key, `snapshot record ${id.slice(0, 8)}`, (bytes) => openRecord(keys, id, bytes));
        } catch (err) {
          if (holders >= array.k) throw err;
          return null; // listed by fewer than k members and sound on none: a phantom or an interrupted write
        }
      }),
    ),
  );
  return oldestFirst(read.filter((r): r is CatalogRecord => r !== null));
}

/** A cached copy of a catalog record: member `member`'s object `key`, as this host's cache holds it. */
export interface CachedRecordCopy {
  member: number;
  key: string;
}

/**
 * The catalog records' copies this host's cache holds (those it wrote or read in earlier runs), found without the
 * keys: the cache is listed once, before the KDF, and opened once the keys are (cachedCatalog). Empty without a
 * cache, or when the cache is being refreshed.
 */
export function cachedRecordCopies(array: RaicArray): CachedRecordCopy[] {
  const cache = array.members.cache;
  if (!cache || cache.mode !== 'use') return [];
  return array.members.slots.flatMap((slot) => cache.cachedKeys(slot.index, SNAPSHOTS_PREFIX).map((key) => ({ member: slot.index, key })));
}

/**
 * The records of `copies` (cachedRecordCopies'), each opened and bound to its id like any copy; no member is
 * asked. A hint, never the truth: what is live is what the members list now (readCatalog).
 */
export function cachedCatalog(array: RaicArray, keys: RepoKeys, copies: readonly CachedRecordCopy[]): CatalogRecord[] {
  const cache = array.members.cache;
  if (!cache || cache.mode !== 'use') return [];
  const records = new Map<string, CatalogRecord>();
  for (const { member, key } of copies) {
    const id = idOfKey(key);
    if (records.has(id)) continue;
    const bytes = cache.peek(member, key); // a hint: not counted as served in the run's cache summary
    if (!bytes) continue;
    try {
      records.set(id, openRecord(keys, id, bytes));
    } catch {
      // not a sound record: another member's copy may be
    }
  }
  return oldestFirst([...records.values()]);
}

function oldestFirst(records: CatalogRecord[]): CatalogRecord[] {
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

/** Forgets a record: its tombstone on every member first (so no replay brings it back), then the record goes. */
export async function removeCatalogRecord(array: RaicArray, keys: RepoKeys, manifestId: string): Promise<void> {
  const tombstone = seal(keys.catalog, Buffer.from(new Date().toISOString()), Buffer.from(TOMBSTONE_AD + manifestId));
  await putOnAll(array.members, forgottenKey(manifestId), tombstone, 'tombstone', array.members.n);
  await Promise.all(array.members.up().map((s) => array.members.call(s.index, (p) => p.delete(snapshotKey(manifestId)))));
}

/** The latest snapshot of the same host and the same set of paths: the parent for change detection. */
export function findParent(records: readonly CatalogRecord[], host: string, paths: readonly string[]): CatalogRecord | undefined {
  const want = [...paths].sort().join('\0');
  return records.filter((r) => r.kind === 'tree' && r.host === host && [...r.paths].sort().join('\0') === want).at(-1);
}
