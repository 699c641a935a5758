/**
 * Members that lie about lengths (issue 9: nothing from a member is trusted alone). A small HTTP server on
 * 127.0.0.1 speaks just enough S3, Swift (v1 auth), WebDAV and Azure Blob for a get, and answers it
 * badly: it ignores Range, announces a Content-Length of a terabyte, or sends a body that never ends.
 * Whatever it does, a ranged get returns at most the bytes asked for (the right ones), a whole get over
 * MAX_OBJECT_BYTES rejects `Integrity` naming the member and key, and the client closes the connection,
 * so the server stops sending.
 *
 * Nothing here waits on a clock: a get that kept reading an endless body would never settle, and its test
 * would fail by its timeout. The bound on what the server could send before the connection closed is
 * MAX_OBJECT_BYTES for reads that must stop early (far above the kernel's socket buffers, which are all a
 * cancelled read lets through), and twice that for a whole get that reads up to the cap.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isRaicError } from '../../src/errors.js';
import { createAzureProvider } from '../../src/providers/azure.js';
import { createS3Provider } from '../../src/providers/s3.js';
import { createSwiftProvider } from '../../src/providers/swift.js';
import { MAX_OBJECT_BYTES, type Provider } from '../../src/providers/types.js';
import { createWebdavProvider } from '../../src/providers/webdav.js';
import { LoopbackServer } from '../support/loopback-server.js';

/** Byte i of every object this server serves is i mod 251, so any range of a body can be checked. */
const CYCLES = Buffer.from(Array.from({ length: 2 * 251 }, (_, i) => i % 251));
const pattern = (offset: number, length: number): Buffer => Buffer.alloc(length, CYCLES.subarray(offset % 251, (offset % 251) + 251));
/** What an endless body repeats: a whole number of periods, so the pattern runs on across writes. */
const PERIODS = pattern(0, 251 * 256);
const TERABYTE = 2 ** 40;

interface Answer {
  status: 200 | 206;
  /** The body: that many bytes of the pattern, or an endless stream of it. */
  bytes: number | 'endless';
  /** The Content-Length sent: the body's own length by default; 'none' sends it chunked. */
  contentLength?: number | 'none';
}

interface Exchange {
  path: string;
  range: string | undefined;
  /** Resolves once the answer ended or its connection closed: bytes of body written, and whether all were. */
  settled: Promise<{ sent: number; complete: boolean }>;
}

/** The lying server: answers every object GET with `answer`; `/auth/v1.0` is Swift's v1 auth. */
class LyingServer extends LoopbackServer {
  answer: Answer = { status: 200, bytes: 0 };
  readonly exchanges: Exchange[] = [];

  /** The last object request, after checking there was exactly one since `before`. */
  lastExchange(before: number): Exchange {
    assert.equal(this.exchanges.length, before + 1, 'one object request');
    return this.exchanges[before]!;
  }

  protected override serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { status, bytes, contentLength } = this.answer;
    const length = contentLength ?? (bytes === 'endless' ? 'none' : bytes);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': 'application/octet-stream',
      // Azure's SDK wants these on a download; the others ignore them.
      ETag: '"0x8DC0000000000000"',
      'Last-Modified': new Date(0).toUTCString(),
      'x-ms-blob-type': 'BlockBlob',
      ...(length === 'none' ? {} : { 'Content-Length': String(length) }),
    };
    let sent = 0;
    const settled = new Promise<{ sent: number; complete: boolean }>((resolve) => res.on('close', () => resolve({ sent, complete: res.writableFinished })));
    this.exchanges.push({ path: req.url ?? '', range: req.headers['range'] ?? req.headers['x-ms-range']?.toString(), settled });
    res.writeHead(status, headers);
    if (bytes !== 'endless') {
      sent = bytes;
      res.end(pattern(0, bytes));
      return;
    }
    // Writes until the client closes the connection, at the pace it reads (each write waits for 'drain').
    const pump = (): void => {
      while (!res.destroyed) {
        sent += PERIODS.length;
        if (!res.write(PERIODS)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    res.on('error', () => undefined); // the client going away mid-write is the point
    pump();
  }
}

const server = new LyingServer();
await server.start();
after(() => server.close());

interface Protocol {
  name: string;
  open: () => Promise<Provider>;
  /** Whether its SDK takes a body without Content-Length (Azure's refuses one). */
  chunked: boolean;
}

const protocols: Protocol[] = [
  {
    name: 's3',
    open: () => createS3Provider(new URL(`s3://bucket?endpoint=${server.origin}&region=us-east-1`), { credentials: { accessKeyId: 'id', secretAccessKey: 'secret' } }),
    chunked: true,
  },
  {
    name: 'swift',
    open: () => createSwiftProvider(new URL(`swift://container?auth=${server.origin}/auth/v1.0`), { SWIFT_USERNAME: 'test:tester', SWIFT_PASSWORD: 'key' }),
    chunked: true,
  },
  {
    name: 'webdav',
    open: () => createWebdavProvider(new URL(`webdav+http://${new URL(server.origin).host}/dav`), { WEBDAV_USERNAME: 'user', WEBDAV_PASSWORD: 'pass' }),
    chunked: true,
  },
  {
    name: 'azure',
    open: () =>
      createAzureProvider(new URL(`azure://account1/container?endpoint=${server.origin}/account1`), { AZURE_STORAGE_KEY: Buffer.alloc(64, 7).toString('base64') }),
    chunked: false,
  },
];

const KEY = 'packs/ab/ab12';

for (const protocol of protocols) {
  describe(`${protocol.name} against a server that lies about lengths`, { timeout: 120_000 }, () => {
    let p: Provider;
    before(async () => {
      p = await protocol.open();
    });
    after(() => p.close());

    /** Runs `get` against `answer`; returns its outcome and what the server saw. */
    const exchange = async <T>(answer: Answer, get: () => Promise<T>) => {
      server.answer = answer;
      const before = server.exchanges.length;
      const outcome = await get().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      const seen = server.lastExchange(before);
      return { outcome, seen, served: await seen.settled };
    };

    it('a ranged get of a server that ignores Range (200, the whole object) returns the range', async () => {
      const { outcome, seen, served } = await exchange({ status: 200, bytes: 1024 * 1024 }, () => p.get(KEY, { offset: 300_000, length: 4096 }));
      assert.ok('value' in outcome, `resolved: ${String('error' in outcome ? outcome.error : '')}`);
      assert.ok(outcome.value.equals(pattern(300_000, 4096)), `the range's bytes (got ${outcome.value.length})`);
      assert.match(seen.range ?? '', /^bytes=300000-304095$/, 'the range was asked for');
      assert.ok(served.sent <= 1024 * 1024);
    });

    it('a ranged get stops an endless 206 body after the length asked for, and closes the connection', async () => {
      const lie: Answer = { status: 206, bytes: 'endless', contentLength: protocol.chunked ? 'none' : TERABYTE };
      const { outcome, served } = await exchange(lie, () => p.get(KEY, { offset: 0, length: 4096 }));
      assert.ok('value' in outcome, `resolved: ${String('error' in outcome ? outcome.error : '')}`);
      assert.ok(outcome.value.equals(pattern(0, 4096)), `4096 bytes, the first ones (got ${outcome.value.length})`);
      assert.equal(served.complete, false, 'the connection closed under the endless body');
      assert.ok(served.sent < MAX_OBJECT_BYTES, `the server could send only ${served.sent} bytes before the client hung up`);
    });

    it('a ranged get stops an endless 200 body (Range ignored) at offset + length, and returns the range', async () => {
      const lie: Answer = { status: 200, bytes: 'endless', contentLength: protocol.chunked ? 'none' : TERABYTE };
      const { outcome, served } = await exchange(lie, () => p.get(KEY, { offset: 1_000_000, length: 4096 }));
      assert.ok('value' in outcome, `resolved: ${String('error' in outcome ? outcome.error : '')}`);
      assert.ok(outcome.value.equals(pattern(1_000_000, 4096)), `the range's bytes (got ${outcome.value.length})`);
      assert.equal(served.complete, false, 'the connection closed under the endless body');
      assert.ok(served.sent < MAX_OBJECT_BYTES, `the server could send only ${served.sent} bytes`);
    });

    it('a whole get refuses a Content-Length over the cap without reading the body', async () => {
      const { outcome, served } = await exchange({ status: 200, bytes: 'endless', contentLength: TERABYTE }, () => p.get(KEY));
      assert.ok('error' in outcome, 'rejected');
      const err = outcome.error;
      assert.ok(isRaicError(err, 'Integrity'), `Integrity, got ${String(err)}`);
      assert.ok(err.message.includes(p.displayUrl) && err.message.includes(KEY), `names the member and key: ${err.message}`);
      assert.match(err.message, new RegExp(`${TERABYTE} bytes`), 'says what the member announced');
      assert.equal(served.complete, false, 'the connection closed');
      assert.ok(served.sent < MAX_OBJECT_BYTES, `refused before reading up to the cap: the server sent ${served.sent} bytes`);
    });

    if (protocol.chunked) {
      it('a whole get of an endless body without a length rejects once past the cap, and closes the connection', async () => {
        const { outcome, served } = await exchange({ status: 200, bytes: 'endless' }, () => p.get(KEY));
        assert.ok('error' in outcome, 'rejected');
        const err = outcome.error;
        assert.ok(isRaicError(err, 'Integrity'), `Integrity, got ${String(err)}`);
        assert.ok(err.message.includes(p.displayUrl) && err.message.includes(KEY), `names the member and key: ${err.message}`);
        assert.equal(served.complete, false, 'the connection closed');
        assert.ok(served.sent > MAX_OBJECT_BYTES, 'it read up to the cap');
        assert.ok(served.sent < 2 * MAX_OBJECT_BYTES, `and no further: the server sent ${served.sent} bytes`);
      });
    }

    it('a whole get of an honest object at exactly the cap still works', async () => {
      const { outcome, served } = await exchange({ status: 200, bytes: MAX_OBJECT_BYTES }, () => p.get(KEY));
      assert.ok('value' in outcome, `resolved: ${String('error' in outcome ? outcome.error : '')}`);
      assert.equal(outcome.value.length, MAX_OBJECT_BYTES);
      assert.ok(outcome.value.subarray(MAX_OBJECT_BYTES - 1000).equals(pattern(MAX_OBJECT_BYTES - 1000, 1000)), 'its last bytes');
      assert.equal(served.complete, true);
    });
  });
}
