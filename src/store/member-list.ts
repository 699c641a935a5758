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

interface MemberList {
  urls: string[];
  updatedAt: string;
}

const ad = (arrayId: string): Buffer => Buffer.from(`raic members v1 ${arrayId}`);

export async function writeMemberList(members: Members, key: Uint8Array, arrayId: string, urls: string[]): Promise<void> {
  const sealed = seal(key, Buffer.from(JSON.stringify({ urls, updatedAt: new Date().toISOString() } satisfies MemberList)), ad(arrayId));
  await putOnAll(members, membersKey(hash(sealed).toString('hex').slice(0, 32)), sealed, 'member list');
}

/** The most recent member list readable on any up member. */
export async function readMemberList(members: Members, key: Uint8Array, arrayId: string): Promise<string[]> {
  let best: MemberList | null = null;
  for (const objectKey of (await listUnion(members, MEMBERS_PREFIX)).keys()) {
    for (const slot of members.up()) {
      try {
        const sealed = await members.call(slot.index, (p) => p.get(objectKey));
        const list = JSON.parse(Buffer.from(open(key, sealed, ad(arrayId))).toString('utf8')) as MemberList;
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
