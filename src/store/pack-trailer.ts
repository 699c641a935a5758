/**
 * Reading a pack's own description back: its footer names the trailer, the trailer (sealed under the
 * index key, bound to the pack id) lists the ChunkRefs of every stripe in it. Lets a session adopt
 * packs that a crashed session stored but never indexed, and lets the index be rebuilt from packs.
 */
import { RaicError } from '../errors.js';
import { open } from '../crypto/index.js';
import { decodeRefList, type ChunkRef } from './chunk-ref.js';
import { idOfKey, packKey } from './layout.js';
import type { Members } from './members.js';
import { PACK_FOOTER_BYTES, PACK_MAGIC, TRAILER_MAGIC } from './pack-writer.js';

/** The refs a pack describes, read from member `member` (whose copy is `size` bytes). */
export async function readPackTrailer(members: Members, member: number, packHex: string, size: number, indexKey: Uint8Array): Promise<ChunkRef[]> {
  const key = packKey(packHex);
  if (size < PACK_FOOTER_BYTES) throw new RaicError('Integrity', `pack ${packHex} is truncated`);
  const footer = await members.call(member, (p) => p.get(key, { offset: size - PACK_FOOTER_BYTES, length: PACK_FOOTER_BYTES }));
  if (footer.length !== PACK_FOOTER_BYTES || footer.toString('latin1', 4) !== PACK_MAGIC) throw new RaicError('Integrity', `pack ${packHex} has no valid footer`);
  const trailerLen = footer.readUInt32BE(0);
  const start = size - PACK_FOOTER_BYTES - trailerLen;
  if (start < 0) throw new RaicError('Integrity', `pack ${packHex} footer is damaged`);
  const sealed = await members.call(member, (p) => p.get(key, { offset: start, length: trailerLen }));
  let plain: Uint8Array;
  try {
    plain = open(indexKey, sealed, Buffer.from(packHex, 'hex'));
  } catch {
    throw new RaicError('Integrity', `pack ${packHex} trailer does not authenticate`);
  }
  return decodeRefList(TRAILER_MAGIC, Buffer.from(plain)).refs;
}

/**
 * Refs of packs that no index names, read from their trailers — only packs stored whole on every member
 * (same size everywhere): a pack an interrupted session stored on some members only is left to prune, so
 * adopting it can never commit a snapshot that is missing shares.
 */
export async function unindexedPackRefs(members: Members, packs: Map<string, PackCopies>, indexedPacks: Set<string>, indexKey: Uint8Array): Promise<ChunkRef[]> {
  const out: ChunkRef[] = [];
  for (const [packHex, where] of packs) {
    if (indexedPacks.has(packHex)) continue;
    if (where.sizes.size !== members.n || new Set(where.sizes.values()).size !== 1) continue;
    try {
      out.push(...(await readPackTrailer(members, where.member, packHex, where.size, indexKey)));
    } catch {
      // A damaged orphan is simply not adopted; prune removes it.
    }
  }
  return out;
}

export interface PackCopies {
  /** One member holding the pack, and the size of its copy. */
  member: number;
  size: number;
  /** Each up holder's copy size, by member index. */
  sizes: Map<number, number>;
}

/**
 * Members whose listed copy of `ref`'s pack is long enough to hold its share. One member's word is not
 * enough to trust a ref (a rolled-back member still lists packs the others have pruned): dedup and
 * adoption count these against the write quorum.
 */
export function holdersOf(packs: ReadonlyMap<string, PackCopies>, ref: ChunkRef): number {
  const copies = packs.get(ref.pack.toString('hex'));
  if (!copies) return 0;
  const end = ref.offset + ref.shareLen + PACK_FOOTER_BYTES;
  let n = 0;
  for (const size of copies.sizes.values()) if (size >= end) n += 1;
  return n;
}

/** Every pack on the up members. */
export async function listPacks(members: Members): Promise<Map<string, PackCopies>> {
  const packs = new Map<string, PackCopies>();
  await Promise.all(
    members.up().map((slot) =>
      members.call(slot.index, async (p) => {
        for await (const o of p.list('packs/')) {
          const id = idOfKey(o.key);
          const seen = packs.get(id);
          if (!seen) packs.set(id, { member: slot.index, size: o.size, sizes: new Map([[slot.index, o.size]]) });
          else seen.sizes.set(slot.index, o.size);
        }
      }),
    ),
  );
  return packs;
}
