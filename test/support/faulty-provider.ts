/**
 * A fault-injecting wrapper around any Provider, for failure tests of the layers above.
 * On command it: fails the next N calls (or every call) with a given error code, before or after
 * the real call (after = the write landed but the caller saw an error); adds latency, or a delay per
 * byte moved (a thin link); stalls calls until their signal fires; corrupts the bytes get() returns;
 * pretends objects are lost; or goes down (every call refused, or hanging until up()). Each fault can be
 * limited to some operations and keys. Every call is logged, and `CallOptions` pass through: a call's
 * signal also ends its injected latency, stall or hang (`Cancelled`, counted in `cancelled`).
 */
import { RaicError, type ErrorCode } from '../../src/errors.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider, ProviderCapabilities } from '../../src/providers/types.js';

export type ProviderOp = 'prepare' | 'put' | 'get' | 'head' | 'list' | 'delete';

export interface FaultFilter {
  /** Only these operations (default: all). */
  ops?: ProviderOp[];
  /** Only calls whose key (list: prefix) equals this string, matches this RegExp or predicate. */
  key?: string | RegExp | ((key: string) => boolean);
}

export interface FailOptions extends FaultFilter {
  /** Make the real call first, then report the error (a put that landed but "failed"). */
  afterCall?: boolean;
}

export interface Call {
  op: ProviderOp;
  key: string;
}

interface Failure extends FailOptions {
  code: ErrorCode;
  remaining: number;
}

function matches(filter: FaultFilter, op: ProviderOp, key: string): boolean {
  if (filter.ops !== undefined && !filter.ops.includes(op)) return false;
  const k = filter.key;
  if (k === undefined) return true;
  if (typeof k === 'string') return k === key;
  if (k instanceof RegExp) return k.test(key);
  return k(key);
}

export class FaultyProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;
  /** Every call, in order, faulted or not. */
  readonly calls: Call[] = [];
  /** Calls whose signal fired while an injected latency, stall or hang held them. */
  readonly cancelled: Call[] = [];
  /** Calls held by an injected latency, stall or hang right now, and the most there ever were at once. */
  held = 0;
  maxHeld = 0;

  private failures: Failure[] = [];
  private latencies: { ms: number; filter: FaultFilter }[] = [];
  private throttles: { bytesPerSecond: number; filter: FaultFilter }[] = [];
  private stalls: FaultFilter[] = [];
  private corruptions: FaultFilter[] = [];
  private lost: ((key: string) => boolean)[] = [];
  private state: 'up' | 'refuse' | 'hang' = 'up';
  private hanging: (() => void)[] = [];

  constructor(readonly inner: Provider) {
    this.displayUrl = inner.displayUrl;
    this.capabilities = inner.capabilities;
  }

  /** The next `n` matching calls reject with `code` (default Transient). */
  failNext(n: number, code: ErrorCode = 'Transient', options: FailOptions = {}): this {
    this.failures.push({ ...options, code, remaining: n });
    return this;
  }

  /** Every matching call rejects with `code` until reset(). */
  failAlways(code: ErrorCode = 'Transient', options: FailOptions = {}): this {
    return this.failNext(Number.POSITIVE_INFINITY, code, options);
  }

  /** Matching calls wait `ms` before doing anything. */
  addLatency(ms: number, filter: FaultFilter = {}): this {
    this.latencies.push({ ms, filter });
    return this;
  }

  /** Matching get and put calls wait as long as their bytes take at `bytesPerSecond` (a range's length;
   * a whole get counts the object's size). */
  throttle(bytesPerSecond: number, filter: FaultFilter = {}): this {
    this.throttles.push({ bytesPerSecond, filter });
    return this;
  }

  /** Matching calls never answer: they wait until their signal fires, then reject `Cancelled`. */
  stall(filter: FaultFilter = {}): this {
    this.stalls.push(filter);
    return this;
  }

  /** Matching get() calls return their bytes with one byte flipped (the middle one). */
  corruptGets(filter: FaultFilter = {}): this {
    this.corruptions.push(filter);
    return this;
  }

  /** Pretends the matching objects are gone: get/head reject NotFound, list omits them. */
  lose(key: string | RegExp | ((key: string) => boolean)): this {
    this.lost.push(typeof key === 'string' ? (k) => k === key : key instanceof RegExp ? (k) => key.test(k) : key);
    return this;
  }

  /** The backend becomes unreachable: calls reject Transient ('refuse'), or never answer ('hang')
   * until up(), when they reject Transient as a dropped connection would. */
  down(mode: 'refuse' | 'hang' = 'refuse'): this {
    this.state = mode;
    return this;
  }

  up(): this {
    this.state = 'up';
    const waiting = this.hanging;
    this.hanging = [];
    for (const release of waiting) release();
    return this;
  }

  /** Clears every fault and brings the backend up. The call log is kept. */
  reset(): this {
    this.failures = [];
    this.latencies = [];
    this.throttles = [];
    this.stalls = [];
    this.corruptions = [];
    this.lost = [];
    return this.up();
  }

  /** Calls so far of `op` (all ops if omitted). */
  count(op?: ProviderOp): number {
    return op === undefined ? this.calls.length : this.calls.filter((c) => c.op === op).length;
  }

  private isLost(key: string): boolean {
    return this.lost.some((f) => f(key));
  }

  private takeFailure(op: ProviderOp, key: string): Failure | undefined {
    const f = this.failures.find((x) => x.remaining > 0 && matches(x, op, key));
    if (f !== undefined) f.remaining -= 1;
    return f;
  }

  private error(code: ErrorCode, op: ProviderOp, key: string, why: string): RaicError {
    return new RaicError(code, `${this.displayUrl}: ${op} ${key}: ${why}`);
  }

  /** Waits for `until` to call its argument, or rejects `Cancelled` when `signal` fires first. */
  private wait(until: (done: () => void) => void, op: ProviderOp, key: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.held -= 1;
        this.cancelled.push({ op, key });
        reject(this.error('Cancelled', op, key, 'cancelled'));
      };
      this.held += 1;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      until(() => {
        this.held -= 1;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Waits out the matching throttles for a transfer of `bytes`. */
  private async throttled(op: ProviderOp, key: string, bytes: number, signal: AbortSignal | undefined): Promise<void> {
    for (const t of this.throttles) {
      if (matches(t.filter, op, key)) await this.wait((done) => setTimeout(done, (bytes / t.bytesPerSecond) * 1000), op, key, signal);
    }
  }

  /** Latency, down state and before-call failures; returns a failure to report after the call. */
  private async enter(op: ProviderOp, key: string, signal?: AbortSignal): Promise<Failure | undefined> {
    this.calls.push({ op, key });
    for (const l of this.latencies) {
      if (matches(l.filter, op, key)) await this.wait((done) => setTimeout(done, l.ms), op, key, signal);
    }
    if (this.stalls.some((f) => matches(f, op, key))) {
      await this.wait(() => undefined, op, key, signal);
    }
    if (this.state === 'refuse') throw this.error('Transient', op, key, 'connection refused (injected)');
    if (this.state === 'hang') {
      await this.wait((done) => this.hanging.push(done), op, key, signal);
      throw this.error('Transient', op, key, 'connection dropped (injected)');
    }
    const failure = this.takeFailure(op, key);
    if (failure !== undefined && failure.afterCall !== true) throw this.error(failure.code, op, key, `injected ${failure.code}`);
    return failure;
  }

  private async run<T>(op: ProviderOp, key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const after = await this.enter(op, key, signal);
    const result = await fn();
    if (after !== undefined) throw this.error(after.code, op, key, `injected ${after.code} after the call`);
    return result;
  }

  prepare(): Promise<void> {
    return this.run('prepare', '', () => this.inner.prepare());
  }

  put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    return this.run('put', key, async () => {
      await this.throttled('put', key, body.length, opts.signal);
      return this.inner.put(key, body, opts);
    }, opts.signal);
  }

  get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    return this.run('get', key, async () => {
      if (this.isLost(key)) throw this.error('NotFound', 'get', key, 'not found (lost, injected)');
      const bytes = await this.inner.get(key, range, opts);
      await this.throttled('get', key, bytes.length, opts.signal);
      if (bytes.length > 0 && this.corruptions.some((f) => matches(f, 'get', key))) {
        const copy = Buffer.from(bytes);
        const i = copy.length >> 1;
        copy[i] = copy[i]! ^ 0xff;
        return copy;
      }
      return bytes;
    }, opts.signal);
  }

  head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    return this.run('head', key, async () => {
      if (this.isLost(key)) throw this.error('NotFound', 'head', key, 'not found (lost, injected)');
      return this.inner.head(key, opts);
    }, opts.signal);
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    const after = await this.enter('list', prefix, opts.signal);
    for await (const info of this.inner.list(prefix, opts)) {
      if (!this.isLost(info.key)) yield info;
    }
    if (after !== undefined) throw this.error(after.code, 'list', prefix, `injected ${after.code} after the call`);
  }

  delete(key: string, opts: CallOptions = {}): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key, opts), opts.signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export function createFaultyProvider(inner: Provider): FaultyProvider {
  return new FaultyProvider(inner);
}
