/**
 * The bad year, on local members (k=2, n=4; write quorum k+1 = 3): a member down during a backup, a
 * member replaced by an empty one, flipped bits on n−k members, the index lost everywhere, and check's
 * nightly data slices.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { assertSameTree, buildBigTree, snapshotTree, type TreeSnapshot } from '../support/tree-fixture.js';
import { filesUnder, flipBytes, hideDir, keyOf, packFiles } from '../support/damage.js';

interface CheckJson {
  ok: boolean;
  readPacks: string[];
  members: { member: number; unreachable: string | null; missing: number; corrupt: number; damaged: { key: string; problem: string }[] }[];
  snapshots?: { id: string; survives: number }[];
}

describe('the bad year (k=2, n=4, write quorum 3)', { timeout: 600_000 }, () => {
  let a: ArrayFixture;
  let src: string;
  let want: TreeSnapshot;
  const check = async (...args: string[]): Promise<{ code: number; report: CheckJson }> => {
    const r = await a.raic(['check', '--json', ...args]);
    return { code: r.code, report: JSON.parse(r.stdout) as CheckJson };
  };
  const restoresBitExact = async (label: string): Promise<void> => {
    const target = join(a.dir, `restore-${label}`);
    await a.ok(['restore', 'latest', '--target', target]);
    await assertSameTree(want, join(target, src), `${label}: restored tree`);
    await rm(target, { recursive: true, force: true });
  };

  before(async () => {
    a = await localArray(2, 4, { label: 'badyear' });
    src = join(a.dir, 'src');
    await buildBigTree(src, { smallFiles: 200, smallBytes: 40 * 1024, largeFiles: 2, largeBytes: 12 * 1024 * 1024, seed: 'bad-year' });
    want = await snapshotTree(src);
  });
  after(async () => a.cleanup());

  it('a member down during backup: commits at quorum with exit 4; repair restores full redundancy', async () => {
    const back = await hideDir(a.memberDirs[3]!);
    const r = await a.raic(['backup', src]);
    await back();
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /stored on 3 of 4 members — run raic repair/);
    const before = await check();
    assert.equal(before.code, 1);
    assert.ok(before.report.members[3]!.missing > 0);
    assert.ok(before.report.snapshots!.every((s) => s.survives === 1), JSON.stringify(before.report.snapshots));
    await a.ok(['repair']);
    const after = await check('--read-data');
    assert.equal(after.code, 0);
    assert.ok(after.report.snapshots!.every((s) => s.survives === 2), 'any n−k members');
    const human = await a.ok(['check']);
    assert.match(human, /survives the loss of any 2 members/);
  });

  it('below the write quorum nothing is committed', async () => {
    const backs = [await hideDir(a.memberDirs[2]!), await hideDir(a.memberDirs[3]!)];
    const r = await a.raic(['backup', src]);
    for (const b of backs) await b();
    assert.notEqual(r.code, 0);
    assert.ok(![0, 3, 4].includes(r.code));
    const snaps = JSON.parse(await a.ok(['snapshots', '--json'])) as unknown[];
    assert.equal(snaps.length, 1);
  });

  it('flipped bits in shares of n−k members: restore bit-exact, check --read-data names them, repair fixes them', async () => {
    const hurt = [0, 2];
    const damaged = new Map<number, string[]>();
    for (const m of hurt) {
      const files = await packFiles(a.memberDirs[m]!);
      // Member 0: its object header and the last byte of its share; member 2: its table and a byte mid-share.
      for (const f of files) await flipBytes(f, m === 0 ? [1, -1] : [17, -1000]);
      damaged.set(m, files.map((f) => keyOf(a.memberDirs[m]!, f)).sort());
    }
    await restoresBitExact('flipped');
    const c = await check('--read-data');
    assert.equal(c.code, 1);
    for (const m of hurt) assert.deepEqual(c.report.members[m]!.damaged.map((d) => d.key).sort(), damaged.get(m));
    for (const m of [1, 3]) assert.equal(c.report.members[m]!.damaged.length, 0);
    await a.ok(['repair', '--read-data']);
    assert.equal((await check('--read-data')).code, 0);
  });

  it('a member replaced by an empty one: repair rebuilds exactly its shares of packs and index segments; then any other n−k members may go', async () => {
    // Erasure-coded objects: packs and index segments (share 1 of each).
    const coded = [...(await packFiles(a.memberDirs[1]!)), ...(await filesUnder(join(a.memberDirs[1]!, 'index')))];
    const before = new Map(coded.map((f) => [keyOf(a.memberDirs[1]!, f), f]));
    await rm(a.memberDirs[1]!, { recursive: true });
    const fresh = join(a.dir, 'replacement');
    await a.ok(['member', 'replace', a.urls[1]!, `file://${fresh}`]);
    const out = await a.ok(['repair', '--json']);
    const result = JSON.parse(out) as { rebuilt: { member: number; key: string }[] };
    assert.deepEqual(result.rebuilt.map((r) => r.key).sort(), [...before.keys()].sort());
    assert.ok(result.rebuilt.every((r) => r.member === 1));
    const rebuiltFiles = [...(await packFiles(fresh)), ...(await filesUnder(join(fresh, 'index')))];
    assert.equal(rebuiltFiles.length, before.size);
    assert.equal((await check('--read-data')).code, 0);
    for (const lost of [[0, 2], [2, 3], [0, 3]]) {
      const backs = [];
      for (const m of lost) backs.push(await hideDir(a.memberDirs[m]!));
      try {
        await restoresBitExact(`replaced-minus-${lost.join('')}`);
      } finally {
        for (const b of backs) await b();
      }
    }
  });

  it('the index deleted on every member: repair --index, then restore and check', async () => {
    const dirs = [a.memberDirs[0]!, join(a.dir, 'replacement'), a.memberDirs[2]!, a.memberDirs[3]!];
    for (const d of dirs) await rm(join(d, 'index'), { recursive: true, force: true });
    const broken = await check();
    assert.equal(broken.report.readPacks.length, 0);
    await a.ok(['repair', '--index']);
    await restoresBitExact('index-rebuilt');
    const c = await check('--read-data');
    assert.equal(c.code, 0);
    assert.ok(c.report.readPacks.length > 0, 'the rebuilt index names the packs again');
  });

  it('--read-data-subset 1/7 … 7/7 together read every pack exactly once', async () => {
    const all = (await check('--read-data')).report.readPacks;
    assert.ok(all.length >= 2, `only ${all.length} packs`);
    const seen: string[] = [];
    for (let i = 1; i <= 7; i++) seen.push(...(await check(`--read-data-subset`, `${i}/7`)).report.readPacks);
    assert.deepEqual(seen.sort(), [...all].sort());
    assert.equal(new Set(seen).size, seen.length);
  });
});
