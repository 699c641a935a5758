/**
 * prune repacks packs that are mostly garbage and leaves forwarding records, so every snapshot and every
 * capability handed out keeps working (k=2, n=3 on local directories: pack target ≈ 10.7 MiB per member).
 */
import type { PruneResult } from '../../src/core/prune.js';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CDC } from '../../src/chunk/index.js';
import { getBytes, localArray, oneCleanErrorLine, putFile, sha256, type ArrayFixture } from '../support/array-fixture.js';
import { filesUnder, hideDir, packFiles, truncateTo } from '../support/damage.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL_FILES = 48;
/** Not above the CDC minimum: one chunk, the same one `raic put` makes of it, so the put dedups into the backup's pack. */
const PUT_FILE_BYTES = Math.min(200 * KiB, DEFAULT_CDC.minSize);

/** What `raic prune --json` prints: the core's result, as is. */
type PruneJson = PruneResult;

/** Every file under the member directories (locks aside: every command takes one) → its size. */
async function storedObjects(a: ArrayFixture): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const dir of a.memberDirs) {
    for (const f of await filesUnder(dir)) {
      const key = relative(a.dir, f);
      if (!key.includes('/locks/')) out.set(key, (await stat(f)).size);
    }
  }
  return out;
}

const totalBytes = (objects: Map<string, number>): number => [...objects.values()].reduce((s, b) => s + b, 0);

/** Relative path → SHA-256 of every file under `root`. */
async function treeHashes(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await filesUnder(root)) out.set(relative(root, f), sha256(await readFile(f)));
  return out;
}

/** Writes fresh random contents into the given files of the source tree. */
async function rewrite(root: string, names: string[], size: (name: string) => number): Promise<void> {
  for (const name of names) await writeFile(join(root, name), randomBytes(size(name)));
}

describe('prune: repacking mostly-garbage packs behind forwarding records', () => {
  let a: ArrayFixture;
  let src: string;
  const small = Array.from({ length: SMALL_FILES }, (_, i) => `dir${i % 4}/small-${i}.bin`);
  const large = ['large/a.bin', 'large/b.bin', 'large/c.bin'];
  const sizeOf = (name: string): number => (name.startsWith('large/') ? 4 * MiB : 400 * KiB);
  /** Small files left unchanged by the second backup: their chunks stay live inside the first backup's packs. */
  const unchanged = small.filter((_, i) => i % 8 === 0);
  let putBytes: Buffer;
  let putCap: string;
  let firstTreeCap: string;
  let secondTreeCap: string;
  let before1: Map<string, number>;
  let after1: Map<string, number>;
  let firstPrune: PruneJson;
  /** Member 0's packs right after the put (the put itself stored none: its chunk was already there). */
  let packsAtPut: string[];
  let packsBeforePut: string[];

  before(async () => {
    a = await localArray(2, 3, { label: 'prune' });
    src = join(a.dir, 'src');
    for (const d of ['dir0', 'dir1', 'dir2', 'dir3', 'large']) await mkdir(join(src, d), { recursive: true });
    await rewrite(src, [...small, ...large], sizeOf);
    putBytes = randomBytes(PUT_FILE_BYTES);
    await writeFile(join(src, 'put-me.bin'), putBytes);

    firstTreeCap = (JSON.parse(await a.ok(['backup', src, '--json', '--show-capability'])) as { capability: string }).capability;
    packsBeforePut = await packFiles(a.memberDirs[0]!);
    putCap = await putFile(a, join(src, 'put-me.bin'));
    packsAtPut = await packFiles(a.memberDirs[0]!);
    // Most of the tree changes (and the put file's copy in the tree too: only the put keeps that chunk live).
    await rewrite(src, [...small.filter((n) => !unchanged.includes(n)), ...large], sizeOf);
    await writeFile(join(src, 'put-me.bin'), randomBytes(PUT_FILE_BYTES));
    secondTreeCap = (JSON.parse(await a.ok(['backup', src, '--json', '--show-capability'])) as { capability: string }).capability;

    before1 = await storedObjects(a);
    const forgot = JSON.parse(await a.ok(['forget', '--keep-last', '1', '--prune', '--json'])) as { prune: PruneJson };
    firstPrune = forgot.prune;
    after1 = await storedObjects(a);
  });
  after(async () => a.cleanup());

  it('reclaims the space of the forgotten snapshot, repacking its packs instead of keeping them whole', () => {
    const b = totalBytes(before1);
    const c = totalBytes(after1);
    console.log(`stored on members: ${(b / MiB).toFixed(1)} MiB before prune, ${(c / MiB).toFixed(1)} MiB after (${((1 - c / b) * 100).toFixed(1)}% less); prune: ${JSON.stringify(firstPrune)}`);
    assert.ok(c <= 0.6 * b, `expected at least 40% reclaimed: ${b} → ${c} bytes`);
    assert.ok(firstPrune.packsRepacked >= 1, 'the first backup’s packs are mostly garbage and must be repacked');
    assert.ok(firstPrune.chunksMoved >= unchanged.length, 'the unchanged files (and the put file) moved');
    assert.equal(firstPrune.forwardRecordsWritten, firstPrune.packsRepacked);
    assert.deepEqual(firstPrune.repackSkipped, []);
    assert.equal(firstPrune.liveChunksMissing, 0);
    const forwards = [...after1.keys()].filter((k) => k.includes('/forward/'));
    assert.equal(forwards.length, firstPrune.forwardRecordsWritten * 3, 'each forwarding record on every member');
  });

  it('restore latest is bit-exact', async () => {
    const target = join(a.dir, 'restore-latest');
    await a.ok(['restore', 'latest', '--target', target]);
    assert.deepEqual(await treeHashes(join(target, src)), await treeHashes(src));
  });

  it('the kept snapshot’s tree capability restores bit-exact without the passphrase', async () => {
    const target = join(a.dir, 'restore-cap');
    await a.ok(['restore', secondTreeCap, '--target', target], { env: { RAIC_PASSWORD: undefined } });
    assert.deepEqual(await treeHashes(join(target, src)), await treeHashes(src));
  });

  it('the put capability (its chunk moved) still gets bit-exact', async () => {
    assert.deepEqual(packsAtPut, packsBeforePut, 'the put deduplicated into the first backup’s packs');
    const now = await packFiles(a.memberDirs[0]!);
    assert.ok(packsAtPut.every((p) => !now.includes(p)), 'every pack the put’s entry could name is gone: only forwarding leads to its chunk');
    assert.equal(sha256(await getBytes(a, putCap, join(a.dir, 'put-1.out'))), sha256(putBytes));
  });

  it('the forgotten snapshot’s capability fails cleanly: its data is gone', async () => {
    const r = await a.raic(['restore', firstTreeCap, '--target', join(a.dir, 'restore-forgotten')], { env: { RAIC_PASSWORD: undefined } });
    assert.notEqual(r.code, 0);
    oneCleanErrorLine(r.stderr);
  });

  it('check --read-data passes for the whole array and for each capability', async () => {
    for (const args of [['check', '--read-data'], ['check', putCap, '--read-data'], ['check', secondTreeCap, '--read-data']]) {
      const r = await a.raic(args);
      assert.equal(r.code, 0, `${args.join(' ').slice(0, 40)}…: ${r.stdout}${r.stderr}`);
    }
  });

  it('a second prune is a no-op', async () => {
    const r = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
    assert.equal(r.packsDeleted, 0);
    assert.equal(r.packsRepacked, 0);
    assert.equal(r.forwardRecordsDeleted, 0);
    assert.deepEqual(await storedObjects(a), after1);
  });

  it('prune with a member hidden refuses and deletes nothing', async () => {
    const restoreDir = await hideDir(a.memberDirs[1]!);
    try {
      const r = await a.raic(['prune']);
      assert.notEqual(r.code, 0);
      assert.match(oneCleanErrorLine(r.stderr), /every member/);
    } finally {
      await restoreDir();
    }
    assert.deepEqual(await storedObjects(a), after1);
  });

  it('a chunk moved twice: the record of the first move gets a new generation that sends it straight to its new place', async () => {
    // The third backup changes the files that were moved, so the pack they were moved into is garbage in turn.
    await rewrite(src, unchanged, sizeOf);
    await a.ok(['backup', src]);
    const r = (JSON.parse(await a.ok(['forget', '--keep-last', '1', '--prune', '--json'])) as { prune: PruneJson }).prune;
    assert.ok(r.packsRepacked >= 1, JSON.stringify(r));
    /** member 0's records: pack id → generation. */
    const records = (objects: Iterable<string>): Map<string, number> => {
      const out = new Map<string, number>();
      for (const k of objects) {
        const m = /member-0\/forward\/[0-9a-f]{2}\/([0-9a-f]{32})\.(\d+)$/.exec(k);
        if (m) out.set(m[1]!, Math.max(Number(m[2]), out.get(m[1]!) ?? 0));
      }
      return out;
    };
    const now = [...(await storedObjects(a)).keys()];
    const before = records(after1.keys());
    const after = records(now);
    assert.equal(now.filter((k) => k.includes('member-0/forward/')).length, after.size, 'one generation of each record is left');
    assert.ok(
      [...after.keys()].some((p) => !before.has(p)),
      'a new record for the second move',
    );
    assert.ok(
      [...before].some(([p, g]) => (after.get(p) ?? 0) > g),
      'the put file’s entry still names the first pack: its record has a newer generation',
    );
    assert.equal(sha256(await getBytes(a, putCap, join(a.dir, 'put-2.out'))), sha256(putBytes));
    for (const args of [['check', putCap, '--read-data'], ['check', '--read-data']]) assert.equal((await a.raic(args)).code, 0, args.join(' '));
    const target = join(a.dir, 'restore-third');
    await a.ok(['restore', 'latest', '--target', target]);
    assert.deepEqual(await treeHashes(join(target, src)), await treeHashes(src));
  });

  it('a pack is repacked from k sound copies; with fewer it is kept whole and reported', async () => {
    // Leave one of the last backup's files live, so its pack is mostly (not wholly) garbage after the next backup.
    await rewrite(src, unchanged.slice(1), sizeOf);
    await a.ok(['backup', src]);
    await a.ok(['forget', '--keep-last', '1']);
    const dry = JSON.parse(await a.ok(['prune', '--dry-run', '--json'])) as PruneJson;
    assert.ok(dry.packsRepacked >= 1, `a dry run names the packs it would repack: ${JSON.stringify(dry)}`);
    // n − k + 1 = 2 members' copies gone (names still listed): the body cannot be had, nothing is moved.
    const saved = new Map<string, Buffer>();
    for (const m of [1, 2]) for (const f of await packFiles(a.memberDirs[m]!)) if (dry.repackedPacks.some((p) => f.endsWith(p))) saved.set(f, await readFile(f));
    for (const f of saved.keys()) await truncateTo(f, 0);
    const r = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
    assert.equal(r.packsRepacked, 0, JSON.stringify(r));
    assert.equal(r.repackSkipped.length, dry.packsRepacked);
    for (const skip of r.repackSkipped) {
      assert.match(skip.reason, /shares obtainable/);
      for (const dir of a.memberDirs) assert.ok((await packFiles(dir)).some((f) => f.endsWith(skip.pack)), `${skip.pack} kept on ${dir}`);
    }
    // Put member 1's copies back: k = 2 sound copies (members 0 and 1) are enough to repack from.
    for (const [f, bytes] of saved) if (f.startsWith(a.memberDirs[1]!)) await writeFile(f, bytes);
    const again = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
    assert.ok(again.packsRepacked >= 1 && again.repackSkipped.length === 0, JSON.stringify(again));
    const target = join(a.dir, 'restore-damaged');
    await a.ok(['restore', 'latest', '--target', target]);
    assert.deepEqual(await treeHashes(join(target, src)), await treeHashes(src));
    assert.equal(sha256(await getBytes(a, putCap, join(a.dir, 'put-3.out'))), sha256(putBytes));
  });
});

describe('prune: an interrupted repack is finished by the next prune', () => {
  // The state a crash leaves is rebuilt exactly: run a prune, then put back what it deleted.
  for (const crash of ['after the forwarding records', 'before the forwarding records'] as const) {
    it(`crash ${crash}: the next prune converges, nothing is lost`, async () => {
      const a = await localArray(2, 3, { label: 'prune-crash' });
      try {
        const src = join(a.dir, 'src');
        const names = Array.from({ length: 16 }, (_, i) => `f${i}.bin`);
        await mkdir(src);
        await rewrite(src, names, () => 400 * KiB);
        const putBytes = randomBytes(Math.min(200 * KiB, DEFAULT_CDC.minSize));
        await writeFile(join(src, 'put-me.bin'), putBytes);
        await a.ok(['backup', src]);
        const putCap = await putFile(a, join(src, 'put-me.bin'));
        await rewrite(src, names.slice(2), () => 400 * KiB);
        await a.ok(['backup', src]);
        await a.ok(['forget', '--keep-last', '1']);
        const saved = join(a.dir, 'saved');
        for (const [i, dir] of a.memberDirs.entries()) await cp(dir, join(saved, String(i)), { recursive: true });

        const first = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
        assert.ok(first.packsRepacked >= 1, JSON.stringify(first));
        for (const [i, dir] of a.memberDirs.entries()) {
          for (const f of await filesUnder(join(saved, String(i)))) {
            const key = relative(join(saved, String(i)), f);
            if (/^(packs|index)\//.test(key)) await cp(f, join(dir, key), { force: false, errorOnExist: false });
          }
          if (crash === 'before the forwarding records') await rm(join(dir, 'forward'), { recursive: true, force: true });
        }

        const second = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
        assert.ok(second.packsDeleted >= 1, `the old packs are deleted: ${JSON.stringify(second)}`);
        assert.equal(second.liveChunksMissing, 0);
        const third = JSON.parse(await a.ok(['prune', '--json'])) as PruneJson;
        assert.deepEqual([third.packsDeleted, third.packsRepacked], [0, 0], `converged: ${JSON.stringify(third)}`);

        assert.equal(sha256(await getBytes(a, putCap, join(a.dir, 'put.out'))), sha256(putBytes));
        const target = join(a.dir, 'restored');
        await a.ok(['restore', 'latest', '--target', target]);
        assert.deepEqual(await treeHashes(join(target, src)), await treeHashes(src));
        for (const args of [['check', '--read-data'], ['check', putCap, '--read-data']]) {
          const r = await a.raic(args);
          assert.equal(r.code, 0, `${args[1]}: ${r.stdout}`);
        }
      } finally {
        await a.cleanup();
      }
    });
  }
});
