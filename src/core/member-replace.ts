/**
 * member replace: a member gone for good is replaced by an empty one at the same share index. The new
 * member gets the public config, the key objects in force (not removed ones) and the new member list (which
 * every member gets too); the local config is rewritten. Its shares are then rebuilt by `raic repair`. The old
 * member is never contacted (but through the lock: taken, confirmed and released on every member that answers).
 * Runs under the exclusive lock, confirmed (`confirmLock`) before anything is written to the new member and
 * again before the new member list and local config (the commit); if it was lost, the command stops there.
 */
import { RaicError, isRaicError } from '../errors.js';
import { withRetry, openProvider, type Provider } from '../providers/index.js';
import {
  parseKeyObject,
  CONFIG_KEY,
  KEYS_PREFIX,
  Members,
  encodeArrayConfig,
  getFromAny,
  idOfKey,
  listUnion,
  newArrayConfig,
  parseArrayConfig,
  removedKeyIds,
  writeMemberList,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';
import { readLocalConfig, writeLocalConfig } from './local-config.js';

export interface ReplaceResult {
  member: number;
  oldUrl: string;
  newUrl: string;
}

export interface ReplaceOptions {
  /** The exclusive lock's confirm(): called before the first write and before the commit; when it rejects, replace stops there. */
  confirmLock?: () => Promise<void>;
}

export async function replaceMember(array: RaicArray, keys: RepoKeys, configPath: string, oldUrl: string, newUrl: string, opts: ReplaceOptions = {}): Promise<ReplaceResult> {
  const local = await readLocalConfig(configPath);
  const index = local.members.indexOf(oldUrl);
  if (index < 0) throw new RaicError('Usage', `${oldUrl} is not a member of this array`, { hint: `members: ${local.members.join(' ')}` });
  if (local.members.includes(newUrl)) throw new RaicError('Usage', `${newUrl} is already a member`);
  const fresh = withRetry(await openProvider(newUrl));
  try {
    await fresh.prepare();
    try {
      const existing = parseArrayConfig(await fresh.get(CONFIG_KEY), newUrl);
      throw new RaicError('Usage', `${newUrl} already holds an array (${existing.arrayId}); a replacement must be empty`);
    } catch (err) {
      if (!isRaicError(err, 'NotFound')) throw err;
    }
    // Everything but the old and the new member: any k of them must answer for the copy of the keys.
    const others = array.members.without(index);
    others.requireUp(array.k, 'cannot replace a member');
    const keyObjects = [...(await listUnion(others, KEYS_PREFIX)).keys()];
    const removed = await removedKeyIds(others, keys.master, keyObjects.map(idOfKey));
    await opts.confirmLock?.();
    for (const key of keyObjects) {
      if (removed.has(idOfKey(key))) continue; // its tombstone reaches the new member with repair
      const sound = await getFromAny(others, key, 'key object', (b) => {
        if (!parseKeyObject(key, b)) throw new RaicError('Integrity', 'not a sound key object');
        return b;
      });
      await fresh.put(key, sound);
    }
    const urls = [...local.members];
    urls[index] = newUrl;
    // The new member list goes to every member that answers, the new one included.
    const config = await getFromAny(others, CONFIG_KEY, 'array config', (b) => parseArrayConfig(b, 'a member'));
    await fresh.put(CONFIG_KEY, encodeArrayConfig(newArrayConfig(array.shape.arrayId, array.k, array.n, index, config.createdAt)));
    await opts.confirmLock?.();
    await writeMemberListTolerant(array, others, keys, urls, fresh);
    await writeLocalConfig(configPath, { ...local, members: urls });
    return { member: index, oldUrl, newUrl };
  } finally {
    await fresh.close();
  }
}

/** The member list on every reachable member but the old one, and on the new one; a member that is down gets it from repair. */
async function writeMemberListTolerant(array: RaicArray, others: Members, keys: RepoKeys, urls: string[], fresh: Provider): Promise<void> {
  const targets = [...others.up().map((s) => s.provider!), fresh];
  await writeMemberList(Members.fromProviders(targets), keys.members, array.shape.arrayId, urls);
}
