import assert from 'node:assert/strict';
import { lstat, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyMetadata, nodeFromStat, type TreeNode } from '../../../src/tree/index.js';

test('applyMetadata restores mtimes to the microsecond (libuv resolution), for files and symlinks alike', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raic-mtime-'));
  try {
    const file = join(dir, 'f');
    const link = join(dir, 'l');
    await writeFile(file, 'x');
    await symlink('f', link);
    const base = nodeFromStat('f', 'file', await lstat(file, { bigint: true }));
    let seed = 12345;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      // Around now, with every microsecond digit pattern; nanoseconds below the microsecond are dropped.
      const us = 1_700_000_000_000_000n + BigInt(seed) * 7919n;
      const node: TreeNode = { ...base, mtimeNs: (us * 1000n + 999n).toString() };
      await applyMetadata(file, node);
      assert.equal((await lstat(file, { bigint: true })).mtimeNs / 1000n, us, `file mtime ${us} µs`);
      const linkNode: TreeNode = { ...node, type: 'symlink', target: 'f' };
      await applyMetadata(link, linkNode);
      assert.equal((await lstat(link, { bigint: true })).mtimeNs / 1000n, us, `symlink mtime ${us} µs`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unchanged: size, mtime, ctime and inode must all match; --ignore-ctime / --ignore-inode / --force as restic', async () => {
  const { unchanged } = await import('../../../src/tree/index.js');
  const content = { entries: [], size: 1 } as unknown as NonNullable<TreeNode['content']>;
  const before: TreeNode = { name: 'f', type: 'file', mode: 0o644, mtimeNs: '1000', ctimeNs: '2000', size: 5, uid: 0, gid: 0, ino: '7', dev: '1', content };
  const now: TreeNode = { ...before, content: undefined as never };
  delete now.content;
  assert.equal(unchanged(now, before), true);
  assert.equal(unchanged({ ...now, ctimeNs: '2001' }, before), false, 'a rewrite with mtime put back moves ctime');
  assert.equal(unchanged({ ...now, ctimeNs: '2001' }, before, { ignoreCtime: true }), true);
  const { ctimeNs: _, ...olderParent } = before;
  assert.equal(unchanged(now, olderParent), false, 'a parent node without ctime is not trusted');
  assert.equal(unchanged({ ...now, ino: '8' }, before), false);
  assert.equal(unchanged({ ...now, ino: '8' }, before, { ignoreInode: true }), true);
  assert.equal(unchanged({ ...now, size: 6 }, before, { ignoreCtime: true, ignoreInode: true }), false);
  assert.equal(unchanged({ ...now, mtimeNs: '1001' }, before, { ignoreCtime: true }), false);
  assert.equal(unchanged(now, before, { force: true }), false);
  assert.equal(unchanged(now, { ...before, content: undefined as never }), false, 'nothing to reuse');
});
