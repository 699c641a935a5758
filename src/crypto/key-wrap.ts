/**
 * Key wrapping: a 32-byte key sealed under a key-encryption key (from a passphrase or a key file) with the AEAD
 * of aead.ts, so a wrapped key is exactly KEY_BYTES + AEAD_OVERHEAD = 72 bytes. `ad` binds the wrapped copy to
 * its context (e.g. the array id): a copy moved to another array does not open.
 */
import { RaicError } from '../errors.js';
import { AEAD_OVERHEAD, KEY_BYTES, checkKey, open, seal } from './aead.js';

export const WRAPPED_KEY_BYTES = KEY_BYTES + AEAD_OVERHEAD;

/** Throws Usage if `kek` or `key` is not KEY_BYTES long. */
export function wrapKey(kek: Uint8Array, key: Uint8Array, ad: Uint8Array): Buffer {
  checkKey(kek, 'key-encryption key');
  checkKey(key, 'wrapped key');
  const out = Buffer.alloc(WRAPPED_KEY_BYTES);
  seal(kek, key, ad, out);
  return out;
}

/**
 * Throws WrongKey if authentication fails (wrong passphrase or key file, or a copy bound to another `ad`),
 * Integrity if `wrapped` has the wrong length, Usage on a bad `kek`.
 */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array, ad: Uint8Array): Buffer {
  checkKey(kek, 'key-encryption key');
  if (wrapped.length !== WRAPPED_KEY_BYTES) {
    throw new RaicError('Integrity', `wrapped key is ${wrapped.length} bytes, expected ${WRAPPED_KEY_BYTES}`);
  }
  const out = Buffer.alloc(KEY_BYTES);
  try {
    open(kek, wrapped, ad, out);
  } catch (cause) {
    throw new RaicError('WrongKey', 'wrong passphrase or key file: it does not open the repository key', {
      cause,
      hint: 'check RAIC_PASSWORD / --password-file / --password-command',
    });
  }
  return out;
}
