/**
 * Progress for long commands (backup, restore, prune): a one-line bar on stderr when a person is watching,
 * nothing at all for cron. The bar appears only when the stream is a TTY and neither --quiet nor --json is
 * set; otherwise update() writes nothing and note() prints plain lines (unless quiet), never an escape code.
 *
 * Terms: `done` / `total` are byte (and optionally file / chunk) counts; the rate is the average since the
 * reporter was created (create it when the work starts, after any passphrase prompt); the ETA is
 * (total − done) / rate and is shown only when the total is known.
 *
 * Drawing is cli-progress's MultiBar (one bar): it owns the cursor handling, redraws on its own timer at
 * most 10 times a second whatever the update rate (update() only stores numbers), and its log() prints a
 * note above the bar and redraws it. Its timer is unref'd, so a stop() missed on an error path cannot keep
 * the process alive; stop() prints the final bar and a newline, and is idempotent.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** A bar is being drawn (a person is watching): worth computing totals for. */
  readonly drawing: boolean;
  update(done: { bytes: number; files?: number; chunks?: number }, total?: { bytes?: number; files?: number }): void;
  /** One line for the user (a skipped file, a degraded member); control characters are shown escaped. */
  note(line: string): void;
  stop(): void;
}

/** What the reporter needs of its stream; process.stderr and any tty.WriteStream qualify. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  quiet: boolean;
  json: boolean;
  /** Shown at the start of the bar, e.g. "backup". */
  label: string;
  /** Default process.stderr. */
  stream?: ProgressStream;
}

/** Redraws per second at most. */
const FPS = 10;
/** Bar width in columns: at most MAX_BAR, none if fewer than MIN_BAR fit. */
const MAX_BAR = 30;
const MIN_BAR = 8;

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { drawing: false, update() {}, note() {}, stop() {} };
  if (opts.json || stream.isTTY !== true) return new PlainNotes(stream);
  return new TtyBar(stream, opts.label);
}

/** Not a terminal, or --json: no bar; notes as plain lines. */
class PlainNotes implements Progress {
  readonly drawing = false;
  constructor(private readonly stream: ProgressStream) {}
  update(): void {}
  note(line: string): void {
    this.stream.write(`${printable(line)}\n`);
  }
  stop(): void {}
}

class TtyBar implements Progress {
  readonly drawing = true;
  private readonly startedAt = performance.now();
  private done = { bytes: 0, files: undefined as number | undefined, chunks: undefined as number | undefined };
  private total: { bytes?: number; files?: number } = {};
  private multi: UnrefMultiBar | undefined;
  private bar: cliProgress.SingleBar | undefined;
  private stopped = false;
  /** The bar's size and the terminal width it was chosen for. */
  private barFor: { columns: number; size: number } | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
  ) {}

  update(done: { bytes: number; files?: number; chunks?: number }, total?: { bytes?: number; files?: number }): void {
    if (this.stopped) return;
    this.done = { bytes: done.bytes, files: done.files, chunks: done.chunks };
    if (total) this.total = { ...this.total, ...total };
    if (!this.multi) {
      // Created on the first update, so a command that only prints notes never draws a bar.
      this.multi = new UnrefMultiBar({
        stream: this.stream,
        fps: FPS,
        format: (options, params) => this.render(options, params.maxWidth),
        hideCursor: false, // a killed process must not leave the user's cursor hidden…
        linewrap: true, // …or line wrapping off (cli-progress toggles it with escape codes otherwise)
        gracefulExit: false, // its SIGINT handler would swallow Ctrl-C
        forceRedraw: true, // redraw after a note even when the numbers did not change
        clearOnComplete: false,
        barsize: MAX_BAR, // pre-rendered bar strings; render() uses up to this many columns
      });
      this.bar = this.multi.create(0, 0);
    }
    this.bar!.update(done.bytes);
  }

  note(line: string): void {
    if (!this.multi || this.stopped) {
      this.stream.write(`${printable(line)}\n`);
      return;
    }
    this.multi.log(`${printable(line)}\n`);
    this.multi.update(); // print it now (and redraw the bar below it), not at the next tick
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multi?.stop();
  }

  /** One line, at most width − 1 columns: label, bar and percentage, bytes, rate, ETA, files, chunks.
   *  The bar takes what room is left (up to MAX_BAR); it is dropped below MIN_BAR, the line cut last. */
  private render(options: cliProgress.Options, width: number): string {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? this.done.bytes / seconds : 0;
    const totalBytes = this.total.bytes;
    const known = totalBytes !== undefined && totalBytes > 0;
    const fraction = known ? Math.min(1, this.done.bytes / totalBytes) : 0;
    const tail: string[] = [];
    if (known) {
      tail.push(`${Math.floor(fraction * 100)}%`.padStart(4), `${formatBytes(this.done.bytes)} / ${formatBytes(totalBytes)}`, `${formatBytes(rate)}/s`);
      const remaining = Math.max(0, totalBytes - this.done.bytes);
      tail.push(rate > 0 ? `ETA ${formatDuration(remaining / rate)}` : 'ETA --:--');
    } else {
      tail.push(formatBytes(this.done.bytes), `${formatBytes(rate)}/s`, formatDuration(seconds));
    }
    if (this.done.files !== undefined) {
      tail.push(this.total.files !== undefined ? `${this.done.files}/${this.total.files} files` : `${this.done.files} files`);
    }
    if (this.done.chunks !== undefined) tail.push(`${this.done.chunks} chunks`);
    const rest = tail.join('  ');
    let line = `${this.label} ${rest}`;
    if (known) {
      // The width is kept while it fits, so the bar does not jitter as the numbers change length.
      const room = width - 1 - line.length - 3; // "[", "]" and a space
      if (this.barFor?.columns !== width || this.barFor.size > room) this.barFor = { columns: width, size: Math.min(MAX_BAR, room) };
      const size = this.barFor.size;
      if (size >= MIN_BAR) line = `${this.label} [${cliProgress.Format.BarFormat(fraction, { ...options, barsize: size })}] ${rest}`;
    }
    return line.length < width ? line : line.slice(0, Math.max(0, width - 1));
  }
}

/** MultiBar whose redraw timer does not keep the event loop alive. `timer` is cli-progress 3's field. */
class UnrefMultiBar extends cliProgress.MultiBar {
  override update(): void {
    super.update();
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref?.();
  }

  override create(total: number, startValue: number, payload?: unknown, barOptions?: cliProgress.Options): cliProgress.SingleBar {
    const bar = super.create(total, startValue, payload, barOptions);
    (this as unknown as { timer?: NodeJS.Timeout | null }).timer?.unref?.();
    return bar;
  }
}

/** The line with control characters (ESC included) shown as \xNN, so a file name cannot drive the terminal. */
export function printable(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** IEC units, as restic prints them: 512 B, 1.50 KiB, 85.3 MiB, 120 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** m:ss, or h:mm:ss from an hour up. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
