/**
 * The local metadata cache (cache/, issue 11) under real backups on memory members whose calls are logged
 * (FaultyProvider): a warm unchanged re-backup gets nothing the cache holds; with the cache deleted it gets
 * metadata only; a flipped byte in a cached file is caught and the object fetched again; another array's cache
 * files are never used; a listing evicts what a member deleted; two hosts with their own caches see each
 * other's snapshots; check-style refresh reads ask the members.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ObjectCache, withCache } from '../../../src/cache/index.js';
import { backup } from '../../../src/core/backup.js';
import { readCatalog } from '../../../src/core/catalog.js';
import { restoreTree } from '../../../src/core/restore.js';
import { CACHED_PREFIXES, CONFIG_KEY, Members, RaicArray, newMasterKey, repoKeys, type RepoKeys } from '../../../src/store/index.js';
import { resolveSnapshot } from '../../../src/core/snapshot-ref.js';
import { tempDir } from '../../support/cli.js';
import type { Provider } from '../../../src/providers/index.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const K = 2;
const N = 3;

interface Setup {
  arrayId: string;
  memory: MemoryProvider[];
  logged: FaultyProvider[];
  keys: RepoKeys;
}

async function newMembers(): Promise<Setup> {
  const arrayId = randomBytes(16).toString('hex');
  const memory = Array.from({ length: N }, (_, i) => new MemoryProvider({ name: `m${i}` }));
  await writeMemberConfigs(memory, arrayId, K);
  return { arrayId, memory, logged: memory.map((m) => new FaultyProvider(m)), keys: repoKeys(newMasterKey()) };
}

function cacheFor(s: Setup, root: string, mode: 'use' | 'refresh' = 'use'): ObjectCache {
  return new ObjectCache(join(root, s.arrayId), s.arrayId, CACHED_PREFIXES, mode);
}

/** Each array below stands for one raic run; closing it must leave the members (memory) to the next run. */
function arrayOf(s: Setup, cache: ObjectCache | null): RaicArray {
  const runs = s.logged.map((p): Provider => new Proxy(p, { get: (t, prop) => (prop === 'close' ? async () => undefined : Reflect.get(t, prop, t)) }));
  return RaicArray.fromMembers({ arrayId: s.arrayId, k: K, n: N }, Members.fromProviders(runs, cache), { workers: 1 });
}

/** Keys every member was asked to get since `mark` (call-log lengths). */
function getsSince(s: Setup, mark: number[]): string[] {
  return s.logged.flatMap((p, i) => p.calls.slice(mark[i]).filter((c) => c.op === 'get').map((c) => c.key));
}
const marks = (s: Setup): number[] => s.logged.map((p) => p.calls.length);

async function makeTree(dir: string): Promise<string> {
  const src = join(dir, 'src');
  for (let d = 0; d < 6; d++) {
    await mkdir(join(src, `dir-${d}`), { recursive: true });
    for (let f = 0; f < 20; f++) await writeFile(join(src, `dir-${d}`, `f-${f}.txt`), `${'text '.repeat(50 + f)}${randomBytes(200).toString('hex')}`);
  }
  await writeFile(join(src, 'big.bin'), randomBytes(600 * 1024));
  return src;
}

describe('the local metadata cache', () => {
  let dir: string; // caches and restores (their writes must not change the backed-up tree's parents)
  let srcDir: string;
  let src: string;
  before(async () => {
    dir = await tempDir('cache');
    srcDir = await tempDir('cache-src');
    src = await makeTree(srcDir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(srcDir, { recursive: true, force: true });
  });

  it('a warm unchanged re-backup gets no index, record, manifest or pack; with the cache deleted it gets metadata only', async () => {
    const s = await newMembers();
    const root = join(dir, 'cache-a');
    const first = arrayOf(s, cacheFor(s, root));
    await backup(first, s.keys, await readCatalog(first, s.keys), { paths: [src], host: 'a' });
    await first.close();

    const warm = arrayOf(s, cacheFor(s, root));
    const m = marks(s);
    const again = await backup(warm, s.keys, await readCatalog(warm, s.keys), { paths: [src], host: 'a' });
    await warm.close();
    // Every file judged unchanged without reading it. Not newBytes === 0: the snapshot also records the source's
    // ancestors (/tmp), whose mtime any concurrent test creating a temp dir changes.
    assert.equal(again.bytesRead, 0, 'no file content read');
    assert.equal(again.unchangedFiles, again.files, 'every file reused from the parent');
    const fetched = getsSince(s, m).filter((key) => key !== CONFIG_KEY && !key.startsWith('locks/') && !key.startsWith('keys/'));
    assert.deepEqual(fetched, [], `a warm re-backup fetched ${fetched.join(', ')}`);

    // The cache deleted: only metadata is fetched — every pack fetched is one the cache keeps (metadata packs),
    // never a data pack.
    await rm(root, { recursive: true, force: true });
    const coldCache = cacheFor(s, root);
    const cold = arrayOf(s, coldCache);
    const m2 = marks(s);
    const third = await backup(cold, s.keys, await readCatalog(cold, s.keys), { paths: [src], host: 'a' });
    await cold.close();
    assert.equal(third.bytesRead, 0);
    assert.equal(third.unchangedFiles, third.files);
    const packsFetched = new Set(getsSince(s, m2).filter((key) => key.startsWith('packs/')));
    assert.ok(packsFetched.size > 0, 'the tree blobs were fetched');
    for (const key of packsFetched) assert.ok(coldCache.holds(key), `${key} fetched but not a metadata pack`);
    const dataPacks = [...s.memory[0]!.objects.keys()].filter((key) => key.startsWith('packs/') && !packsFetched.has(key));
    assert.ok(dataPacks.length > 0, 'the data packs were not fetched');
  });

  it('a flipped byte in a cached file is caught, and the object fetched again from the member', async () => {
    const s = await newMembers();
    const root = join(dir, 'cache-b');
    const a = arrayOf(s, cacheFor(s, root));
    await backup(a, s.keys, await readCatalog(a, s.keys), { paths: [src], host: 'b' });
    await a.close();
    const recordKey = [...s.memory[0]!.objects.keys()].find((key) => key.startsWith('snapshots/'))!;
    const file = join(root, s.arrayId, 'm0', recordKey);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0x10;
    writeFileSync(file, bytes);

    const cache = cacheFor(s, root);
    const b = arrayOf(s, cache);
    const m = marks(s);
    const catalog = await readCatalog(b, s.keys);
    await b.close();
    assert.equal(catalog.length, 1, 'the record still reads');
    assert.equal(cache.stats.damaged, 1, 'the damaged file was detected');
    assert.ok(getsSince(s, m).includes(recordKey), 'and the record fetched from a member');
    assert.ok(!readFileSync(file).equals(bytes), 'the cache holds a sound copy again');
  });

  it("never uses another array's cache files, even copied under this array's directory", async () => {
    const s = await newMembers();
    const other = await newMembers();
    const root = join(dir, 'cache-c');
    const a = arrayOf(other, cacheFor(other, root));
    await backup(a, other.keys, await readCatalog(a, other.keys), { paths: [src], host: 'c' });
    await a.close();
    // Give this array the same objects (same keys) as the other, then plant the other's cache as its own.
    for (const [i, mem] of s.memory.entries()) for (const [key, value] of other.memory[i]!.objects) if (key !== CONFIG_KEY) mem.objects.set(key, value);
    mkdirSync(join(root, s.arrayId), { recursive: true });
    cpSync(join(root, other.arrayId), join(root, s.arrayId), { recursive: true });
    const cache = cacheFor(s, root);
    const b = arrayOf(s, cache);
    const m = marks(s);
    await readCatalog(b, other.keys);
    await b.close();
    assert.equal(cache.stats.hits, 0, 'no planted file was served');
    assert.ok(cache.stats.damaged > 0, 'the planted files were refused');
    assert.ok(getsSince(s, m).some((key) => key.startsWith('snapshots/')), 'the records came from the members');
  });

  it("evicts what a member no longer lists, and two hosts with their own caches see each other's snapshots", async () => {
    const s = await newMembers();
    const hostA = arrayOf(s, cacheFor(s, join(dir, 'host-a')));
    await backup(hostA, s.keys, await readCatalog(hostA, s.keys), { paths: [src], host: 'host-a' });
    const hostB = arrayOf(s, cacheFor(s, join(dir, 'host-b')));
    assert.equal((await readCatalog(hostB, s.keys)).length, 1, 'B sees A');
    await backup(hostB, s.keys, await readCatalog(hostB, s.keys), { paths: [src], host: 'host-b' });
    assert.deepEqual((await readCatalog(hostA, s.keys)).map((r) => r.host).sort(), ['host-a', 'host-b'], 'A sees B');

    // B's record deleted on the members behind A's back: A's next listing evicts its cached copy.
    const recordB = (await readCatalog(hostB, s.keys)).find((r) => r.host === 'host-b')!;
    const keyB = `snapshots/${recordB.manifestId}`;
    for (const mem of s.memory) mem.objects.delete(keyB);
    const cachedB = join(dir, 'host-a', s.arrayId, 'm0', keyB);
    assert.deepEqual((await readCatalog(hostA, s.keys)).map((r) => r.host), ['host-a']);
    assert.throws(() => readFileSync(cachedB), /ENOENT/, 'the deleted record left the cache');
    await hostA.close();
    await hostB.close();
  });

  it('a restore reads the tree from the cache and the data from the members, bit-exact', async () => {
    const s = await newMembers();
    const root = join(dir, 'cache-e');
    const a = arrayOf(s, cacheFor(s, root));
    const result = await backup(a, s.keys, await readCatalog(a, s.keys), { paths: [src], host: 'e' });
    await a.close();
    const b = arrayOf(s, cacheFor(s, root));
    const m = marks(s);
    const target = join(dir, 'restored-e');
    const { root: snap } = await resolveSnapshot(b, result.capability, async () => s.keys);
    await restoreTree(b, snap, { target });
    await b.close();
    const fetched = getsSince(s, m).filter((key) => !key.startsWith('packs/') && key !== CONFIG_KEY);
    assert.deepEqual(fetched, [], `restore fetched metadata the cache holds: ${fetched.join(', ')}`);
    assert.equal(readFileSync(join(target, src, 'dir-3', 'f-7.txt'), 'utf8'), readFileSync(join(src, 'dir-3', 'f-7.txt'), 'utf8'));
    assert.ok(readFileSync(join(target, src, 'big.bin')).equals(readFileSync(join(src, 'big.bin'))));
  });

  it('refresh mode asks the member once per run and keeps what it answers; a full or read-only cache never fails a read', async () => {
    const mem = new MemoryProvider({ name: 'r' });
    const logged = new FaultyProvider(mem);
    const arrayId = randomBytes(16).toString('hex');
    await mem.put('index/ab/ab01', Buffer.from('first'));
    const refresh = new ObjectCache(join(dir, 'refresh', arrayId), arrayId, CACHED_PREFIXES, 'refresh');
    const p = withCache(logged, refresh, 0);
    assert.equal((await p.get('index/ab/ab01')).toString(), 'first');
    assert.equal((await p.get('index/ab/ab01', { offset: 1, length: 3 })).toString(), 'irs');
    assert.equal(logged.count('get'), 1, "the member was asked once: its answer serves the run's later reads of the object");
    const nextRun = withCache(logged, refresh, 0);
    assert.equal((await nextRun.get('index/ab/ab01', { offset: 1, length: 3 })).toString(), 'irs');
    assert.equal(logged.count('get'), 2, 'the next run in refresh mode asks the member again');
    const use = withCache(logged, new ObjectCache(join(dir, 'refresh', arrayId), arrayId, CACHED_PREFIXES, 'use'), 0);
    assert.equal((await use.get('index/ab/ab01', { offset: 2, length: 10 })).toString(), 'rst', 'served from the refreshed copy');
    assert.equal(logged.count('get'), 2);
    // Data packs pass through untouched.
    await mem.put('packs/cd/cd01', Buffer.from('data'));
    await use.get('packs/cd/cd01');
    await use.get('packs/cd/cd01');
    assert.equal(logged.count('get'), 4);

    // A cache that cannot be written (its directory is a file: as unwritable for root as for anyone).
    const notADir = join(dir, 'not-a-dir');
    writeFileSync(notADir, 'x');
    const broken = new ObjectCache(join(notADir, arrayId), arrayId, CACHED_PREFIXES, 'use');
    const q = withCache(logged, broken, 0);
    assert.equal((await q.get('index/ab/ab01')).toString(), 'first');
    assert.equal((await q.get('index/ab/ab01')).toString(), 'first');
    assert.equal(broken.stats.writeErrors, 2, 'each failed write was counted, and the reads went on');
  });
  it('keeps a few verified files open between reads, never serves an evicted or rewritten copy from them, and closes them', () => {
    const arrayId = randomBytes(16).toString('hex');
    const cache = new ObjectCache(join(dir, 'open-files', arrayId), arrayId, CACHED_PREFIXES, 'use');
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const before = openFds();
    const keys = Array.from({ length: 40 }, (_, i) => `packs/m${i.toString().padStart(2, '0')}`);
    keys.forEach((key, i) => cache.write(0, key, Buffer.from(`object ${i} `.repeat(10))));
    for (let round = 0; round < 3; round++) {
      keys.forEach((key, i) => assert.equal(cache.read(0, key, { offset: 0, length: 8 + String(i).length })?.toString(), `object ${i} `));
    }
    const kept = openFds() - before;
    assert.ok(kept > 0 && kept <= 16, `descriptors kept open: ${kept} (a few, bounded)`);
    // A ranged read of a kept file gives the right bytes from anywhere in it.
    assert.equal(cache.read(0, keys[39]!, { offset: 10, length: 6 })?.toString(), 'object');

    cache.evict(0, keys[39]!);
    assert.equal(cache.read(0, keys[39]!), null, 'an evicted copy is gone, not read through a descriptor kept open');
    assert.equal(cache.read(0, keys[38]!, { offset: 0, length: 9 })?.toString(), 'object 38');
    cache.write(0, keys[38]!, Buffer.from('rewritten'));
    assert.equal(cache.read(0, keys[38]!)?.toString(), 'rewritten', 'a rewritten copy is read anew');
    const flipped = join(dir, 'open-files', arrayId, 'm0', keys[37]!);
    assert.equal(cache.read(0, keys[37]!, { offset: 0, length: 9 })?.toString(), 'object 37');
    const other = new ObjectCache(join(dir, 'open-files', arrayId), arrayId, CACHED_PREFIXES, 'use');
    const bytes = readFileSync(flipped);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(flipped, bytes);
    assert.equal(other.read(0, keys[37]!), null, 'another run verifies the file afresh and finds it damaged');
    other.close();

    cache.writeNote('note', Buffer.from('a note'));
    assert.equal(cache.readNote('note')?.toString(), 'a note');
    cache.close();
    assert.equal(openFds(), before, 'close() closes every kept descriptor');
    const notes = new ObjectCache(join(dir, 'open-files', arrayId), arrayId, CACHED_PREFIXES, 'use');
    assert.equal(notes.readNote('note')?.toString(), 'a note');
    assert.equal(openFds(), before, 'a note is read once and closed: the early Argon2 start reads it through a cache no one closes');
    assert.equal(cache.read(0, keys[0]!, { offset: 0, length: 8 })?.toString(), 'object 0', 'and a later read opens the file again');
    cache.close();
  });
});
