/**
 * BufferPool: recycles same-size ArrayBuffers that travel main thread → worker → main thread, so a
 * put or get allocates a fixed set of large buffers up front instead of one per chunk. Without it, V8
 * frees the external memory of dropped buffers only at its next GC, and peak RSS grows with throughput.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(readonly capacity: number, private readonly maxFree = 64) {}

  take(): ArrayBuffer {
    return this.free.pop() ?? new ArrayBuffer(this.capacity);
  }

  /** Returns a buffer for reuse; buffers of another size (or detached ones) are dropped. */
  release(buffer: ArrayBufferLike | undefined): void {
    if (buffer instanceof ArrayBuffer && buffer.byteLength === this.capacity && this.free.length < this.maxFree) this.free.push(buffer);
  }
}
