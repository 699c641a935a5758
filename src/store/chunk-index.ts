/**
 * ChunkIndex: chunk id → ChunkRef held in flat typed arrays (an open-addressing hash table), not as a Map
 * of strings to objects: ~70–100 bytes per chunk resident instead of ~1 KB, so deduplicating against an
 * array of a million chunks costs under 100 MB. Pack ids are stored once per pack.
 *
 * The Map-like surface (hex keys) is what the index's users already speak; refs are built on demand.
 */
import { RaicError } from '../errors.js';
import { REF_BYTES, refMetaAt, type ChunkRef } from './chunk-ref.js';

const ID_BYTES = 32;
/** Per slot: pack number + 1 (0: empty), offset, length, size. */
const WORDS = 4;
const MIN_CAPACITY = 1024;

export class ChunkIndex {
  private capacity = MIN_CAPACITY;
  private ids = new Uint8Array(MIN_CAPACITY * ID_BYTES);
  private words = new Uint32Array(MIN_CAPACITY * WORDS);
  private flags = new Uint8Array(MIN_CAPACITY);
  private count = 0;
  private readonly packIds: Buffer[] = [];
  private readonly packNumbers = new Map<string, number>();
  /** Per pack number: how many entries name it. */
  private packRefs: number[] = [];

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds (its arrays, and ~100 per distinct pack): what dedup costs in memory. */
  residentBytes(): number {
    return this.ids.byteLength + this.words.byteLength + this.flags.byteLength + this.packIds.length * 100;
  }

  has(idHex: string): boolean {
    return this.find(Buffer.from(idHex, 'hex')) >= 0;
  }

  get(idHex: string): ChunkRef | undefined {
    return this.getById(Buffer.from(idHex, 'hex'));
  }

  /** get() by the id's bytes: the hot paths (dedup, loading) skip the hex round trip. */
  getById(id: Uint8Array): ChunkRef | undefined {
    const slot = this.find(id);
    return slot < 0 ? undefined : this.refAt(slot, Buffer.from(id));
  }

  /** Adds or replaces the ref of `idHex` (which must be ref.id in hex). */
  set(idHex: string, ref: ChunkRef): this {
    return this.setRef({ ...ref, id: Buffer.from(idHex, 'hex') });
  }

  /** Adds or replaces the ref of ref.id. */
  setRef(ref: ChunkRef): this {
    if ((this.count + 1) * 4 > this.capacity * 3) this.grow(this.capacity * 2);
    this.write(this.slotFor(ref.id, 0), this.packNumber(ref.pack), ref.offset, ref.length, ref.size, ref.meta);
    return this;
  }

  /**
   * Adds `count` refs in chunk-ref's binary form, the first at `at` in `buf` (later ones replace earlier ones
   * for the same chunk, as setRef does), keeping only those whose pack `keepPack` accepts (asked once per
   * pack). Builds no ChunkRef and no Buffer per ref: loading a 100k-chunk index that way cost ~200 ms of
   * allocation and collection for objects dropped at once. Rejects Integrity on unknown flags.
   */
  addEncoded(buf: Buffer, at: number, count: number, keepPack?: (packHex: string) => boolean): void {
    if (at + count * REF_BYTES > buf.length) throw new RaicError('Integrity', 'truncated chunk reference');
    this.reserve(this.count + count);
    const packs = new Map<string, number | null>(); // pack hex -> its number here, or null when not kept
    let packNo: number | null = null;
    let packAt = -1; // where the current pack's id was read: a pack's refs come together
    for (let i = 0; i < count; i++, at += REF_BYTES) {
      const meta = refMetaAt(buf, at);
      if (packAt < 0 || buf.compare(buf, packAt + 32, packAt + 48, at + 32, at + 48) !== 0) {
        packAt = at;
        const hex = buf.toString('hex', at + 32, at + 48);
        const seen = packs.get(hex);
        packNo = seen !== undefined ? seen : !keepPack || keepPack(hex) ? this.packNumber(buf.subarray(at + 32, at + 48)) : null;
        packs.set(hex, packNo);
      }
      if (packNo === null) continue;
      this.write(this.slotFor(buf, at), packNo, buf.readUInt32BE(at + 48), buf.readUInt32BE(at + 52), buf.readUInt32BE(at + 56), meta);
    }
  }

  /** Room for `entries` in all without growing on the way (loading knows how many are coming). */
  reserve(entries: number): void {
    let capacity = this.capacity;
    while (entries * 4 > capacity * 3) capacity *= 2;
    if (capacity > this.capacity) this.grow(capacity);
  }

  /** The packs (hex ids) that at least one entry names. */
  packs(): Set<string> {
    const out = new Set<string>();
    this.packRefs.forEach((refs, no) => {
      if (refs > 0) out.add(this.packIds[no]!.toString('hex'));
    });
    return out;
  }

  *values(): IterableIterator<ChunkRef> {
    for (const [, ref] of this) yield ref;
  }

  *[Symbol.iterator](): IterableIterator<[string, ChunkRef]> {
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.words[slot * WORDS] === 0) continue;
      const id = Buffer.from(this.ids.subarray(slot * ID_BYTES, (slot + 1) * ID_BYTES));
      yield [id.toString('hex'), this.refAt(slot, id)];
    }
  }

  /** The slot holding the id at `at` in `bytes`, or −(free slot + 1) where it would go. Ids are HMAC outputs: uniformly spread. */
  private find(bytes: Uint8Array, at = 0): number {
    const mask = this.capacity - 1;
    let slot = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) & mask;
    for (;;) {
      if (this.words[slot * WORDS] === 0) return -slot - 1;
      if (this.sameId(slot, bytes, at)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private sameId(slot: number, bytes: Uint8Array, at: number): boolean {
    const from = slot * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (this.ids[from + i] !== bytes[at + i]) return false;
    return true;
  }

  /** The slot of the id at `at` in `bytes`: its own (its pack's count dropped: the caller writes it anew), or a new one. */
  private slotFor(bytes: Uint8Array, at: number): number {
    const slot = this.find(bytes, at);
    if (slot >= 0) {
      this.packRefs[this.words[slot * WORDS]! - 1]! -= 1;
      return slot;
    }
    this.ids.set(bytes.subarray(at, at + ID_BYTES), (-slot - 1) * ID_BYTES);
    this.count += 1;
    return -slot - 1;
  }

  private refAt(slot: number, id: Buffer): ChunkRef {
    const w = slot * WORDS;
    return {
      id,
      pack: this.packIds[this.words[w]! - 1]!,
      offset: this.words[w + 1]!,
      length: this.words[w + 2]!,
      size: this.words[w + 3]!,
      meta: this.flags[slot] === 1,
    };
  }

  private write(slot: number, packNo: number, offset: number, length: number, size: number, meta: boolean): void {
    const w = slot * WORDS;
    this.packRefs[packNo] = (this.packRefs[packNo] ?? 0) + 1;
    this.words[w] = packNo + 1;
    this.words[w + 1] = offset;
    this.words[w + 2] = length;
    this.words[w + 3] = size;
    this.flags[slot] = meta ? 1 : 0;
  }

  private packNumber(pack: Uint8Array): number {
    const hex = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength).toString('hex');
    let no = this.packNumbers.get(hex);
    if (no === undefined) {
      no = this.packIds.length;
      this.packIds.push(Buffer.from(pack));
      this.packNumbers.set(hex, no);
    }
    return no;
  }

  private grow(capacity: number): void {
    const old = { capacity: this.capacity, ids: this.ids, words: this.words, flags: this.flags };
    this.capacity = capacity;
    this.ids = new Uint8Array(this.capacity * ID_BYTES);
    this.words = new Uint32Array(this.capacity * WORDS);
    this.flags = new Uint8Array(this.capacity);
    for (let slot = 0; slot < old.capacity; slot++) {
      if (old.words[slot * WORDS] === 0) continue;
      const id = old.ids.subarray(slot * ID_BYTES, (slot + 1) * ID_BYTES);
      const to = -this.find(id) - 1;
      this.ids.set(id, to * ID_BYTES);
      this.words.set(old.words.subarray(slot * WORDS, (slot + 1) * WORDS), to * WORDS);
      this.flags[to] = old.flags[slot]!;
    }
  }
}
