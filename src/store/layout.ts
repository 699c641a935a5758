/**
 * Object names on every member. raic owns naming: ids are lowercase hex, so providers escape nothing.
 *
 *   config                    public array config of this member (JSON, the only plaintext object)
 *   keys/<id>                 repository key wrapped by a passphrase-derived key (JSON)
 *   members/<id>              the member URL list, encrypted under the repository key
 *   packs/<id[0:2]>/<id>      pack: this member's shares of many stripes + encrypted trailer
 *   index/<id[0:2]>/<id>      encrypted index segment: chunk id → where its shares are
 *   manifests/<id[0:2]>/<id>  encrypted manifest (root of a file or tree); id = hash of its bytes
 *   snapshots/<id>            encrypted catalog record of a snapshot or put file (id = its manifest id)
 *   forward/<id[0:2]>/<id>.<g>  generation g (1, 2, …) of the record of where the live chunks of pack <id> went, one
 *                             sealed entry per chunk (forwarding.ts); forward/<id[0:2]>/<id> is generation 0 (read only)
 *   forgotten/<id>            tombstone of a forgotten snapshot record (sealed): a replayed record stays forgotten
 *   removed-keys/<id>         tombstone of a removed key object (sealed): a stale copy of keys/<id> opens nothing
 */
export const CONFIG_KEY = 'config';
export const KEYS_PREFIX = 'keys/';
export const MEMBERS_PREFIX = 'members/';
export const PACKS_PREFIX = 'packs/';
export const INDEX_PREFIX = 'index/';
export const MANIFESTS_PREFIX = 'manifests/';
export const SNAPSHOTS_PREFIX = 'snapshots/';
export const LOCKS_PREFIX = 'locks/'; // locks/<random id>: sealed lock objects (locks.ts)
export const FORWARD_PREFIX = 'forward/';
export const FORGOTTEN_PREFIX = 'forgotten/';
export const REMOVED_KEYS_PREFIX = 'removed-keys/';

/** Objects every run reads again and that are never rewritten: cached whole (cache/). Metadata packs are
 * cached too, marked as the layers above meet them (Members.keepWhole); data packs, locks and keys never. */
export const CACHED_PREFIXES: readonly string[] = [INDEX_PREFIX, SNAPSHOTS_PREFIX, FORGOTTEN_PREFIX, MANIFESTS_PREFIX, FORWARD_PREFIX];

function sharded(prefix: string, idHex: string): string {
  return `${prefix}${idHex.slice(0, 2)}/${idHex}`;
}

export const packKey = (packIdHex: string): string => sharded(PACKS_PREFIX, packIdHex);
export const indexKey = (idHex: string): string => sharded(INDEX_PREFIX, idHex);
export const manifestKey = (idHex: string): string => sharded(MANIFESTS_PREFIX, idHex);
export const keyObjectKey = (idHex: string): string => `${KEYS_PREFIX}${idHex}`;
export const membersKey = (idHex: string): string => `${MEMBERS_PREFIX}${idHex}`;
export const snapshotKey = (idHex: string): string => `${SNAPSHOTS_PREFIX}${idHex}`;
/** Generations of a pack's forwarding record: 0 (the name without a suffix, read only) up to this. */
export const MAX_FORWARD_GENERATION = 0xffff_ffff;
export const forwardKey = (packIdHex: string, generation: number): string => sharded(FORWARD_PREFIX, generation === 0 ? packIdHex : `${packIdHex}.${generation}`);

/** The pack and generation a forwarding record's key names; null for a key raic would not write. */
export function parseForwardKey(key: string): { pack: string; generation: number } | null {
  const m = /^forward\/([0-9a-f]{2})\/([0-9a-f]{32})(?:\.([1-9][0-9]{0,9}))?$/.exec(key);
  if (!m || m[1] !== m[2]!.slice(0, 2)) return null;
  const generation = m[3] === undefined ? 0 : Number(m[3]);
  return generation <= MAX_FORWARD_GENERATION ? { pack: m[2]!, generation } : null;
}
export const forgottenKey = (idHex: string): string => `${FORGOTTEN_PREFIX}${idHex}`;
export const removedKeyKey = (idHex: string): string => `${REMOVED_KEYS_PREFIX}${idHex}`;

/** The id (last path segment) of a sharded key. */
export function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
