/**
 * S3 puts of pack-sized objects go out on the client's kept-alive connections, without `Expect: 100-continue`.
 * With that header the SDK opens a new connection for each such put (no keep-alive) and waits a round trip
 * for the server's 100 before sending the body: three round trips before the first byte on a link 50 ms away
 * (four with TLS), for every pack object. A recording server on 127.0.0.1 sees what the client sends.
 */
import assert from 'node:assert/strict';
import type * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createS3Provider } from '../../src/providers/s3.js';
import { LoopbackServer } from '../support/loopback-server.js';

interface Seen {
  method: string;
  expect: string | undefined;
  /** The client's end of the connection the request came on. */
  clientPort: number | undefined;
  bytes: number;
}

class RecordingServer extends LoopbackServer {
  readonly seen: Seen[] = [];

  protected override serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      this.seen.push({ method: req.method ?? '', expect: req.headers.expect, clientPort: req.socket.remotePort, bytes });
      res.writeHead(200, { ETag: '"0"', 'Content-Length': '0' });
      res.end();
    });
  }
}

describe('S3 puts of large objects', () => {
  const server = new RecordingServer();
  before(() => server.start());
  after(() => server.close());

  it('send no Expect: 100-continue and share one kept-alive connection', async () => {
    const provider = await createS3Provider(new URL(`s3://bucket?endpoint=${server.origin}&region=us-east-1`), { credentials: { accessKeyId: 'id', secretAccessKey: 'secret' } });
    try {
      // Above the SDK's 2 MB default threshold for the header.
      const body = Buffer.alloc(3 * 1024 * 1024, 7);
      for (const key of ['packs/aa/one', 'packs/bb/two', 'packs/cc/three']) await provider.put(key, body);
    } finally {
      await provider.close();
    }
    const puts = server.seen.filter((s) => s.method === 'PUT');
    assert.equal(puts.length, 3);
    for (const put of puts) {
      assert.equal(put.expect, undefined, 'no Expect header');
      assert.equal(put.bytes, 3 * 1024 * 1024, 'the whole body arrived');
    }
    assert.equal(new Set(puts.map((p) => p.clientPort)).size, 1, 'one connection for the three puts, one after the other');
  });
});
