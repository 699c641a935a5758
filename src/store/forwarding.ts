/**
 * Forwarding records: where prune moved the live chunks of a pack it repacked.
 *
 * Manifests and tree blobs are immutable and name each chunk's location (pack id, offset), because a
 * capability holder reads without the index. When prune copies a pack's live chunks into a new pack and
 * deletes the old one, it first stores a record for the old pack on every member, one entry per moved chunk:
 *
 *   tag = SHA-256(chunk id)[0..16] ‖ seal(HKDF(chunk key, "forward"), new pack id 16 ‖ new offset u48 ‖ length u32,
 *                                         ad = "raic forward v2" ‖ old pack id ‖ generation u32)
 *
 * Only a holder of the chunk key (every ChunkEntry carries it, so every capability that reaches the chunk)
 * learns where it went; providers learn nothing new. The chunk's own AEAD tag authenticates whatever is read
 * at the new place: a forged location costs availability, never integrity.
 *
 * Generations. Objects are never overwritten, so when a chunk moves again prune does not leave a chain (old
 * pack → its first new pack → …): it writes generation g + 1 of the old pack's record, naming every live
 * chunk's current place, and deletes generations ≤ g once the new one is on every member and the packs it
 * skips are gone. A record's key carries its generation (`forward/<id[0:2]>/<id>.<g>`, g ≥ 1) and its entries
 * are bound to it (the ad above), so an older generation replayed under a newer name opens nothing. Readers
 * take a chunk's place from the newest generation that names it, older ones only when no newer one does or
 * can be read: a member rolled back to an older generation, or a lagging listing, costs nothing while
 * another member lists the newer one.
 *
 * Record bytes: "RAICFWD3" | generation u32 | count u32 | entries sorted by tag, 82 bytes each | SHA-256 of
 * all before (32). The trailing hash catches accidental damage (that copy is refused, another member's is
 * read); the per-entry AEAD is what stops tampering. Generation 0 is the format before generations, read
 * only: key `forward/<id[0:2]>/<id>`, "RAICFWD2" | count u32 | entries | SHA-256, ad = "raic forward v1" ‖
 * old pack id.
 */
import { RaicError, isRaicError } from '../errors.js';
import { AEAD_OVERHEAD, deriveSubkey, hash, open, seal } from '../crypto/index.js';
import { MAX_FORWARD_GENERATION, forwardKey, parseForwardKey } from './layout.js';
import type { Members } from './members.js';
import { messageOf, putOnAll } from './replicated.js';

export interface ChunkLocation {
  pack: Buffer;
  offset: number;
  /** The sealed chunk's length there (copies of one chunk may differ in length). */
  length: number;
}

/** One moved chunk: its id and key (from a live ChunkEntry) and where its shares are now. */
export interface ForwardMove {
  id: Buffer;
  key: Buffer;
  to: ChunkLocation;
}

/** What a lookup needs of a chunk: any ChunkEntry. */
export interface ChunkIdentity {
  id: Buffer;
  key: Buffer;
}

const TAG_BYTES = 16;
const LOCATION_BYTES = 16 + 6 + 4;
const ENTRY_BYTES = TAG_BYTES + LOCATION_BYTES + AEAD_OVERHEAD;
const CHECKSUM_BYTES = 32;

/** The two layouts: generation 0 (read only) and generations ≥ 1. */
const FORMATS = {
  v1: { magic: 'RAICFWD2', header: 12, ad: Buffer.from('raic forward v1') },
  v2: { magic: 'RAICFWD3', header: 16, ad: Buffer.from('raic forward v2') },
};
const formatOf = (generation: number) => (generation === 0 ? FORMATS.v1 : FORMATS.v2);

const tagOf = (chunkId: Uint8Array): Buffer => hash(chunkId).subarray(0, TAG_BYTES);
const entryKey = (chunkKey: Uint8Array): Buffer => deriveSubkey(chunkKey, 'forward');
function adFor(oldPack: Buffer, generation: number): Buffer {
  if (generation === 0) return Buffer.concat([FORMATS.v1.ad, oldPack]);
  const g = Buffer.alloc(4);
  g.writeUInt32BE(generation);
  return Buffer.concat([FORMATS.v2.ad, oldPack, g]);
}

/** Generation `generation` of the record for `oldPack` (0: the layout before generations). A chunk named twice is recorded once. */
export function encodeForwardRecord(oldPack: Buffer, generation: number, moves: readonly ForwardMove[]): Buffer {
  const format = formatOf(generation);
  const ad = adFor(oldPack, generation);
  const byTag = new Map<string, Buffer>();
  for (const m of moves) {
    const tag = tagOf(m.id);
    if (byTag.has(tag.toString('hex'))) continue;
    const location = Buffer.alloc(LOCATION_BYTES);
    m.to.pack.copy(location, 0);
    location.writeUIntBE(m.to.offset, 16, 6);
    location.writeUInt32BE(m.to.length, 22);
    byTag.set(tag.toString('hex'), Buffer.concat([tag, seal(entryKey(m.key), location, ad)]));
  }
  const entries = [...byTag.values()].sort(Buffer.compare);
  const body = Buffer.alloc(format.header + entries.length * ENTRY_BYTES);
  body.write(format.magic, 0, 8, 'latin1');
  if (generation > 0) body.writeUInt32BE(generation, 8);
  body.writeUInt32BE(entries.length, format.header - 4);
  entries.forEach((e, i) => e.copy(body, format.header + i * ENTRY_BYTES));
  return Buffer.concat([body, hash(body)]);
}

/** A decoded record: a sorted table of sealed entries, opened one at a time by lookup(). */
export class ForwardRecord {
  private constructor(
    readonly oldPack: Buffer,
    readonly generation: number,
    private readonly body: Buffer,
    private readonly header: number,
    readonly count: number,
  ) {}

  /** Rejects (Integrity) bytes that are not a whole, undamaged record of this generation with entries in tag order. */
  static decode(oldPack: Buffer, generation: number, bytes: Buffer): ForwardRecord {
    const what = `forwarding record of pack ${oldPack.toString('hex').slice(0, 16)} (generation ${generation})`;
    const format = formatOf(generation);
    if (bytes.length < format.header + CHECKSUM_BYTES || bytes.toString('latin1', 0, 8) !== format.magic) throw new RaicError('Integrity', `${what} is not a forwarding record`);
    if (generation > 0 && bytes.readUInt32BE(8) !== generation) throw new RaicError('Integrity', `${what} says it is generation ${bytes.readUInt32BE(8)}`);
    const count = bytes.readUInt32BE(format.header - 4);
    if (bytes.length !== format.header + count * ENTRY_BYTES + CHECKSUM_BYTES) throw new RaicError('Integrity', `${what} has the wrong length`);
    const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
    if (!hash(body).equals(bytes.subarray(body.length))) throw new RaicError('Integrity', `${what} is damaged (checksum)`);
    const record = new ForwardRecord(Buffer.from(oldPack), generation, Buffer.from(body), format.header, count);
    for (let i = 1; i < count; i++) {
      if (Buffer.compare(record.tagAt(i - 1), record.tagAt(i)) >= 0) throw new RaicError('Integrity', `${what} is not in tag order`);
    }
    return record;
  }

  /**
   * Where `chunk` went, or null when this record does not name it. Rejects Integrity when the entry with
   * the chunk's tag does not open under the chunk's key (a wrong key, an altered entry, or an entry of
   * another generation).
   */
  lookup(chunk: ChunkIdentity): ChunkLocation | null {
    const tag = tagOf(chunk.id);
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(this.tagAt(mid), tag);
      if (c < 0) lo = mid + 1;
      else if (c > 0) hi = mid - 1;
      else return this.openAt(mid, chunk.key);
    }
    return null;
  }

  private tagAt(i: number): Buffer {
    const at = this.header + i * ENTRY_BYTES;
    return this.body.subarray(at, at + TAG_BYTES);
  }

  private openAt(i: number, chunkKey: Buffer): ChunkLocation {
    const at = this.header + i * ENTRY_BYTES + TAG_BYTES;
    let plain: Uint8Array;
    try {
      plain = open(entryKey(chunkKey), this.body.subarray(at, at + LOCATION_BYTES + AEAD_OVERHEAD), adFor(this.oldPack, this.generation));
    } catch (err) {
      throw new RaicError('Integrity', `forwarding record of pack ${this.oldPack.toString('hex').slice(0, 16)} (generation ${this.generation}): the entry for this chunk does not open (altered, or not this chunk's key)`, { cause: err });
    }
    const loc = Buffer.from(plain);
    return { pack: Buffer.from(loc.subarray(0, 16)), offset: loc.readUIntBE(16, 6), length: loc.readUInt32BE(22) };
  }
}

/**
 * Stores generation `generation` (≥ 1) of the record of `oldPack` on every member; rejects Quorum naming
 * those that failed — among them a member that already holds other bytes under that name.
 */
export async function writeForwardRecord(members: Members, oldPack: Buffer, generation: number, moves: readonly ForwardMove[]): Promise<string> {
  if (!(Number.isInteger(generation) && generation >= 1 && generation <= MAX_FORWARD_GENERATION)) {
    throw new RaicError('Usage', `a new forwarding record's generation must be 1 to ${MAX_FORWARD_GENERATION}, not ${generation}`);
  }
  const key = forwardKey(oldPack.toString('hex'), generation);
  await putOnAll(members, key, encodeForwardRecord(oldPack, generation, moves), 'forwarding record', members.n, true);
  return key;
}

/** Listed record keys → each pack's generations, newest first. Keys raic would not write are left out. */
export function forwardGenerations(keys: Iterable<string>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const key of keys) {
    const parsed = parseForwardKey(key);
    if (!parsed) continue;
    const gens = out.get(parsed.pack) ?? out.set(parsed.pack, []).get(parsed.pack)!;
    if (!gens.includes(parsed.generation)) gens.push(parsed.generation);
  }
  for (const gens of out.values()) gens.sort((a, b) => b - a);
  return out;
}

/** One step of a chunk's moves: where it went, and the key of the record that said so. */
export interface ForwardHop extends ChunkLocation {
  record: string;
}

/**
 * The forwarding records met in one run, each generation fetched once (cached, also when absent) from the
 * first member whose copy is sound. An entry that does not open in one copy is looked up in the other
 * members'. `strict`: a generation no member could be asked for is an error even when an older one names
 * the chunk (prune must not decide by an older generation); otherwise the older one answers.
 */
export class ForwardTable {
  private readonly loaded = new Map<string, Promise<{ record: ForwardRecord; member: number } | null>>();
  private readonly used = new Set<string>();

  constructor(
    private readonly members: Members,
    private readonly opts: { strict?: boolean } = {},
  ) {}

  /** Object keys of the records that answered a lookup so far. */
  keys(): string[] {
    return [...this.used];
  }

  /**
   * Where `chunk` went from pack `packHex`, whose records some member lists in `generations`: the newest
   * generation that names it decides. Null when none does. A generation whose every copy is damaged, or
   * whose entry for the chunk opens in no copy, is passed over for older ones; when no older one names the
   * chunk, that is the rejection (Integrity). A generation no member could be asked for rejects Quorum
   * (when strict, or when no older one names the chunk).
   */
  async lookup(packHex: string, generations: readonly number[], chunk: ChunkIdentity): Promise<ForwardHop | null> {
    let problem: unknown = null;
    for (const generation of [...generations].sort((a, b) => b - a)) {
      try {
        const to = await this.lookupIn(packHex, generation, chunk);
        if (!to) continue;
        const record = forwardKey(packHex, generation);
        this.used.add(record);
        return { ...to, record };
      } catch (err) {
        if (isRaicError(err, 'Quorum') && this.opts.strict) throw err;
        if (!isRaicError(err, 'Integrity') && !isRaicError(err, 'Quorum')) throw err;
        problem ??= err;
      }
    }
    if (problem) throw problem;
    return null;
  }

  /** The chunk's place according to one generation; null when that generation is absent everywhere or does not name it. */
  private async lookupIn(packHex: string, generation: number, chunk: ChunkIdentity): Promise<ChunkLocation | null> {
    const key = forwardKey(packHex, generation);
    let first = this.loaded.get(key);
    if (!first) {
      first = this.load(packHex, generation, 0);
      this.loaded.set(key, first);
      first.catch(() => this.loaded.delete(key));
    }
    const copy = await first;
    if (!copy) return null;
    try {
      return copy.record.lookup(chunk);
    } catch (err) {
      if (!isRaicError(err, 'Integrity')) throw err;
      // That member's copy was altered: another member's may be sound (rare; not cached).
      for (let from = copy.member + 1; from < this.members.n; ) {
        const next = await this.load(packHex, generation, from).catch(() => null);
        if (!next) break;
        try {
          return next.record.lookup(chunk);
        } catch (e) {
          if (!isRaicError(e, 'Integrity')) throw e;
        }
        from = next.member + 1;
      }
      throw err;
    }
  }

  /** The first sound copy on members `from`…n−1; null when every up member said NotFound. */
  private async load(packHex: string, generation: number, from: number): Promise<{ record: ForwardRecord; member: number } | null> {
    const key = forwardKey(packHex, generation);
    const oldPack = Buffer.from(packHex, 'hex');
    const problems: string[] = [];
    let damaged = false;
    let unanswered = false;
    for (let i = from; i < this.members.n; i++) {
      if (!this.members.isUp(i)) continue;
      try {
        return { record: ForwardRecord.decode(oldPack, generation, await this.members.call(i, (p) => p.get(key))), member: i };
      } catch (err) {
        if (isRaicError(err, 'NotFound')) continue;
        if (isRaicError(err, 'Integrity')) damaged = true;
        else unanswered = true;
        problems.push(`${this.members.slots[i]!.url}: ${messageOf(err)}`);
      }
    }
    const what = `the forwarding record of pack ${packHex.slice(0, 16)} (generation ${generation})`;
    if (damaged) throw new RaicError('Integrity', `no sound copy of ${what} (${problems.join('; ')})`);
    if (unanswered) throw new RaicError('Quorum', `could not read ${what} (${problems.join('; ')})`);
    return null;
  }
}
