/**
 * restore: a snapshot's tree → files, directories and symlinks under a target directory, with their
 * modes, mtimes (and owners when run as root). Files are written to a temp name and renamed when
 * complete. Existing files are never overwritten unless asked: without `overwrite`, a first pass
 * finds every conflict and refuses before anything is written. Chunks are read ahead across files
 * (a bounded window) while being written in order.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { RaicError } from '../errors.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import { ShareReader, pageLoader, streamOf, walkStream, type ManifestRoot, type RaicArray } from '../store/index.js';
import { applyMetadata, type TreeNode } from '../tree/index.js';
import { AsyncQueue } from './async-queue.js';
import { fsError } from './get.js';
import { walkTree, type TreeEvent } from './tree-walk.js';

export interface RestoreOptions {
  target: string;
  /** Restore only paths matching these globs (against the snapshot path, e.g. /home/me/docs/**) and their contents. */
  include?: string[];
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number, files: number) => void;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  shareProblems: number;
  seconds: number;
}

type Job =
  | { kind: 'dir'; path: string; node: TreeNode }
  | { kind: 'dir-done'; path: string; node: TreeNode }
  | { kind: 'symlink'; path: string; node: TreeNode }
  | { kind: 'file'; path: string; node: TreeNode }
  | { kind: 'chunk'; data: Promise<Uint8Array> }
  | { kind: 'file-done'; path: string; node: TreeNode };

/** Which snapshot paths to restore: all, or those matching an include pattern, and everything below them. */
function selector(include: readonly string[]): (path: string, ancestorIncluded: boolean) => boolean {
  if (include.length === 0) return () => true;
  const match = picomatch([...include], { dot: true });
  return (path, ancestorIncluded) => ancestorIncluded || match(path);
}

/** Events of the walk that are selected, with `included` so directories on the way are created as needed. */
async function* selected(reader: ShareReader, root: ManifestRoot, include: readonly string[]): AsyncGenerator<TreeEvent & { included: boolean }> {
  const pick = selector(include);
  const stack: boolean[] = [];
  for await (const ev of walkTree(reader, streamOf(root))) {
    const parentIncluded = stack.at(-1) ?? false;
    if (ev.kind === 'enter') {
      const inc = pick(ev.path, parentIncluded);
      stack.push(inc);
      yield { ...ev, included: inc };
    } else if (ev.kind === 'leave') {
      yield { ...ev, included: stack.pop() ?? false };
    } else if (pick(ev.path, parentIncluded)) yield { ...ev, included: true };
  }
}

async function exists(path: string): Promise<'dir' | 'other' | null> {
  try {
    return (await lstat(path)).isDirectory() ? 'dir' : 'other';
  } catch {
    return null;
  }
}

export async function restoreTree(array: RaicArray, root: ManifestRoot, opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  if (root.header.kind !== 'tree') throw new RaicError('Usage', 'this is a file capability, not a snapshot', { hint: 'use raic get CAP PATH' });
  const reader = new ShareReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const include = opts.include ?? [];
  const at = (path: string): string => join(opts.target, path);

  if (!opts.overwrite) {
    const conflicts: string[] = [];
    for await (const ev of selected(reader, root, include)) {
      if (ev.kind === 'leave') continue;
      const there = await exists(at(ev.path));
      if (there === 'other' || (there === 'dir' && ev.node.type !== 'dir')) conflicts.push(at(ev.path));
      if (conflicts.length >= 5) break;
    }
    if (conflicts.length > 0) {
      throw new RaicError('Usage', `restore would overwrite existing files: ${conflicts.join(', ')}${conflicts.length >= 5 ? ', …' : ''}`, {
        hint: 'restore into an empty --target, or pass --overwrite',
      });
    }
  }
  await mkdir(opts.target, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, opts.target);
  });

  const result: RestoreResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, shareProblems: 0, seconds: 0 };
  const queue = new AsyncQueue<Job>(array.tuning.window * 2);
  const abort = new AbortController();

  const produce = async (): Promise<void> => {
    try {
      for await (const ev of selected(reader, root, include)) {
        if (abort.signal.aborted || opts.signal?.aborted) break;
        const { node, path } = ev;
        if (ev.kind === 'enter') {
          if (ev.included) await queue.push({ kind: 'dir', path, node });
        }
        else if (ev.kind === 'leave') {
          if (ev.included) await queue.push({ kind: 'dir-done', path, node });
        } else if (node.type === 'symlink') await queue.push({ kind: 'symlink', path, node });
        else if (node.type === 'file') {
          await queue.push({ kind: 'file', path, node });
          if (node.content) {
            for await (const entry of walkStream(node.content, pageLoader(reader))) {
              const data = reader.read(entry);
              data.catch(() => undefined); // awaited by the writer
              await queue.push({ kind: 'chunk', data });
            }
          }
          await queue.push({ kind: 'file-done', path, node });
        }
      }
    } finally {
      queue.close();
    }
  };

  const consume = async (): Promise<void> => {
    let fh: FileHandle | null = null;
    let tmp: string | null = null;
    try {
      for (let next = await queue.shift(); !next.done; next = await queue.shift()) {
        const job = next.value;
        if (opts.signal?.aborted) throw new RaicError('Cancelled', 'interrupted');
        switch (job.kind) {
          case 'dir':
            await mkdir(at(job.path), { recursive: true, mode: 0o700 });
            break;
          case 'dir-done':
            await applyMetadata(at(job.path), job.node);
            result.dirs += 1;
            break;
          case 'symlink': {
            const p = at(job.path);
            await mkdir(dirname(p), { recursive: true });
            if (opts.overwrite) await rm(p, { force: true, recursive: false }).catch(() => undefined);
            await symlink(job.node.target ?? '', p);
            await applyMetadata(p, job.node);
            result.symlinks += 1;
            break;
          }
          case 'file': {
            const p = at(job.path);
            await mkdir(dirname(p), { recursive: true });
            tmp = join(dirname(p), `.${job.node.name}.raic-${randomBytes(6).toString('hex')}.tmp`);
            fh = await open(tmp, 'wx', 0o600);
            break;
          }
          case 'chunk': {
            const bytes = await job.data;
            await fh!.write(bytes);
            result.bytes += bytes.length;
            reader.recycle(bytes);
            break;
          }
          case 'file-done': {
            await fh!.close();
            fh = null;
            const p = at(job.path);
            await applyMetadata(tmp!, job.node);
            if (opts.overwrite && (await exists(p)) === 'dir') throw new RaicError('Usage', `${p} is a directory; not replacing it with a file`);
            await rename(tmp!, p);
            tmp = null;
            result.files += 1;
            opts.onProgress?.(result.bytes, result.files);
            break;
          }
        }
      }
      if (fh) throw new RaicError('Integrity', 'the snapshot walk ended in the middle of a file');
    } catch (err) {
      abort.abort();
      if (fh) await (fh as FileHandle).close().catch(() => undefined);
      if (tmp) await unlink(tmp).catch(() => undefined);
      // Drain so the producer is not left waiting on a full queue.
      for (let next = await queue.shift(); !next.done; next = await queue.shift()) {
        if (next.value.kind === 'chunk') await next.value.data.catch(() => undefined);
      }
      throw err instanceof RaicError ? err : fsError(err, opts.target);
    }
  };

  await Promise.all([produce(), consume()]);
  result.shareProblems = reader.problems.length;
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
