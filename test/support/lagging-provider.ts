/**
 * A Provider whose listings lag (kopia's eventually_consistent.go, in one dimension): list() answers with
 * the objects as they were `lagMs` ago — a put or delete younger than that is not reflected — while put,
 * get, head and delete see the current state. That is a listing index trailing the store by a steady lag
 * (Swift's container listings, S3 before 2020), each listing a consistent past state of the member.
 *
 * The lag is the member's, not a client's: wrap each member once and hand the same wrapper to every
 * Members that uses it (several "machines" see the same lag). Objects stored before wrapping count as old.
 * `setLag` changes the lag at once. With an injected clock a test decides exactly what listings show: hold
 * the clock and nothing written meanwhile is listed; move it on by the lag and everything is.
 */
import type { ByteRange, CallOptions, ObjectInfo, Provider, ProviderCapabilities } from '../../src/providers/types.js';

interface Change {
  at: number;
  key: string;
  /** The object's size before the change; null if it did not exist. */
  before: number | null;
}

export class LaggingProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;
  /** Changes made through this wrapper, oldest first (trimmed once older than any listing can reach back). */
  private changes: Change[] = [];
  private lagMs: number;

  constructor(
    readonly inner: Provider,
    lagMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.displayUrl = inner.displayUrl;
    this.capabilities = inner.capabilities;
    this.lagMs = lagMs;
  }

  setLag(ms: number): this {
    this.lagMs = ms;
    return this;
  }

  private async sizeNow(key: string): Promise<number | null> {
    try {
      return (await this.inner.head(key)).size;
    } catch {
      return null;
    }
  }

  private record(change: Change): void {
    this.changes.push(change);
    // Keep what a listing may still undo.
    const horizon = this.clock() - this.lagMs - 1000;
    const keep = this.changes.findIndex((c) => c.at >= horizon);
    if (keep > 0) this.changes = this.changes.slice(keep);
  }

  prepare(): Promise<void> {
    return this.inner.prepare();
  }

  async put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void> {
    const before = await this.sizeNow(key);
    await this.inner.put(key, body, opts);
    this.record({ at: this.clock(), key, before });
  }

  get(key: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
    return this.inner.get(key, range, opts);
  }

  head(key: string, opts?: CallOptions): Promise<ObjectInfo> {
    return this.inner.head(key, opts);
  }

  /** The objects as of `lagMs` ago: today's listing with every younger change undone. */
  async *list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo> {
    const asOf = this.clock() - this.lagMs;
    // Per key, the state just before its first change after asOf is its state at asOf.
    const then = new Map<string, number | null>();
    for (const c of this.changes) if (c.at > asOf && !then.has(c.key)) then.set(c.key, c.before);
    const out: ObjectInfo[] = [];
    for await (const o of this.inner.list(prefix, opts)) if (!then.has(o.key)) out.push(o);
    for (const [key, size] of then) if (size !== null && key.startsWith(prefix)) out.push({ key, size });
    yield* out;
  }

  async delete(key: string, opts?: CallOptions): Promise<void> {
    const before = await this.sizeNow(key);
    await this.inner.delete(key, opts);
    if (before !== null) this.record({ at: this.clock(), key, before });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
