/** Worker-thread entry for the stripe pool: runs encode/decode off the main thread, moving buffers back. */
import { Piscina } from 'piscina';
import { encodeFileSegment, type SegmentTask } from './file-segment.js';
import { decodeStripe, encodeStripe, rebuildStripe, type DecodeTask, type EncodeTask, type RebuildTask } from './stripe-codec.js';

export type StripeJob =
  | { op: 'encode'; task: EncodeTask }
  | { op: 'decode'; task: DecodeTask }
  | { op: 'rebuild'; task: RebuildTask }
  | { op: 'segment'; task: SegmentTask };

export default async function runStripeJob(job: StripeJob): Promise<unknown> {
  if (job.op === 'encode') {
    const out = await encodeStripe(job.task);
    return transferable(out, [out.stripe.buffer, out.plaintext.buffer]);
  }
  if (job.op === 'segment') return encodeFileSegment(job.task); // results live in shared memory: nothing to move
  if (job.op === 'rebuild') {
    const out = await rebuildStripe(job.task);
    return 'stripe' in out ? transferable(out, [out.stripe.buffer]) : out;
  }
  const out = await decodeStripe(job.task);
  if (!('plaintext' in out)) return out;
  // A stripe built in a fresh buffer (no pooled scratch given) is garbage: sending it back would only add
  // external memory for the main thread's collector to chase.
  if (!job.task.stripeBuffer) return transferable({ ...out, stripe: new Uint8Array(0) }, [out.plaintext.buffer]);
  return transferable(out, [out.plaintext.buffer, out.stripe.buffer]);
}

/** Moves the distinct, whole ArrayBuffers behind `views` back to the main thread instead of copying. */
function transferable<T extends object>(value: T, views: ArrayBufferLike[]): unknown {
  const buffers = [...new Set(views)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
  return Piscina.move({
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  } as never);
}
