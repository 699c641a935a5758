/**
 * The store under injected faults (in process, memory providers behind the fault-injecting wrapper):
 * members failing, hanging, slow, corrupting or losing objects — reads stay bit-exact, problems are
 * recorded, and a slow member costs a hedge delay, not its latency.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ChunkFetcher, ChunkSink, Members, RaicArray, ChunkReader, newMasterKey, repoKeys, walkStream, pageLoader, type StreamRef } from '../../../src/store/index.js';
import { withRetry } from '../../../src/providers/index.js';
import { createMemoryProvider } from '../../support/memory-provider.js';
import { FaultyProvider } from '../../support/faulty-provider.js';

const K = 2;
const N = 4;

describe('store under injected faults (k=2, n=4)', () => {
  const faulty = Array.from({ length: N }, () => new FaultyProvider(createMemoryProvider()));
  const array = RaicArray.fromMembers({ arrayId: randomBytes(16).toString('hex'), k: K, n: N }, Members.fromProviders(faulty.map((f) => withRetry(f, { attempts: 2, baseDelayMs: 5 }))), { chunkBytes: 256 * 1024 });
  const keys = repoKeys(newMasterKey());
  const data = randomBytes(3 * 1024 * 1024 + 77);
  let ref: StreamRef;

  before(async () => {
    const sink = await ChunkSink.open(array, keys, 256 * 1024);
    const w = sink.openStream();
    for (let at = 0; at < data.length; at += 256 * 1024) await w.write(data.subarray(at, at + 256 * 1024), false);
    ref = await w.end();
    await sink.finish();
  });
  after(async () => array.close());

  const readAll = async (): Promise<{ bytes: Buffer; reader: ChunkReader }> => {
    const reader = new ChunkReader(array.members, array.pool, K, 256 * 1024);
    const parts: Buffer[] = [];
    for await (const entry of walkStream(ref, pageLoader(reader))) parts.push(Buffer.from(await reader.read(entry)));
    return { bytes: Buffer.concat(parts), reader };
  };
  /** The same through a ChunkFetcher, as restore and get read: chunks planned together, neighbours in one request. */
  const readPlanned = async (): Promise<{ bytes: Buffer; reader: ChunkReader; fetcher: ChunkFetcher }> => {
    const reader = new ChunkReader(array.members, array.pool, K, 256 * 1024);
    const fetcher = new ChunkFetcher(reader);
    const parts: Buffer[] = [];
    let i = 0;
    for await (const entry of walkStream(ref, pageLoader(reader))) {
      const at = i++;
      fetcher.add(entry, (plaintext) => void (parts[at] = Buffer.from(plaintext)));
    }
    await fetcher.drain();
    return { bytes: Buffer.concat(parts), reader, fetcher };
  };
  /** Fresh members; with `hedging` false no hedge fires and no latency is learnt (members are asked in share
   * order, data shares first; only failures move a read to another member), so which members are asked does
   * not depend on how loaded the machine is. */
  const measured = array.members.observe.bind(array.members);
  const reset = (hedging = false): void => {
    for (const f of faulty) f.reset();
    for (const s of array.members.slots) s.downReason = null;
    array.members.resetLatency();
    array.members.fixedHedgeDelayMs = hedging ? null : 60_000;
    array.members.observe = hedging ? measured : () => undefined;
  };

  it('reads bit-exact when n−k members refuse every call, and marks them down after the first failure', async () => {
    reset();
    faulty[0]!.down();
    faulty[1]!.down();
    const { bytes } = await readAll();
    assert.ok(bytes.equals(data));
    assert.ok(!array.members.isUp(0) && !array.members.isUp(1));
    assert.ok(faulty[0]!.count('get') <= 2, `member 0 was asked ${faulty[0]!.count('get')} times`);
  });

  it('reads a stream through the planner with a few coalesced requests per member, not one per chunk', async () => {
    reset();
    const asked = faulty.map((f) => f.count('get'));
    const { bytes } = await readPlanned();
    assert.ok(bytes.equals(data));
    const gets = faulty.map((f, i) => f.count('get') - asked[i]!);
    // 13 chunks in one pack: its table from k members (one get each, the prefix holds it), the first MiB
    // planned at once (the links idle meanwhile), then the rest of each data member's 1.5 MiB share in
    // requests of at most 1 MiB.
    assert.ok(gets.reduce((a, b) => a + b, 0) >= K, `no member was read: ${gets}`);
    for (const [i, g] of gets.entries()) assert.ok(g <= 4, `member ${i} was asked ${g} times for 13 neighbouring chunks`);
  });

  it('treats corrupt shares as missing and records them', async () => {
    reset();
    faulty[0]!.corruptGets();
    faulty[2]!.corruptGets();
    const asked = faulty.map((f) => f.count('get'));
    const { bytes, reader } = await readAll();
    assert.ok(bytes.equals(data));
    // Which members are asked depends on their recent latency; every corrupt one that was asked is recorded,
    // and nothing else is.
    for (const m of [0, 2]) {
      if (faulty[m]!.count('get') > asked[m]!) assert.ok(reader.problems.some((p) => p.member === m && p.problem === 'corrupt'), `member ${m}`);
    }
    assert.ok(reader.problems.every((p) => p.problem === 'corrupt' && (p.member === 0 || p.member === 2)), JSON.stringify(reader.problems));
  });

  it('works around lost objects', async () => {
    reset();
    faulty[1]!.lose(/^packs\//);
    faulty[3]!.lose(/^packs\//);
    const { bytes, reader } = await readAll();
    assert.ok(bytes.equals(data));
    assert.ok(reader.problems.some((p) => p.member === 1 && p.problem === 'missing'));
  });

  it('a data member down: the planner decodes its share from the same bytes of k others, no verified rebuild', async () => {
    reset();
    faulty[0]!.down();
    const { bytes, fetcher } = await readPlanned();
    assert.ok(bytes.equals(data));
    assert.ok(fetcher.stats.decoded > 0, JSON.stringify(fetcher.stats));
    // One pack, two data shares: only a chunk across their boundary is read again whole (verified).
    assert.ok(fetcher.stats.fallbacks <= 1, JSON.stringify(fetcher.stats));
  });

  it('a data member down and a decoding member lying: what does not authenticate is rebuilt from verified bytes', async () => {
    reset();
    faulty[0]!.down();
    // Asked in share order (no latency learnt): share 0 is decoded from members 1 and 2, and 2 corrupts.
    faulty[2]!.corruptGets({ key: /^packs\// });
    const { bytes, reader, fetcher } = await readPlanned();
    assert.ok(bytes.equals(data));
    assert.ok(fetcher.stats.fallbacks > 0, JSON.stringify(fetcher.stats));
    assert.ok(reader.problems.some((p) => p.member === 2 && p.problem === 'corrupt'), JSON.stringify(reader.problems));
  });

  it('a slow member costs little: tables are hedged around it, its share comes in a few requests', async () => {
    reset(true);
    const t0 = performance.now();
    await readPlanned();
    const fast = performance.now() - t0;
    reset(true);
    faulty[0]!.addLatency(400, { ops: ['get'] });
    const t1 = performance.now();
    const { bytes, fetcher } = await readPlanned();
    const slow = performance.now() - t1;
    assert.ok(bytes.equals(data));
    // Member 0 holds a data share: its late requests are decoded from the others (hedged, then routed around).
    assert.ok(fetcher.stats.decodeHedges + fetcher.stats.routedAround > 0, JSON.stringify(fetcher.stats));
    // 13 chunks: read one by one, member 0 would add ≥ 7 × 400 ms; planned, its share is two requests.
    assert.ok(slow < fast + 2500, `slow member: ${slow.toFixed(0)} ms vs ${fast.toFixed(0)} ms`);
  });

  it('fails with a Quorum error naming the members when fewer than k can answer', async () => {
    reset();
    for (const i of [0, 1, 2]) faulty[i]!.down();
    await assert.rejects(readAll(), (err: Error & { code?: string }) => err.code === 'Quorum' && /only|shares obtainable/.test(err.message));
  });
});
