/**
 * ChunkSink: the write side of a session (one put or one backup). Callers open streams and write
 * chunks; the sink seals them on the worker pool (a bounded window of chunks in flight across all
 * streams, so small files still keep every core busy), deduplicates against the index and the
 * session, appends new sealed chunks to packs — file content to data packs, tree blobs and manifest pages to
 * metadata packs, so walking a snapshot never reads file content — and builds each stream's page tree. `finish()` stores the
 * remaining packs and the session's index segments — after that, a manifest may name the streams.
 */
import { closeSync } from 'node:fs';
import type { CdcParams } from '../chunk/index.js';
import { abortError } from '../errors.js';
import { BufferPool } from './buffer-pool.js';
import type { ChunkIndex } from './chunk-index.js';
import type { ChunkEntry, ChunkRef } from './chunk-ref.js';
import { committedSegments, loadIndex, writeIndexSegment } from './index-store.js';
import type { RepoKeys } from './keyring.js';
import { ManifestBuilder, pagedStream, type StreamRef } from './manifest.js';
import { PackWriter } from './pack-writer.js';
import { holdersOf, listPacks, unindexedPackRefs } from './pack-trailer.js';
import type { RaicArray } from './array.js';
import { segmentRegionBytes, type FileBatchResult, type SegmentChunk, type SegmentResult } from './file-segment.js';
import { Batcher } from './batcher.js';
import { SharedRegions } from './shared-regions.js';
import { chunkKeyAndId, sealChunk, sealedBytes, type SealedChunk } from './chunk-codec.js';
import { PackReader } from './pack-reader.js';
import type { CompressionMode } from '../compress/index.js';
import { INLINE_CODEC_BYTES, packBodyBytes } from './tuning.js';

export interface SinkStats {
  /** Chunks written to streams (including duplicates). */
  chunks: number;
  /** Chunks that were new to the array. */
  newChunks: number;
  /** Plaintext bytes of the new chunks. */
  newBytes: number;
  /** Bytes uploaded in packs, summed over members. */
  storedBytes: number;
  /** Chunks of unindexed packs (left by an interrupted session) adopted at open. */
  adoptedChunks: number;
}

export interface StreamWriter {
  /** Hands one chunk (a view at offset 0 of a buffer from `sink.allocChunk()`, or any buffer with `pooled` false)
   * to the sink. Resolves when the sink has room for it (backpressure), not when it is stored. */
  write(chunk: Uint8Array, pooled?: boolean): Promise<void>;
  /** Resolves when every chunk of the stream is stored, with the stream's page tree. */
  end(): Promise<StreamRef>;
}

/** What storeFile and storeSmallFile resolve with. */
export type StoredFile = { stored: Promise<StreamRef>; bytes: number } | { error: NodeJS.ErrnoException };

/** A small file waiting for its batch (storeSmallFile). */
interface QueuedFile {
  path: string | Buffer;
  opts: { onRead?: (bytes: number) => void; signal?: AbortSignal | undefined };
  resolve: (result: StoredFile | Promise<StoredFile>) => void;
  reject: (err: unknown) => void;
}

/** Files up to this size go to the workers in batches (storeSmallFile): below it, per-file overhead dominates. */
export const SMALL_FILE_BYTES = 1024 * 1024;
/** A batch: at most this many files, and this many bytes by their lstat sizes (and at most half a segment region). */
const SMALL_BATCH_FILES = 128;
const SMALL_BATCH_BYTES = 4 * 1024 * 1024;

/** How a session's file content is packed: the memory its pack writer may use, and packs stored at once (PackWriter). */
export interface DataPacks {
  budgetBytes: number;
  packsInFlight: number;
}

/** What storing needs of a sealed chunk (the plaintext has gone back to its pool, or was never here). */
type ChunkToStore = SealedChunk;

/** A chunk waiting in storeInOrder's queue, and who waits for its entry. */
interface StoreItem {
  enc: ChunkToStore | Promise<ChunkToStore>;
  meta: boolean;
  resolve: (entry: ChunkEntry) => void;
  reject: (err: unknown) => void;
}

const oneChunkStream = (entry: ChunkEntry): StreamRef => pagedStream([entry]);

export class ChunkSink {
  readonly stats: SinkStats = { chunks: 0, newChunks: 0, newBytes: 0, storedBytes: 0, adoptedChunks: 0 };
  private readonly packs: PackWriter;
  private readonly metaPacks: PackWriter;
  private readonly chunkBuffers: BufferPool;
  private readonly sealedBuffers: BufferPool;
  private unindexed: ChunkRef[] = [];
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /**
   * Chunks handed to storeInOrder, not yet stored, oldest first; and the loop storing them (null when none runs).
   * One loop stores them one after another: dedup-check-then-append, so two identical chunks in flight are stored once.
   */
  private readonly toStore: StoreItem[] = [];
  private storing: Promise<void> | null = null;
  private failure: unknown = null;
  /** Index segments are written only once this resolves (a lock still being confirmed, see locks.ts). */
  private commitGate: Promise<void> | null = null;
  /** How chunks are compressed before they are sealed (compress/). */
  private compression: CompressionMode = 'auto';
  /** Shared regions the workers seal file segments into (storeFile); made on first use. */
  private regions: SharedRegions | null = null;
  /** Small files waiting to be read by a worker several at a time (storeSmallFile); made on first use. */
  private smallFiles: { params: CdcParams; batcher: Batcher<QueuedFile> } | null = null;

  private constructor(
    private readonly array: RaicArray,
    private readonly keys: RepoKeys,
    private readonly known: ChunkIndex,
    readonly maxChunkBytes: number,
    dataPacks: DataPacks,
  ) {
    const { k, n, tuning } = array;
    const writer = (budget: number, meta: boolean, inFlight: number): PackWriter => {
      const target = packBodyBytes({ packBudgetBytes: budget }, k, n);
      const capacity = target + sealedBytes(maxChunkBytes) + 64 * 1024;
      return new PackWriter(array.members, k, keys.index, target, capacity, array.writeQuorum, meta, (task) => array.pool.encodePack(task), inFlight);
    };
    this.packs = writer(dataPacks.budgetBytes, false, dataPacks.packsInFlight);
    this.metaPacks = writer(tuning.packBudgetBytes, true, 1);
    this.chunkBuffers = new BufferPool(maxChunkBytes);
    this.sealedBuffers = new BufferPool(sealedBytes(maxChunkBytes));
  }

  /**
   * Loads the index (for dedup) and opens a sink; chunks may be up to `maxChunkBytes`. Packs that an
   * interrupted session stored but never indexed are adopted from their trailers (and indexed by this
   * session), so the work of a killed backup is reused, not uploaded again.
   */
  static async open(
    array: RaicArray,
    keys: RepoKeys,
    maxChunkBytes: number,
    opts: { commitGate?: Promise<void>; compression?: CompressionMode; dataPacks?: DataPacks } = {},
  ): Promise<ChunkSink> {
    // Both listings at once: the index segments' is not filtered by the packs' until the refs are loaded.
    const [packs, segments] = await Promise.all([listPacks(array.members), committedSegments(array.members, array.k)]);
    // Dedup trusts an index entry only while its pack is listed, whole enough, on the write quorum: a member
    // rolled back to an old state still serves index segments and packs the others have pruned, and a new
    // snapshot must never lean on them. A ref that fails this costs storing the chunk again, nothing more.
    const known = await loadIndex(array.members, array.k, keys.index, segments, (pack) => holdersOf(packs, pack) >= array.writeQuorum);
    const indexedPacks = known.packs();
    const orphans = await unindexedPackRefs(array.members, new PackReader(array.members, array.k), packs, indexedPacks, keys.index);
    const sink = new ChunkSink(array, keys, known, maxChunkBytes, opts.dataPacks ?? { budgetBytes: array.tuning.packBudgetBytes, packsInFlight: 1 });
    sink.commitGate = opts.commitGate ?? null;
    sink.compression = opts.compression ?? 'auto';
    for (const ref of orphans) {
      const idHex = ref.id.toString('hex');
      if (!known.has(idHex)) known.set(idHex, ref);
      sink.unindexed.push(ref);
    }
    sink.stats.adoptedChunks = orphans.length;
    return sink;
  }

  /** A recycled buffer of `maxChunkBytes` for a chunker to fill. */
  allocChunk(): ArrayBuffer {
    return this.chunkBuffers.take();
  }

  /** Is this chunk id already stored (in the index or earlier in this session)? */
  has(idHex: string): boolean {
    return this.known.has(idHex);
  }

  /** A stream of file content, or (`meta`) of metadata: a tree blob. */
  openStream(meta = false): StreamWriter {
    const tree = this.pageTree();
    return {
      write: async (chunk, pooled = true) => tree.add((await this.submit(chunk, pooled, meta)).stored),
      end: () => tree.finish(),
    };
  }

  /** A stream's page tree, fed entries still being stored: they join it in the order given, each once stored. */
  private pageTree(): { add(stored: Promise<ChunkEntry>): void; finish(): Promise<StreamRef> } {
    // Most streams (a small file, a directory's tree blob) have fewer chunks than a page: their entries are the
    // stream's top level as they are, with no builder and no promise chain per stream (on 100k small files those
    // were a tenth of the main thread's garbage). The builder takes over once a page's worth has come.
    const pageEntries = this.array.tuning.manifestPageEntries;
    const first: Promise<ChunkEntry>[] = [];
    let builder: ManifestBuilder | null = null;
    let chain: Promise<void> = Promise.resolve();
    const feed = (b: ManifestBuilder, stored: Promise<ChunkEntry>): void => {
      chain = chain.then(async () => b.add(await stored));
      chain.catch(() => undefined);
    };
    return {
      add: (stored) => {
        if (builder) return feed(builder, stored);
        first.push(stored);
        if (first.length < pageEntries) return;
        const b = (builder = new ManifestBuilder(pageEntries, (page) => this.storeNow(page)));
        for (const s of first.splice(0)) feed(b, s);
      },
      finish: async () => {
        if (builder) {
          await chain;
          return builder.finish();
        }
        return pagedStream(await Promise.all(first));
      },
    };
  }

  /**
   * Stores a file's content as a stream, cut into content-defined chunks by `params`. The workers read the
   * file themselves (file-segment.ts): its bytes never pass through this thread. Resolves once the whole
   * file is read — with `stored`, for when its chunks are stored — or with the error that made the file
   * unreadable (nothing of it is referenced then; the caller names it). `onRead` counts bytes as they are read.
   */
  async storeFile(
    path: string | Buffer,
    params: CdcParams,
    opts: { onRead?: (bytes: number) => void; signal?: AbortSignal | undefined } = {},
  ): Promise<StoredFile> {
    const segmentBytes = 2 * params.maxSize;
    const regions = this.regionsFor(params);
    const tree = this.pageTree();
    let fd: number | null = null;
    let position = 0;
    for (;;) {
      let res: SegmentResult;
      const region = await regions.take();
      try {
        if (this.failure) throw this.failure;
        if (opts.signal?.aborted) throw abortError(opts.signal);
        res = await this.array.pool.sealSegment({ path, fd, position, segmentBytes, params, convergenceKey: this.keys.convergence, compression: this.compression, region });
      } catch (err) {
        regions.release(region);
        if (fd !== null) closeSync(fd);
        throw err;
      }
      if ('error' in res) {
        regions.release(region);
        return { error: Object.assign(new Error(res.error.message), { code: res.error.code }) };
      }
      fd = res.fd;
      if (res.chunks.length === 0 && !res.eof) {
        regions.release(region);
        if (fd !== null) closeSync(fd);
        throw new Error(`no chunk fitted a segment region while reading ${path.toString()}`); // a bug: regions are sized for any segment
      }
      const entries = this.storeSegmentChunks(res.chunks, region);
      void Promise.allSettled(entries).then(() => regions.release(region));
      for (const e of entries) tree.add(e);
      opts.onRead?.(res.next - position);
      position = res.next;
      if (res.eof) break;
    }
    return { stored: tree.finish(), bytes: position };
  }

  /**
   * storeFile for a small file (`size`, as lstat saw it, at most SMALL_FILE_BYTES), with the same result
   * (`read`), but the file is read, chunked and sealed by a worker together with other small files in one
   * task (see Batcher, sealFileBatch). One that grew past a segment meanwhile is stored by storeFile after
   * all. `queued` is null when the file was queued at once, else it resolves once it is (a bounded queue: the
   * caller's backpressure). Not async: on a tree of tiny files each promise per file is main-thread garbage.
   */
  queueSmallFile(path: string | Buffer, size: number, params: CdcParams, opts: { onRead?: (bytes: number) => void; signal?: AbortSignal | undefined } = {}): { read: Promise<StoredFile>; queued: Promise<void> | null } {
    if (!this.smallFiles || this.smallFiles.params !== params) {
      const workers = this.array.tuning.workers;
      const limits = { maxItems: SMALL_BATCH_FILES, maxWeight: Math.min(SMALL_BATCH_BYTES, params.maxSize), maxRunning: workers + 1, maxQueued: 2 * SMALL_BATCH_FILES * (workers + 1) };
      this.smallFiles = { params, batcher: new Batcher((batch) => this.storeFileBatch(batch, params), limits) };
    }
    const batcher = this.smallFiles.batcher;
    let file!: QueuedFile;
    const read = new Promise<StoredFile>((resolve, reject) => {
      file = { path, opts, resolve, reject };
    });
    const weight = Math.max(size, 1);
    return { read, queued: batcher.offer(file, weight) ? null : batcher.add(file, weight) };
  }

  private async storeFileBatch(files: QueuedFile[], params: CdcParams): Promise<void> {
    const regions = this.regionsFor(params);
    const region = await regions.take();
    let results: FileBatchResult;
    try {
      if (this.failure) throw this.failure;
      for (const f of files) if (f.opts.signal?.aborted) throw abortError(f.opts.signal);
      results = await this.array.pool.sealFileBatch({ paths: files.map((f) => f.path), segmentBytes: 2 * params.maxSize, params, convergenceKey: this.keys.convergence, compression: this.compression, region });
    } catch (err) {
      regions.release(region);
      for (const f of files) f.reject(err);
      return;
    }
    const stored: Promise<ChunkEntry>[] = [];
    files.forEach((f, i) => {
      const res = results[i]!;
      if ('redo' in res) return f.resolve(this.storeFile(f.path, params, f.opts));
      if ('error' in res) return f.resolve({ error: Object.assign(new Error(res.error.message), { code: res.error.code }) });
      const entries = this.storeSegmentChunks(res.chunks, region);
      stored.push(...entries);
      f.opts.onRead?.(res.bytes);
      f.resolve({ stored: this.streamOf(entries), bytes: res.bytes });
    });
    void Promise.allSettled(stored).then(() => regions.release(region));
  }

  /** The stream of a whole file's chunks, still being stored. Most small files are one chunk: then no page tree. */
  private streamOf(entries: Promise<ChunkEntry>[]): Promise<StreamRef> {
    if (entries.length === 1) return entries[0]!.then(oneChunkStream);
    const tree = this.pageTree();
    for (const e of entries) tree.add(e);
    return tree.finish();
  }

  /** The sealed chunks a worker left in `region`, queued for packing in order. */
  private storeSegmentChunks(chunks: SegmentChunk[], region: SharedArrayBuffer): Promise<ChunkEntry>[] {
    return chunks.map((c) => this.storeInOrder({ id: c.id, key: c.key, size: c.size, sealed: new Uint8Array(region, c.offset, c.length) }, false));
  }

  /** The shared regions for segments cut by `params` (made, or remade for other params, on demand). */
  private regionsFor(params: CdcParams): SharedRegions {
    const regionBytes = segmentRegionBytes(2 * params.maxSize, params);
    if (this.regions?.regionBytes !== regionBytes) this.regions = new SharedRegions(regionBytes, this.array.tuning.workers + 2);
    return this.regions;
  }

  /** Stores one whole buffer of metadata (a tree blob) as a stream, in metadata packs. */
  async storeBytes(bytes: Uint8Array): Promise<StreamRef> {
    const w = this.openStream(true);
    for (let at = 0; at < bytes.length; at += this.maxChunkBytes) await w.write(bytes.subarray(at, at + this.maxChunkBytes), false);
    return w.end();
  }

  /** Stores what is buffered and writes the session's index. Call once, after every stream has ended. */
  async finish(): Promise<void> {
    while (this.storing) await this.storing;
    if (this.failure) throw this.failure;
    await Promise.all([this.packs.finish(), this.metaPacks.finish()]);
    // Members still taking packs get their grace while the index is written (slow members: quorum-write.ts).
    const settling = Promise.all([this.packs.settle(), this.metaPacks.settle()]);
    settling.catch(() => undefined);
    await this.commitGate;
    if (this.unindexed.length > 0) await writeIndexSegment(this.array.members, this.array.k, this.keys.index, this.unindexed, this.array.writeQuorum);
    this.unindexed = [];
    await settling;
    this.stats.storedBytes = this.packs.stats.storedBytes + this.metaPacks.stats.storedBytes;
  }

  /** Resolves once the chunk is accepted (window space); `stored` resolves once it is stored. Boxed: an async
   * function would flatten the inner promise, and the caller would wait for the store (one chunk at a time). */
  private async submit(chunk: Uint8Array, pooled: boolean, meta: boolean): Promise<{ stored: Promise<ChunkEntry> }> {
    if (this.failure) throw this.failure;
    while (this.inFlight >= this.array.tuning.window) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight += 1;
    const stored = this.encodeAndStore(chunk, pooled, meta).finally(() => {
      this.inFlight -= 1;
      this.waiters.shift()?.();
    });
    stored.catch((err: unknown) => {
      this.failure ??= err;
    });
    return { stored };
  }

  /** A manifest page: metadata. */
  private async storeNow(page: Uint8Array): Promise<ChunkEntry> {
    return this.encodeAndStore(page, false, true);
  }

  private async encodeAndStore(plaintext: Uint8Array, pooled: boolean, meta: boolean): Promise<ChunkEntry> {
    if (plaintext.length <= INLINE_CODEC_BYTES) {
      // Small (tree blobs, pages, small files): on this thread, and not at all when already stored.
      const { key, id } = chunkKeyAndId(this.keys.convergence, plaintext);
      const known = this.known.getById(id);
      if (known) {
        if (pooled) this.chunkBuffers.release(plaintext.buffer);
        this.stats.chunks += 1;
        return { ...known, key };
      }
      const sealed = sealChunk({ plaintext, convergenceKey: this.keys.convergence, compression: this.compression });
      if (pooled) this.chunkBuffers.release(plaintext.buffer);
      return this.storeInOrder(sealed, meta);
    }
    const encoding = this.array.pool.seal(
      { plaintext, convergenceKey: this.keys.convergence, compression: this.compression, ...(plaintext.length <= this.maxChunkBytes ? { sealedBuffer: this.sealedBuffers.take() } : {}) },
      { movePlaintext: pooled },
    );
    const entry = await this.storeInOrder(encoding, meta);
    const enc = await encoding;
    this.sealedBuffers.release(enc.sealed.buffer);
    if (pooled) this.chunkBuffers.release(enc.plaintext.buffer);
    return entry;
  }

  /**
   * Queues a chunk (sealed, or still sealing) behind those handed in before it: sealing runs in parallel, but
   * packs receive chunks in the order they were submitted, so a stream's chunks lie in stream order and a restore
   * reads them with a few large requests. A failure fails the session.
   */
  private storeInOrder(enc: ChunkToStore | Promise<ChunkToStore>, meta: boolean): Promise<ChunkEntry> {
    const entry = new Promise<ChunkEntry>((resolve, reject) => {
      this.toStore.push({ enc, meta, resolve, reject });
    });
    // Started a microtask later: a loop that never awaits ends before an assignment after its call would be made.
    this.storing ??= Promise.resolve().then(() => this.storeQueued());
    return entry;
  }

  /**
   * Stores the queued chunks in order until none is left. It awaits only what it must (a chunk still sealing, a
   * pack writer's backpressure, an index segment): a promise chain link per chunk was a large part of the main
   * thread's garbage on a tree of tiny files.
   */
  private async storeQueued(): Promise<void> {
    for (let item = this.toStore.shift(); item; item = this.toStore.shift()) {
      try {
        const enc = item.enc instanceof Promise ? await item.enc : item.enc;
        const entry = this.store(enc, item.meta);
        item.resolve(entry instanceof Promise ? await entry : entry);
      } catch (err) {
        this.failure ??= err;
        item.reject(err);
      }
    }
    this.storing = null;
  }

  private store(enc: ChunkToStore, meta: boolean): ChunkEntry | Promise<ChunkEntry> {
    this.stats.chunks += 1;
    const known = this.known.getById(enc.id);
    if (known) return entryOf(known, enc);
    const added = (meta ? this.metaPacks : this.packs).add(enc);
    return added instanceof Promise ? added.then((ref) => this.indexNew(ref, enc)) : this.indexNew(added, enc);
  }

  /** A chunk just packed: into the index (an index segment is written once enough have gathered). */
  private indexNew(ref: ChunkRef, enc: ChunkToStore): ChunkEntry | Promise<ChunkEntry> {
    this.known.setRef(ref);
    this.unindexed.push(ref);
    this.stats.newChunks += 1;
    this.stats.newBytes += enc.size;
    if (this.unindexed.length < this.array.tuning.indexSegmentEntries) return entryOf(ref, enc);
    return this.writeIndexSegmentNow().then(() => entryOf(ref, enc));
  }

  private async writeIndexSegmentNow(): Promise<void> {
    // An index segment may only name packs that are already stored.
    await Promise.all([this.packs.finish(), this.metaPacks.finish()]);
    await this.commitGate;
    await writeIndexSegment(this.array.members, this.array.k, this.keys.index, this.unindexed, this.array.writeQuorum);
    this.unindexed = [];
  }
}

const entryOf = (ref: ChunkRef, enc: ChunkToStore): ChunkEntry => ({ ...ref, key: Buffer.from(enc.key) });
