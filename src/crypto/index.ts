/**
 * crypto/ — the only layer that touches a cipher. Pure, synchronous functions over bytes (deriveKeyFromPassphrase
 * excepted: it is async and runs off the main thread); all work inside worker_threads. Terms:
 *
 * - key: 32 random bytes (KEY_BYTES). master key → deriveSubkey(master, purpose) → independent per-purpose keys.
 * - seal / open: authenticated encryption of one message; sealed = nonce(24) || ciphertext || tag(16), AEAD_ID.
 *   open never returns bytes that fail authentication: it throws Integrity.
 * - ad (additional data): context bound to a sealed message without being stored in it (e.g. the array id or
 *   an object's role); opening with different ad fails like a wrong key.
 * - keyedHash: deterministic 32-byte MAC used for content-derived chunk ids/keys (KEYED_HASH_ID).
 * - hash: unkeyed 32-byte digest for share and object integrity (HASH_ID).
 * - KEK (key-encryption key): derived from a passphrase (Argon2id, KdfParams) or read from a key file; wraps the
 *   repository key (wrapKey / unwrapKey; unwrapKey's failure is WrongKey).
 * - base32: lowercase unpadded RFC 4648 text for keys inside capability strings.
 *
 * The *_ID constants name each algorithm in the on-disk format; the bytes do not depend on the libsodium binding.
 * Backed by sodium-native (libsodium via N-API) and node:crypto; choices measured in bench/crypto-bench.ts.
 */
export { KEY_BYTES, AEAD_OVERHEAD, AEAD_ID, seal, open } from './aead.js';
export { randomBytes } from './random.js';
export { KEYED_HASH_ID, keyedHash } from './keyed-hash.js';
export { HASH_ID, hash } from './hash.js';
export { SUBKEY_ID, deriveSubkey } from './subkey.js';
export { type KdfCost, type KdfParams, newKdfParams, deriveKeyFromPassphrase, kdfParamsWithinDefaults } from './kdf.js';
export { WRAPPED_KEY_BYTES, wrapKey, unwrapKey } from './key-wrap.js';
export { base32Encode, base32Decode } from './base32.js';
