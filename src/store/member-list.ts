/**
 * The member URL list, sealed under the repository key and stored on every member as `members/<id>`, so a
 * new machine attaching to the array can place members that do not answer. Providers never see it in
 * clear (one cloud need not learn which others hold the rest of the shares).
 */
import { RaicError } from '../errors.js';
import { hash, open, seal } from '../crypto/index.js';
import { MEMBERS_PREFIX, membersKey } from './layout.js';
import type { Members } from './members.js';
import { listUnion, putOnAll } from './replicated.js';

export interface MemberList {
  urls: string[];
  updatedAt: string;
}

const ad = (arrayId: string): Buffer => Buffer.from(`raic members v1 ${arrayId}`);

export async function writeMemberList(members: Members, key: Uint8Array, arrayId: string, urls: string[]): Promise<void> {
  const sealed = seal(key, Buffer.from(JSON.stringify({ urls, updatedAt: new Date().toISOString() } satisfies MemberList)), ad(arrayId));
  await putOnAll(members, membersKey(hash(sealed).toString('hex').slice(0, 32)), sealed, 'member list');
}

/** A member list as a member served it: opens under the members key, bound to the array id. Rejects Integrity. */
export function openMemberList(key: Uint8Array, arrayId: string, sealed: Uint8Array): MemberList {
  const plain = Buffer.from(open(key, sealed, ad(arrayId))).toString('utf8');
  let list: Partial<MemberList> | null;
  try {
    list = JSON.parse(plain) as Partial<MemberList> | null;
  } catch {
    throw new RaicError('Integrity', 'a member list is not JSON');
  }
  // Authenticated, yet checked: callers compare updatedAt and hand urls on as strings.
  if (typeof list !== 'object' || list === null || !Array.isArray(list.urls) || !list.urls.every((u) => typeof u === 'string') || typeof list.updatedAt !== 'string') {
    throw new RaicError('Integrity', 'a member list is malformed');
  }
  return list as MemberList;
}

/** The most recent member list readable on any up member. */
export async function readMemberList(members: Members, key: Uint8Array, arrayId: string): Promise<string[]> {
  let best: MemberList | null = null;
  for (const objectKey of (await listUnion(members, MEMBERS_PREFIX)).keys()) {
    for (const slot of members.up()) {
      try {
        const list = openMemberList(key, arrayId, await members.call(slot.index, (p) => p.get(objectKey)));
        if (!best || list.updatedAt > best.updatedAt) best = list;
        break;
      } catch {
        // try the next member's copy
      }
    }
  }
  if (!best) throw new RaicError('Integrity', 'no readable member list on the reachable members');
  return best.urls;
}
