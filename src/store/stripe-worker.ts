/** Worker-thread entry for the stripe pool: runs encode/decode off the main thread, moving buffers back. */
import { Piscina } from 'piscina';
import { decodeStripe, encodeStripe, type DecodeTask, type EncodeTask } from './stripe-codec.js';

export type StripeJob = { op: 'encode'; task: EncodeTask } | { op: 'decode'; task: DecodeTask };

export default async function runStripeJob(job: StripeJob): Promise<unknown> {
  if (job.op === 'encode') {
    const out = await encodeStripe(job.task);
    return transferable(out, [out.stripe.buffer as ArrayBuffer]);
  }
  const out = await decodeStripe(job.task);
  return 'plaintext' in out ? transferable(out, [out.plaintext.buffer as ArrayBuffer]) : out;
}

function transferable<T extends object>(value: T, buffers: ArrayBuffer[]): unknown {
  return Piscina.move({
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  } as never);
}
