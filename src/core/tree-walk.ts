/**
 * Walking a snapshot's tree from its root stream: every node with its absolute snapshot path, parents
 * before children, and a `leave` event after a directory's children (for post-order work such as
 * directory mtimes). Tree blobs are fetched one directory at a time.
 */
import { readStreamBytes, type ChunkReader, type StreamRef } from '../store/index.js';
import { decodeTree, type TreeNode } from '../tree/index.js';

export type TreeEvent = { kind: 'enter' | 'leave' | 'leaf'; path: string; node: TreeNode };

export async function* walkTree(reader: ChunkReader, root: StreamRef, base = ''): AsyncGenerator<TreeEvent> {
  for (const node of decodeTree(await readStreamBytes(reader, root))) {
    const path = `${base}/${node.name}`;
    if (node.type === 'dir') {
      yield { kind: 'enter', path, node };
      if (node.subtree) yield* walkTree(reader, node.subtree, path);
      yield { kind: 'leave', path, node };
    } else yield { kind: 'leaf', path, node };
  }
}
