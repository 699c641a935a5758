/**
 * Forwarding chains stay one step long however often prune moves a chunk (issue 9). Each round backs up a
 * tree, stores one of its files again with put (the put dedups into the backup's pack, and its entry names
 * that pack for good), forgets all but the latest snapshot and prunes. The data that round makes garbage
 * leaves the packs holding the put files' chunks mostly garbage, so every prune moves them again: without
 * new generations of the records, the entry of the first put leads through one record per round.
 *
 * After every prune: every chunk of the live snapshot and of every put file (old capabilities included)
 * reads and authenticates, each put file reads back bit-exact, no read follows more than one record, and
 * each pack's record has one generation left. At the end, check reading all data is clean.
 *
 * Crash safety: a prune that moves chunks again and writes new generations is stopped after each of its
 * writes and deletes in turn (every later one fails, as if the process died there); each time every chunk
 * must still be found, and the next prune must converge to chains of one step. A member rolled back to
 * before such a prune (it serves the older generations, and the packs they lead to) misleads no reader.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backup } from '../../../src/core/backup.js';
import { readCatalog } from '../../../src/core/catalog.js';
import { checkArray } from '../../../src/core/check.js';
import { forget } from '../../../src/core/forget.js';
import { loadManifest, streamFile } from '../../../src/core/get.js';
import { prune } from '../../../src/core/prune.js';
import { putStream } from '../../../src/core/put.js';
import { repair } from '../../../src/core/repair.js';
import { forEachReachable } from '../../../src/core/reachable.js';
import { DEFAULT_CDC } from '../../../src/chunk/index.js';
import {
  ChunkReader,
  FORWARD_PREFIX,
  Members,
  RaicArray,
  newMasterKey,
  parseCapability,
  parseForwardKey,
  repoKeys,
  type ChunkEntry,
} from '../../../src/store/index.js';
import { RaicError } from '../../../src/errors.js';
import type { ByteRange, ObjectInfo, Provider } from '../../../src/providers/types.js';
import { tempDir } from '../../support/cli.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROUNDS = 5;
/** One chunk for put and for backup's CDC alike, so the put dedups into the backup's pack. */
const PUT_BYTES = 64 * KiB;
/** Rewritten every round: more than half of each backup's data pack is garbage one round later. */
const CHURN_BYTES = 3 * MiB;
/** Kept for two rounds: what makes the packs prune writes mostly garbage in the round after. */
const STAY_BYTES = 2 * MiB;

/** A member that stops storing and deleting once the run's shared budget of writes is spent: a crash there. */
class CrashingProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: Provider['capabilities'];
  constructor(
    readonly inner: MemoryProvider,
    private readonly budget: { writes: number },
  ) {
    this.displayUrl = inner.displayUrl;
    this.capabilities = inner.capabilities;
  }
  private spend(what: string): void {
    if (this.budget.writes <= 0) throw new RaicError('Permanent', `${this.displayUrl}: ${what}: the process died`);
    this.budget.writes -= 1;
  }
  prepare = (): Promise<void> => this.inner.prepare();
  put = async (key: string, body: Uint8Array): Promise<void> => {
    this.spend(`put ${key}`);
    return this.inner.put(key, body);
  };
  delete = async (key: string): Promise<void> => {
    this.spend(`delete ${key}`);
    return this.inner.delete(key);
  };
  get = (key: string, range?: ByteRange): Promise<Buffer> => this.inner.get(key, range);
  head = (key: string): Promise<ObjectInfo> => this.inner.head(key);
  list = (prefix: string): AsyncIterable<ObjectInfo> => this.inner.list(prefix);
  close = (): Promise<void> => this.inner.close();
}

/** An array of k=2, n=3 in memory, and the work of the rounds above. */
class ChainFixture {
  readonly memory = Array.from({ length: 3 }, (_, i) => new MemoryProvider({ name: `chain-${i}` }));
  /** Writes left before the "crash" (unlimited unless a test sets it). */
  readonly budget = { writes: Number.POSITIVE_INFINITY };
  readonly array: RaicArray;
  readonly keys = repoKeys(newMasterKey());
  /** Every put so far: its capability and bytes. */
  readonly puts: { capability: string; bytes: Buffer }[] = [];
  private readonly arrayId = randomBytes(16).toString('hex');

  constructor(
    private readonly src: string,
    private readonly sizes: { churn: number; stay: number; put: number },
  ) {
    const members = Members.fromProviders(this.memory.map((m) => new CrashingProvider(m, this.budget)));
    this.array = RaicArray.fromMembers({ arrayId: this.arrayId, k: 2, n: 3 }, members, { workers: 1 });
  }

  async init(): Promise<void> {
    await mkdir(this.src);
    await writeMemberConfigs(this.memory, this.arrayId, 2);
  }

  /** Backs up this round's tree, puts one of its files, forgets all but the latest snapshot. */
  async round(round: number): Promise<void> {
    const { src, array, keys } = this;
    await writeFile(join(src, 'churn.bin'), randomBytes(this.sizes.churn));
    await writeFile(join(src, `stay-${round}.bin`), randomBytes(this.sizes.stay));
    await rm(join(src, `stay-${round - 2}.bin`), { force: true });
    const putBytes = randomBytes(this.sizes.put);
    await rm(join(src, `put-${round - 1}.bin`), { force: true });
    await writeFile(join(src, `put-${round}.bin`), putBytes);
    await backup(array, keys, await readCatalog(array, keys), { paths: [src], host: 'chains' });
    const put = await putStream(
      array,
      keys,
      (async function* () {
        yield putBytes;
      })(),
      { label: `put-${round}` },
    );
    assert.equal(put.newChunks, 0, 'the put dedups into the backup’s pack');
    this.puts.push({ capability: put.capability, bytes: putBytes });
    await forget(array, keys, { last: 1 }, { dryRun: false });
  }

  /** Reads every chunk every catalog record reaches with one reader; returns the longest chain it followed. */
  async readEverything(): Promise<number> {
    const { array, keys } = this;
    const reader = new ChunkReader(array.members, array.pool, array.k, DEFAULT_CDC.maxSize);
    const records = await readCatalog(array, keys);
    assert.equal(records.filter((r) => r.kind === 'file').length, this.puts.length, 'every put is in the catalog');
    for (const record of records) {
      const entries: ChunkEntry[] = [];
      await forEachReachable(array, reader, record, (e) => entries.push(e));
      for (const e of entries) reader.recycle(await reader.read(e)); // authenticated by the chunk's own key
    }
    for (const put of this.puts) {
      const parts: Buffer[] = [];
      await streamFile(array, await loadManifest(array, parseCapability(put.capability)), async (b) => void parts.push(Buffer.from(b)));
      assert.ok(Buffer.concat(parts).equals(put.bytes), 'a put file reads back bit-exact');
    }
    return reader.longestForwardChain;
  }

  /** Each pack with records → how many generations member 0 holds. */
  generations(): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of this.memory[0]!.objects.keys()) {
      if (!key.startsWith(FORWARD_PREFIX)) continue;
      const named = parseForwardKey(key);
      assert.ok(named, `${key} is a record key`);
      out.set(named.pack, (out.get(named.pack) ?? 0) + 1);
    }
    return out;
  }

  /** Every member's objects, to put back with restore(). */
  save(): Map<string, Buffer>[] {
    return this.memory.map((m) => new Map(m.objects));
  }

  /** Puts every member (or only member `only`) back as save() found it. */
  restore(saved: Map<string, Buffer>[], only?: number): void {
    for (const [i, m] of this.memory.entries()) {
      if (only !== undefined && i !== only) continue;
      m.objects.clear();
      for (const [k, v] of saved[i]!) m.objects.set(k, v);
    }
  }
}

describe('prune keeps forwarding chains one step long over rounds of backup, forget and prune', { timeout: 300_000 }, () => {
  let dir: string;
  const fixtures: ChainFixture[] = [];
  before(async () => {
    dir = await tempDir('prune-chains');
  });
  after(async () => {
    for (const f of fixtures) await f.array.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(`${ROUNDS} rounds: every chunk stays readable, no chain is longer than one record`, async () => {
    const f = new ChainFixture(join(dir, 'rounds'), { churn: CHURN_BYTES, stay: STAY_BYTES, put: PUT_BYTES });
    fixtures.push(f);
    await f.init();
    const chains: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await f.round(round);
      const result = await prune(f.array, f.keys, { dryRun: false });
      assert.equal(result.liveChunksMissing, 0);
      if (round >= 2) assert.ok(result.packsRepacked >= 1 && result.chunksMoved >= round - 1, `round ${round}: the put files’ chunks move again: ${JSON.stringify(result)}`);
      chains.push(await f.readEverything());
      const generations = [...f.generations()];
      assert.ok(
        generations.every(([, count]) => count === 1),
        `round ${round}: one generation per pack's record: ${JSON.stringify(generations)}`,
      );
    }
    console.log(`longest forwarding chain read after each prune: ${chains.join(', ')}`);
    assert.ok(chains.at(-1)! >= 1, 'chunks were read through records');
    assert.ok(
      chains.every((c) => c <= 1),
      `longest chain after each prune: ${chains.join(', ')}`,
    );
    const report = await checkArray(f.array, f.keys, true);
    assert.equal(report.ok, true, JSON.stringify(report.members.filter((m) => m.damaged.length > 0)));
  });

  /**
   * Three rounds pruned and a fourth backed up: the next prune moves the put files' chunks again and writes
   * new generations. Small files (one chunk each, below the CDC minimum): that prune is cheap to run often.
   */
  async function readyToMoveAgain(name: string): Promise<ChainFixture> {
    const f = new ChainFixture(join(dir, name), { churn: 150 * KiB, stay: 100 * KiB, put: 16 * KiB });
    fixtures.push(f);
    await f.init();
    for (let round = 1; round <= 3; round++) {
      await f.round(round);
      await prune(f.array, f.keys, { dryRun: false });
    }
    await f.round(4);
    return f;
  }

  it('a prune stopped after any one of its writes or deletes loses no chunk; the next prune converges', async () => {
    const f = await readyToMoveAgain('crash');
    const before = f.save();
    // How many writes and deletes a whole prune makes from here.
    f.budget.writes = Number.MAX_SAFE_INTEGER;
    const whole = await prune(f.array, f.keys, { dryRun: false });
    const total = Number.MAX_SAFE_INTEGER - f.budget.writes;
    console.log(`prune stopped at each of its ${total} writes and deletes`);
    assert.ok(whole.forwardRecordsWritten >= 2 && whole.forwardRecordsDeleted >= 1, `the prune rewrites records: ${JSON.stringify(whole)}`);
    for (let writes = 0; writes < total; writes++) {
      f.restore(before);
      f.budget.writes = writes;
      await assert.rejects(prune(f.array, f.keys, { dryRun: false }), /the process died/, `stopped after ${writes} of ${total}`);
      f.budget.writes = Number.POSITIVE_INFINITY;
      await f.readEverything(); // every chunk found, wherever the prune stopped
      const next = await prune(f.array, f.keys, { dryRun: false });
      assert.equal(next.liveChunksMissing, 0);
      assert.ok((await f.readEverything()) <= 1, `stopped after ${writes} of ${total}: chains of one step once the next prune is done`);
      assert.ok([...f.generations().values()].every((count) => count === 1), `stopped after ${writes} of ${total}: one generation per pack`);
    }
  });

  it('a member rolled back to before the prune that wrote new generations misleads no reader; prune and repair put it right', async () => {
    const f = await readyToMoveAgain('rollback');
    const before = f.save();
    const result = await prune(f.array, f.keys, { dryRun: false });
    assert.ok(result.forwardRecordsDeleted >= 1, JSON.stringify(result));
    // Member 0 as it was before that prune: older generations, the packs they lead to, none of the new ones.
    f.restore(before, 0);
    const stale = [...f.memory[0]!.objects.keys()].filter((k) => k.startsWith(FORWARD_PREFIX) && !f.memory[1]!.objects.has(k));
    assert.ok(stale.length > 0, 'member 0 serves generations the others deleted');
    assert.ok((await f.readEverything()) <= 1, 'readers take the newest generation the others list');
    const again = await prune(f.array, f.keys, { dryRun: false });
    assert.equal(again.liveChunksMissing, 0);
    assert.ok((await f.readEverything()) <= 1);
    await repair(f.array, f.keys);
    const report = await checkArray(f.array, f.keys, true);
    assert.equal(report.ok, true, JSON.stringify(report.members.filter((m) => m.damaged.length > 0)));
    assert.ok([...f.generations().values()].every((count) => count === 1), 'the stale generations are gone from member 0');
  });
});
