/**
 * What the adapters share to honour `CallOptions` (types.ts): the `Cancelled` error of a call stopped by
 * its signal, and put bodies that report bytes as the connection takes them. A body is handed over in
 * PUT_CHUNK slices of the caller's buffer (views, not copies), pulled by the HTTP client only as its
 * socket drains, so what is reported is what left raic, give or take the socket's buffers. Once the call's
 * signal fires the body errors instead of handing over more (some clients would drain it to the end).
 */
import { Readable } from 'node:stream';
import { RaicError } from '../errors.js';
import type { CallOptions } from './types.js';

/** Bytes per slice of a put body. */
const PUT_CHUNK = 64 * 1024;

/** The error of a call stopped by its signal; `where` names the member, the operation and the key. */
export function cancelledError(where: string, signal: AbortSignal | undefined): RaicError {
  return new RaicError('Cancelled', `${where}: cancelled`, { cause: signal?.reason });
}

/** Rejects `Cancelled` if `signal` has fired: for adapters that check between steps. */
export function throwIfCancelled(signal: AbortSignal | undefined, where: () => string): void {
  if (signal?.aborted) throw cancelledError(where(), signal);
}

/** `body` as a Node stream of slices; `onProgress` hears each slice as the consumer reads it. */
export function countingReadable(body: Uint8Array, opts: CallOptions = {}): Readable {
  const { signal, onProgress } = opts;
  let at = 0;
  return new Readable({
    highWaterMark: PUT_CHUNK,
    read() {
      if (signal?.aborted) return void this.destroy(reasonOf(signal));
      if (at >= body.byteLength) return void this.push(null);
      const end = Math.min(at + PUT_CHUNK, body.byteLength);
      const slice = Buffer.from(body.buffer, body.byteOffset + at, end - at);
      at = end;
      this.push(slice);
      onProgress?.(slice.length);
    },
  });
}

/** `body` as a web stream of slices, for fetch (with `duplex: 'half'`); same reporting. */
export function countingWebStream(body: Uint8Array, opts: CallOptions = {}): ReadableStream<Uint8Array> {
  const { signal, onProgress } = opts;
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (signal?.aborted) return controller.error(reasonOf(signal));
        if (at >= body.byteLength) return controller.close();
        const end = Math.min(at + PUT_CHUNK, body.byteLength);
        const slice = new Uint8Array(body.buffer, body.byteOffset + at, end - at);
        at = end;
        controller.enqueue(slice);
        onProgress?.(slice.byteLength);
      },
    },
    { highWaterMark: 0 },
  );
}

function reasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('cancelled');
}
