import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { checkKey, checkPrefix, checkRange } from '../../../src/providers/object-key.js';

const permanent = (fn: () => void) => assert.throws(fn, (e: unknown) => isRaicError(e, 'Permanent'));

describe('object keys', () => {
  it('accepts raic-shaped keys', () => {
    for (const k of ['config', 'packs/ab/ab12cd', 'a.b-c_d/e', '..x', 'x..', 'a/.hidden']) checkKey(k, 'm');
  });

  it('refuses traversal, empty segments and characters outside [a-z0-9/._-]', () => {
    for (const k of ['', '..', '../x', 'a/../b', 'a/..', '.', './a', '/a', 'a/', 'a//b', 'A', 'a b', 'a\\b', 'é', 'a\0b', 'x'.repeat(1025)]) {
      permanent(() => checkKey(k, 'm'));
    }
  });

  it('names the member and the key in the error', () => {
    assert.throws(() => checkKey('../x', 's3://b'), /^RaicError: s3:\/\/b: invalid object key "\.\.\/x"$/);
  });

  it('prefixes: empty, partial last segment, or ending in /', () => {
    for (const p of ['', 'a', 'a/', 'packs/a', 'packs/ab/', '.', '..']) checkPrefix(p, 'm');
    for (const p of ['../', 'a/../', '/a', 'a//', 'A', 'a b']) permanent(() => checkPrefix(p, 'm'));
  });

  it('ranges: integer offset >= 0 and length > 0', () => {
    checkRange({ offset: 0, length: 1 }, 'm', 'k');
    checkRange({ offset: 2 ** 40, length: 2 ** 40 }, 'm', 'k');
    for (const r of [{ offset: -1, length: 1 }, { offset: 0, length: 0 }, { offset: 0.5, length: 1 }, { offset: 0, length: NaN }]) {
      permanent(() => checkRange(r, 'm', 'k'));
    }
  });
});
