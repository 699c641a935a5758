/**
 * key list | add | remove | passwd (restic's `raic key`): one key object `keys/<id>` per passphrase, each
 * wrapping the same master key — so snapshots, capabilities and everything sealed stay as they are; only key
 * objects come and go.
 *
 * Invariants: a new key is written to every up member (at least the write quorum, or it is deleted again
 * and nothing changed), read back and opened with its passphrase before anything relies on it; a key is removed
 * by first sealing its tombstone on the members (store/keyring.ts: a copy a member still serves opens nothing),
 * then deleting it everywhere. passwd adds before it removes, so a crash never leaves the array without a key;
 * the key in use and the last key are never removed.
 */
import { RaicError, isRaicError } from '../errors.js';
import {
  idOfKey,
  keyOwner,
  liveKeyObjects,
  newKeyObject,
  opensTo,
  putOnAll,
  readKeyObject,
  removeEverywhere,
  removedKeyKey,
  sealKeyTombstone,
  type RaicArray,
  type UnlockedKey,
} from '../store/index.js';

/** One key as `raic key list` shows it (restic's columns, and how many members hold it). */
export interface KeyEntry {
  /** Whether the passphrase given opened this key. */
  current: boolean;
  id: string;
  /** Null for a key that records no owner. */
  user: string | null;
  host: string | null;
  created: string;
  members: number;
}

/** Owner names recorded in a new key (default: this machine's user and host). */
export interface KeyOwnerOptions {
  user?: string | undefined;
  host?: string | undefined;
}

/** A member that missed a write (the write quorum held): raic repair fills it. */
export interface Missed {
  member: number;
  url: string;
}

export interface AddKeyResult {
  id: string;
  /** Members that did not get the new key (down or failing): raic repair copies it there. */
  missed: Missed[];
}

export interface RemoveKeyResult {
  id: string;
  /** Members where the key object could not be deleted (down or failing). It opens nothing there while any up
   * member holds its tombstone; raic repair deletes it. */
  notRemovedOn: string[];
  /** Members that did not get the tombstone: raic repair copies it there. */
  missed: Missed[];
}

export interface PasswdResult {
  /** The new key's id. */
  id: string;
  /** The id of the key that was in use, now removed. */
  removed: string;
  missed: Missed[];
  notRemovedOn: string[];
}

export async function listKeys(array: RaicArray, current: UnlockedKey): Promise<KeyEntry[]> {
  return (await liveKeyObjects(array.members, current.master)).map(({ key, obj, holders }) => {
    const owner = keyOwner(current.master, array.shape.arrayId, obj);
    return { current: key === current.key, id: idOfKey(key), user: owner?.user ?? null, host: owner?.host ?? null, created: obj.createdAt, members: holders };
  });
}

/** Adds a key for `passphrase`, with the KDF cost of the key in use. */
export async function addKey(array: RaicArray, current: UnlockedKey, passphrase: string, owner: KeyOwnerOptions = {}): Promise<AddKeyResult> {
  const key = await writeNewKey(array, current, passphrase, owner);
  return { id: idOfKey(key), missed: missedBy(array) };
}

/** Removes the key `ref` (an id or a unique prefix of one, ≥ 4 hex digits): never the key in use nor the last one. */
export async function removeKey(array: RaicArray, current: UnlockedKey, ref: string, confirmLock?: () => Promise<void>): Promise<RemoveKeyResult> {
  const live = (await liveKeyObjects(array.members, current.master)).map((l) => l.key);
  const key = resolveKey(live, ref);
  if (live.length === 1) {
    throw new RaicError('Usage', `refusing to remove key ${idOfKey(key)}: it is the only key of this array, nothing could open it any more`, {
      hint: 'to change its passphrase use raic key passwd',
    });
  }
  if (key === current.key) {
    throw new RaicError('Usage', `refusing to remove key ${idOfKey(key)}: it is the key in use (the passphrase given opens it)`, {
      hint: 'run key remove with another key\'s passphrase, or change this one with raic key passwd',
    });
  }
  const notRemovedOn = await retireKey(array, current, key, confirmLock);
  return { id: idOfKey(key), notRemovedOn, missed: missedBy(array) };
}

/** Replaces the key in use by a key for `passphrase`: the new one is written and checked first, then the old one goes. */
export async function changePassphrase(array: RaicArray, current: UnlockedKey, passphrase: string, owner: KeyOwnerOptions = {}, confirmLock?: () => Promise<void>): Promise<PasswdResult> {
  const added = await writeNewKey(array, current, passphrase, owner);
  let notRemovedOn: string[];
  try {
    notRemovedOn = await retireKey(array, current, current.key, confirmLock);
  } catch (err) {
    if (!isRaicError(err)) throw err;
    throw new RaicError(err.code, `the new key ${idOfKey(added)} was saved and opens the array, but the old key ${idOfKey(current.key)} could not be removed: ${err.message}`, {
      hint: `the old passphrase may still open the array: fix the member(s), then run raic key remove ${idOfKey(current.key)} with the new passphrase`,
    });
  }
  return { id: idOfKey(added), removed: idOfKey(current.key), missed: missedBy(array), notRemovedOn };
}

/**
 * Writes a key object for `passphrase` to every up member and checks it opens when read back; returns its
 * object key. Rejects (after deleting what it wrote) when fewer than the write quorum stored it, or it does not open.
 */
async function writeNewKey(array: RaicArray, current: UnlockedKey, passphrase: string, owner: KeyOwnerOptions): Promise<string> {
  const { members } = array;
  members.requireUp(array.writeQuorum, 'cannot save a new key (the write quorum is not reachable)');
  const { opslimit, memlimit } = current.obj.kdf;
  const { key, body } = await newKeyObject(current.master, passphrase, array.shape.arrayId, {
    cost: { opslimit, memlimit },
    ...(owner.user !== undefined ? { user: owner.user } : {}),
    ...(owner.host !== undefined ? { host: owner.host } : {}),
  });
  try {
    await putOnAll(members, key, body, 'new key', array.writeQuorum);
    const stored = await readKeyObject(members, key);
    if (!stored || !(await opensTo(stored, passphrase, array.shape.arrayId, current.master))) {
      throw new RaicError('Integrity', `the new key ${idOfKey(key)} did not open the array when read back from the members; it was removed, no key changed`, {
        hint: 'run raic check',
      });
    }
  } catch (err) {
    await removeEverywhere(members, key);
    throw err;
  }
  return key;
}

/**
 * Seals the tombstone of `key` on the members (the write quorum at least), then deletes it everywhere; returns
 * where it is left. `confirmLock` (the exclusive lock's confirm) runs first: a lock taken away since stops it.
 */
async function retireKey(array: RaicArray, current: UnlockedKey, key: string, confirmLock?: () => Promise<void>): Promise<string[]> {
  await confirmLock?.();
  const { members } = array;
  const id = idOfKey(key);
  await putOnAll(members, removedKeyKey(id), sealKeyTombstone(current.master, id), 'removed key\'s tombstone', array.writeQuorum);
  const down = members.slots.filter((s) => s.downReason !== null).map((s) => `${s.url} (${s.downReason})`);
  return [...down, ...(await removeEverywhere(members, key))];
}

/** The live key `ref` names: a whole id or a unique prefix of ≥ 4 hex digits. */
function resolveKey(live: string[], ref: string): string {
  const want = ref.toLowerCase();
  if (!/^[0-9a-f]{4,32}$/.test(want)) throw new RaicError('Usage', `"${ref}" is not a key id (hex, at least 4 characters)`, { hint: 'raic key list shows the ids' });
  const matches = live.filter((key) => idOfKey(key).startsWith(want));
  if (matches.length === 0) throw new RaicError('NotFound', `no key ${ref} in this array`, { hint: 'raic key list shows the ids' });
  if (matches.length > 1) throw new RaicError('Usage', `key id ${ref} is ambiguous (${matches.length} match); give more characters`);
  return matches[0]!;
}

/** Members that missed a write of this run (down, or the write failed). */
const missedBy = (array: RaicArray): Missed[] => array.members.degraded().map(({ member, url }) => ({ member, url }));
