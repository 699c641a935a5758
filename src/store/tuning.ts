/**
 * Every knob of the data path, with its default and the memory it implies. Peak memory of a put is roughly
 * chunkBytes × (window + 2) × 2  +  putPackBudgetBytes, of a get the same with packBudgetBytes (+ Node's ~60 MB
 * and the workers').
 */
import { availableParallelism } from 'node:os';

export interface Tuning {
  /** Fixed chunk size for `raic put` (bytes). 4 MiB: large enough that per-chunk overhead vanishes. */
  chunkBytes: number;
  /** Crypto/erasure worker threads. Default: one per core. */
  workers: number;
  /** Chunks in flight between reader, workers and packer/writer. Default: 2 × workers + 2. */
  window: number;
  /** Bytes of packs buffered in memory by one pack writer: the body filling, a spare body, and the n member
   * objects of the pack uploading (see packBodyBytes). */
  packBudgetBytes: number;
  /**
   * The same for the file content of a put (its one stream of chunkBytes chunks, two packs in flight: PackWriter).
   * Each member object costs a file or request, an fsync and a worker task: a 1 GiB put into local members in
   * 9.1 MiB bodies (134 objects per member) took 6.3–7.1 s, in 13.7 MiB bodies 5.6–6.4 s (before whole-pack
   * coding: 5.5–7.1 s), at 250 MB peak RSS. 18.3 MiB bodies were faster still, but made a 32 MiB get over 50 ms
   * links 20% slower (3.47 against 2.92 s; not explained: a get window of 10 chunks instead of 6 did not help).
   * Default: 1.5 × packBudgetBytes.
   */
  putPackBudgetBytes: number;
  /** Entries per manifest page (each ~100 + 32n bytes); bounds manifest memory at any file size. */
  manifestPageEntries: number;
  /** Refs per index segment before it is written out. */
  indexSegmentEntries: number;
}

export function defaultTuning(overrides: Partial<Tuning> = {}): Tuning {
  const workers = overrides.workers ?? Math.max(1, Math.min(availableParallelism(), 8));
  const packBudgetBytes = overrides.packBudgetBytes ?? 32 * 1024 * 1024;
  return {
    chunkBytes: 4 * 1024 * 1024,
    workers,
    window: 2 * workers + 2,
    packBudgetBytes,
    putPackBudgetBytes: Math.floor((packBudgetBytes * 3) / 2),
    manifestPageEntries: 4096,
    indexSegmentEntries: 16384,
    ...overrides,
  };
}

/**
 * A pack's body size target: k shares of clamp(budget / (2k + n), 2 MiB, 32 MiB) each, so that two bodies
 * (k shares each) and one pack's n member objects fit the budget. The 32 MiB budget (9.1 MiB bodies at 4+2,
 * near restic's 16 MiB packs) took 36 MB off a tree backup's peak RSS against 64 MiB, at no cost in time.
 */
export function packBodyBytes(tuning: Pick<Tuning, 'packBudgetBytes'>, k: number, n: number): number {
  const mib = 1024 * 1024;
  return k * Math.min(32 * mib, Math.max(2 * mib, Math.floor(tuning.packBudgetBytes / (2 * k + n))));
}

/**
 * Chunks up to this size (tree blobs, manifest pages, small files) are encoded and decoded on the calling
 * thread: a worker round trip (post, wake, clone, answer) costs more main-thread time than their crypto
 * and erasure work (~30 µs for 16 KiB).
 */
export const INLINE_CODEC_BYTES = 64 * 1024;
