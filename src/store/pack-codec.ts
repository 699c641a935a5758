/**
 * Whole-pack erasure coding: the format of packs and of every other erasure-coded object (index segments).
 * Pure functions over bytes.
 *
 * An object's **body** (for a pack: sealed chunks back to back, then its sealed trailer) is cut into k
 * contiguous data shares of `shareLen = ceil(body / k)` bytes (the last zero-padded) and n − k parity shares
 * (Reed-Solomon, the array's codec, position by position). Member i stores share i. So a healthy read of one
 * chunk is one ranged GET from the member whose data share holds it (two when it straddles a share boundary),
 * checked by the chunk's own AEAD tag, with no decoding; any range can still be rebuilt from the same range of
 * any k shares, because Reed-Solomon works byte position by byte position.
 *
 * The **table** says how the body was cut and holds a hash of every region (REGION_BYTES) of every share, so
 * a reader rebuilding a range knows which member's bytes lie before it decodes, and repair and check verify
 * shares region by region. It names the object's id, so one object's table cannot stand in for another's.
 * Every member stores the same table; a reader uses a table only when k members serve it byte for byte (one
 * member's word decides nothing), and chunks are judged by their AEAD tags whatever the table says.
 *
 *   member object = "RAICPK03" | table length u32 | table | share i
 *   table = "RAICPT02" | id 16 | k u8 | n u8 | regionBytes u32 | bodyBytes u48 | shareLen u32 |
 *           trailerBytes u32 | n × regions × 16-byte truncated SHA-256 (share-major)      (big-endian)
 *
 * `trailerBytes`: a pack's body ends with its sealed trailer (that many bytes); 0 for other objects.
 */
import { hash } from '../crypto/index.js';
import type { ErasureCodec } from '../erasure/index.js';
import { RaicError } from '../errors.js';

export const OBJECT_MAGIC = 'RAICPK03';
export const TABLE_MAGIC = 'RAICPT02';
/** Bytes before the table in a member object. */
export const OBJECT_HEADER_BYTES = 12;
/** Bytes per hashed region: a degraded read of a small chunk fetches k regions of this size. */
export const REGION_BYTES = 64 * 1024;
const MIN_REGION_BYTES = 1024;
const REGION_HASH_BYTES = 16;
const TABLE_HEADER_BYTES = 8 + 16 + 1 + 1 + 4 + 6 + 4 + 4;
/** A body larger than this is refused (a pack is tens of MiB; the bound keeps a lying table from allocating). */
export const MAX_BODY_BYTES = 2 ** 32 - 1;
/** The longest table a member's header may announce (4 GiB bodies at 64 KiB regions, n = 64, fit). */
export const MAX_TABLE_BYTES = 4 * 1024 * 1024;

export interface PackTable {
  id: Buffer;
  k: number;
  n: number;
  regionBytes: number;
  bodyBytes: number;
  shareLen: number;
  trailerBytes: number;
  /** n × regions × 16 bytes. */
  hashes: Buffer;
}

export const regionsPerShare = (t: Pick<PackTable, 'shareLen' | 'regionBytes'>): number => Math.ceil(t.shareLen / t.regionBytes);

export interface EncodedPack {
  table: PackTable;
  /** The encoded table (what every member stores beside its share). */
  tableBytes: Buffer;
  shareLen: number;
  /** Member i's whole object (header, table, share i): what is uploaded to member i. */
  objects: Buffer[];
}

/** Bytes of parity computed at a time: the only scratch encoding needs beyond the objects themselves. */
const SLICE_BYTES = 256 * 1024;
/** encodePack's stripe, reused from call to call on this thread (n × SLICE_BYTES at most). */
let encodeScratch = new Uint8Array(0);

/** The size of each member object of a `bodyBytes` body (header, table, one share). */
export function packObjectBytes(bodyBytes: number, k: number, n: number, regionBytes = REGION_BYTES): number {
  const shareLen = Math.ceil(bodyBytes / k);
  return OBJECT_HEADER_BYTES + TABLE_HEADER_BYTES + n * regionsPerShare({ shareLen, regionBytes }) * REGION_HASH_BYTES + shareLen;
}

/**
 * Cuts `body` into k data and n − k parity shares, hashes every region, writes the table naming `id`, and
 * returns each member's object. The shares are built in place in the objects, a slice at a time (Reed-Solomon
 * works position by position), so encoding needs n/k × the body plus a small scratch, not a whole stripe more.
 * `allocObject` gives each object's memory (a writer passes recycled buffers: see PackWriter).
 */
export function encodePack(
  body: Uint8Array,
  codec: ErasureCodec,
  id: Uint8Array,
  trailerBytes = 0,
  regionBytes = REGION_BYTES,
  allocObject: (bytes: number) => Buffer = Buffer.allocUnsafeSlow,
): EncodedPack {
  const { k, n } = codec;
  if (body.length === 0 || body.length > MAX_BODY_BYTES) throw new RaicError('Usage', `a pack body must be 1 byte to 4 GiB, not ${body.length}`);
  if (id.length !== 16) throw new RaicError('Usage', 'an object id for a pack table is 16 bytes');
  const shareLen = Math.ceil(body.length / k);
  const table: PackTable = { id: Buffer.from(id), k, n, regionBytes, bodyBytes: body.length, shareLen, trailerBytes, hashes: Buffer.alloc(0) };
  const regions = regionsPerShare(table);
  table.hashes = Buffer.alloc(n * regions * REGION_HASH_BYTES);
  const dataStart = OBJECT_HEADER_BYTES + TABLE_HEADER_BYTES + table.hashes.length;
  const objectBytes = packObjectBytes(body.length, k, n, regionBytes); // dataStart + shareLen
  const objects = Array.from({ length: n }, () => allocObject(objectBytes));
  const shares = objects.map((o) => o.subarray(dataStart));
  for (let i = 0; i < k; i++) {
    const part = body.subarray(i * shareLen, Math.min(body.length, (i + 1) * shareLen));
    shares[i]!.set(part);
    shares[i]!.fill(0, part.length); // the last data share's padding
  }
  const slice = Math.min(SLICE_BYTES, shareLen);
  if (encodeScratch.length < n * slice) encodeScratch = new Uint8Array(n * slice);
  for (let at = 0; at < shareLen; at += slice) {
    const len = Math.min(slice, shareLen - at);
    const stripe = encodeScratch.subarray(0, n * len);
    for (let i = 0; i < k; i++) stripe.set(shares[i]!.subarray(at, at + len), i * len);
    codec.encode(stripe, len);
    for (let i = k; i < n; i++) shares[i]!.set(stripe.subarray(i * len, (i + 1) * len), at);
  }
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < regions; r++) {
      const region = shares[i]!.subarray(r * regionBytes, Math.min(shareLen, (r + 1) * regionBytes));
      hash(region).copy(table.hashes, (i * regions + r) * REGION_HASH_BYTES, 0, REGION_HASH_BYTES);
    }
  }
  const tableBytes = encodePackTable(table);
  for (const o of objects) {
    o.write(OBJECT_MAGIC, 0, 8, 'latin1');
    o.writeUInt32BE(tableBytes.length, 8);
    tableBytes.copy(o, OBJECT_HEADER_BYTES);
  }
  return { table, tableBytes, shareLen, objects };
}

/** Share i of an encoded pack (a view into member i's object). */
export const shareOf = (p: Pick<EncodedPack, 'objects' | 'tableBytes'>, i: number): Buffer => p.objects[i]!.subarray(OBJECT_HEADER_BYTES + p.tableBytes.length);

/** The table length a member object's first 12 bytes announce, bounded. Rejects Integrity. */
export function tableLengthOf(header: Uint8Array): number {
  const buf = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (buf.length < OBJECT_HEADER_BYTES || buf.toString('latin1', 0, 8) !== OBJECT_MAGIC) throw new RaicError('Integrity', 'not a raic erasure-coded object');
  const len = buf.readUInt32BE(8);
  if (len < TABLE_HEADER_BYTES || len > MAX_TABLE_BYTES) throw new RaicError('Integrity', `an erasure-coded object announces a ${len}-byte table`);
  return len;
}

export function encodePackTable(t: PackTable): Buffer {
  const out = Buffer.alloc(TABLE_HEADER_BYTES + t.hashes.length);
  out.write(TABLE_MAGIC, 0, 8, 'latin1');
  t.id.copy(out, 8);
  out.writeUInt8(t.k, 24);
  out.writeUInt8(t.n, 25);
  out.writeUInt32BE(t.regionBytes, 26);
  out.writeUIntBE(t.bodyBytes, 30, 6);
  out.writeUInt32BE(t.shareLen, 36);
  out.writeUInt32BE(t.trailerBytes, 40);
  t.hashes.copy(out, TABLE_HEADER_BYTES);
  return out;
}

/**
 * Parses a table as a member served it, checking it names `id` and fits the array's shape. Every length is
 * checked before anything is allocated or indexed. Rejects Integrity.
 */
export function parsePackTable(bytes: Uint8Array, id: Uint8Array, shape: { k: number; n: number }): PackTable {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < TABLE_HEADER_BYTES || buf.toString('latin1', 0, 8) !== TABLE_MAGIC) throw new RaicError('Integrity', 'not a raic pack table');
  if (!buf.subarray(8, 24).equals(Buffer.from(id.buffer, id.byteOffset, id.byteLength))) throw new RaicError('Integrity', 'a pack table names another object');
  const t = { k: buf.readUInt8(24), n: buf.readUInt8(25), regionBytes: buf.readUInt32BE(26), bodyBytes: buf.readUIntBE(30, 6), shareLen: buf.readUInt32BE(36), trailerBytes: buf.readUInt32BE(40) };
  if (t.k !== shape.k || t.n !== shape.n) throw new RaicError('Integrity', `a pack table is for a ${t.k}-of-${t.n} array, not ${shape.k}-of-${shape.n}`);
  if (t.regionBytes < MIN_REGION_BYTES || t.bodyBytes < 1 || t.bodyBytes > MAX_BODY_BYTES || t.shareLen !== Math.ceil(t.bodyBytes / t.k) || t.trailerBytes > t.bodyBytes) {
    throw new RaicError('Integrity', 'a pack table has an impossible geometry');
  }
  const want = t.n * regionsPerShare(t) * REGION_HASH_BYTES;
  if (buf.length !== TABLE_HEADER_BYTES + want) throw new RaicError('Integrity', 'a pack table has the wrong length');
  return { id: Buffer.from(buf.subarray(8, 24)), ...t, hashes: Buffer.from(buf.subarray(TABLE_HEADER_BYTES)) };
}

/** One share's part of a body range: share `share`, bytes [from, to) of it. */
export interface SharePiece {
  share: number;
  from: number;
  to: number;
}

/** Where body bytes [offset, offset + length) are: one piece per data share they touch. Rejects Integrity past the body. */
export function locateRange(t: Pick<PackTable, 'shareLen' | 'bodyBytes'>, offset: number, length: number): SharePiece[] {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 1 || offset + length > t.bodyBytes) {
    throw new RaicError('Integrity', `a chunk at ${offset}+${length} lies outside its ${t.bodyBytes}-byte pack`);
  }
  const pieces: SharePiece[] = [];
  for (let at = offset; at < offset + length; ) {
    const share = Math.floor(at / t.shareLen);
    const from = at - share * t.shareLen;
    const to = Math.min(t.shareLen, from + (offset + length - at));
    pieces.push({ share, from, to });
    at += to - from;
  }
  return pieces;
}

/** [from, to) widened to whole regions (what a degraded read fetches from each member, to verify it). */
export function regionSpan(t: Pick<PackTable, 'shareLen' | 'regionBytes'>, from: number, to: number): { from: number; to: number } {
  return { from: Math.floor(from / t.regionBytes) * t.regionBytes, to: Math.min(t.shareLen, Math.ceil(to / t.regionBytes) * t.regionBytes) };
}

/** Whether `bytes`, read from share `share` at the region-aligned offset `from`, match the table region by region. */
export function regionsMatch(t: PackTable, share: number, from: number, bytes: Uint8Array): boolean {
  if (from % t.regionBytes !== 0 || from + bytes.length > t.shareLen) return false;
  const regions = regionsPerShare(t);
  for (let at = 0; at < bytes.length; at += t.regionBytes) {
    const r = (from + at) / t.regionBytes;
    const end = Math.min(bytes.length, at + t.regionBytes);
    if (from + end !== Math.min(t.shareLen, (r + 1) * t.regionBytes)) return false; // a region cut short
    const want = t.hashes.subarray((share * regions + r) * REGION_HASH_BYTES, (share * regions + r + 1) * REGION_HASH_BYTES);
    if (!hash(bytes.subarray(at, end)).subarray(0, REGION_HASH_BYTES).equals(want)) return false;
  }
  return true;
}

/**
 * Rebuilds bytes [from, to) of every share (each `null` in `ranges`) from the same range of at least k others
 * (`ranges[i]`: share i's bytes [from, to), already verified with regionsMatch). Returns all n ranges.
 * Rejects Integrity when fewer than k are given.
 */
/** decodeShare's stripe, reused from call to call on this thread (n × DECODE_BLOCK bytes at most). */
let decodeScratch = new Uint8Array(0);
/** decodeShare works a block of each share at a time: a small stripe, reused, instead of one as large as the range. */
const DECODE_BLOCK = 256 * 1024;

/**
 * Share `want` (a data share) decoded from the same `length` bytes of at least k others (`ranges[i]`; null where
 * absent, and at `want`). A block at a time through one reused stripe, so the result is the only allocation:
 * a fresh stripe of n × length per range cost more in page faults and copying than the decoding itself.
 */
export function decodeShare(codec: ErasureCodec, ranges: readonly (Uint8Array | null)[], length: number, want: number): Buffer {
  const { k, n } = codec;
  if (ranges.length !== n) throw new RaicError('Usage', `decodeShare needs ${n} ranges, got ${ranges.length}`);
  if (!Number.isInteger(want) || want < 0 || want >= k || ranges[want]) throw new RaicError('Usage', `decodeShare decodes a missing data share, not share ${want}`);
  for (const [i, r] of ranges.entries()) if (r && r.length !== length) throw new RaicError('Usage', `range ${i} is ${r.length} bytes, not ${length}`);
  const present = ranges.map((r) => r !== null);
  const out = Buffer.allocUnsafe(length);
  const block = Math.min(DECODE_BLOCK, length);
  if (decodeScratch.length < n * block) decodeScratch = new Uint8Array(n * block);
  for (let at = 0; at < length; at += block) {
    const len = Math.min(block, length - at);
    const stripe = decodeScratch.subarray(0, n * len);
    for (let i = 0; i < n; i++) if (ranges[i]) stripe.set(ranges[i]!.subarray(at, at + len), i * len);
    codec.reconstruct(stripe, len, present);
    out.set(stripe.subarray(want * len, (want + 1) * len), at);
  }
  return out;
}

export function rebuildRange(codec: ErasureCodec, ranges: readonly (Uint8Array | null)[], length: number): Uint8Array[] {
  const { n } = codec;
  if (ranges.length !== n) throw new RaicError('Usage', `rebuildRange needs ${n} ranges, got ${ranges.length}`);
  const stripe = new Uint8Array(n * length);
  const present = ranges.map((r, i) => {
    if (!r) return false;
    if (r.length !== length) throw new RaicError('Usage', `range ${i} is ${r.length} bytes, not ${length}`);
    stripe.set(r, i * length);
    return true;
  });
  codec.reconstruct(stripe, length, present, { restoreParity: true });
  return Array.from({ length: n }, (_, i) => stripe.subarray(i * length, (i + 1) * length));
}
