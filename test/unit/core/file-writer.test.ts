/**
 * file-writer.ts, the workers' half of restore for small files: a new file is created under its own name and
 * never replaces anything there; a file written over another (a temp name given) leaves the old one whole until
 * the rename; a failure removes only what the writer itself created.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import writeFiles, { type FileToWrite } from '../../../src/core/file-writer.js';
import type { NodeMetadata } from '../../../src/tree/index.js';

const dir = mkdtempSync(join(tmpdir(), 'raic-file-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MTIME_NS = '1600000000123456000';
const meta: NodeMetadata = { type: 'file', mode: 0o640, mtimeNs: MTIME_NS, uid: 0, gid: 0 };
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

describe('writeFiles (restore of small files on the workers)', () => {
  it('creates a new file under its own name with its content, mode and mtime, and no temp name', () => {
    const path = join(dir, 'new.txt');
    const result = writeFiles({ files: [{ path, data: bytes('hello\n'), node: meta }], overwrite: false });
    assert.deepEqual(result, [null]);
    assert.equal(readFileSync(path, 'utf8'), 'hello\n');
    const st = statSync(path, { bigint: true });
    assert.equal(st.mode & 0o777n, 0o640n);
    assert.equal(st.mtimeNs / 1000n, BigInt(MTIME_NS) / 1000n);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  });

  it('never replaces a file that appeared under the name, nor removes it: that file fails, the others are written', () => {
    const theirs = join(dir, 'theirs.txt');
    writeFileSync(theirs, 'someone else\n');
    const ours = join(dir, 'ours.txt');
    const files: FileToWrite[] = [
      { path: theirs, data: bytes('restored\n'), node: meta },
      { path: ours, data: bytes('restored\n'), node: meta },
    ];
    const [first, second] = writeFiles({ files, overwrite: false });
    assert.equal(first?.code, 'EEXIST');
    assert.equal(second, null);
    assert.equal(readFileSync(theirs, 'utf8'), 'someone else\n');
    assert.equal(readFileSync(ours, 'utf8'), 'restored\n');
  });

  it('replaces a file through its temp name (--overwrite), and refuses to replace a directory', () => {
    const old = join(dir, 'old.txt');
    writeFileSync(old, 'old version\n');
    const tmp = join(dir, '.raic-test-1.tmp');
    assert.deepEqual(writeFiles({ files: [{ path: old, tmp, data: bytes('snapshot version\n'), node: meta }], overwrite: true }), [null]);
    assert.equal(readFileSync(old, 'utf8'), 'snapshot version\n');
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);

    const [res] = writeFiles({ files: [{ path: dir, tmp: join(dir, '.raic-test-2.tmp'), data: bytes('x'), node: meta }], overwrite: true });
    assert.equal(res?.directory, true);
    assert.ok(statSync(dir).isDirectory());
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  });

  it('a file that cannot be finished is removed when the writer created it', () => {
    // The metadata step throws after the file was created and written: an mtime that cannot be parsed.
    const path = join(dir, 'broken.txt');
    const [res] = writeFiles({ files: [{ path, data: bytes('partial'), node: { ...meta, mtimeNs: 'not a number' } }], overwrite: false });
    assert.ok(res !== null && res !== undefined, 'the failure is reported');
    assert.throws(() => statSync(path), { code: 'ENOENT' });
  });
});
