/**
 * An HTTP server on 127.0.0.1 (a free port) standing in for a member that misbehaves, for adapter tests
 * that need no real server. It answers Swift's v1 auth (`/auth/v1.0`) itself, pointing the storage URL back
 * at itself; every other request goes to the subclass's `serve`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export abstract class LoopbackServer {
  private readonly server: http.Server;

  constructor() {
    this.server = http.createServer((req, res) => {
      if (req.url !== '/auth/v1.0') return this.serve(req, res);
      res.writeHead(200, { 'X-Storage-Url': `${this.origin}/v1/AUTH_test`, 'X-Auth-Token': 'token', 'X-Auth-Token-Expires': '3600', 'Content-Length': '0' });
      res.end();
    });
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Answers every request but Swift's auth. */
  protected abstract serve(req: http.IncomingMessage, res: http.ServerResponse): void;
}
