/**
 * Inputs the fuzzer (test/fuzz) found that crashed a parser, were accepted though malformed, or made one
 * allocate by a length field it had not checked. Each must now be rejected as damage (a RaicError), at once.
 * Inputs marked "found" are the fuzzer's own (base64); the others rebuild what it found with fresh keys.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { unframeChunk } from '../../../src/compress/index.js';
import { openRecord } from '../../../src/core/catalog.js';
import { hash, seal } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';
import { parseArrayConfig } from '../../../src/store/array-config.js';
import { openChunk, sealChunk } from '../../../src/store/chunk-codec.js';
import { newKeyObject, parseKeyObject, repoKeys } from '../../../src/store/keyring.js';
import { keyObjectKey } from '../../../src/store/layout.js';
import { openLock } from '../../../src/store/locks.js';
import { encodePage, openManifest, streamRefFromJson } from '../../../src/store/manifest.js';
import { openMemberList } from '../../../src/store/member-list.js';
import { decodeTree, encodeTree } from '../../../src/tree/node.js';
import { watchAllocations } from '../../fuzz/harness.js';

const found = (b64: string): Buffer => Buffer.from(b64, 'base64');
const integrity = (err: unknown): boolean => isRaicError(err, 'Integrity');
const keys = repoKeys(randomBytes(32));

describe('fuzz findings: crashes behind the AEAD tag (bytes a key holder or a capability maker writes)', () => {
  it('a lock whose content is JSON null is damage, not a TypeError', () => {
    const key = 'locks/00112233445566778899aabbccddeeff';
    const sealed = seal(keys.locks, found('bnVsbA=='), Buffer.from(`raic lock v1 ${key}`));
    assert.throws(() => openLock(keys.locks, key, sealed), integrity);
  });

  it('a member list that is not JSON, or not a list of URL strings, is damage', () => {
    const arrayId = randomBytes(16).toString('hex');
    const open = (b64: string): unknown => openMemberList(keys.members, arrayId, seal(keys.members, found(b64), Buffer.from(`raic members v1 ${arrayId}`)));
    assert.throws(() => open('eyJ1cmxzIjpbImZpbGU6Ly8vYSIsInMzOi8vYnVja2V0L3A/cmVnaW9uPXgiLCJzZnRwOi8vdUBoL3AiXSw='), integrity); // found: truncated JSON
    assert.throws(() => open('eyJ1cmxzIjpbLTFlKzMwOF0sInVwZGF0ZWRBdCI6IjIwMjUtMDEtMDJUMDM6MDQ6MDUuMDAwWiJ9'), integrity); // found: urls [-1e308]
  });

  it('a manifest root with a header that is not JSON, not an object, too long, or disagreeing with its entries is damage', () => {
    const capKey = randomBytes(32);
    const open = (plain: Buffer): unknown => {
      const sealed = Buffer.from(seal(capKey, plain, Buffer.from('raic manifest v1')));
      return openManifest(hash(sealed).toString('hex'), sealed, capKey);
    };
    assert.throws(() => open(found('UkFJQ01BTjIAAAAEdHJ1ZVJBSUNQQUcyAAAAAA==')), integrity); // found: header `true`
    assert.throws(() => open(found('UkFJQ01BTjIAAACoeyJraW5kIjoiZmlsZSIssUL/SwpeI8F+UEfFcaMic2l6ZSI6MCwiY2h1bmtzIjowLCJkZXB0aCI6MCwiY3JlYXRlZEF0IjoiMjAyNS0wMS0wMlQwMzowNDowNS4wMDBaIn1SQUlDUEFHMgAAAF39BFIKjIJ2MG3Z8g==')), integrity); // found: SyntaxError
    assert.throws(() => open(Buffer.from('RAICMAN2')), integrity); // was a RangeError (no header length)
    const header = (h: object): Buffer => Buffer.from(JSON.stringify(h));
    const root = (h: Buffer, list = encodePage([])): Buffer => Buffer.concat([Buffer.from('RAICMAN2'), Buffer.from([0, 0, 0, h.length]), h, list]);
    assert.throws(() => open(root(header({ kind: 'file', size: '-', chunks: 0, depth: 0, createdAt: 'x' }))), integrity);
    assert.throws(() => open(root(header({ kind: 'file', size: 10, chunks: 3, depth: 0, createdAt: 'x' }))), integrity); // no entries, 3 chunks
    const ok = root(header({ kind: 'file', size: 0, chunks: 0, depth: 0, createdAt: 'x' }));
    assert.equal((open(ok) as { header: { kind: string } }).header.kind, 'file');
  });

  it('a catalog record that is null or has tags that are not a list is damage', () => {
    const plain = found(
      'eyJraW5kIjoiZmlsZSIsIm1hbmlmZXN0SWQiOiI5MDgyNDRlMzk4Nzc1YzBlMmM4MjZmZGM5ZDJmYzQyMTc3NjljZDE0MTk1ZTdmMWM2NzkzNTA4NWE0NGI0YmQ0IiwiY2FwYWJpbGl0eSI6InJhaWM6ZmlsZToxOngiLCJ0aW1lIjoiMjAyNS0wMS0wMlQwMzowNDowNS4wMDBaIiwiaG9zdCI6ImgiLCJwYXRocyI6WyItIl0sInRhZ3MiOjEuNSwic3RhdHMiOnsiZmlsZXMiOjEsImJ5dGVzIjo1LCJuZXdCeXRlcyI6NX19',
    ); // found: tags 1.5
    const id = (JSON.parse(plain.toString()) as { manifestId: string }).manifestId;
    const sealed = (p: Buffer): Buffer => Buffer.from(seal(keys.catalog, p, Buffer.from('raic catalog v1')));
    assert.throws(() => openRecord(keys, id, sealed(plain)), integrity);
    assert.throws(() => openRecord(keys, id, sealed(Buffer.from('null'))), integrity);
    const good = Buffer.from(plain.toString().replace('"tags":1.5', '"tags":[]'));
    assert.equal(openRecord(keys, id, sealed(good)).manifestId, id);
  });
});

describe('fuzz findings: structural parsers', () => {
  const base = { type: 'file', mode: 0o644, mtimeNs: '1700000000123456789', size: 0, uid: 0, gid: 0 };
  const tree = (nodes: unknown[]): Buffer => Buffer.from(JSON.stringify({ v: 1, nodes }));

  it('a tree blob that is null, or holds a node that is not a TreeNode, is damage', () => {
    assert.throws(() => decodeTree(Buffer.from('null')), integrity);
    assert.throws(() => decodeTree(tree([null])), integrity);
    for (const bad of [{ type: [] }, { mtimeNs: '1700qQ0000123456789' }, { uid: undefined }, { type: 9007199254740992 }, { mode: -1 }, { ino: '-1' }]) {
      assert.throws(() => decodeTree(tree([{ ...base, name: 'a', ...bad }])), integrity, JSON.stringify(bad));
    }
  });

  it('a tree node name is one path component: restore cannot be led outside its target', () => {
    const raw = (bytes: number[]): string => `\u0000${Buffer.from(bytes).toString('base64url')}`;
    for (const name of ['', '.', '..', 'a/b', '../etc', '\u0000', 'a\u0000b', raw([0x2e, 0x2e]), raw([0x2f, 0xe9]), raw([0xe9, 0x00]), `${raw([0xe9])}=`]) {
      assert.throws(() => decodeTree(tree([{ ...base, name }])), integrity, JSON.stringify(name));
    }
    const nodes = decodeTree(tree([{ ...base, name: raw([0x66, 0xe9, 0x6f]) }, { ...base, name: 'ok' }]));
    assert.deepEqual(decodeTree(encodeTree(nodes)), nodes);
  });

  it('decoding only some node types (a restore\'s directory pass) still checks what it keeps, and a node of no known type', () => {
    const nodes = [{ ...base, name: 'd', type: 'dir' }, { ...base, name: 'f', type: 'file' }, { ...base, name: 's', type: 'symlink', target: 'f' }];
    assert.deepEqual(
      decodeTree(tree(nodes), (type) => type === 'dir').map((n) => n.name),
      ['d'],
    );
    assert.equal(decodeTree(tree(nodes)).length, 3);
    assert.throws(() => decodeTree(tree([{ ...base, name: '..', type: 'dir' }]), (type) => type === 'dir'), integrity, 'a kept node is checked');
    assert.throws(() => decodeTree(tree([{ ...base, name: 'x', type: 'fifo' }]), (type) => type === 'dir'), integrity, 'an unknown type is not skipped');
    assert.throws(() => decodeTree(tree([null]), (type) => type === 'dir'), integrity);
  });

  it('a stream ref with sizes that are not counts, or a depth-0 ref disagreeing with its entries, is damage', () => {
    assert.throws(() => streamRefFromJson(JSON.parse(found('eyJzIjoxZSszMDgsImMiOjkwMDAsImQiOjEsImUiOiJVa0ZKUTFCQlJ6SUFBQUFCMWhVUTBIRWt5WXRHSnp6dUhvR01jdElTUGxmbkVmcm03aTFyTG4zTGNjUmVYRkN1QlNaRFM1R1o1SWVWRTBLZktTNWpnUUFQTklzQUR6UmlBRzVDNkhmQ0VaOWpaanZIVnowTjREdVVMQ3pWaWRndURhZDZ3ZCtScStvWiJ9').toString())), integrity); // found: s 1e308
    assert.throws(() => streamRefFromJson({ s: 5, c: 1, d: 0, e: encodePage([]).toString('base64') }), integrity);
  });

  it('an array config that is null or has no createdAt is damage', () => {
    assert.throws(() => parseArrayConfig(Buffer.from('null'), 'm'), integrity);
    const noCreatedAt = found('eyJmb3JtYXQiOiJyYWljIiwidmVyc2lvbiI6MywiYXJyYXlJZCI6ImI0YjFlNmFhMTg4MjhiMmMxYmI4ZGUwMzgwNzdlNjA4IiwiayI6MiwibiI6MywibWVtYmVyIjowLCJjb2RlYyI6InJzLXZhbmRlcm1vbmRlLWdmMjU2LzEiLCJjb21wcmVzc2lvbiI6InpzdGQvMSIsImFlYWQiOiJ4Y2hhY2hhMjBwb2x5MTMwNS1pZXRmLzEiLCJrZXllZEhhc2giOiJobWFjLXNoYTI1NiIsImhhc2giOiJzaGEyNTYifQ=='); // found
    assert.throws(() => parseArrayConfig(noCreatedAt, 'm'), integrity);
  });

  it('a key object without createdAt is no sound copy, even under its own hash', async () => {
    const { body } = await newKeyObject(randomBytes(32), 'pw', randomBytes(16).toString('hex'), { cost: 'insecure-test' });
    const obj = JSON.parse(body.toString()) as Record<string, unknown>;
    delete obj.createdAt;
    const forged = Buffer.from(JSON.stringify(obj));
    assert.equal(parseKeyObject(keyObjectKey(hash(forged).toString('hex').slice(0, 32)), forged), null);
  });
});

describe('fuzz findings: chunk sizes no frame can hold allocate nothing', () => {
  const mustRejectSmall = (fn: () => unknown): void => {
    const { largest, error } = watchAllocations(fn);
    assert.ok(integrity(error), String(error));
    assert.ok(largest < 1024 * 1024, `allocated ${largest} bytes`);
  };
  const sized = (size: number, framed: Buffer): { size: number; framed: Buffer } => ({ size, framed });
  const split = (b: Buffer): { size: number; framed: Buffer } => sized(b.readUInt32BE(0), b.subarray(4));

  it('unframeChunk checks the codec and the declared size before allocating `size` bytes', () => {
    for (const b64 of ['CAd80QI=', 'gAAAAAEotS/9oHARAQBVAAAQBwcBAGsROcAC', 'gAAAAABoZWxsbywgY2h1bms=', '/////yHIi9zKSxZz9cRxF4Cz8RwAlAIAlAIA']) {
      const { size, framed } = split(found(b64)); // found: 128 MiB to 4 GiB allocated before the frame was read
      mustRejectSmall(() => unframeChunk(framed, size));
    }
  });

  it('a zstd frame declaring more than its bytes can decompress to is refused before allocating', () => {
    // Frame header: magic, descriptor 0xa0 (single segment, 4-byte content size), size 2^31, then one RLE block.
    const frame = Buffer.from([0x01, 0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0x00, 0x00, 0x00, 0x80, 0x13, 0x00, 0x10, 0x61]);
    mustRejectSmall(() => unframeChunk(frame, 2 ** 31));
  });

  it('openChunk with a size its sealed frame does not hold allocates nothing of that size', () => {
    const c = sealChunk({ plaintext: Buffer.from('hello, chunk'), convergenceKey: randomBytes(32), compression: 'off' });
    mustRejectSmall(() => openChunk({ sealed: c.sealed, key: c.key, size: 2 ** 32 - 1 }));
    const key = randomBytes(32);
    const { size, framed } = split(found('/////gBoZWxsbywgY2h1bms=')); // found: a stored frame resealed with size 2^32 − 2
    mustRejectSmall(() => openChunk({ sealed: seal(key, framed), key, size }));
  });
});
