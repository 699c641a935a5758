/**
 * Reading a pack's own description back: the trailer at the end of its body (sealed under the index key,
 * bound to the pack id; its length is in the pack's table) lists the ChunkRefs of every chunk in it. Lets a
 * session adopt packs that a crashed session stored but never indexed, and lets the index be rebuilt from
 * packs.
 */
import { RaicError, isRaicError } from '../errors.js';
import { open } from '../crypto/index.js';
import { decodeRefList, type ChunkRef } from './chunk-ref.js';
import { idOfKey, packKey } from './layout.js';
import type { Members } from './members.js';
import type { PackReader } from './pack-reader.js';
import { TRAILER_MAGIC } from './pack-writer.js';

/** The refs pack `packHex` describes (read from its data shares, rebuilt from k members if they lie). */
export async function readPackTrailer(reader: PackReader, packHex: string, indexKey: Uint8Array): Promise<ChunkRef[]> {
  const object = packKey(packHex);
  const id = Buffer.from(packHex, 'hex');
  const { table } = await reader.table(object, id);
  if (table.trailerBytes === 0) throw new RaicError('Integrity', `pack ${packHex} has no trailer`);
  const at = table.bodyBytes - table.trailerBytes;
  try {
    return openPackTrailer(indexKey, id, await reader.readRange(object, id, at, table.trailerBytes), at);
  } catch (err) {
    if (!isRaicError(err, 'Integrity')) throw err;
    return openPackTrailer(indexKey, id, await reader.rebuildRange(object, id, at, table.trailerBytes), at);
  }
}

/**
 * The refs a sealed trailer lists: it must open under the index key with ad = the pack id, and every ref must
 * name this pack and lie in its body before the trailer (which starts at `trailerAt`). Rejects Integrity.
 */
export function openPackTrailer(indexKey: Uint8Array, id: Buffer, sealed: Uint8Array, trailerAt: number): ChunkRef[] {
  const packHex = id.toString('hex');
  let plain: Uint8Array;
  try {
    plain = open(indexKey, sealed, id);
  } catch (cause) {
    throw new RaicError('Integrity', `pack ${packHex} trailer does not authenticate`, { cause });
  }
  const refs = decodeRefList(TRAILER_MAGIC, Buffer.from(plain));
  if (refs.some((r) => !r.pack.equals(id) || r.offset + r.length > trailerAt)) throw new RaicError('Integrity', `pack ${packHex} trailer names bytes outside the pack`);
  return refs;
}

/**
 * Refs of packs that no index names, read from their trailers — only packs stored whole on every member
 * (same size everywhere): a pack an interrupted session stored on some members only is left to prune, so
 * adopting it can never commit a snapshot that is missing shares.
 */
export async function unindexedPackRefs(members: Members, reader: PackReader, packs: Map<string, PackCopies>, indexedPacks: Set<string>, indexKey: Uint8Array): Promise<ChunkRef[]> {
  const out: ChunkRef[] = [];
  for (const [packHex, where] of packs) {
    if (indexedPacks.has(packHex)) continue;
    if (where.sizes.size !== members.n || new Set(where.sizes.values()).size !== 1) continue;
    try {
      out.push(...(await readPackTrailer(reader, packHex, indexKey)));
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
 * Members that list pack `packHex` at the size most of its holders agree on (every member's object of a pack
 * has the same size). One member's word is not enough to trust a ref (a rolled-back member still lists packs
 * the others have pruned): dedup and adoption count these against the write quorum.
 */
export function holdersOf(packs: ReadonlyMap<string, PackCopies>, packHex: string): number {
  const copies = packs.get(packHex);
  if (!copies) return 0;
  const bySize = new Map<number, number>();
  for (const size of copies.sizes.values()) bySize.set(size, (bySize.get(size) ?? 0) + 1);
  return Math.max(...bySize.values());
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
