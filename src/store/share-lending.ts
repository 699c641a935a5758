/**
 * ShareLending: the share reads a ChunkFetcher has under way, lent to decodes of the same positions of other
 * shares (PackReader.ShareLoans). A read routed around a slow data member is decoded from the same bytes of k
 * others; in a restore or a large get the other data shares' bytes at those positions are being read anyway, for
 * their own chunks, so the decode borrows them and asks a parity member for its range alone: about 1× the
 * bytes instead of k×, on links already carrying their own shares.
 *
 * A borrower gets a copy of its part, made when the read's bytes come and before the reader hands them on (a
 * worker may be given them to open, which moves them away); a read that failed repays null, and the borrower
 * asks the member itself.
 */
import type { ShareLoans } from './pack-reader.js';

interface Borrower {
  from: number;
  to: number;
  resolve: (bytes: Uint8Array | null) => void;
}

/** One read under way: bytes [from, to) of share `share`. */
export interface Lending {
  share: number;
  from: number;
  to: number;
  borrowers: Borrower[];
}

export class ShareLending {
  /** Reads under way, by object. */
  private readonly open = new Map<string, Lending[]>();

  /** Registers a read of bytes [from, to) of share `share` of `object`; repay it when its bytes come. */
  lend(object: string, share: number, from: number, to: number): Lending {
    const lending: Lending = { share, from, to, borrowers: [] };
    const list = this.open.get(object) ?? [];
    list.push(lending);
    this.open.set(object, list);
    return lending;
  }

  /** The read's bytes came (null: it failed): each borrower gets a copy of its part; the read is lent no more. */
  repay(object: string, lending: Lending, bytes: Uint8Array | null): void {
    const list = this.open.get(object);
    const at = list?.indexOf(lending) ?? -1;
    if (at < 0) return;
    list!.splice(at, 1);
    if (list!.length === 0) this.open.delete(object);
    for (const b of lending.borrowers) b.resolve(bytes && Buffer.from(bytes.subarray(b.from - lending.from, b.to - lending.from)));
    lending.borrowers.length = 0;
  }

  /** Loans over `object`'s reads under way (for PackReader.decodePiece). */
  loansFor(object: string): ShareLoans {
    return (share, from, to) => {
      const loans: ReturnType<ShareLoans> = [];
      for (const lending of this.open.get(object) ?? []) {
        const a = Math.max(from, lending.from);
        const b = Math.min(to, lending.to);
        if (lending.share !== share || a >= b) continue;
        loans.push({ from: a, to: b, bytes: new Promise((resolve) => lending.borrowers.push({ from: a, to: b, resolve })) });
      }
      return loans;
    };
  }

  /** Reads under way (for tests: none are left once a fetcher is done). */
  get size(): number {
    let count = 0;
    for (const list of this.open.values()) count += list.length;
    return count;
  }
}
