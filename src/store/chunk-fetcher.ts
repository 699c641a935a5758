/**
 * ChunkFetcher: reads many chunks, each needed byte once. restore and get hand it the chunks they need, in
 * their order (files in tree order, a file's chunks in file order); it plans a window of them at a time:
 *
 * 1. each chunk is located (forwarding, ChunkReader.locate) and its pack's table agreed (PackReader.table;
 *    asked for already when the pack's first chunk was, ChunkReader.prefetchTable);
 * 2. its sealed bytes are cut into the data-share pieces that hold them (pack-codec.ts locateRange);
 * 3. per pack and member, neighbouring pieces are merged into ranged GETs (read-plan.ts coalesce);
 * 4. the requests run several per member at once (so restore throughput grows with k on independent links),
 *    with the bytes in flight bounded (memory);
 * 5. each chunk is opened (its AEAD tag judges the bytes) as its request arrives, and handed to every caller
 *    that asked for it: a chunk needed several times in a window (dedup) is fetched once.
 *
 * Nothing is read ahead: a request covers needed chunks and at most small gaps between them. A request that
 * fails (member down, unreachable, missing the object, short) or a chunk that does not authenticate falls
 * back to a rebuild from k members whose bytes match the pack's table — one rebuild for the failed part of a
 * request, not one per chunk — as ChunkReader.read does for one chunk; so every loss and corruption guarantee
 * of the per-chunk path holds. A chunk that cannot be read, or a caller's delivery that throws, fails the
 * fetcher: nothing more is started, waiters reject with that error.
 *
 * Deliveries come in request order, not in the order chunks were added (unless `ordered`: then in that order,
 * as get writes a stream). A plaintext handed to `deliver` is valid until the promise it returns settles (its
 * buffer is recycled then): keep a copy to keep it longer.
 */
import { RaicError, integrityAsValue } from '../errors.js';
import type { ChunkEntry } from './chunk-ref.js';
import type { BatchPlacer, ChunkReader, SealedSpan } from './chunk-reader.js';
import { packKey } from './layout.js';
import { locateRange, type SharePiece } from './pack-codec.js';
import type { CodedTable, ShareFetching } from './pack-reader.js';
import { DEFAULT_COALESCE, coalesce, type CoalesceLimits } from './read-plan.js';
import { ShareLending, type Lending } from './share-lending.js';

export type Deliver = (plaintext: Uint8Array) => void | Promise<void>;

/**
 * A chunk the worker that opens it puts in place itself (the fetcher's BatchPlacer, a higher layer's module):
 * `target` goes to that module, `placed` gets its answer. Only a chunk opened on a worker from its fetched bytes
 * is placed so; any other (opened here, rebuilt after a bad read, or asked for after its batch left) is handed
 * to `deliver` on this thread as usual, so a placement never changes what is restored, only which thread writes it.
 */
export interface Placement {
  target: unknown;
  placed: (answer: unknown) => void;
  deliver: Deliver;
}

export interface FetchLimits extends CoalesceLimits {
  /** Bytes of requests in flight at once, their opened chunks included (a request larger alone still runs). */
  inFlightBytes: number;
  /** Requests in flight per member at once. */
  requestsPerMember: number;
  /** Chunks gathered before they are planned as one window (flush() plans earlier). */
  windowChunks: number;
  /** Sealed bytes gathered before they are planned as one window. */
  windowBytes: number;
  /** A smaller window is planned as soon as this many sealed bytes are gathered while the requests run dry. */
  eagerBytes: number;
  /**
   * Deliver in the order the chunks were asked for (get writes a stream): a chunk that arrives early waits,
   * opened, for those before it — the caller bounds how many by how far ahead it asks. Each ask is then its own
   * chunk (identical chunks asked for together still cost their bytes once: their ranges are the same).
   */
  ordered: boolean;
  /**
   * Once a member is found down, lacking a pack or slow, share bytes kept for later reads and decodes of the
   * same positions (ShareLending): about a pack's n shares, since a decode of one data share's positions comes
   * about a quarter of a pack before the other data shares' reads of them.
   */
  keepBytes: number;
}

/**
 * In flight: 16 MiB of requests of up to 1 MiB (read-plan.ts), three per member at once: one request keeps a
 * link busy, the others hide the round trip between one and the next, and with k data members side by side
 * the budget still lets each have its three. A window of 512 chunks or 64 MiB: a pack's neighbouring chunks
 * are planned together, and the plan held (entries, callbacks, and a restore's file jobs: about a KB a chunk)
 * stays small — a larger window measured ~15 MB more peak RSS restoring /usr/share, at the same time; a
 * restore copies duplicates from other windows off its own files instead (restore.ts).
 */
export const DEFAULT_FETCH: FetchLimits = {
  ...DEFAULT_COALESCE,
  inFlightBytes: 16 * 1024 * 1024,
  requestsPerMember: 3,
  windowChunks: 512,
  windowBytes: 64 * 1024 * 1024,
  eagerBytes: 1024 * 1024,
  ordered: false,
  keepBytes: 32 * 1024 * 1024,
};

/**
 * A request goes around its share's member (decoded from k others) once that member is expected to take more
 * than DECODE_WHEN_SLOWER times as long as the k-th fastest other, and DECODE_MIN_GAIN_MS longer: decoding
 * costs k × the request's bytes, worth it only against a member clearly behind the rest, never between healthy
 * ones (nor on local disks, where a request's few milliseconds vary by more than that factor).
 */
const DECODE_WHEN_SLOWER = 3;
const DECODE_MIN_GAIN_MS = 50;
/** A request still running after this many times what decoding its bytes from k others should take is hedged by that decoding. */
const DECODE_HEDGE_SLACK = 3;
/**
 * A request's small chunks are opened by one worker task per batch of at most this many chunks and plaintext
 * bytes: a task per chunk cost the main thread more than the opening (restoring /usr/share: ~48k tasks).
 */
const BATCH_CHUNKS = 256;
const BATCH_PLAINTEXT_BYTES = 2 * 1024 * 1024;
/** How often a running request is judged late or not (the estimates change as the first requests land). */
const DECODE_HEDGE_CHECK_MS = 100;
/** ... and never before this: a main thread busy for a while (a restore's walk, GC) makes any request look late. */
const DECODE_HEDGE_FLOOR_MS = 250;
/** Of the requests routed around a slow member, every this many-th still goes to it: its link is measured again. */
const PROBE_EVERY = 8;
/**
 * A member found slow for at least this many requests (routed around, or overtaken by a decode hedge), and for at
 * least half of those judged, is slow, not unlucky: the keeping starts (ShareLending.degrade). Healthy local disks
 * have 1-11 of a /usr/share restore's thousands of requests routed around (a request's few ms vary widely) and a
 * hedge now and then; a thin link has nearly all of its.
 */
const KEEP_AFTER_SLOW = 4;

/** A chunk asked for (once, however many callers want it) and where its sealed bytes are being gathered. */
interface Need {
  /** Its key in `live`: the chunk id, or its position when ordered. */
  key: string;
  entry: ChunkEntry;
  delivers: Deliver[];
  /** Asks to place it (ChunkFetcher.place); the first `placesSent` went to a worker with its batch. */
  places: Placement[] | null;
  placesSent: number;
  /** Position in the order chunks were asked for (requests run in that order, per member). */
  order: number;
  object: string;
  table: CodedTable | null;
  pieces: SharePiece[];
  /** Where the pieces of a chunk that straddles shares are put together. */
  assembly: Buffer | null;
  piecesIn: number;
  /** Handed to the fallback or delivered: later pieces are ignored. */
  settled: boolean;
}

interface Part {
  need: Need;
  piece: SharePiece;
}

interface Request {
  object: string;
  table: CodedTable;
  share: number;
  from: number;
  to: number;
  parts: Part[];
  order: number;
  /** Its bytes, lent to decodes of the same positions from when it is queued (ShareLending). */
  lent: Lending | null;
  /** A decode borrowed it while it waited: it starts next, outside the byte budget. */
  promoted: boolean;
}

export interface FetchStats {
  requests: number;
  /** Bytes the requests asked for (before fallbacks). */
  requestedBytes: number;
  /** Requests or chunks that fell back to a rebuild verified against the pack's table. */
  fallbacks: number;
  /** Requests whose member did not answer, served by decoding the same bytes of k others. */
  decoded: number;
  /** Requests decoded from k others because their member was expected to be much slower (see route). */
  routedAround: number;
  /** Requests whose member was late, backed up by decoding from k others (see fetchBytes). */
  decodeHedges: number;
  /** Share bytes are being kept (ShareLending.degrade): a member was found down, lacking packs, or slow. */
  keeping: boolean;
  /** The most bytes of chunks straddling shares held partly put together at once (memory; see startedBytes). */
  assemblingPeakBytes: number;
}

export class ChunkFetcher {
  readonly limits: FetchLimits;
  readonly stats: FetchStats = { requests: 0, requestedBytes: 0, fallbacks: 0, decoded: 0, routedAround: 0, decodeHedges: 0, keeping: false, assemblingPeakBytes: 0 };
  /** Requests to each share that route() judged slow, counted for its probes. */
  private readonly routed: number[] = [];
  /** Requests to each share that route() judged at all, and those it was found slow for (KEEP_AFTER_SLOW). */
  private readonly judged: number[] = [];
  private readonly foundSlow: number[] = [];
  /** Share reads under way, lent to decodes of the same positions (a slow data member's requests). */
  private readonly lending: ShareLending;
  /** Chunks asked for and not yet delivered, by id: a second ask joins the first. */
  private readonly live = new Map<string, Need>();
  private queued: Need[] = [];
  /** Packs whose table was asked for as their first chunk was (ChunkReader.prefetchTable). */
  private readonly tablesAsked = new Set<string>();
  private queuedBytes = 0;
  private planning: Promise<void> = Promise.resolve();
  private plans = 0;
  private readonly queues: Request[][] = [];
  private readonly running: number[] = [];
  /** Bytes of the requests running per member (share): what its link is carrying for this fetcher. */
  private readonly runningBytes: number[] = [];
  /**
   * Bytes of the requests started per member over the fetcher's life. The byte budget goes to the member that has
   * been given the fewest (pump): most chunks of a large file straddle two data shares (a share of a 9 MiB pack
   * holds about two 1 MiB chunks) and are put together from a piece at the end of one member's share and one at the
   * start of the next's, so members that drift apart hold those half-assembled chunks for long. Starting each round
   * with member 0, restoring ten 110 MiB random files held up to 114 of them (134 MB), peak RSS 443 MB.
   */
  private readonly startedBytes: number[] = [];
  private inFlight = 0;
  /** Bytes of the chunks partly put together (assemble). */
  private assemblingBytes = 0;
  /** Ordered: chunks opened before their turn, by position; the next position to deliver. */
  private readonly early = new Map<number, { need: Need; plaintext: Uint8Array }>();
  private nextOrder = 0;
  private inOrder = false;
  /** Bytes of requests planned and not yet started. */
  private waitingBytes = 0;
  private seq = 0;
  private error: unknown = null;
  /** Requests running (abort waits for them: a delivery in progress finishes before the caller cleans up). */
  private readonly active = new Set<Promise<void>>();
  private waiters: { until: () => boolean; resolve: () => void; reject: (err: unknown) => void }[] = [];

  /**
   * @param placer  puts chunks asked for with place() in place on the workers that open them (not ordered)
   */
  constructor(
    private readonly reader: ChunkReader,
    limits: Partial<FetchLimits> = {},
    private readonly placer: BatchPlacer | null = null,
  ) {
    this.limits = { ...DEFAULT_FETCH, ...limits };
    if (placer && this.limits.ordered) throw new RaicError('Usage', 'ChunkFetcher: placements are for unordered fetches');
    this.lending = new ShareLending(this.limits.keepBytes);
  }

  /** Why the fetcher stopped (a chunk that could not be read, a delivery that threw, abort()), or null. */
  get failure(): unknown {
    return this.error;
  }

  /** Chunks asked for and not yet delivered (a chunk asked for twice counts once). */
  get pending(): number {
    return this.live.size;
  }

  /**
   * Asks for a chunk: `deliver` gets its plaintext once it is read (see the class comment). Planned with the
   * next window: once a window's worth has been asked for, or at flush().
   */
  add(entry: ChunkEntry, deliver: Deliver): void {
    this.ask(entry, deliver, null);
  }

  /**
   * Asks for a chunk to be put in place by the worker that opens it (see Placement; needs the constructor's
   * placer): `placed` gets the placer's answer, or `deliver` the plaintext when it is not placed so.
   */
  place(entry: ChunkEntry, placement: Placement): void {
    if (!this.placer) throw new RaicError('Usage', 'ChunkFetcher.place: no placer');
    this.ask(entry, null, placement);
  }

  private ask(entry: ChunkEntry, deliver: Deliver | null, placement: Placement | null): void {
    if (this.error) return;
    const key = this.limits.ordered ? String(this.seq) : entry.id.toString('latin1');
    const known = this.live.get(key);
    if (known) {
      if (deliver) known.delivers.push(deliver);
      else (known.places ??= []).push(placement!);
      return;
    }
    const need: Need = {
      key,
      entry,
      delivers: deliver ? [deliver] : [],
      places: placement ? [placement] : null,
      placesSent: 0,
      order: this.seq++,
      object: '',
      table: null,
      pieces: [],
      assembly: null,
      piecesIn: 0,
      settled: false,
    };
    this.live.set(key, need);
    const pack = entry.pack.toString('latin1');
    if (!this.tablesAsked.has(pack) && this.reader.prefetchTable(entry)) this.tablesAsked.add(pack);
    this.queued.push(need);
    this.queuedBytes += entry.length;
    if (this.queued.length >= this.limits.windowChunks || this.queuedBytes >= this.limits.windowBytes || this.hungry()) this.flush();
  }

  /**
   * Whether to plan what is gathered now rather than wait for a full window: enough for a worthwhile request
   * is gathered, no window is being planned, and the requests planned have (nearly) all started — the links
   * would idle while the caller gathers (a restore's walk of the tree is slower than the links at first).
   */
  private hungry(): boolean {
    return this.queuedBytes >= this.limits.eagerBytes && this.plans === 0 && this.waitingBytes < this.limits.inFlightBytes / 4;
  }

  /** Plans what has been asked for so far, without waiting for a full window. */
  flush(): void {
    if (this.queued.length === 0 || this.error) return;
    const window = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.plans += 1;
    this.planning = this.planning
      .then(() => this.plan(window))
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.plans -= 1;
        if (this.hungry()) this.flush();
        this.wake();
      });
  }

  /** Flushes, then resolves once `until()` holds (checked after every delivery); rejects if the fetcher fails. */
  waitUntil(until: () => boolean): Promise<void> {
    this.flush();
    if (this.error) return Promise.reject(this.error);
    if (until()) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ until, resolve, reject }));
  }

  /** Flushes, then resolves once every chunk asked for has been delivered; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.waitUntil(() => this.live.size === 0 && this.plans === 0);
  }

  /**
   * Stops: nothing more is planned or started, no more deliveries; waiters reject with `err`. Resolves once
   * the requests in flight have settled.
   */
  async abort(err: unknown): Promise<void> {
    this.fail(err);
    await this.planning;
    await Promise.allSettled([...this.active]);
  }

  private fail(err: unknown): void {
    if (this.error) return;
    this.error = err ?? new RaicError('Cancelled', 'stopped');
    this.queued = [];
    for (const q of this.queues) {
      for (const r of q) this.lending.repay(r.object, r.lent!, null); // their borrowers ask the members themselves
      q.length = 0;
    }
    this.waitingBytes = 0;
    this.early.clear();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.error);
  }

  private wake(): void {
    if (this.error) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.until()) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Locates a window's chunks, agrees on their packs' tables, and queues the coalesced requests. */
  private async plan(window: Need[]): Promise<void> {
    if (this.error) return;
    const packs = this.reader.packs;
    const moved: Need[] = [];
    for (const need of window) {
      if (this.reader.unmoved(need.entry)) need.object = packKey(need.entry.pack.toString('hex'));
      else moved.push(need);
    }
    await Promise.all(
      moved.map(async (need) => {
        need.entry = await this.reader.locate(need.entry); // the entry itself unless the chunk moved
        need.object = packKey(need.entry.pack.toString('hex'));
      }),
    );
    const byObject = new Map<string, Need[]>();
    for (const need of window) {
      const list = byObject.get(need.object);
      if (list) list.push(need);
      else byObject.set(need.object, [need]);
    }
    const requests: Request[] = [];
    await Promise.all(
      [...byObject].map(async ([object, needs]) => {
        const table = await packs.table(object, needs[0]!.entry.pack);
        const byShare = new Map<number, (Part & { from: number; to: number })[]>();
        for (const need of needs) {
          need.table = table;
          need.pieces = locateRange(table.table, need.entry.offset, need.entry.length);
          for (const piece of need.pieces) {
            const list = byShare.get(piece.share) ?? [];
            list.push({ need, piece, from: piece.from, to: piece.to });
            byShare.set(piece.share, list);
          }
        }
        for (const [share, parts] of byShare) {
          for (const c of coalesce(parts, this.limits)) {
            requests.push(this.lendQueued({ object, table, share, from: c.from, to: c.to, parts: c.spans, order: Math.min(...c.spans.map((p) => p.need.order)), lent: null, promoted: false }));
          }
        }
      }),
    );
    if (this.error) {
      for (const r of requests) this.lending.repay(r.object, r.lent!, null);
      return;
    }
    requests.sort((a, b) => a.order - b.order);
    for (const r of requests) {
      (this.queues[r.share] ??= []).push(r);
      this.waitingBytes += r.to - r.from;
    }
    this.pump();
  }

  /**
   * Starts queued requests: round the members, one at a time each, while their slots and the byte budget allow;
   * each round in the order of the bytes they have been given so far, fewest first (see startedBytes).
   */
  private pump(): void {
    for (let started = true; started && !this.error; ) {
      started = false;
      const byStarted = [...this.queues.keys()].sort((a, b) => (this.startedBytes[a] ?? 0) - (this.startedBytes[b] ?? 0));
      for (const share of byStarted) {
        const q = this.queues[share];
        const next = q?.[0];
        if (!next || (this.running[share] ?? 0) >= this.limits.requestsPerMember) continue;
        const bytes = next.to - next.from;
        if (!next.promoted && this.inFlight > 0 && this.inFlight + bytes > this.limits.inFlightBytes) continue;
        q.shift();
        this.waitingBytes -= bytes;
        this.running[share] = (this.running[share] ?? 0) + 1;
        this.runningBytes[share] = (this.runningBytes[share] ?? 0) + bytes;
        this.startedBytes[share] = (this.startedBytes[share] ?? 0) + bytes;
        this.inFlight += bytes;
        started = true;
        this.stats.requests += 1;
        this.stats.requestedBytes += bytes;
        // The member's slot is free once its bytes are here: the next request to it starts while these chunks
        // are opened and delivered (a restore's writes), so its link does not idle meanwhile. The bytes stay
        // counted against inFlightBytes until delivered (memory).
        let slotHeld = true;
        const freeSlot = (): void => {
          if (!slotHeld) return;
          slotHeld = false;
          this.running[share]! -= 1;
          this.runningBytes[share]! -= bytes;
          this.pump();
        };
        const running: Promise<void> = this.run(next, freeSlot)
          .catch((err: unknown) => this.fail(err))
          .finally(() => {
            this.active.delete(running);
            this.inFlight -= bytes;
            if (slotHeld) freeSlot();
            else this.pump();
            if (this.hungry()) this.flush();
            this.wake();
          });
        this.active.add(running);
      }
    }
  }

  /**
   * Lends a request's bytes from now (it is about to be queued). Its own function, so that the borrow callback
   * holds the request alone, not the planning's scope (the whole window's requests and their deliveries, which
   * then lived until the window's last request ran: ~45 MB more peak RSS restoring /usr/share).
   */
  private lendQueued(req: Request): Request {
    req.lent = this.lending.lend(req.object, req.share, req.from, req.to, () => this.promote(req));
    return req;
  }

  /**
   * A decode borrowed a queued request's bytes: it goes to the front of its member's queue and may start beyond
   * the byte budget (the decode holds budget of its own and waits for it; bounded by the few requests that
   * overlap one decode's positions).
   */
  private promote(req: Request): void {
    const q = this.queues[req.share];
    const at = q?.indexOf(req) ?? -1;
    if (at < 0) return; // running already
    req.promoted = true;
    q!.splice(at, 1);
    q!.unshift(req);
    queueMicrotask(() => this.pump()); // not from inside the decode that borrows (it may run within pump)
  }

  /** One request: fetch (then `fetched`), open and deliver its chunks; what failed is rebuilt from the other members. */
  private async run(req: Request, fetched: () => void): Promise<void> {
    const packs = this.reader.packs;
    const got = await this.fetchBytes(req);
    fetched();
    const bytes = got?.bytes ?? null;
    if (this.error) return;
    const failed: Part[] = [];
    const ready: { part: Part; sealed: Uint8Array }[] = [];
    for (const part of req.parts) {
      const { need, piece } = part;
      if (need.settled) continue;
      if (!bytes) {
        failed.push(part);
        continue;
      }
      const sealed = this.assemble(part, bytes.subarray(piece.from - req.from, piece.to - req.from));
      if (sealed) ready.push({ part, sealed });
    }
    const opened = (need: Need, plaintext: Uint8Array | RaicError | null): void | Promise<void> => {
      if (plaintext === null) return this.settlePlaced(need);
      if (plaintext instanceof RaicError) {
        if (need.pieces.length === 1 && !got?.decoded) packs.noteCorrupt(req.share, req.object, 'a chunk read from its share does not authenticate');
        failed.push(...req.parts.filter((p) => p.need === need));
        return;
      }
      return this.deliver(need, plaintext);
    };
    // A request's small chunks are opened together, a worker task per batch; large ones, and chunks put together
    // from pieces, one by one. One after the other: a request's chunks may open to ten times its bytes
    // (compressed text), and the other requests in flight keep the workers busy meanwhile.
    const batchable = (r: { part: Part; sealed: Uint8Array }): boolean => r.sealed !== r.part.need.assembly && !this.reader.pooled(r.part.need.entry);
    for (let i = 0; i < ready.length; ) {
      if (this.error) return;
      const first = ready[i]!;
      if (!batchable(first)) {
        i += 1;
        const { need } = first.part;
        // Bytes no one else reads go to the worker that opens them as they are, not as a copy: a chunk put
        // together from pieces, or a request for one data chunk alone (a provider's answer is the caller's; the
        // cache shares its copies, but never of a data pack). A chunk that fails is rebuilt from fresh reads.
        const own = first.sealed === need.assembly || (req.parts.length === 1 && !need.entry.meta);
        const place = need.delivers.length === 0 ? this.placementsOf([first.part]) : null;
        if (place) {
          // A large chunk only placed: the worker opens it into memory of its own and writes it from there.
          await this.openTogether([first.part], first.sealed, [{ entry: need.entry, from: 0, to: first.sealed.length }], own, opened);
          continue;
        }
        const delivering = opened(need, await integrityAsValue(this.reader.openSealed(need.entry, first.sealed, { moveSealed: own })));
        if (delivering) await delivering;
        continue;
      }
      const batch: Part[] = [];
      let plaintextBytes = 0;
      for (; i < ready.length && batch.length < BATCH_CHUNKS && batchable(ready[i]!); i++) {
        const { need } = ready[i]!.part;
        if (batch.length > 0 && plaintextBytes + need.entry.size > BATCH_PLAINTEXT_BYTES) break;
        batch.push(ready[i]!.part);
        plaintextBytes += need.entry.size;
      }
      // The request's bytes are moved to the worker by its last batch when no one else shares them (see above).
      const moveBytes = i === ready.length && req.parts.every((p) => !p.need.entry.meta);
      const spans = batch.map(({ need, piece }) => ({ entry: need.entry, from: piece.from - req.from, to: piece.to - req.from }));
      await this.openTogether(batch, bytes!, spans, moveBytes, opened);
    }
    if (failed.length > 0) await this.fallBack(req, failed, got === null);
  }

  /**
   * The request's bytes, unverified (its chunks' AEAD tags judge them): from its share's member, or decoded from
   * the same bytes of k others (`decoded`) — at once when that member is judged far slower (route), or as
   * a hedge when its answer is late against what decoding should take (PackReader.decodeHedge); the first to
   * arrive wins and the other is cancelled. Null when neither came (the caller decodes, then rebuilds), and at
   * once when the member already answered that it lacks the object. A decode borrows the other shares' bytes
   * from reads queued or under way (ShareLending), and this read is lent to theirs.
   */
  private async fetchBytes(req: Request): Promise<{ bytes: Buffer; decoded: boolean } | null> {
    const packs = this.reader.packs;
    const pc = { share: req.share, from: req.from, to: req.to };
    const lent = req.lent!;
    // Lent until the member answers (or the decode below wins); a read that will be decoded instead repays null
    // first: a decode never waits on a decode, which may borrow in turn.
    if (packs.lacks(req.share, req.object)) {
      this.startKeeping();
      this.lending.repay(req.object, lent, null);
      return null;
    }
    const route = this.route(req);
    const loans = this.lending.loansFor(req.object);
    const fetching = this.fetchLender(req);
    if (route === 'around') {
      // One request routed around does not start the keeping, a member found slow for most of its does
      // (KEEP_AFTER_SLOW): keeping on healthy local disks cost ~45 MB of peak RSS restoring /usr/share.
      this.lending.repay(req.object, lent, null);
      const decoded = await packs.decodePiece(req.object, req.table, pc, undefined, loans, fetching);
      if (decoded) return { bytes: decoded, decoded: true };
    }
    const held = this.lending.readLoans(req.object, req.share, req.from, req.to);
    const bytes = req.to - req.from;
    const started = performance.now();
    const direct = new AbortController();
    const decoding = new AbortController();
    return new Promise((resolve) => {
      let pending = 1;
      let settled = false;
      const settle = (result: { bytes: Buffer; decoded: boolean } | null): void => {
        if (settled) return;
        if (result === null && --pending > 0) return;
        settled = true;
        clearTimeout(timer);
        if (result) this.lending.repay(req.object, lent, result.bytes, !result.decoded);
        if (result?.decoded) {
          direct.abort();
          this.noteSlow(req.share);
        }
        else decoding.abort();
        resolve(result);
      };
      // Judged again as the links get measured (the first requests start before anything is known of them). A
      // member measured far slower than decoding since this request started is hedged at once, while what it is
      // still expected to take is worth it (its first requests on a thin link were a restore's tail).
      const check = (): void => {
        const elapsed = performance.now() - started;
        const turnedSlow = route === 'direct' && packs.slowerThanDecoding(req.share, this.backlog(req), DECODE_WHEN_SLOWER, DECODE_MIN_GAIN_MS + elapsed);
        const hedge = packs.decodeHedge(req.share, bytes, DECODE_HEDGE_SLACK, DECODE_HEDGE_FLOOR_MS, route === 'probe' || turnedSlow);
        const late = hedge === null ? null : turnedSlow ? 0 : hedge.ms - elapsed;
        if (late === null || late > 0) {
          timer = setTimeout(check, Math.min(DECODE_HEDGE_CHECK_MS, late ?? DECODE_HEDGE_CHECK_MS));
          return;
        }
        pending += 1;
        hedge!.hedged();
        this.stats.decodeHedges += 1;
        // Not degraded by a hedge alone: on healthy members one fires now and then (a busy main thread), and
        // keeping would then copy every read for the rest of the run.
        packs.decodePiece(req.object, req.table, pc, decoding.signal, loans, fetching).then(
          (decoded) => settle(decoded && { bytes: decoded, decoded: true }),
          () => settle(null),
        );
      };
      let timer = setTimeout(check, DECODE_HEDGE_CHECK_MS);
      packs.readSharePiece(req.object, req.table, pc, direct.signal, held).then(
        (read) => {
          this.lending.repay(req.object, lent, read);
          settle(read && { bytes: read, decoded: false });
        },
        () => {
          this.lending.repay(req.object, lent, null);
          settle(null);
        },
      );
    });
  }

  /**
   * A request of `share` went to decoding instead (routed around, or its decode hedge won). The other data
   * shares' reads of the positions decoded come later (a later window): kept, they are not fetched twice.
   */
  private noteSlow(share: number): void {
    const slow = (this.foundSlow[share] = (this.foundSlow[share] ?? 0) + 1);
    if (slow >= KEEP_AFTER_SLOW && 2 * slow >= (this.judged[share] ?? 0)) this.startKeeping();
  }

  private startKeeping(): void {
    this.lending.degrade();
    this.stats.keeping = this.lending.keeping;
  }

  /** Lends a decode's GETs of req's pack to reads planned meanwhile, and keeps what they bring (ShareLending.lendFetch). */
  private fetchLender(req: Request): ShareFetching {
    return (share, from, to) => this.lending.lendFetch(req.object, share, from, to);
  }

  /**
   * Chunks whose request failed or whose bytes did not authenticate: those lying in this share alone are
   * rebuilt together (one region-aligned span from k members that match the table, this member asked last);
   * a chunk straddling shares is read again whole through ChunkReader.readRebuilt. When the share's member did
   * not answer at all (`unread`: down, missing, failing), the same bytes of k others are first decoded as they
   * come (openDecoded): only the chunks that then fail their AEAD tag take the verified rebuild.
   */
  private async fallBack(req: Request, failed: Part[], unread: boolean): Promise<void> {
    const packs = this.reader.packs;
    if (unread) failed = await this.openDecoded(req, failed);
    const alone = failed.filter((p) => p.need.pieces.length === 1 && !p.need.settled);
    const straddling = [...new Set(failed.filter((p) => p.need.pieces.length > 1 && !p.need.settled).map((p) => p.need))];
    for (const need of straddling) need.settled = true;
    this.stats.fallbacks += (alone.length > 0 ? 1 : 0) + straddling.length;
    const jobs: Promise<void>[] = straddling.map(async (need) => this.deliver(need, await this.reader.readRebuilt(need.entry), true));
    if (alone.length > 0) {
      const from = Math.min(...alone.map((p) => p.piece.from));
      const to = Math.max(...alone.map((p) => p.piece.to));
      jobs.push(
        (async () => {
          const rebuilt = await packs.rebuildPiece(req.object, req.table, { share: req.share, from, to }, [req.share]);
          for (const { need, piece } of alone) {
            if (need.settled || this.error) continue;
            need.settled = true;
            await this.deliver(need, await this.reader.openRebuilt(need.entry, rebuilt.subarray(piece.from - from, piece.to - from)), true);
          }
        })(),
      );
    }
    await Promise.all(jobs);
  }

  /**
   * The bytes a running request's member is carrying for this fetcher, its own included: the request shares the
   * member's link with them, so it takes about as long as they all do (a thin link's first requests, three at a
   * time, each took three times what its own bytes alone would). Judged less the time it has run (fetchBytes),
   * so a healthy member's requests, done in a few ms, never qualify.
   */
  private backlog(req: Request): number {
    return Math.max(req.to - req.from, this.runningBytes[req.share] ?? 0);
  }

  /**
   * Whether to decode the request's bytes from k other members rather than ask its share's member (`around`):
   * when that member is expected to take far longer than the k-th fastest of the others (DECODE_WHEN_SLOWER),
   * judged on the request's own bytes (judged on the member's backlog, healthy local disks, a few ms a request
   * and three at a time, were routed around at k × the bytes). Every PROBE_EVERY-th such request still goes to it
   * (`probe`), so a member whose link recovers is measured again; `direct` otherwise.
   */
  private route(req: Request): 'around' | 'probe' | 'direct' {
    this.judged[req.share] = (this.judged[req.share] ?? 0) + 1;
    if (!this.reader.packs.slowerThanDecoding(req.share, req.to - req.from, DECODE_WHEN_SLOWER, DECODE_MIN_GAIN_MS)) return 'direct';
    const routed = (this.routed[req.share] = (this.routed[req.share] ?? 0) + 1);
    if (routed % PROBE_EVERY === 0) return 'probe';
    this.noteSlow(req.share);
    this.stats.routedAround += 1;
    return 'around';
  }

  /**
   * A piece's bytes arrived: the chunk's sealed bytes when that makes them whole (the piece itself for a chunk
   * in one share), else null. A chunk that straddles shares is put together from its pieces, whichever request
   * brings them.
   */
  private assemble(part: Part, slice: Uint8Array): Uint8Array | null {
    const { need, piece } = part;
    if (need.pieces.length === 1) return slice;
    if (!need.assembly) {
      need.assembly = Buffer.allocUnsafe(need.entry.length);
      this.assemblingBytes += need.entry.length;
      this.stats.assemblingPeakBytes = Math.max(this.stats.assemblingPeakBytes, this.assemblingBytes);
    }
    need.assembly.set(slice, pieceOffset(need, piece));
    need.piecesIn += 1;
    if (need.piecesIn < need.pieces.length) return null;
    this.assemblingBytes -= need.entry.length;
    return need.assembly;
  }

  /** A chunk settled: its assembly, if any, is done with (counted out here when it was never completed). */
  private dropAssembly(need: Need): void {
    if (need.assembly && need.piecesIn < need.pieces.length) this.assemblingBytes -= need.entry.length;
    need.assembly = null;
  }

  /**
   * `failed` (the parts of a request whose member did not answer) from the same bytes of k other members,
   * decoded unverified (their AEAD tags judge them): a chunk in this share alone is opened at once, a piece of
   * one straddling shares joins its assembly as a piece read would. Returns the parts still to rebuild: those
   * that did not authenticate, or all of them when fewer than k members served the bytes.
   */
  private async openDecoded(req: Request, failed: Part[]): Promise<Part[]> {
    const open = failed.filter((p) => !p.need.settled);
    if (open.length === 0) return failed;
    const from = Math.min(...open.map((p) => p.piece.from));
    const to = Math.max(...open.map((p) => p.piece.to));
    this.startKeeping();
    const decoded = await this.reader.packs.decodePiece(req.object, req.table, { share: req.share, from, to }, undefined, this.lending.loansFor(req.object), this.fetchLender(req));
    if (!decoded || this.error) return failed;
    this.stats.decoded += 1;
    const ready: { part: Part; sealed: Uint8Array }[] = [];
    for (const part of open) {
      const sealed = this.assemble(part, decoded.subarray(part.piece.from - from, part.piece.to - from));
      if (sealed) ready.push({ part, sealed });
    }
    const left: Part[] = [];
    for (const { part, sealed } of ready) {
      const { need } = part;
      if (need.settled || this.error) continue;
      const plaintext = await integrityAsValue(this.reader.openSealed(need.entry, sealed, { moveSealed: sealed === need.assembly }));
      if (plaintext instanceof RaicError) {
        left.push(part);
        continue;
      }
      await this.deliver(need, plaintext);
    }
    return left;
  }

  /**
   * Opens `parts` (their sealed bytes at `spans` of `bytes`) in one worker task, placed there where asked
   * (placementsOf), tells the placements, and hands each chunk to `opened` in turn.
   */
  private async openTogether(parts: Part[], bytes: Uint8Array, spans: SealedSpan[], moveBytes: boolean, opened: (need: Need, plaintext: Uint8Array | RaicError | null) => void | Promise<void>): Promise<void> {
    const place = this.placementsOf(parts);
    const out = await this.reader.openBatch(bytes, spans, { moveBytes, ...(place ? { place } : {}) });
    // Placed is placed, whatever happens next: each placement hears its answer.
    if (out.placed) this.tellPlaced(parts, out.placed);
    for (let j = 0; j < parts.length; j++) {
      if (this.error) return;
      const delivering = opened(parts[j]!.need, out.opened[j]!);
      if (delivering) await delivering;
    }
  }

  /**
   * The batch's placements, to go with it to the worker (those asked for later are delivered); null when none.
   * A chunk whose every ask is a placement does not come back (`keep` 0).
   */
  private placementsOf(batch: Part[]): { placer: BatchPlacer; targets: (unknown[] | null)[]; keep: Uint8Array } | null {
    if (!this.placer || !batch.some((p) => p.need.places)) return null;
    const keep = new Uint8Array(batch.length);
    batch.forEach(({ need }, j) => (keep[j] = need.places && need.delivers.length === 0 ? 0 : 1));
    return { placer: this.placer, targets: batch.map(({ need }) => need.places?.map((p) => p.target) ?? null), keep };
  }

  /**
   * A chunk placed by its worker, its plaintext not kept: settled. Whoever asked for it after its batch left is
   * asked for anew (a read again; a restore's later duplicates are copied from the files instead).
   */
  private settlePlaced(need: Need): void {
    need.settled = true;
    this.dropAssembly(need);
    this.live.delete(need.key);
    for (const deliver of need.delivers) this.ask(need.entry, deliver, null);
    for (const placement of need.places!.slice(need.placesSent)) this.ask(need.entry, null, placement);
    this.flush(); // a caller draining the fetcher waits for these too
  }

  /** The placer's answers for a batch: each placement sent is told; a chunk not placed leaves its to `deliver`. */
  private tellPlaced(batch: Part[], answers: (unknown[] | null)[]): void {
    batch.forEach(({ need }, j) => {
      const answer = answers[j];
      if (!answer || !need.places) return;
      need.placesSent = answer.length;
      for (let i = 0; i < answer.length; i++) need.places[i]!.placed(answer[i]);
    });
  }

  /** Hands the plaintext to every caller that asked for the chunk, one after the other, then recycles it. */
  private deliver(need: Need, plaintext: Uint8Array, alreadySettled = false): void | Promise<void> {
    if (!alreadySettled && need.settled) return;
    need.settled = true;
    this.dropAssembly(need);
    if (this.limits.ordered) {
      this.early.set(need.order, { need, plaintext });
      return this.deliverInOrder();
    }
    return this.handOver(need, plaintext);
  }

  /**
   * Synchronous while the deliveries are (a promise only once one returns one): as an async function, its
   * promise and awaits (through deliver and the request's loop) were ~50 MB of a /usr/share restore's garbage.
   */
  private handOver(need: Need, plaintext: Uint8Array): void | Promise<void> {
    const done = (): void => {
      this.live.delete(need.key);
      this.reader.recycle(plaintext);
    };
    let d = 0;
    let p = need.placesSent;
    // Callers that ask for the chunk meanwhile join `delivers` or `places` and are served by this loop; the
    // placements a worker already served are not.
    const next = (): void | Promise<void> => {
      try {
        while (!this.error) {
          let pending: void | Promise<void>;
          if (d < need.delivers.length) pending = need.delivers[d++]!(plaintext);
          else if (need.places && p < need.places.length) pending = need.places[p++]!.deliver(plaintext);
          else break;
          if (pending) {
            return pending.then(next, (err: unknown) => {
              done();
              throw err;
            });
          }
        }
      } catch (err) {
        done();
        throw err;
      }
      done();
    };
    return next();
  }

  /**
   * Ordered: delivers the chunks that are next in order, one after the other. Whoever finds the loop running
   * leaves its chunk to it (its request is done: the byte budget does not wait for the caller's writes).
   */
  private async deliverInOrder(): Promise<void> {
    if (this.inOrder) return;
    this.inOrder = true;
    try {
      for (let next = this.early.get(this.nextOrder); next && !this.error; next = this.early.get(this.nextOrder)) {
        this.early.delete(this.nextOrder);
        this.nextOrder += 1;
        await this.handOver(next.need, next.plaintext);
      }
    } finally {
      this.inOrder = false;
    }
  }
}

/** Where a piece lies in its chunk's sealed bytes. */
function pieceOffset(need: Need, piece: SharePiece): number {
  let at = 0;
  for (const p of need.pieces) {
    if (p === piece) return at;
    at += p.to - p.from;
  }
  throw new RaicError('Usage', 'a piece of another chunk');
}
