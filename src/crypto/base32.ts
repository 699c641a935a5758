/**
 * RFC 4648 §6 base32 in lowercase without padding: copy-paste-safe text for capabilities (no punctuation,
 * double-click selects it whole). Decoding accepts either case but nothing else: no padding, whitespace or
 * separators, and the unused low bits of the last character must be zero, so each byte string has exactly one
 * lowercase text form.
 */
import { RaicError } from '../errors.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Character code → 5-bit value, -1 for characters outside the alphabet (either case accepted). */
const DECODE = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) {
    t[ALPHABET.charCodeAt(i)] = i;
    t[ALPHABET.toUpperCase().charCodeAt(i)] = i;
  }
  return t;
})();

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfff; // at most 4 + 8 bits are pending
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** Throws Usage on a character outside the alphabet, an impossible length, or non-zero trailing bits. */
export function base32Decode(text: string): Buffer {
  // Unpadded lengths mod 8 of 1, 3 or 6 characters cannot come from whole bytes.
  const rem = text.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) {
    throw new RaicError('Usage', `base32 text of ${text.length} characters is truncated or too long`);
  }
  const out = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) throw new RaicError('Usage', `invalid base32 character ${JSON.stringify(text[i])} at position ${i}`);
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new RaicError('Usage', 'base32 text is not canonical: its last character has non-zero unused bits');
  }
  return out;
}
