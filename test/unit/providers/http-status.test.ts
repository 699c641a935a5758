import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyHttpStatus, networkCodeOf } from '../../../src/providers/http-status.js';
import { folderPrefix, readableQuery } from '../../../src/providers/member-path.js';

describe('classifyHttpStatus', () => {
  it('sorts statuses into the four provider classes', () => {
    const cases: [number, string][] = [
      [404, 'NotFound'],
      [410, 'NotFound'],
      [401, 'Auth'],
      [403, 'Auth'],
      [408, 'Transient'],
      [429, 'Transient'],
      [500, 'Transient'],
      [503, 'Transient'],
      [501, 'Permanent'],
      [400, 'Permanent'],
      [409, 'Permanent'],
      [412, 'Permanent'],
      [422, 'Permanent'],
    ];
    for (const [status, code] of cases) assert.equal(classifyHttpStatus(status), code, String(status));
  });
});

describe('networkCodeOf', () => {
  it('finds a socket error code on the error or down its cause chain', () => {
    assert.equal(networkCodeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
    const fetchStyle = new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNRESET' }) });
    assert.equal(networkCodeOf(fetchStyle), 'ECONNRESET');
    assert.equal(networkCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' })), undefined, 'not a network code');
    assert.equal(networkCodeOf('a string'), undefined);
  });
});

describe('member paths', () => {
  it('folderPrefix normalizes slashes and decodes escapes', () => {
    assert.equal(folderPrefix('/a/b/', 'u'), 'a/b/');
    assert.equal(folderPrefix('a', 'u'), 'a/');
    assert.equal(folderPrefix('/', 'u'), '');
    assert.equal(folderPrefix('', 'u'), '');
    assert.equal(folderPrefix('/with%20space', 'u'), 'with space/');
    for (const bad of ['/a//b', '/a/./b', '/../x', '/%zz']) assert.throws(() => folderPrefix(bad, 'u'), bad);
  });

  it('readableQuery keeps URLs readable but unambiguous', () => {
    assert.equal(readableQuery([]), '');
    assert.equal(readableQuery([['auth', 'http://h:1/a?b'], ['fp', 'SHA256:a+b/c']]), '?auth=http://h:1/a?b&fp=SHA256:a+b/c');
    assert.equal(readableQuery([['x', 'a&b=c d#e%']]), '?x=a%26b%3Dc%20d%23e%25');
  });
});
