/**
 * `raic restore` of a snapshot: bit-identical trees (contents, modes, mtimes, symlinks, empty directories,
 * names with spaces and non-ASCII), files written several at once; existing files refused before anything
 * is written unless --overwrite; --include restores just the matching paths and what is below them.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { assertSameTree, buildTree, mixedSizes, snapshotTree, type BuiltTree, type TreeSnapshot } from '../support/tree-fixture.js';

const SEED = 77;
const MiB = 1024 * 1024;

/** Every path under `root`, relative, sorted (what a restore created). */
async function listAll(root: string): Promise<string[]> {
  return ((await readdir(root, { recursive: true })) as string[]).sort();
}

describe('raic restore (k=2, n=3)', { timeout: 180_000 }, () => {
  let a: ArrayFixture;
  let tree: BuiltTree;
  let want: TreeSnapshot;
  let snapshot: string;
  before(async () => {
    a = await localArray(2, 3, { label: 'restore' });
    tree = await buildTree(join(a.dir, 'src ñ'), { seed: SEED, sizes: mixedSizes(SEED, 120, 40 * MiB), filesPerDir: 10 });
    want = await snapshotTree(tree.root);
    snapshot = (JSON.parse(await a.ok(['backup', tree.root, '--json'])) as { snapshotId: string }).snapshotId;
  });
  after(async () => a.cleanup());

  it('restores the tree bit-identically, with no temp file left behind', async () => {
    const target = join(a.dir, 'full');
    await a.ok(['restore', snapshot, '--target', target]);
    await assertSameTree(want, join(target, tree.root));
    assert.deepEqual((await listAll(target)).filter((p) => p.includes('.raic-')), []);
  });

  it('refuses to write into a target holding any of the files, names it, and changes nothing', async () => {
    const target = join(a.dir, 'busy');
    const victim = join(target, tree.root, tree.files[3]!);
    await mkdir(dirname(victim), { recursive: true });
    await writeFile(victim, 'my newer work\n');
    const before = await listAll(target);
    const r = await a.raic(['restore', snapshot, '--target', target]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /would overwrite existing files/);
    assert.ok(r.stderr.includes(victim), r.stderr);
    assert.match(r.stderr, /--overwrite/);
    assert.deepEqual(await listAll(target), before, 'a refused restore wrote something');
    assert.equal(await readFile(victim, 'utf8'), 'my newer work\n');

    // --overwrite puts the snapshot's version in its place, and everything else.
    await a.ok(['restore', snapshot, '--target', target, '--overwrite']);
    await assertSameTree(want, join(target, tree.root), 'restore --overwrite');
  });

  it('--include restores only the matching paths and everything below them', async () => {
    const target = join(a.dir, 'some');
    const dir = tree.files[0]!.split('/')[0]!; // a top-level directory of the tree
    const file = tree.files.find((f) => !f.startsWith(`${dir}/`))!;
    await a.ok(['restore', snapshot, '--target', target, '--include', `${tree.root}/${dir}`, '--include', `${tree.root}/${file}`]);
    const root = join(target, tree.root);
    const expected = new Map([...want].filter(([p]) => p === dir || p.startsWith(`${dir}/`) || p === file));
    const got = await snapshotTree(root);
    for (const [p, entry] of expected) assert.deepEqual(got.get(p), entry, `${p} restored differently`);
    const extra = [...got.keys()].filter((p) => !expected.has(p) && p !== '.' && !file.startsWith(`${p}/`));
    assert.deepEqual(extra, [], 'restored paths that were not included');
    assert.ok(expected.size > 2, 'the include matched too little to prove anything');
  });
  it('--include of a symlink alone makes its directories and restores it, nothing beside it', async () => {
    const src = join(a.dir, 'links');
    await mkdir(join(src, 'deep', 'er'), { recursive: true });
    await writeFile(join(src, 'deep', 'er', 'file.txt'), 'beside\n');
    await symlink('file.txt', join(src, 'deep', 'er', 'link'));
    const id = (JSON.parse(await a.ok(['backup', src, '--json'])) as { snapshotId: string }).snapshotId;
    const target = join(a.dir, 'links-restore');
    await a.ok(['restore', id, '--target', target, '--include', `${src}/deep/er/link`]);
    assert.equal(await readlink(join(target, src, 'deep', 'er', 'link')), 'file.txt');
    assert.deepEqual(await readdir(join(target, src, 'deep', 'er')), ['link']);
  });
  it('names that are not UTF-8 (files, a directory, a symlink and its target) are backed up and restored byte for byte', async () => {
    const src = Buffer.from(join(a.dir, 'latin1'));
    const at = (...parts: number[][]): Buffer => Buffer.concat([src, ...parts.map((p) => Buffer.concat([Buffer.from('/'), Buffer.from(p)]))]);
    const cafe = [0x63, 0x61, 0x66, 0xe9]; // "café" in Latin-1
    const cafe2 = [0x63, 0x61, 0x66, 0xe8]; // decodes to the same lossy string as cafe
    const dir = [0x64, 0xff];
    await mkdir(src);
    await writeFile(at(cafe), 'first\n');
    await writeFile(at(cafe2), 'second\n');
    await mkdir(at(dir));
    await writeFile(at(dir, [0x69, 0xfe]), 'inside\n');
    await symlink(Buffer.from(cafe), at([0x6c, 0xfd]));
    const r = await a.raic(['backup', src.toString(), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const listing = await a.ok(['ls', 'latest']);
    assert.match(listing, /latin1\/caf\\xe9$/m);
    assert.match(listing, /latin1\/d\\xff\/i\\xfe$/m);
    const target = join(a.dir, 'latin1-restore');
    await a.ok(['restore', 'latest', '--target', target]);
    const back = (...parts: number[][]): Buffer => Buffer.concat([Buffer.from(target), at(...parts)]);
    assert.deepEqual((await readdir(back(), { encoding: 'buffer' })).map((b) => b.toString('hex')).sort(), [cafe, cafe2, dir, [0x6c, 0xfd]].map((b) => Buffer.from(b).toString('hex')).sort());
    assert.equal(await readFile(back(cafe), 'utf8'), 'first\n');
    assert.equal(await readFile(back(cafe2), 'utf8'), 'second\n');
    assert.equal(await readFile(back(dir, [0x69, 0xfe]), 'utf8'), 'inside\n');
    assert.deepEqual(await readlink(back([0x6c, 0xfd]), { encoding: 'buffer' }), Buffer.from(cafe));
  });
  it('a file whose name is 255 bytes (NAME_MAX) restores, also over itself: its temp name does not grow from it', async () => {
    const src = join(a.dir, 'long');
    const name = `${'é'.repeat(100)}${'x'.repeat(51)}.txt`; // 200 + 51 + 4 = 255 bytes
    assert.equal(Buffer.byteLength(name), 255);
    await mkdir(src);
    await writeFile(join(src, name), 'long name\n');
    await a.ok(['backup', src]);
    const target = join(a.dir, 'long-restore');
    await a.ok(['restore', 'latest', '--target', target]);
    assert.equal(await readFile(join(target, src, name), 'utf8'), 'long name\n');
    // Over the restored file (--overwrite), the content goes through a temp name first.
    await writeFile(join(target, src, name), 'changed since\n');
    await a.ok(['restore', 'latest', '--target', target, '--overwrite']);
    assert.equal(await readFile(join(target, src, name), 'utf8'), 'long name\n');
    assert.deepEqual((await listAll(target)).filter((p) => p.includes('.raic-')), []);
  });
});
