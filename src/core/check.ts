/**
 * check: is every object the array needs present, and (with readData) intact, on every member?
 *
 * With a capability: the file's manifest and every share its chunks (and manifest pages) need.
 * Without: everything the index names, plus every replicated object (config, keys, member lists, index
 * segments, manifests) — this needs the passphrase to read the index.
 * Structure checks use listings and sizes; readData downloads every share and checks its hash.
 */
import pLimit from 'p-limit';
import { hash } from '../crypto/index.js';
import { isRaicError } from '../errors.js';
import {
  CONFIG_KEY,
  INDEX_PREFIX,
  KEYS_PREFIX,
  MANIFESTS_PREFIX,
  MEMBERS_PREFIX,
  PACK_FOOTER_BYTES,
  PACK_MAGIC,
  ShareReader,
  idOfKey,
  listUnion,
  loadIndex,
  manifestKey,
  messageOf,
  packKey,
  shareHash,
  streamOf,
  walkStreamAll,
  type ChunkRef,
  type FileCapability,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';
import { loadManifest } from './get.js';

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
  members: MemberReport[];
}

interface Expected {
  /** Pack id hex → the refs (shares) it must hold. */
  packs: Map<string, ChunkRef[]>;
  /** Replicated objects: key → expected hash (hex id) or null when only presence can be checked. */
  whole: Map<string, string | null>;
}

export async function checkFile(array: RaicArray, cap: FileCapability, readData: boolean): Promise<CheckReport> {
  const root = await loadManifest(array, cap);
  const expected: Expected = { packs: new Map(), whole: new Map([[manifestKey(cap.manifestId), cap.manifestId]]) };
  const reader = new ShareReader(array.members, array.pool, array.k);
  const load = async (page: ChunkRef & { key: Buffer }): Promise<Buffer> => {
    const b = await reader.read(page);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  };
  for await (const [entry] of walkStreamAll(streamOf(root), load)) addRef(expected, entry);
  return runCheck(array, expected, readData, 'file');
}

export async function checkArray(array: RaicArray, keys: RepoKeys, readData: boolean): Promise<CheckReport> {
  const expected: Expected = { packs: new Map(), whole: new Map([[CONFIG_KEY, null]]) };
  for (const ref of (await loadIndex(array.members, keys.index)).values()) addRef(expected, ref);
  for (const prefix of [KEYS_PREFIX, MEMBERS_PREFIX]) for (const key of (await listUnion(array.members, prefix)).keys()) expected.whole.set(key, null);
  for (const prefix of [INDEX_PREFIX, MANIFESTS_PREFIX]) for (const key of (await listUnion(array.members, prefix)).keys()) expected.whole.set(key, idOfKey(key));
  return runCheck(array, expected, readData, 'array');
}

function addRef(expected: Expected, ref: ChunkRef): void {
  const hex = ref.pack.toString('hex');
  const list = expected.packs.get(hex);
  if (list) list.push(ref);
  else expected.packs.set(hex, [ref]);
}

async function runCheck(array: RaicArray, expected: Expected, readData: boolean, scope: 'file' | 'array'): Promise<CheckReport> {
  const objects = expected.packs.size + expected.whole.size;
  const reports = await Promise.all(array.members.slots.map((slot) => checkMember(array, slot.index, expected, readData)));
  const ok = reports.every((r) => r.unreachable === null && r.missing === 0 && r.corrupt === 0);
  return { ok, scope, readData, objects, members: reports };
}

async function checkMember(array: RaicArray, member: number, expected: Expected, readData: boolean): Promise<MemberReport> {
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
            if (readData || idHex === null) {
              const bytes = await call((p) => p.get(key));
              if (idHex !== null && !hash(bytes).equals(Buffer.from(idHex, 'hex'))) return damage(key, 'corrupt', 'content does not match its hash');
            } else await call((p) => p.head(key));
            report.present += 1;
          } catch (err) {
            if (!isRaicError(err, 'NotFound')) throw err;
            damage(key, 'missing', 'not found');
          }
        }),
      ),
      ...[...expected.packs].map(([packHex, refs]) =>
        limit(async () => {
          const key = packKey(packHex);
          try {
            const problem = readData ? verifyPackData(member, refs, await call((p) => p.get(key))) : verifyPackSize(refs, (await call((p) => p.head(key))).size);
            if (problem) damage(key, 'corrupt', problem);
            else report.present += 1;
          } catch (err) {
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

function verifyPackSize(refs: ChunkRef[], size: number): string | null {
  const end = Math.max(...refs.map((r) => r.offset + r.shareLen));
  return size < end + PACK_FOOTER_BYTES ? `truncated: ${size} bytes, at least ${end + PACK_FOOTER_BYTES} expected` : null;
}

function verifyPackData(member: number, refs: ChunkRef[], bytes: Buffer): string | null {
  const sizeProblem = verifyPackSize(refs, bytes.length);
  if (sizeProblem) return sizeProblem;
  const bad = refs.filter((r) => !hash(bytes.subarray(r.offset, r.offset + r.shareLen)).equals(shareHash(r, member)));
  if (bad.length > 0) return `${bad.length} of ${refs.length} shares fail their hash (first at offset ${bad[0]!.offset})`;
  if (bytes.toString('latin1', bytes.length - 8) !== PACK_MAGIC) return 'pack footer damaged';
  return null;
}
