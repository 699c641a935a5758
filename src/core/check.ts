/**
 * check: is every object the array needs present, and (with readData) intact, on every member?
 *
 * With a capability: the file's manifest and every pack its chunks (and manifest pages) need.
 * Without: every pack the index names and every snapshot reaches, the index segments, plus every replicated
 * object (config, keys, member lists, manifests) — this needs the passphrase to read the index.
 * Erasure-coded objects (packs, index segments) are judged against the table k members agree on: structure
 * checks compare each member's size with it; readData downloads each member's share and checks it region by
 * region.
 */
import pLimit from 'p-limit';
import { hash } from '../crypto/index.js';
import { isRaicError } from '../errors.js';
import {
  CONFIG_KEY,
  FORGOTTEN_PREFIX,
  FORWARD_PREFIX,
  INDEX_PREFIX,
  KEYS_PREFIX,
  MANIFESTS_PREFIX,
  MEMBERS_PREFIX,
  REMOVED_KEYS_PREFIX,
  SNAPSHOTS_PREFIX,
  removedKeyIds,
  removedKeyKey,
  snapshotKey,
  ChunkReader,
  PackReader,
  idOfKey,
  parseKeyObject,
  listHeld,
  loadIndex,
  manifestKey,
  messageOf,
  packKey,
  regionsMatch,
  sameTable,
  segmentTableId,
  type ChunkEntry,
  type CodedTable,
  type ChunkRef,
  type FileCapability,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';
import { loadManifest } from './get.js';
import { readCatalog, type CatalogRecord } from './catalog.js';
import { forEachReachable, forEachReachableFrom } from './reachable.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import { RaicError } from '../errors.js';

export type ObjectProblem = 'missing' | 'corrupt';

export interface DamagedObject {
  key: string;
  problem: ObjectProblem;
  detail: string;
}

export interface MemberReport {
  member: number;
  url: string;
  /** Null when the member answered; otherwise why it could not be checked. */
  unreachable: string | null;
  present: number;
  missing: number;
  corrupt: number;
  damaged: DamagedObject[];
}

export interface CheckReport {
  ok: boolean;
  scope: 'file' | 'array';
  readData: boolean;
  /** Objects expected per member. */
  objects: number;
  /** Packs whose data was read (all with --read-data, a slice with --read-data-subset): count and ids. */
  packsRead: number;
  readPacks: string[];
  members: MemberReport[];
  /** Whole-array checks: how many members each snapshot could lose, as things stand. */
  snapshots?: SnapshotHealth[];
  /** Whole-array checks: objects of interrupted runs (never committed; prune removes them). */
  leftovers?: string[];
  /** Whole-array checks: copies of removed key objects some member still holds (they open nothing; repair deletes them). */
  removedKeys?: string[];
}

/**
 * Which packs have their data read: none (structure only: presence and size, by listing), all, or a
 * deterministic slice — slice N of M (packs whose id, as a number, is N−1 modulo M: M nightly runs cover
 * every pack exactly once) or a percentage (packs whose id falls in the first P% of the id space).
 */
export type DataSelection = boolean | { slice: number; of: number } | { percent: number };

export function parseDataSubset(text: string): DataSelection {
  const frac = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (frac) {
    const slice = Number(frac[1]);
    const of = Number(frac[2]);
    if (of >= 1 && slice >= 1 && slice <= of) return { slice, of };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (pct && Number(pct[1]) > 0 && Number(pct[1]) <= 100) return { percent: Number(pct[1]) };
  throw new RaicError('Usage', `--read-data-subset takes N/M (1 ≤ N ≤ M) or P% (0 < P ≤ 100), not "${text}"`);
}

export function selectsPack(sel: DataSelection, packHex: string): boolean {
  if (typeof sel === 'boolean') return sel;
  const v = Buffer.from(packHex.slice(0, 12), 'hex').readUIntBE(0, 6);
  if ('slice' in sel) return v % sel.of === sel.slice - 1;
  return v / 2 ** 48 < sel.percent / 100;
}

export interface SnapshotHealth {
  id: string;
  kind: 'file' | 'tree';
  time: string;
  paths: string[];
  /** Members that could be lost now without losing this snapshot (negative: it is already unreadable). */
  survives: number;
}

interface Expected {
  /** Pack id hex → the refs it must hold, by offset. */
  packs: Map<string, Map<number, ChunkRef>>;
  /** Other erasure-coded objects (index segments): object key → the id their table names. */
  coded: Map<string, Buffer>;
  /** Replicated objects: key → expected hash (hex id) or null when only presence can be checked. */
  whole: Map<string, string | null>;
}

export async function checkFile(array: RaicArray, cap: FileCapability, readData: DataSelection): Promise<CheckReport> {
  const root = await loadManifest(array, cap);
  const expected: Expected = { packs: new Map(), coded: new Map(), whole: new Map([[manifestKey(cap.manifestId), cap.manifestId]]) };
  // Everything the capability reaches: for a snapshot, every tree blob and file content too.
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const entries: ChunkEntry[] = [];
  await forEachReachableFrom(reader, root, (entry) => entries.push(entry));
  // A chunk that prune moved is checked where it is now (its old pack is gone), and so is the record that says so.
  for (const entry of entries) addRef(expected, await reader.locate(entry));
  for (const key of reader.forwardRecordKeys()) expected.whole.set(key, null);
  return runCheck(array, expected, readData, 'file');
}

/**
 * Objects an interrupted run left behind are not damage: an index segment or catalog record stored on
 * fewer members than the write quorum never committed, nor did a manifest no committed record names.
 * They are reported as leftovers (prune removes them); everything committed must be whole everywhere.
 *
 * What is stored is judged by what the members hold, not by one member's listing (listHeld): right after a
 * prune, a member whose listing lags still lists what prune deleted and not yet what it wrote. An object
 * some member lists and none holds was deleted since: neither missing nor a leftover. (When every member's
 * listing lags alike, the listings agree, and are believed, until they catch up.)
 */
export async function checkArray(array: RaicArray, keys: RepoKeys, readData: DataSelection): Promise<CheckReport> {
  const expected: Expected = { packs: new Map(), coded: new Map(), whole: new Map([[CONFIG_KEY, null]]) };
  const leftovers: string[] = [];
  const committed = async (prefix: string): Promise<string[]> => {
    const out: string[] = [];
    for (const [key, copies] of await listHeld(array.members, prefix)) (copies >= array.writeQuorum ? out : leftovers).push(key);
    return out;
  };
  const segments = await committed(INDEX_PREFIX);
  const records = await committed(SNAPSHOTS_PREFIX);
  for (const ref of (await loadIndex(array.members, array.k, keys.index, segments)).values()) addRef(expected, ref);
  for (const key of segments) expected.coded.set(key, segmentTableId(idOfKey(key)));
  for (const key of records) expected.whole.set(key, null);
  const recordIds = new Set(records.map(idOfKey));
  for (const key of (await listHeld(array.members, MANIFESTS_PREFIX)).keys()) {
    if (recordIds.has(idOfKey(key))) expected.whole.set(key, idOfKey(key));
    else leftovers.push(key);
  }
  for (const prefix of [MEMBERS_PREFIX, FORWARD_PREFIX, FORGOTTEN_PREFIX]) for (const key of (await listHeld(array.members, prefix)).keys()) expected.whole.set(key, null);
  // Key objects in force, and the tombstones of removed ones (a forged tombstone is no one's concern: not expected).
  const removed = await removedKeyIds(array.members, keys.master, [...(await listHeld(array.members, REMOVED_KEYS_PREFIX)).keys()].map(idOfKey));
  for (const id of removed) expected.whole.set(removedKeyKey(id), null);
  const removedKeys: string[] = [];
  for (const key of (await listHeld(array.members, KEYS_PREFIX)).keys()) {
    if (removed.has(idOfKey(key))) removedKeys.push(key);
    else expected.whole.set(key, null);
  }
  // What each snapshot needs is checked too, whether or not a committed index segment names it: a snapshot
  // that leans on a pack only one (rolled-back) member still holds must show as the risk it is.
  const needs = await snapshotNeeds(array, keys, expected);
  const report = await runCheck(array, expected, readData, 'array');
  report.leftovers = leftovers.sort();
  report.removedKeys = removedKeys.sort();
  report.snapshots = snapshotHealth(array, report, needs);
  if (report.snapshots.some((s) => s.survives < 0)) report.ok = false;
  return report;
}

interface SnapshotNeeds {
  record: CatalogRecord;
  /** Pack ids its chunks are in now (after forwarding); null when it could not be walked. */
  packs: Set<string> | null;
}

/** Walks every catalog record; adds each chunk it needs (where it is now) to `expected`. */
async function snapshotNeeds(array: RaicArray, keys: RepoKeys, expected: Expected): Promise<SnapshotNeeds[]> {
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const out: SnapshotNeeds[] = [];
  for (const record of await readCatalog(array, keys)) {
    try {
      const entries: ChunkEntry[] = [];
      await forEachReachable(array, reader, record, (entry) => entries.push(entry));
      const packs = new Set<string>();
      for (const entry of entries) {
        const at = await reader.locate(entry); // where a moved chunk is now
        packs.add(at.pack.toString('hex'));
        addRef(expected, at);
      }
      out.push({ record, packs });
    } catch {
      out.push({ record, packs: null }); // cannot even be walked now
    }
  }
  for (const key of reader.forwardRecordKeys()) if (!expected.whole.has(key)) expected.whole.set(key, null);
  return out;
}

/** For each catalog record: min over what it needs of (intact copies − copies needed); −1 if unreadable now. */
function snapshotHealth(array: RaicArray, report: CheckReport, needs: SnapshotNeeds[]): SnapshotHealth[] {
  const usable = report.members.filter((m) => m.unreachable === null);
  const damagedOn = usable.map((m) => new Set(m.damaged.map((d) => d.key)));
  const intact = (key: string): number => damagedOn.filter((d) => !d.has(key)).length;
  return needs.map(({ record, packs }) => {
    let survives = Math.min(intact(manifestKey(record.manifestId)) - 1, intact(snapshotKey(record.manifestId)) - 1);
    if (packs === null) survives = -1;
    else for (const p of packs) survives = Math.min(survives, intact(packKey(p)) - array.k);
    return { id: record.manifestId, kind: record.kind, time: record.time, paths: record.paths, survives: Math.max(survives, -1) };
  });
}

function addRef(expected: Expected, ref: ChunkRef): void {
  const hex = ref.pack.toString('hex');
  const refs = expected.packs.get(hex) ?? expected.packs.set(hex, new Map()).get(hex)!;
  if (!refs.has(ref.offset)) refs.set(ref.offset, ref);
}

async function runCheck(array: RaicArray, expected: Expected, readData: DataSelection, scope: 'file' | 'array'): Promise<CheckReport> {
  const objects = expected.packs.size + expected.coded.size + expected.whole.size;
  const coded = await agreedTables(array, expected);
  const reports = await Promise.all(array.members.slots.map((slot) => checkMember(array, slot.index, expected, coded, readData)));
  const ok = reports.every((r) => r.unreachable === null && r.missing === 0 && r.corrupt === 0);
  const readPacks = [...expected.packs.keys()].filter((p) => selectsPack(readData, p)).sort();
  return { ok, scope, readData: readData !== false, objects, packsRead: readPacks.length, readPacks, members: reports };
}

/** What an erasure-coded object must be on every member: its agreed table, or why there is none. */
type CodedExpectation = { table: CodedTable; refs: ChunkRef[]; readData: boolean } | { problem: string };

/** The table k members agree on for every expected pack and index segment. */
async function agreedTables(array: RaicArray, expected: Expected): Promise<Map<string, CodedExpectation>> {
  const reader = new PackReader(array.members, array.k);
  const limit = pLimit(8);
  const out = new Map<string, CodedExpectation>();
  const items: [string, Buffer, ChunkRef[], boolean][] = [
    ...[...expected.packs].map(([hex, refs]): [string, Buffer, ChunkRef[], boolean] => [packKey(hex), Buffer.from(hex, 'hex'), [...refs.values()], false]),
    ...[...expected.coded].map(([key, id]): [string, Buffer, ChunkRef[], boolean] => [key, id, [], true]),
  ];
  await Promise.all(
    items.map(([key, id, refs, isIndex]) =>
      limit(async () => {
        try {
          const table = await reader.table(key, id);
          const end = table.table.bodyBytes - table.table.trailerBytes;
          const outside = refs.find((r) => r.offset + r.length > end);
          out.set(key, outside ? { problem: `a chunk at ${outside.offset}+${outside.length} lies outside the pack's ${end} bytes of chunks` } : { table, refs, readData: isIndex });
        } catch (err) {
          if (!isRaicError(err, 'Quorum') && !isRaicError(err, 'NotFound') && !isRaicError(err, 'Integrity')) throw err;
          out.set(key, { problem: messageOf(err) });
        }
      }),
    ),
  );
  return out;
}

async function checkMember(array: RaicArray, member: number, expected: Expected, coded: Map<string, CodedExpectation>, readData: DataSelection): Promise<MemberReport> {
  const slot = array.members.slots[member]!;
  const report: MemberReport = { member, url: slot.url, unreachable: slot.downReason, present: 0, missing: 0, corrupt: 0, damaged: [] };
  if (slot.downReason !== null) return report;
  const limit = pLimit(8);
  const damage = (key: string, problem: ObjectProblem, detail: string): void => {
    report[problem] += 1;
    report.damaged.push({ key, problem, detail });
  };
  const call = <T>(fn: Parameters<typeof array.members.call<T>>[1]): Promise<T> => array.members.call(member, fn);
  try {
    await Promise.all([
      ...[...expected.whole].map(([key, idHex]) =>
        limit(async () => {
          try {
            if (readData !== false || idHex === null) {
              const bytes = await call((p) => p.get(key));
              if (idHex !== null && !hash(bytes).equals(Buffer.from(idHex, 'hex'))) return damage(key, 'corrupt', 'content does not match its hash');
              if (key.startsWith(KEYS_PREFIX) && !parseKeyObject(key, bytes)) return damage(key, 'corrupt', 'not a sound key object (garbled, substituted, or asking for more than init writes)');
            } else await call((p) => p.head(key));
            report.present += 1;
          } catch (err) {
            // Integrity: the member served something raic never wrote there (e.g. larger than any object).
            if (isRaicError(err, 'Integrity')) return damage(key, 'corrupt', err.message);
            if (!isRaicError(err, 'NotFound')) throw err;
            damage(key, 'missing', 'not found');
          }
        }),
      ),
      ...[...coded].map(([key, want]) =>
        limit(async () => {
          if ('problem' in want) return damage(key, 'corrupt', want.problem);
          const read = want.readData ? readData !== false : selectsPack(readData, idOfKey(key));
          try {
            const problem = read ? verifyShare(member, want.table, await call((p) => p.get(key))) : verifySize(want.table, (await call((p) => p.head(key))).size);
            if (problem) damage(key, 'corrupt', problem);
            else report.present += 1;
          } catch (err) {
            if (isRaicError(err, 'Integrity')) return damage(key, 'corrupt', err.message);
            if (!isRaicError(err, 'NotFound')) throw err;
            damage(key, 'missing', 'not found');
          }
        }),
      ),
    ]);
  } catch (err) {
    report.unreachable = messageOf(err);
  }
  return report;
}

function verifySize(t: CodedTable, size: number): string | null {
  const want = t.dataStart + t.table.shareLen;
  return size !== want ? `${size} bytes, ${want} expected` : null;
}

/** Member `member`'s whole object against the agreed table: same table, and its share region by region. */
function verifyShare(member: number, t: CodedTable, bytes: Buffer): string | null {
  const sizeProblem = verifySize(t, bytes.length);
  if (sizeProblem) return sizeProblem;
  if (!sameTable(bytes, t)) return 'its header or table differs from the table the other members agree on';
  return regionsMatch(t.table, member, 0, bytes.subarray(t.dataStart)) ? null : 'its share does not match the table';
}
