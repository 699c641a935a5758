/** Byte-array helpers below every layer, like errors.ts and file-io.ts. */

/** The same bytes as a Buffer (a view, not a copy): for Buffer's methods on any Uint8Array. */
export const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** True when `a` and `b` hold the same bytes; either may be a view into a larger buffer. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && asBuffer(a).equals(b);
}
