import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameNode, type TreeNode } from '../../../src/tree/index.js';
import type { StreamRef } from '../../../src/store/index.js';

const ref = (tag: string): StreamRef => ({ tag }) as unknown as StreamRef;
const file = (name: string, content: StreamRef): TreeNode => ({ name, type: 'file', mode: 0o644, mtimeNs: '1700000000123456789', size: 10, uid: 0, gid: 0, ino: '42', dev: '7', content });

test('sameNode: the same fields with the very same content ref', () => {
  const a = ref('a');
  assert.equal(sameNode(file('x', a), file('x', a)), true);
});

test('sameNode: any changed field, an equal-looking but different ref, another name or no parent node is a change', () => {
  const a = ref('a');
  const before = file('x', a);
  assert.equal(sameNode(file('x', ref('a')), before), false, 'a ref equal in value but not the one taken over');
  for (const change of [{ mode: 0o600 }, { mtimeNs: '1700000000123456780' }, { ctimeNs: '1' }, { size: 11 }, { uid: 1 }, { gid: 1 }, { ino: '43' }, { dev: '8' }, { type: 'symlink' as const, target: 'x' }, { subtree: ref('s') }]) {
    assert.equal(sameNode({ ...file('x', a), ...change }, before), false, JSON.stringify(change));
  }
  assert.equal(sameNode(file('z', a), before), false, 'renamed');
  assert.equal(sameNode(file('x', a), undefined), false, 'new');
});
