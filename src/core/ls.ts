/** ls: the nodes of a snapshot, optionally below one path, in tree order. */
import { DEFAULT_CDC } from '../chunk/index.js';
import { ChunkReader, streamOf, type ManifestRoot, type RaicArray } from '../store/index.js';
import { walkTree } from './tree-walk.js';
import { displayPath } from '../tree/index.js';

export interface LsEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: string;
  mtime: string;
  target?: string;
}

export async function* listSnapshot(array: RaicArray, root: ManifestRoot, under = '/'): AsyncGenerator<LsEntry> {
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const prefix = under.replace(/\/+$/, '');
  for await (const ev of walkTree(reader, streamOf(root))) {
    if (ev.kind === 'leave') continue;
    if (prefix !== '' && ev.path !== prefix && !ev.path.startsWith(`${prefix}/`)) continue;
    const { node } = ev;
    yield {
      path: displayPath(ev.path),
      type: node.type,
      size: node.size,
      mode: node.mode.toString(8).padStart(4, '0'),
      mtime: new Date(Number(BigInt(node.mtimeNs) / 1_000_000n)).toISOString(),
      ...(node.target !== undefined ? { target: displayPath(node.target) } : {}),
    };
  }
}
