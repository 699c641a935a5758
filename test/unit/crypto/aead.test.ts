import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { AEAD_ID, AEAD_OVERHEAD, KEY_BYTES, open, randomBytes, seal } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const isCode = (code: Parameters<typeof isRaicError>[1]) => (err: unknown) => isRaicError(err, code);

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305).
const KAT = {
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('404142434445464748494a4b4c4d4e4f5051525354555657'),
  ad: hex('50515253c0c1c2c3c4c5c6c7'),
  plaintext: Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  ciphertext: hex(`bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e`),
  tag: hex('c0875924c1c7987947deafd8780acf49'),
};

test('constants name the format', () => {
  assert.equal(KEY_BYTES, 32);
  assert.equal(AEAD_OVERHEAD, 40);
  assert.equal(AEAD_ID, 'xchacha20poly1305-ietf/1');
});

test('opens the IETF draft XChaCha20-Poly1305 vector laid out as nonce || ciphertext || tag', () => {
  const sealed = Buffer.concat([KAT.nonce, KAT.ciphertext, KAT.tag]);
  assert.deepEqual(Buffer.from(open(KAT.key, sealed, KAT.ad)), KAT.plaintext);
  // The same vector without its AD must not open: AD is authenticated.
  assert.throws(() => open(KAT.key, sealed), isCode('Integrity'));
});

for (const size of [0, 1, 4 * 2 ** 20]) {
  test(`round trip of ${size} random bytes, with and without ad and out buffers`, () => {
    const key = randomBytes(KEY_BYTES);
    const plaintext = randomFillSync(Buffer.alloc(size));
    const ad = Buffer.from('array-id:0123');

    const sealed = seal(key, plaintext, ad);
    assert.equal(sealed.length, size + AEAD_OVERHEAD);
    assert.deepEqual(Buffer.from(open(key, sealed, ad)), plaintext);

    const noAd = seal(key, plaintext);
    assert.deepEqual(Buffer.from(open(key, noAd)), plaintext);
    // Absent ad and empty ad are the same thing to libsodium.
    assert.deepEqual(Buffer.from(open(key, noAd, new Uint8Array(0))), plaintext);

    // Into caller buffers larger than needed: the result is a view at the start of `out`, nothing else copied.
    const out = Buffer.alloc(size + AEAD_OVERHEAD + 7, 0xee);
    const into = seal(key, plaintext, ad, out);
    assert.equal(into.buffer, out.buffer);
    assert.equal(into.byteOffset, out.byteOffset);
    assert.equal(into.length, size + AEAD_OVERHEAD);
    assert.deepEqual([...out.subarray(size + AEAD_OVERHEAD)], [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    const back = Buffer.alloc(size + 3);
    const opened = open(key, into, ad, back);
    assert.equal(opened.buffer, back.buffer);
    assert.equal(opened.length, size);
    assert.deepEqual(Buffer.from(opened), plaintext);
  });
}

test('fresh random nonce per seal: same input seals to different bytes', () => {
  const key = randomBytes(KEY_BYTES);
  const m = Buffer.from('same message');
  const a = seal(key, m);
  const b = seal(key, m);
  assert.notDeepEqual(Buffer.from(a.subarray(0, 24)), Buffer.from(b.subarray(0, 24)));
  assert.notDeepEqual(Buffer.from(a), Buffer.from(b));
});

test('works on views with a non-zero byteOffset (pooled Buffers, subarrays)', () => {
  const key = randomBytes(KEY_BYTES);
  const backing = randomFillSync(Buffer.alloc(1000));
  const plaintext = backing.subarray(13, 613);
  const out = Buffer.alloc(2000).subarray(101, 101 + 640);
  const sealed = seal(key, plaintext, undefined, out);
  assert.deepEqual(Buffer.from(open(key, Buffer.from(sealed))), Buffer.from(plaintext));
});

test('seals into and opens from views of a SharedArrayBuffer, with a fresh random nonce each time', () => {
  // sodium-native's randombytes_buf writes nothing into shared memory: a nonce drawn there would be all zeros.
  const key = randomBytes(KEY_BYTES);
  const shared = new SharedArrayBuffer(4096);
  const plaintext = new Uint8Array(shared, 7, 500);
  randomFillSync(plaintext);
  const a = seal(key, plaintext, undefined, new Uint8Array(shared, 1000, 540));
  const b = seal(key, plaintext, undefined, new Uint8Array(shared, 2000, 540));
  assert.notDeepEqual(Buffer.from(a.subarray(0, 24)), Buffer.alloc(24));
  assert.notDeepEqual(Buffer.from(a.subarray(0, 24)), Buffer.from(b.subarray(0, 24)));
  assert.deepEqual(Buffer.from(open(key, a, undefined, new Uint8Array(shared, 3000, 500))), Buffer.from(plaintext));
});

test('tampering with any region, the ad or the key fails with Integrity', () => {
  const key = randomBytes(KEY_BYTES);
  const plaintext = randomFillSync(Buffer.alloc(1000));
  const ad = Buffer.from('context');
  const sealed = Buffer.from(seal(key, plaintext, ad));
  const regions: Array<[string, number]> = [
    ['nonce first byte', 0],
    ['nonce last byte', 23],
    ['ciphertext first byte', 24],
    ['ciphertext middle', 24 + 500],
    ['ciphertext last byte', 24 + 999],
    ['tag first byte', sealed.length - 16],
    ['tag last byte', sealed.length - 1],
  ];
  for (const [what, at] of regions) {
    const bad = Buffer.from(sealed);
    bad[at]! ^= 0x01;
    assert.throws(() => open(key, bad, ad), isCode('Integrity'), what);
  }
  assert.throws(() => open(key, sealed, Buffer.from('contexT')), isCode('Integrity'), 'changed ad');
  assert.throws(() => open(key, sealed), isCode('Integrity'), 'missing ad');
  assert.throws(() => open(randomBytes(KEY_BYTES), sealed, ad), isCode('Integrity'), 'wrong key');
  assert.throws(() => open(key, sealed.subarray(0, sealed.length - 1), ad), isCode('Integrity'), 'truncated');
  assert.throws(() => open(key, Buffer.concat([sealed, Buffer.of(0)]), ad), isCode('Integrity'), 'extended');
  assert.throws(() => open(key, sealed.subarray(0, 39)), isCode('Integrity'), 'shorter than the overhead');
  // And the untouched message still opens.
  assert.deepEqual(Buffer.from(open(key, sealed, ad)), plaintext);
});

test('a failed open into a caller buffer leaves no unauthenticated plaintext there', () => {
  const key = randomBytes(KEY_BYTES);
  const plaintext = Buffer.alloc(256, 0x41);
  const sealed = Buffer.from(seal(key, plaintext));
  sealed[sealed.length - 1]! ^= 0x80;
  const out = Buffer.alloc(256, 0x41);
  assert.throws(() => open(key, sealed, undefined, out), isCode('Integrity'));
  assert.ok(!out.includes(0x41), 'out must not hold the decrypted bytes');
});

test('bad keys and short output buffers are Usage errors', () => {
  const m = Buffer.from('x');
  assert.throws(() => seal(Buffer.alloc(31), m), isCode('Usage'));
  assert.throws(() => seal(Buffer.alloc(33), m), isCode('Usage'));
  assert.throws(() => seal(Buffer.alloc(32), m, undefined, Buffer.alloc(40)), isCode('Usage'));
  const sealed = seal(Buffer.alloc(32), m);
  assert.throws(() => open(Buffer.alloc(16), sealed), isCode('Usage'));
  assert.throws(() => open(Buffer.alloc(32), Buffer.concat([sealed, sealed]), undefined, Buffer.alloc(41)), isCode('Usage'));
});

test('nonces stay distinct across many seals (they are drawn in batches)', () => {
  const key = randomBytes(KEY_BYTES);
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const nonce = Buffer.from(seal(key, Buffer.from('x')).subarray(0, 24)).toString('hex');
    assert.ok(!seen.has(nonce), `nonce repeated at seal ${i}`);
    assert.notEqual(nonce, '0'.repeat(48));
    seen.add(nonce);
  }
});
