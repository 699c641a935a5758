/**
 * CodecPool: seal and open chunks, read-chunk-seal file segments and erasure-code packs, on worker threads
 * (one per core by default) so compression, crypto and erasure coding use every core while the main thread
 * does I/O.
 */
import { Piscina } from 'piscina';
import { RaicError } from '../errors.js';
import type { FileBatchResult, FileBatchTask, SegmentResult, SegmentTask } from './file-segment.js';
import type { OpenBatchResult, OpenBatchTask, OpenTask, SealResult, SealTask } from './chunk-codec.js';
import type { CodecJob } from './codec-worker.js';
import type { EncodePackResult, EncodePackTask } from './pack-encoder.js';

export class CodecPool {
  private readonly pool: Piscina;

  constructor(workers: number) {
    this.pool = new Piscina({
      filename: new URL('./codec-worker-entry.cjs', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: 60_000,
      // Workers keep little on their JS heap (their buffers are off-heap); V8's default young generation
      // (up to 3 × 16 MiB per thread) only let garbage pile up between scavenges: ~20 MB of peak RSS each.
      resourceLimits: { maxYoungGenerationSizeMb: 6 },
      // A large file's descriptor is opened by the worker reading its first segment and may be read and closed by
      // another (file-segment.ts). Node's per-worker tracking of descriptors then made the closing worker print a
      // warning to stderr (seen under load: a failed backup's one-line error came out as four lines), and would
      // close, when the opening worker exits, a descriptor it no longer owns.
      trackUnmanagedFds: false,
    });
  }

  /**
   * `task.sealedBuffer` is moved to the worker and comes back as the result's sealed bytes. With
   * `movePlaintext` the plaintext's whole ArrayBuffer is moved too (the caller must not touch it until it comes
   * back as `result.plaintext`); otherwise it is copied.
   */
  seal(task: SealTask, opts: { movePlaintext?: boolean } = {}): Promise<SealResult> {
    const job: CodecJob = { op: 'seal', task: { ...task, convergenceKey: compact(task.convergenceKey), plaintext: opts.movePlaintext ? task.plaintext : compact(task.plaintext) } };
    const transferList = [task.sealedBuffer, opts.movePlaintext ? task.plaintext.buffer : undefined].filter(isArrayBuffer);
    return this.pool.run(job, { transferList });
  }

  /** Reads, chunks and seals the next segment of a file on a worker (see file-segment.ts). */
  sealSegment(task: SegmentTask): Promise<SegmentResult> {
    const job: CodecJob = { op: 'segment', task };
    return this.pool.run(job);
  }

  /** Reads, chunks and seals several small whole files on one worker, one message for all (see file-segment.ts). */
  sealFileBatch(task: FileBatchTask): Promise<FileBatchResult> {
    const job: CodecJob = { op: 'batch', task };
    return this.pool.run(job);
  }

  /**
   * The chunk's plaintext (rejects Integrity like openChunk). The plaintext buffer is moved to the worker. With
   * `moveSealed` the sealed bytes are the caller's to give away: their buffer is moved too, not copied (the
   * caller must not touch it again), when the view spans it whole.
   */
  async open(task: OpenTask, opts: { moveSealed?: boolean } = {}): Promise<Uint8Array> {
    const sealed = compact(task.sealed);
    const job: CodecJob = { op: 'open', task: { ...task, sealed, key: compact(task.key) } };
    // A copy made here (a chunk cut from a larger read) is ours as well: moved, not copied once more.
    const move = sealed !== task.sealed || opts.moveSealed === true;
    const transferList = [task.plaintextBuffer, move ? sealed.buffer : undefined].filter(isArrayBuffer);
    const out = (await this.pool.run(job, { transferList })) as { plaintext: Uint8Array } | { integrity: string };
    if ('integrity' in out) throw new RaicError('Integrity', out.integrity);
    return out.plaintext;
  }

  /**
   * Several chunks of one buffer opened in one task (see openChunkBatch). The task's buffers are moved to the
   * worker: the caller gives `task.sealed` away (its whole ArrayBuffer, which must be the caller's alone).
   */
  openBatch(task: OpenBatchTask): Promise<OpenBatchResult> {
    const job: CodecJob = { op: 'openBatch', task };
    return this.pool.run(job, { transferList: openBatchTransfers(task) });
  }

  /** Erasure-codes a pack body on a worker (see pack-encoder.ts). The body's and the spare memory's ArrayBuffers
   * are moved there (the caller must not touch them) and the body comes back in the result. */
  encodePack(task: EncodePackTask): Promise<EncodePackResult> {
    const job: CodecJob = { op: 'encodePack', task };
    return this.pool.run(job, { transferList: [task.body.buffer, ...task.spare].filter(isArrayBuffer) });
  }

  /**
   * Runs `task` on the same threads through another task module (a higher layer's work that belongs off the
   * main thread, e.g. restore's file writes): `entry` is the URL of a CommonJS file exporting one function.
   * Buffers in `transferList` are moved to the worker, not copied (the caller must not touch them again).
   */
  runModule<R>(entry: URL, task: unknown, transferList: ArrayBuffer[] = []): Promise<R> {
    return this.pool.run(task, { filename: entry.href, transferList });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

const isArrayBuffer = (b: unknown): b is ArrayBuffer => b instanceof ArrayBuffer;

/** The buffers an open-batch task moves to its worker (all of its own). */
export const openBatchTransfers = (task: OpenBatchTask): ArrayBuffer[] => [...new Set([task.sealed.buffer, task.spans.buffer, task.keys.buffer, task.sizes.buffer])].filter(isArrayBuffer);

/**
 * The view itself if it spans its whole buffer, else a copy of just its bytes. Posting a view to a worker
 * serialises its entire ArrayBuffer: a 32-byte key cut from a 1 MB manifest page or a chunk cut from a
 * coalesced ranged read (ChunkFetcher) would copy the whole buffer with every task.
 */
function compact(view: Uint8Array): Uint8Array {
  // new Uint8Array(view) copies; Buffer#slice would not (it is subarray for Buffers).
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : new Uint8Array(view);
}
