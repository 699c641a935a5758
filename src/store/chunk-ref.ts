/**
 * ChunkRef: where the n shares of one encrypted chunk live, and the hash of each share.
 * Share i lives in member i's copy of pack `pack`, at the same `offset` on every member (all members'
 * packs of one group receive the same stripes in the same order), `shareLen` bytes long.
 *
 * Binary form (big-endian), fixed size for a given n:  id 32 | pack 16 | offset u48 | shareLen u32 |
 * size u32 | flags u8 | hashes n×32.  flags bit 0: the chunk is metadata (a tree blob or a manifest page) and
 * lives in a metadata pack; the other bits are zero. A ChunkEntry (manifests) is a ChunkRef followed by the
 * chunk's key (32).
 */
import { RaicError } from '../errors.js';

export interface ChunkRef {
  /** Chunk id (32 bytes): a one-way function of the chunk key; dedup key within a repository. */
  id: Buffer;
  /** Pack group id (16 bytes). */
  pack: Buffer;
  offset: number;
  shareLen: number;
  /** Plaintext size of the chunk. */
  size: number;
  /** Metadata (tree blob or manifest page), stored in a metadata pack apart from file content. */
  meta: boolean;
  /** n × 32-byte hashes, share i at [32i, 32i+32). */
  hashes: Buffer;
}

export interface ChunkEntry extends ChunkRef {
  /** The chunk's content-derived AEAD key (32 bytes). Only manifests carry it. */
  key: Buffer;
}

export const refBytes = (n: number): number => 63 + 32 * n;
const FLAG_META = 1;
export const entryBytes = (n: number): number => refBytes(n) + 32;

export function shareHash(ref: ChunkRef, member: number): Buffer {
  return ref.hashes.subarray(32 * member, 32 * member + 32);
}

export function writeRef(ref: ChunkRef, out: Buffer, at: number): number {
  ref.id.copy(out, at);
  ref.pack.copy(out, at + 32);
  out.writeUIntBE(ref.offset, at + 48, 6);
  out.writeUInt32BE(ref.shareLen, at + 54);
  out.writeUInt32BE(ref.size, at + 58);
  out.writeUInt8(ref.meta ? FLAG_META : 0, at + 62);
  ref.hashes.copy(out, at + 63);
  return at + 63 + ref.hashes.length;
}

export function readRef(buf: Buffer, at: number, n: number): ChunkRef {
  if (at + refBytes(n) > buf.length) throw new RaicError('Integrity', 'truncated chunk reference');
  const flags = buf.readUInt8(at + 62);
  if ((flags & ~FLAG_META) !== 0) throw new RaicError('Integrity', `a chunk reference has unknown flags ${flags}`);
  return {
    id: Buffer.from(buf.subarray(at, at + 32)),
    pack: Buffer.from(buf.subarray(at + 32, at + 48)),
    offset: buf.readUIntBE(at + 48, 6),
    shareLen: buf.readUInt32BE(at + 54),
    size: buf.readUInt32BE(at + 58),
    meta: (flags & FLAG_META) !== 0,
    hashes: Buffer.from(buf.subarray(at + 63, at + 63 + 32 * n)),
  };
}

export function writeEntry(entry: ChunkEntry, out: Buffer, at: number): number {
  const end = writeRef(entry, out, at);
  entry.key.copy(out, end);
  return end + 32;
}

export function readEntry(buf: Buffer, at: number, n: number): ChunkEntry {
  const ref = readRef(buf, at, n);
  const keyAt = at + refBytes(n);
  if (keyAt + 32 > buf.length) throw new RaicError('Integrity', 'truncated chunk entry');
  return { ...ref, key: Buffer.from(buf.subarray(keyAt, keyAt + 32)) };
}

/** A list of refs (or entries) with a magic and count: the body of pack trailers and index segments. */
export function encodeRefList(magic: string, n: number, refs: readonly ChunkRef[], withKeys = false): Buffer {
  const size = withKeys ? entryBytes(n) : refBytes(n);
  const out = Buffer.alloc(8 + 1 + 4 + size * refs.length);
  out.write(magic, 0, 8, 'latin1');
  out.writeUInt8(n, 8);
  out.writeUInt32BE(refs.length, 9);
  let at = 13;
  for (const ref of refs) at = withKeys ? writeEntry(ref as ChunkEntry, out, at) : writeRef(ref, out, at);
  return out;
}

export function decodeRefList(magic: string, buf: Buffer, withKeys: true): { n: number; refs: ChunkEntry[] };
export function decodeRefList(magic: string, buf: Buffer, withKeys?: false): { n: number; refs: ChunkRef[] };
export function decodeRefList(magic: string, buf: Buffer, withKeys = false): { n: number; refs: ChunkRef[] } {
  if (buf.length < 13 || buf.toString('latin1', 0, 8) !== magic) {
    throw new RaicError('Integrity', `not a ${magic.trim()} record`);
  }
  const n = buf.readUInt8(8);
  const count = buf.readUInt32BE(9);
  const size = withKeys ? entryBytes(n) : refBytes(n);
  if (buf.length !== 13 + count * size) throw new RaicError('Integrity', `${magic.trim()} record has the wrong length`);
  const refs: ChunkRef[] = [];
  for (let i = 0, at = 13; i < count; i++, at += size) refs.push(withKeys ? readEntry(buf, at, n) : readRef(buf, at, n));
  return { n, refs };
}
