/**
 * Batcher: gathers small requests into batches, each run by one call, at most `maxRunning` batches at a
 * time. While every slot is busy, requests pile up into the next batch (up to `maxItems` items and
 * `maxWeight` in weight), so batches grow exactly when the runner is the bottleneck and stay small (low
 * latency) when it is not. At most `maxQueued` items wait (and, when given, at most `maxQueuedWeight` of weight,
 * for items that hold their weight in memory): `add` resolves once its item is queued, so a producer that awaits
 * it cannot run arbitrarily far ahead.
 */
export class Batcher<T> {
  private readonly queue: { item: T; weight: number }[] = [];
  private queuedWeight = 0;
  private running = 0;
  private flushPending = false;
  private readonly room: (() => void)[] = [];

  constructor(
    private readonly run: (batch: T[]) => Promise<void>,
    private readonly limits: { maxItems: number; maxWeight: number; maxRunning: number; maxQueued: number; maxQueuedWeight?: number },
  ) {}

  /** Queues `item` once there is room; `run` sees it in a batch soon: at the end of this turn of the event loop if a slot is free. */
  async add(item: T, weight: number): Promise<void> {
    while (!this.offer(item, weight)) await new Promise<void>((r) => this.room.push(r));
  }

  /**
   * add without the wait: queues `item` and returns true when there is room now, else returns false (queuing
   * nothing). A producer of many small items calls this first, and add only when it fails: no promise per item.
   */
  offer(item: T, weight: number): boolean {
    if (this.queue.length >= this.limits.maxQueued || (this.queue.length > 0 && this.queuedWeight + weight > (this.limits.maxQueuedWeight ?? Infinity))) return false;
    this.queue.push({ item, weight });
    this.queuedWeight += weight;
    if (this.flushPending) return true;
    // Let the rest of this turn join the batch first.
    this.flushPending = true;
    setImmediate(() => {
      this.flushPending = false;
      this.startBatches();
    });
    return true;
  }

  private startBatches(): void {
    while (this.running < this.limits.maxRunning && this.queue.length > 0) {
      let take = 0;
      let weight = 0;
      while (take < this.queue.length && take < this.limits.maxItems && (take === 0 || weight + this.queue[take]!.weight <= this.limits.maxWeight)) {
        weight += this.queue[take]!.weight;
        take += 1;
      }
      const batch = this.queue.splice(0, take).map((q) => q.item);
      this.queuedWeight -= weight;
      // Everyone waiting tries again (a weight bound may let several in, or none).
      for (const wake of this.room.splice(0)) wake();
      this.running += 1;
      const done = (): void => {
        this.running -= 1;
        this.startBatches();
      };
      this.run(batch).then(done, done); // `run` reports its own failures to the batch's callers
    }
  }
}
