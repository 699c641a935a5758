import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { base32Decode, base32Encode } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';

const isUsage = (err: unknown) => isRaicError(err, 'Usage');

// RFC 4648 §10, lowercased and with the padding removed.
const RFC_VECTORS: Array<[string, string]> = [
  ['', ''],
  ['f', 'my'],
  ['fo', 'mzxq'],
  ['foo', 'mzxw6'],
  ['foob', 'mzxw6yq'],
  ['fooba', 'mzxw6ytb'],
  ['foobar', 'mzxw6ytboi'],
];

test('RFC 4648 base32 vectors, lowercase, unpadded', () => {
  for (const [plain, text] of RFC_VECTORS) {
    assert.equal(base32Encode(Buffer.from(plain)), text, plain);
    assert.equal(base32Decode(text).toString(), plain, text);
  }
});

test('matches an independent encoder (Python base64.b32encode) on every length class', () => {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255));
  const expected: Array<[number, string]> = [
    [1, 'bm'],
    [5, 'bmyfk6u7'],
    [10, 'bmyfk6u7ytuq4m2y'],
    [31, 'bmyfk6u7ytuq4m2ypwrmp3argznybjok54kdsxudvdg7efz4me'],
    [32, 'bmyfk6u7ytuq4m2ypwrmp3argznybjok54kdsxudvdg7efz4mgda'],
    [33, 'bmyfk6u7ytuq4m2ypwrmp3argznybjok54kdsxudvdg7efz4mgdkw'],
  ];
  for (const [n, text] of expected) {
    assert.equal(base32Encode(bytes(n)), text, `${n} bytes`);
    assert.deepEqual(base32Decode(text), bytes(n));
  }
});

test('round trip of random bytes of every length 0..80, all 256 byte values', () => {
  for (let n = 0; n <= 80; n++) {
    const b = randomFillSync(Buffer.alloc(n));
    const text = base32Encode(b);
    assert.match(text, /^[a-z2-7]*$/);
    assert.equal(text.length, Math.ceil((n * 8) / 5));
    assert.deepEqual(base32Decode(text), b);
  }
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.deepEqual(base32Decode(base32Encode(all)), all);
});

test('decoding accepts upper case', () => {
  assert.equal(base32Decode('MZXW6YTBOI').toString(), 'foobar');
  assert.equal(base32Decode('MzXw6').toString(), 'foo');
});

test('bad characters, padding, impossible lengths and non-canonical endings are Usage errors', () => {
  for (const bad of ['mzxw6yt0', 'mzxw6yt1', 'mzxw6yt8', 'mzxw6yt9', 'my======', 'mzxw 6', 'mzxw-6', 'mzxwé', 'mzxw6\n', '\u{1F600}a']) {
    assert.throws(() => base32Decode(bad), isUsage, JSON.stringify(bad));
  }
  for (const len of [1, 3, 6, 9]) {
    assert.throws(() => base32Decode('a'.repeat(len)), isUsage, `length ${len}`);
  }
  // 'my' is 'f'; 'mz' has the same leading bits but non-zero unused trailing bits.
  assert.throws(() => base32Decode('mz'), isUsage);
  assert.throws(() => base32Decode('mzxr'), isUsage);
});
