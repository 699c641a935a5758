import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HASH_ID, KEYED_HASH_ID, KEY_BYTES, deriveSubkey, hash, keyedHash, randomBytes } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const isUsage = (err: unknown) => isRaicError(err, 'Usage');

test('hash is SHA-256 (FIPS 180-4 examples)', () => {
  assert.equal(HASH_ID, 'sha256');
  assert.equal(hash(new Uint8Array(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(hash(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    hash(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toString('hex'),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
  assert.equal(hash(Buffer.from('abc')).length, 32);
});

test('keyedHash is HMAC-SHA-256 (RFC 4231 test cases 1, 3, 4)', () => {
  assert.equal(KEYED_HASH_ID, 'hmac-sha256');
  assert.equal(
    keyedHash(Buffer.alloc(20, 0x0b), Buffer.from('Hi There')).toString('hex'),
    'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  );
  assert.equal(
    keyedHash(Buffer.alloc(20, 0xaa), Buffer.alloc(50, 0xdd)).toString('hex'),
    '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  );
  assert.equal(
    keyedHash(hex('0102030405060708090a0b0c0d0e0f10111213141516171819'), Buffer.alloc(50, 0xcd)).toString('hex'),
    '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  );
});

test('keyedHash with a raic-sized key matches an independent HMAC (Python hmac)', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(
    keyedHash(key, Buffer.from('raic chunk')).toString('hex'),
    'f3ec15b1be89f288a7b60ba49204d1684a567f48bc06d20bb10e9beb39fc55a8',
  );
});

test('keyedHash depends on the key and refuses implausible keys', () => {
  const data = Buffer.from('same content');
  assert.notDeepEqual(keyedHash(randomBytes(KEY_BYTES), data), keyedHash(randomBytes(KEY_BYTES), data));
  const k = randomBytes(KEY_BYTES);
  assert.deepEqual(keyedHash(k, data), keyedHash(k, Buffer.from('same content')));
  assert.throws(() => keyedHash(Buffer.alloc(15), data), isUsage);
  assert.throws(() => keyedHash(Buffer.alloc(65), data), isUsage);
});

test('deriveSubkey is HKDF-SHA-256(master, salt = none, info = "raic/" + label), pinned against Python hmac', () => {
  const master = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  assert.equal(deriveSubkey(master, 'chunk-key').toString('hex'), '0e62cd275cdc52450b3ce74147a8daa6cd6356bab200ff5fde3904027a21c198');
  assert.equal(deriveSubkey(master, 'index').toString('hex'), '4736adfd13918d810e2c7f2528043e279e8fe7533225de92a362e681104da970');
});

test('deriveSubkey gives independent keys per label and per master', () => {
  const m1 = randomBytes(KEY_BYTES);
  const m2 = randomBytes(KEY_BYTES);
  const a = deriveSubkey(m1, 'chunk-key');
  assert.equal(a.length, 32);
  assert.deepEqual(deriveSubkey(m1, 'chunk-key'), a);
  assert.notDeepEqual(deriveSubkey(m1, 'index'), a);
  assert.notDeepEqual(deriveSubkey(m2, 'chunk-key'), a);
  assert.notDeepEqual(a, m1);
  assert.throws(() => deriveSubkey(m1, ''), isUsage);
  assert.throws(() => deriveSubkey(Buffer.alloc(16), 'index'), isUsage);
});

test('randomBytes returns fresh, distinct, unpooled buffers', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  assert.ok(Buffer.isBuffer(a));
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, 32);
  assert.equal(randomBytes(0).length, 0);
  // 4 KiB of random bytes is not all zeros (the chance is 2^-32768).
  assert.ok(randomBytes(4096).some((x) => x !== 0));
  assert.throws(() => randomBytes(-1), isUsage);
  assert.throws(() => randomBytes(1.5), isUsage);
});
