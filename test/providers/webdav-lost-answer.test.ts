/**
 * A WebDAV put whose answer is lost with its connection. lighttpd answers a PUT into a missing collection
 * (409) or onto an existing key (412, If-None-Match: *) as soon as it has the headers, and closes while the
 * body is still coming; a TCP proxy in between (the mixed-array tests' relays) may turn that into a reset
 * before the answer is read. Seen as EPIPE on every retry, it failed whole backups ("0 of 6"-style misses
 * of the webdav member under load). The server here loses the answer every time, deterministically: it
 * resets the connection without a word wherever lighttpd would answer early, and once where it stored the
 * body (the put landed, its answer did not). The adapter must find out what the answer was.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import { after, describe, it } from 'node:test';
import { isRaicError } from '../../src/errors.js';
import { createWebdavProvider } from '../../src/providers/webdav.js';
import { LoopbackServer } from '../support/loopback-server.js';

/** Far more than loopback socket buffers take from a server that does not read it. */
const BODY_BYTES = 8 * 1024 * 1024;

class AnswerLosingServer extends LoopbackServer {
  readonly collections = new Set(['/dav']);
  readonly objects = new Map<string, Buffer>();
  /** Paths whose next successful PUT is stored and then reset instead of answered. */
  readonly loseAnswerOnce = new Set<string>();
  resets = 0;

  private reset(req: http.IncomingMessage): void {
    this.resets++;
    req.socket.resetAndDestroy();
  }

  protected override serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/\/$/, '');
    const parent = path.slice(0, path.lastIndexOf('/'));
    const answer = (status: number, body?: Buffer) => {
      res.writeHead(status, { 'Content-Length': String(body?.length ?? 0) });
      res.end(body);
    };
    switch (req.method) {
      case 'MKCOL':
        req.resume();
        if (this.collections.has(path)) return answer(405);
        if (!this.collections.has(parent)) return answer(409);
        this.collections.add(path);
        return answer(201);
      case 'GET': {
        const body = this.objects.get(path);
        return body === undefined ? answer(404) : answer(200, body);
      }
      case 'PUT': {
        // Where lighttpd answers before reading the body, this server resets instead.
        if (!this.collections.has(parent) || this.objects.has(path)) return this.reset(req);
        const parts: Buffer[] = [];
        req.on('data', (c: Buffer) => parts.push(c));
        req.on('end', () => {
          this.objects.set(path, Buffer.concat(parts));
          if (this.loseAnswerOnce.delete(path)) return this.reset(req);
          answer(201);
        });
        return;
      }
      default:
        req.resume();
        return answer(405);
    }
  }
}

const server = new AnswerLosingServer();
await server.start();
after(() => server.close());
const open = () => createWebdavProvider(new URL(`webdav+http://${new URL(server.origin).host}/dav`), { WEBDAV_USERNAME: 'u', WEBDAV_PASSWORD: 'p' });

describe('webdav: a put whose answer is lost with its connection', () => {
  it('into a missing collection: the collection is made and the put stored', async () => {
    const p = await open();
    const body = randomBytes(BODY_BYTES);
    const before = server.resets;
    await p.put('packs/9a/9a72', body);
    assert.ok(server.resets > before, 'the server did cut the first put short');
    assert.ok(server.objects.get('/dav/packs/9a/9a72')?.equals(body), 'stored whole');
    assert.ok(server.collections.has('/dav/packs/9a'));
    await p.close();
  });

  it('onto a key holding another body: Exists, and the stored object is untouched', async () => {
    const p = await open();
    const first = randomBytes(BODY_BYTES);
    await p.put('packs/9a/b0', first);
    const before = server.resets;
    await assert.rejects(p.put('packs/9a/b0', randomBytes(BODY_BYTES)), (e: unknown) => isRaicError(e, 'Exists'));
    assert.ok(server.resets > before, 'the server did cut the second put short');
    assert.ok(server.objects.get('/dav/packs/9a/b0')?.equals(first));
    await p.close();
  });

  it('that landed: stored, no error', async () => {
    const p = await open();
    const body = randomBytes(BODY_BYTES);
    await p.put('packs/9a/c0', Buffer.from('make the collection'));
    server.loseAnswerOnce.add('/dav/packs/9a/c1');
    const before = server.resets;
    await p.put('packs/9a/c1', body);
    assert.equal(server.resets, before + 1, 'the answer was lost once');
    assert.ok(server.objects.get('/dav/packs/9a/c1')?.equals(body));
    await p.close();
  });
});
