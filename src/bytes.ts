/** Byte-array helpers below every layer, like errors.ts and file-io.ts. */

/** True when `a` and `b` hold the same bytes; either may be a view into a larger buffer. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
