/**
 * Provider: one storage backend seen as a flat namespace of opaque, immutable objects.
 *
 * Terms: a *key* is a `/`-separated string chosen by raic (`packs/ab/ab12…`); raic owns naming, so keys
 * are always `[a-z0-9/._-]` and providers escape nothing. A provider knows nothing of shares, crypto
 * or raic's layout. Providers never retry, sleep or log: retries, timeouts and fault injection are
 * wrappers (`retry.ts`, test/support/faulty-provider.ts).
 *
 * Every method rejects only with `RaicError` (src/errors.ts), translated in the adapter's single
 * `translateError`: `NotFound`, `Auth`, `Transient` (worth retrying) or `Permanent`; put also `Exists`,
 * get also `Integrity` for an answer larger than any object raic writes (below); any call given an
 * aborted signal `Cancelled`.
 *
 * Every call but prepare and close takes `CallOptions` last: an AbortSignal that stops it (the adapter
 * closes its request, stream or handle, and the call rejects `Cancelled`), and a progress callback that
 * says bytes are still moving, which is what withRetry's deadlines follow (issue 11).
 *
 * Nothing a member says about a length is trusted (issue 9): a get holds at most the bytes it asked for
 * (a range's length, or MAX_OBJECT_BYTES for a whole object) and cancels the rest of an answer, so a
 * lying or broken server cannot make raic allocate more.
 */

/**
 * The largest whole object `get(key)` returns: 64 MiB. The largest object raic writes is a pack's member
 * object: a share of at most 32 MiB of body (store/tuning.ts packBodyBytes; 8 MiB with the default
 * budget), plus its part of the pack's trailer (≤ 1 MiB) and the table (≤ 2.2 MiB at n = 255). Everything
 * else (config, keys, manifests, catalog records, locks, forwarding records) is far smaller. A test
 * (test/unit/store/object-cap.test.ts) keeps this above what the format can write. Also the size the
 * retry wrapper assumes for a whole-object get's deadline.
 */
export const MAX_OBJECT_BYTES = 64 * 1024 * 1024;

export interface ByteRange {
  /** First byte, 0-based. */
  offset: number;
  /** Number of bytes; must be > 0. */
  length: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface ProviderCapabilities {
  /** put() refuses to replace an existing object (rejects with `Exists`). Otherwise put may overwrite. */
  conditionalPut: boolean;
  /** put() and get() call `onProgress` as their body's bytes move (sent / received). withRetry then fails
   * an attempt only when it stops moving; without this it gives each attempt a deadline scaled by its
   * size. A wrapper that copies this must pass `CallOptions` on. */
  reportsProgress?: boolean;
}

export interface CallOptions {
  /** Stops the call: the adapter closes its request (socket, stream or SFTP handle) and the call rejects
   * `Cancelled`. A put stopped midway may still have landed, or not: the caller cannot tell. */
  signal?: AbortSignal | undefined;
  /** Called with the bytes moved since the last call: a put's body as the connection takes it, a get's as
   * it arrives. Only where `capabilities.reportsProgress`. Must not throw. */
  onProgress?: ((bytes: number) => void) | undefined;
}

export interface Provider {
  /** The member's URL with any secret removed: safe to print. */
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;

  /**
   * Makes the location ready for writing (creates the bucket / container / directory if missing).
   * Idempotent. Called by `raic init`; other operations assume it was done.
   */
  prepare(): Promise<void>;

  /**
   * Stores `body` under `key`, atomically: a reader sees the whole object or nothing.
   * Create-once where `capabilities.conditionalPut`: rejects with `Exists` if the key is present.
   * Bodies are whole buffers so a retry can replay them; raic bounds their size (packs are tens of MiB).
   */
  put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void>;

  /** Whole object, or `range` of it. Rejects `NotFound` if the key is absent. A range past the end
   * returns the bytes that exist (possibly fewer than asked); callers check the length. Never more than
   * `range.length` bytes, whatever the server sends. A whole object over MAX_OBJECT_BYTES (announced or
   * sent) rejects `Integrity` naming the member and key: that member's copy is not one raic wrote. */
  get(key: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer>;

  /** Size of the object. Rejects `NotFound` if absent. */
  head(key: string, opts?: CallOptions): Promise<ObjectInfo>;

  /** Every object whose key starts with `prefix`, in no particular order; pagination is hidden. */
  list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo>;

  /** Removes the object. Resolves (does not reject) if it was already absent. */
  delete(key: string, opts?: CallOptions): Promise<void>;

  /** Releases connections. The provider is unusable afterwards. */
  close(): Promise<void>;
}

/** Builds a provider from a member URL; rejects with `Usage` for a malformed URL, `Auth` for missing credentials. */
export type ProviderFactory = (url: URL) => Promise<Provider>;
