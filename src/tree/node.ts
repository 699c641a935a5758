/**
 * Tree nodes and tree blobs. A tree blob is one directory's listing — its entries sorted by name —
 * serialised as JSON and stored like file content (a stream of chunks), so an unchanged directory
 * produces identical bytes, the same chunk id, and is stored once.
 */
import { asBuffer } from '../bytes.js';
import { RaicError } from '../errors.js';
import { isNameComponent } from './raw-name.js';
import { streamRefFromJson, streamRefToJson, type StreamRef, type StreamRefJson } from '../store/index.js';

export type NodeType = 'file' | 'dir' | 'symlink';

export interface TreeNode {
  name: string;
  type: NodeType;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Modification time in nanoseconds since the epoch (decimal string: exceeds 2^53). */
  mtimeNs: string;
  /** File size in bytes (0 for directories and symlinks). */
  size: number;
  uid: number;
  gid: number;
  /** Status-change time in nanoseconds (files; decimal string), for change detection: unlike mtime it cannot be set back. */
  ctimeNs?: string;
  /** Inode and device (decimal strings), for change detection against the parent snapshot. */
  ino?: string;
  dev?: string;
  /** Symlink target. */
  target?: string;
  /** File content. */
  content?: StreamRef;
  /** Directory listing (its tree blob). */
  subtree?: StreamRef;
}

interface NodeJson extends Omit<TreeNode, 'content' | 'subtree'> {
  content?: StreamRefJson;
  subtree?: StreamRefJson;
}

/**
 * Whether `nodes` list exactly what `before` (a parent snapshot's listing of the same directory) does:
 * the same names with the same fields, content and subtrees being the very refs taken over from it. Then
 * the directory's tree blob would encode to the parent's bytes, and the parent's ref can be reused unread.
 */
export function sameListing(nodes: readonly TreeNode[], before: ReadonlyMap<string, TreeNode>): boolean {
  if (nodes.length !== before.size) return false;
  return nodes.every((a) => {
    const b = before.get(a.name);
    return (
      b !== undefined &&
      a.type === b.type &&
      a.mode === b.mode &&
      a.mtimeNs === b.mtimeNs &&
      a.ctimeNs === b.ctimeNs &&
      a.size === b.size &&
      a.uid === b.uid &&
      a.gid === b.gid &&
      a.ino === b.ino &&
      a.dev === b.dev &&
      a.target === b.target &&
      a.content === b.content &&
      a.subtree === b.subtree
    );
  });
}

const byName = (a: TreeNode, b: TreeNode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * A directory's tree blob. A node's fields are written in their order: a backup's nodes get content or subtree
 * last (after nodeFromStat's fields), and a node without either is written as it is. One copy per node, not
 * three: encoding was a sixth of a backup's main-thread garbage on a tree of tiny files (2.8× faster measured).
 */
export function encodeTree(nodes: TreeNode[]): Buffer {
  const json = [...nodes].sort(byName).map(nodeJson);
  return Buffer.from(JSON.stringify({ v: 1, nodes: json }));
}

const nodeJson = (n: TreeNode): NodeJson | TreeNode =>
  n.content || n.subtree ? { ...n, content: n.content && streamRefToJson(n.content), subtree: n.subtree && streamRefToJson(n.subtree) } : n;

/**
 * The nodes of a tree blob. With `keep`, only those of the types it accepts are checked and decoded, the others
 * left out unread (a restore's pass over the directories alone skips decoding every file's chunk list).
 */
export function decodeTree(bytes: Uint8Array, keep?: (type: NodeType) => boolean): TreeNode[] {
  let parsed: { v?: number; nodes?: NodeJson[] };
  try {
    parsed = JSON.parse(asBuffer(bytes).toString('utf8')) as typeof parsed;
  } catch {
    throw new RaicError('Integrity', 'a tree blob is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.v !== 1 || !Array.isArray(parsed.nodes)) throw new RaicError('Integrity', 'not a raic tree blob');
  const nodes = keep ? parsed.nodes.filter((n) => typeof n !== 'object' || n === null || !isNodeType(n.type) || keep(n.type)) : parsed.nodes;
  // Each parsed node becomes the TreeNode itself (its content and subtree replaced in place): a copy per node
  // was a fifth of a restore's garbage.
  for (const node of nodes) {
    if (!isNodeJson(node)) throw new RaicError('Integrity', 'a tree blob holds a malformed node');
    const decoded = node as unknown as TreeNode;
    if (node.content) decoded.content = streamRefFromJson(node.content);
    else delete decoded.content;
    if (node.subtree) decoded.subtree = streamRefFromJson(node.subtree);
    else delete decoded.subtree;
  }
  return nodes as unknown as TreeNode[];
}

const DIR_VALUE = Buffer.from('"dir"');
const UNICODE_ESCAPE = Buffer.from('\\u');

/**
 * Whether a tree blob may list a directory: false only when its bytes hold neither the JSON string "dir" nor
 * any \u escape (the one JSON escape that could spell it), so that no node of it can be a directory, however
 * it was encoded. A walk of the directories alone skips parsing the others (leaf directories held 87% of
 * /usr/share's tree bytes); whoever needs their files decodes them in full, checks included.
 */
export function mayListDirectories(bytes: Uint8Array): boolean {
  const buf = asBuffer(bytes);
  return buf.includes(DIR_VALUE) || buf.includes(UNICODE_ESCAPE);
}

const isNodeType = (v: unknown): v is NodeType => v === 'file' || v === 'dir' || v === 'symlink';
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isDecimal = (v: unknown, signed: boolean): boolean => typeof v === 'string' && (signed ? /^-?[0-9]+$/ : /^[0-9]+$/).test(v);

/**
 * Whether a node read from a tree blob has the fields TreeNode declares, of their types. Tree blobs are
 * authenticated, but whoever made a capability chose their bytes: restore joins the name to a path (one
 * component only: isNameComponent), turns times into BigInts, and applies mode, uid and gid.
 */
function isNodeJson(n: unknown): n is NodeJson {
  const o = n as Partial<Record<keyof NodeJson, unknown>> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    isNameComponent(o.name) &&
    isNodeType(o.type) &&
    Number.isInteger(o.mode) &&
    (o.mode as number) >= 0 &&
    (o.mode as number) <= 0o7777 &&
    isDecimal(o.mtimeNs, true) &&
    isCount(o.size) &&
    isCount(o.uid) &&
    isCount(o.gid) &&
    (o.ctimeNs === undefined || isDecimal(o.ctimeNs, true)) &&
    (o.ino === undefined || isDecimal(o.ino, false)) &&
    (o.dev === undefined || isDecimal(o.dev, false)) &&
    (o.target === undefined || typeof o.target === 'string')
  );
}
