import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hedgedFetch } from '../../../src/store/hedged-fetch.js';
import type { HedgePolicy } from '../../../src/store/members.js';

/** A policy hedging after `ms`, whoever runs. */
const fixed = (ms: number): HedgePolicy => ({ delayMs: () => ms, hedged: () => undefined });

/** Sources answering after `ms[i]` milliseconds (null = failure), logging when each was asked. */
function sources(ms: (number | null)[]) {
  const asked: number[] = [];
  const fetch = async (i: number): Promise<string | null> => {
    asked.push(i);
    const d = ms[i];
    if (d === null || d === undefined) {
      await sleep(1);
      return null;
    }
    await sleep(d);
    return `share${i}`;
  };
  return { asked, fetch };
}

describe('hedgedFetch', () => {
  it('asks only the `need` best when they answer promptly', async () => {
    const s = sources([5, 5, 5, 5]);
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, fixed(200));
    assert.deepEqual([...got.keys()].sort(), [0, 1]);
    assert.deepEqual(s.asked, [0, 1]);
  });

  it('replaces a failed source at once', async () => {
    const s = sources([null, 5, 5, 5]);
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, fixed(10_000));
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    assert.deepEqual(s.asked, [0, 1, 2]);
  });

  it('hedges around a slow source: done in about the hedge delay, not the slow latency', async () => {
    const s = sources([1000, 5, 5, 5]);
    const t0 = performance.now();
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, fixed(30));
    const ms = performance.now() - t0;
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    assert.ok(ms < 500, `took ${ms} ms`);
  });

  it('returns what it has when sources run out', async () => {
    const s = sources([null, 5, null]);
    const got = await hedgedFetch([0, 1, 2], 2, s.fetch, fixed(10));
    assert.deepEqual([...got.keys()], [1]);
    assert.deepEqual(s.asked.sort(), [0, 1, 2]);
  });

  it('handles no candidates', async () => {
    assert.equal((await hedgedFetch([], 2, async () => 'x', fixed(10))).size, 0);
  });
});

/** A manual clock for hedgedFetch: timers fire only when the test says so. */
function manualTimers() {
  const pending: { ms: number; fire: () => void; live: boolean }[] = [];
  return {
    setTimer: (ms: number, fire: () => void) => {
      const t = { ms, fire, live: true };
      pending.push(t);
      return () => {
        t.live = false;
      };
    },
    /** Fires the live timers armed so far; returns the delays they were armed with. */
    fireAll(): number[] {
      const due = pending.splice(0).filter((t) => t.live);
      for (const t of due) t.fire();
      return due.map((t) => t.ms);
    },
  };
}

/** Sources that answer only when told to, or (stalled) only when their signal fires. */
function controlled(n: number) {
  const answer: ((v: string | null) => void)[] = [];
  const aborted = new Set<number>();
  const asked: number[] = [];
  const fetch = (i: number, signal: AbortSignal): Promise<string | null> =>
    new Promise((resolve) => {
      asked.push(i);
      answer[i] = resolve;
      signal.addEventListener('abort', () => {
        aborted.add(i);
        resolve(null);
      });
    });
  return { fetch, answer: (i: number) => answer[i]!(`share${i}`), aborted, asked, n };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('hedgedFetch: hedging by policy, cancelling the overtaken', () => {
  it('a source that never answers is hedged around when the policy says so, then cancelled', async () => {
    const s = controlled(3);
    const t = manualTimers();
    const asked: { running: number[]; next: number }[] = [];
    const hedges: number[] = [];
    const policy: HedgePolicy = {
      delayMs: (running, next) => {
        asked.push({ running: [...running], next });
        return 123;
      },
      hedged: (i) => hedges.push(i),
    };
    const done = hedgedFetch([0, 1, 2], 2, s.fetch, policy, t.setTimer);
    await tick();
    assert.deepEqual(s.asked, [0, 1]);
    s.answer(1);
    await tick();
    assert.deepEqual(t.fireAll(), [123], 'one hedge timer, armed with the policy’s delay');
    assert.deepEqual(asked[0], { running: [0, 1], next: 2 });
    assert.deepEqual(hedges, [2]);
    s.answer(2);
    const got = await done;
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    await tick();
    assert.deepEqual([...s.aborted], [0], 'the stalled source’s signal fired once it was overtaken');
  });

  it('no hedge while the policy says none (budget spent): only a failure moves on', async () => {
    const s = controlled(3);
    const t = manualTimers();
    const done = hedgedFetch([0, 1, 2], 1, s.fetch, { delayMs: () => null, hedged: () => assert.fail('no hedge') }, t.setTimer);
    await tick();
    assert.deepEqual(t.fireAll(), []);
    assert.deepEqual(s.asked, [0]);
    s.answer(0);
    assert.deepEqual([...(await done).keys()], [0]);
    assert.deepEqual([...s.aborted], []);
  });
});
