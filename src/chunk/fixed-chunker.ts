/**
 * Fixed-size chunking for `raic put`: cuts a byte stream into chunks of exactly `size` bytes (the last
 * one shorter). Each chunk is a view at offset 0 of its own ArrayBuffer (from `alloc`, which must return
 * at least `size` bytes), so it can be moved to a worker thread without a copy and recycled after.
 */
export async function* fixedChunks(
  source: AsyncIterable<Uint8Array>,
  size: number,
  alloc: () => ArrayBuffer = () => new ArrayBuffer(size),
): AsyncGenerator<Buffer> {
  const fresh = (): Buffer => Buffer.from(alloc(), 0, size);
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
