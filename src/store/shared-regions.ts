/**
 * SharedRegions: a fixed number of same-size SharedArrayBuffers that workers write into and the main
 * thread reads from, lent out one at a time. Shared memory crosses to a worker without a copy or a
 * transfer, and a fixed set of regions means no per-task allocation for the garbage collector to chase.
 * `take` waits while every region is lent: that is the backpressure of the pipeline, and its memory bound.
 */
export class SharedRegions {
  private readonly free: SharedArrayBuffer[] = [];
  private readonly waiters: ((region: SharedArrayBuffer) => void)[] = [];
  private created = 0;

  constructor(
    readonly regionBytes: number,
    readonly count: number,
  ) {}

  async take(): Promise<SharedArrayBuffer> {
    const region = this.free.pop();
    if (region) return region;
    if (this.created < this.count) {
      this.created += 1;
      return new SharedArrayBuffer(this.regionBytes);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(region: SharedArrayBuffer): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(region);
    else this.free.push(region);
  }
}
