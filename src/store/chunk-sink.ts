/**
 * ChunkSink: the write side of a session (one put or one backup). Callers open streams and write
 * chunks; the sink encodes them on the worker pool (a bounded window of chunks in flight across all
 * streams, so small files still keep every core busy), deduplicates against the index and the
 * session, appends new stripes to packs, and builds each stream's page tree. `finish()` stores the
 * remaining packs and the session's index segments — after that, a manifest may name the streams.
 */
import { AEAD_OVERHEAD } from '../crypto/index.js';
import { shardLength } from '../erasure/index.js';
import { BufferPool } from './buffer-pool.js';
import type { ChunkEntry, ChunkRef } from './chunk-ref.js';
import { loadIndex, writeIndexSegment } from './index-store.js';
import type { RepoKeys } from './keyring.js';
import { ManifestBuilder, type StreamRef } from './manifest.js';
import { PackWriter } from './pack-writer.js';
import { listPacks, unindexedPackRefs } from './pack-trailer.js';
import type { RaicArray } from './array.js';
import type { EncodedStripe } from './stripe-codec.js';
import { packTargetBytes } from './tuning.js';

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

export class ChunkSink {
  readonly stats: SinkStats = { chunks: 0, newChunks: 0, newBytes: 0, storedBytes: 0, adoptedChunks: 0 };
  private readonly packs: PackWriter;
  private readonly chunkBuffers: BufferPool;
  private readonly stripeBuffers: BufferPool;
  private unindexed: ChunkRef[] = [];
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /** Serialises dedup-check-then-append so two identical chunks in flight are stored once. */
  private storing: Promise<unknown> = Promise.resolve();
  private failure: unknown = null;

  private constructor(
    private readonly array: RaicArray,
    private readonly keys: RepoKeys,
    private readonly known: Map<string, ChunkRef>,
    readonly maxChunkBytes: number,
  ) {
    const { k, n, tuning } = array;
    const target = packTargetBytes(tuning, n);
    this.packs = new PackWriter(array.members, keys.index, target, target + Math.ceil((maxChunkBytes + 64) / k) + 64 * 1024, array.writeQuorum);
    this.chunkBuffers = new BufferPool(maxChunkBytes);
    this.stripeBuffers = new BufferPool(n * shardLength(maxChunkBytes + AEAD_OVERHEAD, k));
  }

  /**
   * Loads the index (for dedup) and opens a sink; chunks may be up to `maxChunkBytes`. Packs that an
   * interrupted session stored but never indexed are adopted from their trailers (and indexed by this
   * session), so the work of a killed backup is reused, not uploaded again.
   */
  static async open(array: RaicArray, keys: RepoKeys, maxChunkBytes: number): Promise<ChunkSink> {
    const known = await loadIndex(array.members, keys.index);
    const indexedPacks = new Set([...known.values()].map((r) => r.pack.toString('hex')));
    const orphans = await unindexedPackRefs(array.members, await listPacks(array.members), indexedPacks, keys.index);
    const sink = new ChunkSink(array, keys, known, maxChunkBytes);
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

  openStream(): StreamWriter {
    const builder = new ManifestBuilder(this.array.n, this.array.tuning.manifestPageEntries, (page) => this.storeNow(page));
    // Entries join the page tree in stream order, each as soon as it is stored.
    let chain: Promise<void> = Promise.resolve();
    return {
      write: async (chunk, pooled = true) => {
        const { stored } = await this.submit(chunk, pooled);
        chain = chain.then(async () => builder.add(await stored));
        chain.catch(() => undefined);
      },
      end: async () => {
        await chain;
        return builder.finish();
      },
    };
  }

  /** Stores one whole buffer as a stream (tree blobs, small metadata). */
  async storeBytes(bytes: Uint8Array): Promise<StreamRef> {
    const w = this.openStream();
    for (let at = 0; at < bytes.length; at += this.maxChunkBytes) await w.write(bytes.subarray(at, at + this.maxChunkBytes), false);
    return w.end();
  }

  /** Stores what is buffered and writes the session's index. Call once, after every stream has ended. */
  async finish(): Promise<void> {
    await this.storing;
    if (this.failure) throw this.failure;
    await this.packs.finish();
    if (this.unindexed.length > 0) await writeIndexSegment(this.array.members, this.keys.index, this.unindexed, this.array.writeQuorum);
    this.unindexed = [];
    this.stats.storedBytes = this.packs.stats.storedBytes;
  }

  /** Resolves once the chunk is accepted (window space); `stored` resolves once it is stored. Boxed: an async
   * function would flatten the inner promise, and the caller would wait for the store (one chunk at a time). */
  private async submit(chunk: Uint8Array, pooled: boolean): Promise<{ stored: Promise<ChunkEntry> }> {
    if (this.failure) throw this.failure;
    while (this.inFlight >= this.array.tuning.window) await new Promise<void>((r) => this.waiters.push(r));
    this.inFlight += 1;
    const stored = this.encodeAndStore(chunk, pooled).finally(() => {
      this.inFlight -= 1;
      this.waiters.shift()?.();
    });
    stored.catch((err: unknown) => {
      this.failure ??= err;
    });
    return { stored };
  }

  private async storeNow(page: Uint8Array): Promise<ChunkEntry> {
    return this.encodeAndStore(page, false);
  }

  private async encodeAndStore(plaintext: Uint8Array, pooled: boolean): Promise<ChunkEntry> {
    const { k, n } = this.array;
    const enc = await this.array.pool.encode(
      { plaintext, convergenceKey: this.keys.convergence, k, n, ...(plaintext.length <= this.maxChunkBytes ? { stripeBuffer: this.stripeBuffers.take() } : {}) },
      { movePlaintext: pooled },
    );
    const run = this.storing.then(() => this.store(enc));
    this.storing = run.catch(() => undefined);
    const entry = await run;
    this.stripeBuffers.release(enc.stripe.buffer);
    if (pooled) this.chunkBuffers.release(enc.plaintext.buffer);
    return entry;
  }

  private async store(enc: EncodedStripe): Promise<ChunkEntry> {
    this.stats.chunks += 1;
    const idHex = Buffer.from(enc.id).toString('hex');
    let ref = this.known.get(idHex);
    if (!ref) {
      ref = await this.packs.add(enc);
      this.known.set(idHex, ref);
      this.unindexed.push(ref);
      this.stats.newChunks += 1;
      this.stats.newBytes += enc.size;
      if (this.unindexed.length >= this.array.tuning.indexSegmentEntries) {
        // An index segment may only name packs that are already stored.
        await this.packs.finish();
        await writeIndexSegment(this.array.members, this.keys.index, this.unindexed, this.array.writeQuorum);
        this.unindexed = [];
      }
    }
    return { ...ref, key: Buffer.from(enc.key) };
  }
}
