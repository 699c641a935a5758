/** Batcher (batcher.ts): batches by count and weight, a bounded queue as the producer's backpressure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { Batcher } from '../../../src/store/batcher.js';

/** A runner whose batches finish only when released, recording what each held. */
function heldRunner(): { batches: string[][]; release: () => void; run: (batch: string[]) => Promise<void> } {
  const batches: string[][] = [];
  const waiting: (() => void)[] = [];
  return {
    batches,
    release: () => waiting.shift()?.(),
    run: (batch) => {
      batches.push(batch);
      return new Promise<void>((r) => waiting.push(r));
    },
  };
}

/** Whether `p` has settled after the pending turns of the event loop ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await turn();
  await turn();
  return done;
}

describe('Batcher', () => {
  it('gathers what comes while every slot is busy into batches of at most maxItems and maxWeight', async () => {
    const r = heldRunner();
    const b = new Batcher<string>(r.run, { maxItems: 3, maxWeight: 10, maxRunning: 1, maxQueued: 100 });
    await b.add('a', 1);
    await turn();
    assert.deepEqual(r.batches, [['a']]);
    for (const [name, weight] of [['b', 1], ['c', 1], ['d', 1], ['e', 9], ['f', 1]] as const) await b.add(name, weight);
    r.release();
    await turn();
    assert.deepEqual(r.batches[1], ['b', 'c', 'd'], 'three items at most');
    r.release();
    await turn();
    assert.deepEqual(r.batches[2], ['e', 'f'], 'weight 9 + 1 fits 10');
  });

  it('holds a producer back once maxQueuedWeight of items wait, but always lets one item in', async () => {
    const r = heldRunner();
    const b = new Batcher<string>(r.run, { maxItems: 2, maxWeight: 100, maxRunning: 1, maxQueued: 100, maxQueuedWeight: 10 });
    await b.add('running', 1);
    await turn();
    assert.equal(r.batches.length, 1);
    await b.add('a', 6);
    const second = b.add('b', 6); // 6 + 6 > 10: waits
    assert.equal(await settled(second), false, 'over the queued weight: the producer waits');
    r.release(); // 'a' leaves the queue as the next batch
    assert.equal(await settled(second), true, 'room again once a batch took the queued items');
    assert.deepEqual(r.batches[1], ['a']);
    const heavy = new Batcher<string>(heldRunner().run, { maxItems: 2, maxWeight: 100, maxRunning: 1, maxQueued: 100, maxQueuedWeight: 10 });
    assert.equal(await settled(heavy.add('huge', 50)), true, 'an item heavier than the bound alone is not stuck');
  });

  it('holds a producer back once maxQueued items wait', async () => {
    const r = heldRunner();
    const b = new Batcher<string>(r.run, { maxItems: 1, maxWeight: 100, maxRunning: 1, maxQueued: 2 });
    await b.add('running', 1);
    await turn();
    await b.add('a', 1);
    await b.add('b', 1);
    const third = b.add('c', 1);
    assert.equal(await settled(third), false);
    r.release();
    assert.equal(await settled(third), true);
  });
});
