/**
 * Read planning: which ranged GETs fetch a set of byte ranges of one member's object. Pure functions.
 *
 * Ranges are merged into one request when the bytes between them are few: a request costs a round trip (hidden
 * by running several at once) and, on a cloud, a GET's fee — about what 4 KiB of egress costs — so a gap of up
 * to MERGE_GAP_BYTES is always worth fetching, and a longer one only while a request's unused bytes stay
 * within WASTE_FRACTION of its used ones. A whole restore of one snapshot has no gaps at all (its chunks lie
 * back to back, in the order the backup stored them); gaps come from chunks of other snapshots, chunks already
 * fetched for an earlier file, and partial restores. A request exceeds MAX_REQUEST_BYTES only by as much as
 * its largest range does (a range larger than that is a request of its own; a few KiB beside it ride along):
 * memory in flight stays bounded, and the chunks of the first requests are opened while the next ones arrive.
 */

/** A byte range [from, to) and what it serves. */
export interface Span {
  from: number;
  to: number;
}

export interface CoalesceLimits {
  /** Largest request (bytes), unless one range alone is larger. */
  maxRequestBytes: number;
  /** Gaps up to this many bytes are always merged. */
  mergeGapBytes: number;
  /** Longer gaps are merged while a request's unused bytes stay within this fraction of its used bytes. */
  wasteFraction: number;
}

export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MERGE_GAP_BYTES = 4 * 1024;
export const WASTE_FRACTION = 1 / 32;

export const DEFAULT_COALESCE: CoalesceLimits = { maxRequestBytes: MAX_REQUEST_BYTES, mergeGapBytes: MERGE_GAP_BYTES, wasteFraction: WASTE_FRACTION };

/** One request: bytes [from, to) and the spans it serves (in order). */
export interface Coalesced<T extends Span> {
  from: number;
  to: number;
  spans: T[];
}

/**
 * Groups spans into requests by the rules above. Spans may come in any order and may overlap (two spans of
 * the same bytes cost them once).
 */
export function coalesce<T extends Span>(spans: readonly T[], limits: CoalesceLimits = DEFAULT_COALESCE): Coalesced<T>[] {
  const sorted = [...spans].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: Coalesced<T>[] = [];
  let cur: Coalesced<T> | null = null;
  let used = 0;
  let unused = 0;
  let largest = 0;
  for (const s of sorted) {
    if (cur) {
      const gap = Math.max(0, s.from - cur.to);
      const added = Math.max(0, s.to - Math.max(s.from, cur.to));
      // A request may exceed the cap only as much as its largest range does, plus a few KiB: a small range
      // beside a large one rides along rather than costing a request of its own.
      largest = Math.max(largest, s.to - s.from);
      const fits = Math.max(cur.to, s.to) - cur.from <= Math.max(limits.maxRequestBytes, largest + limits.mergeGapBytes);
      const worth = gap <= limits.mergeGapBytes || unused + gap <= (used + added) * limits.wasteFraction;
      if (fits && worth) {
        cur.spans.push(s);
        used += added;
        unused += gap;
        cur.to = Math.max(cur.to, s.to);
        continue;
      }
    }
    cur = { from: s.from, to: s.to, spans: [s] };
    used = s.to - s.from;
    unused = 0;
    largest = s.to - s.from;
    out.push(cur);
  }
  return out;
}
