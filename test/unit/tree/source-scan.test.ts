import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fsPath, nameFromBytes, nodeFromStat, nodeType, SourceScan, type ScannedEntry } from '../../../src/tree/index.js';
import { SCAN_AHEAD_ENTRIES } from '../../../src/tree/source-scan-format.js';

/** A tree with nested and empty directories, a symlink, an excluded directory and a name that is not UTF-8. */
async function fixture(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'raic-scan-'));
  await mkdir(join(root, 'a', 'b', 'deep'), { recursive: true });
  await mkdir(join(root, 'empty'));
  await mkdir(join(root, 'skip', 'inner'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(root, 'a', `f${i}`), 'x'.repeat(i));
  await writeFile(join(root, 'a', 'b', 'deep', 'leaf'), 'leaf');
  await writeFile(join(root, 'skip', 'inner', 'hidden'), 'h');
  await symlink('a/f1', join(root, 'link'));
  await writeFile(Buffer.concat([Buffer.from(join(root, 'a', 'b') + '/'), Buffer.from([0x6e, 0xff, 0x6e])]), 'odd');
  return root;
}

/** Takes every directory's listing in the walk's order and checks it against the filesystem, read now. */
function walk(scan: SourceScan, dir: string, seen: string[]): void {
  const got = scan.take(dir);
  assert.ok(got, `the scan has ${dir}`);
  seen.push(dir);
  const names = readdirSync(fsPath(dir), { encoding: 'buffer' }).map(nameFromBytes).sort();
  assert.deepEqual(got.names, names, `names of ${dir}`);
  for (let i = 0; i < names.length; i++) {
    const path = `${dir}/${names[i]}`;
    const entry: ScannedEntry | null = got.entry(i);
    if (names[i] === 'skip') {
      assert.equal(entry, null, 'an excluded entry is not statted');
      continue;
    }
    assert.ok(entry && 'st' in entry, `${path} statted`);
    const st = lstatSync(fsPath(path), { bigint: true });
    const type = nodeType(st);
    assert.equal(nodeType(entry.st), type, `type of ${path}`);
    assert.deepEqual(nodeFromStat(names[i]!, type!, entry.st), nodeFromStat(names[i]!, type!, st), `metadata of ${path}`);
    if (type === 'symlink') assert.equal(entry.target, readlinkSync(path, 'utf8'));
    else assert.equal(entry.target, undefined);
    if (type === 'dir') walk(scan, path, seen);
  }
}

test('the source scan gives each directory its sorted names and every entry the lstat the walk would read', async () => {
  const root = await fixture();
  const scan = new SourceScan([root], ['skip']);
  assert.equal(scan.take(root), undefined, 'nothing before the scan starts');
  scan.start();
  try {
    const seen: string[] = [];
    walk(scan, root, seen);
    assert.deepEqual(seen, [root, `${root}/a`, `${root}/a/b`, `${root}/a/b/deep`, `${root}/empty`]);
    assert.equal(scan.take(`${root}/skip`), undefined, 'an excluded directory is not scanned');
    assert.equal(scan.take(`${root}/a`), undefined, 'a listing is taken once');
  } finally {
    await scan.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('the walk may list a directory itself: the scan answers the rest, and a file or missing path is no listing', async () => {
  const root = await fixture();
  const scan = new SourceScan([root, join(root, 'a', 'f3'), join(root, 'gone')], []);
  scan.start();
  try {
    // The walk skips `a` (as if it had listed it itself) and goes on: the later listings still come.
    assert.ok(scan.take(root));
    const deep = scan.take(`${root}/a/b/deep`);
    assert.deepEqual(deep?.names, ['leaf']);
    assert.ok(scan.take(`${root}/skip/inner`), 'nothing excluded this time');
    assert.equal(scan.take(join(root, 'a', 'f3')), undefined, 'a file root has no listing');
    assert.equal(scan.take(join(root, 'gone')), undefined, 'a missing root has no listing');
  } finally {
    await scan.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('a tree larger than the scan window: the scan waits for the walk, goes on as it takes, and every listing comes', async () => {
  // 24 directories of 1,000 files: 24k entries, half again the window (SCAN_AHEAD_ENTRIES), so the scan fills
  // it, waits, and must be let go on by the walk's takes (SCAN_RESUME_ENTRIES) more than once.
  const root = await mkdtemp(join(tmpdir(), 'raic-scan-big-'));
  const dirs = Array.from({ length: 24 }, (_, i) => join(root, `d${String(i).padStart(2, '0')}`));
  for (const dir of dirs) {
    await mkdir(dir);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => writeFile(join(dir, `f${i}`), '')));
  }
  const scan = new SourceScan([root], []);
  scan.start();
  try {
    // Let it fill the window before the walk takes anything.
    while (scan.entriesAhead < SCAN_AHEAD_ENTRIES) await delay(10);
    assert.equal(scan.take(root)?.names.length, 24);
    for (const dir of dirs) assert.equal(scan.take(dir)?.names.length, 1000, `the scan has ${dir}`);
  } finally {
    await scan.close();
    await rm(root, { recursive: true, force: true });
  }
});
