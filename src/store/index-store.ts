/**
 * The index: chunk id → ChunkRef, as encrypted segments `index/<id>`, erasure-coded like packs (each member
 * holds one share and the table: n/k of the segment's size in all, not n times it). Each put/backup writes
 * its own segments (append-only, no read-modify-write), after its packs and before its manifest. The index
 * holds no chunk keys: it locates ciphertext, it cannot decrypt it. A segment's id is the SHA-256 of its
 * sealed bytes, checked after they are decoded.
 */
import { RaicError, isRaicError } from '../errors.js';
import { hash, open, seal } from '../crypto/index.js';
import { loadErasureCodec } from '../erasure/index.js';
import { ChunkIndex } from './chunk-index.js';
import { REF_LIST_HEADER_BYTES, decodeRefList, encodeRefList, refListCount, type ChunkRef } from './chunk-ref.js';
import { INDEX_PREFIX, idOfKey, indexKey } from './layout.js';
import type { Members } from './members.js';
import { encodePack } from './pack-codec.js';
import { PackReader } from './pack-reader.js';
import { listCounts, putOnAll } from './replicated.js';

const INDEX_MAGIC = 'RAICIDX2';
const INDEX_AD = Buffer.from('raic index v2');

/** The first 16 bytes of a segment's id: what its table names. */
export const segmentTableId = (idHex: string): Buffer => Buffer.from(idHex.slice(0, 32), 'hex');

/** Every member's object of an erasure-coded, content-addressed body (index segments). */
export async function codedObjects(body: Uint8Array, k: number, n: number, idHex: string): Promise<Buffer[]> {
  return encodePack(body, await loadErasureCodec(k, n), segmentTableId(idHex)).objects;
}

export async function writeIndexSegment(members: Members, k: number, key: Uint8Array, refs: readonly ChunkRef[], need = members.n): Promise<string> {
  const sealed = seal(key, encodeRefList(INDEX_MAGIC, refs), INDEX_AD);
  const id = hash(sealed).toString('hex');
  await putOnAll(members, indexKey(id), await codedObjects(sealed, k, members.n, id), 'index', need);
  return id;
}

export function decodeIndexSegment(key: Uint8Array, idHex: string, sealed: Buffer): ChunkRef[] {
  return decodeRefList(INDEX_MAGIC, openIndexSegment(key, idHex, sealed));
}

/** A segment's ref list (still encoded), once its id and its seal are checked. */
function openIndexSegment(key: Uint8Array, idHex: string, sealed: Buffer): Buffer {
  if (!hash(sealed).equals(Buffer.from(idHex, 'hex'))) throw new RaicError('Integrity', `index segment ${idHex} is corrupt`);
  try {
    const plain = open(key, sealed, INDEX_AD);
    return Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  } catch {
    throw new RaicError('Integrity', `index segment ${idHex} does not authenticate`);
  }
}

/** One segment's refs, decoded from k members' verified shares. */
export async function readIndexSegment(reader: PackReader, key: Uint8Array, idHex: string): Promise<ChunkRef[]> {
  const { body } = await reader.readBody(indexKey(idHex), segmentTableId(idHex));
  return decodeIndexSegment(key, idHex, body);
}

/** A segment deleted since it was listed names nothing; any other failure stands. */
function skipDeleted(err: unknown): null {
  if (isRaicError(err, 'NotFound')) return null;
  throw err;
}

/** Segments read at once (each from k members). */
const PARALLEL_SEGMENTS = 8;

/** The index segments at least k up members list: the only ones that can be committed (see loadIndex). */
export async function committedSegments(members: Members, k: number): Promise<string[]> {
  return [...(await listCounts(members, INDEX_PREFIX))].filter(([, holders]) => holders >= k).map(([key]) => key);
}

/**
 * Loads every index segment that at least k up members list (or only the segments named by `only`): fewer
 * cannot be read, and are an interrupted write's leftovers or a member's phantoms, never a committed segment.
 * With `keepPack`, only refs into packs it accepts (hex ids) are loaded (and so a rejected ref never hides an
 * accepted one for the same chunk). A segment that every member calls absent was deleted since it was listed
 * (prune replaced it; listings may lag) and is skipped: a missing entry only costs dedup.
 */
export async function loadIndex(members: Members, k: number, key: Uint8Array, only?: Iterable<string>, keepPack?: (packHex: string) => boolean): Promise<ChunkIndex> {
  const index = new ChunkIndex();
  const keys = only ? [...only] : await committedSegments(members, k);
  const reader = new PackReader(members, k);
  const readList = async (objectKey: string): Promise<Buffer> => {
    const idHex = idOfKey(objectKey);
    return openIndexSegment(key, idHex, (await reader.readBody(indexKey(idHex), segmentTableId(idHex))).body);
  };
  // Read PARALLEL_SEGMENTS at a time, added in listing order (a later segment's ref for the same chunk wins),
  // so at most that many segments are held besides the compact index. Refs go in still encoded (addEncoded).
  for (let at = 0; at < keys.length; at += PARALLEL_SEGMENTS) {
    const batch = await Promise.all(keys.slice(at, at + PARALLEL_SEGMENTS).map((k2) => readList(k2).catch(skipDeleted)));
    const counts = batch.map((list) => (list ? refListCount(INDEX_MAGIC, list) : 0));
    index.reserve(index.size + counts.reduce((sum, n) => sum + n, 0));
    batch.forEach((list, i) => list && index.addEncoded(list, REF_LIST_HEADER_BYTES, counts[i]!, keepPack));
  }
  return index;
}
