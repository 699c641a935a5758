/**
 * prune: delete what no catalog record needs. Runs under the exclusive lock, so no backup or put is
 * appending meanwhile (they hold shared locks); refuses to start unless every member is up and can be
 * listed — a member that cannot be listed could hold objects whose fate we cannot judge.
 *
 * Live = every chunk reachable from a record: for a snapshot, every tree blob and file content (and
 * their pages); for a put file, its content. If any record cannot be read, nothing is deleted.
 * Order (crash-safe at every step): new index segments naming only live packs → old index segments
 * deleted → dead packs deleted → orphan manifests (from interrupted runs) deleted.
 * Packs that still hold some live chunk are kept whole (see DESIGN.md: no repacking yet).
 */
import { RaicError } from '../errors.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import {
  INDEX_PREFIX,
  MANIFESTS_PREFIX,
  ShareReader,
  idOfKey,
  indexKey,
  listPacks,
  loadIndex,
  packKey,
  pageLoader,
  parseCapability,
  streamOf,
  walkStreamAll,
  writeIndexSegment,
  type ChunkRef,
  type RaicArray,
  type RepoKeys,
  type StreamRef,
} from '../store/index.js';
import { readCatalog } from './catalog.js';
import { loadManifest } from './get.js';
import { walkTree } from './tree-walk.js';

export interface PruneResult {
  dryRun: boolean;
  packsTotal: number;
  packsDeleted: number;
  /** Bytes of deleted packs, summed over members. */
  bytesFreed: number;
  /** Kept packs that also hold unreferenced chunks, and those chunks' plaintext bytes. */
  partlyUsedPacks: number;
  unusedBytesInKeptPacks: number;
  manifestsDeleted: number;
  indexSegmentsReplaced: number;
}

async function liveChunks(array: RaicArray, keys: RepoKeys): Promise<Set<string>> {
  const live = new Set<string>();
  const reader = new ShareReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const mark = async (stream: StreamRef): Promise<void> => {
    for await (const [entry] of walkStreamAll(stream, pageLoader(reader))) live.add(entry.id.toString('hex'));
  };
  for (const record of await readCatalog(array, keys)) {
    const root = await loadManifest(array, parseCapability(record.capability));
    const stream = streamOf(root);
    await mark(stream);
    if (root.header.kind !== 'tree') continue;
    for await (const ev of walkTree(reader, stream)) {
      if (ev.kind === 'leave') continue;
      if (ev.node.subtree) await mark(ev.node.subtree);
      if (ev.node.content) await mark(ev.node.content);
    }
  }
  return live;
}

export async function prune(array: RaicArray, keys: RepoKeys, opts: { dryRun: boolean }): Promise<PruneResult> {
  array.members.requireUp(array.n, 'prune needs every member (it never deletes while a member cannot be listed)');
  const packs = await listPacks(array.members);
  array.members.requireUp(array.n, 'prune needs every member (it never deletes while a member cannot be listed)');
  const index = await loadIndex(array.members, keys.index);
  let live: Set<string>;
  try {
    live = await liveChunks(array, keys);
  } catch (err) {
    throw new RaicError('Integrity', `prune stopped before deleting anything: a snapshot could not be read (${(err as Error).message})`, {
      cause: err,
      hint: 'run raic check; repair the array first',
    });
  }
  const livePacks = new Set<string>();
  for (const [id, ref] of index) if (live.has(id)) livePacks.add(ref.pack.toString('hex'));
  const byPack = new Map<string, ChunkRef[]>();
  for (const ref of index.values()) {
    const hex = ref.pack.toString('hex');
    (byPack.get(hex) ?? byPack.set(hex, []).get(hex)!).push(ref);
  }
  const deadPacks = [...packs.keys()].filter((p) => !livePacks.has(p));
  let partlyUsedPacks = 0;
  let unusedBytesInKeptPacks = 0;
  for (const p of livePacks) {
    const dead = (byPack.get(p) ?? []).filter((r) => !live.has(r.id.toString('hex')));
    if (dead.length > 0) partlyUsedPacks += 1;
    unusedBytesInKeptPacks += dead.reduce((s, r) => s + r.size, 0);
  }
  const sizes = await Promise.all(array.members.slots.map((s) => listSizes(array, s.index)));
  const bytesFreed = deadPacks.reduce((sum, p) => sum + sizes.reduce((s, m) => s + (m.get(p) ?? 0), 0), 0);

  const manifestKeys = [...(await listAll(array, MANIFESTS_PREFIX))];
  const recordIds = new Set((await readCatalog(array, keys)).map((r) => r.manifestId));
  const orphanManifests = manifestKeys.filter((k) => !recordIds.has(idOfKey(k)));
  const oldSegments = [...(await listAll(array, INDEX_PREFIX))];

  if (!opts.dryRun) {
    const keptRefs = [...index.values()].filter((r) => livePacks.has(r.pack.toString('hex')));
    const written = new Set<string>();
    for (let at = 0; at < keptRefs.length; at += array.tuning.indexSegmentEntries) {
      written.add(indexKey(await writeIndexSegment(array.members, keys.index, keptRefs.slice(at, at + array.tuning.indexSegmentEntries))));
    }
    // A segment rewritten with identical content has the identical (content-hash) name: keep it.
    await deleteEverywhere(array, oldSegments.filter((k) => !written.has(k)));
    await deleteEverywhere(array, deadPacks.map(packKey));
    await deleteEverywhere(array, orphanManifests);
  }
  return {
    dryRun: opts.dryRun,
    packsTotal: packs.size,
    packsDeleted: deadPacks.length,
    bytesFreed,
    partlyUsedPacks,
    unusedBytesInKeptPacks,
    manifestsDeleted: orphanManifests.length,
    indexSegmentsReplaced: oldSegments.length,
  };
}

async function listAll(array: RaicArray, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const slot of array.members.slots) {
    await array.members.call(slot.index, async (p) => {
      for await (const o of p.list(prefix)) keys.add(o.key);
    });
  }
  return keys;
}

async function listSizes(array: RaicArray, member: number): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  await array.members.call(member, async (p) => {
    for await (const o of p.list('packs/')) sizes.set(idOfKey(o.key), o.size);
  });
  return sizes;
}

async function deleteEverywhere(array: RaicArray, keys: string[]): Promise<void> {
  for (const slot of array.members.slots) {
    for (const key of keys) await array.members.call(slot.index, (p) => p.delete(key));
  }
}
