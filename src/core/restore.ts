/**
 * restore: a snapshot's tree → files, directories and symlinks under a target directory, with their
 * modes, mtimes (and owners when run as root). Files are written to a temp name and renamed when
 * complete. Existing files are never overwritten unless asked: without `overwrite`, a first pass
 * finds every conflict and refuses before anything is written. Several files are written at once, each
 * reading its chunks a little ahead (a bounded window); a directory's metadata is set once everything in
 * it is written.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, symlinkSync } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { RaicError } from '../errors.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import { Batcher, ChunkReader, pageLoader, streamOf, walkStream, type ManifestRoot, type RaicArray } from '../store/index.js';
import { discardTemp, writeAll, type FileToWrite, type WriteFilesResult } from './file-writer.js';
import { applyMetadata, bytesOfName, displayPath, fsPath, type TreeNode } from '../tree/index.js';
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

/**
 * Files written at once: hides each file's open, write, close, chmod, chown, utimes and rename latency (a
 * tree of small files is all latency). Larger files hold chunk buffers (up to 4 MiB each) while they are
 * written, so at most LARGE_WRITERS of those are in progress (memory: LARGE_WRITERS × (CHUNKS_AHEAD + 1) chunks).
 */
const RESTORE_WRITERS = 64;
const LARGE_WRITERS = 8;
const LARGE_FILE_BYTES = 256 * 1024;
/** Small files are written by the workers, this many at a time in one task (at most SMALL_BATCH_BYTES of content). */
const SMALL_BATCH_FILES = 64;
const SMALL_BATCH_BYTES = 4 * 1024 * 1024;
const FILE_WRITER = new URL('./file-writer-entry.cjs', import.meta.url);

/** Chunks each writer reads ahead of the one it writes. Memory: writers × (ahead + 1) chunks at most; 2 ahead
 * measured no faster than 1 on the bench tree and held ~70 MB more. */
const CHUNKS_AHEAD = 1;

/** A counting semaphore: take() waits while all are taken. */
class Slots {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

/** Which snapshot paths to restore: all, or those matching an include pattern, and everything below them. */
function selector(include: readonly string[]): (path: string, ancestorIncluded: boolean) => boolean {
  if (include.length === 0) return () => true;
  const match = picomatch([...include], { dot: true });
  return (path, ancestorIncluded) => ancestorIncluded || match(path);
}

/** Events of the walk that are selected, with `included` so directories on the way are created as needed. */
async function* selected(reader: ChunkReader, root: ManifestRoot, include: readonly string[]): AsyncGenerator<TreeEvent & { included: boolean }> {
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

async function isEmptyOrAbsent(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

async function exists(path: string | Buffer): Promise<'dir' | 'other' | null> {
  try {
    return (await lstat(path)).isDirectory() ? 'dir' : 'other';
  } catch {
    return null;
  }
}

export async function restoreTree(array: RaicArray, root: ManifestRoot, opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  if (root.header.kind !== 'tree') throw new RaicError('Usage', 'this is a file capability, not a snapshot', { hint: 'use raic get CAP PATH' });
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
  const include = opts.include ?? [];
  const at = (path: string): string => join(opts.target, path);
  /** The file system's form of a restored path (bytes where a name is not UTF-8, see tree/raw-name.ts). */
  const fsAt = (path: string): string | Buffer => fsPath(at(path));

  // Into a target that does not exist or is empty nothing can be overwritten: no need to walk the tree twice.
  if (!opts.overwrite && !(await isEmptyOrAbsent(opts.target))) {
    const conflicts: string[] = [];
    for await (const ev of selected(reader, root, include)) {
      if (ev.kind === 'leave') continue;
      const there = await exists(fsAt(ev.path));
      if (there === 'other' || (there === 'dir' && ev.node.type !== 'dir')) conflicts.push(displayPath(at(ev.path)));
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
  const failed = new AbortController();
  let firstError: unknown = null;
  const fail = (err: unknown): void => {
    firstError ??= err;
    failed.abort();
  };
  const stopped = (): boolean => failed.signal.aborted || opts.signal?.aborted === true;
  const writers = new Slots(RESTORE_WRITERS);
  const largeWriters = new Slots(LARGE_WRITERS);
  /** Per open directory: its children's completions; a directory's metadata goes on after all of them. */
  const open: Promise<void>[][] = [[]];
  /** Per open directory: created by this restore already (its files need no mkdir of their own). */
  const made: boolean[] = [];
  const track = (p: Promise<void>): void => {
    p.catch(fail);
    open.at(-1)!.push(p);
  };

  // Temp names: unique per restore run and file, without a random draw per file.
  const tmpPrefix = `.raic-${randomBytes(6).toString('hex')}-`;
  let tmpCount = 0;
  /** Small files queued for the workers (file-writer.ts), each with what to do once it is written or not. */
  const smallFiles = new Batcher<{ file: FileToWrite; shown: string; done: (err: unknown) => void }>(
    async (batch) => {
      let results: WriteFilesResult;
      try {
        results = await array.pool.runModule<WriteFilesResult>(FILE_WRITER, { files: batch.map((b) => b.file), overwrite: opts.overwrite === true });
      } catch (err) {
        for (const b of batch) b.done(err);
        return;
      }
      batch.forEach((b, i) => {
        const res = results[i];
        if (!res) return b.done(null);
        b.done(res.directory ? new RaicError('Usage', `${b.shown} is a directory; not replacing it with a file`) : fsError(Object.assign(new Error(res.message), { code: res.code }), b.shown));
      });
    },
    { maxItems: SMALL_BATCH_FILES, maxWeight: SMALL_BATCH_BYTES, maxRunning: array.tuning.workers + 1, maxQueued: 4 * SMALL_BATCH_FILES },
  );

  /** A small file: its content read here, written by a worker. */
  const writeSmallFile = async (path: string, node: TreeNode, tmp: string | Buffer): Promise<void> => {
    const chunks: Uint8Array[] = [];
    if (node.content) {
      for await (const ref of walkStream(node.content, pageLoader(reader))) {
        if (stopped()) throw new RaicError('Cancelled', 'interrupted');
        const bytes = await reader.read(ref);
        chunks.push(Uint8Array.from(bytes)); // a copy: the reader's buffer goes back to its pool now
        reader.recycle(bytes);
      }
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const file: FileToWrite = { tmp, path: fsAt(path), data, node };
    await new Promise<void>((resolve, reject) => {
      void smallFiles.add({ file, shown: displayPath(at(path)), done: (err) => (err ? reject(err) : resolve()) }, Math.max(1, data.length));
    });
    result.bytes += data.length;
    result.files += 1;
    opts.onProgress?.(result.bytes, result.files);
  };

  /**
   * A file: small ones go to the workers (writeSmallFile), larger ones are written here. The chunks are fetched asynchronously; the file system calls (open, write, close, chmod, chown, utimes,
   * rename) are synchronous: with the promise versions, seven thread-pool hops per file made the main thread
   * the bottleneck of restoring small files (measured on /usr/share, the workers idle 90% of the time), and
   * writes land in the page cache either way.
   */
  const writeFile = async (path: string, node: TreeNode, parentMade: boolean): Promise<void> => {
    const p = fsAt(path);
    if (!parentMade) mkdirSync(fsAt(dirname(path)), { recursive: true });
    // Not named after the file: a name near NAME_MAX (255 bytes) would make the temp name too long.
    const tmp = fsAt(join(dirname(path), `${tmpPrefix}${(tmpCount++).toString(36)}.tmp`));
    if ((node.content?.size ?? 0) <= LARGE_FILE_BYTES) return writeSmallFile(path, node, tmp);
    let fd: number | null = openSync(tmp, 'wx', 0o600);
    try {
      if (node.content) {
        // Chunks are read CHUNKS_AHEAD ahead of the one being written (every writer does so at once).
        const ahead: Promise<Uint8Array>[] = [];
        const stream = walkStream(node.content, pageLoader(reader))[Symbol.asyncIterator]();
        let ended = false;
        const fill = async (): Promise<void> => {
          while (!ended && ahead.length < CHUNKS_AHEAD) {
            const next = await stream.next();
            if (next.done) ended = true;
            else {
              const data = reader.read(next.value);
              data.catch(() => undefined); // awaited below
              ahead.push(data);
            }
          }
        };
        for (await fill(); ahead.length > 0; await fill()) {
          if (stopped()) throw new RaicError('Cancelled', 'interrupted');
          const bytes = await ahead.shift()!;
          writeAll(fd, bytes);
          result.bytes += bytes.length;
          reader.recycle(bytes);
        }
      }
      closeSync(fd);
      fd = null;
      applyMetadata(tmp, node);
      if (opts.overwrite && (await exists(p)) === 'dir') throw new RaicError('Usage', `${displayPath(at(path))} is a directory; not replacing it with a file`);
      renameSync(tmp, p);
      result.files += 1;
      opts.onProgress?.(result.bytes, result.files);
    } catch (err) {
      discardTemp(fd, tmp);
      throw err;
    }
  };

  try {
    for await (const ev of selected(reader, root, include)) {
      if (stopped()) break;
      const { node, path } = ev;
      if (ev.kind === 'enter') {
        if (ev.included) mkdirSync(fsAt(path), { recursive: true, mode: 0o700 });
        open.push([]);
        made.push(ev.included);
      } else if (ev.kind === 'leave') {
        const children = open.pop()!;
        made.pop();
        if (ev.included) {
          track(
            Promise.all(children).then(async () => {
              applyMetadata(fsAt(path), node); // after its children: writing them changed its mtime
              result.dirs += 1;
            }),
          );
        } else open.at(-1)!.push(...children);
      } else if (node.type === 'symlink') {
        const p = fsAt(path);
        mkdirSync(fsAt(dirname(path)), { recursive: true });
        if (opts.overwrite) await rm(p, { force: true, recursive: false }).catch(() => undefined);
        symlinkSync(bytesOfName(node.target ?? ''), p);
        applyMetadata(p, node);
        result.symlinks += 1;
      } else if (node.type === 'file') {
        const large = (node.content?.size ?? 0) > LARGE_FILE_BYTES;
        await writers.take();
        if (large) await largeWriters.take();
        track(
          writeFile(path, node, made.at(-1) === true).finally(() => {
            writers.give();
            if (large) largeWriters.give();
          }),
        );
      }
    }
  } catch (err) {
    fail(err);
  }
  await Promise.allSettled(open.flat());
  if (opts.signal?.aborted && !firstError) firstError = new RaicError('Cancelled', 'interrupted');
  if (firstError) throw firstError instanceof RaicError ? firstError : fsError(firstError, opts.target);
  result.shareProblems = reader.problems.length;
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
