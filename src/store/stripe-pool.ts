/**
 * StripePool: encode/decode stripes on worker threads (one per core by default) so crypto and erasure
 * coding use every core while the main thread does I/O.
 */
import { Piscina } from 'piscina';
import type { SegmentResult, SegmentTask } from './file-segment.js';
import type { DecodeResult, DecodeTask, EncodedStripe, EncodeTask, RebuildTask } from './stripe-codec.js';
import type { StripeJob } from './stripe-worker.js';

export class StripePool {
  private readonly pool: Piscina;

  constructor(workers: number) {
    this.pool = new Piscina({
      filename: new URL('./stripe-worker-entry.cjs', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: 60_000,
    });
  }

  /**
   * `task.stripeBuffer` is moved to the worker and comes back as the result's stripe. With `movePlaintext`
   * the plaintext's whole ArrayBuffer is moved too (the caller must not touch it until it comes back as
   * `result.plaintext`); otherwise it is copied.
   */
  encode(task: EncodeTask, opts: { movePlaintext?: boolean } = {}): Promise<EncodedStripe> {
    const job: StripeJob = { op: 'encode', task: { ...task, convergenceKey: compact(task.convergenceKey), plaintext: opts.movePlaintext ? task.plaintext : compact(task.plaintext) } };
    const transferList = [task.stripeBuffer, opts.movePlaintext ? task.plaintext.buffer : undefined].filter(isArrayBuffer);
    return this.pool.run(job, { transferList });
  }

  /** Reads, chunks and encodes the next segment of a file on a worker (see file-segment.ts). */
  encodeSegment(task: SegmentTask): Promise<SegmentResult> {
    const job: StripeJob = { op: 'segment', task };
    return this.pool.run(job);
  }

  /** Shares that alone own their ArrayBuffer, and the scratch buffers, are moved to the worker. */
  decode(task: DecodeTask): Promise<DecodeResult> {
    const owned = ownedBuffers(task.shares);
    const job: StripeJob = { op: 'decode', task: { ...task, shares: compactShares(task.shares, owned), hashes: compact(task.hashes), key: compact(task.key) } };
    return this.pool.run(job, { transferList: [...owned, task.stripeBuffer, task.plaintextBuffer].filter(isArrayBuffer) });
  }

  /** All n shares of a stripe from any k valid ones (see rebuildStripe). */
  rebuild(task: RebuildTask): Promise<{ stripe: Uint8Array } | { badShares: number[] }> {
    const owned = ownedBuffers(task.shares);
    const job: StripeJob = { op: 'rebuild', task: { ...task, shares: compactShares(task.shares, owned), hashes: compact(task.hashes) } };
    return this.pool.run(job, { transferList: owned });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

const isArrayBuffer = (b: unknown): b is ArrayBuffer => b instanceof ArrayBuffer;

/**
 * The view itself if it spans its whole buffer, else a copy of just its bytes. Posting a view to a worker
 * serialises its entire ArrayBuffer: a 32-byte key or a chunk's hashes cut from a 1 MB manifest page or
 * index segment would copy the page with every task (measured: most of a restore's main-thread time).
 */
function compact(view: Uint8Array): Uint8Array {
  // new Uint8Array(view) copies; Buffer#slice would not (it is subarray for Buffers).
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : new Uint8Array(view);
}

/** Shares to post: those whose buffer is moved as they are, the others compacted. */
function compactShares(shares: readonly (Uint8Array | null)[], moved: readonly ArrayBuffer[]): (Uint8Array | null)[] {
  return shares.map((s) => (s === null || moved.includes(s.buffer as ArrayBuffer) ? s : compact(s)));
}

/** Buffers that alone own their ArrayBuffer can be moved to a worker instead of copied. */
function ownedBuffers(views: readonly (Uint8Array | null)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  for (const v of views) {
    if (!v || seen.has(v.buffer)) continue;
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && v.buffer instanceof ArrayBuffer) {
      seen.add(v.buffer);
      out.push(v.buffer);
    }
  }
  return out;
}
