/**
 * The repository master key, wrapped under a passphrase-derived key (Argon2id) in `keys/<id>` on every
 * member. Subkeys for each purpose are derived from the master key, never used twice.
 */
import { RaicError, isRaicError } from '../errors.js';
import { deriveKeyFromPassphrase, deriveSubkey, hash, newKdfParams, randomBytes, unwrapKey, wrapKey, type KdfParams } from '../crypto/index.js';
import { KEYS_PREFIX, keyObjectKey } from './layout.js';
import type { Members } from './members.js';
import { listUnion, messageOf } from './replicated.js';

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

interface KeyObject {
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

export async function newKeyObject(master: Buffer, passphrase: string, arrayId: string): Promise<{ key: string; body: Buffer }> {
  const kdf = newKdfParams();
  const kek = await deriveKeyFromPassphrase(passphrase, kdf);
  const obj: KeyObject = { version: 1, kdf, wrapped: wrapKey(kek, master, wrapAd(arrayId)).toString('base64'), createdAt: new Date().toISOString() };
  const body = Buffer.from(`${JSON.stringify(obj, null, 2)}\n`);
  return { key: keyObjectKey(hash(body).toString('hex').slice(0, 32)), body };
}

/** Tries the passphrase against each key object on the members; rejects `WrongKey` if none opens. */
export async function unlockMaster(members: Members, passphrase: string, arrayId: string): Promise<Buffer> {
  const keys = [...(await listUnion(members, KEYS_PREFIX)).keys()].sort();
  if (keys.length === 0) throw new RaicError('NoArray', `no key objects found on the members (${members.describeDown() || 'all reachable'})`);
  const tried = new Set<string>();
  for (const key of keys) {
    let obj: KeyObject | null = null;
    for (const slot of members.up()) {
      try {
        obj = JSON.parse((await members.call(slot.index, (p) => p.get(key))).toString('utf8')) as KeyObject;
        break;
      } catch (err) {
        if (!isRaicError(err) && !(err instanceof SyntaxError)) throw err;
      }
    }
    if (!obj) continue;
    const fingerprint = JSON.stringify(obj.kdf) + obj.wrapped;
    if (tried.has(fingerprint)) continue;
    tried.add(fingerprint);
    const kek = await deriveKeyFromPassphrase(passphrase, obj.kdf);
    try {
      return unwrapKey(kek, Buffer.from(obj.wrapped, 'base64'), wrapAd(arrayId));
    } catch (err) {
      if (!isRaicError(err, 'WrongKey') && !isRaicError(err, 'Integrity')) throw new RaicError('Integrity', `key object ${key}: ${messageOf(err)}`);
    }
  }
  throw new RaicError('WrongKey', 'wrong passphrase: it does not open any key of this array', {
    hint: 'check RAIC_PASSWORD / --password-file / --password-command',
  });
}

export const newMasterKey = (): Buffer => randomBytes(32);
