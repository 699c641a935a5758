/**
 * A bounded FIFO between one producer and one consumer: push waits while full, shift waits while empty.
 * Lets restore read chunks ahead (across files) while writing them in order.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly takers: ((v: IteratorResult<T>) => void)[] = [];
  private readonly space: (() => void)[] = [];
  private closed = false;

  constructor(private readonly capacity: number) {}

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity) await new Promise<void>((r) => this.space.push(r));
    const taker = this.takers.shift();
    if (taker) taker({ value: item, done: false });
    else this.items.push(item);
  }

  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t({ value: undefined, done: true });
  }

  async shift(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.space.shift()?.();
      return { value: item, done: false };
    }
    if (this.closed) return { value: undefined, done: true };
    return new Promise((r) => this.takers.push(r));
  }
}
