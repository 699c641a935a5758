/**
 * The on-disk format does not depend on the libsodium binding: bytes raic seals with sodium-native open with
 * libsodium-wrappers-sumo (libsodium compiled to WASM) and the reverse; Argon2id gives the same key in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import lsw from 'libsodium-wrappers-sumo';
import { AEAD_OVERHEAD, KEY_BYTES, deriveKeyFromPassphrase, open, randomBytes, seal, type KdfParams } from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';

await lsw.ready;

const NONCE = lsw.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;

for (const size of [0, 1, 1000, 4 * 2 ** 20]) {
  test(`AEAD, ${size} bytes: sodium-native seal → libsodium-wrappers open, and back`, () => {
    const key = randomBytes(KEY_BYTES);
    const ad = Buffer.from('array:cross');
    const plaintext = randomFillSync(Buffer.alloc(size));

    const sealed = seal(key, plaintext, ad);
    const theirs = lsw.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.subarray(NONCE), ad, sealed.subarray(0, NONCE), key);
    assert.deepEqual(Buffer.from(theirs), plaintext);

    const nonce = lsw.randombytes_buf(NONCE);
    const body = lsw.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
    const fromWasm = Buffer.concat([nonce, body]);
    assert.equal(fromWasm.length, size + AEAD_OVERHEAD);
    assert.deepEqual(Buffer.from(open(key, fromWasm, ad)), plaintext);

    fromWasm[fromWasm.length - 1]! ^= 1;
    assert.throws(() => open(key, fromWasm, ad), (err: unknown) => isRaicError(err, 'Integrity'));
  });
}

test('Argon2id: raic (sodium-native) and libsodium-wrappers derive the same key', async () => {
  const params: KdfParams = { alg: 'argon2id13', opslimit: 2, memlimit: 8 * 2 ** 20, salt: randomBytes(16).toString('base64') };
  const passphrase = 'pässwörd with ünïcode';
  const ours = await deriveKeyFromPassphrase(passphrase, params);
  const theirs = lsw.crypto_pwhash(
    32,
    Buffer.from(passphrase.normalize('NFC'), 'utf8'),
    Buffer.from(params.salt, 'base64'),
    params.opslimit,
    params.memlimit,
    lsw.crypto_pwhash_ALG_ARGON2ID13,
  );
  assert.deepEqual(ours, Buffer.from(theirs));
});
