/**
 * SFTP through ssh2-sftp-client (connection, its events, shutdown) and the ssh2 SFTP channel it opens
 * (every file operation; reads and writes pipelined by sftp-transfer.ts), for `sftp://USER@HOST:PORT/PATH`.
 * The channel is used directly because ssh2-sftp-client's per-call wrappers add event listeners per
 * call (dozens of concurrent puts trip MaxListenersExceededWarning), rewrap errors without ssh2's status
 * codes, and move data one request at a time. URL forms,
 * credentials (`SFTP_KEY_FILE`, ssh agent, `SFTP_PASSWORD`) and host-key pinning (`?fingerprint=` or
 * known_hosts) are documented in sftp-config.ts; an unknown host key is refused with `Auth`.
 *
 * Atomic create-once: the body goes to a temporary name beside the target, then SFTP `rename`, which
 * OpenSSH refuses when the target exists (it links, then unlinks) — a concurrent second writer gets
 * `Exists`. Temporary names contain `~`, outside raic's key alphabet, so list() skips them.
 * One SSH connection per provider, opened on first use and reopened after it drops.
 * A call's signal stops its transfer (no further read or write request is sent, the handle is closed, a
 * put's temporary file removed) and any wait on a request; the shared connection stays up. Progress is
 * each read or write request as the server answers it.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';
import { RaicError } from '../errors.js';
import { parseSftpUrl, type SftpConfig } from './sftp-config.js';
import { hostKeyRefusal, verifyHostKey, type HostKeyVerdict } from './sftp-host-key.js';
import { readRange, writeAll } from './sftp-transfer.js';
import { objectTooLarge } from './bounded-read.js';
import { cancelledError, throwIfCancelled } from './progress.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import { MAX_OBJECT_BYTES, type ByteRange, type CallOptions, type ObjectInfo, type Provider } from './types.js';

/** SFTP status codes (draft-ietf-secsh-filexfer-02, what OpenSSH speaks). */
const FX = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, NO_CONNECTION: 6, CONNECTION_LOST: 7 } as const;
/** Directory listings run in parallel, this many at a time. */
const LIST_DEPTH = 8;

/** `env` is where credentials are read (tests pass their own). */
export async function createSftpProvider(url: URL, env: Record<string, string | undefined> = process.env): Promise<Provider> {
  const cfg = parseSftpUrl(url, env, { localUser: userInfo().username, home: homedir() });
  return new SftpProvider(cfg);
}

interface Session {
  client: SftpClient;
  sftp: SFTPWrapper;
  alive: boolean;
}

class SftpProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities = { conditionalPut: true, reportsProgress: true };
  private connecting: Promise<Session> | undefined;
  private current: Session | undefined;
  private closed = false;

  constructor(private readonly cfg: SftpConfig) {
    this.displayUrl = cfg.displayUrl;
  }

  async prepare(): Promise<void> {
    if (this.cfg.base === '' || this.cfg.base === '/') return;
    const s = await this.session('prepare');
    await this.mkdirs(s, this.cfg.base.replace(/\/$/, ''), 'prepare', undefined);
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    const signal = opts.signal;
    throwIfCancelled(signal, () => `sftp put ${key} on ${this.displayUrl}`);
    const s = await this.session('put', key);
    const path = this.path(key);
    const dir = posix.dirname(path);
    const tmp = posix.join(dir, `.${posix.basename(path)}.raic~${randomBytes(6).toString('hex')}`);
    try {
      let handle: Buffer;
      try {
        handle = await this.op(s, (cb) => s.sftp.open(tmp, 'wx', cb), signal);
      } catch (err) {
        if ((err as { code?: unknown }).code !== FX.NO_SUCH_FILE || dir === '.' || dir === '/') throw err;
        await this.mkdirs(s, dir, 'put', key);
        handle = await this.op(s, (cb) => s.sftp.open(tmp, 'wx', cb), signal);
      }
      try {
        await writeAll(s.sftp, handle, body, opts);
      } finally {
        await this.op<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => undefined);
      }
      // Past this point a cancelled put does not land.
      throwIfCancelled(signal, () => `sftp put ${key} on ${this.displayUrl}`);
      await this.op<void>(s, (cb) => s.sftp.rename(tmp, path, cb));
    } catch (err) {
      await this.op<void>(s, (cb) => s.sftp.unlink(tmp, cb)).catch(() => undefined);
      if (!signal?.aborted && (err as { code?: unknown }).code === FX.FAILURE && (await this.exists(s, path))) {
        throw new RaicError('Exists', `sftp put ${key} on ${this.displayUrl}: already exists`, { cause: err });
      }
      throw this.translateError(err, 'put', key, signal);
    }
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    checkKey(key, this.displayUrl);
    if (range) checkRange(range, this.displayUrl, key);
    const signal = opts.signal;
    throwIfCancelled(signal, () => `sftp get ${key} on ${this.displayUrl}`);
    const s = await this.session('get', key);
    try {
      const handle = await this.op<Buffer>(s, (cb) => s.sftp.open(this.path(key), 'r', cb), signal);
      try {
        const size = (await this.op<{ size: number }>(s, (cb) => s.sftp.fstat(handle, cb), signal)).size;
        // The server's size decides nothing: a whole object over the cap is refused before anything is allocated.
        if (!range && size > MAX_OBJECT_BYTES) throw objectTooLarge(this.displayUrl, key, size);
        const offset = range?.offset ?? 0;
        // Clamp to the file so a long range past the end allocates nothing it won't fill.
        const length = Math.max(0, Math.min(range?.length ?? size, size - offset));
        return length === 0 ? Buffer.alloc(0) : await readRange(s.sftp, handle, offset, length, opts);
      } finally {
        await this.op<void>(s, (cb) => s.sftp.close(handle, cb)).catch(() => undefined);
      }
    } catch (err) {
      throw this.translateError(err, 'get', key, signal);
    }
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key, this.displayUrl);
    throwIfCancelled(opts.signal, () => `sftp head ${key} on ${this.displayUrl}`);
    const s = await this.session('head', key);
    try {
      const st = await this.op<{ size: number; isFile(): boolean }>(s, (cb) => s.sftp.stat(this.path(key), cb), opts.signal);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: FX.NO_SUCH_FILE });
      return { key, size: st.size };
    } catch (err) {
      throw this.translateError(err, 'head', key, opts.signal);
    }
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    const s = await this.session(`list ${JSON.stringify(prefix)}`);
    // Start at the deepest directory the prefix names completely; filter names by the rest.
    const cut = prefix.lastIndexOf('/');
    const start = cut < 0 ? '' : prefix.slice(0, cut + 1);
    const found: ObjectInfo[] = [];
    const pending: string[] = [start];
    const walk = async (rel: string): Promise<void> => {
      let entries: { filename: string; attrs: { size: number; isDirectory(): boolean; isFile(): boolean } }[];
      try {
        entries = await this.op(s, (cb) => s.sftp.readdir(this.dirPath(rel), cb), opts.signal);
      } catch (err) {
        if (!opts.signal?.aborted && (err as { code?: unknown }).code === FX.NO_SUCH_FILE) return;
        throw this.translateError(err, `list ${JSON.stringify(prefix)}`, undefined, opts.signal);
      }
      for (const e of entries) {
        if (e.filename === '.' || e.filename === '..' || e.filename.includes('~')) continue;
        const key = rel + e.filename;
        if (e.attrs.isDirectory()) {
          const sub = `${key}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) pending.push(sub);
        } else if (e.attrs.isFile() && key.startsWith(prefix)) {
          found.push({ key, size: e.attrs.size });
        }
      }
    };
    // Breadth-first, LIST_DEPTH directories at a time; yields as each level completes.
    while (pending.length > 0) {
      const level = pending.splice(0, LIST_DEPTH);
      await Promise.all(level.map(walk));
      yield* found.splice(0);
    }
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    throwIfCancelled(opts.signal, () => `sftp delete ${key} on ${this.displayUrl}`);
    const s = await this.session('delete', key);
    try {
      await this.op<void>(s, (cb) => s.sftp.unlink(this.path(key), cb), opts.signal);
    } catch (err) {
      if (!opts.signal?.aborted && (err as { code?: unknown }).code === FX.NO_SUCH_FILE) return;
      throw this.translateError(err, 'delete', key, opts.signal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.current ?? (await this.connecting?.catch(() => undefined));
    this.current = undefined;
    if (s?.alive) await s.client.end().catch(() => undefined);
  }

  private path(key: string): string {
    return this.cfg.base + key;
  }

  /** A directory under the base, for readdir: '' is the base itself. */
  private dirPath(rel: string): string {
    const p = this.cfg.base + rel;
    return p === '' ? '.' : p === '/' ? '/' : p.replace(/\/$/, '');
  }

  private async exists(s: Session, path: string): Promise<boolean> {
    return this.op(s, (cb) => s.sftp.stat(path, cb)).then(
      () => true,
      () => false,
    );
  }

  /** Makes `dir` and any missing parents: deepest first, then up on "no such file", so existing ones cost one request. */
  private async mkdirs(s: Session, dir: string, op: string, key: string | undefined): Promise<void> {
    const make = async (d: string): Promise<void> => {
      if (d === '.' || d === '/' || d === '') return;
      try {
        await this.op<void>(s, (cb) => s.sftp.mkdir(d, cb));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === FX.NO_SUCH_FILE) {
          await make(posix.dirname(d));
          return make(d);
        }
        // OpenSSH answers a plain FAILURE when it exists (perhaps made a moment ago by a concurrent put).
        if (code === FX.FAILURE && (await this.exists(s, d))) return;
        throw err;
      }
    };
    try {
      await make(dir);
    } catch (err) {
      throw this.translateError(err, op, key);
    }
  }

  /** One ssh2 SFTP callback call as a promise; `signal` stops the wait (the request's answer is then ignored). */
  private op<T>(s: Session, fn: (cb: (err: Error | undefined | null, result: T) => void) => void, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!s.alive) return reject(Object.assign(new Error('connection lost'), { code: FX.CONNECTION_LOST }));
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      fn((err, result) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(result);
      });
    });
  }

  /** The live session, connecting (once for all concurrent callers) if there is none. */
  private async session(op: string, key?: string): Promise<Session> {
    if (this.closed) throw new RaicError('Permanent', `sftp ${op} on ${this.displayUrl}: provider is closed`);
    if (this.current?.alive) return this.current;
    this.connecting ??= this.connect()
      .then((s) => (this.current = s))
      .finally(() => (this.connecting = undefined));
    try {
      return await this.connecting;
    } catch (err) {
      throw this.translateError(err, op, key);
    }
  }

  private async connect(): Promise<Session> {
    const { default: Client } = await import('ssh2-sftp-client');
    const knownHosts = this.cfg.fingerprint === undefined ? await readFile(this.cfg.knownHostsFile, 'utf8').catch(() => '') : '';
    const privateKey = this.cfg.keyFile === undefined ? undefined : await readKey(this.cfg.keyFile, this.displayUrl);
    let refused: Exclude<HostKeyVerdict, { ok: true }> | undefined;
    let session: Session | undefined;
    const lost = () => {
      if (session) session.alive = false;
    };
    // The client's default global listeners print to the console; providers never log.
    const client = new Client('raic', { error: lost, end: lost, close: lost });
    try {
      const sftp = await client.connect({
        host: this.cfg.host,
        port: this.cfg.port,
        username: this.cfg.username,
        ...(privateKey === undefined ? {} : { privateKey }),
        ...(this.cfg.passphrase === undefined ? {} : { passphrase: this.cfg.passphrase }),
        ...(this.cfg.agent === undefined ? {} : { agent: this.cfg.agent }),
        ...(this.cfg.password === undefined ? {} : { password: this.cfg.password }),
        hostVerifier: (blob: Buffer) => {
          const verdict = verifyHostKey(blob, this.cfg.host, this.cfg.port, {
            ...(this.cfg.fingerprint === undefined ? {} : { fingerprint: this.cfg.fingerprint }),
            knownHosts,
          });
          if (!verdict.ok) refused = verdict;
          return verdict.ok;
        },
        readyTimeout: 20_000,
        keepaliveInterval: 15_000,
        keepaliveCountMax: 4,
      });
      session = { client, sftp, alive: true };
      return session;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (refused) {
        const { message, hint } = hostKeyRefusal(refused, this.cfg.host, this.cfg.port, this.cfg.knownHostsFile);
        throw new RaicError('Auth', `sftp ${this.displayUrl}: ${message}`, { hint, cause: err });
      }
      throw err;
    }
  }

  /**
   * The one place SFTP/SSH failures become RaicErrors. `key` is undefined for operations on the
   * member's directory, where "no such file" means it is missing: Permanent, retrying won't create it.
   */
  private translateError(err: unknown, op: string, key: string | undefined, signal?: AbortSignal): RaicError {
    const where = `sftp ${op} ${key === undefined ? this.displayUrl : `${key} on ${this.displayUrl}`}`;
    if (signal?.aborted) return cancelledError(where, signal);
    if (err instanceof RaicError) return err;
    const e = err as { code?: unknown; level?: unknown; message?: unknown };
    const message = String(e?.message ?? err).replace(/^\w+: /, '');
    switch (e?.code) {
      case FX.NO_SUCH_FILE:
        return key === undefined
          ? new RaicError('Permanent', `${where}: directory not found`, { cause: err, hint: 'run raic init to create it' })
          : new RaicError('NotFound', `${where}: no such file`, { cause: err });
      case FX.PERMISSION_DENIED:
        return new RaicError('Auth', `${where}: permission denied`, { cause: err, hint: `check what ${this.cfg.username} may write on ${this.cfg.host}` });
      case FX.NO_CONNECTION:
      case FX.CONNECTION_LOST:
        return new RaicError('Transient', `${where}: connection lost`, { cause: err });
    }
    // ssh2-sftp-client rewraps connect errors and drops ssh2's `level`: the message is what is left.
    if (e?.level === 'client-authentication' || /all configured authentication methods failed/i.test(message)) {
      return new RaicError('Auth', `${where}: ${this.cfg.username}@${this.cfg.host} refused every offered credential`, {
        cause: err,
        hint: 'check SFTP_KEY_FILE / the ssh agent / SFTP_PASSWORD and the server’s authorized_keys',
      });
    }
    if (e?.level === 'client-timeout' || e?.level === 'client-socket' || e?.level === 'client-dns') {
      return new RaicError('Transient', `${where}: ${message}`, { cause: err });
    }
    if (typeof e?.code === 'string' && /^(E[A-Z]+|ERR_NOT_CONNECTED|ERR_GENERIC_CLIENT)$/.test(e.code) && e.code !== 'ENOENT' && e.code !== 'EACCES') {
      return new RaicError('Transient', `${where}: ${e.code} ${message}`, { cause: err });
    }
    // ssh2 fails every request in flight with this when the channel closes under them.
    if (/no response from server|not connected|connection (lost|closed|reset)/i.test(message)) {
      return new RaicError('Transient', `${where}: ${message}`, { cause: err });
    }
    return new RaicError('Permanent', `${where}: ${message}`, { cause: err });
  }
}

async function readKey(path: string, displayUrl: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new RaicError('Auth', `sftp ${displayUrl}: cannot read the private key ${path} (SFTP_KEY_FILE)`, { cause: err });
  }
}
