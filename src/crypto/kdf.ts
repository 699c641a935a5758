/**
 * Passphrase → 32-byte key-encryption key with Argon2id v1.3 (libsodium crypto_pwhash, one lane). The
 * parameters travel with the wrapped key (KdfParams is stored as JSON), so costs can rise later without
 * breaking old arrays. The passphrase is NFC-normalised UTF-8, so the same words typed on any system give the
 * same key.
 *
 * Costs: the default is RFC 9106's second recommended option, t=3 passes over m=64 MiB (one lane):
 * ~0.11 s on this project's 2-core machine (bench/crypto-bench.ts). Every backup and put unlocks the key,
 * so the cost is paid on each run (a nightly unchanged backup takes ~1.5 s in all); memory is capped at
 * 64 MiB because raic keeps its peak RSS under 300 MB, which libsodium's MODERATE preset (256 MiB) breaks.
 * The test suite creates arrays with `raic init --insecure-kdf` (hidden; opslimit 1, 64 KiB) so its thousands of
 * runs stay fast. No environment variable selects it: an ambient setting must never weaken a real array's key
 * objects without a word (init says so on stderr when the flag is given).
 */
import { RaicError } from '../errors.js';
import { KEY_BYTES } from './aead.js';
import { randomBytes } from './random.js';
import { sodium } from './sodium.js';

export interface KdfParams {
  alg: 'argon2id13';
  opslimit: number;
  memlimit: number;
  salt: string /* base64 */;
}

export const DEFAULT_OPSLIMIT = 3;
export const DEFAULT_MEMLIMIT = 64 * 2 ** 20;
const FAST_OPSLIMIT = 1;
const FAST_MEMLIMIT = 64 * 2 ** 10;
/** A config with a larger memlimit is refused rather than run: a tampered config must not exhaust memory. */
export const MAX_MEMLIMIT = 4 * 2 ** 30;
/** Likewise for time: opslimit 64 at 4 GiB would run for minutes. */
export const MAX_OPSLIMIT = 64;
const SALT_BYTES = 16;

/**
 * `insecure-test`: the trivial cost of `raic init --insecure-kdf` (tests only). Or the cost of an existing key
 * (`raic key add` / `passwd` give a new key the cost of the key in use, with a fresh salt).
 */
export type KdfCost = 'default' | 'insecure-test' | Pick<KdfParams, 'opslimit' | 'memlimit'>;

export function newKdfParams(cost: KdfCost = 'default'): KdfParams {
  const fast = cost === 'insecure-test';
  const like = typeof cost === 'object' ? cost : null;
  return {
    alg: 'argon2id13',
    opslimit: like?.opslimit ?? (fast ? FAST_OPSLIMIT : DEFAULT_OPSLIMIT),
    memlimit: like?.memlimit ?? (fast ? FAST_MEMLIMIT : DEFAULT_MEMLIMIT),
    salt: randomBytes(SALT_BYTES).toString('base64'),
  };
}

/**
 * Runs Argon2id on libuv's thread pool (the event loop stays free). Rejects Usage if `params` is malformed or
 * out of range; Permanent if libsodium fails (e.g. it cannot allocate memlimit bytes).
 */
export async function deriveKeyFromPassphrase(passphrase: string, params: KdfParams): Promise<Buffer> {
  const salt = checkParams(params);
  const out = Buffer.alloc(KEY_BYTES);
  const pw = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  try {
    await sodium.crypto_pwhash_async(out, pw, salt, params.opslimit, params.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
  } catch (cause) {
    throw new RaicError('Permanent', `Argon2id failed (opslimit ${params.opslimit}, memlimit ${params.memlimit})`, {
      cause,
    });
  } finally {
    sodium.sodium_memzero(pw);
  }
  return out;
}

/**
 * Whether `params` are well formed and ask no more than the defaults (what init writes): a key object
 * read from a member is run only then, so no member can make a run spend minutes or gigabytes on Argon2.
 */
export function kdfParamsWithinDefaults(params: unknown): params is KdfParams {
  try {
    checkParams(params as KdfParams);
  } catch {
    return false;
  }
  const p = params as KdfParams;
  return p.opslimit <= DEFAULT_OPSLIMIT && p.memlimit <= DEFAULT_MEMLIMIT;
}

/** Returns the decoded salt; throws Usage naming the first bad field. */
function checkParams(params: KdfParams): Buffer {
  const p = params as Partial<Record<keyof KdfParams, unknown>> | null;
  if (typeof p !== 'object' || p === null) throw new RaicError('Usage', 'KDF params must be an object');
  if (p.alg !== 'argon2id13') throw new RaicError('Usage', `unknown KDF algorithm ${JSON.stringify(p.alg)}`);
  const min = Math.max(sodium.crypto_pwhash_OPSLIMIT_MIN, 1);
  if (!isIntIn(p.opslimit, min, Math.min(MAX_OPSLIMIT, sodium.crypto_pwhash_OPSLIMIT_MAX))) {
    throw new RaicError('Usage', `KDF opslimit must be an integer in [${min}, ${MAX_OPSLIMIT}], got ${String(p.opslimit)}`);
  }
  const memMin = sodium.crypto_pwhash_MEMLIMIT_MIN;
  if (!isIntIn(p.memlimit, memMin, Math.min(MAX_MEMLIMIT, sodium.crypto_pwhash_MEMLIMIT_MAX))) {
    throw new RaicError('Usage', `KDF memlimit must be an integer in [${memMin}, ${MAX_MEMLIMIT}] bytes, got ${String(p.memlimit)}`);
  }
  const salt = typeof p.salt === 'string' ? Buffer.from(p.salt, 'base64') : undefined;
  // Buffer.from(…, 'base64') skips bad characters silently; a round trip proves the text was canonical base64.
  if (salt === undefined || salt.length !== SALT_BYTES || salt.toString('base64') !== p.salt) {
    throw new RaicError('Usage', `KDF salt must be ${SALT_BYTES} bytes in base64`);
  }
  return salt;
}

function isIntIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= lo && v <= hi;
}
