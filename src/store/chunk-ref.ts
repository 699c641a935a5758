/**
 * ChunkRef: where one sealed chunk lives — bytes [offset, offset + length) of the body of pack `pack`.
 * The body is erasure-coded as a whole (pack-codec.ts): a reader finds which data share holds the range from
 * the pack's table, reads it from that one member, and the chunk's own AEAD tag judges the bytes.
 *
 * Binary form (big-endian), 61 bytes:  id 32 | pack 16 | offset u32 | length u32 | size u32 | flags u8.
 * flags bit 0: the chunk is metadata (a tree blob or a manifest page) and lives in a metadata pack; the other
 * bits are zero. A ChunkEntry (manifests, tree blobs) is a ChunkRef followed by the chunk's key (32).
 */
import { RaicError } from '../errors.js';

export interface ChunkRef {
  /** Chunk id (32 bytes): a one-way function of the chunk key; dedup key within a repository. */
  id: Buffer;
  /** Pack id (16 bytes). */
  pack: Buffer;
  /** Offset of the sealed chunk in the pack's body. */
  offset: number;
  /** Bytes of the sealed chunk. */
  length: number;
  /** Plaintext size of the chunk. */
  size: number;
  /** Metadata (tree blob or manifest page), stored in a metadata pack apart from file content. */
  meta: boolean;
}

export interface ChunkEntry extends ChunkRef {
  /** The chunk's content-derived AEAD key (32 bytes). Only manifests carry it. */
  key: Buffer;
}

export const REF_BYTES = 61;
/** Where a ref's plaintext size (u32) lies in its binary form. */
const REF_SIZE_AT = 56;
export const ENTRY_BYTES = REF_BYTES + 32;
const FLAG_META = 1;

export function writeRef(ref: ChunkRef, out: Buffer, at: number): number {
  ref.id.copy(out, at);
  ref.pack.copy(out, at + 32);
  out.writeUInt32BE(ref.offset, at + 48);
  out.writeUInt32BE(ref.length, at + 52);
  out.writeUInt32BE(ref.size, at + REF_SIZE_AT);
  out.writeUInt8(ref.meta ? FLAG_META : 0, at + 60);
  return at + REF_BYTES;
}

export function readRef(buf: Buffer, at: number): ChunkRef {
  if (at + REF_BYTES > buf.length) throw new RaicError('Integrity', 'truncated chunk reference');
  return {
    id: Buffer.from(buf.subarray(at, at + 32)),
    pack: Buffer.from(buf.subarray(at + 32, at + 48)),
    offset: buf.readUInt32BE(at + 48),
    length: buf.readUInt32BE(at + 52),
    size: buf.readUInt32BE(at + REF_SIZE_AT),
    meta: refMetaAt(buf, at),
  };
}

/** The meta flag of the ref encoded at `at`; rejects Integrity on flags this version does not know. */
export function refMetaAt(buf: Buffer, at: number): boolean {
  const flags = buf[at + 60]!;
  if ((flags & ~FLAG_META) !== 0) throw new RaicError('Integrity', `a chunk reference has unknown flags ${flags}`);
  return flags === FLAG_META;
}

export function writeEntry(entry: ChunkEntry, out: Buffer, at: number): number {
  const end = writeRef(entry, out, at);
  entry.key.copy(out, end);
  return end + 32;
}

/**
 * An entry of a manifest page or tree blob. Its id, pack and key are views of `buf`, not copies (entries live as
 * long as the page they came from; a restore decodes hundreds of thousands).
 */
export function readEntry(buf: Buffer, at: number): ChunkEntry {
  const keyAt = at + REF_BYTES;
  if (keyAt + 32 > buf.length) throw new RaicError('Integrity', 'truncated chunk entry');
  return {
    id: buf.subarray(at, at + 32),
    pack: buf.subarray(at + 32, at + 48),
    offset: buf.readUInt32BE(at + 48),
    length: buf.readUInt32BE(at + 52),
    size: buf.readUInt32BE(at + REF_SIZE_AT),
    meta: refMetaAt(buf, at),
    key: buf.subarray(keyAt, keyAt + 32),
  };
}

/** Bytes before a ref list's first record: magic 8 | count u32. */
export const REF_LIST_HEADER_BYTES = 12;

/** A list of refs (or entries) with a magic and count: the body of pack trailers and index segments. */
export function encodeRefList(magic: string, refs: readonly ChunkRef[], withKeys = false): Buffer {
  const size = withKeys ? ENTRY_BYTES : REF_BYTES;
  const out = Buffer.alloc(REF_LIST_HEADER_BYTES + size * refs.length);
  out.write(magic, 0, 8, 'latin1');
  out.writeUInt32BE(refs.length, 8);
  let at = REF_LIST_HEADER_BYTES;
  for (const ref of refs) at = withKeys ? writeEntry(ref as ChunkEntry, out, at) : writeRef(ref, out, at);
  return out;
}

export function decodeRefList(magic: string, buf: Buffer, withKeys: true): ChunkEntry[];
export function decodeRefList(magic: string, buf: Buffer, withKeys?: false): ChunkRef[];
export function decodeRefList(magic: string, buf: Buffer, withKeys = false): ChunkRef[] {
  const count = refListCount(magic, buf, withKeys);
  const size = withKeys ? ENTRY_BYTES : REF_BYTES;
  const refs: ChunkRef[] = [];
  for (let i = 0, at = REF_LIST_HEADER_BYTES; i < count; i++, at += size) refs.push(withKeys ? readEntry(buf, at) : readRef(buf, at));
  return refs;
}

/**
 * How many records a ref list holds and the plaintext bytes they describe, checked as decodeRefList checks them
 * (magic, length, each record's flags) without making the records (rejects Integrity).
 */
export function refListTotals(magic: string, buf: Buffer, withKeys = false): { count: number; bytes: number } {
  const count = refListCount(magic, buf, withKeys);
  const size = withKeys ? ENTRY_BYTES : REF_BYTES;
  let bytes = 0;
  for (let i = 0, at = REF_LIST_HEADER_BYTES; i < count; i++, at += size) {
    refMetaAt(buf, at);
    bytes += buf.readUInt32BE(at + REF_SIZE_AT);
  }
  return { count, bytes };
}

/** How many records a ref list holds, once its magic and length are checked (rejects Integrity). */
export function refListCount(magic: string, buf: Buffer, withKeys = false): number {
  if (buf.length < REF_LIST_HEADER_BYTES || buf.toString('latin1', 0, 8) !== magic) {
    throw new RaicError('Integrity', `not a ${magic.trim()} record`);
  }
  const count = buf.readUInt32BE(8);
  if (buf.length !== REF_LIST_HEADER_BYTES + count * (withKeys ? ENTRY_BYTES : REF_BYTES)) throw new RaicError('Integrity', `${magic.trim()} record has the wrong length`);
  return count;
}
