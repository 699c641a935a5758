/**
 * PackReader: reads byte ranges of erasure-coded objects' bodies (pack-codec.ts) from the members.
 *
 * - table(): an object's table, used only when k members serve it byte for byte (one member's word never
 *   decides how a body was cut or what its shares hash to). Cached per reader.
 * - readRange(): a healthy read — the data shares that hold the range, one ranged GET each, no decoding
 *   (a share whose member does not answer is decoded from the same bytes of k others, as decodePiece).
 *   The bytes are not checked here: a chunk's AEAD tag judges them, and on failure the caller asks for
 *   rebuildRange().
 * - decodePiece(): a data share's bytes decoded, unverified, from the same bytes of k others (its member did not
 *   answer); like readRange, the chunks' AEAD tags judge them.
 * - rebuildRange(): the range rebuilt from region-aligned spans of any k members whose bytes match the table
 *   region by region, so a corrupt or lying member's bytes never reach the decoder.
 * - readBody(): a whole body, verified region by region (index segments, repair, prune).
 *
 * Reads fetch exactly the bytes asked for: restore and get plan their reads ahead (ChunkFetcher) and ask for
 * neighbouring chunks in one request themselves; a guess here would fetch bytes nobody uses.
 */
import { RaicError, isRaicError } from '../errors.js';
import { loadErasureCodec } from '../erasure/index.js';
import { hedgedFetch } from './hedged-fetch.js';
import type { Members } from './members.js';
import { messageOf } from './replicated.js';
import {
  OBJECT_HEADER_BYTES,
  decodeShare,
  locateRange,
  parsePackTable,
  rebuildRange as rebuildSpan,
  regionSpan,
  regionsMatch,
  tableLengthOf,
  type PackTable,
  type SharePiece,
} from './pack-codec.js';

export interface ReadProblem {
  member: number;
  /** Object key. */
  object: string;
  problem: 'missing' | 'corrupt' | 'unreachable';
  detail: string;
}

/**
 * Share bytes that reads already under way will bring: of share `share`, the parts of [from, to) they cover, each
 * with a promise of its bytes (a copy; null when that read failed). decodePiece takes them instead of asking a
 * member again for bytes already on their way: a restore reads every data share of a pack, so decoding a slow
 * data member's range then costs about one parity range more, not k ranges.
 */
export type ShareLoans = (share: number, from: number, to: number) => { from: number; to: number; bytes: Promise<Uint8Array | null> }[];

/** A GET of bytes [from, to) of share `share` starts; call the result with what its member served (null: none). */
export type ShareFetching = (share: number, from: number, to: number) => (bytes: Uint8Array | null) => void;

export interface CodedTable {
  table: PackTable;
  tableBytes: Buffer;
  /** Offset of the share in each member's object. */
  dataStart: number;
}

/**
 * First bytes fetched for a table, from each of k members: the table of a default pack fits (44 bytes and 16
 * per region of 64 KiB per member: 3.6 KiB for a 9.1 MiB body at 4+2), and so does that of any pack whose
 * shares are at most 10 MiB at n = 6; a larger table takes a second request. A copy is read from k members
 * for every pack a restore touches, so every KiB here costs k KiB of download per pack.
 */
const TABLE_PREFIX_BYTES = 16 * 1024;

export class PackReader {
  readonly problems: ReadProblem[] = [];
  private readonly tables = new Map<string, Promise<CodedTable>>();
  /** "member object" of each object a member answered it does not have (see lacks). */
  private readonly missing = new Set<string>();

  constructor(
    private readonly members: Members,
    private readonly k: number,
  ) {}

  get n(): number {
    return this.members.n;
  }

  /** The object's table, as k members serve it byte for byte. Rejects NotFound when no member has the object. */
  table(object: string, id: Uint8Array): Promise<CodedTable> {
    let t = this.tables.get(object);
    if (!t) {
      t = this.agreeOnTable(object, id);
      t.catch(() => this.tables.delete(object));
      this.tables.set(object, t);
    }
    return t;
  }

  /** Forgets a cached table (a pack deleted and rewritten: repair's byte-identical rebuild keeps it valid anyway). */
  forget(object: string): void {
    this.tables.delete(object);
  }

  private async agreeOnTable(object: string, id: Uint8Array): Promise<CodedTable> {
    const copies = new Map<number, Buffer>();
    const fetchOne = async (i: number, signal?: AbortSignal): Promise<Buffer | null> => {
      try {
        const bytes = await this.tableOf(i, object, id, signal);
        copies.set(i, bytes);
        return bytes;
      } catch (err) {
        if (!signal?.aborted) this.note(i, object, err); // an overtaken read is no problem of its member
        return null;
      }
    };
    const order = this.members.rank([...Array(this.n).keys()], TABLE_PREFIX_BYTES);
    await hedgedFetch(order, this.k, fetchOne, this.members.hedgePolicy(TABLE_PREFIX_BYTES));
    let agreed = majority(copies, this.k);
    if (!agreed) {
      await Promise.all(order.filter((i) => !copies.has(i) && !this.tried(object, i)).map((i) => fetchOne(i)));
      agreed = majority(copies, this.k);
    }
    if (!agreed) {
      const answers = this.problems.filter((p) => p.object === object);
      if (copies.size === 0 && answers.length > 0 && answers.every((p) => p.problem === 'missing')) throw new RaicError('NotFound', `${object} is on no member`);
      const why = copies.size < this.k ? `${copies.size} of ${this.n} shares obtainable, ${this.k} needed` : `no ${this.k} of the ${copies.size} members that answered agree on its table`;
      throw new RaicError('Quorum', `cannot read ${object}: ${why}; ${this.describe(object)}`, {
        hint: 'bring the unreachable members back, or run raic repair',
      });
    }
    for (const [i, bytes] of copies) if (!bytes.equals(agreed)) this.members.distrust(i, object);
    const table = parsePackTable(agreed, id, { k: this.k, n: this.n });
    return { table, tableBytes: agreed, dataStart: OBJECT_HEADER_BYTES + agreed.length };
  }

  /**
   * Whether member `member` already answered that it does not hold `object` (a write it missed, left for
   * repair): the fetcher decodes that share's bytes at once instead of asking again, a round trip per request.
   */
  lacks(member: number, object: string): boolean {
    return this.missing.has(`${member} ${object}`);
  }

  private tried(object: string, i: number): boolean {
    return this.problems.some((p) => p.object === object && p.member === i);
  }

  /** Member i's copy of the table, parsed (so a malformed copy counts as no copy). */
  private async tableOf(i: number, object: string, id: Uint8Array, signal?: AbortSignal): Promise<Buffer> {
    const prefix = await this.members.call(i, (p) => p.get(object, { offset: 0, length: TABLE_PREFIX_BYTES }, { signal }));
    const len = tableLengthOf(prefix);
    const end = OBJECT_HEADER_BYTES + len;
    const bytes = prefix.length >= end ? prefix.subarray(OBJECT_HEADER_BYTES, end) : await this.members.call(i, (p) => p.get(object, { offset: OBJECT_HEADER_BYTES, length: len }, { signal }));
    if (bytes.length !== len) throw new RaicError('Integrity', `${object} is truncated`);
    parsePackTable(bytes, id, { k: this.k, n: this.n });
    return Buffer.from(bytes);
  }

  /** Body bytes [offset, offset + length) as the data shares hold them (not verified: see the class comment). */
  async readRange(object: string, id: Uint8Array, offset: number, length: number): Promise<Buffer> {
    const t = await this.table(object, id);
    const pieces = locateRange(t.table, offset, length);
    const parts = await Promise.all(pieces.map((pc) => this.readPiece(object, t, pc)));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * A piece from its share's member, or decoded from the same bytes of k others when it does not answer: a
   * tree blob of a few hundred bytes then costs k × its bytes, not k region-aligned spans of 64 KiB (a restore
   * with a data member down and no cache read 3.4× the data). Unverified either way, as readRange says; the
   * verified rebuild is the last resort.
   */
  private async readPiece(object: string, t: CodedTable, pc: SharePiece): Promise<Buffer> {
    return (await this.readSharePiece(object, t, pc)) ?? (await this.decodePiece(object, t, pc)) ?? this.rebuildPiece(object, t, pc);
  }

  /** Bytes [from, to) of member i's share of `object`, as it serves them: one ranged GET, not verified. */
  private getShare(i: number, object: string, t: CodedTable, from: number, to: number, signal?: AbortSignal): Promise<Buffer> {
    return this.members.call(i, (p) => p.get(object, { offset: t.dataStart + from, length: to - from }, signal ? { signal } : {}));
  }

  /**
   * Share bytes [pc.from, pc.to) as the member holding share pc.share serves them (one ranged GET, not
   * verified), or null — the problem recorded — when that member is down, fails or answers short.
   */
  async readSharePiece(object: string, t: CodedTable, pc: SharePiece, signal?: AbortSignal, held: ReturnType<ShareLoans> = []): Promise<Buffer | null> {
    if (!this.members.isUp(pc.share)) return null;
    try {
      const get = (from: number, to: number): Promise<Buffer> => this.getShare(pc.share, object, t, from, to, signal);
      const bytes = held.length > 0 ? await assemble(pc.from, pc.to, held, get) : await get(pc.from, pc.to);
      if (bytes.length === pc.to - pc.from) return bytes;
      this.problems.push({ member: pc.share, object, problem: 'corrupt', detail: `short read (${bytes.length} of ${pc.to - pc.from} bytes)` });
    } catch (err) {
      if (!signal?.aborted) this.note(pc.share, object, err); // an overtaken read is no problem of its member
    }
    return null;
  }

  /**
   * Whether reading `bytes` of share `share` from its member is expected to move them over `factor` × as slowly
   * as decoding them (decodePiece) from the k fastest other members that are up, each asked for the same bytes
   * side by side, and to take `minGainMs` longer at least, round trips included. The factor applies to the
   * bytes' time alone: the round trips (a few hundred ms measured on a busy 50 ms link, alike on every member)
   * kept a member 6× slower than the rest from looking 3× slower on requests under a megabyte. A member whose
   * throughput is unmeasured (a parity member, read only for tables while the data members answer) counts as
   * fast as the fastest. False while the member's own link, or the latency of fewer than k others, is
   * unmeasured, and with a fixed hedge delay (Members.fixedHedgeDelayMs: no timing decides).
   */
  slowerThanDecoding(share: number, bytes: number, factor: number, minGainMs: number): boolean {
    if (this.members.fixedHedgeDelayMs !== null) return false;
    const own = this.members.expectedMs(share, bytes);
    const ownMoving = this.members.transferMs(share, bytes);
    const decoding = this.decodeMs(share, bytes);
    const decodingMoving = this.kthFastest(share, (i) => this.members.transferMs(i, bytes, 'get', true));
    if (own === null || ownMoving === null || decoding === null || decodingMoving === null) return false;
    return ownMoving > factor * decodingMoving && own - decoding > minGainMs;
  }

  /**
   * When to back a read of `bytes` of share `share` up by decoding them from k others, as a hedge: after
   * `factor` × the expected time of that decoding, and `floorMs` at least; or null — no hedge — once the
   * member's own throughput is measured (slowerThanDecoding then decides before a request starts), while fewer
   * than k others are measured, or with a fixed hedge delay (tests). So it covers a thin link's first requests,
   * sent before anything was known of it, and a time-based judgement — which a busy main thread can fool —
   * applies to a few requests per member at most. A `probe` (a request sent to a member known to be slow, to
   * measure it again) is hedged all the same: a restore's last probes on a thin link were its tail; so is a
   * request sent before its member was found that slow (the fetcher passes `probe` for both). Not held to
   * the hedge budget, which would have kept those first requests on the thin link; `hedged` counts its k × the
   * bytes all the same.
   */
  decodeHedge(share: number, bytes: number, factor: number, floorMs: number, probe = false): { ms: number; hedged: () => void } | null {
    if (this.members.fixedHedgeDelayMs !== null || (this.members.throughputKnown(share) && !probe)) return null;
    const decoding = this.decodeMs(share, bytes, true);
    if (decoding === null) return null;
    return { ms: Math.max(floorMs, factor * decoding), hedged: () => this.members.noteHedge(this.k * bytes) };
  }

  /**
   * Expected ms to fetch `bytes` from each of the k fastest up members other than `share`, side by side: the
   * k-th fastest's time. Null while fewer than k of them are measured. `atBest`: a member whose throughput is
   * unmeasured is taken to be as fast as the fastest measured (Members.expectedMsAtBest).
   */
  private decodeMs(share: number, bytes: number, atBest = false): number | null {
    return this.kthFastest(share, (i) => (atBest ? this.members.expectedMsAtBest(i, bytes) : this.members.expectedMs(i, bytes)));
  }

  /** The k-th smallest `ms` of the up members other than `share` (null for unknown), or null if fewer are known. */
  private kthFastest(share: number, ms: (member: number) => number | null): number | null {
    const others: number[] = [];
    for (let i = 0; i < this.n; i++) {
      const t = i === share || !this.members.isUp(i) ? null : ms(i);
      if (t !== null) others.push(t);
    }
    return others.length < this.k ? null : others.sort((a, b) => a - b)[this.k - 1]!;
  }

  /** Records that member `member`'s bytes of `object` did not authenticate (a chunk's AEAD tag judged them). */
  noteCorrupt(member: number, object: string, detail: string): void {
    this.problems.push({ member, object, problem: 'corrupt', detail });
  }

  /** Body bytes [offset, offset + length) rebuilt from k members' verified bytes. */
  async rebuildRange(object: string, id: Uint8Array, offset: number, length: number): Promise<Buffer> {
    const t = await this.table(object, id);
    const parts = await Promise.all(locateRange(t.table, offset, length).map((pc) => this.rebuildPiece(object, t, pc)));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * Share bytes [pc.from, pc.to) of share pc.share decoded from the same bytes of k other members, or null (the
   * problems recorded) when fewer than k serve them. Not verified, like readSharePiece: for a data share whose
   * member is down or failed, not one that lied. The chunks' AEAD tags judge the result, and a chunk that fails
   * goes to rebuildPiece, which checks every region against the table. A degraded read so fetches exactly the
   * bytes it decodes and hashes nothing (a 256 MiB get with two of six members gone: ~5.5 s → ~2.8 s).
   * `fetching` is told of each GET of the other shares' bytes as it starts, and settled with what the member
   * served (null: failed or short): ShareLending lends it to those shares' own reads and keeps it for later
   * ones. Loans are not passed on, since a loan may have been decoded.
   */
  async decodePiece(object: string, t: CodedTable, pc: SharePiece, stop?: AbortSignal, loans?: ShareLoans, fetching?: ShareFetching): Promise<Buffer | null> {
    const length = pc.to - pc.from;
    const spans: (Uint8Array | null)[] = new Array<Uint8Array | null>(this.n).fill(null);
    const others = [...Array(this.n).keys()].filter((i) => i !== pc.share && this.members.isUp(i));
    const lent = new Map(others.map((i) => [i, loans?.(i, pc.from, pc.to) ?? []]));
    const fetchOne = async (i: number, own: AbortSignal): Promise<Uint8Array | null> => {
      const signal = stop ? AbortSignal.any([own, stop]) : own;
      const get = async (from: number, to: number): Promise<Buffer> => {
        const settle = fetching?.(i, from, to);
        let bytes: Buffer | null = null;
        try {
          bytes = await this.getShare(i, object, t, from, to, signal);
          return bytes;
        } finally {
          settle?.(bytes?.length === to - from ? bytes : null);
        }
      };
      try {
        const parts = lent.get(i)!;
        const bytes = parts.length > 0 ? await assemble(pc.from, pc.to, parts, get) : await get(pc.from, pc.to);
        if (bytes.length === length) return (spans[i] = bytes);
        this.problems.push({ member: i, object, problem: 'corrupt', detail: `short read (${bytes.length} of ${length} bytes)` });
      } catch (err) {
        if (!signal?.aborted) this.note(i, object, err);
      }
      return null;
    };
    // Members whose bytes are mostly on their way already go first (a stable sort keeps the ranking among the rest);
    // then, when the caller lends what is fetched, data shares before parity: their own reads borrow or keep them.
    const covered = (i: number): number => lent.get(i)!.reduce((sum, l) => sum + l.to - l.from, 0);
    const parity = (i: number): number => (fetching && i >= this.k ? 1 : 0);
    const order = this.members.rank(others, length).sort((a, b) => covered(b) - covered(a) || parity(a) - parity(b));
    const got = await hedgedFetch(order, this.k, fetchOne, this.members.hedgePolicy(length));
    if (got.size < this.k || stop?.aborted) return null;
    let kept = 0;
    for (let i = 0; i < this.n; i++) if (spans[i] && (kept += 1) > this.k) spans[i] = null;
    return decodeShare(await loadErasureCodec(this.k, this.n), spans, length, pc.share);
  }

  /**
   * Share bytes [pc.from, pc.to) of share pc.share rebuilt from the region-aligned span of k members whose bytes
   * match the table; members in `avoid` (one whose bytes just failed) are asked last.
   */
  async rebuildPiece(object: string, t: CodedTable, pc: SharePiece, avoid: readonly number[] = []): Promise<Buffer> {
    const span = regionSpan(t.table, pc.from, pc.to);
    const shares = await this.verifiedSpans(object, t, span.from, span.to, [], avoid);
    const rebuilt = shares[pc.share] ?? rebuildSpan(await loadErasureCodec(this.k, this.n), shares, span.to - span.from)[pc.share]!;
    return Buffer.from(rebuilt.buffer, rebuilt.byteOffset + (pc.from - span.from), pc.to - pc.from);
  }

  /** Share bytes [from, to) (region-aligned) of k members whose bytes match the table; the others null. */
  async verifiedSpans(object: string, t: CodedTable, from: number, to: number, prefer: readonly number[] = [], avoid: readonly number[] = []): Promise<(Uint8Array | null)[]> {
    const spans: (Uint8Array | null)[] = new Array<Uint8Array | null>(this.n).fill(null);
    const fetchOne = async (i: number, signal?: AbortSignal): Promise<Uint8Array | null> => {
      try {
        const bytes = await this.getShare(i, object, t, from, to, signal);
        if (bytes.length === to - from && regionsMatch(t.table, i, from, bytes)) {
          spans[i] = bytes;
          return bytes;
        }
        this.problems.push({ member: i, object, problem: 'corrupt', detail: `bytes ${from}–${to} of its share do not match the table` });
        this.members.distrust(i, object);
      } catch (err) {
        if (!signal?.aborted) this.note(i, object, err); // an overtaken read is no problem of its member
      }
      return null;
    };
    const ranked = this.members.rank([...Array(this.n).keys()].filter((i) => this.members.isUp(i)), to - from, prefer);
    const candidates = [...ranked.filter((i) => !avoid.includes(i)), ...ranked.filter((i) => avoid.includes(i))];
    const got = await hedgedFetch(candidates, this.k, fetchOne, this.members.hedgePolicy(to - from));
    if (got.size < this.k) {
      throw new RaicError('Quorum', `cannot read ${object}: ${got.size} of ${this.n} shares obtainable, ${this.k} needed; ${this.describe(object)}`, {
        hint: 'bring the unreachable members back, then retry',
      });
    }
    // Late answers may have landed too: use exactly k, the rest would only be more memory.
    let kept = 0;
    for (let i = 0; i < this.n; i++) if (spans[i] && (kept += 1) > this.k) spans[i] = null;
    return spans;
  }

  /** The whole body, verified region by region (k members' shares, decoded when a data share is missing). */
  async readBody(object: string, id: Uint8Array): Promise<{ body: Buffer; table: CodedTable }> {
    const t = await this.table(object, id);
    const { shareLen, bodyBytes } = t.table;
    const shares = await this.verifiedSpans(object, t, 0, shareLen, [...Array(this.k).keys()]);
    const all = shares.slice(0, this.k).every((s) => s) ? shares : rebuildSpan(await loadErasureCodec(this.k, this.n), shares, shareLen);
    const body = Buffer.allocUnsafe(this.k * shareLen);
    for (let i = 0; i < this.k; i++) body.set(all[i]!, i * shareLen);
    return { body: body.subarray(0, bodyBytes), table: t };
  }

  private note(member: number, object: string, err: unknown): void {
    const problem = isRaicError(err, 'NotFound') ? 'missing' : isRaicError(err, 'Integrity') ? 'corrupt' : 'unreachable';
    if (problem === 'corrupt') this.members.distrust(member, object);
    if (problem === 'missing') this.missing.add(`${member} ${object}`);
    this.problems.push({ member, object, problem, detail: messageOf(err) });
  }

  describe(object: string): string {
    const down = this.members.describeDown();
    const probs = this.problems.filter((p) => p.object === object).map((p) => `${this.members.slots[p.member]!.url}: ${p.problem}`);
    return [down && `unreachable: ${down}`, probs.length > 0 && `share problems: ${[...new Set(probs)].join(', ')}`].filter(Boolean).join('; ') || 'no member could be read';
  }
}

/** Whether a member's whole object (as downloaded) has the object header and exactly the agreed table. */
export function sameTable(bytes: Buffer, t: CodedTable): boolean {
  try {
    return tableLengthOf(bytes) === t.tableBytes.length && bytes.length >= t.dataStart && bytes.subarray(OBJECT_HEADER_BYTES, t.dataStart).equals(t.tableBytes);
  } catch {
    return false;
  }
}

/** The table bytes at least `k` members served identically, or null. */
function majority(copies: Map<number, Buffer>, k: number): Buffer | null {
  const counts = new Map<string, { bytes: Buffer; count: number }>();
  for (const bytes of copies.values()) {
    const key = bytes.toString('base64');
    const c = counts.get(key);
    if (c) c.count += 1;
    else counts.set(key, { bytes, count: 1 });
  }
  for (const c of counts.values()) if (c.count >= k) return c.bytes;
  return null;
}

/**
 * Share bytes [from, to) put together from loans (ShareLoans: parts already on their way, taken as they come)
 * and `get` for the rest: the gaps between them, and any loan whose read failed. Rejects Integrity when a get
 * answers short.
 */
async function assemble(from: number, to: number, loans: ReturnType<ShareLoans>, get: (from: number, to: number) => Promise<Buffer>): Promise<Buffer> {
  const out = Buffer.allocUnsafe(to - from);
  const fill = async (a: number, b: number): Promise<void> => {
    const bytes = await get(a, b);
    if (bytes.length !== b - a) throw new RaicError('Integrity', `short read (${bytes.length} of ${b - a} bytes)`);
    out.set(bytes, a - from);
  };
  const jobs: Promise<void>[] = [];
  let at = from;
  for (const loan of [...loans].sort((x, y) => x.from - y.from)) {
    const start = Math.max(at, loan.from, from);
    const end = Math.min(loan.to, to);
    if (start >= end) continue;
    if (start > at) jobs.push(fill(at, start));
    jobs.push(loan.bytes.then((bytes) => (bytes ? void out.set(bytes.subarray(start - loan.from, end - loan.from), start - from) : fill(start, end))));
    at = end;
  }
  if (at < to) jobs.push(fill(at, to));
  await Promise.all(jobs);
  return out;
}
