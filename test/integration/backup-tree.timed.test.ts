/**
 * Snapshot backups of a 4000-file, ~1.5 GB tree: unchanged re-backup reads and uploads nothing and is
 * fast; a one-byte change uploads about one chunk; restores are bit-identical even with n−k members gone.
 */
import assert from 'node:assert/strict';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { assertSameTree, buildBigTree, snapshotTree, type TreeSnapshot } from '../support/tree-fixture.js';
import { hideDir } from '../support/damage.js';

interface BackupJson {
  snapshotId: string;
  capability: string;
  files: number;
  unchangedFiles: number;
  bytesRead: number;
  newBytes: number;
  newChunks: number;
  storedBytes: number;
  errors: unknown[];
}

const MiB = 1024 * 1024;

describe('backup of a 4000-file, 1.5 GB tree (k=2, n=3)', { timeout: 900_000 }, () => {
  let a: ArrayFixture;
  let src: string;
  let want: TreeSnapshot;
  const runs: { seconds: number; result: BackupJson }[] = [];

  const backup = async (): Promise<{ seconds: number; result: BackupJson }> => {
    const t0 = performance.now();
    const out = await a.ok(['backup', src, '--json']);
    const run = { seconds: (performance.now() - t0) / 1000, result: JSON.parse(out) as BackupJson };
    runs.push(run);
    return run;
  };

  before(async () => {
    a = await localArray(2, 3, { label: 'tree' });
    src = join(a.dir, 'src tree');
    const built = await buildBigTree(src, { smallFiles: 3990, smallBytes: 100 * 1024, largeFiles: 10, largeBytes: 110 * MiB, seed: 'backup-tree' });
    assert.ok(built.files >= 4000 && built.bytes > 1.4e9, `tree: ${built.files} files, ${built.bytes} bytes`);
    want = await snapshotTree(src);
  });
  after(async () => {
    console.log(`backup-tree timings: ${runs.map((r) => `${r.seconds.toFixed(2)} s`).join(', ')}`);
    await a.cleanup();
  });

  it('first backup stores everything; an unchanged re-backup uploads no chunk data in < 15% of the time', async () => {
    const first = await backup();
    assert.equal(first.result.errors.length, 0);
    assert.ok(first.result.files >= 4000);
    assert.ok(first.result.newBytes > 1.4e9);
    const second = await backup();
    // No file data is read or stored. Only tree metadata may be new: the snapshot root records the real
    // directories above the source (e.g. /tmp), whose mtimes change when anything is created beside them.
    assert.equal(second.result.bytesRead, 0, 'unchanged files are not read');
    assert.ok(second.result.newBytes < 64 * 1024, `only tree metadata may be new, got ${second.result.newBytes} bytes`);
    assert.ok(second.result.newChunks <= 3, `new chunks: ${second.result.newChunks}`);
    assert.equal(second.result.unchangedFiles, second.result.files);
    assert.ok(second.seconds < 0.15 * first.seconds, `unchanged re-backup took ${second.seconds.toFixed(2)} s, first ${first.seconds.toFixed(2)} s`);
  });

  it('after one byte changes in one large file, the next backup uploads about one chunk', async () => {
    const fh = await open(join(src, 'large', 'big 3 é.bin'), 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 50 * MiB);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 50 * MiB);
    await fh.close();
    want = await snapshotTree(src);
    const third = await backup();
    // One data chunk (FastCDC: ≤ 4 MiB, ~1 MiB on average; an edit may touch two) plus the tree blobs on its path.
    assert.ok(third.result.bytesRead === 110 * MiB, `only the changed file is read (${third.result.bytesRead})`);
    assert.ok(third.result.newChunks <= 2 + 4, `new chunks: ${third.result.newChunks}`);
    assert.ok(third.result.newBytes <= 8 * MiB, `new bytes: ${third.result.newBytes}`);
    assert.ok(third.result.storedBytes <= 1.5 * 8 * MiB + MiB, `stored: ${third.result.storedBytes}`);
  });

  it('restores the latest snapshot bit-identically with n−k members deleted', async () => {
    for (const lost of [0, 2]) {
      const back = await hideDir(a.memberDirs[lost]!);
      const target = join(a.dir, `restore-${lost}`);
      try {
        await a.ok(['restore', 'latest', '--target', target]);
        await assertSameTree(want, join(target, src), `restore without member ${lost}`);
      } finally {
        await back();
        await rm(target, { recursive: true, force: true });
      }
    }
  });
});
