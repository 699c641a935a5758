/**
 * Small objects stored whole on every member (config, keys, index segments, manifests): write to all,
 * read from whichever member answers with bytes that pass the caller's check.
 */
import pLimit from 'p-limit';
import { RaicError, isRaicError } from '../errors.js';
import type { Members } from './members.js';
import { QuorumWrite } from './quorum-write.js';

/**
 * Puts `body` under `key` on every up member (or, given one body per member, member i's own: an
 * erasure-coded object's shares). Succeeds when at least `need` members (default: all n)
 * stored it; members that missed it are recorded as repair debt. Once `need` members stored it, the others
 * get a grace time (quorum-write.ts) and are then cut off: a slow member delays a write by at most that.
 * Otherwise rejects `Quorum`, naming the members that failed or were down. An object already under `key`
 * (create-once providers say `Exists`) counts as stored — the key names its content — unless
 * `compareExisting`: then it counts only when its bytes are `body`'s (for keys that do not name their content).
 */
export async function putOnAll(members: Members, key: string, body: Uint8Array | readonly Uint8Array[], what: string, need = members.n, compareExisting = false): Promise<void> {
  const up = members.up().map((s) => s.index);
  const write = new QuorumWrite(
    up,
    (i, signal) =>
      members.call(i, async (p) => {
        const mine = body instanceof Uint8Array ? body : body[i]!;
        try {
          await p.put(key, mine, { signal });
        } catch (err) {
          if (!isRaicError(err, 'Exists')) throw err;
          if (compareExisting && !(await p.get(key, undefined, { signal })).equals(mine)) throw new RaicError('Integrity', `another object is already stored under ${key}`);
        }
      }),
    need,
  );
  if (!(await write.quorum())) {
    await write.settled;
    const failed = write.failed().map(({ member, err }) => `${members.slots[member]!.url} (${messageOf(err)})`);
    const down = members.describeDown();
    throw new RaicError('Quorum', `could not store the ${what} on enough members (${write.stored().length} of ${members.n}, ${need} needed): ${[...failed, ...(down && failed.length === 0 ? [down] : [])].join('; ')}`, {
      hint: 'nothing was committed; fix the member(s) and run the command again',
    });
  }
  await write.settleWithGrace();
  const stored = new Set(write.stored());
  for (const s of members.slots) if (!stored.has(s.index)) members.recordMissedWrite(s.index, write.wasCut(s.index) ? 'slow' : 'failed');
}

/**
 * Reads `key` from the first member (in index order, skipping down ones) whose bytes pass `accept`
 * (which throws to reject them). Rejects `NotFound` if no member has it, naming what each said.
 */
export async function getFromAny<T>(members: Members, key: string, what: string, accept: (bytes: Buffer) => T): Promise<T> {
  const problems: string[] = [];
  let sawOnlyNotFound = true;
  for (const slot of members.slots) {
    if (slot.downReason !== null) {
      problems.push(`${slot.url}: down`);
      continue;
    }
    try {
      const bytes = await members.call(slot.index, (p) => p.get(key));
      try {
        return accept(bytes);
      } catch (err) {
        if (!isRaicError(err, 'Usage')) members.distrust(slot.index, key); // a cached copy that fails must not be served again
        throw err;
      }
    } catch (err) {
      if (isRaicError(err, 'Usage')) throw err; // the caller's input is wrong: another member won't help
      if (!isRaicError(err, 'NotFound')) sawOnlyNotFound = false;
      problems.push(`${slot.url}: ${messageOf(err)}`);
    }
  }
  throw new RaicError(sawOnlyNotFound ? 'NotFound' : 'Quorum', `no member could supply the ${what} (${problems.join('; ')})`);
}

/** Union of keys under `prefix` over every up member (a key lost on one member is still found). */
export async function listUnion(members: Members, prefix: string): Promise<Map<string, number>> {
  const keys = new Map<string, number>();
  await Promise.all(
    members.up().map(async (s) => {
      try {
        await members.call(s.index, async (p) => {
          for await (const o of p.list(prefix)) keys.set(o.key, o.size);
        });
      } catch (err) {
        if (!isRaicError(err, 'NotFound')) throw err;
      }
    }),
  );
  return keys;
}

/** Deletes `key` on every up member; returns the members where that failed. */
export async function removeEverywhere(members: Members, key: string): Promise<string[]> {
  const up = members.up();
  const results = await Promise.allSettled(up.map((s) => members.call(s.index, (p) => p.delete(key))));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [`${up[i]!.url} (${messageOf(r.reason)})`] : []));
}

/**
 * Of `candidates` (ids some member lists an object for), those with a tombstone under `prefix` that some up
 * member serves soundly — `accept` throws on bytes that do not open — so a forged tombstone hides nothing.
 * One listing, then one read per candidate that has a tombstone listed.
 */
export async function tombstonedIds(members: Members, prefix: string, candidates: Iterable<string> | Promise<Iterable<string>>, accept: (id: string, bytes: Buffer) => unknown): Promise<Set<string>> {
  // The listing runs while the candidates are still being listed (readCatalog: one round trip, not two).
  const listed = new Set([...(await listUnion(members, prefix)).keys()].map((key) => key.slice(prefix.length)));
  const ids = [...new Set(await candidates)].filter((id) => listed.has(id));
  const limit = pLimit(8);
  const sound = await Promise.all(
    ids.map((id) =>
      limit(() =>
        getFromAny(members, `${prefix}${id}`, 'tombstone', (bytes) => accept(id, bytes)).then(
          () => true,
          () => false, // not sound on any member: not a tombstone
        ),
      ),
    ),
  );
  return new Set(ids.filter((_, i) => sound[i]));
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * For each key under `prefix`: how many up members hold it. `onListed` hears each member's listing as it
 * completes (its keys in listed order), before the slowest member's is in.
 */
export async function listCounts(members: Members, prefix: string, onListed?: (member: number, keys: string[]) => void): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await Promise.all(
    members.up().map(async (s) => {
      try {
        await members.call(s.index, async (p) => {
          const keys: string[] | null = onListed ? [] : null; // kept only for a listener
          for await (const o of p.list(prefix)) {
            counts.set(o.key, (counts.get(o.key) ?? 0) + 1);
            keys?.push(o.key);
          }
          if (keys) onListed!(s.index, keys);
        });
      } catch (err) {
        if (!isRaicError(err, 'NotFound')) throw err;
      }
    }),
  );
  return counts;
}

/**
 * For each key under `prefix`: how many up members hold it — judged by what they hold, not by one member's
 * listing. Listings may lag (still show a key deleted since, or not yet one written since): a key that not
 * every answering member lists is asked of each of them (head), and one that none holds is left out. A member
 * that cannot say counts as its listing did. Costs one listing per member, plus a head per member for each
 * key the listings disagree on (none when they agree).
 */
export async function listHeld(members: Members, prefix: string): Promise<Map<string, number>> {
  const listings = new Map<number, Set<string>>();
  await Promise.all(
    members.up().map(async (s) => {
      const keys = new Set<string>();
      try {
        await members.call(s.index, async (p) => {
          for await (const o of p.list(prefix)) keys.add(o.key);
        });
      } catch (err) {
        if (!isRaicError(err, 'NotFound')) throw err;
      }
      listings.set(s.index, keys);
    }),
  );
  const held = new Map<string, number>();
  const all = new Set([...listings.values()].flatMap((keys) => [...keys]));
  const limit = pLimit(16);
  const settle = async (key: string): Promise<void> => {
    const listedBy = [...listings].filter(([, keys]) => keys.has(key)).map(([i]) => i);
    if (listedBy.length === listings.size) return void held.set(key, listedBy.length);
    const answers = await Promise.all(
      [...listings.keys()].map((i) =>
        members.call(i, (p) => p.head(key)).then(
          () => true,
          (err: unknown) => (isRaicError(err, 'NotFound') ? false : listedBy.includes(i)),
        ),
      ),
    );
    const holders = answers.filter(Boolean).length;
    if (holders > 0) held.set(key, holders);
  };
  await Promise.all([...all].map((key) => limit(() => settle(key))));
  return held;
}
