/** Between the filesystem and tree nodes: reading metadata for backup, applying it on restore. */
import { chmodSync, chownSync, fchmodSync, fchownSync, futimesSync, lchownSync, lutimesSync, readdirSync, readlinkSync, utimesSync } from 'node:fs';
import { sep } from 'node:path';
import type { NodeType, TreeNode } from './node.js';
import { fsPath, nameFromBytes } from './raw-name.js';

/** The path of `name` in directory `dir` (both in raic's string form). */
export const childPath = (dir: string, name: string): string => (dir === sep ? `${sep}${name}` : `${dir}${sep}${name}`);

/** A directory's names in raic's string form, sorted: the order of a tree blob and of every walk. */
export function listNames(dir: string): string[] {
  return readdirSync(fsPath(dir), { encoding: 'buffer' }).map(nameFromBytes).sort();
}

/** A symlink's target in raic's string form. */
export function readTarget(path: string): string {
  return nameFromBytes(readlinkSync(fsPath(path), { encoding: 'buffer' }));
}

/** What a node takes from an lstat (BigIntStats has it; so has the source scan's record of one). */
export interface NodeStat {
  mode: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
}

const S_IFMT = 0o170000n;

export function nodeType(st: NodeStat): NodeType | null {
  switch (st.mode & S_IFMT) {
    case 0o100000n:
      return 'file';
    case 0o040000n:
      return 'dir';
    case 0o120000n:
      return 'symlink';
    default:
      return null; // sockets, fifos, devices: not backed up
  }
}

/** The node's fields in this order (a tree blob lists them so): files then add ctimeNs, ino and dev. */
export function nodeFromStat(name: string, type: NodeType, st: NodeStat): TreeNode {
  const node: TreeNode = { name, type, mode: Number(st.mode & 0o7777n), mtimeNs: st.mtimeNs.toString(), size: type === 'file' ? Number(st.size) : 0, uid: Number(st.uid), gid: Number(st.gid) };
  if (type === 'file') {
    node.ctimeNs = st.ctimeNs.toString();
    node.ino = st.ino.toString();
    node.dev = st.dev.toString();
  }
  return node;
}

/** How a file is judged unchanged since the parent snapshot (restic's flags). */
export interface ChangeDetection {
  /** Read every file again (nothing is reused unread). */
  force?: boolean;
  /** Do not compare ctime (filesystems where it moves without a change, e.g. some FUSE or network mounts). */
  ignoreCtime?: boolean;
  /** Do not compare inode and device (filesystems without stable inode numbers). */
  ignoreInode?: boolean;
}

/**
 * Same file as in the parent snapshot (restic's rule: type, size, mtime, ctime, inode): its content is
 * reused unread. ctime matters because mtime can be put back (tar -x, rsync -t, editors that keep times),
 * ctime cannot: a parent node without one (older snapshots) never counts as unchanged unless ctime is ignored.
 */
export function unchanged(now: TreeNode, before: TreeNode | undefined, how: ChangeDetection = {}): before is TreeNode & { content: NonNullable<TreeNode['content']> } {
  return (
    !how.force &&
    before !== undefined &&
    before.type === 'file' &&
    now.type === 'file' &&
    before.content !== undefined &&
    before.size === now.size &&
    before.mtimeNs === now.mtimeNs &&
    (how.ignoreCtime || (before.ctimeNs !== undefined && before.ctimeNs === now.ctimeNs)) &&
    (how.ignoreInode || (before.ino === now.ino && before.dev === now.dev))
  );
}

/**
 * An mtime for utimes: whole microseconds (libuv's resolution) plus half of one. A double near 1.7e9 s is
 * exact only to ~0.24 µs and libuv truncates to the microsecond, so the exact value lost 1 µs half the time.
 */
const seconds = (ns: string): number => (Number(BigInt(ns) / 1000n) + 0.5) / 1e6;
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** What applyMetadata sets: all a restore keeps of a node while its content is written (or sends a worker). */
export type NodeMetadata = Pick<TreeNode, 'type' | 'mode' | 'mtimeNs' | 'uid' | 'gid'>;

export const metadataOf = (node: TreeNode): NodeMetadata => ({ type: node.type, mode: node.mode, mtimeNs: node.mtimeNs, uid: node.uid, gid: node.gid });

/**
 * Mode, owner (when root) and mtime of a restored file or directory; for symlinks only owner and mtime.
 * Synchronous: restore calls it once per file, and the promise versions cost the main thread about four times
 * the CPU (see restore.ts).
 */
export function applyMetadata(path: string | Buffer, node: NodeMetadata): void {
  const t = seconds(node.mtimeNs);
  if (node.type === 'symlink') {
    if (asRoot) ignoreError(() => lchownSync(path, node.uid, node.gid));
    lutimesSync(path, t, t);
    return;
  }
  if (asRoot) ignoreError(() => chownSync(path, node.uid, node.gid));
  chmodSync(path, node.mode);
  utimesSync(path, t, t);
}

/** applyMetadata for a regular file still open: by descriptor, without three more path lookups. */
export function applyFileMetadata(fd: number, node: NodeMetadata): void {
  const t = seconds(node.mtimeNs);
  if (asRoot) ignoreError(() => fchownSync(fd, node.uid, node.gid));
  fchmodSync(fd, node.mode);
  futimesSync(fd, t, t);
}

/** An owner that cannot be set (an unknown uid on this system, a filesystem without owners) is not an error. */
function ignoreError(op: () => void): void {
  try {
    op();
  } catch {
    // see above
  }
}
