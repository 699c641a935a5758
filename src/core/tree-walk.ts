/**
 * Walking a snapshot's tree from its root stream: every node with its absolute snapshot path, parents
 * before children, and a `leave` event after a directory's children (for post-order work such as
 * directory mtimes). Tree blobs are fetched one directory at a time.
 */
import { readStreamBytes, type ChunkReader, type StreamRef } from '../store/index.js';
import { decodeTree, type TreeNode } from '../tree/index.js';

export type TreeEvent = { kind: 'enter' | 'leave' | 'leaf'; path: string; node: TreeNode };

/** A directory being walked: its nodes, the next one's index, and its own event to close it with. */
interface OpenDir {
  nodes: TreeNode[];
  next: number;
  base: string;
  leave: TreeEvent | null;
}

// One generator over an explicit stack: nested generators (yield* per level) passed every event up through
// each level above it, a promise and a result object per level and event (a fifth of the main thread's
// allocation restoring /usr/share).
export async function* walkTree(reader: ChunkReader, root: StreamRef, base = ''): AsyncGenerator<TreeEvent> {
  const stack: OpenDir[] = [{ nodes: decodeTree(await readStreamBytes(reader, root)), next: 0, base, leave: null }];
  while (stack.length > 0) {
    const dir = stack.at(-1)!;
    const node = dir.nodes[dir.next++];
    if (node === undefined) {
      stack.pop();
      if (dir.leave) yield dir.leave;
      continue;
    }
    const path = `${dir.base}/${node.name}`;
    if (node.type !== 'dir') {
      yield { kind: 'leaf', path, node };
      continue;
    }
    yield { kind: 'enter', path, node };
    const leave: TreeEvent = { kind: 'leave', path, node };
    if (node.subtree) stack.push({ nodes: decodeTree(await readStreamBytes(reader, node.subtree)), next: 0, base: path, leave });
    else yield leave;
  }
}
