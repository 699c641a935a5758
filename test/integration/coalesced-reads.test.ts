/**
 * Reads that fetch only what they use (issue 11): restore and get of data through the ChunkFetcher, on
 * memory members that count every get. Each needed sealed byte is downloaded about once (within 10%, plus the
 * pack tables), neighbouring chunks come in one request, a chunk several files share is fetched once (in one
 * window by the fetcher, across windows by copying it from the file it was written to), and a corrupt share,
 * a member that is down or one that lost its packs still restore bit-exact through the fallback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backup } from '../../src/core/backup.js';
import { loadManifest, streamFile } from '../../src/core/get.js';
import { putStream } from '../../src/core/put.js';
import { restoreTree } from '../../src/core/restore.js';
import { walkTree } from '../../src/core/tree-walk.js';
import { withRetry } from '../../src/providers/index.js';
import {
  ChunkFetcher,
  ChunkReader,
  Members,
  RaicArray,
  newMasterKey,
  packKey,
  pageLoader,
  parseCapability,
  repoKeys,
  streamOf,
  walkStream,
  type BatchPlacer,
  type ChunkEntry,
  type ManifestRoot,
  type RepoKeys,
} from '../../src/store/index.js';
import { tempDir } from '../support/cli.js';
import { CountingProvider } from '../support/counting-provider.js';
import { FaultyProvider } from '../support/faulty-provider.js';
import { MemoryProvider } from '../support/memory-provider.js';
import { assertSameTree, buildTree, mixedSizes, snapshotTree, type TreeSnapshot } from '../support/tree-fixture.js';
import { writeMemberConfigs } from '../support/member-configs.js';

const K = 2;
const N = 4;
const KiB = 1024;
const MiB = 1024 * KiB;
/** What a table read asks of one member (pack-reader.ts). */
const TABLE_PREFIX_BYTES = 16 * KiB;

interface Fixture {
  array: RaicArray;
  keys: RepoKeys;
  counting: CountingProvider[];
  faulty: FaultyProvider[];
}

async function fourMembers(tuning: { chunkBytes?: number; packBudgetBytes?: number } = {}): Promise<Fixture> {
  const arrayId = randomBytes(16).toString('hex');
  const memory = Array.from({ length: N }, (_, i) => new MemoryProvider({ name: `m${i}` }));
  await writeMemberConfigs(memory, arrayId, K);
  const counting = memory.map((m) => new CountingProvider(m));
  const faulty = counting.map((c) => new FaultyProvider(c));
  const members = Members.fromProviders(faulty.map((f) => withRetry(f, { attempts: 2, baseDelayMs: 5 })));
  // Hedges would make the byte counts depend on how loaded the machine is.
  members.fixedHedgeDelayMs = 60_000;
  const array = RaicArray.fromMembers({ arrayId, k: K, n: N }, members, { workers: 1, ...tuning });
  return { array, keys: repoKeys(newMasterKey()), counting, faulty };
}

/** The distinct data chunks a stream tree names (pages read, not counted), and their packs. */
async function dataChunks(array: RaicArray, root: ManifestRoot, tree: boolean): Promise<Map<string, ChunkEntry>> {
  const reader = new ChunkReader(array.members, array.pool, K);
  const chunks = new Map<string, ChunkEntry>();
  const add = async (stream: Parameters<typeof walkStream>[0]): Promise<void> => {
    for await (const e of walkStream(stream, pageLoader(reader))) chunks.set(e.id.toString('hex'), e);
  };
  if (!tree) await add(streamOf(root));
  else for await (const ev of walkTree(reader, streamOf(root))) if (ev.kind === 'leaf' && ev.node.content) await add(ev.node.content);
  return chunks;
}

/** What the members served of the given packs since the counters were cleared: table reads apart from data. */
function packTraffic(f: Fixture, chunks: Map<string, ChunkEntry>) {
  const keys = new Set([...chunks.values()].map((e) => packKey(e.pack.toString('hex'))));
  const isTable = (g: { range?: { offset: number } | undefined }): boolean => g.range?.offset === 0;
  const data = f.counting.map((c) => c.counted((g) => keys.has(g.key) && !isTable(g)));
  const tables = f.counting.map((c) => c.counted((g) => keys.has(g.key) && isTable(g)));
  return {
    packs: keys.size,
    dataBytes: data.reduce((s, d) => s + d.bytes, 0),
    dataRequests: data.reduce((s, d) => s + d.requests, 0),
    tableRequests: tables.reduce((s, d) => s + d.requests, 0),
    perMember: data,
  };
}

const sealedBytes = (chunks: Map<string, ChunkEntry>): number => [...chunks.values()].reduce((s, e) => s + e.length, 0);
const clear = (f: Fixture): void => {
  for (const c of f.counting) c.clear();
  for (const x of f.faulty) x.reset();
  for (const s of f.array.members.slots) s.downReason = null;
};

describe('reads that fetch only what they use: restore', { timeout: 180_000 }, () => {
  let f: Fixture;
  let dir: string;
  let src: string;
  let want: TreeSnapshot;
  let root: ManifestRoot;
  let chunks: Map<string, ChunkEntry>;
  let restores = 0;
  /** A small file of the tree (its path under src). */
  let small: string;

  before(async () => {
    f = await fourMembers();
    dir = await tempDir('coalesced-reads');
    src = join(dir, 'src');
    const sizes = mixedSizes(4242, 90, 14 * MiB); // two data packs and part of a third
    const built = await buildTree(src, { seed: 4242, sizes, filesPerDir: 8 });
    // Duplicates far apart in the walk: a large file and a small one copied into the first and last directories.
    const large = built.files[sizes.findIndex((n) => n > 300 * KiB)]!;
    small = built.files[sizes.findIndex((n) => n > 20 * KiB && n < 90 * KiB)]!;
    await mkdir(join(src, '0 first'));
    await mkdir(join(src, 'zz last'));
    for (const d of ['0 first', 'zz last']) {
      await copyFile(join(src, large), join(src, d, 'large copy'));
      await copyFile(join(src, small), join(src, d, 'small copy'));
    }
    want = await snapshotTree(src);
    const result = await backup(f.array, f.keys, [], { paths: [src] });
    root = await loadManifest(f.array, parseCapability(result.capability));
    chunks = await dataChunks(f.array, root, true);
  });
  after(async () => {
    await f.array.close();
    await rm(dir, { recursive: true, force: true });
  });

  const restore = async (opts: Partial<Parameters<typeof restoreTree>[2]> = {}) => {
    clear(f);
    const target = join(dir, `restore-${restores++}`);
    const result = await restoreTree(f.array, root, { target, ...opts });
    await assertSameTree(want, join(target, src));
    await rm(target, { recursive: true, force: true });
    return { result, traffic: packTraffic(f, chunks) };
  };

  it('downloads each needed sealed byte once, neighbours in one request, duplicates once', async () => {
    const { traffic } = await restore({ convergenceKey: f.keys.convergence });
    const needed = sealedBytes(chunks);
    assert.ok(traffic.dataBytes >= needed, `${traffic.dataBytes} bytes fetched, ${needed} needed`);
    assert.ok(traffic.dataBytes <= 1.1 * needed, `${traffic.dataBytes} bytes fetched for ${needed} needed`);
    assert.ok(traffic.tableRequests <= N * traffic.packs, `${traffic.tableRequests} table reads for ${traffic.packs} packs`);
    // Every chunk lies beside the next in its pack: a request covers up to 1 MiB of them, not one each.
    assert.ok(traffic.dataRequests * 4 < chunks.size, `${traffic.dataRequests} requests for ${chunks.size} chunks`);
    // Only the data shares are read, each about its share.
    for (const [i, m] of traffic.perMember.entries()) if (i >= K) assert.equal(m.requests, 0, `parity member ${i} was read`);
  });

  it('a duplicate needed again after its window is copied from the file it was written to, checked by its key', async () => {
    const tiny = { windowChunks: 2, eagerBytes: 1 };
    const { traffic } = await restore({ convergenceKey: f.keys.convergence, fetch: tiny });
    assert.ok(traffic.dataBytes <= 1.1 * sealedBytes(chunks), `${traffic.dataBytes} bytes fetched for ${sealedBytes(chunks)} needed`);
    // Without the convergence key (a tree capability) the same windows fetch the duplicates again.
    const again = await restore({ fetch: tiny });
    assert.ok(again.traffic.dataBytes > traffic.dataBytes + 300 * KiB, `${again.traffic.dataBytes} vs ${traffic.dataBytes}`);
  });

  it('a member serving corrupt shares: restored bit-exact from the others, the member recorded', async () => {
    f.array.members.resetLatency();
    clear(f);
    f.faulty[0]!.corruptGets({ key: /^packs\// });
    const target = join(dir, 'corrupt');
    const result = await restoreTree(f.array, root, { target, convergenceKey: f.keys.convergence });
    await assertSameTree(want, join(target, src));
    assert.ok(result.shareProblems > 0, 'the corrupt member was not recorded');
    // One rebuild per failed request, not one per chunk: the rebuilds read k region-aligned spans each.
    const traffic = packTraffic(f, chunks);
    assert.ok(traffic.dataBytes <= 4 * sealedBytes(chunks), `${traffic.dataBytes} bytes for ${sealedBytes(chunks)} needed`);
  });

  it('a member that is down, or lost its packs: restored bit-exact', async () => {
    f.array.members.resetLatency();
    clear(f);
    f.faulty[1]!.down();
    let target = join(dir, 'down');
    await restoreTree(f.array, root, { target });
    await assertSameTree(want, join(target, src));
    clear(f);
    f.faulty[0]!.lose(/^packs\//);
    target = join(dir, 'lost');
    const result = await restoreTree(f.array, root, { target });
    await assertSameTree(want, join(target, src));
    assert.ok(result.shareProblems > 0);
  });

  it('a restore stopped while its data reads hang rejects Cancelled once every file has settled, and leaves no temp file', async () => {
    f.array.members.resetLatency();
    clear(f);
    const dataPacks = new Set([...chunks.values()].map((e) => packKey(e.pack.toString('hex'))));
    for (const x of f.faulty) x.stall({ ops: ['get'], key: (k) => dataPacks.has(k) });
    const target = join(dir, 'stopped');
    const stop = new AbortController();
    const restoring = restoreTree(f.array, root, { target, convergenceKey: f.keys.convergence, signal: stop.signal });
    const temps = async (): Promise<string[]> => ((await readdir(target, { recursive: true }).catch(() => [])) as string[]).filter((p) => p.includes('.raic-'));
    // Files are started (a large one has its temp file) and their reads hang: then the user stops the restore.
    while (!f.faulty.some((x) => x.held > 0) || (await temps()).length === 0) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await assert.rejects(restoring, (err: Error & { code?: string }) => err.code === 'Cancelled');
    assert.deepEqual(await temps(), []);
    clear(f);
  });

  it('a small file a worker cannot write fails the restore, naming it, and the restore still settles', async () => {
    clear(f);
    const target = join(dir, 'blocked');
    await restoreTree(f.array, root, { target });
    // With --overwrite, a directory where a small file goes is not replaced: the worker reports it.
    const blocked = join(target, src, small);
    await rm(blocked);
    await mkdir(join(blocked, 'inside'), { recursive: true });
    await assert.rejects(restoreTree(f.array, root, { target, overwrite: true }), (err: Error & { code?: string }) => err.code === 'Usage' && err.message.includes('is a directory; not replacing it with a file') && err.message.includes(small));
    const left = ((await readdir(target, { recursive: true })) as string[]).filter((p) => p.includes('.raic-'));
    assert.deepEqual(left, []);
    await rm(target, { recursive: true, force: true });
  });

  it('fewer than k members with their packs: the restore fails and leaves no temp file behind', async () => {
    f.array.members.resetLatency();
    clear(f);
    // Data packs only: the tree still walks, files are started, and their chunks cannot be read.
    const dataPacks = new Set([...chunks.values()].map((e) => packKey(e.pack.toString('hex'))));
    for (const i of [0, 1, 2]) f.faulty[i]!.lose((key) => dataPacks.has(key));
    const target = join(dir, 'lost-too-many');
    await assert.rejects(restoreTree(f.array, root, { target, convergenceKey: f.keys.convergence }), (err: Error & { code?: string }) => err.code === 'Quorum' || err.code === 'NotFound');
    const left = ((await readdir(target, { recursive: true })) as string[]).filter((p) => p.includes('.raic-'));
    assert.deepEqual(left, []);
    clear(f);
  });
});

describe('reads that fetch only what they use: get and the fetcher', { timeout: 120_000 }, () => {
  let f: Fixture;
  before(async () => {
    f = await fourMembers({ chunkBytes: 256 * KiB });
  });
  after(async () => f.array.close());

  it('get downloads the file once: no read-ahead past its end, no byte twice', async () => {
    const data = randomBytes(5 * MiB + 12345);
    const put = await putStream(f.array, f.keys, (async function* () {
      for (let at = 0; at < data.length; at += MiB) yield data.subarray(at, at + MiB);
    })());
    const root = await loadManifest(f.array, parseCapability(put.capability));
    const chunks = await dataChunks(f.array, root, false);
    clear(f);
    const parts: Buffer[] = [];
    await streamFile(f.array, root, async (b) => void parts.push(Buffer.from(b)));
    assert.ok(Buffer.concat(parts).equals(data));
    const traffic = packTraffic(f, chunks);
    assert.ok(traffic.dataBytes <= 1.1 * sealedBytes(chunks), `${traffic.dataBytes} bytes fetched for ${sealedBytes(chunks)}`);
    assert.ok(traffic.dataRequests < chunks.size, `${traffic.dataRequests} requests for ${chunks.size} chunks`);
  });

  it('a chunk asked for twice is fetched once and delivered twice; neighbours come in one request', async () => {
    const data = randomBytes(2 * MiB);
    const put = await putStream(f.array, f.keys, (async function* () {
      yield data;
    })());
    const root = await loadManifest(f.array, parseCapability(put.capability));
    const entries = [...(await dataChunks(f.array, root, false)).values()].sort((a, b) => a.offset - b.offset);
    clear(f);
    // Planned at once (no eager window): the 8 neighbouring chunks lie on the k data shares.
    const fetcher = new ChunkFetcher(new ChunkReader(f.array.members, f.array.pool, K, 256 * KiB), { eagerBytes: Number.POSITIVE_INFINITY });
    const got: number[] = [];
    for (const [i, e] of entries.entries()) fetcher.add(e, (p) => void got.push(i, p.length));
    fetcher.add(entries[3]!, (p) => void got.push(103, p.length));
    await fetcher.drain();
    assert.equal(got.length, 2 * (entries.length + 1));
    assert.ok(got.includes(103));
    const traffic = packTraffic(f, new Map(entries.map((e) => [e.id.toString('hex'), e])));
    assert.ok(traffic.dataBytes <= sealedBytes(new Map(entries.map((e) => [e.id.toString('hex'), e]))) + 4 * KiB, `${traffic.dataBytes}`);
    // Each data member's part is one request (at most two where a share boundary or the 1 MiB cap cuts it).
    for (const [i, m] of traffic.perMember.entries()) assert.ok(m.requests <= (i < K ? 2 : 0), `member ${i}: ${m.requests} requests`);
    assert.equal(fetcher.stats.fallbacks, 0);
  });

  /** A 2 MiB file of eight chunks, put; its entries in file order with their offsets. */
  const eightChunks = async (): Promise<{ data: Buffer; chunks: { entry: ChunkEntry; offset: number }[] }> => {
    const data = randomBytes(2 * MiB);
    const put = await putStream(f.array, f.keys, (async function* () {
      yield data;
    })());
    const root = await loadManifest(f.array, parseCapability(put.capability));
    const chunks: { entry: ChunkEntry; offset: number }[] = [];
    let offset = 0;
    for await (const entry of walkStream(streamOf(root), pageLoader(new ChunkReader(f.array.members, f.array.pool, K)))) {
      chunks.push({ entry, offset });
      offset += entry.size;
    }
    return { data, chunks };
  };
  // restore's placer: a ChunkTarget's chunk is written into its file at its offset, on the worker that opens it.
  const placer: BatchPlacer = { module: new URL('../../src/core/file-writer-entry.cjs', import.meta.url), context: { overwrite: false } };
  /** eightChunks, and a file of zeros as long as theirs for their targets, in a directory of its own; counters cleared. */
  const placedFile = async (name: string): Promise<{ data: Buffer; chunks: { entry: ChunkEntry; offset: number }[]; dir: string; file: string }> => {
    const { data, chunks } = await eightChunks();
    const dir = await tempDir(name);
    const file = join(dir, 'file');
    await writeFile(file, Buffer.alloc(data.length));
    clear(f);
    return { data, chunks, dir, file };
  };
  const placing = (): ChunkFetcher => new ChunkFetcher(new ChunkReader(f.array.members, f.array.pool, K, 256 * KiB), { eagerBytes: Number.POSITIVE_INFINITY }, placer);

  it('placed chunks are written by the worker that opens them, not delivered; one asked for after its batch left is delivered all the same', async () => {
    const { data, chunks, dir, file } = await placedFile('placed');
    const fetcher = placing();
    const answers: unknown[] = [];
    const delivered: number[] = [];
    let late: Buffer | null = null;
    for (const [i, { entry, offset }] of chunks.entries()) {
      fetcher.place(entry, {
        target: { file, offset },
        placed: (answer) => {
          answers.push(answer);
          // Its batch has left (this is its answer): the plaintext did not come back, and a new ask still gets it.
          if (i === 3) fetcher.add(entry, (p) => void (late = Buffer.from(p)));
        },
        deliver: () => void delivered.push(i),
      });
    }
    await fetcher.drain();
    assert.deepEqual(answers, chunks.map(() => null), 'every chunk written');
    assert.deepEqual(delivered, [], 'none handed to this thread');
    assert.ok((await readFile(file)).equals(data));
    const third = chunks[3]!;
    assert.ok(late !== null && (late as Buffer).equals(data.subarray(third.offset, third.offset + third.entry.size)), 'the late ask got the chunk');
    assert.equal(fetcher.stats.fallbacks, 0);
    await rm(dir, { recursive: true, force: true });
  });

  it('a placed chunk that does not authenticate is rebuilt and delivered instead; a target that cannot be written is answered with why', async () => {
    const { data, chunks, dir, file } = await placedFile('placed-bad');
    f.faulty[0]!.corruptGets({ key: /^packs\// });
    let fetcher = placing();
    const placed: number[] = [];
    const delivered: number[] = [];
    for (const [i, { entry, offset }] of chunks.entries()) {
      fetcher.place(entry, {
        target: { file, offset },
        placed: (answer) => {
          assert.equal(answer, null);
          placed.push(i);
        },
        deliver: async (p) => {
          delivered.push(i);
          const h = await open(file, 'r+');
          await h.write(p, 0, p.length, offset);
          await h.close();
        },
      });
    }
    await fetcher.drain();
    assert.ok(delivered.length > 0, 'the corrupt member served some chunks');
    assert.deepEqual([...placed, ...delivered].sort((a, b) => a - b), chunks.map((_, i) => i), 'each chunk placed or delivered, once');
    assert.ok((await readFile(file)).equals(data));
    clear(f);
    fetcher = placing();
    const answers: unknown[] = [];
    for (const { entry, offset } of chunks) fetcher.place(entry, { target: { file: join(dir, 'missing'), offset }, placed: (a) => answers.push(a), deliver: () => assert.fail('delivered') });
    await fetcher.drain();
    assert.equal(answers.length, chunks.length);
    for (const a of answers) assert.equal((a as { code?: string }).code, 'ENOENT');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('reads that fetch only what they use: members kept in step', { timeout: 120_000 }, () => {
  let f: Fixture;
  before(async () => {
    // 2 MiB shares of 256 KiB chunks: one chunk of each pack straddles the two data shares.
    f = await fourMembers({ chunkBytes: 256 * KiB, packBudgetBytes: 4 * MiB });
  });
  after(async () => f.array.close());

  it('a short byte budget goes to the member given the fewest bytes: chunks straddling shares are not held half put together', async () => {
    const data = randomBytes(32 * MiB);
    const put = await putStream(f.array, f.keys, (async function* () {
      yield data;
    })());
    const root = await loadManifest(f.array, parseCapability(put.capability));
    const entries = [...(await dataChunks(f.array, root, false)).values()].sort((a, b) => a.pack.compare(b.pack) || a.offset - b.offset);
    const packs = new Set(entries.map((e) => e.pack.toString('hex'))).size;
    assert.ok(packs >= 6, `${packs} packs`);
    // One request at a time (each is larger than the budget): who goes next is all the order decides. Served
    // member 0 first every round, member 0 read its share of every pack before member 1 began, and each pack's
    // straddling chunk waited half put together meanwhile (8 of them).
    const fetcher = new ChunkFetcher(new ChunkReader(f.array.members, f.array.pool, K, 256 * KiB), { eagerBytes: Number.POSITIVE_INFINITY, inFlightBytes: 256 * KiB });
    const got = new Map<string, number>();
    for (const e of entries) fetcher.add(e, (p) => void got.set(e.id.toString('hex'), p.length));
    await fetcher.drain();
    assert.equal(got.size, entries.length);
    assert.ok(fetcher.stats.assemblingPeakBytes > 0, 'no chunk straddled shares: the test checks nothing');
    assert.ok(fetcher.stats.assemblingPeakBytes <= 2 * 256 * KiB + 1024, `${fetcher.stats.assemblingPeakBytes} bytes held half put together at once`);
  });
});
