/**
 * The public array config stored as `config` on each member — the only plaintext raic writes. It names
 * the array, its shape and the algorithms, and which share index this member holds. Nothing secret.
 */
import { RaicError } from '../errors.js';
import { AEAD_ID, HASH_ID, KEYED_HASH_ID } from '../crypto/index.js';
import { COMPRESSION_ID } from '../compress/index.js';
import { CODEC_ID } from '../erasure/index.js';

/** 2: chunks framed with a compression codec byte (compress/) and a length-prefixed stripe. */
export const FORMAT_VERSION = 3;

/** A config of another format version: the one place that says so (RaicArray.open turns it into one line). */
export class UnsupportedVersion extends RaicError {
  constructor(
    where: string,
    readonly version: unknown,
  ) {
    super('Permanent', `${where}: array format version ${String(version)} is not supported by this raic (it reads version ${FORMAT_VERSION})`, { hint: 'use the raic release that made this array' });
  }
}

export interface ArrayConfig {
  format: 'raic';
  version: number;
  /** 16 random bytes, hex. */
  arrayId: string;
  k: number;
  n: number;
  /** The share index this member holds, 0 ≤ member < n. */
  member: number;
  codec: string;
  compression: string;
  aead: string;
  keyedHash: string;
  hash: string;
  createdAt: string;
}

export function newArrayConfig(arrayId: string, k: number, n: number, member: number, createdAt: string): ArrayConfig {
  return { format: 'raic', version: FORMAT_VERSION, arrayId, k, n, member, codec: CODEC_ID, compression: COMPRESSION_ID, aead: AEAD_ID, keyedHash: KEYED_HASH_ID, hash: HASH_ID, createdAt };
}

export function encodeArrayConfig(c: ArrayConfig): Buffer {
  return Buffer.from(`${JSON.stringify(c, null, 2)}\n`);
}

export function parseArrayConfig(bytes: Buffer, where: string): ArrayConfig {
  let c: Partial<ArrayConfig> | null;
  try {
    c = JSON.parse(bytes.toString('utf8')) as Partial<ArrayConfig> | null;
  } catch {
    throw new RaicError('Integrity', `${where}: the array config is not valid JSON`);
  }
  // Plaintext any member can write: JSON.parse may return null or a number, and createdAt is copied on (member replace).
  if (typeof c !== 'object' || c === null || c.format !== 'raic' || typeof c.createdAt !== 'string' || typeof c.arrayId !== 'string' || !/^[0-9a-f]{32}$/.test(c.arrayId)) {
    throw new RaicError('Integrity', `${where}: not a raic array config`);
  }
  if (c.version !== FORMAT_VERSION) throw new UnsupportedVersion(where, c.version);
  const { k, n, member } = c;
  if (!Number.isInteger(k) || !Number.isInteger(n) || !Number.isInteger(member) || k! < 1 || k! >= n! || n! > 255 || member! < 0 || member! >= n!) {
    throw new RaicError('Integrity', `${where}: array config has an invalid shape`);
  }
  for (const [field, want] of [['codec', CODEC_ID], ['compression', COMPRESSION_ID], ['aead', AEAD_ID], ['keyedHash', KEYED_HASH_ID], ['hash', HASH_ID]] as const) {
    if (c[field] !== want) throw new RaicError('Permanent', `${where}: array uses ${field} ${String(c[field])}, this raic supports ${want}`);
  }
  return c as ArrayConfig;
}
