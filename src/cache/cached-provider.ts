/**
 * `withCache(provider, cache, member)`: a Provider wrapper (like withRetry, and outside it) that serves the
 * objects the cache holds (ObjectCache.holds) from the local copy of this member's object, and keeps a copy
 * of what it fetches or writes. A ranged read of such an object fetches it whole once (metadata packs and
 * index segments are read again and again; their size is bounded by MAX_OBJECT_BYTES like any whole get).
 * Everything else passes through untouched: data packs, locks, keys, config.
 *
 * Listings always ask the member; a fully read listing evicts the cached keys under its prefix that the member
 * no longer lists (pruned here or by another host). Deletes evict too.
 */
import type { ByteRange, CallOptions, ObjectInfo, Provider } from '../providers/index.js';
import type { ObjectCache } from './object-cache.js';

export function withCache(inner: Provider, cache: ObjectCache, member: number): Provider {
  /** Whole-object fetches in flight, so the table read and the range read of one pack fetch it once. */
  const fetching = new Map<string, Promise<Buffer>>();
  /** Objects fetched whole in this run: in `refresh` mode too, their later ranges are served from that copy
   * (a walk reads a metadata pack one tree blob at a time: fetching it whole for each would cost its size
   * per blob). */
  const fresh = new Set<string>();

  const fetchWhole = (key: string, opts?: CallOptions): Promise<Buffer> => {
    let f = fetching.get(key);
    if (!f) {
      cache.stats.misses += 1;
      f = inner.get(key, undefined, opts).then((bytes) => {
        cache.write(member, key, bytes);
        fresh.add(key);
        return bytes;
      });
      const clear = (): void => {
        fetching.delete(key);
      };
      f.then(clear, clear);
      fetching.set(key, f);
    }
    return f;
  };

  return {
    displayUrl: inner.displayUrl,
    capabilities: inner.capabilities,
    prepare: () => inner.prepare(),
    async put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void> {
      await inner.put(key, body, opts);
      if (cache.holds(key)) cache.write(member, key, body);
    },
    async get(key: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
      if (!cache.holds(key)) return inner.get(key, range, opts);
      if (cache.mode === 'use' || fresh.has(key)) {
        const local = cache.read(member, key, range);
        if (local) return local;
      }
      const whole = await fetchWhole(key, opts);
      if (!range) return whole;
      return whole.subarray(Math.min(range.offset, whole.length), Math.min(range.offset + range.length, whole.length));
    },
    head: (key: string, opts?: CallOptions): Promise<ObjectInfo> => inner.head(key, opts),
    async *list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo> {
      const listed = new Set<string>();
      for await (const o of inner.list(prefix, opts)) {
        listed.add(o.key);
        yield o;
      }
      // Reached only when the caller read the whole listing: then a cached key it lacks is gone from the member.
      if (prefix.endsWith('/')) {
        for (const key of cache.cachedKeys(member, prefix)) if (!listed.has(key)) cache.evict(member, key);
      }
    },
    async delete(key: string, opts?: CallOptions): Promise<void> {
      await inner.delete(key, opts);
      cache.evict(member, key);
      fresh.delete(key);
    },
    close: () => inner.close(),
  };
}
