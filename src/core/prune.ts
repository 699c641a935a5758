/**
 * prune: delete what no catalog record needs, and repack packs that are mostly garbage. Runs under the
 * exclusive lock, so no backup or put is appending meanwhile (they hold shared locks); refuses to start
 * unless every member is up and can be listed — a member that cannot be listed could hold objects whose
 * fate we cannot judge.
 *
 * Live = every chunk entry reachable from a record: for a snapshot, every tree blob and file content (and
 * their pages); for a put file, its content. If any record cannot be read, nothing is deleted. An entry
 * names the pack its chunk was written to; following forwarding records (store/forwarding.ts) from there
 * gives the pack that holds it now. A pack in which no live entry (nor the index ref of a live chunk) ends
 * is dead. A pack of which at least `repackThreshold` (default 50%) of the bytes are not live chunks is
 * repacked: its body is read from k members and verified against its table, its live sealed chunks are
 * copied as they are into new packs (a body that cannot be had verified keeps the pack whole, reported),
 * and a forwarding record tells whoever holds a chunk's key where it went — manifests and trees are never
 * rewritten.
 *
 * Chains stay one record long: for every pack a live entry names, the record of that pack must send each of
 * its live chunks straight to where the chunk is once this prune is done. A record that does not (the chunk
 * moved again, or a chain an older version or an interrupted prune left) is superseded by a new generation
 * naming the current places; the generations it replaces, and records that no live entry starts from, are
 * deleted. Records only ever name chunks some catalog record reaches: a chunk no record reaches is
 * garbage, and its bytes are deleted or repacked away too.
 *
 * Order (crash-safe at every step): new packs → new index segments (live chunks where they are now) →
 * new forwarding records (on every member) → old index segments deleted → dead and repacked packs deleted →
 * superseded and unneeded forwarding records deleted → orphan manifests deleted. Until the new records are
 * on every member, the old ones still lead to packs that are not deleted yet; a crash leaves at worst
 * duplicate copies or records, which the next prune removes. Before the index is replaced and before each
 * batch of deletions, prune confirms it still holds the exclusive lock (`confirmLock`); if not, it stops there.
 */
import { RaicError, abortError } from '../errors.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import {
  FORWARD_PREFIX,
  MAX_FORWARD_GENERATION,
  ForwardRecord,
  ForwardTable,
  INDEX_PREFIX,
  MANIFESTS_PREFIX,
  PackReader,
  PackWriter,
  ChunkReader,
  forwardGenerations,
  getFromAny,
  idOfKey,
  indexKey,
  loadIndex,
  messageOf,
  packKey,
  packBodyBytes,
  parseForwardKey,
  writeForwardRecord,
  writeIndexSegment,
  type ChunkEntry,
  type ChunkIndex,
  type ChunkLocation,
  type ChunkRef,
  type ForwardHop,
  type ForwardMove,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';
import { readCatalog } from './catalog.js';
import { forEachReachable } from './reachable.js';

/** Repack a pack once half its bytes are garbage: each repack at least halves the space of what it moves. */
export const DEFAULT_REPACK_THRESHOLD = 0.5;
const MAX_FORWARD_HOPS = 64;
/** Objects deleted (from every member) between two confirmations of the lock. */
const DELETE_BATCH = 100;

export interface PruneOptions {
  dryRun: boolean;
  /** Repack a pack when at least this fraction of its bytes is not live (0 < t ≤ 1; 1 never repacks). */
  repackThreshold?: number;
  /** Stops before anything is deleted when aborted (e.g. the exclusive lock was lost). */
  signal?: AbortSignal;
  /**
   * The exclusive lock's confirm(): called before the index is replaced and before each batch of
   * DELETE_BATCH deletions; when it rejects, prune stops there, having deleted nothing more.
   */
  confirmLock?: () => Promise<void>;
}

export interface RepackSkip {
  pack: string;
  reason: string;
}

export interface PruneResult {
  dryRun: boolean;
  packsTotal: number;
  /** Packs deleted: those with no live chunk and those repacked. */
  packsDeleted: number;
  /** Bytes of deleted packs, summed over members. */
  bytesFreed: number;
  /** Packs whose live shares were moved into new packs (then deleted), and how many chunks moved. */
  packsRepacked: number;
  /** Ids of the packs repacked (a dry run: that would be). */
  repackedPacks: string[];
  chunksMoved: number;
  /** New packs and their bytes summed over members (a dry run estimates the bytes from the shares to move). */
  packsWritten: number;
  bytesWritten: number;
  /** Packs over the threshold that were kept whole, and why (a member's copy missing or damaged, …). */
  repackSkipped: RepackSkip[];
  /** Records written: for repacked packs, and new generations that send chunks straight to where they are. */
  forwardRecordsWritten: number;
  /** Records deleted: generations a new one superseded, and records no live entry starts from. */
  forwardRecordsDeleted: number;
  /** Needed records found missing on some member and copied there from another. */
  forwardRecordsRepaired: number;
  /** Live chunks that no member holds at any place their entries lead to (data loss: run raic check). */
  liveChunksMissing: number;
  /** Kept packs that also hold unreferenced chunks, and those chunks' plaintext bytes. */
  partlyUsedPacks: number;
  unusedBytesInKeptPacks: number;
  manifestsDeleted: number;
  indexSegmentsReplaced: number;
}

/**
 * A live chunk: every place ("pack hex:offset") its entries name, with the entry naming it. One chunk may be
 * stored more than once (sessions that did not see each other's index); every copy opens under the chunk's
 * key, so any copy serves any entry, but copies may differ in length (compression settings): each place keeps
 * its own entry, and a move records the length at the new place.
 */
type LiveChunk = Map<string, ChunkEntry>;

/** Chunks are interchangeable between copies (same key, same plaintext): a copy is named by the chunk id. */
const copyOf = (e: ChunkRef): string => e.id.toString('hex');

async function liveChunks(array: RaicArray, keys: RepoKeys): Promise<Map<string, LiveChunk>> {
  const live = new Map<string, LiveChunk>();
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  for (const record of await readCatalog(array, keys)) {
    await forEachReachable(array, reader, record, (entry) => {
      const id = entry.id.toString('hex');
      const chunk = live.get(id) ?? live.set(id, new Map()).get(id)!;
      chunk.set(`${entry.pack.toString('hex')}:${entry.offset}`, entry);
    });
  }
  return live;
}

/**
 * One place a live entry names, in a pack that has forwarding records, and where the records lead from there.
 * (Places in packs without records are read where they are: they need no record.)
 */
interface Path {
  start: ChunkEntry;
  /** The first step, with the record that gave it; null when no record of the start's pack names the chunk. */
  first: ForwardHop | null;
  /** The place in an existing pack the steps lead to; null when they end in a pack no member lists. */
  end: ChunkEntry | null;
  /** Where the chunk is found from any of its places (for a path that ends nowhere). */
  found: ChunkEntry | null;
}

interface Placement {
  /** Existing pack → the live chunks it must keep (id hex → the entry of its copy there). */
  needed: Map<string, Map<string, ChunkEntry>>;
  /** Pack with records → the paths of the live entries that name a place in it. */
  paths: Map<string, Path[]>;
  /** Live chunks found in no existing pack. */
  missing: number;
}

/** Where each live chunk is now: from every place its entries (and the index) name, follow its moves. */
async function placeLiveChunks(
  live: Map<string, LiveChunk>,
  index: ChunkIndex,
  packs: Map<string, number>,
  listed: Map<string, number[]>,
  forwards: ForwardTable,
): Promise<Placement> {
  const placement: Placement = { needed: new Map(), paths: new Map(), missing: 0 };
  for (const [idHex, chunk] of live) {
    const starts = [...chunk.values()].map((start) => ({ start, named: true }));
    const indexed = index.get(idHex);
    // The index ref's own place and length; the key is the chunk's. Readers never hold it: it needs no record.
    if (indexed) starts.push({ start: { ...starts[0]!.start, ...indexed }, named: false });
    const paths: Path[] = [];
    let found: ChunkEntry | null = null;
    for (const { start, named } of starts) {
      let at = start;
      let first: ForwardHop | null = null;
      let pack = at.pack.toString('hex');
      for (let hop = 0; hop < MAX_FORWARD_HOPS; hop++) {
        const generations = listed.get(pack);
        if (!generations) break;
        const next = await forwards.lookup(pack, generations, at);
        if (!next) break;
        first ??= next;
        at = { ...at, pack: next.pack, offset: next.offset, length: next.length };
        pack = next.pack.toString('hex');
      }
      const end = packs.has(pack) ? at : null;
      if (named && listed.has(start.pack.toString('hex'))) paths.push({ start, first, end, found: null });
      if (!end) continue;
      found ??= end;
      const need = placement.needed.get(pack) ?? placement.needed.set(pack, new Map()).get(pack)!;
      // Two copies of one chunk in one pack: either serves (a move forwards every entry by chunk id).
      if (!need.has(idHex)) need.set(idHex, at);
    }
    if (!found) placement.missing += 1;
    for (const path of paths) {
      path.found = found;
      const from = path.start.pack.toString('hex');
      (placement.paths.get(from) ?? placement.paths.set(from, []).get(from)!).push(path);
    }
  }
  return placement;
}

const samePlace = (a: ChunkLocation, b: ChunkLocation): boolean => a.pack.equals(b.pack) && a.offset === b.offset && a.length === b.length;

/**
 * The records the packs with records need after this prune: for each, either its current generations stay
 * (every live entry naming it is sent, in one step, to where its chunk will be) or a new generation naming
 * those places. `placeOf` gives where a chunk will be (undefined: not known, as in a dry run).
 */
function planRecords(
  paths: Map<string, Path[]>,
  listed: Map<string, number[]>,
  placeOf: (at: ChunkEntry) => ChunkRef | undefined,
  plans: Map<string, ForwardMove[]>,
): Set<string> {
  const kept = new Set<string>();
  for (const [pack, list] of paths) {
    /** Chunk id hex → the step its record gives now, and where it must lead (null: not known). */
    const wanted = new Map<string, { current: ForwardHop | null; move: ForwardMove | null }>();
    for (const path of list) {
      // Named in a pack that stays, in no record of it: read where it is.
      if (!path.first && path.end) continue;
      const idHex = path.start.id.toString('hex');
      if (wanted.has(idHex)) continue;
      const to = (path.end ?? path.found) && placeOf((path.end ?? path.found)!);
      wanted.set(idHex, { current: path.first, move: to ? { id: path.start.id, key: path.start.key, to: { pack: to.pack, offset: to.offset, length: to.length } } : null });
    }
    if (wanted.size === 0) continue;
    const steps = [...wanted.values()];
    const settled = !plans.has(pack) && steps.every((w) => w.current && w.move && samePlace(w.current, w.move.to));
    // At the last generation (only a forged listing gets there) the records stay as they are: longer chains, nothing lost.
    if (settled || (!plans.has(pack) && listed.get(pack)![0]! >= MAX_FORWARD_GENERATION)) {
      for (const w of steps) if (w.current) kept.add(w.current.record);
      continue;
    }
    const plan = plans.get(pack) ?? plans.set(pack, []).get(pack)!;
    for (const w of steps) if (w.move) plan.push(w.move);
  }
  return kept;
}

export async function prune(array: RaicArray, keys: RepoKeys, opts: PruneOptions): Promise<PruneResult> {
  const threshold = opts.repackThreshold ?? DEFAULT_REPACK_THRESHOLD;
  if (!(threshold > 0 && threshold <= 1)) throw new RaicError('Usage', `the repack threshold must be a fraction in (0, 1], got ${threshold}`);
  const everyMember = 'prune needs every member (it never deletes while a member cannot be listed)';
  array.members.requireUp(array.n, everyMember);
  const sizes = await Promise.all(array.members.slots.map((s) => listSizes(array, s.index, 'packs/')));
  array.members.requireUp(array.n, everyMember);
  /** Every pack on any member → its largest copy's size. */
  const packs = new Map<string, number>();
  for (const m of sizes) for (const [p, size] of m) packs.set(p, Math.max(size, packs.get(p) ?? 0));
  const index = await loadIndex(array.members, array.k, keys.index);
  const forwardCopies = await listPerMember(array, FORWARD_PREFIX);
  /** Packs with forwarding records → their generations, newest first. */
  const listed = forwardGenerations(forwardCopies.keys());
  let live: Map<string, LiveChunk>;
  try {
    live = await liveChunks(array, keys);
  } catch (err) {
    throw new RaicError('Integrity', `prune stopped before deleting anything: a snapshot could not be read (${messageOf(err)})`, {
      cause: err,
      hint: 'run raic check; repair the array first',
    });
  }

  let placement: Placement;
  try {
    placement = await placeLiveChunks(live, index, packs, listed, new ForwardTable(array.members, { strict: true }));
  } catch (err) {
    throw new RaicError('Integrity', `prune stopped before deleting anything: a forwarding record could not be read (${messageOf(err)})`, { cause: err });
  }
  const { needed, paths, missing: liveChunksMissing } = placement;
  // A live chunk found nowhere means the picture is incomplete (a member serving old listings, a lost pack):
  // deleting by an incomplete picture could delete what that chunk's newer copy lives in.
  if (liveChunksMissing > 0 && !opts.dryRun) {
    throw new RaicError('Integrity', `prune stopped before deleting anything: ${liveChunksMissing} chunk(s) that snapshots need are on no member`, {
      hint: 'run raic check: bring back the member that holds them (then raic repair), or forget the snapshots it names as not restorable; then prune again',
    });
  }

  const dead: string[] = [];
  const candidates: string[] = [];
  const repackSkipped: RepackSkip[] = [];
  for (const [p, size] of packs) {
    const need = needed.get(p);
    if (!need || need.size === 0) {
      dead.push(p);
      continue;
    }
    let liveBytes = 0;
    for (const e of need.values()) liveBytes += e.length;
    // A member's object holds 1/k of the body (plus its table): the body is about k times it.
    const bodyBytes = array.k * size;
    if (bodyBytes - liveBytes < threshold * bodyBytes) continue;
    // Its record needs a new generation (a pack with records is still there after an interrupted prune).
    if ((listed.get(p)?.[0] ?? 0) >= MAX_FORWARD_GENERATION) repackSkipped.push({ pack: p, reason: 'its forwarding records are at their last generation; kept whole' });
    else candidates.push(p);
  }

  const result: PruneResult = {
    dryRun: opts.dryRun,
    packsTotal: packs.size,
    packsDeleted: 0,
    bytesFreed: 0,
    packsRepacked: 0,
    repackedPacks: [],
    chunksMoved: 0,
    packsWritten: 0,
    bytesWritten: 0,
    repackSkipped,
    forwardRecordsWritten: 0,
    forwardRecordsDeleted: 0,
    forwardRecordsRepaired: 0,
    liveChunksMissing,
    partlyUsedPacks: 0,
    unusedBytesInKeptPacks: 0,
    manifestsDeleted: 0,
    indexSegmentsReplaced: 0,
  };

  // Repack: copy each candidate's live sealed chunks into new packs.
  const repacked: string[] = [];
  const moves = new Map<string, ForwardMove[]>();
  /** Copy of a chunk (copyOf) → where it was moved. */
  const movedTo = new Map<string, ChunkRef>();
  // A live chunk of a candidate that also has a copy in a pack that stays (stored twice by sessions that
  // missed each other's index, or reached twice through an earlier move) is forwarded to that copy: nothing
  // to copy. Any copy opens under the chunk's key; the record carries that copy's own length.
  const candidateSet = new Set(candidates);
  const toCopy = new Map(candidates.flatMap((p) => [...needed.get(p)!.values()].map((e) => [copyOf(e), e] as const)));
  const keptCopies = new Map<string, ChunkRef>();
  for (const [p, need] of needed) {
    if (candidateSet.has(p)) continue;
    for (const e of need.values()) if (toCopy.has(copyOf(e))) keptCopies.set(copyOf(e), e);
  }
  if (opts.dryRun) {
    repacked.push(...candidates);
    const toMove = [...toCopy].filter(([copy]) => !keptCopies.has(copy)).map(([, e]) => e);
    const bytes = toMove.reduce((sum, e) => sum + e.length, 0);
    result.packsWritten = Math.ceil(bytes / packBodyBytes(array.tuning, array.k, array.n));
    result.bytesWritten = Math.ceil((bytes * array.n) / array.k);
    result.chunksMoved = toMove.length;
  } else if (candidates.length > 0) {
    const target = packBodyBytes(array.tuning, array.k, array.n);
    const maxChunk = [...toCopy.values()].reduce((max, e) => Math.max(max, e.length), 0);
    // Moved chunks stay apart as they were stored: metadata into metadata packs, file content into data packs.
    const writers = [false, true].map((meta) => new PackWriter(array.members, array.k, keys.index, target, target + maxChunk + 64 * 1024, array.n, meta));
    const reader = new PackReader(array.members, array.k);
    const writerFor = (c: ChunkRef): PackWriter => writers[c.meta ? 1 : 0]!;
    for (const p of candidates) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const chunks = [...needed.get(p)!.values()].sort((a, b) => a.offset - b.offset);
      let body: Buffer;
      try {
        body = await readVerifiedBody(reader, p, chunks);
      } catch (err) {
        repackSkipped.push({ pack: p, reason: messageOf(err) });
        continue;
      }
      const list: ForwardMove[] = [];
      for (const c of chunks) {
        let ref = movedTo.get(copyOf(c)) ?? keptCopies.get(copyOf(c));
        if (!ref) {
          ref = await writerFor(c).add({ id: c.id, size: c.size, sealed: body.subarray(c.offset, c.offset + c.length) });
          movedTo.set(copyOf(c), ref);
          result.chunksMoved += 1;
        }
        list.push({ id: c.id, key: c.key, to: { pack: ref.pack, offset: ref.offset, length: ref.length } });
      }
      moves.set(p, list);
      repacked.push(p);
    }
    for (const w of writers) await w.finish();
    result.packsWritten = writers.reduce((sum, w) => sum + w.stats.packs, 0);
    result.bytesWritten = writers.reduce((sum, w) => sum + w.stats.storedBytes, 0);
  }
  result.packsRepacked = repacked.length;
  result.repackedPacks = [...repacked].sort();

  // The index after prune: refs of kept packs, live chunks where they are now, moved chunks at their new place.
  const gone = new Set([...dead, ...repacked]);
  const kept = new Set([...packs.keys()].filter((p) => !gone.has(p)));
  const newIndex = new Map<string, ChunkRef>();
  for (const [idHex, ref] of index) if (kept.has(ref.pack.toString('hex'))) newIndex.set(idHex, ref);
  for (const p of kept) {
    for (const [idHex, e] of needed.get(p) ?? []) if (!newIndex.has(idHex)) newIndex.set(idHex, e);
  }
  for (const ref of movedTo.values()) if (!newIndex.has(ref.id.toString('hex'))) newIndex.set(ref.id.toString('hex'), ref);
  const indexChanged = gone.size > 0 || [...index.values()].some((r) => !packs.has(r.pack.toString('hex'))) || newIndex.size !== index.size;

  const partlyUsed = new Set<string>();
  for (const [idHex, ref] of index) {
    const p = ref.pack.toString('hex');
    if (!kept.has(p) || needed.get(p)?.has(idHex)) continue;
    partlyUsed.add(p);
    result.unusedBytesInKeptPacks += ref.size;
  }
  result.partlyUsedPacks = partlyUsed.size;
  result.packsDeleted = gone.size;
  result.bytesFreed = [...gone].reduce((sum, p) => sum + sizes.reduce((s, m) => s + (m.get(p) ?? 0), 0), 0);

  // Forwarding records: each repacked pack's, and a new generation wherever a live entry's chunk would
  // otherwise be more than one step away. Everything else under forward/ that no live entry uses goes.
  const repackedSet = new Set(repacked);
  const placeOf = (at: ChunkEntry): ChunkRef | undefined => (repackedSet.has(at.pack.toString('hex')) ? (movedTo.get(copyOf(at)) ?? keptCopies.get(copyOf(at))) : at);
  const plans = new Map(repacked.map((p) => [p, moves.get(p) ?? []]));
  const keptRecords = planRecords(paths, listed, placeOf, plans);
  const garbageForwards = [...forwardCopies.keys()].filter((key) => !keptRecords.has(key));
  const unreplicated = [...forwardCopies].filter(([key, on]) => keptRecords.has(key) && on.size < array.n);
  result.forwardRecordsDeleted = garbageForwards.length;
  result.forwardRecordsWritten = plans.size;
  result.forwardRecordsRepaired = unreplicated.length;

  const manifestKeys = [...(await listPerMember(array, MANIFESTS_PREFIX)).keys()];
  const recordIds = new Set((await readCatalog(array, keys)).map((r) => r.manifestId));
  const orphanManifests = manifestKeys.filter((k) => !recordIds.has(idOfKey(k)));
  result.manifestsDeleted = orphanManifests.length;
  const oldSegments = indexChanged ? [...(await listPerMember(array, INDEX_PREFIX)).keys()] : [];
  result.indexSegmentsReplaced = oldSegments.length;

  if (opts.dryRun) return result;

  if (opts.signal?.aborted) throw abortError(opts.signal);
  await opts.confirmLock?.();
  const written = new Set<string>();
  if (indexChanged) {
    const refs = [...newIndex.values()];
    for (let at = 0; at < refs.length; at += array.tuning.indexSegmentEntries) {
      written.add(indexKey(await writeIndexSegment(array.members, array.k, keys.index, refs.slice(at, at + array.tuning.indexSegmentEntries))));
    }
  }
  // On every member before anything they replace, or the packs they skip, is deleted.
  for (const [p, list] of plans) if (list.length > 0) await writeForwardRecord(array.members, Buffer.from(p, 'hex'), (listed.get(p)?.[0] ?? 0) + 1, list);
  for (const [key, on] of unreplicated) await repairRecord(array, key, on);
  await deleteConfirmed(array, oldSegments.filter((k) => !written.has(k)), opts);
  await deleteConfirmed(array, [...gone].map(packKey), opts);
  await deleteConfirmed(array, garbageForwards, opts);
  await deleteConfirmed(array, orphanManifests, opts);
  return result;
}

/**
 * The body of pack `packHex`, read from k members and verified region by region against the table k members
 * agree on, holding every one of `chunks`. Rejects when it cannot be had — then the pack is kept whole
 * (regenerating a share is repair's job).
 */
async function readVerifiedBody(reader: PackReader, packHex: string, chunks: readonly ChunkEntry[]): Promise<Buffer> {
  const { body, table } = await reader.readBody(packKey(packHex), Buffer.from(packHex, 'hex'));
  const end = table.table.bodyBytes - table.table.trailerBytes;
  const outside = chunks.find((c) => c.offset + c.length > end);
  if (outside) throw new RaicError('Integrity', `pack ${packHex.slice(0, 16)}: a chunk at ${outside.offset} lies outside it; kept whole`);
  return body;
}

/** Copies a forwarding record to the members that lack it, from a member whose copy is sound. */
async function repairRecord(array: RaicArray, key: string, on: Set<number>): Promise<void> {
  const { pack, generation } = parseForwardKey(key)!;
  const bytes = await getFromAny(array.members, key, 'forwarding record', (b) => {
    ForwardRecord.decode(Buffer.from(pack, 'hex'), generation, b);
    return b;
  });
  for (const slot of array.members.slots) if (!on.has(slot.index)) await array.members.call(slot.index, (p) => p.put(key, bytes));
}

/** Every key under `prefix` on any member → the members holding it. Rejects if a member cannot be listed. */
async function listPerMember(array: RaicArray, prefix: string): Promise<Map<string, Set<number>>> {
  const keys = new Map<string, Set<number>>();
  for (const slot of array.members.slots) {
    await array.members.call(slot.index, async (p) => {
      for await (const o of p.list(prefix)) (keys.get(o.key) ?? keys.set(o.key, new Set()).get(o.key)!).add(slot.index);
    });
  }
  return keys;
}

async function listSizes(array: RaicArray, member: number, prefix: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  await array.members.call(member, async (p) => {
    for await (const o of p.list(prefix)) sizes.set(idOfKey(o.key), o.size);
  });
  return sizes;
}

/**
 * Deletes `keys` from every member, DELETE_BATCH at a time; before each batch the signal is checked and the
 * lock confirmed. Members work through a batch side by side; a failure is rethrown once all have stopped.
 */
async function deleteConfirmed(array: RaicArray, keys: string[], opts: PruneOptions): Promise<void> {
  for (let at = 0; at < keys.length; at += DELETE_BATCH) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    await opts.confirmLock?.();
    const batch = keys.slice(at, at + DELETE_BATCH);
    const results = await Promise.allSettled(
      array.members.slots.map(async (slot) => {
        for (const key of batch) await array.members.call(slot.index, (p) => p.delete(key));
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
