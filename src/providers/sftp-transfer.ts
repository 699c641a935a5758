/**
 * Pipelined reads and writes on one open SFTP handle. SFTP is request/response: one request at a
 * time waits a round trip per 32–256 KiB, so throughput comes from keeping `depth` requests in flight
 * (what OpenSSH's sftp client and ssh2's fastGet/fastPut do for local files). Memory: the body itself
 * plus nothing per request, since chunks are views of it. Each request's bytes are reported to `onProgress`
 * when the server answers it; when `signal` fires no further request is sent and the transfer rejects at
 * once (the caller closes the handle, which ends the requests in flight).
 */
import type { SFTPWrapper } from 'ssh2';
import type { CallOptions } from './types.js';

export interface TransferTuning {
  /** Bytes per request. Default 64 KiB: ssh2 splits anything larger than the server's limit anyway. */
  chunk: number;
  /** Requests in flight per transfer. Default 16 (1 MiB in flight); 8–64 measured within noise here. */
  depth: number;
}

export const defaultTransferTuning: TransferTuning = { chunk: 64 * 1024, depth: 16 };

/** Writes all of `body` at offset 0. Rejects with the first error after the in-flight requests settle. */
export async function writeAll(sftp: SFTPWrapper, handle: Buffer, body: Uint8Array, opts: CallOptions = {}, tuning = defaultTransferTuning): Promise<void> {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks = Math.ceil(buf.length / tuning.chunk);
  await pool(chunks, tuning.depth, opts.signal, async (i) => {
    const at = i * tuning.chunk;
    const len = Math.min(tuning.chunk, buf.length - at);
    await new Promise<void>((resolve, reject) => sftp.write(handle, buf, at, len, at, (err) => (err ? reject(err) : resolve())));
    opts.onProgress?.(len);
  });
}

/**
 * Reads up to `length` bytes from `offset`. Stops at end of file: the result may be shorter, and is
 * empty when `offset` is at or past the end.
 */
export async function readRange(
  sftp: SFTPWrapper,
  handle: Buffer,
  offset: number,
  length: number,
  opts: CallOptions = {},
  tuning = defaultTransferTuning,
): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  const chunks = Math.ceil(length / tuning.chunk);
  const got = new Array<number>(chunks).fill(0);
  await pool(chunks, tuning.depth, opts.signal, async (i) => {
    const start = i * tuning.chunk;
    const want = Math.min(tuning.chunk, length - start);
    // A server may answer a read with fewer bytes than asked before EOF: ask again for the rest.
    while (got[i]! < want) {
      const n = await readOnce(sftp, handle, out, start + got[i]!, want - got[i]!, offset + start + got[i]!);
      if (n === 0) return;
      got[i]! += n;
      opts.onProgress?.(n);
    }
  });
  let total = 0;
  for (let i = 0; i < chunks; i++) {
    total += got[i]!;
    if (got[i]! < Math.min(tuning.chunk, length - i * tuning.chunk)) break; // EOF inside chunk i
  }
  return out.subarray(0, total);
}

function readOnce(sftp: SFTPWrapper, handle: Buffer, out: Buffer, at: number, len: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    sftp.read(handle, out, at, len, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
  );
}

/**
 * Runs task(0..count-1) with at most `depth` running; waits for all, then rethrows the first error. When
 * `signal` fires it starts no more tasks and rejects with the signal's reason without waiting.
 */
async function pool(count: number, depth: number, signal: AbortSignal | undefined, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < count && signal?.aborted !== true) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  const all = Promise.all(Array.from({ length: Math.min(depth, count) }, worker));
  if (signal === undefined) await all;
  else {
    all.catch(() => undefined);
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([all, stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }
  if (failure) throw failure.err;
}
