/**
 * The repository master key, wrapped under a passphrase-derived key (Argon2id) in `keys/<id>` on every
 * member, one key object per passphrase. Subkeys for each purpose are derived from the master key, never
 * used twice. A removed key object leaves a tombstone (`removed-keys/<id>`, sealed under a subkey of the
 * master): a copy of the object that a member still serves (it was down during the removal, or was rolled
 * back) unwraps the master but is refused, as long as any up member holds the tombstone — no member can
 * remove the tombstones the others hold, nor forge one.
 */
import { hostname } from 'node:os';
import { RaicError, isRaicError } from '../errors.js';
import { deriveKeyFromPassphrase, deriveSubkey, hash, kdfParamsWithinDefaults, newKdfParams, open, randomBytes, seal, unwrapKey, wrapKey, type KdfCost, type KdfParams } from '../crypto/index.js';
import { KEYS_PREFIX, REMOVED_KEYS_PREFIX, idOfKey, keyObjectKey, removedKeyKey } from './layout.js';
import { currentUser } from './locks.js';
import type { ObjectCache } from '../cache/index.js';
import type { Members } from './members.js';
import { listCounts, listUnion, messageOf, tombstonedIds } from './replicated.js';

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
  /** Who made the key: a KeyOwner sealed under the master's `key-owner` subkey (base64), so providers learn no
   * user or host name. Absent on key objects written before it existed. */
  owner?: string;
}

/** Shown by `raic key list` (restic's user and host columns). */
export interface KeyOwner {
  user: string;
  host: string;
}

export interface NewKeyOptions {
  /** KDF cost (default: the default cost); `raic key add` passes the key in use's params. */
  cost?: KdfCost;
  /** Owner names recorded in the key (default: the local user and host name). */
  user?: string;
  host?: string;
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

export async function newKeyObject(master: Buffer, passphrase: string, arrayId: string, opts: NewKeyOptions = {}): Promise<{ key: string; body: Buffer }> {
  const kdf = newKdfParams(opts.cost);
  const kek = await deriveKeyFromPassphrase(passphrase, kdf);
  const wrapped = wrapKey(kek, master, wrapAd(arrayId)).toString('base64');
  const owner: KeyOwner = { user: opts.user ?? currentUser(), host: opts.host ?? hostname() };
  const sealedOwner = Buffer.from(seal(deriveSubkey(master, 'key-owner'), Buffer.from(JSON.stringify(owner)), ownerAd(arrayId, wrapped))).toString('base64');
  const obj: KeyObject = { version: 1, kdf, wrapped, createdAt: new Date().toISOString(), owner: sealedOwner };
  const body = Buffer.from(`${JSON.stringify(obj, null, 2)}\n`);
  return { key: keyObjectKey(hash(body).toString('hex').slice(0, 32)), body };
}

/** The owner a key object records (bound to its wrapped key), or null when it records none or it does not open. */
export function keyOwner(master: Buffer, arrayId: string, obj: KeyObject): KeyOwner | null {
  if (obj.owner === undefined) return null;
  try {
    const o = JSON.parse(Buffer.from(open(deriveSubkey(master, 'key-owner'), Buffer.from(obj.owner, 'base64'), ownerAd(arrayId, obj.wrapped))).toString('utf8')) as Partial<KeyOwner>;
    return typeof o.user === 'string' && typeof o.host === 'string' ? { user: o.user, host: o.host } : null;
  } catch {
    return null;
  }
}

const ownerAd = (arrayId: string, wrapped: string): Buffer => Buffer.from(`raic key owner v1 ${arrayId} ${wrapped}`);

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
  if (typeof o !== 'object' || o === null || o.version !== 1 || typeof o.wrapped !== 'string' || typeof o.createdAt !== 'string' || (o.owner !== undefined && typeof o.owner !== 'string') || !kdfParamsWithinDefaults(o.kdf)) return null;
  return o as KeyObject;
}

/** The key object a passphrase opened, and the master key it holds. */
export interface UnlockedKey {
  master: Buffer;
  /** Its object key, `keys/<id>`. */
  key: string;
  obj: KeyObject;
}

/**
 * Tries the passphrase against each key object on the members; rejects `WrongKey` if none opens. Keys held
 * by more members are tried first (keys with a tombstone listed last), and of each key the first copy that
 * parseKeyObject accepts is used: one member's garbled, substituted or extra copies cost neither the user's
 * access nor extra Argon2 runs. A key that opens but has a sound tombstone on some up member was removed: it
 * is skipped, and if no other key opens the rejection says so.
 */
export async function unlockKey(members: Members, passphrase: string, arrayId: string, started?: EarlyKek | null): Promise<UnlockedKey> {
  const early = started === undefined ? startEarlyKek(members.cache, passphrase) : started;
  // The first key objects listed are fetched from the first member to list them while the other members'
  // listings are still coming in: the GET overlaps the slowest listing instead of following it (over 50 ms links
  // an unchanged backup's lock went out ~60 ms sooner). Which key is tried, and whether it was removed, is
  // still decided on every member's listing; a copy is used only if it hashes to its name (parseKeyObject).
  const fetchedEarly = new Map<string, Promise<Buffer | null>>();
  // The key object this host last opened the array with, from its cache: no GET at all when it is listed still.
  const notedKey = readKeyNote(members.cache);
  if (notedKey) fetchedEarly.set(notedKey.key, Promise.resolve(notedKey.bytes));
  const fetchEarly = (member: number, listed: string[]): void => {
    for (const key of listed) {
      if (fetchedEarly.size >= EARLY_KEY_FETCHES) return;
      if (!fetchedEarly.has(key)) fetchedEarly.set(key, members.call(member, (p) => p.get(key)).catch(() => null));
    }
  };
  const [counts, tombstones] = await Promise.all([listCounts(members, KEYS_PREFIX, fetchEarly), listUnion(members, REMOVED_KEYS_PREFIX)]);
  const listedRemoved = (key: string): number => (tombstones.has(removedKeyKey(idOfKey(key))) ? 1 : 0);
  const keys = [...counts.keys()].sort((a, b) => listedRemoved(a) - listedRemoved(b) || counts.get(b)! - counts.get(a)! || (a < b ? -1 : 1));
  if (keys.length === 0) throw new RaicError('NoArray', `no key objects found on the members (${members.describeDown() || 'all reachable'})`);
  let sound = 0;
  let removed = 0;
  for (const key of keys) {
    const obj = await readKeyObject(members, key, fetchedEarly.get(key));
    if (!obj) continue;
    sound += 1;
    const noted = early !== null && sameKdf(early.params, obj.kdf);
    // Not two Argon2 runs at once (64 MiB each): the early one finishes before another starts.
    const earlyKey = early ? await early.kek : null;
    const kek = noted && earlyKey ? earlyKey : await deriveKeyFromPassphrase(passphrase, obj.kdf);
    let master: Buffer;
    try {
      master = unwrapKey(kek, Buffer.from(obj.wrapped, 'base64'), wrapAd(arrayId));
    } catch (err) {
      if (!isRaicError(err, 'WrongKey') && !isRaicError(err, 'Integrity')) throw new RaicError('Integrity', `key object ${key}: ${messageOf(err)}`);
      continue;
    }
    if (listedRemoved(key) && (await removedKeyIds(members, master, [idOfKey(key)])).size > 0) {
      removed += 1;
      continue;
    }
    if (!noted) members.cache?.writeNote(KDF_NOTE, Buffer.from(JSON.stringify(obj.kdf)));
    if (notedKey?.key !== key) writeKeyNote(members.cache, key, await fetchedEarly.get(key));
    return { master, key, obj };
  }
  if (sound === 0) throw new RaicError('Integrity', 'no member holds a sound copy of any key object of this array', { hint: 'run raic check: the key objects are damaged on every member' });
  if (removed > 0) {
    throw new RaicError('WrongKey', 'wrong passphrase: its key was removed from this array (raic key remove / passwd), it opens nothing', {
      hint: 'use a passphrase of a current key; raic repair deletes the stale copy',
    });
  }
  throw new RaicError('WrongKey', 'wrong passphrase: it does not open any key of this array', {
    hint: 'check RAIC_PASSWORD / --password-file / --password-command',
  });
}

/**
 * The KDF parameters of the key object this host last opened the array with, noted in its cache: Argon2 (a
 * quarter of a second) starts on them at once, beside the listing and fetching of the key objects (two round
 * trips) instead of after. Its result serves only a key object read from the members that names exactly these
 * parameters; a note that is damaged, foreign or asks more than the defaults is ignored.
 */
const KDF_NOTE = 'kdf.json';

/**
 * The key object this host last opened the array with, noted in its cache as the members hold it: unlockKey
 * uses it instead of a GET (a round trip before the lock, on every command that asks for the passphrase) when the
 * members still list it, and only if it hashes to its name (parseKeyObject), as any copy. Which key is tried and
 * whether it was removed is still decided on the members' listings.
 */
const KEY_NOTE = 'key-object';

function readKeyNote(cache: ObjectCache | null): { key: string; bytes: Buffer } | null {
  const note = cache?.readNote(KEY_NOTE);
  if (!note) return null;
  const nl = note.indexOf(0x0a);
  if (nl <= 0) return null;
  const noted = { key: note.subarray(0, nl).toString('utf8'), bytes: note.subarray(nl + 1) };
  // A copy that does not hash to its name is no note: the key is then fetched early and noted again.
  return parseKeyObject(noted.key, noted.bytes) ? noted : null;
}

/**
 * Notes a key object just opened, when sound bytes of it are at hand (fetched early: a garbled early copy, for
 * which the members were asked in turn, is not noted; nor one read in turn, which the next run fetches early).
 */
function writeKeyNote(cache: ObjectCache | null, key: string, bytes: Buffer | null | undefined): void {
  if (cache && bytes && parseKeyObject(key, bytes)) cache.writeNote(KEY_NOTE, Buffer.concat([Buffer.from(`${key}\n`), bytes]));
}

/** Key objects fetched before every member's listing is in (unlockKey): an array has one per passphrase, most often one. */
const EARLY_KEY_FETCHES = 2;

/** Argon2 started early on noted parameters (startEarlyKek), for unlockKey to use if a key object names them. */
export interface EarlyKek {
  params: KdfParams;
  kek: Promise<Buffer | null>;
}

/** Starts Argon2 on the parameters noted in `cache` (see KDF_NOTE), or null without a sound note. */
export function startEarlyKek(cache: ObjectCache | null, passphrase: string): EarlyKek | null {
  const note = cache?.readNote(KDF_NOTE);
  if (!note) return null;
  let params: unknown;
  try {
    params = JSON.parse(note.toString('utf8'));
  } catch {
    return null;
  }
  if (!kdfParamsWithinDefaults(params)) return null;
  return { params, kek: deriveKeyFromPassphrase(passphrase, params).catch(() => null) };
}

const sameKdf = (a: KdfParams, b: KdfParams): boolean => a.alg === b.alg && a.opslimit === b.opslimit && a.memlimit === b.memlimit && a.salt === b.salt;

export async function unlockMaster(members: Members, passphrase: string, arrayId: string, started?: EarlyKek | null): Promise<Buffer> {
  return (await unlockKey(members, passphrase, arrayId, started)).master;
}

const removedAd = (id: string): Buffer => Buffer.from(`raic key removed v1 ${id}`);
const removalKey = (master: Buffer): Buffer => deriveSubkey(master, 'removed-keys');

/** The tombstone of key object `<id>`: its removal time, sealed under a subkey of the master and bound to the id. */
export function sealKeyTombstone(master: Buffer, id: string): Buffer {
  return Buffer.from(seal(removalKey(master), Buffer.from(new Date().toISOString()), removedAd(id)));
}

/** Whether `bytes` are a sound tombstone of key object `<id>` (a forged or garbled one is not). */
export function isKeyTombstone(master: Buffer, id: string, bytes: Buffer): boolean {
  try {
    open(removalKey(master), bytes, removedAd(id));
    return true;
  } catch {
    return false;
  }
}

/** Of `candidates` (key object ids), those with a sound tombstone on some up member: removed keys. */
export function removedKeyIds(members: Members, master: Buffer, candidates: Iterable<string>): Promise<Set<string>> {
  return tombstonedIds(members, REMOVED_KEYS_PREFIX, candidates, (id, bytes) => {
    if (!isKeyTombstone(master, id, bytes)) throw new RaicError('Integrity', 'not a sound tombstone');
  });
}

/** The key objects in force: listed on some up member (with how many hold it), sound on one, not removed. */
export async function liveKeyObjects(members: Members, master: Buffer): Promise<{ key: string; obj: KeyObject; holders: number }[]> {
  const counts = await listCounts(members, KEYS_PREFIX);
  const removed = await removedKeyIds(members, master, [...counts.keys()].map(idOfKey));
  const out: { key: string; obj: KeyObject; holders: number }[] = [];
  for (const [key, holders] of counts) {
    if (removed.has(idOfKey(key))) continue;
    const obj = await readKeyObject(members, key);
    if (obj) out.push({ key, obj, holders });
  }
  return out.sort((a, b) => (a.obj.createdAt < b.obj.createdAt ? -1 : a.obj.createdAt > b.obj.createdAt ? 1 : a.key.localeCompare(b.key)));
}

/** Whether `passphrase` opens `obj` to `master` (a key just written is read back and checked before it is relied on). */
export async function opensTo(obj: KeyObject, passphrase: string, arrayId: string, master: Buffer): Promise<boolean> {
  try {
    return unwrapKey(await deriveKeyFromPassphrase(passphrase, obj.kdf), Buffer.from(obj.wrapped, 'base64'), wrapAd(arrayId)).equals(master);
  } catch {
    return false;
  }
}

/**
 * The first sound copy of a key object on the up members (see parseKeyObject), or null. `fetched`: a copy
 * already asked of some member, tried first.
 */
export async function readKeyObject(members: Members, key: string, fetched?: Promise<Buffer | null>): Promise<KeyObject | null> {
  const early = fetched ? await fetched : null;
  const obj = early ? parseKeyObject(key, early) : null;
  if (obj) return obj;
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
