/**
 * The cache as a user meets it (real binary, local members): a backup fills it under $XDG_CACHE_HOME/raic,
 * `raic cache` shows it and `--clean` deletes it, `--no-cache` writes none, `--cache-dir` moves it, an
 * unusable --cache-dir is one clear line, and a restore from a deleted or damaged cache is still bit-exact.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readLocalConfig } from '../../src/core/local-config.js';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { oneCleanErrorLine, tempDir } from '../support/cli.js';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('raic cache (k=2, n=3, local members)', () => {
  let a: ArrayFixture;
  let work: string;
  let src: string;
  let xdg: string;
  let arrayId: string;
  before(async () => {
    a = await localArray(2, 3, { label: 'cache' });
    arrayId = (await readLocalConfig(a.config)).arrayId;
    work = await tempDir('cache-cli');
    src = join(work, 'src');
    await mkdir(join(src, 'docs'), { recursive: true });
    for (let i = 0; i < 30; i++) await writeFile(join(src, 'docs', `note-${i}.txt`), `note ${i} `.repeat(100 + i));
    xdg = join(work, 'xdg');
  });
  after(async () => {
    await a.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it('a backup fills the cache, raic cache shows it, a restore from it is bit-exact, --clean deletes it', async () => {
    const env = { XDG_CACHE_HOME: xdg };
    await a.ok(['backup', src], { env });
    const mine = join(xdg, 'raic', arrayId);
    assert.ok(filesUnder(mine).length > 0, 'the backup left metadata in the cache');
    assert.ok(existsSync(join(xdg, 'raic', 'CACHEDIR.TAG')), 'the root is tagged for backup tools');
    const shown = JSON.parse(await a.ok(['cache', '--json'], { env })) as { caches: { arrayId: string; files: number; current: boolean }[] };
    assert.deepEqual(shown.caches.map((c) => [c.arrayId, c.current, c.files > 0]), [[arrayId, true, true]]);

    // A damaged cached file, then a restore: still bit-exact (the file is refused and fetched again).
    const cached = filesUnder(mine).find((f) => f.includes('/snapshots/'))!;
    const bytes = readFileSync(cached);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(cached, bytes);
    const target = join(work, 'restored');
    await a.ok(['restore', 'latest', '--target', target], { env });
    assert.equal(readFileSync(join(target, src, 'docs', 'note-7.txt'), 'utf8'), readFileSync(join(src, 'docs', 'note-7.txt'), 'utf8'));

    const cleaned = JSON.parse(await a.ok(['cache', '--clean', '--json'], { env })) as { removed: { arrayId: string }[] };
    assert.deepEqual(cleaned.removed.map((c) => c.arrayId), [arrayId]);
    assert.equal(existsSync(mine), false);
    const target2 = join(work, 'restored-2');
    await a.ok(['restore', 'latest', '--target', target2], { env });
    assert.equal(readFileSync(join(target2, src, 'docs', 'note-29.txt'), 'utf8'), readFileSync(join(src, 'docs', 'note-29.txt'), 'utf8'));
  });

  it('--no-cache keeps none, --cache-dir moves it, an unusable --cache-dir is one clear line', async () => {
    const bare = join(work, 'xdg-none');
    await a.ok(['snapshots', '--no-cache'], { env: { XDG_CACHE_HOME: bare } });
    assert.deepEqual(filesUnder(bare), []);
    const moved = join(work, 'elsewhere');
    await a.ok(['snapshots', '--cache-dir', moved], { env: { XDG_CACHE_HOME: bare } });
    assert.ok(filesUnder(join(moved, arrayId)).length > 0);
    assert.deepEqual(filesUnder(bare), []);

    const notADir = join(work, 'a-file');
    await writeFile(notADir, 'x');
    const r = await a.raic(['snapshots', '--cache-dir', join(notADir, 'cache')]);
    assert.equal(r.code, 2);
    assert.match(oneCleanErrorLine(r.stderr), /cannot use the cache directory .*--no-cache/);
  });
});
