/**
 * Whole-pack erasure coding — the building block of the next format (the storage-format issue's design; not
 * yet what packs are written with, see docs/DESIGN.md for the current format). Pure functions over bytes.
 *
 * A pack's **body** (sealed chunks back to back, then its sealed trailer) is cut into k contiguous data
 * shares of `shareLen = ceil(body / k)` bytes (the last zero-padded) and n − k parity shares (Reed-Solomon,
 * the array's codec, position by position). Member i stores share i. So a healthy read of one chunk is one
 * ranged GET from the member whose data share holds it (two when it straddles a share boundary), checked by
 * the chunk's own AEAD tag, with no decoding; any range can still be rebuilt from the same range of any k
 * shares, because Reed-Solomon works byte position by byte position.
 *
 * The **pack table** says how the body was cut and holds a hash of every region (REGION_BYTES) of every share,
 * so a reader rebuilding a range knows which member's bytes lie before it decodes, and repair and check verify
 * shares region by region. The pack id is the first 16 bytes of SHA-256 of the table: any member's copy of the
 * table is checked against the id every reference carries, and no member can substitute another.
 *
 *   table = "RAICPT01" | k u8 | n u8 | regionBytes u32 | bodyBytes u48 | shareLen u32 |
 *           n × regions × 16-byte truncated SHA-256 (share-major)          (big-endian)
 */
import { hash } from '../crypto/index.js';
import type { ErasureCodec } from '../erasure/index.js';
import { RaicError } from '../errors.js';

export const TABLE_MAGIC = 'RAICPT01';
/** Bytes per hashed region: a degraded read of a small chunk fetches k regions of this size. */
export const REGION_BYTES = 64 * 1024;
const REGION_HASH_BYTES = 16;
const TABLE_HEADER_BYTES = 8 + 1 + 1 + 4 + 6 + 4;
/** A body larger than this is refused (a pack is tens of MiB; the bound keeps a lying table from allocating). */
export const MAX_BODY_BYTES = 2 ** 32;

export interface PackTable {
  k: number;
  n: number;
  regionBytes: number;
  bodyBytes: number;
  shareLen: number;
  /** n × regions × 16 bytes. */
  hashes: Buffer;
}

export const regionsPerShare = (t: Pick<PackTable, 'shareLen' | 'regionBytes'>): number => Math.ceil(t.shareLen / t.regionBytes);

export interface EncodedPack {
  /** 16 bytes: SHA-256(table)[0:16]. */
  id: Buffer;
  table: PackTable;
  /** The encoded table (what every member stores beside its share). */
  tableBytes: Buffer;
  shareLen: number;
  /** n shares back to back, shareLen each. */
  stripe: Uint8Array;
}

/** Cuts `body` into k data and n − k parity shares, hashes every region, and names the pack. */
export function encodePack(body: Uint8Array, codec: ErasureCodec, regionBytes = REGION_BYTES): EncodedPack {
  const { k, n } = codec;
  if (body.length === 0 || body.length > MAX_BODY_BYTES) throw new RaicError('Usage', `a pack body must be 1 byte to 4 GiB, not ${body.length}`);
  const shareLen = Math.ceil(body.length / k);
  const stripe = new Uint8Array(n * shareLen);
  stripe.set(body);
  codec.encode(stripe, shareLen);
  const table: PackTable = { k, n, regionBytes, bodyBytes: body.length, shareLen, hashes: Buffer.alloc(0) };
  const regions = regionsPerShare(table);
  table.hashes = Buffer.alloc(n * regions * REGION_HASH_BYTES);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < regions; r++) {
      const from = i * shareLen + r * regionBytes;
      const to = i * shareLen + Math.min(shareLen, (r + 1) * regionBytes);
      hash(stripe.subarray(from, to)).copy(table.hashes, (i * regions + r) * REGION_HASH_BYTES, 0, REGION_HASH_BYTES);
    }
  }
  const tableBytes = encodePackTable(table);
  return { id: packIdOf(tableBytes), table, tableBytes, shareLen, stripe };
}

export const packIdOf = (tableBytes: Uint8Array): Buffer => hash(tableBytes).subarray(0, 16);

export function encodePackTable(t: PackTable): Buffer {
  const out = Buffer.alloc(TABLE_HEADER_BYTES + t.hashes.length);
  out.write(TABLE_MAGIC, 0, 8, 'latin1');
  out.writeUInt8(t.k, 8);
  out.writeUInt8(t.n, 9);
  out.writeUInt32BE(t.regionBytes, 10);
  out.writeUIntBE(t.bodyBytes, 14, 6);
  out.writeUInt32BE(t.shareLen, 20);
  t.hashes.copy(out, TABLE_HEADER_BYTES);
  return out;
}

/**
 * Parses a pack table as a member served it, checking it against the pack id (so it is the table the writer
 * made) and against the array's shape. Every length is checked before anything is allocated or indexed.
 * Rejects Integrity.
 */
export function parsePackTable(bytes: Uint8Array, packId: Uint8Array, shape: { k: number; n: number }): PackTable {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < TABLE_HEADER_BYTES || buf.toString('latin1', 0, 8) !== TABLE_MAGIC) throw new RaicError('Integrity', 'not a raic pack table');
  if (!packIdOf(buf).equals(Buffer.from(packId))) throw new RaicError('Integrity', 'a pack table does not match its pack id');
  const t = { k: buf.readUInt8(8), n: buf.readUInt8(9), regionBytes: buf.readUInt32BE(10), bodyBytes: buf.readUIntBE(14, 6), shareLen: buf.readUInt32BE(20) };
  if (t.k !== shape.k || t.n !== shape.n) throw new RaicError('Integrity', `a pack table is for a ${t.k}-of-${t.n} array, not ${shape.k}-of-${shape.n}`);
  if (t.regionBytes < 1 || t.bodyBytes < 1 || t.bodyBytes > MAX_BODY_BYTES || t.shareLen !== Math.ceil(t.bodyBytes / t.k)) {
    throw new RaicError('Integrity', 'a pack table has an impossible geometry');
  }
  const want = t.n * regionsPerShare(t) * REGION_HASH_BYTES;
  if (buf.length !== TABLE_HEADER_BYTES + want) throw new RaicError('Integrity', 'a pack table has the wrong length');
  return { ...t, hashes: Buffer.from(buf.subarray(TABLE_HEADER_BYTES)) };
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
