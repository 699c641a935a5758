/**
 * restore: a snapshot's tree → files, directories and symlinks under a target directory, with their
 * modes, mtimes (and owners when run as root). A large file, and any file replacing one (overwrite), is
 * written to a temp name and renamed when complete; a new small file is created under its own name (never
 * replacing anything) and written whole in one call. Existing files are never overwritten unless asked:
 * without `overwrite`, a first pass finds every conflict and refuses before anything is written. The walk
 * hands every file's chunks to one ChunkFetcher (store/chunk-fetcher.ts), which reads them in coalesced
 * requests over the data members and delivers them in the order they arrive: each is written at its offset
 * (small files gathered in memory and written whole by a worker). Every directory is made first, in a pass of
 * its own. A chunk needed again after it was written is copied from its first file. A directory's metadata is
 * set once everything in it is written.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, mkdirSync, openSync, renameSync, symlinkSync } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import picomatch from 'picomatch';
import { RaicError } from '../errors.js';
import { keyedHash } from '../crypto/index.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import { Batcher, ChunkFetcher, ChunkReader, pageLoader, readStreamBytes, streamOf, walkStream, type BatchPlacer, type ChunkEntry, type FetchLimits, type ManifestRoot, type Placement, type RaicArray, type StreamRef } from '../store/index.js';
import { readFully, writeAll } from '../file-io.js';
import { discardCreated, type ChunkTarget, type FileTarget, type FileToWrite, type PlaceFilesContext, type WriteFilesResult } from './file-writer.js';
import { applyMetadata, bytesOfName, decodeTree, displayPath, fsPath, mayListDirectories, metadataOf, type NodeMetadata, type TreeNode } from '../tree/index.js';
import { fsError } from './get.js';
import { walkTree, type TreeEvent, type TreePick } from './tree-walk.js';

export interface RestoreOptions {
  target: string;
  /** Restore only paths matching these globs (against the snapshot path, e.g. /home/me/docs/**) and their contents. */
  include?: string[];
  overwrite?: boolean;
  /**
   * The repository's convergence key (a restore opened with a passphrase has it): a chunk needed again after it
   * was written is then copied from the file it was written to, checked against the chunk's key, instead of
   * fetched again. A tree capability has no such key; its duplicates are fetched again unless the fetcher still
   * holds them.
   */
  convergenceKey?: Uint8Array;
  /** The fetcher's limits (tests: small windows); store's DEFAULT_FETCH otherwise. */
  fetch?: Partial<FetchLimits>;
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

const LARGE_FILE_BYTES = 256 * 1024;
/**
 * Small files are written by the workers, this many at a time in one task (at most SMALL_BATCH_BYTES of content);
 * at most SMALL_QUEUED_BYTES of content waits for a worker. A task costs the main thread ~200 µs on a 2-core VM
 * (waking the worker is an inter-processor interrupt): 256 files a task restored 100k tiny files ~10% faster
 * than 64.
 */
const SMALL_BATCH_FILES = 256;
const SMALL_BATCH_BYTES = 4 * 1024 * 1024;
const SMALL_QUEUED_BYTES = SMALL_BATCH_BYTES;
const FILE_WRITER = new URL('./file-writer-entry.cjs', import.meta.url);

/**
 * Chunks remembered where they were written, for copying duplicates (~250 bytes each with their file's path);
 * the oldest half go first. Keyed by 16 bytes of the chunk id: a copy is checked against the chunk's key anyway.
 */
const REMEMBERED_CHUNKS = 16 * 1024;
const rememberedKey = (entry: ChunkEntry): string => entry.id.toString('latin1', 0, 16);

/** Which snapshot paths to restore: all, or those matching an include pattern, and everything below them. */
function selector(include: readonly string[]): TreePick {
  if (include.length === 0) return () => true;
  const match = picomatch([...include], { dot: true });
  return (path, ancestorIncluded) => ancestorIncluded || match(path);
}

/** The walk's events that are selected (see TreePick), with `included` so directories on the way are made as needed. */
const selected = (reader: ChunkReader, root: ManifestRoot, include: readonly string[]): AsyncGenerator<TreeEvent> => walkTree(reader, streamOf(root), selector(include));

/**
 * Bytes [offset, offset + into.length) of a file this restore wrote, read into `into`; null when they cannot be
 * read whole (changed, gone, unreadable).
 */
function readBack(path: string | Buffer, offset: number, into: Uint8Array): Uint8Array | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    return readFully(fd, into, offset) === into.length ? into : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
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

/**
 * A directory of the walk: its children (files and directories) not yet settled; once the walk has left it and
 * none is left, its metadata goes on and it counts as settled in its own parent.
 */
interface DirJob {
  path: string;
  node: TreeNode | null;
  /** Selected for restore (made by makeDirectories): its metadata is applied. */
  included: boolean;
  pending: number;
  left: boolean;
  /** A child failed: its metadata is not applied (the restore fails anyway). */
  failed: boolean;
  parent: DirJob | null;
}

/** A file being restored: its chunks arrive in any order (as the fetcher's requests do) and are written at their offsets. */
interface FileJob {
  path: string;
  node: NodeMetadata;
  dir: DirJob;
  /** Where the content goes before the rename into place; null: created under its own name when complete. */
  tmp: string | Buffer | null;
  size: number;
  /** Small files: the content gathered in memory, for a worker to write whole. Large ones go to the temp file as they come. */
  small: boolean;
  data: Uint8Array | null;
  /** Chunks asked for and not yet written; `listed` once every chunk has been asked for. */
  waiting: number;
  listed: boolean;
  /** Handed to a worker, which writes it or reports why not: it settles without help. */
  writing: boolean;
  /** Written whole by the worker that opened its one chunk (ChunkFetcher.place): it settles once listed. */
  placed: boolean;
  /** Written (ok) or given up; copies of its chunks wait for it (waiters). */
  settled: boolean;
  ok: boolean;
  waiters: ((ok: boolean) => void)[] | null;
}

/**
 * Sealed bytes asked for and not yet delivered, at most (the fetcher's default is 16 MiB, which get keeps). A
 * restore holds much else meanwhile (small files gathered for the workers, the walk): restoring /usr/share peaked
 * at 290-309 MB with 16 MiB (five runs; others that day 277-313, one 356), 269-284 MB with 8 MiB, at the same
 * speed (5.94 against 6.03 s, alternating). Over links of 50 ms this is still several times what the data
 * members' links carry in a round trip (restore 2.17x restic there, as before).
 */
const RESTORE_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

/** Packs whose tables the directory pass asks for (a round trip each to k members, ~17 KB per member). */
const PREFETCH_TABLES = 4;

/**
 * The first pass over the selected tree: every directory to restore is made (mode 0700 until its own metadata
 * goes on at the end), before any file. restic does the same. Creating 100k tiny files in 1,000 directories
 * right after deleting such a tree took 25–30 s on this machine's ext4 with each directory made just before its
 * files, 4–5 s with every directory made first (each new inode skipped every recently deleted one in its group).
 * Into a target that is not empty (and no `overwrite`) the pass also looks for files in the way and refuses,
 * naming them, before anything is made: the directories wait in a list until the pass is through.
 */
async function makeDirectories(
  reader: ChunkReader,
  root: ManifestRoot,
  include: readonly string[],
  fsAt: (path: string) => string | Buffer,
  at: (path: string) => string,
  checkConflicts: boolean,
): Promise<void> {
  const make = (path: string): void => {
    try {
      mkdirSync(fsAt(path), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError(err, displayPath(at(path)));
    }
  };
  if (!checkConflicts) return makeEveryDirectory(reader, streamOf(root), include, make);
  const conflicts: string[] = [];
  const later: string[] = [];
  for await (const ev of selected(reader, root, include)) {
    if (ev.kind === 'leave') continue;
    const there = await exists(fsAt(ev.path));
    if (there === 'other' || (there === 'dir' && ev.node.type !== 'dir')) conflicts.push(displayPath(at(ev.path)));
    if (conflicts.length >= 5) break;
    if (ev.kind === 'enter' && ev.included) later.push(ev.path);
  }
  if (conflicts.length > 0) {
    throw new RaicError('Usage', `restore would overwrite existing files: ${conflicts.join(', ')}${conflicts.length >= 5 ? ', …' : ''}`, {
      hint: 'restore into an empty --target, or pass --overwrite',
    });
  }
  for (const path of later) make(path);
}

/**
 * makeDirectories with no conflicts to look for: a walk of the directories alone, without an event per file
 * through the generic walk's nested generators. The first files' packs have their tables agreed meanwhile, so
 * the fetching that follows does not start with those round trips.
 */
async function makeEveryDirectory(reader: ChunkReader, root: StreamRef, include: readonly string[], make: (path: string) => void): Promise<void> {
  const pick = selector(include);
  const tablesAsked = new Set<string>();
  reader.listForwardsNow(); // prefetchTable waits for it
  const visit = async (tree: StreamRef, base: string, ancestorIncluded: boolean): Promise<void> => {
    const filesToo = tablesAsked.size < PREFETCH_TABLES;
    const bytes = await readStreamBytes(reader, tree);
    if (!filesToo && !mayListDirectories(bytes)) return; // a leaf directory: no need to parse it here
    for (const node of decodeTree(bytes, (type) => type === 'dir' || filesToo)) {
      const path = `${base}/${node.name}`;
      if (node.type === 'dir') {
        const included = pick(path, ancestorIncluded);
        if (included) make(path);
        if (node.subtree) await visit(node.subtree, path, included);
      } else if (tablesAsked.size < PREFETCH_TABLES && node.content?.depth === 0 && pick(path, ancestorIncluded)) {
        const first = node.content.entries[0];
        const pack = first?.pack.toString('latin1');
        if (first && pack !== undefined && !tablesAsked.has(pack) && reader.prefetchTable(first)) tablesAsked.add(pack);
      }
    }
  };
  await visit(root, '', false);
}

export async function restoreTree(array: RaicArray, root: ManifestRoot, opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  if (root.header.kind !== 'tree') throw new RaicError('Usage', 'this is a file capability, not a snapshot', { hint: 'use raic get CAP PATH' });
  // Two plaintext buffers kept, not the default 64: a restore writes each large chunk out as soon as it opens, so
  // reuse saves little, while every buffer kept holds the pages its largest chunk touched. Restoring /usr/share,
  // peak RSS 300-310 -> 275-296 MB (three runs each), at the same time; get keeps the default (it was ~11% slower).
  const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize, 2);
  const include = opts.include ?? [];
  // Snapshot paths are '/' and names each checked to be one component (isNameComponent): appended to the
  // target as they are, without path.join's normalising (a tenth of the main thread's garbage on /usr/share).
  const targetBase = normalize(opts.target).replace(/\/+$/, '');
  const at = (path: string): string => targetBase + path;
  /** The file system's form of a restored path (bytes where a name is not UTF-8, see tree/raw-name.ts). */
  const fsAt = (path: string): string | Buffer => fsPath(at(path));

  // Into a target that does not exist or is empty nothing can be overwritten: no need to look for conflicts.
  const checkConflicts = !opts.overwrite && !(await isEmptyOrAbsent(opts.target));
  await mkdir(opts.target, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, opts.target);
  });
  await makeDirectories(reader, root, include, fsAt, at, checkConflicts);

  const result: RestoreResult = { files: 0, dirs: 0, symlinks: 0, bytes: 0, shareProblems: 0, seconds: 0 };
  const failed = new AbortController();
  let firstError: unknown = null;
  const fail = (err: unknown): void => {
    firstError ??= err;
    failed.abort();
  };
  const stopped = (): boolean => failed.signal.aborted || opts.signal?.aborted === true;
  // A small file's one chunk is written as the file, and a large file's chunk into its temp file, by the worker
  // that opens it (placeFiles), not handed to this thread (and, for small files, sent to another worker):
  // restoring /usr/share, those copies, writes and second tasks were much of this thread's work, on which the
  // restore waited while the workers idled.
  const placer: BatchPlacer = { module: FILE_WRITER, context: { overwrite: opts.overwrite === true } satisfies PlaceFilesContext };
  const fetcher = new ChunkFetcher(reader, { inFlightBytes: RESTORE_IN_FLIGHT_BYTES, ...opts.fetch }, placer);
  const pendingMax = 2 * fetcher.limits.windowChunks;
  const stopFetching = (): void => void fetcher.abort(firstError ?? new RaicError('Cancelled', 'interrupted'));
  failed.signal.addEventListener('abort', stopFetching, { once: true });
  opts.signal?.addEventListener('abort', stopFetching, { once: true });
  /** Files started and not yet settled (their temp files are removed if the restore fails). */
  const unfinished = new Set<FileJob>();

  // Completion is counted, not awaited: a promise per file (with its resolvers, a catch, and a Promise.all per
  // directory) was a large part of the main thread's garbage restoring /usr/share, most of it living long enough
  // to be promoted and collected by full collections.
  /** Called once `unfinished` is empty. */
  let everySettled: (() => void) | null = null;
  const rootDir: DirJob = { path: '', node: null, included: false, pending: 0, left: false, failed: false, parent: null };
  /** The directory the walk is in. */
  let dir = rootDir;

  /** A directory whose children have all settled: its metadata goes on (after them: writing them changed its mtime). */
  const closeDir = (d: DirJob): void => {
    let ok = !d.failed;
    if (ok && d.included) {
      try {
        applyMetadata(fsAt(d.path), d.node!);
        result.dirs += 1;
      } catch (err) {
        fail(err);
        ok = false;
      }
    }
    if (d.parent) childSettled(d.parent, ok);
  };
  const childSettled = (d: DirJob, ok: boolean): void => {
    if (!ok) d.failed = true;
    d.pending -= 1;
    if (d.pending === 0 && d.left) closeDir(d);
  };

  /** A file written (err null) or given up: counted once, its copies and its directory told. */
  const settleFile = (job: FileJob, err: unknown): void => {
    if (job.settled) return;
    job.settled = true;
    job.ok = err === null;
    unfinished.delete(job);
    if (job.ok) {
      result.files += 1;
      opts.onProgress?.(result.bytes, result.files);
    } else fail(err);
    const waiters = job.waiters;
    job.waiters = null;
    if (waiters) for (const w of waiters) w(job.ok);
    childSettled(job.dir, job.ok);
    if (unfinished.size === 0) everySettled?.();
  };
  /** Whether the file was written, once it is settled. */
  const whenSettled = (job: FileJob): Promise<boolean> => (job.settled ? Promise.resolve(job.ok) : new Promise((resolve) => (job.waiters ??= []).push(resolve)));

  // Temp names: unique per restore run and file, without a random draw per file.
  const tmpPrefix = `.raic-${randomBytes(6).toString('hex')}-`;
  let tmpCount = 0;
  /** Small files queued for the workers (file-writer.ts). */
  const smallFiles = new Batcher<{ file: FileToWrite; job: FileJob }>(
    async (batch) => {
      let results: WriteFilesResult;
      try {
        // Each file's content has a buffer of its own (see put): moved to the worker, not copied.
        const moved = batch.map((b) => b.file.data.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
        results = await array.pool.runModule<WriteFilesResult>(FILE_WRITER, { files: batch.map((b) => b.file), overwrite: opts.overwrite === true }, moved);
      } catch (err) {
        for (const b of batch) settleFile(b.job, err);
        return;
      }
      batch.forEach((b, i) => settleFile(b.job, writeFailure(b.job, results[i] ?? null)));
    },
    { maxItems: SMALL_BATCH_FILES, maxWeight: SMALL_BATCH_BYTES, maxRunning: array.tuning.workers + 1, maxQueued: 2 * SMALL_BATCH_FILES, maxQueuedWeight: SMALL_QUEUED_BYTES },
  );

  /** A worker's answer for a file it wrote (null) or could not (why): the error to settle it with. */
  const writeFailure = (job: FileJob, res: WriteFilesResult[number]): Error | null => {
    if (!res) return null;
    const shown = displayPath(at(job.path));
    return res.directory ? new RaicError('Usage', `${shown} is a directory; not replacing it with a file`) : fsError(Object.assign(new Error(res.message), { code: res.code }), shown);
  };

  /** A small file's one chunk, to be written whole by the worker that opens it (ChunkFetcher.place). */
  const filePlacement = (job: FileJob, entry: ChunkEntry): Placement => ({
    target: (job.tmp === null ? { path: fsAt(job.path), node: job.node } : { path: fsAt(job.path), tmp: job.tmp, node: job.node }) satisfies FileTarget,
    deliver: (plaintext) => put(job, 0, entry, plaintext),
    placed: (answer) => {
      result.bytes += entry.size;
      job.waiting -= 1;
      const err = writeFailure(job, answer as WriteFilesResult[number]);
      if (err) return settleFile(job, err);
      job.placed = true;
      if (job.listed) settleFile(job, null);
    },
  });

  /**
   * A large file's chunk, written into its temp file by the worker that opens it. One it could not write fails
   * the restore; the file, unfinished, loses its temp file then.
   */
  const chunkPlacement = (job: FileJob, offset: number, entry: ChunkEntry): Placement => ({
    target: { file: job.tmp!, offset } satisfies ChunkTarget,
    deliver: (plaintext) => put(job, offset, entry, plaintext),
    placed: (answer) => {
      const err = writeFailure(job, answer as WriteFilesResult[number]);
      if (err) return fail(err);
      result.bytes += entry.size;
      job.waiting -= 1;
      if (job.waiting > 0 || !job.listed) return;
      try {
        closeLarge(job);
      } catch (closing) {
        fail(closing);
      }
    },
  });

  /** A small file complete in memory: a worker writes it, its metadata, and renames it into place. */
  const writeSmall = (job: FileJob): Promise<void> => {
    const path = fsAt(job.path);
    const data = job.data ?? new Uint8Array(0);
    const file: FileToWrite = job.tmp === null ? { path, data, node: job.node } : { path, data, node: job.node, tmp: job.tmp };
    job.data = null;
    job.writing = true;
    return smallFiles.add({ file, job }, Math.max(1, data.length));
  };

  /**
   * A large file's temp file complete: metadata, then renamed into place. The file system calls are
   * synchronous: with the promise versions, seven thread-pool hops per file made the main thread the
   * bottleneck of restoring small files (measured on /usr/share, the workers idle 90% of the time), and
   * writes land in the page cache either way.
   */
  const closeLarge = (job: FileJob): void => {
    const tmp = job.tmp!;
    applyMetadata(tmp, job.node);
    const p = fsAt(job.path);
    if (opts.overwrite && lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) {
      throw new RaicError('Usage', `${displayPath(at(job.path))} is a directory; not replacing it with a file`);
    }
    renameSync(tmp, p);
    settleFile(job, null);
  };

  const complete = (job: FileJob): void | Promise<void> => {
    if (job.settled) return; // its placement failed
    if (job.placed) return settleFile(job, null);
    if (job.small) return writeSmall(job);
    closeLarge(job);
  };

  /** One chunk of a file, at `offset`: into its buffer (small) or its temp file (large). */
  const put = (job: FileJob, offset: number, entry: ChunkEntry, plaintext: Uint8Array): void | Promise<void> => {
    if (plaintext.length !== entry.size) throw new RaicError('Integrity', `a chunk of ${displayPath(at(job.path))} has ${plaintext.length} bytes, its entry says ${entry.size}`);
    if (convergenceKey) remember(entry, job, offset);
    if (job.small) {
      job.data ??= new Uint8Array(job.size); // its own ArrayBuffer: posted to a worker, a view would carry its whole buffer
      job.data.set(plaintext, offset);
    } else {
      const fd = openSync(job.tmp!, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        writeAll(fd, plaintext, offset);
      } finally {
        closeSync(fd);
      }
    }
    result.bytes += plaintext.length;
    job.waiting -= 1;
    if (job.waiting === 0 && job.listed) return complete(job);
  };

  // Duplicates: a chunk this restore already wrote, or asked a worker to place, is read back from that file once
  // it is complete (renamed into place) and used if it still hashes to the chunk's key; otherwise it is fetched.
  const convergenceKey = opts.convergenceKey;
  // Two generations, the older dropped whole when the newer fills: deleting a Map's oldest key one at a time
  // left its iterator skipping ever more deleted slots (a quarter of a second of main thread on /usr/share).
  type Written = { job: FileJob; offset: number };
  let written = new Map<string, Written>();
  let writtenBefore = new Map<string, Written>();
  const wasWritten = (id: string): Written | undefined => written.get(id) ?? writtenBefore.get(id);
  const copies = new Set<Promise<void>>();
  const remember = (entry: ChunkEntry, job: FileJob, offset: number): void => {
    const id = rememberedKey(entry);
    if (wasWritten(id)) return;
    if (written.size >= REMEMBERED_CHUNKS / 2) {
      writtenBefore = written;
      written = new Map();
    }
    written.set(id, { job, offset });
  };
  // One buffer for every copy: put() is done with a chunk's bytes when it returns (written, or copied into its
  // small file). A chunk each allocated piled up: the copies waiting for a large file all run once it settles,
  // one synchronous burst with no collection between them, and restoring /usr/lib peaked at 546 MB so.
  let copyScratch = new Uint8Array(0);
  const copyBuffer = (size: number): Uint8Array => {
    if (copyScratch.length < size) copyScratch = new Uint8Array(size);
    return copyScratch.subarray(0, size);
  };
  const copy = (source: Written, job: FileJob, offset: number, entry: ChunkEntry): void => {
    const copying = (async () => {
      const bytes = (await whenSettled(source.job)) ? readBack(fsAt(source.job.path), source.offset, copyBuffer(entry.size)) : null;
      if (stopped()) return; // the restore failed meanwhile: its files are being removed
      if (bytes && keyedHash(convergenceKey!, bytes).equals(entry.key)) await put(job, offset, entry, bytes);
      else fetcher.add(entry, (plaintext) => put(job, offset, entry, plaintext));
    })();
    copies.add(copying);
    copying.then(
      () => copies.delete(copying),
      (err: unknown) => {
        copies.delete(copying);
        fail(err);
      },
    );
  };

  /**
   * A file's or symlink's directory, made unless makeDirectories made it (it makes every included one): a
   * recursive mkdir of an existing directory costs two system calls (restoring /usr/share, ~8,000 of them for its
   * 3,965 symlinks alone).
   */
  const makeParent = (path: string, parent: DirJob): void => {
    if (!parent.included) mkdirSync(fsAt(dirname(path)), { recursive: true });
  };

  /**
   * A file: its temp file made (large) and every chunk asked of the fetcher, with where it goes. A file of at
   * most LARGE_FILE_BYTES is gathered in memory and written by a worker (creating a file costs 100–200 µs of
   * kernel time: on the main thread that was the bottleneck of a tree of small files).
   */
  const startFile = async (path: string, node: TreeNode, parent: DirJob): Promise<void> => {
    makeParent(path, parent);
    const size = node.content?.size ?? 0;
    const small = size <= LARGE_FILE_BYTES;
    // Not named after the file: a name near NAME_MAX (255 bytes) would make the temp name too long.
    const tmp = small && !opts.overwrite ? null : fsAt(join(dirname(path), `${tmpPrefix}${(tmpCount++).toString(36)}.tmp`));
    const job: FileJob = { path, node: metadataOf(node), dir: parent, tmp, size, small, data: null, waiting: 0, listed: false, writing: false, placed: false, settled: false, ok: false, waiters: null };
    parent.pending += 1;
    unfinished.add(job);
    if (!small) closeSync(openSync(tmp!, 'wx', 0o600));
    let offset = 0;
    const ask = (entry: ChunkEntry): void => {
      if (stopped()) throw new RaicError('Cancelled', 'interrupted');
      const chunkAt = offset;
      offset += entry.size;
      if (offset > size) throw new RaicError('Integrity', `the chunks of ${displayPath(at(path))} hold more than its ${size} bytes`);
      job.waiting += 1;
      const source = convergenceKey ? wasWritten(rememberedKey(entry)) : undefined;
      // Not from this very file: it is complete only once this chunk is in it.
      if (source && source.job !== job) return copy(source, job, chunkAt, entry);
      if (small && (chunkAt !== 0 || entry.size !== size)) return fetcher.add(entry, (plaintext) => put(job, chunkAt, entry, plaintext));
      fetcher.place(entry, small ? filePlacement(job, entry) : chunkPlacement(job, chunkAt, entry));
      // Remembered as it is asked for, not once written: a placed chunk's plaintext does not come back, so a
      // later file that needs it copies it from this one (once this one is complete) instead of joining it.
      if (convergenceKey) remember(entry, job, chunkAt);
    };
    const room = (): boolean => fetcher.pending <= pendingMax / 2;
    // A file's chunk list is most often in its node (depth 0): looped over as it is, not through walkStream's generator.
    if (node.content?.depth === 0) {
      for (const entry of node.content.entries) {
        ask(entry);
        if (fetcher.pending > pendingMax) await fetcher.waitUntil(room);
      }
    } else if (node.content) {
      for await (const entry of walkStream(node.content, pageLoader(reader))) {
        ask(entry);
        if (fetcher.pending > pendingMax) await fetcher.waitUntil(room);
      }
    }
    if (offset !== size) throw new RaicError('Integrity', `the chunks of ${displayPath(at(path))} hold ${offset} bytes, not its ${size}`);
    job.listed = true;
    if (job.waiting === 0) await complete(job);
  };

  try {
    for await (const ev of selected(reader, root, include)) {
      if (stopped()) break;
      if (fetcher.failure) throw fetcher.failure;
      const { node, path } = ev;
      if (ev.kind === 'enter') {
        // Made by makeDirectories when included.
        dir.pending += 1;
        dir = { path, node, included: ev.included, pending: 0, left: false, failed: false, parent: dir };
      } else if (ev.kind === 'leave') {
        const left = dir;
        left.left = true;
        dir = left.parent!;
        if (left.pending === 0) closeDir(left);
      } else if (node.type === 'symlink') {
        const p = fsAt(path);
        makeParent(path, dir);
        if (opts.overwrite) await rm(p, { force: true, recursive: false }).catch(() => undefined);
        symlinkSync(bytesOfName(node.target ?? ''), p);
        applyMetadata(p, node);
        result.symlinks += 1;
      } else if (node.type === 'file') {
        await startFile(path, node, dir);
      }
    }
    // A copy whose source turned out changed asks the fetcher after all: drain until neither has work left.
    while (!stopped()) {
      await fetcher.drain();
      if (copies.size === 0) break;
      await Promise.allSettled([...copies]);
    }
  } catch (err) {
    fail(err);
  }
  if (stopped()) {
    // Nothing more is fetched or delivered; files left unwritten lose their temp files and settle as failed, so
    // that copies waiting for them go on (and find the restore stopped).
    await fetcher.abort(firstError ?? new RaicError('Cancelled', 'interrupted'));
    for (const job of [...unfinished]) {
      if (job.writing) continue;
      if (job.tmp !== null) discardCreated(null, job.tmp);
      settleFile(job, firstError ?? new RaicError('Cancelled', 'interrupted'));
    }
  }
  await Promise.allSettled([...copies]);
  opts.signal?.removeEventListener('abort', stopFetching);
  // Files handed to the workers settle when their batch comes back.
  if (unfinished.size > 0) await new Promise<void>((resolve) => (everySettled = resolve));
  if (opts.signal?.aborted && !firstError) firstError = new RaicError('Cancelled', 'interrupted');
  if (firstError) throw firstError instanceof RaicError ? firstError : fsError(firstError, opts.target);
  result.shareProblems = reader.problems.length;
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
