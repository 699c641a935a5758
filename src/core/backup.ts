/**
 * backup: walk the given paths, store every file's content (content-defined chunks, dedup across
 * files, snapshots and hosts), one tree blob per directory, then the snapshot's manifest and, last,
 * its catalog record (the commit point). Files unchanged since the parent snapshot (same host and
 * paths; type, size, mtime, ctime, inode equal) are not read: their content reference is reused.
 *
 * Unreadable or vanishing files are named in `errors` and left out; the snapshot still commits.
 */
import { lstatSync } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import { dirname, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import { RaicError, abortError } from '../errors.js';
import { randomBytes } from '../crypto/index.js';
import { DEFAULT_CDC } from '../chunk/index.js';
import type { CompressionMode } from '../compress/index.js';
import {
  ChunkSink,
  ChunkReader,
  formatCapability,
  manifestKey,
  manifestRoot,
  putOnAll,
  readStreamBytes,
  sealManifest,
  streamOf,
  SMALL_FILE_BYTES,
  type CodecPool,
  type RaicArray,
  type RepoKeys,
  type StoredFile,
  type StreamRef,
} from '../store/index.js';
import { childPath, decodeTree, displayPath, encodeTree, fsPath, listNames, makeExcluder, nodeFromStat, nodeType, readTarget, sameListing, SourceScan, unchanged, type ChangeDetection, type Excluder, type NodeStat, type ScannedEntry, type TreeNode } from '../tree/index.js';
import { cachedCatalog, cachedRecordCopies, findParent, writeCatalogRecord, type CachedRecordCopy, type CatalogRecord } from './catalog.js';
import { measureSources, type SourceSize } from './source-size.js';
import { loadManifest } from './get.js';
import { parseCapability } from '../store/index.js';

export interface BackupOptions {
  paths: string[];
  excludes?: string[];
  tags?: string[];
  host?: string | undefined;
  /** How chunks are compressed (default auto). */
  compression?: CompressionMode;
  /** How files are judged unchanged since the parent (default: size, mtime, ctime, inode). */
  changeDetection?: ChangeDetection;
  signal?: AbortSignal;
  /** The sources' scan, started early (scanSources); its starter closes it. Default: started and closed here. */
  scan?: SourceScan;
  /** Nothing is committed (index, manifest, catalog) before this resolves: the lock's confirmation. */
  commitGate?: Promise<void>;
  /** Called while the last packs and the index segment are stored, and awaited before the manifest and catalog
   * record are written (the lock's confirm()); when it rejects, nothing is committed. */
  confirmCommit?: () => Promise<void>;
  onProgress?: (p: BackupProgress) => void;
  /** Count the sources' size beside the backup (measureSources), reported as `total` for an ETA. */
  estimateTotal?: boolean;
  /** A walk begun before the lock (startEarlyWalk, with the same paths, host, excludes and scan): used when the
   * catalog names the same parent, else abandoned. */
  early?: EarlyWalk | null;
}

export interface BackupProgress {
  files: number;
  bytesSeen: number;
  bytesRead: number;
  path: string;
  /** With estimateTotal: files and bytes under the paths, as far as counted yet. */
  total?: SourceSize;
}

export interface SourceError {
  path: string;
  message: string;
}

export interface BackupResult {
  snapshotId: string;
  capability: string;
  parent: string | null;
  time: string;
  host: string;
  paths: string[];
  files: number;
  dirs: number;
  /** Files whose content was reused from the parent snapshot without reading them. */
  unchangedFiles: number;
  /** Plaintext bytes of all files in the snapshot. */
  bytes: number;
  /** Plaintext bytes read from disk. */
  bytesRead: number;
  /** Plaintext bytes new to the array, and bytes uploaded (summed over members). */
  newBytes: number;
  storedBytes: number;
  newChunks: number;
  /** Members that missed some objects (the write still met its quorum): run `raic repair`. `slowObjects` of them
   * the member was cut off from for lagging behind the others (a slow link), not for failing. */
  degraded: { member: number; url: string; missedObjects: number; slowObjects: number }[];
  errors: SourceError[];
  seconds: number;
}

/** Parent snapshot tree, opened lazily one directory at a time. */
type ParentDir = Map<string, TreeNode> | undefined;

/**
 * A node whose file content may still be being read or stored (the walk moves on meanwhile). `content`
 * resolves null when the file turned out unreadable: the node is then left out.
 */
interface PendingNode {
  node: TreeNode;
  content?: Promise<StreamRef | null>;
  /** A directory's tree blob, stored once its children are: the walk does not wait for it. */
  subtree?: Promise<StreamRef>;
}

async function settle(pending: PendingNode[]): Promise<TreeNode[]> {
  const out: TreeNode[] = [];
  for (const p of pending) {
    if (p.content) {
      const content = await p.content;
      if (!content) continue;
      p.node.content = content;
    }
    if (p.subtree) p.node.subtree = await p.subtree;
    out.push(p.node);
  }
  return out;
}

/** A promise the walk does not await now: its rejection is observed later, by settle(). */
function deferred<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** Files read at once: hides per-file open/read/close latency (a thread-pool hop each) behind each other. */
const FILE_READERS = 4;
/** Parent-snapshot directory listings read ahead of the walk. */
const PREFETCH_PARENTS = 64;
/**
 * An unchanged tree's walk runs on promises that are already resolved (the scan's lstat, cached parent listings):
 * without a turn of the event loop now and then it held up the I/O it overlaps (the lock's and the catalog's
 * replies waited ~450 ms for a 300 ms walk over 50 ms links). Checked every YIELD_CHECK_ENTRIES entries.
 */
const YIELD_AFTER_MS = 5;
const YIELD_CHECK_ENTRIES = 16;

/**
 * The walk's lstat, readdir and readlink are synchronous: on a tree of small files the promise versions cost
 * the main thread (which packs and uploads) about four times the CPU for the same answer (measured: 25 vs 6 µs
 * per lstat), and the walk waits for each answer either way. File contents are read by the workers.
 */
type StatResult = { st: NodeStat } | { err: unknown };
function lstatNow(path: string): StatResult {
  try {
    return { st: lstatSync(fsPath(path), { bigint: true }) };
  } catch (err) {
    return { err };
  }
}

class BackupRun {
  readonly errors: SourceError[] = [];
  files = 0;
  dirs = 0;
  unchangedFiles = 0;
  bytes = 0;
  bytesRead = 0;
  private lastProgress = 0;
  private entries = 0;
  private lastYield = performance.now();
  total: SourceSize | undefined;
  private readonly fileLimit = pLimit(FILE_READERS);
  private readonly prefetched = new Map<TreeNode, Promise<ParentDir>>();
  private readonly prefetchLimit = pLimit(8);
  /** The sink once it is open (see fileEntry): small files are then queued without awaiting it. */
  private sinkNow: ChunkSink | null = null;
  /** The file the walk reached last: what progress names. */
  private lastPath = '';
  /** How the sink reports a file's reading: into the progress counters. One object for the run, not one per file. */
  private readonly readOptions: { onRead: (bytes: number) => void; signal?: AbortSignal | undefined };

  constructor(
    /** Awaited only when something is to be stored: an early walk judges unchanged files before the sink is open. */
    private readonly sink: Promise<ChunkSink>,
    private readonly parentReader: ChunkReader | null,
    private readonly exclude: Excluder,
    private readonly opts: BackupOptions,
    private readonly scan: SourceScan | null = null,
  ) {
    this.readOptions = {
      signal: opts.signal,
      onRead: (bytes) => {
        this.bytesRead += bytes;
        this.progress(this.lastPath);
      },
    };
  }

  /** The parent snapshot's listing of a directory: prefetched (see prefetchParents) or read now. */
  async parentChildren(node: TreeNode | undefined): Promise<ParentDir> {
    if (!node?.subtree || !this.parentReader) return undefined;
    const early = this.prefetched.get(node);
    if (early) {
      this.prefetched.delete(node);
      return early;
    }
    return this.readParentDir(node.subtree);
  }

  private async readParentDir(ref: StreamRef): Promise<ParentDir> {
    try {
      return new Map(decodeTree(await readStreamBytes(this.parentReader!, ref)).map((c) => [c.name, c]));
    } catch {
      return undefined; // a damaged parent only costs re-reading
    }
  }

  /**
   * Starts reading the parent listings of a directory's subdirectories before the walk reaches them, so
   * an unchanged tree is walked at the speed of lstat, not of one member round trip per directory. At most
   * PREFETCH_PARENTS listings are held unconsumed (memory stays bounded in wide trees).
   */
  private prefetchParents(before: ParentDir): void {
    if (!before || !this.parentReader) return;
    for (const child of before.values()) {
      if (this.prefetched.size >= PREFETCH_PARENTS) return;
      if (child.type !== 'dir' || !child.subtree || this.prefetched.has(child)) continue;
      const ref = child.subtree;
      this.prefetched.set(child, this.prefetchLimit(() => this.readParentDir(ref)));
    }
  }

  private fail(path: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOENT' ? 'vanished during the backup' : (err as Error).message;
    this.errors.push({ path: displayPath(path), message: why });
  }

  private progress(path: string): void {
    const now = Date.now();
    if (now - this.lastProgress < 100) return;
    this.lastProgress = now;
    this.opts.onProgress?.({ files: this.files, bytesSeen: this.bytes, bytesRead: this.bytesRead, path, ...(this.total ? { total: this.total } : {}) });
  }

  /**
   * Backs up one filesystem entry; null when it cannot be read or is of a kind not backed up. Returns without a
   * promise in the common cases (a symlink, an unchanged file, a small file queued at once): on a tree of tiny
   * files the promises of an async call per entry were a large part of the main thread's garbage, and its
   * collections held up the workers.
   */
  entry(absPath: string, name: string, before: TreeNode | undefined, scanned: ScannedEntry | null = null): PendingNode | null | Promise<PendingNode | null> {
    if (this.opts.signal?.aborted) throw abortError(this.opts.signal);
    if (++this.entries % YIELD_CHECK_ENTRIES === 0 && performance.now() - this.lastYield >= YIELD_AFTER_MS) return this.entryAfterYield(absPath, name, before, scanned);
    return this.entryNow(absPath, name, before, scanned);
  }

  private async entryAfterYield(absPath: string, name: string, before: TreeNode | undefined, scanned: ScannedEntry | null): Promise<PendingNode | null> {
    await setImmediatePromise();
    this.lastYield = performance.now();
    return this.entryNow(absPath, name, before, scanned);
  }

  private entryNow(absPath: string, name: string, before: TreeNode | undefined, scanned: ScannedEntry | null): PendingNode | null | Promise<PendingNode | null> {
    const got = scanned ?? lstatNow(absPath);
    if ('err' in got) {
      this.fail(absPath, got.err);
      return null;
    }
    const st = got.st;
    const type = nodeType(st);
    if (!type) return null;
    const node = nodeFromStat(name, type, st);
    if (type === 'symlink') {
      try {
        const target = scanned && 'st' in scanned ? scanned.target : undefined;
        if (target instanceof Error) throw target;
        node.target = target ?? readTarget(absPath);
      } catch (err) {
        this.fail(absPath, err);
        return null;
      }
      return { node };
    }
    if (type === 'dir') return this.dirEntry(absPath, node, before);
    this.files += 1;
    this.bytes += node.size;
    this.lastPath = absPath;
    if (unchanged(node, before, this.opts.changeDetection)) {
      this.unchangedFiles += 1;
      node.content = before.content;
      this.progress(absPath);
      return { node };
    }
    if (!this.sinkNow || node.size > SMALL_FILE_BYTES) return this.fileEntry(absPath, node);
    return this.smallFileEntry(this.sinkNow, absPath, node);
  }

  /** Small files go to the workers in batches: a promise only when the sink's queue is full (its backpressure). */
  private smallFileEntry(sink: ChunkSink, absPath: string, node: TreeNode): PendingNode | Promise<PendingNode> {
    const q = sink.queueSmallFile(fsPath(absPath), node.size, DEFAULT_CDC, this.readOptions);
    const pending: PendingNode = { node, content: this.contentOf(q.read, absPath, node) };
    return q.queued ? q.queued.then(() => pending) : pending;
  }

  private async dirEntry(absPath: string, node: TreeNode, before: TreeNode | undefined): Promise<PendingNode> {
    return { node, subtree: (await this.dir(absPath, await this.parentChildren(before), before?.subtree)).stored };
  }

  /** A file met before the sink is open, or a large one (FILE_READERS of those at a time). */
  private async fileEntry(absPath: string, node: TreeNode): Promise<PendingNode> {
    const sink = (this.sinkNow = await this.sink);
    if (node.size <= SMALL_FILE_BYTES) return this.smallFileEntry(sink, absPath, node);
    return { node, content: this.contentOf(this.fileLimit(() => sink.storeFile(fsPath(absPath), DEFAULT_CDC, this.readOptions)), absPath, node) };
  }

  /** A file's content once stored; null (the file named in errors, and left out) when it could not be read. */
  private contentOf(reading: Promise<StoredFile>, absPath: string, node: TreeNode): Promise<StreamRef | null> {
    const content = reading.then((read) => {
      if (!('error' in read)) return read.stored; // a failure to store is the sink's, rethrown when the directory settles
      this.fail(absPath, read.error);
      this.files -= 1; // unreadable: not in the snapshot
      this.bytes -= node.size;
      return null;
    });
    content.catch(() => undefined); // awaited by the directory (settle)
    return content;
  }

  /**
   * A directory: walks its children (sorted) now, and returns — without waiting for them to be stored —
   * `stored`, its tree blob once they are. The walk goes on meanwhile, so the pipeline never drains at a
   * directory's end.
   */
  async dir(absPath: string, before: ParentDir, beforeRef?: StreamRef): Promise<{ stored: Promise<StreamRef> }> {
    this.dirs += 1;
    let names: string[] = [];
    const scanned = this.scan?.take(absPath);
    if (scanned) {
      names = scanned.names;
      if (scanned.error) this.fail(absPath, scanned.error);
    } else {
      try {
        names = listNames(absPath);
      } catch (err) {
        this.fail(absPath, err);
      }
    }
    this.prefetchParents(before);
    const paths = names.map((name) => childPath(absPath, name)).map((p) => (this.exclude(displayPath(p)) ? null : p));
    const pending: PendingNode[] = [];
    for (let i = 0; i < names.length; i++) {
      const child = paths[i];
      if (!child) continue;
      let p = this.entry(child, names[i]!, before?.get(names[i]!), scanned?.entry(i) ?? null);
      if (p instanceof Promise) p = await p;
      if (p) pending.push(p);
    }
    // Boxed: an async function would flatten the promise, and the caller would wait for the store after all.
    const store = (nodes: TreeNode[]): Promise<StreamRef> =>
      // Nothing in it changed: its listing is the parent's, byte for byte, already stored.
      beforeRef && before && sameListing(nodes, before) ? Promise.resolve(beforeRef) : this.sink.then((sink) => sink.storeBytes(encodeTree(nodes)));
    return { stored: deferred(settle(pending).then(store)) };
  }

  /**
   * The snapshot root: the given paths nested under their parent directories (as restic does), the
   * intermediate directories carrying their real metadata.
   */
  async root(paths: string[], parentRoot: ParentDir): Promise<StreamRef> {
    type Level = { children: Map<string, Level>; given: string | null };
    const top: Level = { children: new Map(), given: null };
    for (const p of paths) {
      let level = top;
      for (const part of p.split(sep).filter(Boolean)) {
        let next = level.children.get(part);
        if (!next) level.children.set(part, (next = { children: new Map(), given: null }));
        level = next;
      }
      level.given = p;
    }
    const build = async (level: Level, absDir: string, before: ParentDir): Promise<StreamRef> => {
      const pending: PendingNode[] = [];
      for (const [name, child] of [...level.children].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const abs = childPath(absDir, name);
        if (child.given) {
          const p = await this.entry(abs, name, before?.get(name));
          if (p) pending.push(p);
          continue;
        }
        const node = nodeFromStat(name, 'dir', await lstat(abs, { bigint: true }));
        node.subtree = await build(child, abs, await this.parentChildren(before?.get(name)));
        pending.push({ node });
      }
      const nodes = await settle(pending);
      return (await this.sink).storeBytes(encodeTree(nodes));
    };
    return build(top, sep, parentRoot);
  }
}

/**
 * A walk begun before the lock is taken (startEarlyWalk). It judges files against the parent this host's cache
 * names (cachedCatalog) while the lock is written and the catalog and index are listed, and stores nothing until
 * backup() accepts it, which it does only when the catalog listed after our lock names the same parent: a
 * forgotten or superseded parent means the walk is abandoned and begun again. Over links 50 ms away this takes
 * an unchanged tree's walk off the critical path (it waited for the lock and those listings).
 */
export class EarlyWalk {
  readonly run: BackupRun;
  private readonly rootRef: Promise<StreamRef>;
  private readonly controller = new AbortController();
  private readonly giveSink: (sink: Promise<ChunkSink>) => void;

  constructor(
    readonly parent: CatalogRecord,
    array: RaicArray,
    reader: ChunkReader,
    opts: BackupOptions,
  ) {
    let give!: (sink: Promise<ChunkSink>) => void;
    const sink = new Promise<ChunkSink>((resolve) => (give = resolve));
    this.giveSink = give;
    this.run = new BackupRun(sink, reader, makeExcluder(opts.excludes ?? []), { ...opts, signal: this.controller.signal }, opts.scan ?? null);
    this.rootRef = readParentRoot(array, reader, parent).then((root) => this.run.root(sourcePaths(opts.paths), root));
    this.rootRef.catch(() => undefined); // awaited once accepted; an abandoned walk's end is nobody's
  }

  /** Lets the walk store what it must in `sink`, stopping when `signal` aborts; its root's tree blob. */
  accept(sink: Promise<ChunkSink>, signal?: AbortSignal): Promise<StreamRef> {
    if (signal?.aborted) this.controller.abort(signal.reason);
    else signal?.addEventListener('abort', () => this.controller.abort(signal.reason), { once: true });
    this.giveSink(sink);
    return this.rootRef;
  }

  /** Stops the walk (at its next entry); nothing it judged is used. Harmless once the backup is over. */
  abandon(): void {
    this.controller.abort();
    const refused = Promise.reject(abortError(this.controller.signal));
    refused.catch(() => undefined);
    this.giveSink(refused);
  }
}

/**
 * What an early walk starts from, gathered before the keys are open (prepareEarlyWalk): the copies of catalog
 * records this host's cache holds, and the reader the walk will read the parent with, whose forwarding records
 * are being listed (while the KDF runs and before the lock: only the early walk reads with it, and a stale
 * listing can only make a read fail, which costs re-reading files).
 */
export interface EarlyWalkPrep {
  copies: readonly CachedRecordCopy[];
  reader: ChunkReader;
}

/** An early walk's start (see EarlyWalkPrep); null when this host's cache holds no catalog record. */
export function prepareEarlyWalk(array: RaicArray): EarlyWalkPrep | null {
  const copies = cachedRecordCopies(array);
  // The pool is taken lazily: the codec threads start after the KDF (its 64 MiB and theirs would add up).
  return copies.length > 0 ? { copies, reader: parentReader(array, () => array.pool) } : null;
}

/**
 * Begins the walk before the lock (see EarlyWalk) from `prep` (prepareEarlyWalk's), when this host's cache names
 * a parent for these paths; null otherwise (no cache, a first backup, --force): the walk then begins in backup(),
 * once the catalog is read. `opts` as for backup(), scan included.
 */
export function startEarlyWalk(array: RaicArray, keys: RepoKeys, prep: EarlyWalkPrep | null, opts: BackupOptions): EarlyWalk | null {
  if (!prep || opts.changeDetection?.force) return null;
  const parent = findParent(cachedCatalog(array, keys, prep.copies), opts.host ?? hostname(), sourcePaths(opts.paths));
  return parent ? new EarlyWalk(parent, array, prep.reader, opts) : null;
}

/** A reader for a parent's tree blobs, its forwarding records listed from now: the parent's root is read as soon as the parent is known. */
function parentReader(array: RaicArray, pool: CodecPool | (() => CodecPool)): ChunkReader {
  const reader = new ChunkReader(array.members, pool, array.k, DEFAULT_CDC.maxSize);
  reader.listForwardsNow();
  return reader;
}

/**
 * The scan of the sources (tree/source-scan.ts), started before backup() is called: from the command's start it
 * runs while the array opens, the passphrase is stretched and the lock is taken. Give it to backup() as `scan`,
 * with the same paths and excludes; whoever started it closes it.
 */
export function scanSources(paths: readonly string[], excludes: readonly string[] = []): SourceScan {
  const given = sourcePaths(paths);
  const scan = new SourceScan(given, excludes);
  if (given.some(isDirectory)) scan.start();
  return scan;
}

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false; // backup() says what is wrong with it
  }
}

/** The given paths as backup records them: absolute, once each, sorted. */
const sourcePaths = (paths: readonly string[]): string[] => [...new Set(paths.map((p) => resolve(p)))].sort();

/** The parent snapshot's root listing; an unreadable parent only costs re-reading everything. */
async function readParentRoot(array: RaicArray, reader: ChunkReader, parent: CatalogRecord): Promise<ParentDir> {
  try {
    const root = await loadManifest(array, parseCapability(parent.capability));
    return new Map(decodeTree(await readStreamBytes(reader, streamOf(root))).map((c) => [c.name, c]));
  } catch {
    return undefined;
  }
}

/**
 * `catalog` may still be being read: the parent is chosen from it while the index is loaded (two listings and
 * their reads side by side, not one after the other: a round trip or two less before the walk on a cloud).
 */
export async function backup(array: RaicArray, keys: RepoKeys, catalog: readonly CatalogRecord[] | Promise<readonly CatalogRecord[]>, opts: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  if (opts.paths.length === 0) throw new RaicError('Usage', 'nothing to back up: give at least one path');
  const paths = sourcePaths(opts.paths);
  for (const p of paths) {
    try {
      await stat(dirname(p));
      await lstat(p);
    } catch (err) {
      throw new RaicError('Usage', `cannot back up ${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
  }
  const nested = paths.filter((p) => paths.some((q) => q !== p && p.startsWith(`${q === sep ? '' : q}${sep}`)));
  if (nested.length > 0) throw new RaicError('Usage', `${nested[0]} is inside another given path; give each tree once`);
  array.members.requireUp(array.writeQuorum, 'cannot back up (the write quorum is not reachable)');
  // A thread lists and lstats the sources' directories ahead of the walk (tree/source-scan.ts): with a parent most
  // files are judged by their lstat alone; without one, on small files, the main thread is the bottleneck all the
  // same. Files given alone have nothing to scan.
  const scan = opts.scan ?? scanSources(paths, opts.excludes ?? []);
  try {
    return await backupWalked(array, keys, catalog, opts, paths, scan, started);
  } finally {
    if (!opts.scan) await scan.close();
  }
}

async function backupWalked(
  array: RaicArray,
  keys: RepoKeys,
  catalog: readonly CatalogRecord[] | Promise<readonly CatalogRecord[]>,
  opts: BackupOptions,
  paths: string[],
  scan: SourceScan,
  started: number,
): Promise<BackupResult> {
  const host = opts.host ?? hostname();
  const early = opts.early ?? null;

  // The sink (the index, for dedup) opens while the catalog is read and the parent chosen; the walk judges
  // unchanged files meanwhile and waits for the sink only when something is to be stored.
  const sinkOpening = ChunkSink.open(array, keys, DEFAULT_CDC.maxSize, { ...(opts.commitGate ? { commitGate: opts.commitGate } : {}), ...(opts.compression ? { compression: opts.compression } : {}) });
  sinkOpening.catch(() => undefined); // the walk's to throw, when it needs the sink; else awaited below
  const exclude = makeExcluder(opts.excludes ?? []);
  // Without an early walk the catalog, the forwarding records (the parent's root is read as soon as the catalog
  // names it) and the index are read at the same time.
  const reader = early ? null : parentReader(array, array.pool);
  let walk: { parent: CatalogRecord | undefined; run: BackupRun };
  let rootRef: StreamRef;
  try {
    const parent = findParent(await catalog, host, paths);
    let rootRefs: Promise<StreamRef>;
    if (early && early.parent.manifestId === parent?.manifestId) {
      // The walk begun before the lock judged files against this same parent, live in the catalog as listed
      // after our lock was written: what it reuses is what a walk begun now would reuse.
      walk = { parent, run: early.run };
      rootRefs = early.accept(sinkOpening, opts.signal);
    } else {
      early?.abandon();
      const walkReader = reader ?? parentReader(array, array.pool);
      const parentRoot = parent ? await readParentRoot(array, walkReader, parent) : undefined;
      const run = new BackupRun(sinkOpening, parent ? walkReader : null, exclude, opts, scan);
      walk = { parent, run };
      rootRefs = run.root(paths, parentRoot);
    }
    if (opts.estimateTotal) {
      measureSources(paths, exclude, (size) => (walk.run.total = size), opts.signal).catch(() => undefined); // only feeds the ETA
    }
    rootRef = await rootRefs;
  } catch (err) {
    early?.abandon(); // harmless once accepted: the walk has failed
    await sinkOpening.catch(() => undefined);
    throw err;
  }
  const { parent, run } = walk;
  const sink = await sinkOpening;
  // The lock is confirmed while the last pack, the index segment and the manifest are stored (sink.finish awaits
  // the commit gate, confirm() the lock's background confirmation): round trips less, and all before the catalog
  // record, the commit point (a run that fails before it leaves an unnamed manifest, which prune removes). The
  // manifest follows the index segment, as a snapshot's objects always land in that order.
  const time = new Date().toISOString();
  const capKey = randomBytes(32);
  const { id, sealed } = sealManifest(manifestRoot('tree', rootRef, time), capKey);
  // All settle before a failure is thrown: the lock is not released under writes still running.
  const closing = await Promise.allSettled([
    sink.finish().then(() => putOnAll(array.members, manifestKey(id), sealed, 'snapshot manifest', array.writeQuorum)),
    opts.confirmCommit?.(),
  ]);
  for (const step of closing) if (step.status === 'rejected') throw step.reason;
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const capability = formatCapability(array.shape.arrayId, id, capKey, 'tree');
  await writeCatalogRecord(array, keys, {
    kind: 'tree',
    manifestId: id,
    capability,
    time,
    host,
    paths,
    tags: opts.tags ?? [],
    stats: { files: run.files, dirs: run.dirs, bytes: run.bytes, newBytes: sink.stats.newBytes },
    ...(parent ? { parent: parent.manifestId } : {}),
  });
  return {
    snapshotId: id,
    capability,
    parent: parent?.manifestId ?? null,
    time,
    host,
    paths,
    files: run.files,
    dirs: run.dirs,
    unchangedFiles: run.unchangedFiles,
    bytes: run.bytes,
    bytesRead: run.bytesRead,
    newBytes: sink.stats.newBytes,
    storedBytes: sink.stats.storedBytes,
    newChunks: sink.stats.newChunks,
    degraded: array.members.degraded(),
    errors: run.errors,
    seconds: (performance.now() - started) / 1000,
  };
}

export const shortId = (id: string): string => id.slice(0, 8);
