/**
 * Reads with a data member that lacks the packs (it missed them: left for repair) or is down: the fetcher
 * decodes its share from the others' bytes at the same positions, and those are the bytes the other data
 * shares' own reads need too — so each position of k shares is downloaded about once (ShareLending keeps them),
 * not once for the decode and again for the read. Counted at the members; no timing decides who is asked
 * (a fixed hedge delay), and the windows are small so a decode comes before the other shares' reads are planned.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ChunkFetcher, ChunkReader, ChunkSink, Members, RaicArray, newMasterKey, pageLoader, repoKeys, walkStream, type StreamRef } from '../../../src/store/index.js';
import { packKey } from '../../../src/store/layout.js';
import { withRetry } from '../../../src/providers/index.js';
import { CountingProvider } from '../../support/counting-provider.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { createMemoryProvider } from '../../support/memory-provider.js';

const K = 4;
const N = 6;
const CHUNK = 64 * 1024;

describe('degraded reads download each position once (k=4, n=6)', () => {
  const faulty = Array.from({ length: N }, () => new FaultyProvider(createMemoryProvider()));
  const counting = faulty.map((f) => new CountingProvider(f));
  const array = RaicArray.fromMembers({ arrayId: randomBytes(16).toString('hex'), k: K, n: N }, Members.fromProviders(counting.map((c) => withRetry(c, { attempts: 1 }))), { chunkBytes: CHUNK });
  const keys = repoKeys(newMasterKey());
  const data = randomBytes(6 * 1024 * 1024 + 333);
  let ref: StreamRef;

  before(async () => {
    const sink = await ChunkSink.open(array, keys, CHUNK);
    const w = sink.openStream();
    for (let at = 0; at < data.length; at += CHUNK) await w.write(data.subarray(at, at + CHUNK), false);
    ref = await w.end();
    await sink.finish();
  });
  after(async () => array.close());

  /** Reads the stream through a fetcher with small windows; returns pack bytes and requests asked of each member. */
  const read = async (windowChunks = 8): Promise<{ bytes: number[]; asked0: number; stats: ChunkFetcher['stats'] }> => {
    const reader = new ChunkReader(array.members, array.pool, K, CHUNK);
    const entries = [];
    for await (const entry of walkStream(ref, pageLoader(reader))) entries.push(entry);
    for (const c of counting) c.clear();
    const before0 = faulty[0]!.count('get');
    const fetcher = new ChunkFetcher(reader, { windowChunks, inFlightBytes: 512 * 1024, eagerBytes: 128 * 1024 });
    const parts: Buffer[] = [];
    entries.forEach((entry, at) => fetcher.add(entry, (plaintext) => void (parts[at] = Buffer.from(plaintext))));
    await fetcher.drain();
    assert.ok(Buffer.concat(parts).equals(data), 'read back bit-exact');
    const packs = counting.map((c) => c.counted((g) => g.key.startsWith('packs/')).bytes);
    return { bytes: packs, asked0: faulty[0]!.count('get') - before0, stats: fetcher.stats };
  };
  const reset = (): void => {
    for (const f of faulty) f.reset();
    for (const s of array.members.slots) s.downReason = null;
    array.members.resetLatency();
    array.members.fixedHedgeDelayMs = 60_000;
  };
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

  it('a data member that lacks every pack: about the healthy bytes, and it is asked once per pack, not per request', async () => {
    reset();
    const healthy = await read();
    reset();
    faulty[0]!.lose(/^packs\//);
    const degraded = await read();
    assert.ok(degraded.stats.decoded > 0, JSON.stringify(degraded.stats));
    // Healthy: the data shares once. Degraded: the same, a parity member's positions standing in for member 0's.
    assert.ok(sum(degraded.bytes) <= 1.05 * sum(healthy.bytes), `degraded ${sum(degraded.bytes)} vs healthy ${sum(healthy.bytes)} bytes (${degraded.bytes.join(', ')})`);
    const packCount = new Set(counting[1]!.gets.filter((g) => g.key.startsWith('packs/')).map((g) => g.key)).size;
    assert.ok(packCount > 0);
    // Its first answers come back "missing"; what was already on its way to it is all it is asked.
    assert.ok(degraded.asked0 <= packCount * 4, `member 0 asked ${degraded.asked0} times for ${packCount} packs (${healthy.asked0} when healthy)`);
  });

  it('the same with the members 20 ms away: reads planned while a decode fetches their bytes borrow them', async () => {
    reset();
    const healthy = await read();
    reset();
    faulty[0]!.lose(/^packs\//);
    // A decode's GETs of shares 1-3 are in flight for 20 ms, when those shares' own reads of the same bytes are
    // planned: without lending them, each such read fetched the bytes again.
    for (const f of faulty.slice(1)) f.addLatency(20, { ops: ['get'], key: /^packs\// });
    const degraded = await read();
    assert.ok(degraded.stats.decoded > 0, JSON.stringify(degraded.stats));
    assert.ok(sum(degraded.bytes) <= 1.05 * sum(healthy.bytes), `degraded ${sum(degraded.bytes)} vs healthy ${sum(healthy.bytes)} bytes (${degraded.bytes.join(', ')})`);
    // Each data member its own share's bytes once (1.00x here; 1.08x when those reads fetched them again).
    for (const i of [1, 2, 3]) {
      assert.ok(degraded.bytes[i]! <= 1.03 * healthy.bytes[i]!, `member ${i}: ${degraded.bytes[i]} bytes vs ${healthy.bytes[i]} healthy (${degraded.bytes.join(', ')})`);
    }
  });

  it('small chunks read one by one (trees, without the cache) with a data member down: k × their bytes, not k region spans', async () => {
    const sink = await ChunkSink.open(array, keys, CHUNK);
    const w = sink.openStream();
    const small = randomBytes(200 * 3000);
    for (let at = 0; at < small.length; at += 3000) await w.write(small.subarray(at, at + 3000), true);
    const smallRef = await w.end();
    await sink.finish();
    const readOneByOne = async (): Promise<number> => {
      const reader = new ChunkReader(array.members, array.pool, K, CHUNK);
      const entries = [];
      for await (const entry of walkStream(smallRef, pageLoader(reader))) entries.push(entry);
      for (const entry of entries) await reader.packs.table(packKey(entry.pack.toString('hex')), entry.pack); // tables apart
      for (const c of counting) c.clear();
      const parts: Buffer[] = [];
      for (const entry of entries) parts.push(Buffer.from(await reader.read(entry)));
      assert.ok(Buffer.concat(parts).equals(small), 'read back bit-exact');
      return sum(counting.map((c) => c.counted((g) => g.key.startsWith('packs/')).bytes));
    };
    reset();
    const healthy = await readOneByOne();
    reset();
    faulty[0]!.down();
    const degraded = await readOneByOne();
    // Member 0's chunks (about a quarter) from k members each: at most ~(1 + (k - 1) / 4) × the healthy bytes.
    assert.ok(degraded <= 2 * healthy, `degraded ${degraded} vs healthy ${healthy} bytes`);
  });

  it('a data member on a thin link: once found slow for most of its requests, the keeping starts', async () => {
    reset();
    const healthy = await read(2);
    reset();
    // Judged by what the links are measured at, not a fixed hedge delay; member 0 at 128 KB/s, the others at
    // memory speed: its 128 KiB requests take a second, their decodes a few ms (a wide margin on a busy machine).
    array.members.fixedHedgeDelayMs = null;
    faulty[0]!.throttle(128 * 1024, { ops: ['get'], key: /^packs\// });
    const slow = await read(2);
    assert.ok(slow.stats.keeping && slow.stats.decodeHedges + slow.stats.routedAround >= 4, JSON.stringify(slow.stats));
    // Decodes of member 0's positions come before the other data shares' reads of them: unkept, those were
    // fetched twice (1.9-2.0x the healthy bytes); kept from member 0's fourth slow request on, 1.3-1.4x.
    for (const i of [1, 2, 3]) {
      assert.ok(slow.bytes[i]! <= 1.6 * healthy.bytes[i]!, `member ${i}: ${slow.bytes[i]} bytes vs ${healthy.bytes[i]} healthy (${slow.bytes.join(', ')})`);
    }
  });

  it('a data member down: the same', async () => {
    reset();
    const healthy = await read();
    reset();
    faulty[0]!.down();
    const degraded = await read();
    assert.ok(sum(degraded.bytes) <= 1.05 * sum(healthy.bytes), `degraded ${sum(degraded.bytes)} vs healthy ${sum(healthy.bytes)} bytes (${degraded.bytes.join(', ')})`);
  });
});
