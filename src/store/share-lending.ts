/**
 * ShareLending: the share reads a ChunkFetcher has under way, lent to decodes of the same positions of other
 * shares (PackReader.ShareLoans). A read routed around a slow data member is decoded from the same bytes of k
 * others; in a restore or a large get the other data shares' bytes at those positions are being read anyway, for
 * their own chunks, so the decode borrows them and asks a parity member for its range alone: about 1× the
 * bytes instead of k×, on links already carrying their own shares.
 *
 * A read is lent from the moment it is queued, not only once it runs: a decode around a slow or missing member
 * runs ahead of the other members' queues (its own requests fail or are routed at once), so the reads it needs
 * are mostly still waiting. Borrowing a waiting read calls its `onBorrow` (the fetcher starts it next, outside
 * its byte budget, so a decode never waits on a read that waits on the decode's budget).
 *
 * A borrower gets a copy of its part, made when the read's bytes come and before the reader hands them on (a
 * worker may be given them to open, which moves them away); a read that failed, or that will itself be decoded,
 * repays null, and the borrower asks the member itself.
 *
 * Once a member is found down, lacking a pack or slow for most of its requests (`degrade`), reads and decodes
 * also keep what they brought, up to `keepBytes` (oldest dropped first): a decode's other shares' bytes serve
 * those shares' own reads later, and a read's bytes serve a decode that comes after it (its request queued in a
 * later window). So a restore with a data member down or missing packs downloads each position of k shares
 * about once, as a healthy restore does, with the parity members carrying the missing member's part. (Kept from
 * then on, for every pack: a member that lacks one pack usually lacks the next too. Not for one request routed
 * around as slow: see ChunkFetcher's KEEP_AFTER_SLOW.)
 * A decode's own GETs of the other shares are lent too, to reads of those bytes planned while they run
 * (`lendFetch`, `readLoans`): reads borrow only such GETs and kept bytes, never each other.
 */
import type { ShareLoans } from './pack-reader.js';

interface Borrower {
  from: number;
  to: number;
  resolve: (bytes: Uint8Array | null) => void;
}

/** One read queued or under way: bytes [from, to) of share `share`. */
export interface Lending {
  share: number;
  from: number;
  to: number;
  borrowers: Borrower[];
  /** Called when the first borrower comes. */
  onBorrow: (() => void) | undefined;
  /** A decode's GET of another share's bytes (lendFetch): it borrows nothing, so reads may borrow it too. */
  fetch: boolean;
}

/** Bytes [from, to) of share `share` kept from a read or a decode of a degraded pack. */
interface Kept {
  object: string;
  share: number;
  from: number;
  to: number;
  bytes: Uint8Array;
}

/** A part of a share's range taken from bytes at hand: [from, to) of the share. */
export interface HeldPart {
  from: number;
  to: number;
  bytes: Uint8Array;
}

export class ShareLending {
  /** Reads queued or under way, by object. */
  private readonly open = new Map<string, Lending[]>();
  /** A member is down, lacks packs or is slow: reads and decodes keep their bytes. */
  private degraded = false;
  /** Kept bytes, by object, oldest first in `keptOrder`. */
  private readonly kept = new Map<string, Kept[]>();
  private keptOrder: Kept[] = [];
  private keptBytes = 0;

  constructor(private readonly keepBytes = 0) {}

  /** A member is down, lacks packs or was found slow for most of its requests: from now on reads and decodes keep what they bring. */
  degrade(): void {
    this.degraded = this.keepBytes > 0;
  }

  /** Whether reads and decodes keep what they bring (degraded, with a keep budget). */
  get keeping(): boolean {
    return this.degraded;
  }

  /**
   * Keeps bytes [from, to) of share `share` of `object` (a read's, or a decode's other shares') once degraded,
   * unless kept bytes already cover them. The caller must not change them after.
   */
  keep(object: string, share: number, from: number, to: number, bytes: Uint8Array): void {
    if (!this.degraded || to - from > this.keepBytes || this.held(object, share, from, to).reduce((sum, h) => sum + h.to - h.from, 0) === to - from) return;
    const k: Kept = { object, share, from, to, bytes };
    const list = this.kept.get(object) ?? [];
    list.push(k);
    this.kept.set(object, list);
    this.keptOrder.push(k);
    this.keptBytes += to - from;
    let drop = 0;
    while (this.keptBytes > this.keepBytes) {
      const old = this.keptOrder[drop++]!;
      this.keptBytes -= old.to - old.from;
      const same = this.kept.get(old.object)!;
      same.splice(same.indexOf(old), 1);
      if (same.length === 0) this.kept.delete(old.object);
    }
    if (drop > 0) this.keptOrder = this.keptOrder.slice(drop);
  }

  /** The kept parts (held) as loans, as PackReader takes them. */
  private keptLoans(object: string, share: number, from: number, to: number): ReturnType<ShareLoans> {
    return this.held(object, share, from, to).map((h) => ({ from: h.from, to: h.to, bytes: Promise.resolve(h.bytes) }));
  }

  /**
   * Loans for a read of bytes [from, to) of share `share`: what is kept, and decodes' GETs of them under way.
   * Never another read's: two reads could then wait on each other.
   */
  readLoans(object: string, share: number, from: number, to: number): ReturnType<ShareLoans> {
    return this.loans(object, share, from, to, true);
  }

  /** Kept parts of bytes [from, to) of share `share` of `object`, in order, not overlapping. */
  held(object: string, share: number, from: number, to: number): HeldPart[] {
    const parts: HeldPart[] = [];
    for (const k of this.kept.get(object) ?? []) {
      const a = Math.max(from, k.from);
      const b = Math.min(to, k.to);
      if (k.share === share && a < b) parts.push({ from: a, to: b, bytes: k.bytes.subarray(a - k.from, b - k.from) });
    }
    parts.sort((x, y) => x.from - y.from);
    const out: HeldPart[] = [];
    let at = from;
    for (const p of parts) {
      if (p.to <= at) continue;
      const a = Math.max(at, p.from);
      out.push({ from: a, to: p.to, bytes: p.bytes.subarray(a - p.from) });
      at = p.to;
    }
    return out;
  }

  /** Registers a read of bytes [from, to) of share `share` of `object`; repay it when its bytes come. */
  lend(object: string, share: number, from: number, to: number, onBorrow?: () => void): Lending {
    return this.register(object, { share, from, to, borrowers: [], onBorrow, fetch: false });
  }

  /**
   * Registers a decode's GET of bytes [from, to) of share `share` of `object` as it starts (PackReader.decodePiece's
   * `fetching`); settle it with what the member served (null: failed or short). Reads of those bytes planned
   * meanwhile borrow it (readLoans): a decode of a missing member's positions comes just before the next data
   * share's own reads of them, and those otherwise fetched them again (~9 of its 12 MB restoring /usr/share/doc
   * in process with member 0 missing).
   */
  lendFetch(object: string, share: number, from: number, to: number): (bytes: Uint8Array | null) => void {
    const lending = this.register(object, { share, from, to, borrowers: [], onBorrow: undefined, fetch: true });
    return (bytes) => this.repay(object, lending, bytes);
  }

  private register(object: string, lending: Lending): Lending {
    const list = this.open.get(object) ?? [];
    list.push(lending);
    this.open.set(object, list);
    return lending;
  }

  /**
   * The read's bytes came (null: it failed): each borrower gets a copy of its part; the read is lent no more.
   * `served`: its member served them (not a decode's): only such bytes are kept, so a share's kept bytes are
   * always its own member's word, as a read of it would be, and a chunk that fails blames the right member.
   */
  repay(object: string, lending: Lending, bytes: Uint8Array | null, served = true): void {
    const list = this.open.get(object);
    const at = list?.indexOf(lending) ?? -1;
    lending.onBorrow = undefined; // repaid: nothing to start, and nothing kept alive by it
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.open.delete(object);
    for (const b of lending.borrowers) b.resolve(bytes && Buffer.from(bytes.subarray(b.from - lending.from, b.to - lending.from)));
    lending.borrowers.length = 0;
    if (bytes && served && this.degraded) this.keep(object, lending.share, lending.from, lending.to, Buffer.from(bytes));
  }

  /** Loans over `object`'s reads queued or under way (for PackReader.decodePiece). */
  loansFor(object: string): ShareLoans {
    return (share, from, to) => this.loans(object, share, from, to, false);
  }

  /**
   * Kept parts of bytes [from, to) of share `share`, then the parts of lendings of them under way (only decodes'
   * GETs with `fetchesOnly`); the first borrower of a queued read starts it.
   */
  private loans(object: string, share: number, from: number, to: number, fetchesOnly: boolean): ReturnType<ShareLoans> {
    const loans = this.keptLoans(object, share, from, to);
    for (const lending of this.open.get(object) ?? []) {
      const a = Math.max(from, lending.from);
      const b = Math.min(to, lending.to);
      if (lending.share !== share || (fetchesOnly && !lending.fetch) || a >= b) continue;
      loans.push({ from: a, to: b, bytes: new Promise((resolve) => lending.borrowers.push({ from: a, to: b, resolve })) });
      const onBorrow = lending.onBorrow;
      lending.onBorrow = undefined;
      onBorrow?.();
    }
    return loans;
  }

  /** Reads queued or under way (for tests: none are left once a fetcher is done). */
  get size(): number {
    let count = 0;
    for (const list of this.open.values()) count += list.length;
    return count;
  }
}
