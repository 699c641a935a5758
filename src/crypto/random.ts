/** Cryptographically secure random bytes from libsodium (the same generator seal uses for nonces). */
import { RaicError } from '../errors.js';
import { sodium } from './sodium.js';

/** A fresh, unpooled Buffer of `n` random bytes (unpooled: key material never shares memory with other data). */
export function randomBytes(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RaicError('Usage', `randomBytes: bad length ${n}`);
  const buf = Buffer.alloc(n);
  sodium.randombytes_buf(buf);
  return buf;
}
