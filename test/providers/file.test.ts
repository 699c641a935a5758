/** The file provider: the conformance suite on a fresh temp directory, plus what is file-specific. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createFileProvider } from '../../src/providers/file.js';
import { openProvider } from '../../src/providers/registry.js';
import { collect, providerConformance, rejectsWith } from './conformance.js';

const made: string[] = [];
async function freshDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'raic-file-test-'));
  made.push(dir);
  return dir;
}
after(async () => {
  for (const dir of made) await fs.rm(dir, { recursive: true, force: true });
});

providerConformance('file', async () => createFileProvider(pathToFileURL(await freshDir())));

describe('file provider specifics', () => {
  it('is what openProvider gives for a file:// URL, and shows that URL', async () => {
    const dir = await freshDir();
    const p = await openProvider(pathToFileURL(dir).href);
    assert.equal(p.displayUrl, pathToFileURL(dir).href);
    assert.equal(p.capabilities.conditionalPut, true);
  });

  it('rejects keys that would leave the directory, and writes nothing outside it', async () => {
    const parent = await freshDir();
    const dir = path.join(parent, 'member');
    const p = await createFileProvider(pathToFileURL(dir));
    await p.prepare();
    for (const key of ['../escape', 'a/../../escape', '/abs', 'a//b', 'a/./b', '', '.raic-tmp/x', 'UPPER']) {
      await rejectsWith(p.put(key, Buffer.from('x')), 'Permanent', `put ${JSON.stringify(key)}`);
    }
    await rejectsWith(p.get('../member/x'), 'Permanent', 'get with ..');
    assert.deepEqual((await fs.readdir(parent)).sort(), ['member']);
    assert.equal(existsSync(path.join(parent, 'escape')), false);
  });

  it('lays objects out as files under the directory and leaves no temp file behind', async () => {
    const dir = await freshDir();
    const p = await createFileProvider(pathToFileURL(dir));
    await p.prepare();
    await p.put('packs/ab/ab12', Buffer.from('pack bytes'));
    assert.equal(await fs.readFile(path.join(dir, 'packs/ab/ab12'), 'utf8'), 'pack bytes');
    assert.deepEqual(await fs.readdir(path.join(dir, '.raic-tmp')), []);
    await rejectsWith(p.put('packs/ab/ab12', Buffer.from('other')), 'Exists', 'create-once');
    assert.deepEqual(await fs.readdir(path.join(dir, '.raic-tmp')), [], 'a refused put cleans its temp file too');
  });

  it('list() skips temp files and foreign files; prepare() removes stale temp files', async () => {
    const dir = await freshDir();
    const p = await createFileProvider(pathToFileURL(dir));
    await p.prepare();
    await p.put('k/1', Buffer.from('1'));
    const stale = path.join(dir, '.raic-tmp', 'dead.tmp');
    await fs.writeFile(stale, 'left by a crash');
    const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
    await fs.utimes(stale, old, old);
    await fs.writeFile(path.join(dir, 'k', 'README.TXT'), 'not raic');
    assert.deepEqual((await collect(p.list(''))).map((o) => o.key), ['k/1']);
    await p.prepare();
    assert.equal(existsSync(stale), false, 'stale temp file removed');
  });

  it('does not create a missing member directory on put (an unmounted disk stays unwritten)', async () => {
    const dir = path.join(await freshDir(), 'not-mounted');
    const p = await createFileProvider(pathToFileURL(dir));
    await rejectsWith(p.put('a/b', Buffer.from('x')), 'Permanent', 'put into a missing root');
    assert.equal(existsSync(dir), false);
    await rejectsWith(p.get('a/b'), 'NotFound', 'get from a missing root');
    assert.deepEqual(await collect(p.list('')), []);
  });

  it('a key where a directory stands (or the reverse) is Permanent, not NotFound', async () => {
    const p = await createFileProvider(pathToFileURL(await freshDir()));
    await p.prepare();
    await p.put('x/y', Buffer.from('1'));
    await rejectsWith(p.put('x/y/z', Buffer.from('2')), 'Permanent', 'file in the way');
    await rejectsWith(p.put('x', Buffer.from('3')), 'Exists', 'directory in the way of a create-once put');
    await rejectsWith(p.get('x'), 'NotFound', 'a directory is not an object');
    await rejectsWith(p.head('x'), 'NotFound', 'head of a directory');
  });

  it('a directory it may not write to is classified Auth', async () => {
    const dir = await freshDir();
    const p = await createFileProvider(pathToFileURL(dir));
    await p.prepare();
    // Root ignores file modes, so as root make the directory immutable instead (EPERM).
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync('chattr', ['+i', dir]);
    else await fs.chmod(dir, 0o500);
    try {
      await rejectsWith(p.put('new/key', Buffer.from('x')), 'Auth', 'put into a read-only directory');
    } finally {
      if (asRoot) execFileSync('chattr', ['-i', dir]);
      else await fs.chmod(dir, 0o700);
    }
  });

  it('rejects file URLs that are not absolute directories', async () => {
    for (const url of ['file://relative/dir', 'file:///tmp/x?mode=1']) {
      await rejectsWith(createFileProvider(new URL(url)), 'Usage', url);
    }
  });
});
