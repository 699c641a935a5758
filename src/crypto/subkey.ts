/**
 * Independent subkeys from one master key, one per purpose label: HKDF-SHA-256 (RFC 5869) with
 * IKM = master, an empty salt (the master is already uniformly random), info = "raic/" || UTF-8(label), L = 32.
 * Knowing one subkey reveals nothing about the master or about other labels' subkeys. Part of the format.
 */
import { hkdfSync } from 'node:crypto';
import { RaicError } from '../errors.js';
import { KEY_BYTES, checkKey } from './aead.js';

export const SUBKEY_ID = 'hkdf-sha256/raic';

/** Throws Usage on a master key that is not KEY_BYTES long or an empty label. */
export function deriveSubkey(master: Uint8Array, label: string): Buffer {
  checkKey(master, 'master key');
  if (label.length === 0) throw new RaicError('Usage', 'deriveSubkey: empty purpose label');
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from(`raic/${label}`, 'utf8'), KEY_BYTES));
}
