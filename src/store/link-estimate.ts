/**
 * LinkEstimate: what one member's link was measured to do in one direction (gets or puts) — a latency and a
 * throughput, each an exponentially weighted average of completed transfers — and so how long a request of a
 * given size should take. Latency alone ranks a member on a thin link (normal round trips, few bytes per
 * second) as fast; a request's time is latency + bytes / throughput.
 *
 * One transfer gives one time for both: a small one (≤ LATENCY_SAMPLE_BYTES) is taken as pure latency, a
 * larger one as latency (the current estimate) plus the bytes at the throughput it implies.
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

  /** A transfer of `bytes` that took `ms` (a cancelled one: the bytes it had moved by then, a lower bound). */
  observe(bytes: number, ms: number): void {
    if (bytes <= LATENCY_SAMPLE_BYTES) {
      this.latencyMs = this.latencyMs === null ? ms : (1 - WEIGHT) * this.latencyMs + WEIGHT * ms;
      return;
    }
    // The latency share is at most half the transfer's time: a stale, high latency must not make a
    // transfer look infinitely fast.
    const moving = Math.max(ms - (this.latencyMs ?? 0), ms / 2, 0.1);
    const rate = bytes / moving;
    this.bytesPerMs = this.bytesPerMs === null ? rate : (1 - WEIGHT) * this.bytesPerMs + WEIGHT * rate;
  }

  /** Expected ms for a request of `bytes`; null while nothing about it is known. */
  expectedMs(bytes: number): number | null {
    if (this.latencyMs === null && this.bytesPerMs === null) return null;
    const transfer = bytes > LATENCY_SAMPLE_BYTES && this.bytesPerMs !== null ? bytes / this.bytesPerMs : 0;
    return (this.latencyMs ?? 0) + transfer;
  }
}
