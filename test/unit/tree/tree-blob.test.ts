/**
 * Tree blobs: mayListDirectories is false only for a blob that cannot hold a directory node, however it is encoded;
 * stream refs read from a blob give their entries when asked and are written back byte for byte, asked or not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { decodeTree, encodeTree, mayListDirectories, type TreeNode } from '../../../src/tree/index.js';
import type { ChunkEntry } from '../../../src/store/index.js';
import { flatStream, pagedStream, streamRefToJson } from '../../../src/store/manifest.js';

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

test('stream refs read from a tree blob: their entries as stored, written back byte for byte whether asked for or not', () => {
  const entry = (size: number, meta = false): ChunkEntry => ({ id: randomBytes(32), pack: randomBytes(16), offset: size * 3, length: size + 40, size, meta, key: randomBytes(32) });
  const content = flatStream([entry(1000), entry(2500)]);
  const subtree = flatStream([entry(300, true)]);
  const blob = encodeTree([{ ...node('f', 'file'), size: 3500, content }, { ...node('d', 'dir'), subtree }]);
  const decoded = decodeTree(blob);
  assert.deepEqual(encodeTree(decoded), blob, 'written back unread');
  const [d, f] = decoded;
  assert.deepEqual(f!.content!.entries, content.entries);
  assert.deepEqual([f!.content!.size, f!.content!.chunks, f!.content!.depth], [3500, 2, 0]);
  assert.deepEqual(d!.subtree!.entries, subtree.entries);
  assert.deepEqual(encodeTree(decoded), blob, 'written back once read');
  // Checked as they are read, not when first asked for: a ref declaring other bytes than its entries hold.
  const lying = Buffer.from(blob.toString().replace('"s":3500', '"s":3501'));
  assert.throws(() => decodeTree(lying), /lists 2 chunks, not the 2 chunks of 3501 bytes/);
});

test('a stored stream held as its page lists and reads as its entries do', () => {
  const entry = (size: number): ChunkEntry => ({ id: randomBytes(32), pack: randomBytes(16), offset: size * 5, length: size + 40, size, meta: false, key: randomBytes(32) });
  const entries = [entry(700), entry(4100)];
  const paged = pagedStream(entries);
  const flat = flatStream(entries);
  assert.deepEqual([paged.size, paged.chunks, paged.depth], [4800, 2, 0]);
  assert.deepEqual(paged.entries, entries);
  const listed = (content: typeof flat): Buffer => encodeTree([{ ...node('f', 'file'), size: 4800, content }]);
  assert.deepEqual(listed(paged), listed(flat));
  assert.deepEqual(decodeTree(listed(paged))[0]!.content!.entries, entries);
});

test('a tree blob: nodes sorted by name, each with its fields in order, content or subtree last, absent ones left out', () => {
  const entry = (size: number, meta = false): ChunkEntry => ({ id: randomBytes(32), pack: randomBytes(16), offset: 7, length: size + 40, size, meta, key: randomBytes(32) });
  const content = pagedStream([entry(12)]);
  const subtree = pagedStream([entry(300, true)]);
  // As a backup builds them: nodeFromStat's fields, then content (files) or subtree (directories) once stored.
  const file: TreeNode = { name: 'b', type: 'file', mode: 0o644, mtimeNs: '5', size: 12, uid: 1, gid: 2, ctimeNs: '6', ino: '7', dev: '8' };
  file.content = content;
  const dir: TreeNode = { ...node('a', 'dir') };
  dir.subtree = subtree;
  const link = node('c', 'symlink');
  const json = streamRefToJson;
  const expected = JSON.stringify({
    v: 1,
    nodes: [
      { name: 'a', type: 'dir', mode: 0o644, mtimeNs: '1', size: 0, uid: 0, gid: 0, subtree: json(subtree) },
      { name: 'b', type: 'file', mode: 0o644, mtimeNs: '5', size: 12, uid: 1, gid: 2, ctimeNs: '6', ino: '7', dev: '8', content: json(content) },
      { name: 'c', type: 'symlink', mode: 0o644, mtimeNs: '1', size: 0, uid: 0, gid: 0, target: 'elsewhere' },
    ],
  });
  const blob = encodeTree([link, file, dir]);
  assert.equal(blob.toString(), expected);
  assert.deepEqual(Object.keys(file), ['name', 'type', 'mode', 'mtimeNs', 'size', 'uid', 'gid', 'ctimeNs', 'ino', 'dev', 'content'], 'the node itself is not changed');
  const [a, b, c] = decodeTree(blob);
  assert.deepEqual([a!.name, b!.name, c!.name, c!.target], ['a', 'b', 'c', 'elsewhere']);
  assert.deepEqual(b!.content!.entries, content.entries);
});
