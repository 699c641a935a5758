/**
 * What a catalog record needs: every chunk entry reachable from its manifest — the manifest's stream and
 * its pages, and for a snapshot every tree blob and file content (with their pages). Used by prune (what
 * is live) and check (what each snapshot depends on).
 */
import { pageLoader, parseCapability, streamOf, walkStreamAll, type ChunkEntry, type ManifestRoot, type RaicArray, type ChunkReader, type StreamRef } from '../store/index.js';
import type { CatalogRecord } from './catalog.js';
import { loadManifest } from './get.js';
import { walkTree } from './tree-walk.js';

export async function forEachReachable(array: RaicArray, reader: ChunkReader, record: CatalogRecord, visit: (entry: ChunkEntry) => void): Promise<void> {
  await forEachReachableFrom(reader, await loadManifest(array, parseCapability(record.capability)), visit);
}

/** The same, from an opened manifest (a capability's). */
export async function forEachReachableFrom(reader: ChunkReader, root: ManifestRoot, visit: (entry: ChunkEntry) => void): Promise<void> {
  const mark = async (stream: StreamRef): Promise<void> => {
    for await (const [entry] of walkStreamAll(stream, pageLoader(reader))) visit(entry);
  };
  const stream = streamOf(root);
  await mark(stream);
  if (root.header.kind !== 'tree') return;
  for await (const ev of walkTree(reader, stream)) {
    if (ev.kind === 'leave') continue;
    if (ev.node.subtree) await mark(ev.node.subtree);
    if (ev.node.content) await mark(ev.node.content);
  }
}
