/**
 * Members: the n providers of an array, slot i holding share i. Tracks which members are down for the
 * rest of the run (unreachable, refused credentials, or not holding this array), so one dead cloud
 * costs one timeout, not one per chunk.
 *
 * Also what each member's link does (issue 11, "one slow member costs little"): every get and put made
 * through call() is timed, per direction, into a latency and a throughput (link-estimate.ts), so reads are
 * ranked and hedged by how long a request of their size should take, and a thin link is asked last. The
 * same calls pass a per-member, per-direction gate (request-gate.ts) whose width follows the member's
 * throughput against the best member's (see concurrencyLimit).
 */
import { RaicError, isRaicError } from '../errors.js';
import { withCache, type ObjectCache } from '../cache/index.js';
import { openProvider, withRetry, type ByteRange, type CallOptions, type ObjectInfo, type Provider } from '../providers/index.js';
import { LATENCY_SAMPLE_BYTES, LinkEstimate } from './link-estimate.js';
import { RequestGate } from './request-gate.js';

export type Direction = 'get' | 'put';

/**
 * Requests at once to a member whose throughput equals the best member's: a member at a fraction f of the
 * best gets ceil(f × this) (at least 1), so its requests take about as long as the best member's instead of
 * all crawling together, and what is abandoned when it is overtaken (reads) or out of grace (writes) is
 * little. A member at least half as fast as the best is not limited (fast links keep today's parallelism).
 */
const FULL_SPEED_CONCURRENCY: Record<Direction, number> = { get: 16, put: 4 };
/** Below this fraction of the best member's throughput a member's requests are limited. */
const LIMITED_BELOW = 0.5;

/** A hedge fires once the requests running have taken this many times their expected time. */
const HEDGE_SLACK = 2;
const HEDGE_FLOOR_MS = 40;
const HEDGE_CEILING_MS = 10_000;
/** Before anything is measured. */
const HEDGE_UNKNOWN_MS = 1000;
/** Hedges may add at most this fraction of the bytes read (plus HEDGE_ALLOWANCE_BYTES, so the first few can fire). */
const HEDGE_BUDGET = 0.1;
const HEDGE_ALLOWANCE_BYTES = 1024 * 1024;

/** How hedgedFetch decides when to ask one more member (hedged-fetch.ts). */
export interface HedgePolicy {
  /** ms to wait for `running` before also asking `next`; null: no hedge now (only a failure moves on). */
  delayMs(running: readonly number[], next: number): number | null;
  /** A hedge went to `source`. */
  hedged(source: number): void;
}

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
  /** Of those, the objects it was cut off from for lagging behind the others (quorum-write.ts). */
  readonly slowWrites = new Map<number, number>();
  /** What each member's link was measured to do, per direction. */
  private readonly links = new Map<number, Record<Direction, LinkEstimate>>();
  private readonly gates = new Map<number, Record<Direction, RequestGate>>();
  /** The timed, gated view of each slot's provider that call() hands out (made on first use). */
  private readonly views = new Map<number, { provider: Provider; view: Provider }>();
  /** Listings started ahead of their use (listAhead), by "<member> <prefix>". */
  private readonly ahead = new Map<string, Promise<ObjectInfo[]>>();
  /** Bytes got through call() in this run, and the part of them hedges asked for. */
  private readBytes = 0;
  private hedgedBytes = 0;

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
      return await fn(this.viewOf(index, slot.provider));
    } catch (err) {
      if (isRaicError(err, 'Transient') || isRaicError(err, 'Auth')) this.markDown(index, reasonOf(err, slot.provider.displayUrl));
      throw err;
    }
  }

  /** Records a transfer of member `index` (see LinkEstimate.observe). */
  observe(index: number, direction: Direction, bytes: number, ms: number, sharing = 1): void {
    this.linkOf(index)[direction].observe(bytes, ms, sharing);
  }

  /**
   * Expected ms of a request of `bytes` to member `index`, its throughput and latency taken as the best any
   * member showed while its own are unmeasured (a parity member is read only for tables, if at all, while the
   * data members answer); null while no member's are known.
   */
  expectedMsAtBest(index: number, bytes: number, direction: Direction = 'get'): number | null {
    const link = this.links.get(index)?.[direction];
    let latency: number | null = null;
    for (const l of this.links.values()) {
      const { latencyMs } = l[direction];
      if (latencyMs !== null) latency = Math.min(latency ?? Number.POSITIVE_INFINITY, latencyMs);
    }
    const rate = link?.bytesPerMs ?? this.bestRate(direction);
    latency = link?.latencyMs ?? latency;
    if (rate === null || latency === null) return null;
    return latency + (bytes > LATENCY_SAMPLE_BYTES ? bytes / rate : 0);
  }

  /** Whether a large transfer of member `index` was timed yet, i.e. its throughput is known (not guessed). */
  throughputKnown(index: number, direction: Direction = 'get'): boolean {
    return (this.links.get(index)?.[direction].bytesPerMs ?? null) !== null;
  }

  /**
   * Ms the bytes of a request of `bytes` to member `index` take on its link, its round trip aside; 0 for a
   * request small enough to be all round trip; null while its throughput is unmeasured. `atBest`: an unmeasured
   * member is taken to be as fast as the fastest measured (as expectedMsAtBest: parity members are rarely read
   * in bulk while the data members answer).
   */
  transferMs(index: number, bytes: number, direction: Direction = 'get', atBest = false): number | null {
    if (bytes <= LATENCY_SAMPLE_BYTES) return 0;
    const rate = this.links.get(index)?.[direction].bytesPerMs ?? (atBest ? this.bestRate(direction) : null);
    return rate === null ? null : bytes / rate;
  }

  /** Expected ms of a request of `bytes` to member `index`; null while nothing is known of its link. */
  expectedMs(index: number, bytes: number, direction: Direction = 'get'): number | null {
    return this.links.get(index)?.[direction].expectedMs(bytes) ?? null;
  }

  /**
   * `candidates` in the order to ask them for `bytes` each: those in `prefer` first, then by expected time,
   * untried members first among equals (0: they get tried, so they get measured), then by index (data
   * shares first). A member on a thin link comes last however short its round trips.
   */
  rank(candidates: readonly number[], bytes: number, prefer: readonly number[] = []): number[] {
    const bonus = (i: number): number => (prefer.includes(i) ? 0 : 1);
    const time = (i: number): number => this.expectedMs(i, bytes) ?? 0;
    return [...candidates].sort((a, b) => bonus(a) - bonus(b) || time(a) - time(b) || a - b);
  }

  /**
   * A fixed hedge delay instead of the measured one, or null (the default). Tests that count which members
   * were asked set a long one, so that their verdict does not depend on how loaded the machine is; it also
   * keeps reads from being routed around a member judged slow (PackReader.slowerThanDecoding).
   */
  fixedHedgeDelayMs: number | null = null;

  /** Forgets what was measured of the links (every member untried again: data shares first). */
  resetLatency(): void {
    this.links.clear();
  }

  /**
   * When reads of `bytes` each hedge: once the requests running have taken HEDGE_SLACK × the longer of their
   * expected time and the next member's (a request is late only against what it should take, and asking a
   * member expected to be slower helps only once the running ones are past even that), within
   * [HEDGE_FLOOR_MS, HEDGE_CEILING_MS]. No hedge while hedges already cost HEDGE_BUDGET of the bytes read:
   * with healthy members they stay within it; a failure still moves on at once.
   */
  hedgePolicy(bytes: number): HedgePolicy {
    return {
      delayMs: (running, next) => {
        if (!this.canHedge(bytes)) return null;
        if (this.fixedHedgeDelayMs !== null) return this.fixedHedgeDelayMs;
        const known = [...running, next].map((i) => this.expectedMs(i, bytes)).filter((ms): ms is number => ms !== null);
        if (known.length === 0) return HEDGE_UNKNOWN_MS;
        return Math.min(HEDGE_CEILING_MS, Math.max(HEDGE_FLOOR_MS, HEDGE_SLACK * Math.max(...known)));
      },
      hedged: () => this.noteHedge(bytes),
    };
  }

  /** Whether a hedge of `bytes` fits the budget: hedges so far plus it within HEDGE_BUDGET of the bytes read. */
  canHedge(bytes: number): boolean {
    return this.hedgedBytes + bytes <= HEDGE_BUDGET * this.readBytes + HEDGE_ALLOWANCE_BYTES;
  }

  /** Counts a hedge of `bytes` against the budget (canHedge). */
  noteHedge(bytes: number): void {
    this.hedgedBytes += bytes;
  }

  /** Bytes read and the part hedges asked for, in this run. */
  get readCost(): { readBytes: number; hedgedBytes: number } {
    return { readBytes: this.readBytes, hedgedBytes: this.hedgedBytes };
  }

  /**
   * Requests member `index` may have running in `direction`: unlimited while its throughput is at least
   * LIMITED_BELOW of the best member's (or unknown), else ceil(FULL_SPEED_CONCURRENCY × its share), at least 1.
   */
  concurrencyLimit(index: number, direction: Direction): number {
    const own = this.links.get(index)?.[direction].bytesPerMs ?? null;
    if (own === null) return Number.POSITIVE_INFINITY;
    const share = own / this.bestRate(direction)!; // at least own: its link is among those measured
    return share >= LIMITED_BELOW ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(FULL_SPEED_CONCURRENCY[direction] * share));
  }

  /** The highest throughput any member's link was measured at, or null while none was. */
  private bestRate(direction: Direction): number | null {
    let best: number | null = null;
    for (const l of this.links.values()) {
      const rate = l[direction].bytesPerMs;
      if (rate !== null) best = Math.max(best ?? 0, rate);
    }
    return best;
  }

  private linkOf(index: number): Record<Direction, LinkEstimate> {
    let l = this.links.get(index);
    if (!l) this.links.set(index, (l = { get: new LinkEstimate(), put: new LinkEstimate() }));
    return l;
  }

  private gateOf(index: number, direction: Direction): RequestGate {
    let g = this.gates.get(index);
    if (!g) {
      g = { get: new RequestGate(() => this.concurrencyLimit(index, 'get')), put: new RequestGate(() => this.concurrencyLimit(index, 'put')) };
      this.gates.set(index, g);
    }
    return g[direction];
  }

  /** Member `index`'s provider with its gets and puts gated and timed; everything else passes through. */
  /**
   * Starts listing `prefixes` on every up member now; the next list() of each prefix on each member is served
   * from that listing (once), so its round trip overlaps other work. Only for listings whose first use may be
   * as old as the time since: the key objects (listed while the members' configs are read), the first lock scan
   * (before our lock is written: the lock protocol lists again after writing). Never for what must be listed
   * after our lock is written (the catalog, the index, forwarding records).
   */
  listAhead(prefixes: readonly string[]): void {
    for (const slot of this.up()) {
      const provider = slot.provider!;
      for (const prefix of prefixes) {
        const listing = (async () => {
          const found: ObjectInfo[] = [];
          for await (const o of provider.list(prefix)) found.push(o);
          return found;
        })();
        listing.catch(() => undefined); // its failure is the consumer's, as a listing's of its own would be
        this.ahead.set(`${slot.index} ${prefix}`, listing);
      }
    }
  }

  private takeAhead(index: number, prefix: string): AsyncIterable<ObjectInfo> | null {
    const listing = this.ahead.get(`${index} ${prefix}`);
    if (!listing) return null;
    this.ahead.delete(`${index} ${prefix}`);
    return (async function* () {
      yield* await listing;
    })();
  }

  private viewOf(index: number, provider: Provider): Provider {
    const cached = this.views.get(index);
    if (cached?.provider === provider) return cached.view;
    const timed = async <T>(direction: Direction, opts: CallOptions | undefined, run: (opts: CallOptions) => Promise<T>, size: (out: T) => number): Promise<T> => {
      const leave = await this.gateOf(index, direction).enter(opts?.signal);
      const t0 = performance.now();
      const leaveLink = this.linkOf(index)[direction].begin(t0);
      let sharing: number | undefined;
      const ended = (t1: number): number => (sharing ??= leaveLink(t1));
      let moved = 0;
      const inner: CallOptions = {
        signal: opts?.signal,
        onProgress: (n) => {
          moved += n;
          opts?.onProgress?.(n);
        },
      };
      try {
        const out = await run(inner);
        const bytes = size(out);
        if (direction === 'get') this.readBytes += bytes;
        const t1 = performance.now();
        this.observe(index, direction, bytes, t1 - t0, ended(t1));
        return out;
      } catch (err) {
        // A transfer cut short (overtaken, out of grace, timed out) still says how fast its bytes came: a
        // lower bound, and the only word on a member whose requests are always cut.
        const t1 = performance.now();
        if (moved > LATENCY_SAMPLE_BYTES) this.observe(index, direction, moved, t1 - t0, ended(t1));
        throw err;
      } finally {
        ended(performance.now());
        leave();
      }
    };
    const view: Provider = {
      displayUrl: provider.displayUrl,
      capabilities: provider.capabilities,
      prepare: () => provider.prepare(),
      put: (key, body, opts) => timed('put', opts, (o) => provider.put(key, body, o), () => body.length),
      // An object the local cache keeps is read from disk or fetched whole (whatever range was asked): its
      // times say nothing of the member's link, and a local hit must not wait behind a slow member's queue.
      get: (key, range?: ByteRange, opts?: CallOptions) => (this.cache?.holds(key) ? provider.get(key, range, opts) : timed('get', opts, (o) => provider.get(key, range, o), (b) => b.length)),
      head: (key, opts) => provider.head(key, opts),
      list: (prefix, opts) => this.takeAhead(index, prefix) ?? provider.list(prefix, opts),
      delete: (key, opts) => provider.delete(key, opts),
      close: () => provider.close(),
    };
    this.views.set(index, { provider, view });
    return view;
  }

  /** Member `index` did not store an object: it failed (or was down), or was cut off as too slow. */
  recordMissedWrite(index: number, why: 'failed' | 'slow' = 'failed'): void {
    this.missedWrites.set(index, (this.missedWrites.get(index) ?? 0) + 1);
    if (why === 'slow') this.slowWrites.set(index, (this.slowWrites.get(index) ?? 0) + 1);
  }

  /** Members that missed writes in this run: what `raic repair` will fill; `slowObjects` of them for lagging. */
  degraded(): { member: number; url: string; missedObjects: number; slowObjects: number }[] {
    return [...this.missedWrites]
      .sort(([a], [b]) => a - b)
      .map(([member, missedObjects]) => ({ member, url: this.slots[member]!.url, missedObjects, slowObjects: this.slowWrites.get(member) ?? 0 }));
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
    this.cache?.close();
  }
}

/** The error's message without the member's own name in front (the report names the member already). */
function reasonOf(err: unknown, displayUrl?: string): string {
  let msg = err instanceof Error ? err.message : String(err);
  if (displayUrl && msg.startsWith(`${displayUrl}: `)) msg = msg.slice(displayUrl.length + 2);
  return msg.length > 200 ? `${msg.slice(0, 197)}...` : msg;
}
