/**
 * LinkEstimate: what one member's link was measured to do in one direction (gets or puts) — a latency and a
 * throughput, each an exponentially weighted average of completed transfers — and so how long a request of a
 * given size should take on it alone. Latency alone ranks a member on a thin link (normal round trips, few
 * bytes per second) as fast; a request's time is latency + bytes / throughput.
 *
 * One transfer gives one time for both: a small one (≤ LATENCY_SAMPLE_BYTES) is taken as pure latency, a
 * larger one as latency (the current estimate) plus the bytes at the throughput it implies. The throughput is
 * the link's, not one request's: a transfer that shared the link with others (begin() counts them) moved its
 * bytes at its share of it. Per request, three requests side by side on a fast link looked no faster than one
 * alone on a link a third as fast, and a restore kept reading a data member 6× slower than the others
 * (judged 2× slower: not worth decoding around).
 */

/** Transfers up to this size measure latency: on any real link their bytes take well under a round trip. */
export const LATENCY_SAMPLE_BYTES = 64 * 1024;
/** Weight of a new sample: a member's estimate follows a change of its link within a few transfers. */
const WEIGHT = 0.3;

export class LinkEstimate {
  /** ms; null until a small transfer was seen. */
  latencyMs: number | null = null;
  /** bytes per ms; null until a large transfer was seen. */
  bytesPerMs: number | null = null;

  /** Transfers under way, and their count integrated over time (transfer-ms) up to `changedAt`. */
  private active = 0;
  private activeMs = 0;
  private changedAt = 0;

  /**
   * A transfer starts at `now` (ms, a monotonic clock). Call the returned function when it ends: it gives how
   * many transfers were under way on the link on average meanwhile, this one included (observe's `sharing`).
   */
  begin(now: number): (end: number) => number {
    this.advance(now);
    this.active += 1;
    const since = this.activeMs;
    return (end) => {
      this.advance(end);
      this.active -= 1;
      return end > now ? Math.max(1, (this.activeMs - since) / (end - now)) : 1;
    };
  }

  private advance(now: number): void {
    if (now > this.changedAt) {
      this.activeMs += this.active * (now - this.changedAt);
      this.changedAt = now;
    }
  }

  /**
   * A transfer of `bytes` that took `ms` (a cancelled one: the bytes it had moved by then, a lower bound),
   * sharing the link with `sharing` transfers on average (itself included).
   */
  observe(bytes: number, ms: number, sharing = 1): void {
    if (bytes <= LATENCY_SAMPLE_BYTES) {
      this.latencyMs = this.latencyMs === null ? ms : (1 - WEIGHT) * this.latencyMs + WEIGHT * ms;
      return;
    }
    // The latency share is at most half the transfer's time: a stale, high latency must not make a
    // transfer look infinitely fast.
    const moving = Math.max(ms - (this.latencyMs ?? 0), ms / 2, 0.1);
    const rate = (bytes * sharing) / moving;
    this.bytesPerMs = this.bytesPerMs === null ? rate : (1 - WEIGHT) * this.bytesPerMs + WEIGHT * rate;
  }

  /** Expected ms for a request of `bytes`; null while nothing about it is known. */
  expectedMs(bytes: number): number | null {
    if (this.latencyMs === null && this.bytesPerMs === null) return null;
    const transfer = bytes > LATENCY_SAMPLE_BYTES && this.bytesPerMs !== null ? bytes / this.bytesPerMs : 0;
    return (this.latencyMs ?? 0) + transfer;
  }
}
