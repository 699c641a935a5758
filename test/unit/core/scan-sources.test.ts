/**
 * The backup command starts the sources' scan before it opens the array (scanSources), so the scan runs while
 * modules load, the passphrase is stretched and the lock is taken. backup() must walk with that scan — the same
 * paths, however they were spelled — and leave closing it to whoever started it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { backup, scanSources } from '../../../src/core/backup.js';
import { Members, RaicArray, newMasterKey, repoKeys } from '../../../src/store/index.js';
import { tempDir } from '../../support/cli.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const K = 2;
const N = 3;

test('a scan started before backup() feeds its walk and is left to its starter to close', async () => {
  const dir = await tempDir('scan-sources');
  const src = join(dir, 'src');
  let files = 0;
  for (let d = 0; d < 5; d++) {
    await mkdir(join(src, `dir-${d}`, 'inner'), { recursive: true });
    for (let f = 0; f < 8; f++, files++) await writeFile(join(src, `dir-${d}`, f % 2 ? 'inner' : '', `f-${f}`), randomBytes(100 + f));
  }
  const arrayId = randomBytes(16).toString('hex');
  const memory = Array.from({ length: N }, (_, i) => new MemoryProvider({ name: `m${i}` }));
  await writeMemberConfigs(memory, arrayId, K);
  const array = RaicArray.fromMembers({ arrayId, k: K, n: N }, Members.fromProviders(memory, null), { workers: 1 });
  // Spelled as a user might (backup resolves it to `src`).
  const scan = scanSources([`${src}/./`]);
  let closes = 0;
  const close = scan.close.bind(scan);
  scan.close = () => {
    closes += 1;
    return close();
  };
  try {
    for (let i = 0; i < 500 && scan.entriesAhead < files; i++) await delay(10);
    assert.ok(scan.entriesAhead >= files, `the scan ran ahead before backup() was called (${scan.entriesAhead} entries)`);
    const result = await backup(array, repoKeys(newMasterKey()), [], { paths: [src], scan });
    assert.equal(result.files, files);
    assert.equal(result.errors.length, 0);
    assert.equal(scan.entriesAhead, 0, 'the walk took every listing the early scan made');
    assert.equal(closes, 0, 'backup() leaves the scan it was given open');
  } finally {
    await scan.close();
    await array.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a scan of files alone (no directory to list) is not started', async () => {
  const dir = await tempDir('scan-sources-file');
  try {
    await writeFile(join(dir, 'one'), 'x');
    const scan = scanSources([join(dir, 'one'), join(dir, 'missing')]);
    assert.equal(scan.take(dir), undefined);
    assert.equal(scan.entriesAhead, 0);
    await scan.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
