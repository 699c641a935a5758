/**
 * Argument checks shared by every codec (and the Rust crate the tests compare with, which would trap
 * on a bad shape), so all of them refuse the same inputs with the same RaicErrors.
 */
import { RaicError } from '../errors.js';

/** The largest n: GF(2^8) has 256 points; 255 keeps shard indices in one byte with room to spare. */
export const MAX_SHARDS = 255;

/** Throws RaicError('Usage') unless 1 <= k < n <= 255 (integers). */
export function assertShape(k: number, n: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 1 || n <= k || n > MAX_SHARDS) {
    throw new RaicError('Usage', `invalid erasure shape k=${k} n=${n}: need integers 1 <= k < n <= ${MAX_SHARDS}`);
  }
}

/** Throws RaicError('Usage') unless `stripe` is exactly n shards of `shardLen` (>= 1) bytes. */
export function assertStripe(stripe: Uint8Array, shardLen: number, n: number): void {
  if (!Number.isSafeInteger(shardLen) || shardLen < 1) {
    throw new RaicError('Usage', `invalid shard length ${shardLen}: need an integer >= 1`);
  }
  if (stripe.length !== shardLen * n) {
    throw new RaicError('Usage', `stripe is ${stripe.length} bytes, expected ${n} shards × ${shardLen} = ${n * shardLen}`);
  }
}

/**
 * Checks `present` (one flag per shard) and returns how many shards are present.
 * Throws RaicError('Usage') for a wrong length, RaicError('Integrity') for fewer than k present.
 */
export function countPresent(present: readonly boolean[], k: number, n: number): number {
  if (present.length !== n) {
    throw new RaicError('Usage', `present has ${present.length} flags, expected ${n}`);
  }
  let count = 0;
  for (let i = 0; i < n; i++) if (present[i] === true) count++;
  if (count < k) {
    throw new RaicError('Integrity', `only ${count} of ${n} shards present; ${k} are needed to reconstruct`);
  }
  return count;
}

/** Shard length for a payload of `byteLength` bytes split into k shards (ceil; >= 1). */
export function shardLength(byteLength: number, k: number): number {
  if (!Number.isSafeInteger(byteLength) || byteLength < 0 || !Number.isInteger(k) || k < 1) {
    throw new RaicError('Usage', `invalid shard length request: ${byteLength} bytes over k=${k}`);
  }
  return Math.max(1, Math.ceil(byteLength / k));
}
