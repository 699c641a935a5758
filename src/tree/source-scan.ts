/**
 * A backup's source scan: a thread that lists the directories to back up and lstats their entries ahead of
 * the walk (source-scan-worker.ts), so the walk's main thread — which also compares with the parent snapshot,
 * packs and uploads — spends no time in readdir, lstat and readlink, and the scan overlaps what runs before the
 * walk (the lock, the listings, the index). On an unchanged tree those calls were ~40% of the walk's time.
 *
 * It is only a head start: the walk takes each directory's listing from it when there (waiting briefly for the
 * scan to reach it), and otherwise lists and lstats as before. Sizes and times are the filesystem's a moment
 * earlier than the walk would have read them, as they would be for any directory read earlier in a long walk.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { CONTROL, CONTROL_WORDS, SCAN_AHEAD_ENTRIES, SCAN_RESUME_ENTRIES, STAT_FIELDS, decodeScanError, type ScannedDirMessage } from './source-scan-format.js';
import type { NodeStat } from './fs-node.js';

/** One entry as the scan found it: its lstat (and a symlink's target, or why it could not be read), or why it could not be lstatted. */
export type ScannedEntry = { st: NodeStat; target?: string | Error } | { err: Error };

/** How long the walk waits for the scan to reach a directory: the first one (the thread is starting), then each. */
const FIRST_WAIT_MS = 1000;
const WAIT_MS = 100;
/** After this many waits in vain (the walk and the scan go different ways, or the thread failed), the walk stops waiting. */
const MAX_VAIN_WAITS = 3;

export class ScannedDir {
  readonly names: string[];
  /** Why the directory could not be listed (names is then empty). */
  readonly error: Error | undefined;
  private readonly signed: BigInt64Array;
  private readonly unsigned: BigUint64Array;

  constructor(private readonly m: ScannedDirMessage) {
    this.names = m.names;
    this.error = m.dirError ? decodeScanError(m.dirError) : undefined;
    this.signed = new BigInt64Array(m.stats);
    this.unsigned = new BigUint64Array(m.stats);
  }

  /** The entry at `index` of names, or null when the scan skipped it (excluded). */
  entry(index: number): ScannedEntry | null {
    const kind = this.m.kinds[index];
    if (kind === 0 || kind === undefined) return null;
    const error = this.m.errors[index];
    if (kind === 2) return { err: decodeScanError(error!) };
    const at = index * STAT_FIELDS;
    const s = this.signed;
    const st: NodeStat = { mode: s[at]!, uid: s[at + 1]!, gid: s[at + 2]!, size: s[at + 3]!, mtimeNs: s[at + 4]!, ctimeNs: s[at + 5]!, ino: this.unsigned[at + 6]!, dev: this.unsigned[at + 7]! };
    if (kind === 3) return { st, target: decodeScanError(error!) };
    const target = this.m.targets[index];
    return target === null || target === undefined ? { st } : { st, target };
  }
}

export class SourceScan {
  private readonly ready = new Map<string, ScannedDirMessage>();
  /** Directories the walk listed itself: their listings are dropped when they arrive. */
  private readonly missed = new Set<string>();
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private vainWaits = 0;
  private received = false;
  private failed = false;

  /** A scan of `paths` (absolute, as backup resolves them), skipping what `excludes` exclude; its thread starts at start(). */
  constructor(
    private readonly paths: readonly string[],
    private readonly excludes: readonly string[],
  ) {}

  start(): void {
    if (this.worker) return;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./source-scan-worker.js', import.meta.url), {
      workerData: { paths: [...this.paths], excludes: [...this.excludes], control: this.control.buffer, port: port2 },
      transferList: [port2],
      // Its garbage is short-lived and small: a small heap keeps the thread's share of peak RSS small. Running out
      // only ends the scan (the walk lists by itself).
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
    });
    this.worker.on('error', () => {
      this.failed = true; // the walk lists by itself
    });
    this.worker.unref();
  }

  /** `dir`'s listing if the scan has it (or reaches it soon), taken once; undefined: list it yourself. */
  take(dir: string): ScannedDir | undefined {
    if (!this.worker) return undefined;
    this.drain();
    let m = this.ready.get(dir);
    while (!m) {
      const seen = Atomics.load(this.control, CONTROL.messages);
      const wait = this.mayWait();
      this.drain(); // after reading the counters: a listing posted before them is in the port by now
      m = this.ready.get(dir);
      if (m || !wait) break;
      if (Atomics.wait(this.control, CONTROL.messages, seen, this.received || this.vainWaits > 0 ? WAIT_MS : FIRST_WAIT_MS) === 'timed-out') {
        this.vainWaits += 1;
        break;
      }
    }
    if (!m) {
      this.missed.add(dir);
      return undefined;
    }
    this.ready.delete(dir);
    this.credit(m);
    return new ScannedDir(m);
  }

  /** Entries the scan has posted that the walk has not taken yet (at most about SCAN_AHEAD_ENTRIES). */
  get entriesAhead(): number {
    return Atomics.load(this.control, CONTROL.posted) - Atomics.load(this.control, CONTROL.taken);
  }

  /** Stops the scan (at the end of the walk, or when it fails). */
  async close(): Promise<void> {
    Atomics.store(this.control, CONTROL.stop, 1);
    Atomics.notify(this.control, CONTROL.taken);
    this.ready.clear();
    this.port?.close();
    await this.worker?.terminate();
  }

  /** Whether the scan may still post listings the walk is waiting for. */
  private mayWait(): boolean {
    if (this.failed || this.vainWaits >= MAX_VAIN_WAITS || Atomics.load(this.control, CONTROL.done) !== 0) return false;
    // A scan with its window full waits for the walk: waiting for it would wait forever.
    return this.entriesAhead < SCAN_AHEAD_ENTRIES;
  }

  private drain(): void {
    for (let got = receiveMessageOnPort(this.port!); got !== undefined; got = receiveMessageOnPort(this.port!)) {
      const m = got.message as ScannedDirMessage;
      this.received = true;
      if (this.missed.delete(m.dir)) this.credit(m);
      else this.ready.set(m.dir, m);
    }
  }

  private credit(m: ScannedDirMessage): void {
    Atomics.add(this.control, CONTROL.taken, m.names.length + 1);
    if (Atomics.load(this.control, CONTROL.scanWaiting) === 0) return;
    if (this.entriesAhead < SCAN_RESUME_ENTRIES) Atomics.notify(this.control, CONTROL.taken);
  }
}
