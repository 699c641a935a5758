/**
 * WebDAV through the `webdav` client, for `webdav://HOST/PATH` (https) and `webdav+http://HOST/PATH`.
 * Credentials: `WEBDAV_USERNAME`/`WEBDAV_PASSWORD` (webdav-config.ts).
 *
 * - Create-once is `If-None-Match: *` on PUT; a server that honours it answers 412, which the client
 *   reports as `false`, not as an error. A server that ignores the header overwrites: the capability
 *   claims what lighttpd and Apache mod_dav do, not what every server does.
 * - PUT into a missing collection answers 409: the collections are made (MKCOL, deepest first, then
 *   up on 409) and the PUT repeated, so existing directories cost nothing.
 * - list() asks for `Depth: infinity` once; servers that refuse it (403, RFC 4918 §9.1) are walked
 *   one `Depth: 1` level at a time.
 * - Whether the server stores a PUT atomically is the server's business (lighttpd and Apache write a
 *   temporary file and rename it).
 * - A call's signal goes to the client's request (its fetch closes the socket). A put's body is a counting
 *   stream of the buffer, sent with its Content-Length; a get's is counted as read.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { posix } from 'node:path';
import type { FileStat, Response, WebDAVClient } from 'webdav';
import { sameBytes } from '../bytes.js';
import { isRaicError, RaicError } from '../errors.js';
import { cancel, readGetBody, type ResponseBody } from './bounded-read.js';
import { cancelledError, countingReadable } from './progress.js';
import { classifyHttpStatus, networkCodeOf } from './http-status.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider } from './types.js';
import { parseWebdavUrl, type WebdavConfig } from './webdav-config.js';

/** `env` is where credentials are read (tests pass their own). */
export async function createWebdavProvider(url: URL, env: Record<string, string | undefined> = process.env): Promise<Provider> {
  const cfg = parseWebdavUrl(url, env);
  // Loaded here, not at import, so `raic --help` does not pay for the client.
  const { createClient } = await import('webdav');
  // Keep-alive: without it every request opens a new connection (and TLS handshake).
  const agent = cfg.origin.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const client = createClient(cfg.origin, {
    username: cfg.username,
    password: cfg.password,
    ...(agent instanceof HttpsAgent ? { httpsAgent: agent } : { httpAgent: agent }),
  });
  return new WebdavProvider(cfg, client, agent);
}

class WebdavProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities = { conditionalPut: true, reportsProgress: true };

  constructor(
    private readonly cfg: WebdavConfig,
    private readonly client: WebDAVClient,
    private readonly agent: HttpAgent,
  ) {
    this.displayUrl = cfg.displayUrl;
  }

  async prepare(): Promise<void> {
    if (this.cfg.root === '/') return;
    try {
      await this.mkcol(this.cfg.root.replace(/\/$/, ''));
    } catch (err) {
      throw this.translateError(err, 'prepare', undefined);
    }
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    const path = this.path(key);
    // The client sends no Content-Length for a stream: it is given as a header (the last word on headers).
    const once = () =>
      this.client.putFileContents(path, countingReadable(body, opts), {
        overwrite: false,
        headers: { 'Content-Length': String(body.byteLength) },
        ...signalOption(opts),
      });
    let stored: boolean;
    try {
      try {
        stored = await once();
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        if (statusOf(err) === 409) {
          await this.mkcol(posix.dirname(path), opts.signal);
          stored = await once();
        } else if (isCutShort(err)) {
          stored = await this.putAfterCut(key, body, once, opts);
        } else {
          throw err;
        }
      }
    } catch (err) {
      throw this.translateError(err, 'put', key, opts.signal);
    }
    if (!stored) throw new RaicError('Exists', `webdav put ${key} on ${this.displayUrl}: already exists`);
  }

  /**
   * A put whose connection broke while its body was still going. lighttpd answers a missing collection (409)
   * or an existing key (412) as soon as it has the headers and closes; a proxy in between may pass that on as
   * a reset that loses the answer, and every retry would meet the same. So ask what the answer was: the key
   * holds this very body (the put landed, its answer was lost): stored; another body: Exists (as 412 says);
   * no such key: make the collection (409) and put once more.
   */
  private async putAfterCut(key: string, body: Uint8Array, once: () => Promise<boolean>, opts: CallOptions): Promise<boolean> {
    const there = await this.get(key, undefined, signalOption(opts)).catch((err: unknown) => {
      if (isRaicError(err, 'NotFound')) return null;
      throw err;
    });
    if (there !== null) return sameBytes(body, there);
    await this.mkcol(posix.dirname(this.path(key)), opts.signal);
    return once();
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    checkKey(key, this.displayUrl);
    if (range) checkRange(range, this.displayUrl, key);
    const headers: Record<string, string> = range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {};
    try {
      // customRequest, not getFileContents (which buffers the whole body): the answer is node-fetch's, its
      // body a Node stream, read bounded. A status of 400 or more rejects with `status`, as every call does.
      const res = (await this.client.customRequest(this.path(key), { method: 'GET', headers, ...signalOption(opts) })) as Response & {
        body?: ResponseBody | null;
      };
      const answer = { body: res.body, partial: res.status === 206, length: res.headers.get('content-length') };
      return await readGetBody(answer, this.displayUrl, key, range, opts);
    } catch (err) {
      await cancel((err as { response?: { body?: ResponseBody } } | null)?.response?.body); // an error page is not read
      // A range that starts at or past the end of an existing object: no bytes there.
      if (range && statusOf(err) === 416 && !opts.signal?.aborted) return Buffer.alloc(0);
      throw this.translateError(err, 'get', key, opts.signal);
    }
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key, this.displayUrl);
    try {
      const st = (await this.client.stat(this.path(key), signalOption(opts))) as FileStat;
      if (st.type !== 'file') throw Object.assign(new Error('a collection, not an object'), { status: 404 });
      return { key, size: st.size };
    } catch (err) {
      throw this.translateError(err, 'head', key, opts.signal);
    }
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    const op = `list ${JSON.stringify(prefix)}`;
    // Start at the deepest collection the prefix names completely; filter names by the rest.
    const start = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    let stats: FileStat[];
    try {
      stats = await this.deepListing(this.cfg.root + start, opts.signal);
    } catch (err) {
      throw this.translateError(err, op, undefined, opts.signal);
    }
    for (const st of stats) {
      if (st.type !== 'file' || !st.filename.startsWith(this.cfg.root)) continue;
      const key = st.filename.slice(this.cfg.root.length);
      if (key.startsWith(prefix)) yield { key, size: st.size };
    }
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    try {
      await this.client.deleteFile(this.path(key), signalOption(opts));
    } catch (err) {
      if (statusOf(err) === 404 && !opts.signal?.aborted) return;
      throw this.translateError(err, 'delete', key, opts.signal);
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private path(key: string): string {
    return this.cfg.root + key;
  }

  /** Every file under `dir` (a server path ending in '/'); [] if `dir` does not exist. */
  private async deepListing(dir: string, signal: AbortSignal | undefined): Promise<FileStat[]> {
    try {
      return (await this.client.getDirectoryContents(dir, { deep: true, ...signalOption({ signal }) })) as FileStat[];
    } catch (err) {
      if (statusOf(err) === 404) return [];
      if (statusOf(err) !== 403) throw err;
    }
    // Depth: infinity refused: one level at a time.
    const files: FileStat[] = [];
    const pending = [dir];
    while (pending.length > 0) {
      const level = pending.splice(0, 8);
      const results = await Promise.all(
        level.map(async (d) => {
          try {
            return (await this.client.getDirectoryContents(d, signalOption({ signal }))) as FileStat[];
          } catch (err) {
            if (statusOf(err) === 404) return [];
            throw err;
          }
        }),
      );
      for (const st of results.flat()) {
        if (st.type === 'directory') pending.push(`${st.filename}/`);
        else files.push(st);
      }
    }
    return files;
  }

  /** MKCOL `dir`, making missing parents first; an existing collection (405) is fine. */
  private async mkcol(dir: string, signal?: AbortSignal): Promise<void> {
    if (dir === '/' || dir === '' || dir === '.') return;
    const opts = signalOption({ signal });
    try {
      await this.client.createDirectory(dir, opts);
    } catch (err) {
      const status = statusOf(err);
      if (status === 405) return; // already there (perhaps made a moment ago by a concurrent put)
      if (status !== 409) throw err;
      await this.mkcol(posix.dirname(dir), signal);
      try {
        await this.client.createDirectory(dir, opts);
      } catch (again) {
        if (statusOf(again) !== 405) throw again;
      }
    }
  }

  /**
   * The one place WebDAV failures become RaicErrors. `key` is undefined for operations on the member's
   * collection, where 404/409 mean it is missing: Permanent, since retrying won't create it.
   */
  private translateError(err: unknown, op: string, key: string | undefined, signal?: AbortSignal): RaicError {
    const where = `webdav ${op} ${key === undefined ? this.displayUrl : `${key} on ${this.displayUrl}`}`;
    if (signal?.aborted) return cancelledError(where, signal);
    if (err instanceof RaicError) return err;
    const status = statusOf(err);
    if (status !== undefined) {
      const code = classifyHttpStatus(status);
      if (key === undefined && (status === 404 || status === 409)) {
        return new RaicError('Permanent', `${where}: HTTP ${status}, collection ${this.cfg.root} not found`, { cause: err, hint: 'run raic init to create it' });
      }
      if (code === 'Auth') {
        return new RaicError('Auth', `${where}: HTTP ${status}, credentials refused`, { cause: err, hint: 'check WEBDAV_USERNAME / WEBDAV_PASSWORD' });
      }
      // 507 Insufficient Storage will not heal by retrying.
      return new RaicError(status === 507 ? 'Permanent' : code, `${where}: HTTP ${status}`, { cause: err });
    }
    const net = networkCodeOf(err);
    if (net !== undefined) return new RaicError('Transient', `${where}: ${net}`, { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    return new RaicError('Permanent', `${where}: ${message}`, { cause: err });
  }
}

/** The client's per-call option for the signal, if any. */
function signalOption(opts: CallOptions): { signal?: AbortSignal } {
  return opts.signal === undefined ? {} : { signal: opts.signal };
}

/** The connection broke under the request (an early answer may have been lost with it). */
function isCutShort(err: unknown): boolean {
  const code = networkCodeOf(err);
  return code === 'EPIPE' || code === 'ECONNRESET';
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' ? s : undefined;
}
