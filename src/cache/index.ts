/**
 * cache/ — the local copy of what every run reads again (issue 11): ObjectCache (one directory per array,
 * verified files) and `withCache`, the Provider wrapper that serves and fills it. Sits above providers/ and
 * below store/, which decides what is worth caching.
 */
export { ObjectCache, walkFiles, type CacheMode, type CacheStats } from './object-cache.js';
export { withCache } from './cached-provider.js';
export { defaultCacheRoot, prepareCacheRoot } from './cache-root.js';
