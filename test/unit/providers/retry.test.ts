/** withRetry over the in-memory provider with injected faults; waits and jitter are injected, so
 * every assertion is deterministic (only the first deadline tests use real, generously spaced timers;
 * the progress-based ones run on a manual clock). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaicError, isRaicError, type ErrorCode } from '../../../src/errors.js';
import { defaultRetryPolicy, withRetry, type RetryEvent, type RetryPolicy } from '../../../src/providers/retry.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider } from '../../../src/providers/types.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { collect, rejectsWith } from '../../providers/conformance.js';

function setup(policy: Partial<RetryPolicy> = {}, memory = new MemoryProvider()) {
  const faulty = new FaultyProvider(memory);
  const sleeps: number[] = [];
  const events: RetryEvent[] = [];
  const p = withRetry(faulty, {
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onRetry: (e) => events.push(e),
    ...policy,
  });
  return { memory, faulty, p, sleeps, events };
}

describe('withRetry', () => {
  it('documents its defaults: 4 attempts, 100 ms base, 2 s cap', () => {
    assert.equal(defaultRetryPolicy.attempts, 4);
    assert.equal(defaultRetryPolicy.baseDelayMs, 100);
    assert.equal(defaultRetryPolicy.maxDelayMs, 2000);
  });

  it('retries Transient failures with exponential backoff and full jitter, then succeeds', async () => {
    const { memory, faulty, p, sleeps, events } = setup();
    await memory.put('k', Buffer.from('v'));
    faulty.failNext(2, 'Transient');
    assert.equal((await p.get('k')).toString(), 'v');
    assert.equal(faulty.count('get'), 3);
    assert.deepEqual(sleeps, [50, 100], 'half of the 100 ms, then 200 ms windows');
    assert.deepEqual(events.map((e) => [e.op, e.key, e.attempt, e.delayMs, e.error.code]), [
      ['get', 'k', 1, 50, 'Transient'],
      ['get', 'k', 2, 100, 'Transient'],
    ]);
  });

  it('caps the backoff window', async () => {
    const { faulty, p, sleeps } = setup({ attempts: 8, random: () => 0.999 });
    faulty.failAlways('Transient');
    await rejectsWith(p.head('k'), 'Transient', 'head');
    assert.deepEqual(sleeps, [99, 199, 399, 799, 1598, 1998, 1998]);
  });

  it('gives up after the last attempt, saying how many it made', async () => {
    const { faulty, p } = setup();
    faulty.failAlways('Transient');
    const err = await p.delete('k').then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(isRaicError(err, 'Transient'));
    assert.match(err.message, /^memory:\/\/mem: delete k: injected Transient \(gave up after 4 attempts\)$/);
    assert.ok(isRaicError(err.cause, 'Transient'), 'the last failure is the cause');
    assert.equal(faulty.count('delete'), 4);
  });

  for (const code of ['NotFound', 'Auth', 'Permanent', 'Exists', 'Integrity'] as ErrorCode[]) {
    it(`never retries ${code}`, async () => {
      const { faulty, p, sleeps } = setup();
      faulty.failAlways(code);
      await rejectsWith(p.put('k', Buffer.from('x')), code, 'put');
      await rejectsWith(p.get('k'), code, 'get');
      await rejectsWith(collect(p.list('')), code, 'list');
      assert.equal(faulty.count(), 3, 'one call each');
      assert.deepEqual(sleeps, []);
    });
  }

  it('passes errors that are not RaicErrors through untouched, without retrying', async () => {
    const memory = new MemoryProvider();
    const bug = new TypeError('adapter bug');
    memory.head = async () => {
      throw bug;
    };
    const { p, faulty } = setup({}, memory);
    await assert.rejects(p.head('k'), (e: unknown) => e === bug);
    assert.equal(faulty.count('head'), 1);
  });

  it('gives each attempt a deadline, and a late attempt counts as Transient', async () => {
    const { faulty, p } = setup({ timeoutMs: 50, attempts: 2 });
    faulty.down('hang');
    const started = Date.now();
    const err = await p.head('k').then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    faulty.up();
    assert.ok(isRaicError(err, 'Transient'), String(err));
    assert.match(err.message, /head k: no answer within 50 ms \(gave up after 2 attempts\)/);
    assert.equal(faulty.count('head'), 2);
    assert.ok(Date.now() - started < 2000);
  });

  it('scales the deadline with the bytes moved', async () => {
    // 100 ms for a head; a 1000-byte put at 2000 B/s gets 100 + 500 ms.
    const { faulty, p } = setup({ timeoutMs: 100, minBytesPerSecond: 2000, attempts: 1 });
    faulty.addLatency(250);
    await p.put('k', Buffer.alloc(1000));
    await rejectsWith(p.head('k'), 'Transient', 'a head slower than its deadline');
    assert.equal((await p.get('k', { offset: 0, length: 1000 })).length, 1000, 'ranged get: deadline scaled by its length');
  });

  it('a retried create-once put that finds its own bytes already stored succeeds', async () => {
    const { memory, faulty, p } = setup();
    // The first attempt lands, but the caller sees a dropped connection.
    faulty.failNext(1, 'Transient', { ops: ['put'], afterCall: true });
    await p.put('k', Buffer.from('mine'));
    assert.equal(memory.objects.get('k')?.toString(), 'mine');
    assert.equal(faulty.count('put'), 2);
    assert.equal(faulty.count('get'), 1, 'read back once to compare');
  });

  it('a retried put that finds other bytes still rejects Exists; a first-attempt Exists is not read back', async () => {
    const { memory, faulty, p } = setup();
    await memory.put('k', Buffer.from('theirs'));
    faulty.failNext(1, 'Transient', { ops: ['put'] });
    await rejectsWith(p.put('k', Buffer.from('mine')), 'Exists', 'retried put over other bytes');
    assert.equal(memory.objects.get('k')?.toString(), 'theirs');
    const gets = faulty.count('get');
    await rejectsWith(p.put('k', Buffer.from('theirs')), 'Exists', 'first-attempt Exists');
    assert.equal(faulty.count('get'), gets);
  });

  it('a listing that fails midway restarts and yields each key once', async () => {
    const { memory, faulty, p } = setup();
    for (const k of ['a/1', 'a/2', 'a/3', 'b/1']) await memory.put(k, Buffer.from(k));
    faulty.failNext(1, 'Transient', { ops: ['list'], afterCall: true });
    const keys = (await collect(p.list('a/'))).map((o) => o.key);
    assert.deepEqual(keys.sort(), ['a/1', 'a/2', 'a/3']);
    assert.equal(faulty.count('list'), 2);
  });

  it('stops when its AbortSignal fires: Cancelled, no further attempt', async () => {
    const ac = new AbortController();
    const { faulty, p } = setup({
      signal: ac.signal,
      sleep: async () => {
        ac.abort();
        throw new Error('aborted');
      },
    });
    faulty.failAlways('Transient');
    await rejectsWith(p.get('k'), 'Cancelled', 'get');
    assert.equal(faulty.count('get'), 1);
  });

  it('keeps displayUrl and capabilities, and closes the inner provider', async () => {
    const memory = new MemoryProvider({ name: 'x', conditionalPut: false });
    const p = withRetry(memory);
    assert.equal(p.displayUrl, 'memory://x');
    assert.deepEqual(p.capabilities, { conditionalPut: false });
    await p.close();
    await assert.rejects(memory.put('k', Buffer.from('x')), (e: unknown) => e instanceof RaicError);
  });

  it('uses real timers by default: backoff waits actually happen', async () => {
    const memory = new MemoryProvider();
    const faulty = new FaultyProvider(memory).failNext(2);
    const p = withRetry(faulty, { baseDelayMs: 40, random: () => 1 - Number.EPSILON });
    await memory.put('k', Buffer.from('v'));
    const started = Date.now();
    await p.get('k');
    assert.ok(Date.now() - started >= 100, 'waited about 40 + 80 ms');
  });

  it('the deadline of a provider that does not report progress still cancels the late attempt', async () => {
    const { faulty, p } = setup({ timeoutMs: 50, attempts: 2 });
    faulty.down('hang');
    await rejectsWith(p.head('k'), 'Transient', 'a hanging head');
    // The faulty double ends a hang when its call's signal fires: nothing is left hanging for up() to release.
    assert.equal(faulty.count('head'), 2);
    faulty.up();
  });

  it("a caller's signal cancels the attempt in flight: Cancelled, the inner call's signal fired", async () => {
    const { inner, p } = progressSetup();
    const ac = new AbortController();
    const call = p.get('k', undefined, { signal: ac.signal });
    await settle();
    ac.abort();
    await rejectsWith(call, 'Cancelled', 'get');
    assert.equal(inner.calls.length, 1);
    assert.equal(inner.calls[0]!.opts.signal?.aborted, true);
  });
});

/** A clock whose timers fire only when the test moves time on. */
class ManualClock {
  private t = 0;
  private timers: { at: number; fire: () => void; live: boolean }[] = [];
  readonly now = (): number => this.t;
  readonly setTimer = (ms: number, fire: () => void): (() => void) => {
    const timer = { at: this.t + ms, fire, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  };

  /** Moves time on by `ms`, firing each timer that falls due (and any they set) at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      due.live = false;
      this.t = due.at;
      due.fire();
    }
    this.t = end;
  }
}

interface HeldCall {
  op: 'put' | 'get';
  opts: CallOptions;
  /** Whether every earlier call's signal had fired when this one started. */
  earlierCancelled: boolean;
  finish: () => void;
}

/** A provider that reports progress and whose put and get answer only when the test says (or reject
 * `Cancelled` when their signal fires, as the adapters do). */
class HeldProvider implements Provider {
  readonly displayUrl = 'held://x';
  readonly capabilities: Provider['capabilities'];
  readonly calls: HeldCall[] = [];

  constructor(reportsProgress: boolean) {
    this.capabilities = { conditionalPut: true, reportsProgress };
  }

  private hold(op: 'put' | 'get', opts: CallOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const earlierCancelled = this.calls.every((c) => c.opts.signal?.aborted === true);
      this.calls.push({ op, opts, earlierCancelled, finish: resolve });
      opts.signal?.addEventListener('abort', () => reject(new RaicError('Cancelled', `${this.displayUrl}: ${op}: cancelled`)), { once: true });
    });
  }

  async prepare(): Promise<void> {}
  async put(_key: string, _body: Uint8Array, opts?: CallOptions): Promise<void> {
    await this.hold('put', opts);
  }
  async get(_key: string, _range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
    await this.hold('get', opts);
    return Buffer.from('v');
  }
  async head(key: string): Promise<ObjectInfo> {
    return { key, size: 1 };
  }
  async *list(): AsyncIterable<ObjectInfo> {}
  async delete(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Lets the wrapper reach the inner call (or its next attempt): its awaits are all on settled promises. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function progressSetup(policy: Partial<RetryPolicy> = {}, reportsProgress = true) {
  const clock = new ManualClock();
  const inner = new HeldProvider(reportsProgress);
  const events: RetryEvent[] = [];
  const p = withRetry(inner, {
    now: clock.now,
    setTimer: clock.setTimer,
    random: () => 0.5,
    sleep: async () => undefined,
    onRetry: (e) => events.push(e),
    ...policy,
  });
  return { clock, inner, p, events };
}

describe('withRetry: deadlines that follow progress', () => {
  const MiB = 1024 * 1024;

  it('documents its defaults: 30 s without a byte moving, a ceiling at 8 KiB/s', () => {
    assert.equal(defaultRetryPolicy.idleMs, 30_000);
    assert.equal(defaultRetryPolicy.slowestBytesPerSecond, 8 * 1024);
  });

  it('a slow but moving put is not failed, long past the size-scaled deadline', async () => {
    const { clock, inner, p } = progressSetup({ attempts: 1, timeoutMs: 30_000, idleMs: 30_000, minBytesPerSecond: MiB });
    const done = p.put('k', Buffer.alloc(8 * MiB));
    await settle();
    const call = inner.calls[0]!;
    // 400 s at ~20 KiB/s (a 5 Mbit/s uplink shared by 30 requests): ten times the 38 s a provider that does
    // not report progress gets for 8 MiB, well inside the 1054 s ceiling at 8 KiB/s.
    for (let i = 0; i < 20; i++) {
      clock.advance(20_000);
      call.opts.onProgress?.((8 * MiB) / 20);
    }
    call.finish();
    await done;
    assert.equal(inner.calls.length, 1, 'one attempt');
    assert.equal(call.opts.signal?.aborted, false);
  });

  it("a stalled put fails after idleMs without a byte, and is cancelled before its retry starts", async () => {
    const { clock, inner, p, events } = progressSetup({ attempts: 2, idleMs: 30_000 });
    const done = p.put('k', Buffer.alloc(MiB));
    await settle();
    const first = inner.calls[0]!;
    first.opts.onProgress?.(64 * 1024);
    clock.advance(20_000);
    first.opts.onProgress?.(64 * 1024); // moving at 20 s: the idle window starts again here
    clock.advance(29_999);
    assert.equal(first.opts.signal?.aborted, false, 'not yet: 29.999 s since the last byte');
    clock.advance(1);
    assert.equal(first.opts.signal?.aborted, true, '30 s without a byte: the attempt is cancelled');
    await settle();
    assert.equal(inner.calls.length, 2, 'retried');
    assert.equal(inner.calls[1]!.earlierCancelled, true, 'the first attempt was cancelled before the second started');
    inner.calls[1]!.finish();
    await done;
    assert.equal(events.length, 1);
    assert.equal(events[0]!.error.code, 'Transient');
    assert.match(events[0]!.error.message, /put k: no bytes moved for 30000 ms$/);
  });

  it('a get that never sends its first byte fails after idleMs, whatever its size', async () => {
    const { clock, inner, p } = progressSetup({ attempts: 1, idleMs: 30_000 });
    const call = p.get('k', { offset: 0, length: 32 * MiB });
    await settle();
    clock.advance(30_000);
    await rejectsWith(call, 'Transient', 'a silent get');
    assert.equal(inner.calls[0]!.opts.signal?.aborted, true);
  });

  it('a trickle that never stops still meets the ceiling: timeoutMs + bytes at slowestBytesPerSecond', async () => {
    // 1000 bytes at 10 B/s: 100 s, plus the 30 s fixed part.
    const { clock, inner, p } = progressSetup({ attempts: 1, idleMs: 30_000, timeoutMs: 30_000, slowestBytesPerSecond: 10 });
    const call = p.put('k', Buffer.alloc(1000));
    call.catch(() => undefined);
    await settle();
    const held = inner.calls[0]!;
    for (let t = 0; t < 125_000; t += 5_000) {
      clock.advance(5_000);
      held.opts.onProgress?.(1);
    }
    assert.equal(held.opts.signal?.aborted, false, 'at 125 s');
    clock.advance(5_000);
    assert.equal(held.opts.signal?.aborted, true, 'at 130 s');
    const err = await call.then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(isRaicError(err, 'Transient'));
    assert.match(err.message, /not done within 130000 ms, though still moving/);
  });

  it('a provider that does not report progress keeps the size-scaled deadline, and the late attempt is cancelled', async () => {
    // 30 s + 1 MiB at 1 MiB/s = 31 s.
    const { clock, inner, p } = progressSetup({ attempts: 2, timeoutMs: 30_000, minBytesPerSecond: MiB }, false);
    const done = p.put('k', Buffer.alloc(MiB));
    await settle();
    clock.advance(30_999);
    assert.equal(inner.calls[0]!.opts.signal?.aborted, false);
    clock.advance(1);
    assert.equal(inner.calls[0]!.opts.signal?.aborted, true);
    await settle();
    assert.equal(inner.calls.length, 2);
    assert.equal(inner.calls[1]!.earlierCancelled, true);
    inner.calls[1]!.finish();
    await done;
  });

  it("progress reaches the caller's own onProgress", async () => {
    const { inner, p } = progressSetup({ attempts: 1 });
    let heard = 0;
    const done = p.put('k', Buffer.alloc(100), { onProgress: (n) => (heard += n) });
    await settle();
    inner.calls[0]!.opts.onProgress?.(60);
    inner.calls[0]!.opts.onProgress?.(40);
    inner.calls[0]!.finish();
    await done;
    assert.equal(heard, 100);
  });
});
