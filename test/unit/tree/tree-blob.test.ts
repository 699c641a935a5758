/** Tree blobs: mayListDirectories is false only for a blob that cannot hold a directory node, however it is encoded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeTree, encodeTree, mayListDirectories, type TreeNode } from '../../../src/tree/index.js';

const node = (name: string, type: TreeNode['type']): TreeNode => ({ name, type, mode: 0o644, mtimeNs: '1', size: 0, uid: 0, gid: 0, ...(type === 'symlink' ? { target: 'elsewhere' } : {}) });

test('mayListDirectories: true for every blob with a directory, false for files and symlinks alone', () => {
  assert.equal(mayListDirectories(encodeTree([node('a', 'file'), node('b', 'symlink')])), false);
  assert.equal(mayListDirectories(encodeTree([])), false);
  assert.equal(mayListDirectories(encodeTree([node('a', 'file'), node('sub', 'dir')])), true);
  // A name "dir" only costs a parse; quotes in a name are escaped, so they cannot fake the marker.
  assert.equal(mayListDirectories(encodeTree([node('dir', 'file')])), true);
  assert.equal(mayListDirectories(encodeTree([node('"type":"dir"', 'file')])), false);
  // A blob raic did not write: spaces, or the type spelled with escapes, is still seen as listing a directory.
  const spaced = Buffer.from('{ "v": 1, "nodes": [ { "name": "x", "type" : "dir", "mode": 493, "mtimeNs": "1", "size": 0, "uid": 0, "gid": 0 } ] }');
  assert.equal(decodeTree(spaced)[0]!.type, 'dir');
  assert.equal(mayListDirectories(spaced), true);
  const escaped = Buffer.from(spaced.toString().replace('"dir"', '"\\u0064ir"'));
  assert.equal(decodeTree(escaped)[0]!.type, 'dir', 'the escaped blob is a directory listing');
  assert.equal(mayListDirectories(escaped), true);
  // A view into a larger buffer is read where it lies.
  const files = encodeTree([node('a', 'file')]);
  const dirs = encodeTree([node('d', 'dir')]);
  const both = Buffer.concat([files, dirs]);
  assert.equal(mayListDirectories(both.subarray(0, files.length)), false);
  assert.equal(mayListDirectories(both.subarray(files.length)), true);
});
