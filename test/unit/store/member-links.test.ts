/**
 * What Members learns of each member's link and what it does with it (issue 11, one slow member): reads
 * ranked by expected time for their size (a thin link with short round trips is asked last for bulk), hedge
 * delays that follow the expected time and stop at the hedge budget, and fewer requests at once to a thin
 * link. Measurements are fed in directly, so no verdict depends on the clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Members, PackReader } from '../../../src/store/index.js';
import { LinkEstimate } from '../../../src/store/link-estimate.js';
import { RequestGate } from '../../../src/store/request-gate.js';
import { createMemoryProvider } from '../../support/memory-provider.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Six members: 0–4 on 50 ms, 6 MB/s links; 5 on a 20 ms, 1 MB/s link (short round trips, thin pipe). */
function sixLinks(): Members {
  const members = Members.fromProviders(Array.from({ length: 6 }, (_, i) => createMemoryProvider({ name: `m${i}` })));
  for (let i = 0; i < 6; i++) {
    const [latency, bytesPerMs] = i === 5 ? [20, 1000] : [50, 6000];
    for (const dir of ['get', 'put'] as const) {
      members.observe(i, dir, 4 * KiB, latency);
      members.observe(i, dir, 2 * MiB, latency + (2 * MiB) / bytesPerMs);
    }
  }
  return members;
}

describe('LinkEstimate', () => {
  it('takes small transfers as latency and large ones as latency plus bytes at a throughput', () => {
    const e = new LinkEstimate();
    assert.equal(e.expectedMs(MiB), null);
    e.observe(1000, 40);
    assert.equal(e.expectedMs(1000), 40);
    e.observe(4 * MiB, 40 + 4 * 1024);
    assert.equal(e.bytesPerMs, 1024);
    assert.equal(e.expectedMs(2 * MiB), 40 + 2048);
  });
});

describe('LinkEstimate: a link shared by several transfers', () => {
  it('counts the transfers under way on average, and takes the link throughput as each one\'s rate times them', () => {
    const e = new LinkEstimate();
    e.observe(1000, 50); // latency 50 ms
    // Three transfers side by side for 1000 ms, then one alone for 1000 ms more.
    const ends = [e.begin(0), e.begin(0), e.begin(0)];
    assert.equal(ends[0]!(1000), 3);
    assert.equal(ends[1]!(1000), 3);
    const long = e.begin(1000);
    assert.equal(ends[2]!(2000), 2.5, 'three for the first half, two (itself and the new one) for the second');
    assert.equal(long(2000), 2);
    const lone = new LinkEstimate();
    lone.observe(1000, 50);
    lone.observe(MiB, 50 + 1024); // alone: 1 MiB in 1024 ms of moving
    e.observe(MiB, 50 + 3 * 1024, 3); // one of three: 1 MiB in 3 × as long, the link three times as fast as that
    assert.equal(e.bytesPerMs, lone.bytesPerMs);
    assert.equal(e.expectedMs(2 * MiB), lone.expectedMs(2 * MiB));
  });
});

describe('PackReader: reading around a slow data member', () => {
  /** k = 4 of 6; member 0 on a 1 MB/s link, the others 6 MB/s (5 unmeasured but for round trips, as a parity member is). */
  function slowZero(latencyMs: number): PackReader {
    const members = Members.fromProviders(Array.from({ length: 6 }, (_, i) => createMemoryProvider({ name: `m${i}` })));
    for (let i = 0; i < 6; i++) {
      members.observe(i, 'get', 4 * KiB, latencyMs);
      if (i !== 5) members.observe(i, 'get', 2 * MiB, latencyMs + (2 * MiB) / (i === 0 ? 1000 : 6000));
    }
    return new PackReader(members, 4);
  }

  it('goes around a link 6× slower by the time of its bytes, though round trips of 250 ms make whole requests look 2× slower', () => {
    const reader = slowZero(250);
    // 400 KiB: 250 + 410 ms against 250 + 68 ms.
    assert.equal(reader.slowerThanDecoding(0, 400 * KiB, 3, 50), true);
    assert.equal(reader.slowerThanDecoding(1, 400 * KiB, 3, 50), false, 'a member as fast as the others');
    assert.equal(reader.slowerThanDecoding(0, 32 * KiB, 3, 50), false, 'a request all round trip: no bytes time to gain');
  });

  it('not when the gain is under minGainMs (local disks: a few ms either way)', () => {
    const members = Members.fromProviders(Array.from({ length: 6 }, (_, i) => createMemoryProvider({ name: `m${i}` })));
    for (let i = 0; i < 6; i++) {
      members.observe(i, 'get', 4 * KiB, 1);
      members.observe(i, 'get', 2 * MiB, 1 + (2 * MiB) / (i === 0 ? 100_000 : 1_000_000));
    }
    assert.equal(new PackReader(members, 4).slowerThanDecoding(0, MiB, 3, 50), false);
  });
});

describe('Members: ranking and hedging by expected time', () => {
  it('asks a thin link last for bulk reads, though its round trips are the shortest', () => {
    const m = sixLinks();
    assert.equal(m.rank([0, 1, 2, 3, 4, 5], 2 * KiB)[0], 5, 'a small read: latency decides');
    assert.deepEqual(m.rank([5, 4, 3, 2, 1, 0], MiB), [0, 1, 2, 3, 4, 5], 'a bulk read: the thin link last');
    assert.deepEqual(m.rank([5, 0, 1, 2], MiB, [5]), [5, 0, 1, 2], 'a preferred member stays first');
  });

  it('untried members go first (they get measured), data shares first among equals', () => {
    const m = Members.fromProviders(Array.from({ length: 4 }, () => createMemoryProvider()));
    m.observe(0, 'get', MiB, 100);
    assert.deepEqual(m.rank([0, 1, 2, 3], MiB), [1, 2, 3, 0]);
  });

  it('hedges after twice the expected time of the requests running or the next member, within the budget', () => {
    const m = sixLinks();
    const policy = m.hedgePolicy(MiB);
    const fast = m.expectedMs(0, MiB)!;
    const slow = m.expectedMs(5, MiB)!;
    assert.ok(slow > 4 * fast, `${slow} vs ${fast}`);
    assert.equal(policy.delayMs([0, 1], 2), 2 * fast);
    assert.equal(policy.delayMs([0, 1], 5), 2 * slow, 'asking the thin link helps only once the others are late even against it');
    // Nothing read yet: the allowance lets one 1 MiB hedge through, not a second.
    policy.hedged(2);
    assert.equal(policy.delayMs([0, 1], 3), null, 'the hedge budget is spent');
  });

  it('a fixed hedge delay (for tests) still respects the budget', () => {
    const m = sixLinks();
    m.fixedHedgeDelayMs = 7;
    const policy = m.hedgePolicy(64 * KiB);
    assert.equal(policy.delayMs([0], 1), 7);
    for (let i = 0; i < 15; i++) policy.hedged(1);
    assert.equal(policy.delayMs([0], 1), 7, "the 16th 64 KiB hedge fits the 1 MiB allowance");
    policy.hedged(1);
    assert.equal(policy.delayMs([0], 1), null);
  });

  it('limits requests at once to a thin link by its share of the best throughput; fast links are not limited', () => {
    const m = sixLinks();
    for (let i = 0; i < 5; i++) assert.equal(m.concurrencyLimit(i, 'get'), Number.POSITIVE_INFINITY);
    assert.equal(m.concurrencyLimit(5, 'get'), 3, 'ceil(16 × 1/6)');
    assert.equal(m.concurrencyLimit(5, 'put'), 1, 'ceil(4 × 1/6)');
    const fresh = Members.fromProviders([createMemoryProvider()]);
    assert.equal(fresh.concurrencyLimit(0, 'put'), Number.POSITIVE_INFINITY, 'unknown: not limited');
  });
});

describe('RequestGate', () => {
  it('lets `limit` through, queues the rest in order, and drops a waiter whose signal fires', async () => {
    let limit = 1;
    const gate = new RequestGate(() => limit);
    const first = await gate.enter();
    const order: string[] = [];
    const control = new AbortController();
    const second = gate.enter().then((leave) => (order.push('second'), leave));
    const cancelled = gate.enter(control.signal).then(
      () => order.push('cancelled one ran'),
      (err: Error & { code?: string }) => order.push(`cancelled: ${err.code}`),
    );
    const third = gate.enter().then((leave) => (order.push('third'), leave));
    assert.deepEqual(gate.load, { running: 1, waiting: 3 });
    control.abort();
    await cancelled;
    assert.deepEqual(gate.load, { running: 1, waiting: 2 });
    first();
    const leaveSecond = await second;
    assert.deepEqual(order, ['cancelled: Cancelled', 'second']);
    limit = 2;
    leaveSecond();
    leaveSecond(); // a second call gives nothing back twice
    (await third)();
    assert.deepEqual(order, ['cancelled: Cancelled', 'second', 'third']);
    assert.deepEqual(gate.load, { running: 0, waiting: 0 });
  });
});
