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
      await applyMetadata(link, { ...node, type: 'symlink', target: 'f' });
      assert.equal((await lstat(link, { bigint: true })).mtimeNs / 1000n, us, `symlink mtime ${us} µs`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
