/**
 * ChunkReader: a chunk's plaintext from wherever its sealed bytes are now. A healthy read fetches the bytes
 * from the member whose data share holds them (PackReader.readRange) and opens them; when that member is
 * down or its bytes do not authenticate, the range is rebuilt from k members whose bytes match the pack's
 * table, so any n − k members may be lost or corrupt.
 *
 * A chunk of a pack that prune repacked is found through the pack's forwarding record (forwarding.ts,
 * newest generation first, each fetched once per reader): it names the chunk's new pack and offset. prune
 * keeps every live chunk one record away from where any entry names it; chains left by older versions or an
 * interrupted prune are followed. The chunk's own AEAD tag stays the judge of the bytes, wherever they were read.
 */
import { RaicError, integrityAsValue } from '../errors.js';
import { BufferPool } from './buffer-pool.js';
import type { ChunkEntry } from './chunk-ref.js';
import { KEY_BYTES } from '../crypto/index.js';
import { openChunk, type OpenBatchResult, type OpenBatchTask } from './chunk-codec.js';
import { openBatchTransfers, type CodecPool } from './codec-pool.js';
import { ForwardTable, forwardGenerations } from './forwarding.js';
import { FORWARD_PREFIX, packKey } from './layout.js';
import type { Members } from './members.js';
import { PackReader, type ReadProblem } from './pack-reader.js';
import { INLINE_CODEC_BYTES } from './tuning.js';

/** Moves followed for one chunk before giving up (prune never builds loops; a bound keeps a bug finite). */
const MAX_FORWARD_HOPS = 64;

/**
 * Who puts a batch's opened chunks in place on the worker that opens them (ChunkFetcher.place): `module` is run
 * through CodecPool.runModule with a PlaceBatchTask and answers a PlaceBatchResult; `context` goes with every
 * task. A higher layer's (restore writes its small files so): the store only carries the targets.
 */
export interface BatchPlacer {
  module: URL;
  context: unknown;
}

/** openBatch's task with, per chunk, where to put it (null: nowhere, only opened) and whether to keep its plaintext. */
export interface PlaceBatchTask extends OpenBatchTask {
  targets: (unknown[] | null)[];
  /** Per chunk, 0 when placing it is all anyone asked for: its plaintext does not come back (openChunkBatch's keep). */
  keep: Uint8Array;
  context: unknown;
}

/** openBatch's result with, per chunk, the placer's answer per target (null: not placed). */
export interface PlaceBatchResult extends OpenBatchResult {
  placed: (unknown[] | null)[];
}

/**
 * Per chunk its plaintext, why it did not open, or null (opened and placed, its plaintext not kept); per chunk
 * the placer's answers (null without a placer).
 */
export interface OpenedBatch {
  opened: (Uint8Array | RaicError | null)[];
  placed: (unknown[] | null)[] | null;
}

/** A chunk for openBatch: its entry and where its sealed bytes lie in the batch's buffer. */
export interface SealedSpan {
  entry: ChunkEntry;
  from: number;
  to: number;
}

export class ChunkReader {
  readonly packs: PackReader;
  /** Recycled plaintext buffers (see BufferPool); chunks larger than their capacity get fresh ones. */
  private readonly plaintexts: BufferPool;
  private readonly forwards: ForwardTable;
  private forwardListing: Promise<Map<string, number[]>> | null = null;
  /** The listing once it is in. */
  private forwardsListed: Map<string, number[]> | null = null;
  private longest = 0;
  /** The buffers openBatch's plaintexts share: recycle() leaves them alone (their other views are in use). */
  private readonly batchBuffers = new WeakSet<ArrayBufferLike>();

  /**
   * @param maxChunkBytes   capacity of the recycled plaintext buffers (0: none)
   * @param keptPlaintexts  how many such buffers are kept for reuse at most (see BufferPool)
   */
  constructor(
    private readonly members: Members,
    /** The pool, or how to get it: a reader made before the KDF has run must not start the threads yet. */
    private readonly codecs: CodecPool | (() => CodecPool),
    k: number,
    maxChunkBytes = 0,
    keptPlaintexts?: number,
  ) {
    this.packs = new PackReader(members, k);
    this.plaintexts = new BufferPool(maxChunkBytes, keptPlaintexts);
    this.forwards = new ForwardTable(members);
  }

  private get pool(): CodecPool {
    return typeof this.codecs === 'function' ? this.codecs() : this.codecs;
  }

  /** Every problem met while reading (for reporting). */
  get problems(): ReadProblem[] {
    return this.packs.problems;
  }

  /**
   * Where the entry's bytes are now: the entry itself, or — when some member lists a forwarding record for
   * its pack and the record names the chunk — the entry at its new pack and offset (moves chained). Whether
   * the old pack is still there is not asked: a member rolled back to before the move still holds it, and
   * one member's word must not decide where a chunk lives. Rejects like ForwardTable.lookup.
   */
  async locate(entry: ChunkEntry): Promise<ChunkEntry> {
    const listed = await this.listedForwards();
    let at: ChunkEntry = entry;
    let hops = 0;
    for (; hops < MAX_FORWARD_HOPS; hops++) {
      const packHex = at.pack.toString('hex');
      const generations = listed.get(packHex);
      if (!generations) break;
      const next = await this.forwards.lookup(packHex, generations, entry);
      if (!next) break;
      at = { ...at, pack: next.pack, offset: next.offset, length: next.length };
    }
    this.longest = Math.max(this.longest, hops);
    return at;
  }

  /**
   * Whether locate() would answer the entry itself without waiting: the forwarding listing is in and lists no
   * record for the entry's pack (false: call locate). A ChunkFetcher's plan asks so first: an async locate per
   * chunk cost a promise and a closure each on the main thread.
   */
  unmoved(entry: ChunkEntry): boolean {
    const listed = this.forwardsListed;
    return listed !== null && (listed.size === 0 || !listed.has(entry.pack.toString('hex')));
  }

  /** The most forwarding records one chunk's location took in this reader (0: no chunk had moved). */
  get longestForwardChain(): number {
    return this.longest;
  }

  /** Object keys of the forwarding records this reader followed (checks verify them on every member). */
  forwardRecordKeys(): string[] {
    return this.forwards.keys();
  }

  /** Gives back the buffer of a plaintext returned by read() once the caller is done with it. */
  recycle(plaintext: Uint8Array): void {
    if (this.batchBuffers.has(plaintext.buffer)) return;
    this.plaintexts.release(plaintext.buffer);
  }

  /** The chunk's plaintext. Its buffer may be recycled: call recycle() when done, or keep it. */
  async read(entry: ChunkEntry): Promise<Uint8Array> {
    const at = await this.locate(entry);
    const object = packKey(at.pack.toString('hex'));
    if (entry.meta) this.members.keepWhole(object);
    const healthy = await this.packs.readRange(object, at.pack, at.offset, at.length);
    const opened = await integrityAsValue(this.openSealed(entry, healthy));
    if (!(opened instanceof RaicError)) return opened;
    // The data share's bytes were wrong: the rebuild checks every member's bytes against the table and records
    // which one lied.
    return this.openRebuilt(entry, await this.packs.rebuildRange(object, at.pack, at.offset, at.length));
  }

  /**
   * The chunk's plaintext from sealed bytes read where locate() put it (rejects Integrity when they do not
   * authenticate). Its buffer may be recycled, as read()'s. With `moveSealed` the sealed bytes are the
   * caller's to give away (see CodecPool.open).
   */
  async openSealed(entry: ChunkEntry, sealed: Uint8Array, opts: { moveSealed?: boolean } = {}): Promise<Uint8Array> {
    // Metadata (tree blobs, manifest pages) too, whatever its size: a walk reads a directory's listing and waits
    // for it, and the first ones are read while the threads are still starting (an early walk waited ~100 ms for
    // a 600-entry listing); one is opened in well under a millisecond per 100 KB.
    if (entry.size <= INLINE_CODEC_BYTES || entry.meta) return openChunk({ sealed, key: entry.key, size: entry.size });
    // Pooled max-size scratch only for large chunks: moving 10 MB of buffers to a worker for a 100 KB chunk
    // makes V8 count it as fresh external memory each time, and collect garbage far too often.
    const fits = this.pooled(entry);
    return this.pool.open({ sealed, key: entry.key, size: entry.size, ...(fits ? { plaintextBuffer: this.plaintexts.take() } : {}) }, opts);
  }

  /** Whether the chunk is opened into a recycled buffer (large ones); smaller ones are best opened in batches. */
  pooled(entry: ChunkEntry): boolean {
    return entry.size <= this.plaintexts.capacity && entry.size >= this.plaintexts.capacity / 4;
  }

  /**
   * Chunks cut from one buffer (a request's neighbouring chunks), opened in one worker task: per chunk its
   * plaintext (views of one buffer: not to be moved; recycle() leaves it) or the Integrity error it failed with.
   * With `moveBytes` the buffer is the caller's to give away, moved when `bytes` spans it whole; otherwise the
   * spanned bytes are copied. A lone chunk small enough is opened here, as openSealed does — unless it is to be
   * placed: with `place`, the task runs the placer's module instead, which also puts each chunk that opened
   * where its targets say, on that worker (`placed`: per chunk, the module's answer per target, or null when
   * the chunk had none or did not open).
   */
  async openBatch(bytes: Uint8Array, spans: readonly SealedSpan[], opts: { moveBytes?: boolean; place?: { placer: BatchPlacer; targets: (unknown[] | null)[]; keep: Uint8Array } } = {}): Promise<OpenedBatch> {
    const integrity = (err: unknown): RaicError => {
      if (err instanceof RaicError && err.code === 'Integrity') return err;
      throw err;
    };
    const lone = spans.length === 1 ? spans[0]! : null;
    if (lone && lone.entry.size <= INLINE_CODEC_BYTES && !opts.place) {
      try {
        return { opened: [openChunk({ sealed: bytes.subarray(lone.from, lone.to), key: lone.entry.key, size: lone.entry.size })], placed: null };
      } catch (err) {
        return { opened: [integrity(err)], placed: null };
      }
    }
    const movable = opts.moveBytes === true && bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const base = movable ? 0 : Math.min(...spans.map((s) => s.from));
    // A copy of just the spanned bytes (Uint8Array's slice copies; a Buffer's would not).
    const sealed = movable ? bytes : Uint8Array.prototype.slice.call(bytes, base, Math.max(...spans.map((s) => s.to)));
    const keys = new Uint8Array(KEY_BYTES * spans.length);
    const sizes = new Uint32Array(spans.length);
    const at = new Uint32Array(2 * spans.length);
    spans.forEach((s, i) => {
      keys.set(s.entry.key, KEY_BYTES * i);
      sizes[i] = s.entry.size;
      at[2 * i] = s.from - base;
      at[2 * i + 1] = s.to - base;
    });
    const task: OpenBatchTask = { sealed, spans: at, keys, sizes };
    const out: OpenBatchResult & { placed?: (unknown[] | null)[] } = opts.place
      ? await this.pool.runModule<PlaceBatchResult>(opts.place.placer.module, { ...task, targets: opts.place.targets, keep: opts.place.keep, context: opts.place.placer.context } satisfies PlaceBatchTask, openBatchTransfers(task))
      : await this.pool.openBatch(task);
    this.batchBuffers.add(out.plaintext.buffer);
    let offset = 0;
    const keep = opts.place?.keep;
    const opened = spans.map((s, i) => {
      const kept = !keep || keep[i] === 1;
      const plaintext = kept ? out.plaintext.subarray(offset, (offset += s.entry.size)) : null;
      const failed = out.integrity[i];
      return failed ? new RaicError('Integrity', failed) : plaintext;
    });
    return { opened, placed: out.placed ?? null };
  }

  /** The chunk's plaintext from bytes rebuilt from members that match its pack's table: the last word on it. */
  async openRebuilt(entry: ChunkEntry, sealed: Uint8Array): Promise<Uint8Array> {
    const opened = await integrityAsValue(this.openSealed(entry, sealed));
    if (!(opened instanceof RaicError)) return opened;
    throw new RaicError('Integrity', `chunk ${entry.id.toString('hex').slice(0, 16)} does not authenticate, even rebuilt from members that match its pack's table`, {
      hint: 'the pack was written damaged or its reference is wrong; run raic check --read-data',
    });
  }

  /** The chunk's plaintext rebuilt from k members (its healthy read failed elsewhere, e.g. in a ChunkFetcher request). */
  async readRebuilt(entry: ChunkEntry): Promise<Uint8Array> {
    const at = await this.locate(entry);
    return this.openRebuilt(entry, await this.packs.rebuildRange(packKey(at.pack.toString('hex')), at.pack, at.offset, at.length));
  }

  /** Starts the forwarding listing (one round trip) before the first read needs it. */
  listForwardsNow(): void {
    void this.listedForwards();
  }

  /**
   * Packs that some member lists a forwarding record for, with the generations listed (listed once per
   * reader). A member that cannot be listed is left out: the others' records still count, and reading must
   * not need every member.
   */
  private listedForwards(): Promise<Map<string, number[]>> {
    this.forwardListing ??= Promise.all(
      this.members.up().map(async (slot) => {
        const keys: string[] = [];
        try {
          await this.members.call(slot.index, async (p) => {
            for await (const o of p.list(FORWARD_PREFIX)) keys.push(o.key);
          });
        } catch {
          // unreachable or refusing: counted by members.call; the others' listings decide
        }
        return keys;
      }),
    ).then((lists) => (this.forwardsListed = forwardGenerations(lists.flat())));
    return this.forwardListing;
  }

  /**
   * Starts agreeing on the table of the pack `entry` names, if the forwarding listing is in and moves no chunk
   * out of that pack (so the chunk is there): a ChunkFetcher does so as chunks are asked for, and finds the
   * table agreed when it plans their window (one round trip less per pack). Otherwise nothing: the plan agrees
   * on the table of wherever the chunk is. False while the listing is not in yet (ask again later).
   */
  prefetchTable(entry: ChunkEntry): boolean {
    if (!this.forwardsListed) return false;
    const packHex = entry.pack.toString('hex');
    if (!this.forwardsListed.has(packHex)) this.packs.table(packKey(packHex), entry.pack).catch(() => undefined); // read (and reported) again when used
    return true;
  }
}
