import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaicError, isRaicError, type ErrorCode } from '../../../src/errors.js';
import { parseFileUrl, translateFsError } from '../../../src/providers/file.js';

describe('parseFileUrl', () => {
  it('takes an absolute directory, dropping trailing slashes', () => {
    assert.deepEqual(parseFileUrl(new URL('file:///mnt/usb/raic/')), { root: '/mnt/usb/raic', displayUrl: 'file:///mnt/usb/raic' });
    assert.deepEqual(parseFileUrl(new URL('file://localhost/srv/b')), { root: '/srv/b', displayUrl: 'file:///srv/b' });
    assert.equal(parseFileUrl(new URL('file:///tmp/with%20space')).root, '/tmp/with space');
  });

  it('refuses a host (a relative path written with two slashes), a query or a fragment', () => {
    for (const u of ['file://relative/dir', 'file:///x?y=1', 'file:///x#y', 's3://b']) {
      assert.throws(() => parseFileUrl(new URL(u)), (e: unknown) => isRaicError(e, 'Usage'), u);
    }
    assert.throws(() => parseFileUrl(new URL('file://relative/dir')), (e: unknown) => isRaicError(e) && /three slashes/.test(e.hint ?? ''));
  });
});

describe('translateFsError', () => {
  const where = { displayUrl: 'file:///d', root: '/d', op: 'get', key: 'k' };
  const fsErr = (code: string) => Object.assign(new Error(`${code}: something, open '/d/k'`), { code, path: '/d/k' });
  const code = (c: string, op = 'get'): ErrorCode => translateFsError(fsErr(c), { ...where, op }).code;

  it('classifies errno codes', () => {
    assert.equal(code('ENOENT'), 'NotFound');
    assert.equal(code('EISDIR'), 'NotFound');
    assert.equal(code('EACCES'), 'Auth');
    assert.equal(code('EPERM'), 'Auth');
    assert.equal(code('ENOSPC', 'put'), 'Permanent');
    assert.equal(code('EDQUOT', 'put'), 'Permanent');
    assert.equal(code('EROFS', 'put'), 'Permanent');
    for (const c of ['EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'ESTALE']) assert.equal(code(c), 'Transient', c);
    assert.equal(code('ENAMETOOLONG'), 'Permanent');
    assert.equal(code('ENOTDIR', 'put'), 'Permanent', 'on put, a file in the way of a directory');
    assert.equal(code('ENOENT', 'put'), 'Transient', 'on put, a directory removed underneath');
  });

  it('says "disk full at" the member directory', () => {
    const e = translateFsError(fsErr('ENOSPC'), { ...where, op: 'put' });
    assert.equal(e.message, 'file:///d: put k: disk full at /d');
    assert.ok(e.hint !== undefined);
  });

  it('passes RaicErrors through', () => {
    const r = new RaicError('Exists', 'x');
    assert.equal(translateFsError(r, where), r);
  });
});
