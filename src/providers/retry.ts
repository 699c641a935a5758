/**
 * `withRetry(provider)`: the one place raic waits and tries again. Each attempt gets a deadline
 * (scaled for the bytes it moves); an attempt that fails `Transient` (or misses its deadline) is
 * retried after an exponential backoff with full jitter. `NotFound`, `Auth`, `Permanent`, `Exists`,
 * `Integrity` and every other code are never retried: asking again cannot change the answer.
 *
 * The Provider interface carries no AbortSignal, so a deadline is a race: the late attempt is
 * abandoned, not cancelled; adapters bound it with their own socket timeouts. Because an abandoned
 * or failed put may still have landed, a retried create-once put that meets `Exists` reads the
 * object back and counts it a success when the bytes are the ones being written.
 */
import { RaicError, isRaicError } from '../errors.js';
import { MAX_OBJECT_BYTES, type ByteRange, type ObjectInfo, type Provider, type ProviderCapabilities } from './types.js';

export interface RetryEvent {
  op: string;
  /** The key (or list prefix) of the call. */
  key: string;
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** How long the wrapper now waits before the next attempt. */
  delayMs: number;
  error: RaicError;
}

export interface RetryPolicy {
  /** Attempts per call, the first included. Default 4: with the default backoff a call gives up
   * after at most 0.1 + 0.2 + 0.4 s of waiting plus four deadlines, quick enough for hedged reads
   * to move to another member, patient enough to ride out a dropped connection or a 503. */
  attempts: number;
  /** Backoff before retry n is uniformly random in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]
   * ("full jitter": many clients retrying at once spread out). Default 100 ms. */
  baseDelayMs: number;
  /** Cap of the backoff window. Default 2 s: longer waits belong to the layers above. */
  maxDelayMs: number;
  /** Deadline of one attempt that moves no bulk data (head, delete, a list page, prepare), and the
   * fixed part of every deadline. Default 30 s: far above any healthy round trip, even on a slow WAN. */
  timeoutMs: number;
  /** The slowest throughput still considered alive: an attempt moving B bytes gets
   * timeoutMs + B / minBytesPerSecond seconds. Default 1 MiB/s (a 32 MiB pack: 62 s). */
  minBytesPerSecond: number;
  /** Size assumed for a whole-object get, whose size is unknown beforehand. Default MAX_OBJECT_BYTES
   * (64 MiB, the most a whole get returns), i.e. a 94 s deadline with the other defaults. */
  assumedObjectBytes: number;
  /** Stops retrying (and waiting) when aborted: the call rejects `Cancelled`. */
  signal?: AbortSignal;
  /** Called before each wait: the hook for logging or counting retries (providers never log). */
  onRetry?: (event: RetryEvent) => void;
  /** Source of jitter in [0, 1). Default Math.random; tests inject a fixed one. */
  random: () => number;
  /** How to wait. Default setTimeout; tests inject one that records and returns at once. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const MiB = 1024 * 1024;

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  timeoutMs: 30_000,
  minBytesPerSecond: 1 * MiB,
  assumedObjectBytes: MAX_OBJECT_BYTES,
  random: Math.random,
  sleep: sleepFor,
};

/** Rejects `Transient` if `work` has not settled within `ms`; the late result is ignored. */
function withDeadline<T>(work: Promise<T>, ms: number, what: () => string): Promise<T> {
  work.catch(() => undefined); // an abandoned attempt must not surface as an unhandled rejection
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RaicError('Transient', `${what()}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

class RetryingProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;

  constructor(
    private readonly inner: Provider,
    private readonly policy: RetryPolicy,
  ) {
    this.displayUrl = inner.displayUrl;
    this.capabilities = inner.capabilities;
  }

  private subject(op: string, key: string): string {
    return `${this.displayUrl}: ${op}${key === '' ? '' : ` ${key}`}`;
  }

  private deadlineFor(bytes: number): number {
    return Math.ceil(this.policy.timeoutMs + (bytes / this.policy.minBytesPerSecond) * 1000);
  }

  private cancelled(op: string, key: string): RaicError {
    return new RaicError('Cancelled', `${this.subject(op, key)}: cancelled`, { cause: this.policy.signal?.reason });
  }

  /** The backoff before the attempt after `failed` (1-based), with full jitter. */
  private backoff(failed: number): number {
    const window = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (failed - 1));
    return Math.floor(this.policy.random() * window);
  }

  /** Decides after a failed attempt: returns to retry (after waiting), throws to give up. */
  private async afterFailure(err: unknown, attempt: number, op: string, key: string): Promise<void> {
    if (!isRaicError(err, 'Transient')) throw err;
    if (this.policy.signal?.aborted) throw this.cancelled(op, key);
    if (attempt >= this.policy.attempts) {
      throw attempt === 1
        ? err
        : new RaicError('Transient', `${err.message} (gave up after ${attempt} attempts)`, {
            cause: err,
            ...(err.hint === undefined ? {} : { hint: err.hint }),
          });
    }
    const delayMs = this.backoff(attempt);
    this.policy.onRetry?.({ op, key, attempt, delayMs, error: err });
    try {
      await this.policy.sleep(delayMs, this.policy.signal);
    } catch {
      throw this.cancelled(op, key);
    }
  }

  private async call<T>(op: string, key: string, bytes: number, fn: () => Promise<T>): Promise<T> {
    const what = () => this.subject(op, key);
    for (let attempt = 1; ; attempt++) {
      if (this.policy.signal?.aborted) throw this.cancelled(op, key);
      try {
        return await withDeadline(fn(), this.deadlineFor(bytes), what);
      } catch (err) {
        await this.afterFailure(err, attempt, op, key);
      }
    }
  }

  prepare(): Promise<void> {
    return this.call('prepare', '', 0, () => this.inner.prepare());
  }

  put(key: string, body: Uint8Array): Promise<void> {
    let retrying = false; // from the second attempt on, an earlier (failed or late) one may have landed
    return this.call('put', key, body.byteLength, async () => {
      const earlierMayHaveLanded = retrying;
      retrying = true;
      try {
        await this.inner.put(key, body);
      } catch (err) {
        if (earlierMayHaveLanded && isRaicError(err, 'Exists') && (await this.holds(key, body))) return;
        throw err;
      }
    });
  }

  /** True when `key` already holds exactly `body` (a previous attempt of this put landed). */
  private async holds(key: string, body: Uint8Array): Promise<boolean> {
    try {
      return sameBytes(body, await this.inner.get(key));
    } catch {
      return false;
    }
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    const bytes = range === undefined ? this.policy.assumedObjectBytes : range.length;
    return this.call('get', key, bytes, () => this.inner.get(key, range));
  }

  head(key: string): Promise<ObjectInfo> {
    return this.call('head', key, 0, () => this.inner.head(key));
  }

  delete(key: string): Promise<void> {
    return this.call('delete', key, 0, () => this.inner.delete(key));
  }

  /**
   * A failed listing restarts from the beginning and skips keys already yielded, so the caller
   * sees each key once. Costs one remembered key per object listed (callers hold them anyway).
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    const what = () => this.subject('list', prefix);
    for (let attempt = 1; ; attempt++) {
      if (this.policy.signal?.aborted) throw this.cancelled('list', prefix);
      const it = this.inner.list(prefix)[Symbol.asyncIterator]();
      let failure: unknown;
      let finished = false;
      try {
        for (;;) {
          let step: IteratorResult<ObjectInfo>;
          try {
            step = await withDeadline(it.next(), this.deadlineFor(0), what);
          } catch (err) {
            failure = err;
            break;
          }
          if (step.done === true) {
            finished = true;
            return;
          }
          if (seen.has(step.value.key)) continue;
          seen.add(step.value.key);
          yield step.value;
        }
      } finally {
        // Failed, timed out, or the caller stopped early: release the inner listing (without waiting on it).
        if (!finished) void Promise.resolve(it.return?.()).catch(() => undefined);
      }
      await this.afterFailure(failure, attempt, 'list', prefix);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Wraps `provider` with deadlines and retries; `policy` overrides the documented defaults. */
export function withRetry(provider: Provider, policy: Partial<RetryPolicy> = {}): Provider {
  const merged: RetryPolicy = { ...defaultRetryPolicy };
  for (const [k, v] of Object.entries(policy)) if (v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
  return new RetryingProvider(provider, merged);
}
