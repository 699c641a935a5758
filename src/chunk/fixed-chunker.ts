/**
 * Fixed-size chunking for `raic put`: cuts a byte stream into chunks of exactly `size` bytes (the last
 * one shorter). Each chunk is a view at offset 0 of its own ArrayBuffer (from `alloc`, which must return
 * at least `size` bytes), so it can be moved to a worker thread without a copy and recycled after.
 */

/**
 * A source that reads straight into the chunk it fills (a regular file). A stream hands over a new buffer per
 * read, which is then copied into the chunk: for a 1 GiB put, 1 GiB of buffers the main thread allocated, copied
 * and collected (the garbage collector ran on every few MB of them).
 */
export interface ReadIntoSource {
  /** Reads up to `into.length` bytes into `into`; resolves with how many, 0 at the end. */
  readInto(into: Uint8Array): Promise<number>;
}

/** What `fixedChunks` cuts: pieces from a stream (stdin), or a source that reads into the chunk (a file). */
export type ByteSource = AsyncIterable<Uint8Array> | ReadIntoSource;

export async function* fixedChunks(
  source: ByteSource,
  size: number,
  alloc: () => ArrayBuffer = () => new ArrayBuffer(size),
): AsyncGenerator<Buffer> {
  const fresh = (): Buffer => Buffer.from(alloc(), 0, size);
  if ('readInto' in source) {
    yield* readIntoChunks(source, size, fresh);
    return;
  }
  let chunk = fresh();
  let used = 0;
  for await (const piece of source) {
    let at = 0;
    while (at < piece.length) {
      const take = Math.min(size - used, piece.length - at);
      chunk.set(piece.subarray(at, at + take), used);
      used += take;
      at += take;
      if (used === size) {
        yield chunk;
        chunk = fresh();
        used = 0;
      }
    }
  }
  if (used > 0) yield chunk.subarray(0, used);
}

async function* readIntoChunks(source: ReadIntoSource, size: number, fresh: () => Buffer): AsyncGenerator<Buffer> {
  for (;;) {
    const chunk = fresh();
    let used = 0;
    while (used < size) {
      const got = await source.readInto(chunk.subarray(used, size));
      if (got === 0) break;
      used += got;
    }
    if (used === size) {
      yield chunk;
      continue;
    }
    if (used > 0) yield chunk.subarray(0, used);
    return;
  }
}
