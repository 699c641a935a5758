/**
 * The index: chunk id → ChunkRef, as encrypted segments `index/<id>` replicated on every member. Each
 * put/backup writes its own segments (append-only, no read-modify-write), after its packs and before
 * its manifest. The index holds no chunk keys: it locates ciphertext, it cannot decrypt it.
 */
import { RaicError, isRaicError } from '../errors.js';
import { hash, open, seal } from '../crypto/index.js';
import { decodeRefList, encodeRefList, type ChunkRef } from './chunk-ref.js';
import { INDEX_PREFIX, idOfKey, indexKey } from './layout.js';
import type { Members } from './members.js';
import { getFromAny, listUnion, putOnAll } from './replicated.js';

const INDEX_MAGIC = 'RAICIDX1';
const INDEX_AD = Buffer.from('raic index v1');

export async function writeIndexSegment(members: Members, key: Uint8Array, refs: readonly ChunkRef[], need = members.n): Promise<string> {
  const sealed = seal(key, encodeRefList(INDEX_MAGIC, members.n, refs), INDEX_AD);
  const id = hash(sealed).toString('hex');
  await putOnAll(members, indexKey(id), sealed, 'index', need);
  return id;
}

export function decodeIndexSegment(key: Uint8Array, idHex: string, sealed: Buffer): ChunkRef[] {
  if (!hash(sealed).equals(Buffer.from(idHex, 'hex'))) throw new RaicError('Integrity', `index segment ${idHex} is corrupt`);
  return decodeRefList(INDEX_MAGIC, Buffer.from(open(key, sealed, INDEX_AD))).refs;
}

/**
 * Loads every index segment found on any up member (or only the segments named by `only`). With `keep`,
 * only refs it accepts are loaded (and so a rejected ref never hides an accepted one for the same chunk).
 * A segment that every member calls absent was deleted since it was listed (prune replaced it; listings
 * may lag) and is skipped: a missing entry only costs dedup.
 */
export async function loadIndex(members: Members, key: Uint8Array, only?: Iterable<string>, keep?: (ref: ChunkRef) => boolean): Promise<Map<string, ChunkRef>> {
  const index = new Map<string, ChunkRef>();
  const keys = only ? [...only] : [...(await listUnion(members, INDEX_PREFIX)).keys()];
  for (const objectKey of keys) {
    const id = idOfKey(objectKey);
    let refs: ChunkRef[];
    try {
      refs = await getFromAny(members, objectKey, `index segment ${id}`, (bytes) => decodeIndexSegment(key, id, bytes));
    } catch (err) {
      if (isRaicError(err, 'NotFound')) continue;
      throw err;
    }
    for (const ref of refs) if (!keep || keep(ref)) index.set(ref.id.toString('hex'), ref);
  }
  return index;
}
