/**
 * One slow member costs little (issue 11), with provider doubles whose slow member never answers until its
 * call is cancelled — so every verdict follows from the doubles, not from the clock:
 *
 * - reads: a member that never answers a get is hedged around (the read completes from the others) and its
 *   call is cancelled once overtaken, without being recorded as a problem of that member;
 * - writes: a member whose puts never finish does not hold a put back — it commits with the write quorum,
 *   the member is cut off after the grace and named as too slow, its backlog stays bounded, and repair then
 *   fills it so check is clean;
 * - members equally slow (one shared link) all get everything.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { checkArray } from '../../../src/core/check.js';
import { loadManifest, streamFile } from '../../../src/core/get.js';
import { putStream } from '../../../src/core/put.js';
import { repair } from '../../../src/core/repair.js';
import { describeDegraded } from '../../../src/cli/format.js';
import { withRetry } from '../../../src/providers/index.js';
import { Members, RaicArray, loadIndex, newMasterKey, parseCapability, repoKeys } from '../../../src/store/index.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const MiB = 1024 * 1024;
const K = 2;
const N = 4;

/** k=2, n=4 (write quorum 3) on memory members behind fault injection, with 2 MiB chunks in 4 MiB packs. */
async function fourMembers() {
  const arrayId = randomBytes(16).toString('hex');
  const memory = Array.from({ length: N }, (_, i) => new MemoryProvider({ name: `m${i}` }));
  await writeMemberConfigs(memory, arrayId, K);
  const faulty = memory.map((m) => new FaultyProvider(m));
  const members = Members.fromProviders(faulty.map((f) => withRetry(f, { attempts: 2, baseDelayMs: 5 })));
  const array = RaicArray.fromMembers({ arrayId, k: K, n: N }, members, { workers: 1, chunkBytes: 2 * MiB, packBudgetBytes: 8 * MiB });
  const keys = repoKeys(newMasterKey());
  const put = (bytes: Buffer) =>
    putStream(array, keys, (async function* () {
      for (let at = 0; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB);
    })());
  return { memory, faulty, array, keys, put };
}

let open: RaicArray[] = [];
afterEach(async () => {
  for (const a of open) await a.close();
  open = [];
});

describe('one slow member: reads', () => {
  it('a member whose gets never answer is hedged around, then cancelled, and is no problem of its own', async () => {
    const f = await fourMembers();
    open.push(f.array);
    await f.put(randomBytes(3 * MiB));
    f.array.members.resetLatency();
    f.array.members.fixedHedgeDelayMs = 5;
    // Member 0 holds data share 0: the index segment's read prefers it, so it is asked first.
    f.faulty[0]!.stall({ ops: ['get'] });
    const gets = f.faulty[0]!.count('get');
    const index = await loadIndex(f.array.members, K, f.keys.index);
    assert.ok(index.size >= 2, `the index loads from the others (${index.size} refs)`);
    assert.ok(f.faulty[0]!.count('get') > gets, 'member 0 was asked');
    assert.ok(f.faulty[0]!.cancelled.some((c) => c.op === 'get'), 'and its overtaken get was cancelled');
    assert.equal(f.faulty[0]!.held, 0, 'nothing of member 0 is left running');
    assert.ok(f.array.members.isUp(0), 'an overtaken member is not marked down');
  });
});

describe('one slow member: writes', () => {
  it('puts commit with the quorum; the member whose puts never finish is cut off, named, bounded; repair makes check clean', async () => {
    const f = await fourMembers();
    open.push(f.array);
    f.faulty[3]!.stall({ ops: ['put'] });
    const data = randomBytes(40 * MiB);
    const result = await f.put(data);
    // 40 MiB in 4 MiB bodies: 10+ data packs, a metadata pack, the index segment, the manifest, the catalog record.
    assert.equal(result.degraded.length, 1, JSON.stringify(result.degraded));
    const [d] = result.degraded;
    assert.equal(d!.member, 3);
    assert.ok(d!.missedObjects >= 14, `missed ${d!.missedObjects}`);
    assert.equal(d!.slowObjects, d!.missedObjects, 'every miss was a cut-off, not a failure');
    assert.equal(f.faulty[3]!.cancelled.filter((c) => c.op === 'put').length, d!.missedObjects, 'each cut-off put was cancelled (its signal fired)');
    assert.equal(f.faulty[3]!.held, 0);
    // The backlog: per pack writer, the pack uploading and at most two whose quorum already held.
    assert.ok(f.faulty[3]!.maxHeld <= 6, `member 3 held ${f.faulty[3]!.maxHeld} puts at once`);
    const line = describeDegraded(result.degraded, N)!;
    assert.match(line, /^stored on 3 of 4 members — run raic repair \(missed: memory:\/\/m3, too slow to keep up: \d+ objects left for repair\)$/);
    assert.ok(f.array.members.isUp(3), 'a slow member is not marked down');

    // The link recovers; repair fills member 3, and check (reading all data) is clean.
    f.faulty[3]!.reset();
    const before = (await checkArray(f.array, f.keys, true)).members[3]!;
    assert.ok(before.missing > 0, 'check sees what member 3 missed');
    const repaired = await repair(f.array, f.keys);
    assert.ok(repaired.copied.length + repaired.rebuilt.length >= d!.missedObjects - 1, JSON.stringify({ copied: repaired.copied.length, rebuilt: repaired.rebuilt.length }));
    const report = await checkArray(f.array, f.keys, true);
    assert.ok(report.ok, JSON.stringify(report.members));
    assert.equal(report.members[3]!.missing, 0);

    // And the file reads back bit-exact.
    const parts: Buffer[] = [];
    await streamFile(f.array, await loadManifest(f.array, parseCapability(result.capability)), async (b) => void parts.push(Buffer.from(b)));
    assert.ok(Buffer.concat(parts).equals(data));
  });

  it('members equally slow (one shared link) all get every object', async () => {
    const f = await fourMembers();
    open.push(f.array);
    for (const m of f.faulty) m.throttle(200 * MiB, { ops: ['put'] });
    const result = await f.put(randomBytes(24 * MiB));
    assert.deepEqual(result.degraded, []);
    assert.ok(f.faulty.every((m) => m.cancelled.length === 0));
  });
});
