/**
 * StripePool: encode/decode stripes on worker threads (one per core by default) so crypto and erasure
 * coding use every core while the main thread does I/O.
 */
import { Piscina } from 'piscina';
import type { DecodeResult, DecodeTask, EncodedStripe, EncodeTask } from './stripe-codec.js';
import type { StripeJob } from './stripe-worker.js';

export class StripePool {
  private readonly pool: Piscina;

  constructor(workers: number) {
    this.pool = new Piscina({
      filename: new URL('./stripe-worker.js', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: 60_000,
    });
  }

  /** The plaintext buffer is transferred (detached here) when it owns its ArrayBuffer. */
  encode(task: EncodeTask): Promise<EncodedStripe> {
    const job: StripeJob = { op: 'encode', task };
    return this.pool.run(job, { transferList: ownedBuffers([task.plaintext]) });
  }

  decode(task: DecodeTask): Promise<DecodeResult> {
    const job: StripeJob = { op: 'decode', task };
    return this.pool.run(job, { transferList: ownedBuffers(task.shares) });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
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
