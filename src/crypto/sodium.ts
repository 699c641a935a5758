/**
 * The one place raic loads libsodium: sodium-native (the C library through N-API, prebuilt; context-aware, so it
 * also loads inside worker_threads). Typed here with only the calls raic makes, so no ambient module declaration
 * leaks into the rest of the tree. sodium-native guards its own arguments with `assert`; callers in this folder
 * validate first so users see a RaicError, never an AssertionError.
 */
import { createRequire } from 'node:module';

export interface SodiumNative {
  randombytes_buf(buf: Uint8Array): void;
  /** Returns the number of bytes written to `c` (= m.length + ABYTES); throws if encryption fails. */
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** Returns the number of bytes written to `m`; throws `Error('could not verify data')` on a bad tag. */
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_generichash(out: Uint8Array, input: Uint8Array, key?: Uint8Array): void;
  /** Resolves when Argon2 finished on libuv's thread pool. */
  crypto_pwhash_async(
    out: Uint8Array,
    passwd: Uint8Array,
    salt: Uint8Array,
    opslimit: number,
    memlimit: number,
    alg: number,
  ): Promise<void>;
  sodium_memzero(buf: Uint8Array): void;

  readonly crypto_pwhash_ALG_ARGON2ID13: number;
  readonly crypto_pwhash_SALTBYTES: number;
  readonly crypto_pwhash_OPSLIMIT_MIN: number;
  readonly crypto_pwhash_OPSLIMIT_MAX: number;
  readonly crypto_pwhash_MEMLIMIT_MIN: number;
  readonly crypto_pwhash_MEMLIMIT_MAX: number;
}

const require = createRequire(import.meta.url);

export const sodium = require('sodium-native') as SodiumNative;
