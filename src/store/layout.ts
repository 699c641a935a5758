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
 *   forward/<id[0:2]>/<id>    where the live chunks of repacked pack <id> went, one sealed entry per chunk (forwarding.ts)
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

function sharded(prefix: string, idHex: string): string {
  return `${prefix}${idHex.slice(0, 2)}/${idHex}`;
}

export const packKey = (packIdHex: string): string => sharded(PACKS_PREFIX, packIdHex);
export const indexKey = (idHex: string): string => sharded(INDEX_PREFIX, idHex);
export const manifestKey = (idHex: string): string => sharded(MANIFESTS_PREFIX, idHex);
export const keyObjectKey = (idHex: string): string => `${KEYS_PREFIX}${idHex}`;
export const membersKey = (idHex: string): string => `${MEMBERS_PREFIX}${idHex}`;
export const snapshotKey = (idHex: string): string => `${SNAPSHOTS_PREFIX}${idHex}`;
export const forwardKey = (packIdHex: string): string => sharded(FORWARD_PREFIX, packIdHex);
export const forgottenKey = (idHex: string): string => `${FORGOTTEN_PREFIX}${idHex}`;
export const removedKeyKey = (idHex: string): string => `${REMOVED_KEYS_PREFIX}${idHex}`;

/** The id (last path segment) of a sharded key. */
export function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
