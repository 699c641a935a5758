import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createProgress, formatBytes, formatDuration, printable, type ProgressStream } from '../../../src/cli/progress.js';

const ESC = '\x1b';
const MiB = 1024 * 1024;

/** A writable that records every chunk; isTTY and columns as a terminal (or a pipe) would report them. */
class RecordingStream extends Writable {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}
const asStream = (s: Writable): ProgressStream => s as unknown as ProgressStream;

/** The visible text of a terminal write sequence: escape sequences removed. */
function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');
}

async function drive(stream: ProgressStream, opts: { quiet?: boolean; json?: boolean } = {}): Promise<void> {
  const p = createProgress({ quiet: opts.quiet ?? false, json: opts.json ?? false, label: 'backup', stream });
  for (let i = 0; i <= 10; i++) {
    p.update({ bytes: i * MiB, files: i, chunks: 2 * i }, { bytes: 10 * MiB, files: 10 });
    await sleep(30);
  }
  p.note('skipped /home/u/\x1b[31mevil\x1b[0m name');
  p.note('plain note');
  p.stop();
  p.stop();
}

describe('progress: not a terminal (cron, pipes)', () => {
  it('a PassThrough gets the notes as plain lines and no escape code at all', async () => {
    const s = new PassThrough();
    const got: string[] = [];
    s.on('data', (c: Buffer) => got.push(c.toString()));
    await drive(asStream(s));
    await sleep(10);
    const text = got.join('');
    assert.ok(!text.includes(ESC), JSON.stringify(text));
    assert.equal(text, 'skipped /home/u/\\x1b[31mevil\\x1b[0m name\nplain note\n');
  });

  it('a stream with isTTY=false writes nothing but notes, before, during and after the work', async () => {
    const s = new RecordingStream(false);
    const p = createProgress({ quiet: false, json: false, label: 'restore', stream: asStream(s) });
    p.note('before \x1b]0;title\x07');
    p.update({ bytes: 5 }, { bytes: 10 });
    await sleep(250);
    p.stop();
    p.note('after');
    assert.ok(!s.text.includes(ESC));
    assert.equal(s.text, 'before \\x1b]0;title\\x07\nafter\n');
  });

  it('--json on a terminal draws no bar; notes stay plain', async () => {
    const s = new RecordingStream(true);
    await drive(asStream(s), { json: true });
    assert.ok(!s.text.includes(ESC), JSON.stringify(s.text));
    assert.equal(s.text, 'skipped /home/u/\\x1b[31mevil\\x1b[0m name\nplain note\n');
  });
});

describe('progress: quiet', () => {
  for (const tty of [true, false]) {
    it(`writes nothing at all (isTTY=${tty})`, async () => {
      const s = new RecordingStream(tty);
      await drive(asStream(s), { quiet: true });
      await sleep(150);
      assert.deepEqual(s.chunks, []);
    });
  }
});

describe('progress: terminal', () => {
  it('draws a bar with percentage, bytes, a byte rate, ETA and files', async () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'backup', stream: asStream(s) });
    p.update({ bytes: 0 }, { bytes: 10 * MiB, files: 4 });
    await sleep(50);
    p.update({ bytes: 5 * MiB, files: 2 });
    await sleep(250);
    const shown = visible(s.text);
    assert.ok(s.text.includes(ESC), 'cursor control is used on a terminal');
    assert.match(shown, /backup \[=+-+\] +50%  5\.00 MiB \/ 10\.0 MiB  \d+(\.\d+)? (B|KiB|MiB|GiB)\/s  ETA \d+:\d\d  2\/4 files/);
    p.stop();
    assert.ok(s.text.endsWith('\n'), 'stop leaves the cursor on a fresh line');
  });

  it('without a total: bytes, rate and elapsed time, no bar', async () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'prune', stream: asStream(s) });
    p.update({ bytes: 3 * MiB, chunks: 7 });
    await sleep(250);
    p.stop();
    const shown = visible(s.text);
    assert.match(shown, /prune 3\.00 MiB  \d+(\.\d+)? (B|KiB|MiB|GiB)\/s  0:0\d  7 chunks/);
    assert.ok(!shown.includes('['));
  });

  it('never writes a line wider than the terminal', async () => {
    const s = new RecordingStream(true, 40);
    const p = createProgress({ quiet: false, json: false, label: 'a-rather-long-label', stream: asStream(s) });
    p.update({ bytes: 123 * MiB, files: 123456 }, { bytes: 1024 * MiB, files: 999999 });
    await sleep(250);
    p.stop();
    const lines = s.chunks.map(visible).filter((c) => c.startsWith('a-rather'));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(l.length < 40, `${l.length}: ${l}`);
  });

  it('redraws at most 10 times a second however often update() is called', async () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'backup', stream: asStream(s) });
    let updates = 0;
    const started = Date.now();
    while (Date.now() - started < 1000) {
      p.update({ bytes: updates * 1000 }, { bytes: 1e9 });
      updates += 1;
      if (updates % 50 === 0) await sleep(1);
    }
    const elapsed = (Date.now() - started) / 1000;
    p.stop();
    const draws = s.chunks.filter((c) => visible(c).startsWith('backup [')).length;
    assert.ok(updates > 1000, `${updates} updates`);
    assert.ok(draws >= 3, `${draws} draws`);
    assert.ok(draws <= Math.ceil(elapsed * 10) + 1, `${draws} draws in ${elapsed} s`);
  });

  it('a note appears above the bar, escaped, and the bar is drawn again below it', async () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'backup', stream: asStream(s) });
    p.update({ bytes: MiB }, { bytes: 4 * MiB });
    await sleep(150);
    const before = s.chunks.length;
    p.note('cannot read /etc/\x1b[2Jshadow');
    const after = s.chunks.slice(before).join('');
    assert.ok(after.includes('cannot read /etc/\\x1b[2Jshadow\n'), JSON.stringify(after));
    assert.ok(!after.includes('\x1b[2J'), 'the note cannot clear the screen');
    const noteAt = after.indexOf('cannot read');
    assert.ok(visible(after.slice(noteAt)).includes('backup ['), 'bar redrawn after the note');
    p.stop();
  });

  it('a note before the first update is a plain line', () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'backup', stream: asStream(s) });
    p.note('opening array');
    p.stop();
    assert.equal(s.text, 'opening array\n');
  });

  it('stop() is idempotent; update() after stop() draws nothing', async () => {
    const s = new RecordingStream(true, 80);
    const p = createProgress({ quiet: false, json: false, label: 'backup', stream: asStream(s) });
    p.update({ bytes: MiB }, { bytes: 2 * MiB });
    await sleep(150);
    p.stop();
    const afterFirst = s.text;
    assert.match(visible(afterFirst), /backup \[.*\] +50%/);
    p.stop();
    p.update({ bytes: 2 * MiB });
    await sleep(250);
    p.stop();
    assert.equal(s.text, afterFirst);
  });

  it('a reporter never stopped does not keep the process alive', async () => {
    const moduleUrl = new URL('../../../src/cli/progress.js', import.meta.url).href;
    const script = `
      import { PassThrough } from 'node:stream';
      const { createProgress } = await import(${JSON.stringify(moduleUrl)});
      const s = new PassThrough(); s.isTTY = true; s.columns = 80; s.resume();
      const p = createProgress({ quiet: false, json: false, label: 'x', stream: s });
      p.update({ bytes: 1 }, { bytes: 2 });
      console.log('started');`;
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      );
    });
    assert.equal(out.trim(), 'started');
    assert.ok(Date.now() - started < 5000);
  });
});

describe('progress: formatting', () => {
  it('formatBytes uses IEC units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(85.3 * MiB), '85.3 MiB');
    assert.equal(formatBytes(120 * 1024 * MiB), '120 GiB');
  });
  it('formatDuration: m:ss, h:mm:ss', () => {
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(75), '1:15');
    assert.equal(formatDuration(3 * 3600 + 62), '3:01:02');
  });
  it('printable escapes control characters but keeps text, tabs and non-ASCII', () => {
    assert.equal(printable('a\tb é \x1b[1m \r \x7f \x9b'), 'a\tb é \\x1b[1m \\x0d \\x7f \\x9b');
  });
});
