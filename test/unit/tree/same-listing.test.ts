import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameListing, type TreeNode } from '../../../src/tree/index.js';
import type { StreamRef } from '../../../src/store/index.js';

const ref = (tag: string): StreamRef => ({ tag }) as unknown as StreamRef;
const file = (name: string, content: StreamRef): TreeNode => ({ name, type: 'file', mode: 0o644, mtimeNs: '1700000000123456789', size: 10, uid: 0, gid: 0, ino: '42', dev: '7', content });

test('sameListing: the same entries with the very same content refs', () => {
  const a = ref('a');
  const b = ref('b');
  const before = new Map([
    ['x', file('x', a)],
    ['y', file('y', b)],
  ]);
  assert.equal(sameListing([file('y', b), file('x', a)], before), true);
});

test('sameListing: any changed field, an equal-looking but different ref, or another set of names is a change', () => {
  const a = ref('a');
  const before = new Map([['x', file('x', a)]]);
  assert.equal(sameListing([file('x', ref('a'))], before), false, 'a ref equal in value but not the one taken over');
  for (const change of [{ mode: 0o600 }, { mtimeNs: '1700000000123456780' }, { size: 11 }, { uid: 1 }, { gid: 1 }, { ino: '43' }, { dev: '8' }, { type: 'symlink' as const, target: 'x' }]) {
    assert.equal(sameListing([{ ...file('x', a), ...change }], before), false, JSON.stringify(change));
  }
  assert.equal(sameListing([file('z', a)], before), false, 'renamed');
  assert.equal(sameListing([file('x', a), file('y', a)], before), false, 'added');
  assert.equal(sameListing([], before), false, 'removed');
});
