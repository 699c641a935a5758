/**
 * `withRetry(provider)`: the one place raic waits and tries again. An attempt that fails `Transient` (or
 * misses its deadline) is retried after an exponential backoff with full jitter. `NotFound`, `Auth`,
 * `Permanent`, `Exists`, `Integrity` and every other code are never retried: asking again cannot change
 * the answer.
 *
 * Deadlines follow progress (issue 11): on a provider that reports it (`capabilities.reportsProgress`), an
 * attempt that moves a body fails only when no byte moved for `idleMs`, or at a ceiling sized for a link
 * far slower than any real one; a slow but moving upload on a saturated uplink is never cut. On a provider
 * that does not, an attempt gets `timeoutMs` plus its bytes at `minBytesPerSecond`. Calls without a body
 * (head, delete, a list page, prepare) get `timeoutMs`.
 *
 * Every attempt runs under its own AbortSignal, linked to the policy's and the caller's: an attempt that
 * missed its deadline is cancelled (its signal fires, so the adapter closes its socket or handle) before
 * the wrapper waits and starts the next one, so late attempts do not keep pushing bytes onto the link the
 * retry needs. A cancelled put may still have landed: a retried create-once put that meets `Exists` reads
 * the object back and counts it a success when the bytes are the ones being written.
 */
import { sameBytes } from '../bytes.js';
import { RaicError, isRaicError } from '../errors.js';
import { MAX_OBJECT_BYTES, type ByteRange, type CallOptions, type ObjectInfo, type Provider, type ProviderCapabilities } from './types.js';

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
   * fixed part of every size-scaled deadline. Default 30 s: far above any healthy round trip, even on a slow WAN. */
  timeoutMs: number;
  /** On a provider that reports progress, an attempt moving a body fails once no byte moved for this long
   * (the wait for the first byte and for the answer after the last included). Default 30 s. */
  idleMs: number;
  /** The ceiling of such an attempt, however steadily it moves: timeoutMs + B / slowestBytesPerSecond.
   * Default 8 KiB/s (a 36 MiB member object: 77 min): a backstop against a member trickling bytes
   * forever, never a speed limit on a real link. */
  slowestBytesPerSecond: number;
  /** On a provider that does not report progress, the slowest throughput still considered alive: an
   * attempt moving B bytes gets timeoutMs + B / minBytesPerSecond. Default 1 MiB/s (a 32 MiB pack: 62 s). */
  minBytesPerSecond: number;
  /** Size assumed for a whole-object get, whose size is unknown beforehand. Default MAX_OBJECT_BYTES
   * (64 MiB, the most a whole get returns). */
  assumedObjectBytes: number;
  /** Stops retrying (and waiting), and cancels the attempt in flight, when aborted: the call rejects `Cancelled`. */
  signal?: AbortSignal;
  /** Called before each wait: the hook for logging or counting retries (providers never log). */
  onRetry?: (event: RetryEvent) => void;
  /** Source of jitter in [0, 1). Default Math.random; tests inject a fixed one. */
  random: () => number;
  /** How to wait. Default setTimeout; tests inject one that records and returns at once. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The clock deadlines are measured on. Default Date.now; tests inject a manual one with `setTimer`. */
  now: () => number;
  /** Calls `fire` after `ms`; returns a function that cancels it. Default setTimeout (cleared as soon as
   * the attempt settles). */
  setTimer: (ms: number, fire: () => void) => () => void;
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

function timerFor(ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms);
  return () => clearTimeout(timer);
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  timeoutMs: 30_000,
  idleMs: 30_000,
  slowestBytesPerSecond: 8 * 1024,
  minBytesPerSecond: 1 * MiB,
  assumedObjectBytes: MAX_OBJECT_BYTES,
  random: Math.random,
  sleep: sleepFor,
  now: Date.now,
  setTimer: timerFor,
};

/** How long one attempt may take: a fixed total, or until it stops moving (and at most a ceiling). */
type DeadlineRule = { fixedMs: number } | { idleMs: number; ceilingMs: number };

/**
 * Watches one attempt and calls `expire` (once) with the reason when its rule says it is late. Progress
 * only records a time; the timer re-arms itself when it fires, so a chatty body costs no timer churn.
 */
class Deadline {
  private readonly start: number;
  private last: number;
  private cancelTimer: (() => void) | undefined;
  private done = false;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly rule: DeadlineRule,
    private readonly expire: (why: string) => void,
  ) {
    this.start = policy.now();
    this.last = this.start;
    this.arm();
  }

  moved(): void {
    this.last = this.policy.now();
  }

  stop(): void {
    this.done = true;
    this.cancelTimer?.();
  }

  private arm(): void {
    if (this.done) return;
    const now = this.policy.now();
    const rule = this.rule;
    if ('fixedMs' in rule) {
      const left = this.start + rule.fixedMs - now;
      if (left <= 0) return this.fail(`no answer within ${rule.fixedMs} ms`);
      this.cancelTimer = this.policy.setTimer(left, () => this.arm());
      return;
    }
    if (now - this.last >= rule.idleMs) return this.fail(`no bytes moved for ${rule.idleMs} ms`);
    if (now - this.start >= rule.ceilingMs) return this.fail(`not done within ${rule.ceilingMs} ms, though still moving`);
    const next = Math.min(this.last + rule.idleMs, this.start + rule.ceilingMs);
    this.cancelTimer = this.policy.setTimer(Math.max(1, next - now), () => this.arm());
  }

  private fail(why: string): void {
    this.done = true;
    this.expire(why);
  }
}

/**
 * One attempt's AbortController, aborted when any of `outer` aborts (reason: `cancelled()`) or when the
 * attempt misses its deadline (reason: the Transient error). `stopped` rejects with the reason.
 */
class AttemptControl {
  readonly controller = new AbortController();
  readonly stopped: Promise<never>;
  private readonly unlink: (() => void)[] = [];

  constructor(outer: (AbortSignal | undefined)[], cancelled: () => RaicError) {
    // Registered before the attempt starts, so the wrapper's own rejection is always seen first.
    this.stopped = new Promise<never>((_, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true });
    });
    this.stopped.catch(() => undefined);
    for (const s of outer) {
      if (s === undefined) continue;
      if (s.aborted) {
        this.controller.abort(cancelled());
        continue;
      }
      const onAbort = () => this.controller.abort(cancelled());
      s.addEventListener('abort', onAbort, { once: true });
      this.unlink.push(() => s.removeEventListener('abort', onAbort));
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: RaicError): void {
    this.controller.abort(reason);
  }

  release(): void {
    for (const u of this.unlink) u();
  }
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

  /** The rule for an attempt moving `bytes` of body (0: none). */
  private ruleFor(bytes: number): DeadlineRule {
    const p = this.policy;
    if (bytes === 0) return { fixedMs: p.timeoutMs };
    if (this.inner.capabilities.reportsProgress === true) {
      return { idleMs: p.idleMs, ceilingMs: Math.ceil(p.timeoutMs + (bytes / p.slowestBytesPerSecond) * 1000) };
    }
    return { fixedMs: Math.ceil(p.timeoutMs + (bytes / p.minBytesPerSecond) * 1000) };
  }

  private cancelled(op: string, key: string, signal?: AbortSignal): RaicError {
    const reason: unknown = signal?.aborted ? signal.reason : this.policy.signal?.reason;
    return new RaicError('Cancelled', `${this.subject(op, key)}: cancelled`, { cause: reason });
  }

  private aborted(callerSignal?: AbortSignal): boolean {
    return this.policy.signal?.aborted === true || callerSignal?.aborted === true;
  }

  /** The backoff before the attempt after `failed` (1-based), with full jitter. */
  private backoff(failed: number): number {
    const window = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (failed - 1));
    return Math.floor(this.policy.random() * window);
  }

  /** Decides after a failed attempt: returns to retry (after waiting), throws to give up. */
  private async afterFailure(err: unknown, attempt: number, op: string, key: string, callerSignal?: AbortSignal): Promise<void> {
    if (this.aborted(callerSignal)) throw this.cancelled(op, key, callerSignal);
    if (!isRaicError(err, 'Transient')) throw err;
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
    const control = new AttemptControl([this.policy.signal, callerSignal], () => this.cancelled(op, key, callerSignal));
    try {
      await this.policy.sleep(delayMs, control.signal);
    } catch {
      throw this.cancelled(op, key, callerSignal);
    } finally {
      control.release();
    }
  }

  /**
   * Runs `fn` as one attempt: under its own signal, with a deadline by `bytes`. A late attempt is aborted
   * (its signal fires) and this rejects `Transient` at once, without waiting for the adapter to let go.
   */
  private async attempt<T>(op: string, key: string, bytes: number, caller: CallOptions, fn: (opts: CallOptions) => Promise<T>): Promise<T> {
    const control = new AttemptControl([this.policy.signal, caller.signal], () => this.cancelled(op, key, caller.signal));
    const deadline = new Deadline(this.policy, this.ruleFor(bytes), (why) =>
      control.abort(new RaicError('Transient', `${this.subject(op, key)}: ${why}`)),
    );
    const opts: CallOptions = {
      signal: control.signal,
      onProgress: (n) => {
        deadline.moved();
        caller.onProgress?.(n);
      },
    };
    try {
      let work: Promise<T>;
      try {
        work = fn(opts);
      } catch (err) {
        work = Promise.reject(err);
      }
      work.catch(() => undefined); // a cancelled attempt's own rejection is not the call's answer
      return await Promise.race([work, control.stopped]);
    } finally {
      deadline.stop();
      control.release();
    }
  }

  private async call<T>(op: string, key: string, bytes: number, caller: CallOptions, fn: (opts: CallOptions) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.aborted(caller.signal)) throw this.cancelled(op, key, caller.signal);
      try {
        return await this.attempt(op, key, bytes, caller, fn);
      } catch (err) {
        await this.afterFailure(err, attempt, op, key, caller.signal);
      }
    }
  }

  prepare(): Promise<void> {
    return this.call('prepare', '', 0, {}, () => this.inner.prepare());
  }

  put(key: string, body: Uint8Array, caller: CallOptions = {}): Promise<void> {
    let retrying = false; // from the second attempt on, an earlier (failed or cancelled) one may have landed
    return this.call('put', key, body.byteLength, caller, async (opts) => {
      const earlierMayHaveLanded = retrying;
      retrying = true;
      try {
        await this.inner.put(key, body, opts);
      } catch (err) {
        if (earlierMayHaveLanded && isRaicError(err, 'Exists') && (await this.holds(key, body, opts))) return;
        throw err;
      }
    });
  }

  /** True when `key` already holds exactly `body` (a previous attempt of this put landed). */
  private async holds(key: string, body: Uint8Array, opts: CallOptions): Promise<boolean> {
    try {
      return sameBytes(body, await this.inner.get(key, undefined, opts));
    } catch {
      return false;
    }
  }

  get(key: string, range?: ByteRange, caller: CallOptions = {}): Promise<Buffer> {
    const bytes = range === undefined ? this.policy.assumedObjectBytes : range.length;
    return this.call('get', key, bytes, caller, (opts) => this.inner.get(key, range, opts));
  }

  head(key: string, caller: CallOptions = {}): Promise<ObjectInfo> {
    return this.call('head', key, 0, caller, (opts) => this.inner.head(key, opts));
  }

  delete(key: string, caller: CallOptions = {}): Promise<void> {
    return this.call('delete', key, 0, caller, (opts) => this.inner.delete(key, opts));
  }

  /**
   * A failed listing restarts from the beginning and skips keys already yielded, so the caller
   * sees each key once. Costs one remembered key per object listed (callers hold them anyway).
   * Each page (each step of the inner listing) gets `timeoutMs`; a late one cancels that listing.
   */
  async *list(prefix: string, caller: CallOptions = {}): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      if (this.aborted(caller.signal)) throw this.cancelled('list', prefix, caller.signal);
      const control = new AttemptControl([this.policy.signal, caller.signal], () => this.cancelled('list', prefix, caller.signal));
      const it = this.inner.list(prefix, { signal: control.signal })[Symbol.asyncIterator]();
      let failure: unknown;
      let finished = false;
      try {
        for (;;) {
          let step: IteratorResult<ObjectInfo>;
          const deadline = new Deadline(this.policy, { fixedMs: this.policy.timeoutMs }, (why) =>
            control.abort(new RaicError('Transient', `${this.subject('list', prefix)}: ${why}`)),
          );
          try {
            const next = it.next();
            next.catch(() => undefined);
            step = await Promise.race([next, control.stopped]);
          } catch (err) {
            failure = err;
            break;
          } finally {
            deadline.stop();
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
        control.release();
        // Failed, timed out, or the caller stopped early: cancel the page in flight and release the inner
        // listing (without waiting on it).
        if (!finished) {
          control.abort(new RaicError('Cancelled', `${this.subject('list', prefix)}: listing abandoned`));
          void Promise.resolve(it.return?.()).catch(() => undefined);
        }
      }
      await this.afterFailure(failure, attempt, 'list', prefix, caller.signal);
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
