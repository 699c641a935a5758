/**
 * The walk begun before the lock (core/backup.ts EarlyWalk) judges files against the parent this host's cache
 * names; backup keeps that walk only when the catalog listed after the lock names the same parent. Two caches
 * stand for this host's view and what happened elsewhere since (real binary, local members).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { tempDir } from '../support/cli.js';

interface Summary {
  snapshotId: string;
  parent: string | null;
  files: number;
  unchangedFiles: number;
}

describe('backup: the walk begun before the lock (k=2, n=3, local members)', () => {
  let a: ArrayFixture;
  let work: string;
  let src: string;
  const FILES = 12;
  before(async () => {
    a = await localArray(2, 3, { label: 'early-walk' });
    work = await tempDir('early-walk');
    src = join(work, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    for (let i = 0; i < FILES; i++) await writeFile(join(src, 'd', `f-${i}.txt`), `file ${i} `.repeat(200 + i));
  });
  after(async () => {
    await a.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  const backupWith = async (cache: string): Promise<Summary> => JSON.parse(await a.ok(['backup', src, '--json'], { env: { XDG_CACHE_HOME: join(work, cache) } })) as Summary;

  it('uses the newest parent the catalog names, not the older one this host cached', async () => {
    const first = await backupWith('here');
    await writeFile(join(src, 'd', 'f-3.txt'), 'changed elsewhere');
    const elsewhere = await backupWith('elsewhere');
    assert.equal(elsewhere.parent, first.snapshotId);
    const again = await backupWith('here');
    assert.equal(again.parent, elsewhere.snapshotId, 'the catalog listed after the lock decides the parent');
    assert.equal(again.unchangedFiles, FILES);
  });

  it('never reuses a parent this host cached that was forgotten and pruned since: the live one is used, the snapshot restores', async () => {
    const cached = await backupWith('here');
    await writeFile(join(src, 'd', 'f-5.txt'), 'changed elsewhere, then the older snapshots forgotten');
    const kept = await backupWith('elsewhere');
    // Every snapshot but the newest forgotten and their data pruned, by a run whose cache is not this host's.
    await a.ok(['forget', '--keep-last', '1', '--prune'], { env: { XDG_CACHE_HOME: join(work, 'elsewhere') } });
    const after = await backupWith('here');
    assert.notEqual(after.parent, cached.snapshotId, 'the forgotten snapshot this host cached is not the parent');
    assert.equal(after.parent, kept.snapshotId);
    assert.equal(after.unchangedFiles, FILES);
    const target = join(work, 'restored');
    await a.ok(['restore', 'latest', '--target', target], { env: { XDG_CACHE_HOME: join(work, 'here') } });
    for (let i = 0; i < FILES; i++) {
      const name = join('d', `f-${i}.txt`);
      assert.equal(readFileSync(join(target, src, name), 'utf8'), readFileSync(join(src, name), 'utf8'), name);
    }
    assert.match(await a.ok(['check']), /no problems found/);
  });
});
