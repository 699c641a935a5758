/**
 * Members: the n providers of an array, slot i holding share i. Tracks which members are down for the
 * rest of the run (unreachable, refused credentials, or not holding this array), so one dead cloud
 * costs one timeout, not one per chunk.
 */
import { RaicError, isRaicError } from '../errors.js';
import { withCache, type ObjectCache } from '../cache/index.js';
import { openProvider, withRetry, type Provider } from '../providers/index.js';

export interface MemberSlot {
  index: number;
  url: string;
  provider: Provider | null;
  /** Why this member is not used any more in this run; null while it is up. */
  downReason: string | null;
}

export class Members {
  readonly slots: MemberSlot[];
  /** Objects each member missed in this run while the write quorum still held (repair debt). */
  readonly missedWrites = new Map<number, number>();
  /** Recent read latency per member (ms, exponentially weighted), to ask the fastest first. */
  private readonly latency = new Map<number, number>();

  private constructor(
    slots: MemberSlot[],
    /** The local copy of metadata objects (cache/), or null when the run goes without. */
    readonly cache: ObjectCache | null = null,
  ) {
    this.slots = slots;
  }

  /**
   * Opens every member URL. A malformed URL or unknown scheme rejects (`Usage`): that is a typo, not an
   * outage. A member that cannot be opened (e.g. missing credentials) is recorded as down.
   */
  static async open(urls: readonly string[], wrap: (p: Provider) => Provider = (p) => withRetry(p), cache: ObjectCache | null = null): Promise<Members> {
    const slots = await Promise.all(
      urls.map(async (url, index): Promise<MemberSlot> => {
        try {
          const provider = wrap(await openProvider(url));
          return { index, url, provider: cache ? withCache(provider, cache, index) : provider, downReason: null };
        } catch (err) {
          if (isRaicError(err, 'Usage')) throw err;
          return { index, url, provider: null, downReason: reasonOf(err) };
        }
      }),
    );
    return new Members(slots, cache);
  }

  /** For tests and tools that already hold providers. */
  static fromProviders(providers: readonly Provider[], cache: ObjectCache | null = null): Members {
    return new Members(
      providers.map((provider, index) => ({ index, url: provider.displayUrl, provider: cache ? withCache(provider, cache, index) : provider, downReason: null })),
      cache,
    );
  }

  /**
   * The other members, as Members of their own (slots renumbered, each as it is now): for work that must not
   * touch member `index` while the array's own Members (and the lock held through it) still count it.
   */
  without(index: number): Members {
    // The providers keep their cache wrappers (filed under the original indexes); distrust(), which takes the
    // new numbering, is off for this view.
    return new Members(this.slots.filter((s) => s.index !== index).map((s, i) => ({ ...s, index: i })));
  }

  /** Marks an object worth keeping whole in the cache (a metadata pack: every walk of a snapshot reads it). */
  keepWhole(key: string): void {
    this.cache?.keepWhole(key);
  }

  /** Member `index`'s copy of `key` did not verify: the cache must not serve it again (the member may). */
  distrust(index: number, key: string): void {
    this.cache?.evict(index, key, 'bad');
  }

  get n(): number {
    return this.slots.length;
  }

  up(): MemberSlot[] {
    return this.slots.filter((s) => s.downReason === null);
  }

  isUp(index: number): boolean {
    return this.slots[index]?.downReason === null;
  }

  markDown(index: number, reason: string): void {
    const slot = this.slots[index];
    if (slot && slot.downReason === null) slot.downReason = reason;
  }

  /**
   * Runs `fn` against member `index`. Unreachable / refused (`Transient` after retries, `Auth`) marks the
   * member down for the rest of the run; every failure rejects as usual.
   */
  async call<T>(index: number, fn: (p: Provider) => Promise<T>): Promise<T> {
    const slot = this.slots[index];
    if (!slot) throw new RaicError('Permanent', `no member ${index}`);
    if (slot.downReason !== null || !slot.provider) {
      throw new RaicError('Transient', `${slot.url} is down (${slot.downReason ?? 'not opened'})`);
    }
    try {
      return await fn(slot.provider);
    } catch (err) {
      if (isRaicError(err, 'Transient') || isRaicError(err, 'Auth')) this.markDown(index, reasonOf(err, slot.provider.displayUrl));
      throw err;
    }
  }

  /** Records how long a read from member `index` took. */
  observeLatency(index: number, ms: number): void {
    const before = this.latency.get(index);
    this.latency.set(index, before === undefined ? ms : 0.7 * before + 0.3 * ms);
  }

  /** Expected read latency (ms); 0 while unknown, so untried members get tried. */
  expectedLatency(index: number): number {
    return this.latency.get(index) ?? 0;
  }

  /**
   * A fixed hedge delay instead of the measured one, or null (the default). Tests that count which members
   * were asked set a long one, so that their verdict does not depend on how loaded the machine is.
   */
  fixedHedgeDelayMs: number | null = null;

  /** Forgets the measured latencies (every member untried again: data shares first). */
  resetLatency(): void {
    this.latency.clear();
  }

  /** How long to wait for an answer before asking another member: a few times the typical latency. */
  hedgeDelayMs(): number {
    if (this.fixedHedgeDelayMs !== null) return this.fixedHedgeDelayMs;
    const known = [...this.latency.values()].sort((a, b) => a - b);
    const median = known.length > 0 ? known[Math.floor(known.length / 2)]! : 0;
    return Math.min(2000, Math.max(40, 3 * median));
  }

  recordMissedWrite(index: number): void {
    this.missedWrites.set(index, (this.missedWrites.get(index) ?? 0) + 1);
  }

  /** Members that missed writes in this run: what `raic repair` will fill. */
  degraded(): { member: number; url: string; missedObjects: number }[] {
    return [...this.missedWrites].sort(([a], [b]) => a - b).map(([member, missedObjects]) => ({ member, url: this.slots[member]!.url, missedObjects }));
  }

  /** One line naming each member that is down and why. */
  describeDown(): string {
    return this.slots
      .filter((s) => s.downReason !== null)
      .map((s) => `${s.url} (${s.downReason})`)
      .join('; ');
  }

  /** Rejects with `Quorum` naming the down members unless at least `need` members are up. */
  requireUp(need: number, what: string): void {
    const up = this.up().length;
    if (up >= need) return;
    throw new RaicError('Quorum', `${what}: only ${up} of ${this.n} members are usable, ${need} needed; unreachable: ${this.describeDown()}`, {
      hint: 'bring the members back (check the network, credentials and URLs in the config), then retry',
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.slots.map((s) => s.provider?.close()));
  }
}

/** The error's message without the member's own name in front (the report names the member already). */
function reasonOf(err: unknown, displayUrl?: string): string {
  let msg = err instanceof Error ? err.message : String(err);
  if (displayUrl && msg.startsWith(`${displayUrl}: `)) msg = msg.slice(displayUrl.length + 2);
  return msg.length > 200 ? `${msg.slice(0, 197)}...` : msg;
}
