/** What the source scan's thread posts to the walk (source-scan.ts, source-scan-worker.ts). */

/** Entries the scan may post ahead of the walk: bounds its memory (~100 bytes an entry) in a tree of any size. */
export const SCAN_AHEAD_ENTRIES = 16_384;
/** A scan that filled its window goes on once the walk has this few of its entries left to take. */
export const SCAN_RESUME_ENTRIES = SCAN_AHEAD_ENTRIES / 2;

/** Per entry, 8-byte fields: mode, uid, gid, size, mtimeNs, ctimeNs (signed); ino, dev (unsigned). */
export const STAT_FIELDS = 8;

/**
 * The shared control words (Int32Array): entries the walk has taken and the scan has posted (a directory
 * counts its names + 1), messages posted (the walk waits on it), stop (set by the walk), done (set by the scan),
 * scanWaiting (set by the scan while it waits on `taken`: the walk wakes it only then, as a wake-up costs the
 * walk's thread ~200 µs on a 2-core VM, an inter-processor interrupt).
 */
export const CONTROL = { taken: 0, messages: 1, stop: 2, done: 3, posted: 4, scanWaiting: 5 } as const;
export const CONTROL_WORDS = 6;

export interface ScanError {
  code: string | undefined;
  message: string;
}

export interface ScannedDirMessage {
  dir: string;
  /** The directory's names, sorted, excluded ones included (the walk applies the same exclusions). */
  names: string[];
  /** STAT_FIELDS × 8 bytes per name (zero where kinds is not 1 or 3). */
  stats: ArrayBuffer;
  /** Per name: 0 not statted (excluded), 1 statted, 2 lstat failed, 3 statted but its symlink target failed. */
  kinds: Uint8Array;
  /** Per name: the symlink target, else null. */
  targets: (string | null)[];
  /** Per name: why its lstat (kinds 2) or its symlink target (kinds 3) failed, else null. */
  errors: (ScanError | null)[];
  /** The directory could not be listed. */
  dirError?: ScanError;
}

export function encodeScanError(err: unknown): ScanError {
  return { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message };
}

/** The error as the walk would have caught it (fail() reads its code and message). */
export function decodeScanError(e: ScanError): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(e.message);
  if (e.code !== undefined) err.code = e.code;
  return err;
}
