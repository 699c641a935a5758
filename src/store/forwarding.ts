/**
 * Forwarding records: where prune moved the live chunks of a pack it repacked.
 *
 * Manifests and tree blobs are immutable and name each chunk's location (pack id, offset), because a
 * capability holder reads without the index. When prune copies a pack's live shares into a new pack and
 * deletes the old one, it first stores `forward/<old pack id>` on every member, one entry per moved chunk:
 *
 *   tag = SHA-256(chunk id)[0..16] ‖ seal(HKDF(chunk key, "forward"), new pack id 16 ‖ new offset u48 ‖ length u32,
 *                                         ad = "raic forward v1" ‖ old pack id)
 *
 * Only a holder of the chunk key (every ChunkEntry carries it, so every capability that reaches the chunk)
 * learns where it went; providers learn nothing new. Moving a chunk changes neither its share bytes nor
 * their hashes, so the hashes in the reader's own entry authenticate whatever is read at the new place: a
 * forged location costs availability, never integrity. A chunk moved twice has a record for each step.
 *
 * Record bytes: "RAICFWD2" | count u32 | entries sorted by tag, 82 bytes each | SHA-256 of all before (32).
 * The trailing hash catches accidental damage (that copy is refused, another member's is read); the
 * per-entry AEAD is what stops tampering.
 */
import { RaicError, isRaicError } from '../errors.js';
import { AEAD_OVERHEAD, deriveSubkey, hash, open, seal } from '../crypto/index.js';
import { forwardKey } from './layout.js';
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

const MAGIC = 'RAICFWD2';
const HEADER_BYTES = 12;
const TAG_BYTES = 16;
const LOCATION_BYTES = 16 + 6 + 4;
const ENTRY_BYTES = TAG_BYTES + LOCATION_BYTES + AEAD_OVERHEAD;
const CHECKSUM_BYTES = 32;
const AD_LABEL = Buffer.from('raic forward v1');

const tagOf = (chunkId: Uint8Array): Buffer => hash(chunkId).subarray(0, TAG_BYTES);
const entryKey = (chunkKey: Uint8Array): Buffer => deriveSubkey(chunkKey, 'forward');
const adFor = (oldPack: Buffer): Buffer => Buffer.concat([AD_LABEL, oldPack]);

/** The record for `oldPack`. A chunk named twice is recorded once. */
export function encodeForwardRecord(oldPack: Buffer, moves: readonly ForwardMove[]): Buffer {
  const byTag = new Map<string, Buffer>();
  for (const m of moves) {
    const tag = tagOf(m.id);
    if (byTag.has(tag.toString('hex'))) continue;
    const location = Buffer.alloc(LOCATION_BYTES);
    m.to.pack.copy(location, 0);
    location.writeUIntBE(m.to.offset, 16, 6);
    location.writeUInt32BE(m.to.length, 22);
    byTag.set(tag.toString('hex'), Buffer.concat([tag, seal(entryKey(m.key), location, adFor(oldPack))]));
  }
  const entries = [...byTag.values()].sort(Buffer.compare);
  const body = Buffer.alloc(HEADER_BYTES + entries.length * ENTRY_BYTES);
  body.write(MAGIC, 0, 8, 'latin1');
  body.writeUInt32BE(entries.length, 8);
  entries.forEach((e, i) => e.copy(body, HEADER_BYTES + i * ENTRY_BYTES));
  return Buffer.concat([body, hash(body)]);
}

/** A decoded record: a sorted table of sealed entries, opened one at a time by lookup(). */
export class ForwardRecord {
  private constructor(
    readonly oldPack: Buffer,
    private readonly body: Buffer,
    readonly count: number,
  ) {}

  /** Rejects (Integrity) bytes that are not a whole, undamaged record with entries in tag order. */
  static decode(oldPack: Buffer, bytes: Buffer): ForwardRecord {
    const what = `forwarding record of pack ${oldPack.toString('hex').slice(0, 16)}`;
    if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES || bytes.toString('latin1', 0, 8) !== MAGIC) throw new RaicError('Integrity', `${what} is not a forwarding record`);
    const count = bytes.readUInt32BE(8);
    if (bytes.length !== HEADER_BYTES + count * ENTRY_BYTES + CHECKSUM_BYTES) throw new RaicError('Integrity', `${what} has the wrong length`);
    const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
    if (!hash(body).equals(bytes.subarray(body.length))) throw new RaicError('Integrity', `${what} is damaged (checksum)`);
    const record = new ForwardRecord(Buffer.from(oldPack), Buffer.from(body), count);
    for (let i = 1; i < count; i++) {
      if (Buffer.compare(record.tagAt(i - 1), record.tagAt(i)) >= 0) throw new RaicError('Integrity', `${what} is not in tag order`);
    }
    return record;
  }

  /**
   * Where `chunk` went, or null when this record does not name it. Rejects Integrity when the entry with
   * the chunk's tag does not open under the chunk's key (a wrong key, or an altered entry).
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
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    return this.body.subarray(at, at + TAG_BYTES);
  }

  private openAt(i: number, chunkKey: Buffer): ChunkLocation {
    const at = HEADER_BYTES + i * ENTRY_BYTES + TAG_BYTES;
    let plain: Uint8Array;
    try {
      plain = open(entryKey(chunkKey), this.body.subarray(at, at + LOCATION_BYTES + AEAD_OVERHEAD), adFor(this.oldPack));
    } catch (err) {
      throw new RaicError('Integrity', `forwarding record of pack ${this.oldPack.toString('hex').slice(0, 16)}: the entry for this chunk does not open (altered, or not this chunk's key)`, { cause: err });
    }
    const loc = Buffer.from(plain);
    return { pack: Buffer.from(loc.subarray(0, 16)), offset: loc.readUIntBE(16, 6), length: loc.readUInt32BE(22) };
  }
}

/** Stores the record of `oldPack` on every member; rejects Quorum naming those that failed. */
export async function writeForwardRecord(members: Members, oldPack: Buffer, moves: readonly ForwardMove[]): Promise<string> {
  const key = forwardKey(oldPack.toString('hex'));
  await putOnAll(members, key, encodeForwardRecord(oldPack, moves), 'forwarding record');
  return key;
}

/**
 * The forwarding records met in one run, each fetched once (cached, also when absent) from the first
 * member whose copy is sound. An entry that does not open in one copy is looked up in the other members'.
 */
export class ForwardTable {
  private readonly loaded = new Map<string, Promise<{ record: ForwardRecord; member: number } | null>>();
  private readonly present = new Set<string>();

  constructor(private readonly members: Members) {}

  /** True once a record for the pack has been found in this run (its chunks may be looked up directly). */
  has(packHex: string): boolean {
    return this.present.has(packHex);
  }

  /** Object keys of the records found so far. */
  keys(): string[] {
    return [...this.present].map(forwardKey);
  }

  /**
   * Where `chunk` went from pack `packHex`: null when the pack has no record (on any up member) or its
   * record does not name the chunk. Rejects Integrity when no member's copy opens the chunk's entry or
   * every copy is damaged, Quorum when no member could be asked.
   */
  async lookup(packHex: string, chunk: ChunkIdentity): Promise<ChunkLocation | null> {
    let first = this.loaded.get(packHex);
    if (!first) {
      first = this.load(packHex, 0);
      this.loaded.set(packHex, first);
      first.then((r) => r && this.present.add(packHex)).catch(() => this.loaded.delete(packHex));
    }
    const copy = await first;
    if (!copy) return null;
    try {
      return copy.record.lookup(chunk);
    } catch (err) {
      if (!isRaicError(err, 'Integrity')) throw err;
      // That member's copy was altered: another member's may be sound (rare; not cached).
      for (let from = copy.member + 1; from < this.members.n; ) {
        const next = await this.load(packHex, from).catch(() => null);
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
  private async load(packHex: string, from: number): Promise<{ record: ForwardRecord; member: number } | null> {
    const key = forwardKey(packHex);
    const oldPack = Buffer.from(packHex, 'hex');
    const problems: string[] = [];
    let damaged = false;
    let unanswered = false;
    for (let i = from; i < this.members.n; i++) {
      if (!this.members.isUp(i)) continue;
      try {
        return { record: ForwardRecord.decode(oldPack, await this.members.call(i, (p) => p.get(key))), member: i };
      } catch (err) {
        if (isRaicError(err, 'NotFound')) continue;
        if (isRaicError(err, 'Integrity')) damaged = true;
        else unanswered = true;
        problems.push(`${this.members.slots[i]!.url}: ${messageOf(err)}`);
      }
    }
    if (damaged) throw new RaicError('Integrity', `no sound copy of the forwarding record of pack ${packHex.slice(0, 16)} (${problems.join('; ')})`);
    if (unanswered) throw new RaicError('Quorum', `could not read the forwarding record of pack ${packHex.slice(0, 16)} (${problems.join('; ')})`);
    return null;
  }
}
