/**
 * Fixed-size chunking for `raic put`: cuts a byte stream into chunks of exactly `size` bytes (the last
 * one shorter). Each chunk owns its ArrayBuffer, so it can be moved to a worker thread without a copy.
 */
export async function* fixedChunks(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let chunk = Buffer.allocUnsafeSlow(size);
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
        chunk = Buffer.allocUnsafeSlow(size);
        used = 0;
      }
    }
  }
  if (used > 0) {
    const last = Buffer.allocUnsafeSlow(used);
    chunk.copy(last, 0, 0, used);
    yield last;
  }
}
