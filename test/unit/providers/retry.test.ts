/** withRetry over the in-memory provider with injected faults; waits and jitter are injected, so
 * every assertion is deterministic (only the deadline tests use real, generously spaced timers). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaicError, isRaicError, type ErrorCode } from '../../../src/errors.js';
import { defaultRetryPolicy, withRetry, type RetryEvent, type RetryPolicy } from '../../../src/providers/retry.js';
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
});
