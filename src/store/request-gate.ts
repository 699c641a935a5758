/**
 * RequestGate: at most `limit()` requests at once (the limit may change between requests); the others wait
 * in arrival order. A waiter whose signal fires leaves the queue and rejects `Cancelled`, having used nothing.
 */
import { RaicError } from '../errors.js';

export class RequestGate {
  private running = 0;
  private readonly queue: { go: () => void }[] = [];

  constructor(private readonly limit: () => number) {}

  /** Waits for a slot; resolves with the function that gives it back (further calls do nothing). */
  async enter(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw cancelled(signal);
    if (this.queue.length === 0 && this.running < Math.max(1, this.limit())) this.running += 1;
    else {
      // The slot is taken for the waiter when it is handed over (pump), so none is promised twice.
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          go: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          const i = this.queue.indexOf(waiter);
          if (i < 0) return; // already handed a slot: the caller gives it back
          this.queue.splice(i, 1);
          reject(cancelled(signal!));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.queue.push(waiter);
      });
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running -= 1;
      this.pump();
    };
  }

  /** Requests running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.queue.length };
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running < Math.max(1, this.limit())) {
      this.running += 1;
      this.queue.shift()!.go();
    }
  }
}

function cancelled(signal: AbortSignal): RaicError {
  return new RaicError('Cancelled', 'request cancelled while waiting for its turn', { cause: signal.reason });
}
