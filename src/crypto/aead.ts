/**
 * Authenticated encryption of one message: XChaCha20-Poly1305-IETF (libsodium's
 * crypto_aead_xchacha20poly1305_ietf) with a fresh random 192-bit nonce per message, so nonces never need
 * tracking. Sealed layout, fixed by AEAD_ID:
 *
 *   nonce (24 bytes) || ciphertext (plaintext.length bytes) || Poly1305 tag (16 bytes)
 *
 * The bytes are what libsodium produces on any binding (sodium-native here; libsodium-wrappers opens them too,
 * test/unit/crypto/cross-binding.test.ts).
 */
import { RaicError } from '../errors.js';
import { sodium } from './sodium.js';

export const KEY_BYTES = 32;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
export const AEAD_OVERHEAD = NONCE_BYTES + TAG_BYTES;
export const AEAD_ID = 'xchacha20poly1305-ietf/1';

/** libsodium's limit for one message: the binding asserts the ciphertext length fits in 32 bits. */
const MAX_SEALED_BYTES = 0xffffffff;

/** Per thread; seal is synchronous, so calls never share it. */
/**
 * Random nonces are drawn 256 at a time: one getrandom() per nonce cost ~7 µs, 5% of a worker's time sealing
 * a tree of small files. The pool is per thread and never reused (each nonce is handed out once).
 */
const NONCES_PER_DRAW = 256;
const noncePool = Buffer.alloc(NONCE_BYTES * NONCES_PER_DRAW);
let nonceAt = noncePool.length;
function nextNonce(): Buffer {
  if (nonceAt === noncePool.length) {
    sodium.randombytes_buf(noncePool);
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.subarray(nonceAt - NONCE_BYTES, nonceAt);
}

export function checkKey(key: Uint8Array, what = 'key'): void {
  if (key.length !== KEY_BYTES) {
    throw new RaicError('Usage', `${what} must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}

/**
 * Encrypts `plaintext` under `key`, binding `ad` (authenticated, not stored). With `out` (at least
 * plaintext.length + AEAD_OVERHEAD bytes, not overlapping `plaintext`) nothing is allocated for the output: the
 * returned array is out.subarray(0, plaintext.length + AEAD_OVERHEAD). Throws Usage on a bad key or short `out`.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array, out?: Uint8Array): Uint8Array {
  checkKey(key);
  const sealedLength = plaintext.length + AEAD_OVERHEAD;
  if (sealedLength - NONCE_BYTES > MAX_SEALED_BYTES) {
    throw new RaicError('Usage', `cannot seal ${plaintext.length} bytes in one message (limit 4 GiB)`);
  }
  const sealed = takeOutput(out, sealedLength);
  // The nonce is drawn into a buffer of our own, then copied: sodium-native's randombytes_buf silently writes
  // nothing into a view of a SharedArrayBuffer (the worker pool encodes straight into shared memory).
  const nonce = nextNonce();
  sealed.set(nonce, 0);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.subarray(NONCE_BYTES), plaintext, ad ?? null, null, nonce, key);
  return sealed;
}

/**
 * Inverse of seal. Throws Integrity if `sealed` is shorter than AEAD_OVERHEAD or fails authentication (wrong key,
 * wrong `ad`, or any byte changed); Usage on a bad key or short `out`. With `out` (at least
 * sealed.length - AEAD_OVERHEAD bytes) the plaintext is written there and out.subarray(0, n) returned; on failure
 * libsodium leaves zeros there, never unauthenticated plaintext.
 */
export function open(key: Uint8Array, sealed: Uint8Array, ad?: Uint8Array, out?: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < AEAD_OVERHEAD) {
    throw new RaicError('Integrity', `sealed message is ${sealed.length} bytes, shorter than its ${AEAD_OVERHEAD}-byte overhead`);
  }
  const plaintext = takeOutput(out, sealed.length - AEAD_OVERHEAD);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      plaintext,
      null,
      sealed.subarray(NONCE_BYTES),
      ad ?? null,
      sealed.subarray(0, NONCE_BYTES),
      key,
    );
  } catch (cause) {
    throw new RaicError('Integrity', 'sealed message failed authentication (wrong key, wrong context, or corrupted)', {
      cause,
    });
  }
  return plaintext;
}

function takeOutput(out: Uint8Array | undefined, length: number): Uint8Array {
  if (out === undefined) return Buffer.allocUnsafe(length);
  if (out.length < length) {
    throw new RaicError('Usage', `output buffer is ${out.length} bytes, needs ${length}`);
  }
  return out.length === length ? out : out.subarray(0, length);
}
