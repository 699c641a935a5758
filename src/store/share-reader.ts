/**
 * ShareReader: fetches k valid shares of a chunk and decodes it. Asks data shares first (no decoding
 * needed when they all answer), then parity; a share that is missing, unreachable, short or fails its
 * hash is replaced by another member's, so any n−k members may be lost or corrupt.
 *
 * A share whose pack is gone (NotFound) is looked for where prune moved it: the pack's forwarding record
 * (forwarding.ts, fetched once per pack per reader) names the chunk's new pack and offset, and chains of
 * moves are followed. Only when no record names the chunk is the share counted missing. The entry's share
 * hashes stay the judge of the bytes, wherever they were read.
 */
import { RaicError, isRaicError } from '../errors.js';
import type { ChunkEntry } from './chunk-ref.js';
import { ForwardTable, type ChunkLocation } from './forwarding.js';
import { hedgedFetch } from './hedged-fetch.js';
import { FORWARD_PREFIX, idOfKey, packKey } from './layout.js';
import type { Members } from './members.js';
import { listUnion, messageOf } from './replicated.js';
import { decodeStripe, stripeBytes } from './stripe-codec.js';
import type { StripePool } from './stripe-pool.js';
import { INLINE_CODEC_BYTES } from './tuning.js';
import { BufferPool } from './buffer-pool.js';

export interface ShareProblem {
  member: number;
  pack: string;
  problem: 'missing' | 'corrupt' | 'unreachable';
  detail: string;
}

/** What decoding from a parity share costs, in the units of member latency (ms), when choosing sources. */
const PARITY_COST_MS = 1;

/**
 * Bytes fetched at once when a member is read sequentially, for shares of at most an eighth of it (larger
 * ones are requests big enough already); windows kept per member. Memory: n × 2 × 4 MiB at most.
 */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
const WINDOWS_PER_MEMBER = 2;

interface ReadWindow {
  packHex: string;
  offset: number;
  length: number;
  bytes: Promise<Buffer>;
}

/** Moves followed for one chunk before giving up (prune never builds loops; a bound keeps a bug finite). */
const MAX_FORWARD_HOPS = 64;

export class ShareReader {
  /** Every share problem met while reading (for reporting; repair will use it). */
  readonly problems: ShareProblem[] = [];

  /** Recycled scratch buffers (see BufferPool); chunks larger than their capacity get fresh ones. */
  private readonly stripes: BufferPool;
  private readonly plaintexts: BufferPool;
  private readonly forwards: ForwardTable;
  private forwardListing: Promise<Set<string>> | null = null;
  /** Per member: where its last read ended, and the ranges read ahead (see readShare). */
  private readonly lastRead: ({ packHex: string; end: number } | undefined)[] = [];
  private readonly windows: ReadWindow[][] = [];

  constructor(
    private readonly members: Members,
    private readonly pool: StripePool,
    private readonly k: number,
    maxChunkBytes = 0,
  ) {
    this.stripes = new BufferPool(stripeBytes(maxChunkBytes, k, members.n));
    this.plaintexts = new BufferPool(maxChunkBytes);
    this.forwards = new ForwardTable(members);
  }

  /**
   * Where the entry's shares are now: the entry itself, or — when some member lists a forwarding record for
   * its pack and the record names the chunk — the entry at its new pack and offset (moves chained). For
   * checks, which must look at the pack that really holds the shares. Whether the old pack is still there is
   * not asked: a member rolled back to before the move still holds it, and one member's word must not decide
   * where a chunk lives. Rejects like ForwardTable.lookup.
   */
  async locate(entry: ChunkEntry): Promise<ChunkEntry> {
    let at: ChunkEntry = entry;
    for (let hop = 0; hop < MAX_FORWARD_HOPS; hop++) {
      const packHex = at.pack.toString('hex');
      if (!this.forwards.has(packHex) && !(await this.listedForwards()).has(packHex)) return at;
      const next = await this.forwards.lookup(packHex, entry);
      if (!next) return at;
      at = { ...at, pack: next.pack, offset: next.offset };
    }
    return at;
  }

  /** Object keys of the forwarding records this reader followed (checks verify them on every member). */
  forwardRecordKeys(): string[] {
    return this.forwards.keys();
  }

  /** Gives back the buffer of a plaintext returned by read() once the caller is done with it. */
  recycle(plaintext: Uint8Array): void {
    this.plaintexts.release(plaintext.buffer);
  }

  /** The chunk's plaintext. Its buffer may be recycled: call recycle() when done, or keep it. */
  async read(entry: ChunkEntry): Promise<Uint8Array> {
    const n = this.members.n;
    const shares: (Uint8Array | null)[] = new Array<Uint8Array | null>(n).fill(null);
    const tried = new Set<number>();
    const packHex = entry.pack.toString('hex');
    const visited = new Set<string>([packHex]);
    /** The pack each member's share was read from (moves may differ per member, e.g. mid-prune). */
    const source: string[] = new Array<string>(n).fill(packHex);
    /** Fetches still running (hedged past, or started late): their shares still count when they land. */
    const outstanding = new Set<Promise<unknown>>();
    for (;;) {
      let have = shares.filter((s) => s !== null).length;
      let candidates = [...Array(n).keys()].filter((i) => !tried.has(i) && this.members.isUp(i));
      if (this.k - have > candidates.length && outstanding.size > 0) {
        await Promise.allSettled([...outstanding]);
        have = shares.filter((s) => s !== null).length;
        candidates = [...Array(n).keys()].filter((i) => !tried.has(i) && this.members.isUp(i));
      }
      const want = this.k - have;
      if (want > candidates.length) {
        throw new RaicError('Quorum', `cannot read chunk ${entry.id.toString('hex').slice(0, 16)}: ${have + candidates.length} of ${n} shares obtainable, ${this.k} needed; ${this.describe(visited)}`, {
          hint: 'bring the unreachable members back, then retry',
        });
      }
      // Fastest members first (data shares win ties: no decoding); hedge past a slow one.
      const ordered = [...candidates].sort((a, b) => this.expectedCost(a) - this.expectedCost(b) || a - b);
      await hedgedFetch(
        ordered,
        want,
        (i) => {
          tried.add(i);
          const started = performance.now();
          const fetching = this.fetchShare(i, entry, visited, source).then((share) => {
            if (share) {
              this.members.observeLatency(i, performance.now() - started);
              shares[i] = share;
            }
            return share;
          });
          outstanding.add(fetching);
          void fetching.finally(() => outstanding.delete(fetching));
          return fetching;
        },
        () => this.members.hedgeDelayMs(),
      );
      if (shares.filter((s) => s !== null).length < this.k) continue;
      // Pooled max-size scratch only for large chunks: moving 10 MB of buffers to a worker for a 100 KB chunk
      // makes V8 count it as fresh external memory each time, and collect garbage far too often.
      const fits = entry.size <= this.plaintexts.capacity && entry.size >= this.plaintexts.capacity / 4;
      const task = { shares: shares.map((s) => s), hashes: entry.hashes, shareLen: entry.shareLen, size: entry.size, key: entry.key, k: this.k, n };
      if (entry.size <= INLINE_CODEC_BYTES) {
        const inline = await decodeStripe(task);
        if ('plaintext' in inline) return inline.plaintext;
        this.markCorrupt(inline.badShares, shares, source);
        continue;
      }
      const result = await this.pool.decode({
        shares: shares.map((s) => s),
        hashes: entry.hashes,
        shareLen: entry.shareLen,
        size: entry.size,
        key: entry.key,
        k: this.k,
        n,
        ...(fits ? { stripeBuffer: this.stripes.take(), plaintextBuffer: this.plaintexts.take() } : {}),
      });
      if ('plaintext' in result) {
        this.stripes.release(result.stripe.buffer);
        return result.plaintext;
      }
      this.markCorrupt(result.badShares, shares, source);
      // Good shares may have been moved (detached) into the worker: fetch those again.
      for (let i = 0; i < n; i++) {
        if (shares[i]?.byteLength === 0) {
          shares[i] = null;
          tried.delete(i);
        }
      }
    }
  }

  /** Expected time to get share i: its member's recent latency, plus a little for parity (it needs decoding). */
  private markCorrupt(bad: number[], shares: (Uint8Array | null)[], source: string[]): void {
    for (const i of bad) {
      this.problems.push({ member: i, pack: source[i]!, problem: 'corrupt', detail: 'share hash mismatch' });
      shares[i] = null;
    }
  }

  private expectedCost(i: number): number {
    return this.members.expectedLatency(i) + (i >= this.k ? PARITY_COST_MS : 0);
  }

  /** Share i of the chunk from wherever it is now (see the class comment); null when it cannot be had. */
  private async fetchShare(i: number, entry: ChunkEntry, visited: Set<string>, source: string[]): Promise<Uint8Array | null> {
    let at: ChunkLocation = entry;
    for (let hop = 0; ; hop++) {
      const packHex = at.pack.toString('hex');
      visited.add(packHex);
      try {
        // A pack already known to be forwarded: go straight to where this chunk went, if it was moved.
        const moved = this.forwards.has(packHex) ? await this.forwards.lookup(packHex, entry) : null;
        if (moved && hop < MAX_FORWARD_HOPS) {
          at = moved;
          continue;
        }
        const offset = at.offset;
        source[i] = packHex;
        const bytes = await this.readShare(i, packHex, offset, entry.shareLen);
        if (bytes.length !== entry.shareLen) {
          this.problems.push({ member: i, pack: packHex, problem: 'corrupt', detail: `short share (${bytes.length} of ${entry.shareLen} bytes)` });
          return null;
        }
        return bytes;
      } catch (err) {
        if (isRaicError(err, 'NotFound') && hop < MAX_FORWARD_HOPS) {
          let moved: ChunkLocation | null = null;
          try {
            moved = await this.forwards.lookup(packHex, entry);
          } catch (lookupErr) {
            this.problems.push({ member: i, pack: packHex, problem: isRaicError(lookupErr, 'Integrity') ? 'corrupt' : 'unreachable', detail: messageOf(lookupErr) });
            return null;
          }
          if (moved) {
            at = moved;
            continue;
          }
        }
        const problem = isRaicError(err, 'NotFound') ? 'missing' : isRaicError(err, 'Integrity') ? 'corrupt' : 'unreachable';
        this.problems.push({ member: i, pack: packHex, problem, detail: messageOf(err) });
        return null;
      }
    }
  }

  /**
   * Bytes [offset, offset + length) of member i's copy of a pack. A read that continues where the member's
   * previous one ended (a restore or get walks packs in order) fetches READ_AHEAD_BYTES at once and keeps
   * them: the next shares come from memory, not from another request (a file member: one thread-pool round
   * trip each; a cloud member: one GET each). Other reads fetch exactly what is asked.
   */
  private async readShare(i: number, packHex: string, offset: number, length: number): Promise<Uint8Array> {
    const sequential = this.lastRead[i]?.packHex === packHex && this.lastRead[i]?.end === offset;
    this.lastRead[i] = { packHex, end: offset + length };
    const windows = (this.windows[i] ??= []);
    for (const w of windows) {
      if (w.packHex !== packHex || offset < w.offset || offset + length > w.offset + w.length) continue;
      const got = await w.bytes.catch(() => null);
      if (got && offset + length <= w.offset + got.length) return got.subarray(offset - w.offset, offset - w.offset + length);
    }
    const key = packKey(packHex);
    if (sequential && length * 8 <= READ_AHEAD_BYTES) {
      const bytes = this.members.call(i, (p) => p.get(key, { offset, length: READ_AHEAD_BYTES }));
      bytes.catch(() => undefined); // a failed read-ahead falls back to the exact read below
      windows.push({ packHex, offset, length: READ_AHEAD_BYTES, bytes });
      if (windows.length > WINDOWS_PER_MEMBER) windows.shift();
      const got = await bytes.catch(() => null);
      if (got && got.length >= length) return got.subarray(0, length);
    }
    return this.members.call(i, (p) => p.get(key, { offset, length }));
  }

  /** Packs that some up member lists a forwarding record for (listed once per reader). */
  private listedForwards(): Promise<Set<string>> {
    this.forwardListing ??= listUnion(this.members, FORWARD_PREFIX).then((keys) => new Set([...keys.keys()].map(idOfKey)));
    return this.forwardListing;
  }

  private describe(packs: Set<string>): string {
    const down = this.members.describeDown();
    const probs = this.problems.filter((p) => packs.has(p.pack)).map((p) => `${this.members.slots[p.member]!.url}: ${p.problem}`);
    return [down && `unreachable: ${down}`, probs.length > 0 && `share problems: ${probs.join(', ')}`].filter(Boolean).join('; ');
  }
}
