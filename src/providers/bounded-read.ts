/**
 * Reading a member's answer without trusting its length (issue 9): what a server announces or sends never
 * decides what raic allocates. `readCapped` holds at most `limit` bytes of a response body and cancels the
 * rest (a Node stream is destroyed, a web stream cancelled: the connection closes and the server stops
 * sending); `readGetBody` is what every HTTP adapter's get does with an answer; `objectTooLarge` is the one
 * error for a whole object over MAX_OBJECT_BYTES, for the adapters that learn the size another way.
 * Both readers report each chunk to `onProgress` as it arrives, and stop when `signal` fires (a Node
 * stream is destroyed at once; a web stream is fetch's, whose own signal ends it).
 */
import { RaicError } from '../errors.js';
import { MAX_OBJECT_BYTES, type ByteRange, type CallOptions } from './types.js';

/** A response body as the SDKs hand it over: a Node Readable, a web ReadableStream, or any async iterable of bytes. */
export type ResponseBody = AsyncIterable<Uint8Array | string>;

export interface CappedBody {
  /** The first bytes of the body, at most the limit. */
  bytes: Buffer;
  /** The body went on past the limit: the rest was not read, and the stream is cancelled. */
  cut: boolean;
}

/**
 * Reads `body` until it ends or holds more than `limit` bytes. Memory: the result (≤ limit) plus the one
 * chunk that crossed the limit. A body of exactly `limit` bytes is read to its end, so an honest answer
 * leaves its connection reusable; only bytes beyond the limit cut it.
 */
export async function readCapped(body: ResponseBody | null | undefined, limit: number, opts: CallOptions = {}): Promise<CappedBody> {
  const parts: Buffer[] = [];
  let held = 0;
  let cut = false;
  if (body) {
    const { signal, onProgress } = opts;
    const stream = body as { destroy?: (err?: Error) => void };
    const onAbort = () => stream.destroy?.(signal?.reason instanceof Error ? signal.reason : new Error('cancelled'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Leaving the loop early (break or throw) ends the iteration, which destroys a Node stream and cancels a
      // web stream; cancel() below says so explicitly for any other iterable.
      for await (const chunk of body) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        onProgress?.(bytes.length);
        if (held + bytes.length > limit) {
          parts.push(bytes.subarray(0, limit - held));
          held = limit;
          cut = true;
          break;
        }
        parts.push(bytes);
        held += bytes.length;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (cut) await cancel(body);
  }
  return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, held), cut };
}

/** Stops a body unread (an answer refused on its headers). Never rejects. */
export async function cancel(body: ResponseBody | null | undefined): Promise<void> {
  if (!body) return;
  const stream = body as { destroy?: () => void; cancel?: () => Promise<void>; locked?: boolean };
  try {
    if (typeof stream.destroy === 'function') stream.destroy();
    else if (typeof stream.cancel === 'function' && stream.locked !== true) await stream.cancel();
  } catch {
    // already closed or errored: nothing left to stop
  }
}

/** The error for a whole object larger than any raic writes; `announced` is the size the member gave, if any. */
export function objectTooLarge(displayUrl: string, key: string, announced?: number): RaicError {
  const size = announced === undefined ? 'more than that' : `${announced} bytes`;
  return new RaicError(
    'Integrity',
    `${displayUrl}: get ${key}: refused: raic writes no object over ${MAX_OBJECT_BYTES} bytes, this member's copy is ${size}`,
    { hint: 'this member serves an object raic did not write; raic check names the damage and raic repair replaces it' },
  );
}

/** A Content-Length as a number of bytes; undefined when absent or not a plain decimal. */
export function declaredLength(value: string | number | null | undefined): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  return value != null && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

export interface GetAnswer {
  body: ResponseBody | null | undefined;
  /** The server answered 206, i.e. with the range asked for; otherwise the body starts at byte 0. */
  partial: boolean;
  /** Its Content-Length, if it gave one. */
  length?: string | number | null | undefined;
}

/**
 * The bytes of an HTTP get's answer, bounded. A ranged get holds at most `range.length` bytes (or, from a
 * server that ignored Range and sent the whole object, the first offset + length bytes, of which the range
 * is returned). A whole get refuses an announced length over MAX_OBJECT_BYTES before reading, and a body
 * that runs past it once it does: `Integrity`, naming the member and key.
 */
export async function readGetBody(answer: GetAnswer, displayUrl: string, key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
  if (range !== undefined) {
    const skip = answer.partial ? 0 : range.offset;
    const { bytes } = await readCapped(answer.body, skip + range.length, opts);
    // A copy, so a server that sent the whole object does not keep offset bytes alive behind the range.
    return skip === 0 ? bytes : Buffer.from(bytes.subarray(skip));
  }
  const announced = declaredLength(answer.length);
  if (announced !== undefined && announced > MAX_OBJECT_BYTES) {
    await cancel(answer.body);
    throw objectTooLarge(displayUrl, key, announced);
  }
  const { bytes, cut } = await readCapped(answer.body, MAX_OBJECT_BYTES, opts);
  if (cut) throw objectTooLarge(displayUrl, key);
  return bytes;
}
