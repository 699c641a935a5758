/**
 * repair: put back what members lost. Replicated objects (config, keys and key tombstones, member lists, index
 * segments, manifests, catalog records) missing on a member are copied from another member (content-addressed ones
 * checked against their hash). A pack missing, truncated or (with readData) corrupt on member i is rebuilt
 * byte-identical: each stripe's share i is regenerated from any k valid shares of the other members, and the
 * trailer (identical on every member) is copied from a healthy copy. Nothing else is ever rewritten.
 *
 * `index` first rebuilds the index from the packs' own trailers (when it is lost or damaged everywhere).
 * Egress costs money: bytes downloaded and uploaded are counted, and `maxDownloadBytes` stops the run
 * (cleanly, between packs) once it is reached.
 */
import { forgottenIds } from './catalog.js';
import { RaicError, isRaicError } from '../errors.js';
import { hash, open } from '../crypto/index.js';
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
  PACK_MAGIC,
  SNAPSHOTS_PREFIX,
  encodeArrayConfig,
  idOfKey,
  newArrayConfig,
  packKey,
  parseArrayConfig,
  readPackTrailer,
  shareHash,
  writeIndexSegment,
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
}

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

const REPLICATED = [KEYS_PREFIX, REMOVED_KEYS_PREFIX, MEMBERS_PREFIX, INDEX_PREFIX, MANIFESTS_PREFIX, SNAPSHOTS_PREFIX, FORGOTTEN_PREFIX, FORWARD_PREFIX];
const contentAddressed = (key: string): boolean => key.startsWith(INDEX_PREFIX) || key.startsWith(MANIFESTS_PREFIX);
/** Small objects whose copies are always checked before one is copied: key objects, their tombstones, forwarding records. */
const alwaysVerified = (key: string): boolean => key.startsWith(KEYS_PREFIX) || key.startsWith(REMOVED_KEYS_PREFIX) || key.startsWith(FORWARD_PREFIX);
/** Whether a copy is sound as far as can be told (content hash; a key object's name and shape; a key tombstone opens). */
function soundCopy(key: string, bytes: Buffer, master: Buffer): boolean {
  if (contentAddressed(key)) return hash(bytes).equals(Buffer.from(idOfKey(key), 'hex'));
  if (key.startsWith(KEYS_PREFIX)) return parseKeyObject(key, bytes) !== null;
  if (key.startsWith(REMOVED_KEYS_PREFIX)) return isKeyTombstone(master, idOfKey(key), bytes);
  if (key.startsWith(FORWARD_PREFIX)) {
    try {
      ForwardRecord.decode(Buffer.from(idOfKey(key), 'hex'), bytes);
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
  const result: RepairResult = { dryRun: opts.dryRun ?? false, copied: [], rebuilt: [], unrepairable: [], down: [], bytesDownloaded: 0, bytesUploaded: 0, limitReached: false };
  const url = (i: number): string => members.slots[i]!.url;
  const get = async (i: number, key: string, range?: { offset: number; length: number }): Promise<Buffer> => {
    const bytes = await members.call(i, (p) => p.get(key, range));
    egress.down += bytes.length;
    return bytes;
  };
  const put = async (i: number, key: string, body: Uint8Array): Promise<void> => {
    if (result.dryRun) return;
    await members.call(i, (p) => p.delete(key));
    await members.call(i, (p) => p.put(key, body));
    egress.up += body.length;
  };

  if (opts.index) result.index = await rebuildIndex(array, keys, result.dryRun);

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
  // Leftovers are not damage and are not spread: an index segment fewer than k members list (an interrupted
  // run's, or a stale one a rolled-back member still serves) and the manifest of a forgotten snapshot.
  const holdersOf = (key: string): number => [...listings.values()].filter((m) => m.has(key)).length;
  const replicated = new Set<string>();
  for (const m of listings.values()) for (const key of m.keys()) if (REPLICATED.some((p) => key.startsWith(p))) replicated.add(key);
  const catalogued = [...replicated].filter((key) => key.startsWith(SNAPSHOTS_PREFIX) || key.startsWith(MANIFESTS_PREFIX)).map(idOfKey);
  const forgotten = await forgottenIds(array, keys, catalogued);
  const removedKeys = await removedKeyIds(members, keys.master, [...replicated].filter((key) => key.startsWith(REMOVED_KEYS_PREFIX)).map(idOfKey));
  const deleteWhereFound = async (key: string, reason: string): Promise<void> => {
    for (const i of upMembers) {
      if (!listings.get(i)!.has(key)) continue;
      if (!result.dryRun) await members.call(i, (p) => p.delete(key));
      result.copied.push({ member: i, url: url(i), key, reason });
    }
  };
  for (const key of [...replicated].sort()) {
    if (key.startsWith(INDEX_PREFIX) && holdersOf(key) < k) continue;
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
        if (isRaicError(err, 'NotFound')) return null;
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

  // 3. Packs: every pack any member holds, checked on every up member. A pack fewer than k members hold cannot
  // be rebuilt: damage when the committed index names it, else a leftover (prune removes it).
  const packs = new Map<string, number[]>(); // pack id → members listing it
  for (const [i, m] of listings) for (const key of m.keys()) if (key.startsWith('packs/')) (packs.get(idOfKey(key)) ?? packs.set(idOfKey(key), []).get(idOfKey(key))!).push(i);
  const committedSegments = [...replicated].filter((key) => key.startsWith(INDEX_PREFIX) && holdersOf(key) >= k);
  // (An index that cannot be read leaves every such pack reported, as before.)
  const index = await loadIndex(members, keys.index, committedSegments).catch(() => null);
  const indexed = index ? new Set([...index.values()].map((r) => r.pack.toString('hex'))) : null;
  for (const [packHex, holders] of [...packs].sort(([a], [b]) => a.localeCompare(b))) {
    if (holders.length < k && indexed && !indexed.has(packHex)) continue;
    if (egress.exhausted) {
      result.limitReached = true;
      break;
    }
    const key = packKey(packHex);
    // The reference copy: the size most members agree on, with a trailer that authenticates.
    const sizes = holders.map((i) => listings.get(i)!.get(key)!);
    const size = mode(sizes);
    let refs: ChunkRef[] | null = null;
    let tailFrom = -1;
    for (const i of holders) {
      if (listings.get(i)!.get(key) !== size) continue;
      try {
        refs = await readPackTrailer(members, i, packHex, size, keys.index);
        tailFrom = i;
        break;
      } catch {
        // try the next copy
      }
    }
    if (!refs) {
      for (const i of upMembers) result.unrepairable.push({ member: i, url: url(i), key, reason: 'no copy of the pack has a readable trailer' });
      continue;
    }
    const damaged: { member: number; reason: string }[] = [];
    for (const i of upMembers) {
      const have = listings.get(i)!.get(key);
      if (have === undefined) damaged.push({ member: i, reason: 'missing' });
      else if (have !== size) damaged.push({ member: i, reason: `wrong size (${have} of ${size} bytes)` });
      else if (opts.readData) {
        const bytes = await get(i, key);
        const bad = refs.filter((r) => !hash(bytes.subarray(r.offset, r.offset + r.shareLen)).equals(shareHash(r, i)));
        if (bad.length > 0) damaged.push({ member: i, reason: `${bad.length} corrupt share(s)` });
      }
    }
    for (const d of damaged) {
      try {
        const body = await rebuildPack(array, d.member, packHex, refs, size, tailFrom === d.member ? otherHolder(holders, d.member, listings, key, size) : tailFrom, get);
        await put(d.member, key, body);
        result.rebuilt.push({ member: d.member, url: url(d.member), key, reason: d.reason });
      } catch (err) {
        result.unrepairable.push({ member: d.member, url: url(d.member), key, reason: (err as Error).message });
      }
    }
  }
  result.bytesDownloaded = egress.down;
  result.bytesUploaded = egress.up;
  return result;
}

/** Member i's copy of a pack, regenerated: share i of every stripe from the others, then the shared tail. */
async function rebuildPack(
  array: RaicArray,
  member: number,
  packHex: string,
  refs: ChunkRef[],
  size: number,
  tailFrom: number,
  get: (i: number, key: string, range?: { offset: number; length: number }) => Promise<Buffer>,
): Promise<Buffer> {
  const key = packKey(packHex);
  const body = Buffer.alloc(size);
  const sharesEnd = Math.max(0, ...refs.map((r) => r.offset + r.shareLen));
  if (tailFrom < 0) throw new RaicError('Integrity', 'no intact copy of the pack trailer');
  const tail = await get(tailFrom, key, { offset: sharesEnd, length: size - sharesEnd });
  if (tail.length !== size - sharesEnd || tail.toString('latin1', tail.length - 8) !== PACK_MAGIC) throw new RaicError('Integrity', 'the pack trailer copy is damaged');
  tail.copy(body, sharesEnd);
  for (const ref of refs) {
    const shares: (Uint8Array | null)[] = new Array<Uint8Array | null>(array.n).fill(null);
    const tried = new Set<number>([member]);
    for (;;) {
      const have = shares.filter(Boolean).length;
      const candidates = array.members.up().map((s) => s.index).filter((i) => !tried.has(i));
      if (have + candidates.length < array.k) throw new RaicError('Quorum', `fewer than ${array.k} intact shares of a stripe remain`);
      for (const i of candidates.slice(0, array.k - have)) {
        tried.add(i);
        try {
          const share = await get(i, key, { offset: ref.offset, length: ref.shareLen });
          if (share.length === ref.shareLen) shares[i] = share;
        } catch {
          // missing or unreachable: try another member
        }
      }
      if (shares.filter(Boolean).length < array.k) continue;
      const out = await array.pool.rebuild({ shares: shares.map((s) => (s ? Buffer.from(s) : null)), hashes: ref.hashes, shareLen: ref.shareLen, k: array.k, n: array.n });
      if ('stripe' in out) {
        body.set(out.stripe.subarray(member * ref.shareLen, (member + 1) * ref.shareLen), ref.offset);
        break;
      }
      for (const i of out.badShares) shares[i] = null;
    }
  }
  return body;
}

function otherHolder(holders: number[], not: number, listings: Map<number, Map<string, number>>, key: string, size: number): number {
  return holders.find((i) => i !== not && listings.get(i)!.get(key) === size) ?? -1;
}

function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
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

/** Index recovery: every pack's trailer becomes index entries; undecodable segments are removed. */
async function rebuildIndex(array: RaicArray, keys: RepoKeys, dryRun: boolean): Promise<{ segmentsWritten: number; refs: number; damagedSegmentsRemoved: number }> {
  const { members } = array;
  const holders = new Map<string, { member: number; size: number }[]>();
  for (const slot of members.up()) {
    await members.call(slot.index, async (p) => {
      for await (const o of p.list('packs/')) (holders.get(idOfKey(o.key)) ?? holders.set(idOfKey(o.key), []).get(idOfKey(o.key))!).push({ member: slot.index, size: o.size });
    });
  }
  const refs: ChunkRef[] = [];
  for (const [packHex, copies] of holders) {
    for (const c of copies) {
      try {
        refs.push(...(await readPackTrailer(members, c.member, packHex, c.size, keys.index)));
        break;
      } catch {
        // next copy
      }
    }
  }
  let damaged = 0;
  for (const slot of members.up()) {
    const segs: string[] = [];
    await members.call(slot.index, async (p) => {
      for await (const o of p.list(INDEX_PREFIX)) segs.push(o.key);
    });
    for (const key of segs) {
      let ok = false;
      try {
        const sealed = await members.call(slot.index, (p) => p.get(key));
        ok = hash(sealed).equals(Buffer.from(idOfKey(key), 'hex'));
        if (ok) open(keys.index, sealed, Buffer.from('raic index v1'));
      } catch {
        ok = false;
      }
      if (!ok) {
        damaged += 1;
        if (!dryRun) await members.call(slot.index, (p) => p.delete(key));
      }
    }
  }
  let written = 0;
  if (!dryRun) {
    for (let at = 0; at < refs.length; at += array.tuning.indexSegmentEntries) {
      await writeIndexSegment(members, keys.index, refs.slice(at, at + array.tuning.indexSegmentEntries));
      written += 1;
    }
  }
  return { segmentsWritten: written, refs: refs.length, damagedSegmentsRemoved: damaged };
}

