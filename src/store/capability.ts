/**
 * Capability: the text that is necessary and sufficient to read one stored file.
 *
 *   raic:<kind>:1:<array tag>:<manifest id>:<key>:<check>      kind = file (raic put) | tree (a snapshot)
 *
 * all parts lowercase base32 (copy-paste safe, no padding): array tag = first 5 bytes of the array id
 * (so a capability from another array is recognised as such), manifest id = 32-byte hash of the sealed
 * manifest (locates it on any member and authenticates it), key = 32-byte manifest key, check = first
 * 5 bytes of SHA-256 over everything before it (catches typos and truncation before any network call).
 */
import { RaicError } from '../errors.js';
import { base32Decode, base32Encode, hash } from '../crypto/index.js';

export type CapabilityKind = 'file' | 'tree';

export interface FileCapability {
  kind: CapabilityKind;
  version: 1;
  arrayTag: string;
  manifestId: string;
  key: Buffer;
}

export function arrayTagOf(arrayId: string): string {
  return base32Encode(Buffer.from(arrayId, 'hex').subarray(0, 5));
}

export function formatCapability(arrayId: string, manifestIdHex: string, key: Uint8Array, kind: CapabilityKind = 'file'): string {
  const body = `raic:${kind}:1:${arrayTagOf(arrayId)}:${base32Encode(Buffer.from(manifestIdHex, 'hex'))}:${base32Encode(key)}`;
  return `${body}:${checkOf(body)}`;
}

const checkOf = (body: string): string => base32Encode(hash(Buffer.from(body)).subarray(0, 5));

const bad = (why: string): RaicError =>
  new RaicError('Usage', `not a valid capability: ${why}`, { hint: 'copy it again exactly as raic printed it (one line starting with raic:file:1: or raic:tree:1:)' });

export function parseCapability(text: string): FileCapability {
  const s = text.trim();
  const parts = s.split(':');
  if (parts[0] !== 'raic') throw bad('it does not start with "raic:"');
  const kind = parts[1];
  if (kind !== 'file' && kind !== 'tree') throw bad(`unknown kind "${kind ?? ''}"`);
  if (parts[2] !== '1') throw bad(`unsupported version "${parts[2] ?? ''}"`);
  if (parts.length !== 7) throw bad(`expected 7 parts separated by ":", found ${parts.length} (truncated?)`);
  const [, , , tag, id, key, check] = parts as [string, string, string, string, string, string, string];
  if (check !== checkOf(parts.slice(0, 6).join(':'))) throw bad('its checksum does not match (a character was changed, added or lost)');
  const idBytes = base32Decode(id);
  const keyBytes = base32Decode(key);
  if (idBytes.length !== 32 || keyBytes.length !== 32 || base32Decode(tag).length !== 5) throw bad('a part has the wrong length');
  return { kind, version: 1, arrayTag: tag, manifestId: idBytes.toString('hex'), key: keyBytes };
}
