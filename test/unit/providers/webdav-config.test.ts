import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError, type ErrorCode } from '../../../src/errors.js';
import { parseWebdavUrl } from '../../../src/providers/webdav-config.js';

const creds = { WEBDAV_USERNAME: 'lab', WEBDAV_PASSWORD: 'labpass' };
const parse = (u: string, env: Record<string, string> = creds) => parseWebdavUrl(new URL(u), env);
const rejects = (code: ErrorCode, u: string, env: Record<string, string> = creds) =>
  assert.throws(() => parse(u, env), (e: unknown) => isRaicError(e, code), u);

describe('parseWebdavUrl', () => {
  it('maps webdav: to https and webdav+http: to http', () => {
    assert.deepEqual(parse('webdav://dav.example.org/remote.php/dav/files/me/raic/'), {
      origin: 'https://dav.example.org',
      root: '/remote.php/dav/files/me/raic/',
      username: 'lab',
      password: 'labpass',
      displayUrl: 'webdav://dav.example.org/remote.php/dav/files/me/raic',
    });
    const plain = parse('webdav+http://127.0.0.1:18082/x');
    assert.deepEqual([plain.origin, plain.root, plain.displayUrl], ['http://127.0.0.1:18082', '/x/', 'webdav+http://127.0.0.1:18082/x']);
    assert.equal(parse('webdav+http://127.0.0.1:18082/').root, '/');
    assert.equal(parse('webdav+http://127.0.0.1:18082').root, '/');
  });

  it('takes a user name from the URL over WEBDAV_USERNAME, never a password', () => {
    const c = parse('webdav://me@dav.example.org/x');
    assert.equal(c.username, 'me');
    assert.equal(c.displayUrl, 'webdav://me@dav.example.org/x');
    rejects('Usage', 'webdav://me:secret@dav.example.org/x');
  });

  it('rejects missing credentials with Auth and malformed URLs with Usage', () => {
    rejects('Auth', 'webdav://h/x', {});
    rejects('Auth', 'webdav://h/x', { WEBDAV_USERNAME: 'u' });
    rejects('Usage', 'webdav://h/x?opt=1');
    rejects('Usage', 'webdav://h/x#frag');
    rejects('Usage', 'webdav://h/a//b');
    rejects('Usage', 'http://h/x');
    assert.equal(parse('webdav://h/x', { WEBDAV_USERNAME: 'u', WEBDAV_PASSWORD: '' }).password, '', 'an empty password is a password');
  });
});
