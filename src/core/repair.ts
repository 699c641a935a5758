/**
 * repair: put back what members lost. Replicated objects (config, keys and key tombstones, member lists,
 * manifests, catalog records) missing on a member are copied from another member (content-addressed ones checked against their
 * hash). An erasure-coded object (pack, index segment) missing, of the wrong size or (with readData) corrupt
 * on member i is rebuilt byte-identical: its body is read from k members and verified region by region
 * against the table k members agree on, encoded again, and member i's share and table written. Nothing else
 * is ever rewritten.
 *
 * `index` first rebuilds the index from the packs' own trailers (when it is lost or damaged everywhere).
 * Egress costs money: bytes downloaded and uploaded are counted, and `maxDownloadBytes` stops the run
 * (cleanly, between packs) once it is reached.
 *
 * Runs under the exclusive lock: before its first write or delete, and again before every WRITES_PER_CONFIRM
 * more, it confirms the lock is still held (`confirmLock`); if not, it stops there, writing nothing more.
 */
import { forgottenIds } from './catalog.js';
import { RaicError, abortError, isRaicError } from '../errors.js';
import { hash } from '../crypto/index.js';
import { loadErasureCodec } from '../erasure/index.js';
import {
  FORGOTTEN_PREFIX,
  FORWARD_PREFIX,
  ForwardRecord,
  REMOVED_KEYS_PREFIX,
  isKeyTombstone,
  loadIndex,
  parseKeyObject,
  removedKeyIds,
  CONFIG_KEY,
  INDEX_PREFIX,
  KEYS_PREFIX,
  MANIFESTS_PREFIX,
  MEMBERS_PREFIX,
  SNAPSHOTS_PREFIX,
  encodeArrayConfig,
  idOfKey,
  newArrayConfig,
  packKey,
  parseArrayConfig,
  parseForwardKey,
  PackReader,
  encodePack,
  readIndexSegment,
  readPackTrailer,
  regionsMatch,
  sameTable,
  segmentTableId,
  writeIndexSegment,
  type CodedTable,
  type ChunkRef,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';

export interface RepairOptions {
  dryRun?: boolean;
  /** Download and verify every share of every pack (finds corruption; costs egress). */
  readData?: boolean;
  /** Rebuild the index from the packs' trailers first. */
  index?: boolean;
  maxDownloadBytes?: number;
  /** Stops before the next write or delete when aborted (e.g. the exclusive lock was lost). */
  signal?: AbortSignal;
  /**
   * The exclusive lock's confirm(): called before the first write or delete and before every
   * WRITES_PER_CONFIRM more; when it rejects, repair stops there.
   */
  confirmLock?: () => Promise<void>;
}

/** Writes and deletes (each on one member) between two confirmations of the lock, as prune's delete batches. */
const WRITES_PER_CONFIRM = 100;

export interface RepairAction {
  member: number;
  url: string;
  key: string;
  reason: string;
}

export interface RepairResult {
  dryRun: boolean;
  copied: RepairAction[];
  rebuilt: RepairAction[];
  unrepairable: RepairAction[];
  /** Members that could not be reached: nothing on them was checked or repaired. */
  down: string[];
  bytesDownloaded: number;
  bytesUploaded: number;
  /** Stopped early because maxDownloadBytes was reached. */
  limitReached: boolean;
  index?: { segmentsWritten: number; refs: number; damagedSegmentsRemoved: number };
}

const REPLICATED = [KEYS_PREFIX, REMOVED_KEYS_PREFIX, MEMBERS_PREFIX, MANIFESTS_PREFIX, SNAPSHOTS_PREFIX, FORGOTTEN_PREFIX, FORWARD_PREFIX];
const contentAddressed = (key: string): boolean => key.startsWith(MANIFESTS_PREFIX);
/** Small objects whose copies are always checked before one is copied: key objects, their tombstones, forwarding records. */
const alwaysVerified = (key: string): boolean => key.startsWith(KEYS_PREFIX) || key.startsWith(REMOVED_KEYS_PREFIX) || key.startsWith(FORWARD_PREFIX);
/** Whether a copy is sound as far as can be told (content hash; a key object's name and shape; a key tombstone opens). */
function soundCopy(key: string, bytes: Buffer, master: Buffer): boolean {
  if (contentAddressed(key)) return hash(bytes).equals(Buffer.from(idOfKey(key), 'hex'));
  if (key.startsWith(KEYS_PREFIX)) return parseKeyObject(key, bytes) !== null;
  if (key.startsWith(REMOVED_KEYS_PREFIX)) return isKeyTombstone(master, idOfKey(key), bytes);
  if (key.startsWith(FORWARD_PREFIX)) {
    const named = parseForwardKey(key);
    if (!named) return false;
    try {
      ForwardRecord.decode(Buffer.from(named.pack, 'hex'), named.generation, bytes);
      return true;
    } catch {
      return false;
    }
  }
  return true;
}

class Egress {
  down = 0;
  up = 0;
  constructor(private readonly limit: number) {}
  get exhausted(): boolean {
    return this.down >= this.limit;
  }
}

export async function repair(array: RaicArray, keys: RepoKeys, opts: RepairOptions = {}): Promise<RepairResult> {
  const { members, k, n } = array;
  members.requireUp(k, 'cannot repair');
  const egress = new Egress(opts.maxDownloadBytes ?? Number.POSITIVE_INFINITY);
  const beforeWrite = lockGate(opts);
  const result: RepairResult = { dryRun: opts.dryRun ?? false, copied: [], rebuilt: [], unrepairable: [], down: [], bytesDownloaded: 0, bytesUploaded: 0, limitReached: false };
  const url = (i: number): string => members.slots[i]!.url;
  const get = async (i: number, key: string, range?: { offset: number; length: number }): Promise<Buffer> => {
    const bytes = await members.call(i, (p) => p.get(key, range));
    egress.down += bytes.length;
    return bytes;
  };
  const put = async (i: number, key: string, body: Uint8Array): Promise<void> => {
    if (result.dryRun) return;
    await beforeWrite();
    await members.call(i, (p) => p.delete(key));
    await members.call(i, (p) => p.put(key, body));
    egress.up += body.length;
  };

  if (opts.index) result.index = await rebuildIndex(array, keys, result.dryRun, beforeWrite);

  // What each up member holds: key → size.
  const listings = new Map<number, Map<string, number>>();
  for (const slot of members.up()) {
    try {
      const m = new Map<string, number>();
      await members.call(slot.index, async (p) => {
        for await (const o of p.list('')) m.set(o.key, o.size);
      });
      listings.set(slot.index, m);
    } catch {
      // marked down by members.call when unreachable
    }
  }
  const upMembers = [...listings.keys()];
  result.down = members.slots.filter((s) => !listings.has(s.index)).map((s) => s.url);
  if (upMembers.length < k) throw new RaicError('Quorum', `cannot repair: only ${upMembers.length} members answered, ${k} needed`);

  // 1. The member-specific public config.
  const template = await firstConfig(array, upMembers);
  for (const i of upMembers) {
    if (listings.get(i)!.has(CONFIG_KEY)) continue;
    await put(i, CONFIG_KEY, encodeArrayConfig(newArrayConfig(template.arrayId, k, n, i, template.createdAt)));
    result.copied.push({ member: i, url: url(i), key: CONFIG_KEY, reason: 'missing' });
  }

  // 2. Replicated objects. A record of a forgotten snapshot (a member rolled back to before the forget replays
  // it) is never copied: it is deleted where it is found; so is a removed key object (`raic key remove` / `passwd`
  // while the member was down). A key tombstone no member holds soundly is a forgery: not spread.
  // Leftovers are not damage and are not spread: the manifest of a forgotten snapshot.
  const replicated = new Set<string>();
  for (const m of listings.values()) for (const key of m.keys()) if (REPLICATED.some((p) => key.startsWith(p))) replicated.add(key);
  const catalogued = [...replicated].filter((key) => key.startsWith(SNAPSHOTS_PREFIX) || key.startsWith(MANIFESTS_PREFIX)).map(idOfKey);
  const forgotten = await forgottenIds(array, keys, catalogued);
  const removedKeys = await removedKeyIds(members, keys.master, [...replicated].filter((key) => key.startsWith(REMOVED_KEYS_PREFIX)).map(idOfKey));
  const deleteWhereFound = async (key: string, reason: string): Promise<void> => {
    for (const i of upMembers) {
      if (!listings.get(i)!.has(key)) continue;
      if (!result.dryRun) {
        await beforeWrite();
        await members.call(i, (p) => p.delete(key));
      }
      result.copied.push({ member: i, url: url(i), key, reason });
    }
  };
  for (const key of [...replicated].sort()) {
    if (key.startsWith(MANIFESTS_PREFIX) && forgotten.has(idOfKey(key))) continue;
    if (key.startsWith(REMOVED_KEYS_PREFIX) && !removedKeys.has(idOfKey(key))) continue;
    if (key.startsWith(SNAPSHOTS_PREFIX) && forgotten.has(idOfKey(key))) {
      await deleteWhereFound(key, 'forgotten (a replayed record): deleted');
      continue;
    }
    if (key.startsWith(KEYS_PREFIX) && removedKeys.has(idOfKey(key))) {
      await deleteWhereFound(key, 'removed key (a stale copy): deleted');
      continue;
    }
    const good = async (i: number): Promise<Buffer | null> => {
      try {
        const bytes = await get(i, key);
        return soundCopy(key, bytes, keys.master) ? bytes : null;
      } catch (err) {
        // Integrity: a copy the member would not serve whole (over MAX_OBJECT_BYTES) is no sound copy.
        if (isRaicError(err, 'NotFound') || isRaicError(err, 'Integrity')) return null;
        throw err;
      }
    };
    const needs: { member: number; reason: string }[] = [];
    for (const i of upMembers) {
      if (!listings.get(i)!.has(key)) needs.push({ member: i, reason: 'missing' });
      else if (((opts.readData && contentAddressed(key)) || alwaysVerified(key)) && !(await good(i))) needs.push({ member: i, reason: 'corrupt' });
    }
    if (needs.length === 0) continue;
    let source: Buffer | null = null;
    for (const i of upMembers) if (!needs.some((x) => x.member === i) && (source = await good(i))) break;
    for (const need of needs) {
      if (!source) result.unrepairable.push({ member: need.member, url: url(need.member), key, reason: 'no intact copy on any member' });
      else {
        await put(need.member, key, source);
        result.copied.push({ member: need.member, url: url(need.member), key, reason: need.reason });
      }
    }
  }

  // 3. Erasure-coded objects: index segments at least k members list (fewer: an interrupted run's, or a stale
  // one a rolled-back member still serves — leftovers, not spread), then every pack any member holds. A pack
  // fewer than k members hold cannot be rebuilt: damage when the committed index names it, else a leftover.
  const reader = new PackReader(members, k);
  const holding = (prefix: string): Map<string, number[]> => {
    const out = new Map<string, number[]>();
    for (const [i, m] of listings) for (const key of m.keys()) if (key.startsWith(prefix)) (out.get(key) ?? out.set(key, []).get(key)!).push(i);
    return out;
  };
  const segments = [...holding(INDEX_PREFIX)].filter(([, holders]) => holders.length >= k);
  // (An index that cannot be read leaves every such pack reported, as before.)
  const index = await loadIndex(members, k, keys.index, segments.map(([key]) => key)).catch(() => null);
  const indexed = index ? new Set([...index.values()].map((r) => packKey(r.pack.toString('hex')))) : null;
  const packs = [...holding('packs/')].filter(([key, holders]) => holders.length >= k || !indexed || indexed.has(key));
  const coded = [...segments.map(([key]): [string, Buffer] => [key, segmentTableId(idOfKey(key))]), ...packs.map(([key]): [string, Buffer] => [key, Buffer.from(idOfKey(key), 'hex')])];
  for (const [key, id] of coded.sort(([a], [b]) => a.localeCompare(b))) {
    if (egress.exhausted) {
      result.limitReached = true;
      break;
    }
    let t: CodedTable;
    try {
      t = await reader.table(key, id);
    } catch (err) {
      for (const i of upMembers) result.unrepairable.push({ member: i, url: url(i), key, reason: `no ${k} members agree on its table (${(err as Error).message})` });
      continue;
    }
    egress.down += k * t.dataStart;
    const size = t.dataStart + t.table.shareLen;
    const damaged: { member: number; reason: string }[] = [];
    for (const i of upMembers) {
      const have = listings.get(i)!.get(key);
      if (have === undefined) damaged.push({ member: i, reason: 'missing' });
      else if (have !== size) damaged.push({ member: i, reason: `wrong size (${have} of ${size} bytes)` });
      else if (opts.readData) {
        const bytes = await get(i, key).catch((err: unknown) => (isRaicError(err, 'Integrity') ? null : Promise.reject(err)));
        if (!bytes || !sameTable(bytes, t) || !regionsMatch(t.table, i, 0, bytes.subarray(t.dataStart))) damaged.push({ member: i, reason: 'corrupt share' });
      }
    }
    if (damaged.length === 0) continue;
    try {
      const objects = await rebuildObjects(reader, key, id, t);
      egress.down += k * t.table.shareLen;
      for (const d of damaged) {
        await put(d.member, key, objects[d.member]!);
        result.rebuilt.push({ member: d.member, url: url(d.member), key, reason: d.reason });
      }
    } catch (err) {
      for (const d of damaged) result.unrepairable.push({ member: d.member, url: url(d.member), key, reason: (err as Error).message });
    }
  }
  result.bytesDownloaded = egress.down;
  result.bytesUploaded = egress.up;
  return result;
}

/** Every member's object, regenerated byte-identical from the body k members' verified shares give. */
async function rebuildObjects(reader: PackReader, key: string, id: Buffer, t: CodedTable): Promise<Buffer[]> {
  const { body } = await reader.readBody(key, id);
  const coded = encodePack(body, await loadErasureCodec(t.table.k, t.table.n), id, t.table.trailerBytes, t.table.regionBytes);
  if (!coded.tableBytes.equals(t.tableBytes)) throw new RaicError('Integrity', 'the rebuilt object does not match its table');
  return coded.objects;
}

async function firstConfig(array: RaicArray, upMembers: number[]): Promise<{ arrayId: string; createdAt: string }> {
  for (const i of upMembers) {
    try {
      const c = parseArrayConfig(await array.members.call(i, (p) => p.get(CONFIG_KEY)), array.members.slots[i]!.url);
      if (c.arrayId === array.shape.arrayId) return c;
    } catch {
      // next member
    }
  }
  return { arrayId: array.shape.arrayId, createdAt: new Date().toISOString() };
}

/**
 * Before each write or delete (on one member): stops if `signal` aborted, and confirms the lock before the
 * first and before every WRITES_PER_CONFIRM more.
 */
function lockGate(opts: Pick<RepairOptions, 'signal' | 'confirmLock'>): () => Promise<void> {
  let sinceConfirmed = WRITES_PER_CONFIRM;
  return async () => {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    if (sinceConfirmed >= WRITES_PER_CONFIRM) {
      await opts.confirmLock?.();
      sinceConfirmed = 0;
    }
    sinceConfirmed += 1;
  };
}

/** Index recovery: every pack's trailer becomes index entries; segments that cannot be decoded are removed. */
async function rebuildIndex(array: RaicArray, keys: RepoKeys, dryRun: boolean, beforeWrite: () => Promise<void>): Promise<{ segmentsWritten: number; refs: number; damagedSegmentsRemoved: number }> {
  const { members } = array;
  const reader = new PackReader(members, array.k);
  const packs = new Set<string>();
  const segments = new Map<string, number[]>();
  for (const slot of members.up()) {
    await members.call(slot.index, async (p) => {
      for await (const o of p.list('packs/')) packs.add(idOfKey(o.key));
      for await (const o of p.list(INDEX_PREFIX)) (segments.get(o.key) ?? segments.set(o.key, []).get(o.key)!).push(slot.index);
    });
  }
  const refs: ChunkRef[] = [];
  for (const packHex of packs) {
    try {
      refs.push(...(await readPackTrailer(reader, packHex, keys.index)));
    } catch {
      // a pack without a readable trailer names nothing
    }
  }
  let damaged = 0;
  for (const [key, holders] of segments) {
    try {
      await readIndexSegment(reader, keys.index, idOfKey(key));
    } catch (err) {
      // Only a segment that decodes to the wrong bytes is removed; one that cannot be read now may be fine later.
      if (!isRaicError(err, 'Integrity')) continue;
      damaged += 1;
      if (dryRun) continue;
      for (const i of holders) {
        await beforeWrite();
        await members.call(i, (p) => p.delete(key));
      }
    }
  }
  let written = 0;
  if (!dryRun) {
    for (let at = 0; at < refs.length; at += array.tuning.indexSegmentEntries) {
      await beforeWrite();
      await writeIndexSegment(members, array.k, keys.index, refs.slice(at, at + array.tuning.indexSegmentEntries));
      written += 1;
    }
  }
  return { segmentsWritten: written, refs: refs.length, damagedSegmentsRemoved: damaged };
}
