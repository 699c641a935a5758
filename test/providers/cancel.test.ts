/**
 * Cancellation reaches the socket (issue 11): a small HTTP server on 127.0.0.1 speaks just enough S3, Swift
 * (v1 auth), WebDAV and Azure Blob for a put and a get, and then stops — a get's answer sends its headers
 * and a first slice of body and nothing more, a put's body is not read. Each adapter's call is given a
 * signal and aborted once the server holds the request and the client has seen bytes move: the call
 * rejects `Cancelled`, and the server sees the connection close, so a cancelled attempt stops using the link.
 * (A server that is not reading cannot see a close: after the abort it reads again, finds the body cut
 * short and the connection closed.)
 *
 * Nothing here waits on a clock: the client aborts on events (the request arrived, progress was reported),
 * and a connection that never closed would leave its test to fail by its timeout.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isRaicError } from '../../src/errors.js';
import { createAzureProvider } from '../../src/providers/azure.js';
import { createS3Provider } from '../../src/providers/s3.js';
import { createSwiftProvider } from '../../src/providers/swift.js';
import type { Provider } from '../../src/providers/types.js';
import { createWebdavProvider } from '../../src/providers/webdav.js';
import { LoopbackServer } from '../support/loopback-server.js';

/** What a get's answer announces, and the part of it sent before the server goes quiet. */
const ANNOUNCED = 8 * 1024 * 1024;
const FIRST_SLICE = 64 * 1024;
/** A put body far larger than loopback socket buffers can absorb from a server that never reads. */
const PUT_BYTES = 32 * 1024 * 1024;

interface Exchange {
  method: string;
  path: string;
  /** Resolves when the connection carrying this request closed. */
  closed: Promise<void>;
  /** A put's body bytes read so far. */
  received: () => number;
  /** Starts reading a put's body (all of it, as fast as it comes). */
  resume: () => void;
}

/** The server that stops: gets halt after FIRST_SLICE; puts are never answered, their bodies read only once resumed. */
class StallingServer extends LoopbackServer {
  readonly exchanges: Exchange[] = [];
  private waiting: ((e: Exchange) => void)[] = [];

  /** The next object request to arrive (one already arrived since `count` counts). */
  next(count: number): Promise<Exchange> {
    const e = this.exchanges[count];
    if (e !== undefined) return Promise.resolve(e);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  protected override serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const closed = new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
    let received = 0;
    const exchange: Exchange = { method: req.method ?? '', path: req.url ?? '', closed, received: () => received, resume: () => req.resume() };
    this.exchanges.push(exchange);
    for (const w of this.waiting.splice(0)) w(exchange);
    res.on('error', () => undefined);
    if (req.method === 'GET') {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(ANNOUNCED),
        // Azure's SDK wants these on a download; the others ignore them.
        ETag: '"0x8DC0000000000000"',
        'Last-Modified': new Date(0).toUTCString(),
        'x-ms-blob-type': 'BlockBlob',
      });
      res.write(Buffer.alloc(FIRST_SLICE, 7));
      return; // and nothing more
    }
    req.on('data', (chunk: Buffer) => (received += chunk.length));
    req.on('error', () => undefined);
    req.pause(); // a put's body is not read: the client's socket fills and its upload stalls
  }
}

const server = new StallingServer();
await server.start();
after(() => server.close());

const protocols: { name: string; open: () => Promise<Provider> }[] = [
  {
    name: 's3',
    open: () => createS3Provider(new URL(`s3://bucket?endpoint=${server.origin}&region=us-east-1`), { credentials: { accessKeyId: 'id', secretAccessKey: 'secret' } }),
  },
  {
    name: 'swift',
    open: () => createSwiftProvider(new URL(`swift://container?auth=${server.origin}/auth/v1.0`), { SWIFT_USERNAME: 'test:tester', SWIFT_PASSWORD: 'key' }),
  },
  {
    name: 'webdav',
    open: () => createWebdavProvider(new URL(`webdav+http://${new URL(server.origin).host}/dav`), { WEBDAV_USERNAME: 'user', WEBDAV_PASSWORD: 'pass' }),
  },
  {
    name: 'azure',
    open: () =>
      createAzureProvider(new URL(`azure://account1/container?endpoint=${server.origin}/account1`), { AZURE_STORAGE_KEY: Buffer.alloc(64, 7).toString('base64') }),
  },
];

const KEY = 'packs/ab/ab12';

for (const protocol of protocols) {
  describe(`${protocol.name}: an aborted call closes its connection`, { timeout: 60_000 }, () => {
    let p: Provider;
    before(async () => {
      p = await protocol.open();
    });
    after(() => p.close());

    it('reports progress', () => {
      assert.equal(p.capabilities.reportsProgress, true);
    });

    it('a get whose answer stalls: Cancelled on abort, and the server sees the connection close', async () => {
      const ac = new AbortController();
      let received = 0;
      let moved!: () => void;
      const firstBytes = new Promise<void>((resolve) => (moved = resolve));
      const count = server.exchanges.length;
      const call = p.get(KEY, undefined, {
        signal: ac.signal,
        onProgress: (n) => {
          received += n;
          moved();
        },
      });
      call.catch(() => undefined);
      const seen = await server.next(count);
      assert.equal(seen.method, 'GET');
      await firstBytes;
      ac.abort();
      await assert.rejects(call, (e: unknown) => isRaicError(e, 'Cancelled') && e.message.includes(KEY));
      await seen.closed;
      assert.ok(received > 0 && received <= FIRST_SLICE, `progress counted the bytes that came (${received})`);
    });

    it('a put the server does not read: progress stops short, Cancelled on abort, and the connection closes', async () => {
      const ac = new AbortController();
      let sent = 0;
      const count = server.exchanges.length;
      const call = p.put(KEY, Buffer.alloc(PUT_BYTES, 1), { signal: ac.signal, onProgress: (n) => (sent += n) });
      call.catch(() => undefined);
      const seen = await server.next(count);
      assert.equal(seen.method, 'PUT');
      ac.abort();
      const sentBeforeAbort = sent;
      await assert.rejects(call, (e: unknown) => isRaicError(e, 'Cancelled') && e.message.includes(KEY));
      seen.resume();
      await seen.closed;
      assert.ok(sentBeforeAbort < PUT_BYTES, `progress counted only what the connection took (${sentBeforeAbort} of ${PUT_BYTES})`);
      assert.equal(sent, sentBeforeAbort, 'no more of the body was handed over after the abort');
      assert.ok(seen.received() < PUT_BYTES, `the body was cut short (${seen.received()} of ${PUT_BYTES} bytes arrived)`);
    });

    it('a call given an aborted signal does not start', async () => {
      const ac = new AbortController();
      ac.abort();
      const count = server.exchanges.length;
      await assert.rejects(p.head(KEY, { signal: ac.signal }), (e: unknown) => isRaicError(e, 'Cancelled'));
      await assert.rejects(p.put(KEY, Buffer.from('x'), { signal: ac.signal }), (e: unknown) => isRaicError(e, 'Cancelled'));
      assert.equal(server.exchanges.length, count, 'no request reached the server');
    });
  });
}
