import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hedgedFetch } from '../../../src/store/hedged-fetch.js';

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
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, () => 200);
    assert.deepEqual([...got.keys()].sort(), [0, 1]);
    assert.deepEqual(s.asked, [0, 1]);
  });

  it('replaces a failed source at once', async () => {
    const s = sources([null, 5, 5, 5]);
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, () => 10_000);
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    assert.deepEqual(s.asked, [0, 1, 2]);
  });

  it('hedges around a slow source: done in about the hedge delay, not the slow latency', async () => {
    const s = sources([1000, 5, 5, 5]);
    const t0 = performance.now();
    const got = await hedgedFetch([0, 1, 2, 3], 2, s.fetch, () => 30);
    const ms = performance.now() - t0;
    assert.deepEqual([...got.keys()].sort(), [1, 2]);
    assert.ok(ms < 500, `took ${ms} ms`);
  });

  it('returns what it has when sources run out', async () => {
    const s = sources([null, 5, null]);
    const got = await hedgedFetch([0, 1, 2], 2, s.fetch, () => 10);
    assert.deepEqual([...got.keys()], [1]);
    assert.deepEqual(s.asked.sort(), [0, 1, 2]);
  });

  it('handles no candidates', async () => {
    assert.equal((await hedgedFetch([], 2, async () => 'x', () => 10)).size, 0);
  });
});
