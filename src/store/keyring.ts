/**
 * The repository master key, wrapped under a passphrase-derived key (Argon2id) in `keys/<id>` on every
 * member. Subkeys for each purpose are derived from the master key, never used twice.
 */
import { RaicError, isRaicError } from '../errors.js';
import { deriveKeyFromPassphrase, deriveSubkey, hash, kdfParamsWithinDefaults, newKdfParams, randomBytes, unwrapKey, wrapKey, type KdfCost, type KdfParams } from '../crypto/index.js';
import { KEYS_PREFIX, idOfKey, keyObjectKey } from './layout.js';
import type { Members } from './members.js';
import { listCounts, messageOf } from './replicated.js';

export interface RepoKeys {
  master: Buffer;
  /** Derives content-derived chunk keys (convergent within this repository only). */
  convergence: Buffer;
  /** Encrypts index segments and pack trailers. */
  index: Buffer;
  /** Encrypts the member list. */
  members: Buffer;
  /** Seals lock objects (locks.ts). */
  locks: Buffer;
  /** Encrypts catalog records (snapshots and put files). */
  catalog: Buffer;
}

export interface KeyObject {
  version: 1;
  kdf: KdfParams;
  wrapped: string;
  createdAt: string;
}

export function repoKeys(master: Buffer): RepoKeys {
  return {
    master,
    convergence: deriveSubkey(master, 'chunk-key'),
    index: deriveSubkey(master, 'index'),
    members: deriveSubkey(master, 'members'),
    catalog: deriveSubkey(master, 'catalog'),
    locks: deriveSubkey(master, 'locks'),
  };
}

const wrapAd = (arrayId: string): Buffer => Buffer.from(`raic key v1 ${arrayId}`);

export async function newKeyObject(master: Buffer, passphrase: string, arrayId: string, cost: KdfCost = 'default'): Promise<{ key: string; body: Buffer }> {
  const kdf = newKdfParams(cost);
  const kek = await deriveKeyFromPassphrase(passphrase, kdf);
  const obj: KeyObject = { version: 1, kdf, wrapped: wrapKey(kek, master, wrapAd(arrayId)).toString('base64'), createdAt: new Date().toISOString() };
  const body = Buffer.from(`${JSON.stringify(obj, null, 2)}\n`);
  return { key: keyObjectKey(hash(body).toString('hex').slice(0, 32)), body };
}

/** The longest key object read (one is ~300 bytes): a member's larger claim is not parsed. */
export const MAX_KEY_OBJECT_BYTES = 4096;

/**
 * A key object's bytes as one member served them, or null when they cannot be a real copy: the name is the
 * hash of the body (so a garbled or substituted copy shows), the JSON has the shape newKeyObject writes, and
 * its KDF asks no more than init ever writes (a copy demanding 4 GiB of Argon2 is not run).
 */
export function parseKeyObject(objectKey: string, body: Buffer): KeyObject | null {
  if (body.length > MAX_KEY_OBJECT_BYTES) return null;
  if (hash(body).toString('hex').slice(0, 32) !== idOfKey(objectKey)) return null;
  let obj: unknown;
  try {
    obj = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  const o = obj as Partial<KeyObject> | null;
  if (typeof o !== 'object' || o === null || o.version !== 1 || typeof o.wrapped !== 'string' || !kdfParamsWithinDefaults(o.kdf)) return null;
  return o as KeyObject;
}

/**
 * Tries the passphrase against each key object on the members; rejects `WrongKey` if none opens. Keys held
 * by more members are tried first, and of each key the first copy that parseKeyObject accepts is used: one
 * member's garbled, substituted or extra copies cost neither the user's access nor extra Argon2 runs.
 */
export async function unlockMaster(members: Members, passphrase: string, arrayId: string): Promise<Buffer> {
  const counts = await listCounts(members, KEYS_PREFIX);
  const keys = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  if (keys.length === 0) throw new RaicError('NoArray', `no key objects found on the members (${members.describeDown() || 'all reachable'})`);
  let sound = 0;
  for (const key of keys) {
    const obj = await readKeyObject(members, key);
    if (!obj) continue;
    sound += 1;
    const kek = await deriveKeyFromPassphrase(passphrase, obj.kdf);
    try {
      return unwrapKey(kek, Buffer.from(obj.wrapped, 'base64'), wrapAd(arrayId));
    } catch (err) {
      if (!isRaicError(err, 'WrongKey') && !isRaicError(err, 'Integrity')) throw new RaicError('Integrity', `key object ${key}: ${messageOf(err)}`);
    }
  }
  if (sound === 0) throw new RaicError('Integrity', 'no member holds a sound copy of any key object of this array', { hint: 'run raic check: the key objects are damaged on every member' });
  throw new RaicError('WrongKey', 'wrong passphrase: it does not open any key of this array', {
    hint: 'check RAIC_PASSWORD / --password-file / --password-command',
  });
}

/** The first sound copy of a key object on the up members (see parseKeyObject), or null. */
export async function readKeyObject(members: Members, key: string): Promise<KeyObject | null> {
  for (const slot of members.up()) {
    try {
      const obj = parseKeyObject(key, await members.call(slot.index, (p) => p.get(key)));
      if (obj) return obj;
    } catch (err) {
      if (!isRaicError(err)) throw err;
    }
  }
  return null;
}

export const newMasterKey = (): Buffer => randomBytes(32);
