/**
 * OpenStack Swift through pkgcloud (the user's choice of SDK), for `swift://CONTAINER/PREFIX?auth=…`.
 * URL parameters and credential variables are documented in swift-config.ts: credentials come from
 * `SWIFT_USERNAME`/`SWIFT_PASSWORD` (or `OS_USERNAME`/`OS_PASSWORD`, or `ST_USER`/`ST_KEY`).
 *
 * pkgcloud 2.2.0 does auth (v1 tempauth/swauth, Keystone v2/v3 with service catalog), container
 * creation, HEAD, listing and delete. It is bypassed at three edges (put and auth measured against
 * Swift 2.30, see test/providers/swift.test.ts; get against a lying server, test/providers/body-cap.test.ts):
 * - put: pkgcloud's `upload` treats 412 as success (412 is not in its failCodes), so `If-None-Match: *`
 *   create-once would silently "succeed" on an existing object. raic PUTs with fetch, using
 *   pkgcloud's token and storage URL.
 * - get: pkgcloud's download is an old-style `request` stream, neither async-iterable nor cancelled by
 *   anything but its own abort(), and it hands a missing object's 404 page over as data. raic GETs with
 *   fetch the same way as it PUTs: the status comes before the body, and the body is read at most to the
 *   size asked for, then cancelled (bounded-read.ts).
 * - v1 auth: the token pkgcloud keeps has no expiry, so pkgcloud re-authenticates before *every*
 *   request. The expiry Swift sends (`X-Auth-Token-Expires`) is copied onto pkgcloud's token.
 * Also: a 0-byte object lists with size `null`.
 *
 * Cancellation and progress: put and get are fetch calls given the call's signal (it closes the socket);
 * a put's body is a counting stream of the buffer with its Content-Length, a get's is counted as read.
 * pkgcloud's head, list and delete expose no request to abort: on a signal they stop waiting and reject
 * `Cancelled`, and the small request finishes on its own.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { RaicError } from '../errors.js';
import { readCapped, readGetBody } from './bounded-read.js';
import { cancelledError, countingWebStream, throwIfCancelled } from './progress.js';
import { classifyHttpStatus, networkCodeOf } from './http-status.js';
import { parseSwiftUrl, pkgcloudOptions, type SwiftConfig } from './swift-config.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider } from './types.js';

/** Objects per listing request; Swift's own maximum is 10 000. */
export const SWIFT_LIST_PAGE = 1000;
/** What is read of an answer that carries no object (a put's, an error page): enough for any honest one. */
const ERROR_BODY_BYTES = 64 * 1024;

/** The slice of pkgcloud's OpenStack storage client raic uses (pkgcloud ships no types). */
interface PkgcloudFile {
  name: string;
  size: number | null;
}
type Callback<T> = (err: unknown, result?: T) => void;
interface PkgcloudStorageClient extends NodeJS.EventEmitter {
  auth(cb: Callback<void>): void;
  createContainer(opts: { name: string }, cb: Callback<unknown>): void;
  getFile(container: string, name: string, cb: Callback<PkgcloudFile>): void;
  getFiles(container: string, opts: { prefix?: string; marker?: string; limit: number }, cb: Callback<PkgcloudFile[]>): void;
  removeFile(container: string, name: string, cb: Callback<boolean>): void;
  /** Internals read at the edge described above: the token and the selected storage URL. */
  _identity?: { token?: { id?: string; expires?: Date } };
  _serviceUrl?: string | null;
}
interface Pkgcloud {
  storage: { createClient(options: Record<string, unknown>): PkgcloudStorageClient };
}

/** `env` is where credentials are read (tests pass their own). */
export async function createSwiftProvider(url: URL, env: Record<string, string | undefined> = process.env): Promise<Provider> {
  const cfg = parseSwiftUrl(url, env);
  // Loaded here, not at import, so `raic --help` does not pay for pkgcloud (226 packages).
  const pkgcloud = createRequire(import.meta.url)('pkgcloud') as Pkgcloud;
  return new SwiftProvider(cfg, pkgcloud.storage.createClient(pkgcloudOptions(cfg)));
}

class SwiftProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities = { conditionalPut: true, reportsProgress: true };
  private authorizing: Promise<void> | undefined;
  private tokenLifetimeSeconds: number | undefined;

  constructor(
    private readonly cfg: SwiftConfig,
    private readonly client: PkgcloudStorageClient,
  ) {
    this.displayUrl = cfg.displayUrl;
    // pkgcloud re-emits its identity's trace events; the v1 auth response carries the token lifetime.
    client.on('log::trace', (message: unknown, details: unknown) => {
      if (message !== 'Provider Authentication Response') return;
      const seconds = Number((details as { headers?: Record<string, string> })?.headers?.['x-auth-token-expires']);
      if (Number.isFinite(seconds) && seconds > 0) this.tokenLifetimeSeconds = seconds;
    });
  }

  async prepare(): Promise<void> {
    await this.call('prepare', undefined, (cb) => this.client.createContainer({ name: this.cfg.container }, cb));
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    const { token, storageUrl } = await this.session('put', key, opts.signal);
    let res: Response;
    try {
      res = await fetch(`${storageUrl}/${this.objectPath(key)}`, {
        method: 'PUT',
        headers: {
          'X-Auth-Token': token,
          'If-None-Match': '*',
          // Swift checks the body against this and answers 422 on a mismatch.
          ETag: createHash('md5').update(body).digest('hex'),
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(body.byteLength),
        },
        body: countingWebStream(body, opts),
        duplex: 'half',
        ...signalOption(opts),
      } as RequestInit);
      await readCapped(res.body, ERROR_BODY_BYTES, signalOption(opts));
    } catch (err) {
      throw this.translateError(err, 'put', key, opts.signal);
    }
    if (res.status === 412) throw new RaicError('Exists', `swift put ${this.where(key)}: already exists`);
    if (res.status !== 201) throw this.translateError({ statusCode: res.status }, 'put', key);
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    checkKey(key, this.displayUrl);
    if (range) checkRange(range, this.displayUrl, key);
    const { token, storageUrl } = await this.session('get', key, opts.signal);
    // identity: the body is the object's bytes, so what is counted against the cap is what arrives.
    const headers: Record<string, string> = { 'X-Auth-Token': token, 'Accept-Encoding': 'identity' };
    if (range) headers.Range = `bytes=${range.offset}-${range.offset + range.length - 1}`;
    try {
      const res = await fetch(`${storageUrl}/${this.objectPath(key)}`, { headers, ...signalOption(opts) });
      if (res.status !== 200 && res.status !== 206) {
        await readCapped(res.body, ERROR_BODY_BYTES, signalOption(opts));
        // A range that starts at or past the end: the object exists, and no bytes are there.
        if (res.status === 416 && range) return Buffer.alloc(0);
        throw this.translateError({ statusCode: res.status }, 'get', key);
      }
      const answer = { body: res.body, partial: res.status === 206, length: res.headers.get('content-length') };
      return await readGetBody(answer, this.displayUrl, key, range, opts);
    } catch (err) {
      throw this.translateError(err, 'get', key, opts.signal);
    }
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key, this.displayUrl);
    const file = await this.call(
      'head',
      key,
      (cb: Callback<PkgcloudFile>) => this.client.getFile(this.cfg.container, this.cfg.prefix + key, cb),
      opts.signal,
    );
    return { key, size: file.size ?? 0 };
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    let marker: string | undefined;
    for (;;) {
      const query = { prefix: this.cfg.prefix + prefix, limit: SWIFT_LIST_PAGE, ...(marker === undefined ? {} : { marker }) };
      const page = await this.call(
        `list ${JSON.stringify(prefix)}`,
        undefined,
        (cb: Callback<PkgcloudFile[]>) => this.client.getFiles(this.cfg.container, query, cb),
        opts.signal,
      );
      // pkgcloud turns `bytes: 0` into size null.
      for (const f of page) yield { key: f.name.slice(this.cfg.prefix.length), size: f.size ?? 0 };
      const last = page[page.length - 1];
      if (page.length < SWIFT_LIST_PAGE || last === undefined) return;
      marker = last.name;
    }
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    try {
      await this.call('delete', key, (cb: Callback<boolean>) => this.client.removeFile(this.cfg.container, this.cfg.prefix + key, cb), opts.signal);
    } catch (err) {
      if (err instanceof RaicError && err.code === 'NotFound') return;
      throw err;
    }
  }

  async close(): Promise<void> {
    // pkgcloud's `request` uses no keep-alive agent: no socket stays open.
    this.client.removeAllListeners();
  }

  /** Authenticates when needed, once for all concurrent callers, and returns what a raw request needs. */
  private async session(op: string, key: string | undefined, signal?: AbortSignal): Promise<{ token: string; storageUrl: string }> {
    throwIfCancelled(signal, () => `swift ${op} ${this.where(key)}`);
    const token = () => this.client._identity?.token;
    const current = token();
    // pkgcloud's own rule: a token within 5 minutes of expiry is renewed.
    const fresh = current?.id !== undefined && current.expires !== undefined && current.expires.getTime() - Date.now() > 5 * 60_000;
    if (!fresh || !this.client._serviceUrl) {
      this.authorizing ??= this.callback(op, key, (cb: Callback<void>) => this.client.auth(cb))
        .then(() => {
          const t = token();
          if (t && t.expires === undefined && this.tokenLifetimeSeconds !== undefined) {
            t.expires = new Date(Date.now() + this.tokenLifetimeSeconds * 1000);
          }
        })
        .finally(() => (this.authorizing = undefined));
      await this.waitFor(this.authorizing, op, key, signal);
    }
    const id = token()?.id;
    const storageUrl = this.client._serviceUrl;
    if (!id || !storageUrl) {
      throw new RaicError('Auth', `swift ${op} ${this.where(key)}: auth at ${this.cfg.authUrl} gave no token or storage URL`);
    }
    return { token: id, storageUrl: storageUrl.replace(/\/+$/, '') };
  }

  /** One pkgcloud call, after auth; a signal stops the wait, not pkgcloud's request. */
  private async call<T>(op: string, key: string | undefined, fn: (cb: Callback<T>) => void, signal?: AbortSignal): Promise<T> {
    await this.session(op, key, signal);
    return this.waitFor(this.callback(op, key, fn), op, key, signal);
  }

  /** `work`, or `Cancelled` as soon as `signal` fires (`work` then settles unobserved). */
  private waitFor<T>(work: Promise<T>, op: string, key: string | undefined, signal: AbortSignal | undefined): Promise<T> {
    if (signal === undefined) return work;
    work.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(cancelledError(`swift ${op} ${this.where(key)}`, signal));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private callback<T>(op: string, key: string | undefined, fn: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        fn((err, result) => (err ? reject(this.translateError(err, op, key)) : resolve(result as T)));
      } catch (err) {
        reject(this.translateError(err, op, key));
      }
    });
  }

  private objectPath(key: string): string {
    return [this.cfg.container, ...(this.cfg.prefix + key).split('/')].map(encodeURIComponent).join('/');
  }

  private where(key: string | undefined): string {
    return key === undefined ? this.displayUrl : `${key} on ${this.displayUrl}`;
  }

  /**
   * The one place Swift/pkgcloud failures become RaicErrors. `key` is undefined for operations on the
   * container itself, where a 404 means the container is missing: Permanent, retrying won't create it.
   */
  private translateError(err: unknown, op: string, key: string | undefined, signal?: AbortSignal): RaicError {
    const where = `swift ${op} ${this.where(key)}`;
    if (signal?.aborted) return cancelledError(where, signal);
    if (err instanceof RaicError) return err;
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    if (typeof status === 'number') {
      const code = classifyHttpStatus(status);
      if (code === 'NotFound' && key === undefined) {
        return new RaicError('Permanent', `${where}: container ${this.cfg.container} not found`, {
          cause: err,
          hint: 'run raic init to create it',
        });
      }
      if (code === 'Auth') {
        return new RaicError('Auth', `${where}: HTTP ${status}, credentials refused`, {
          cause: err,
          hint: 'check SWIFT_USERNAME / SWIFT_PASSWORD and the auth URL',
        });
      }
      return new RaicError(code, `${where}: HTTP ${status}`, { cause: err });
    }
    const net = networkCodeOf(err);
    if (net !== undefined) return new RaicError('Transient', `${where}: ${net}`, { cause: err });
    const message = err instanceof Error ? err.message : String((err as { message?: unknown } | null)?.message ?? err);
    // pkgcloud's error when a Keystone request lacks a user, password or scope.
    if (/unable to authorize/i.test(message)) return new RaicError('Auth', `${where}: ${message}`, { cause: err });
    return new RaicError('Permanent', `${where}: ${message}`, { cause: err });
  }
}

/** fetch's option for the call's signal, if any. */
function signalOption(opts: CallOptions): { signal?: AbortSignal } {
  return opts.signal === undefined ? {} : { signal: opts.signal };
}
