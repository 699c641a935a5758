/**
 * Connection info of the real test servers, as scripts/servers/up.sh records it in
 * `$RAIC_SERVERS_DIR/env.json` (default /tmp/raic-servers). Each getter checks that the server
 * answers and otherwise throws an Error naming the exact command that starts it: a test that
 * needs a server fails loudly, never skips.
 *
 * Also: `tcpRelay`, a loopback TCP forwarder a test can stop and start to take a server "down"
 * for its own client without disturbing anyone else using the server, and `uniqueName`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export type ServerName = 'swift' | 'azurite' | 'sftp' | 'webdav';

export interface S3Account {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface SwiftAccount {
  /** v1 auth URL, e.g. http://127.0.0.1:18080/auth/v1.0 */
  authUrl: string;
  username: string;
  key: string;
}

export interface SwiftServer {
  /** The proxy: Swift API and S3 API on one port. */
  endpoint: string;
  s3: S3Account;
  /** A second, separate account (test2:tester2). */
  s3Second: S3Account;
  swift: SwiftAccount;
  swiftSecond: SwiftAccount;
}

export interface AzuriteServer {
  /** e.g. http://127.0.0.1:10000/devstoreaccount1 */
  blobEndpoint: string;
  accountName: string;
  accountKey: string;
  connectionString: string;
}

export interface SftpServer {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** Where the server's files live on this machine (the SFTP session starts there). */
  root: string;
}

export interface WebdavServer {
  url: string;
  username: string;
  password: string;
  /** Where the server's files live on this machine. */
  root: string;
}

interface ServersFile {
  swift?: SwiftServer;
  azurite?: AzuriteServer;
  sftp?: SftpServer;
  webdav?: WebdavServer;
}

export function serversDir(): string {
  return process.env['RAIC_SERVERS_DIR'] ?? '/tmp/raic-servers';
}

/** The shell command that starts `name` (run from the repository root). */
export function startCommand(name: ServerName): string {
  const dir = process.env['RAIC_SERVERS_DIR'];
  return `${dir === undefined ? '' : `RAIC_SERVERS_DIR=${dir} `}bash scripts/servers/up.sh ${name}`;
}

function notRunning(name: ServerName, why: string): Error {
  return new Error(`test server "${name}" is not available (${why}): start it with \`${startCommand(name)}\``);
}

function recorded<N extends ServerName>(name: N): NonNullable<ServersFile[N]> {
  const file = path.join(serversDir(), 'env.json');
  let parsed: ServersFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as ServersFile;
  } catch (err) {
    throw notRunning(name, `cannot read ${file}: ${(err as Error).message}`);
  }
  const info = parsed[name];
  if (info === undefined) throw notRunning(name, `${file} does not list it`);
  return info as NonNullable<ServersFile[N]>;
}

/** Resolves with the HTTP status of a request, or rejects if nothing answers within 3 s. */
function httpStatus(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with the first bytes a TCP server sends, or rejects if it does not answer within 3 s. */
function tcpGreeting(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error('no greeting within 3 s')), 3000);
    sock.once('data', (d) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(d.toString('latin1'));
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function probe(name: ServerName, what: string, check: () => Promise<boolean>): Promise<void> {
  let ok: boolean;
  try {
    ok = await check();
  } catch (err) {
    throw notRunning(name, `${what}: ${(err as Error).message}`);
  }
  if (!ok) throw notRunning(name, `${what} gave an unexpected answer`);
}

export async function swiftServer(): Promise<SwiftServer> {
  const info = recorded('swift');
  await probe('swift', `GET ${info.endpoint}/healthcheck`, async () => (await httpStatus(`${info.endpoint}/healthcheck`)) === 200);
  return info;
}

export async function azuriteServer(): Promise<AzuriteServer> {
  const info = recorded('azurite');
  // Any HTTP answer (an unauthenticated request gets 4xx) means it is listening.
  await probe('azurite', `GET ${info.blobEndpoint}`, async () => (await httpStatus(`${info.blobEndpoint}?comp=list`)) > 0);
  return info;
}

export async function sftpServer(): Promise<SftpServer> {
  const info = recorded('sftp');
  await probe('sftp', `connect ${info.host}:${info.port}`, async () => (await tcpGreeting(info.host, info.port)).startsWith('SSH-'));
  return info;
}

export async function webdavServer(): Promise<WebdavServer> {
  const info = recorded('webdav');
  const auth = `Basic ${Buffer.from(`${info.username}:${info.password}`).toString('base64')}`;
  await probe('webdav', `PROPFIND ${info.url}`, async () => (await httpStatus(info.url, { method: 'PROPFIND', headers: { Depth: '0', Authorization: auth } })) === 207);
  return info;
}

/** A fresh name for a bucket, container or directory: `<stem>-<16 hex>`, valid everywhere. */
export function uniqueName(stem = 'raic-test'): string {
  return `${stem}-${randomBytes(8).toString('hex')}`;
}

export interface TcpRelay {
  /** Where clients connect: 127.0.0.1 and this port. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`, for HTTP-based clients. */
  readonly url: string;
  /** Refuses new connections and cuts open ones, as a dead server would. */
  stop(): Promise<void>;
  /** Accepts and forwards again, on the same port. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1:<port> to `target` (a loopback host:port). Stopping it makes the server
 * unreachable for clients pointed at the relay only, so tests of "server down" do not take the
 * shared server away from other tests running at the same time.
 */
export async function tcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const open = new Set<net.Socket>();
  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(target);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server: net.Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const s = net.createServer(onConnection);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve((s.address() as net.AddressInfo).port);
      });
    });
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const sock of open) sock.destroy();
    open.clear();
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const port = await listen(0);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop,
    start: async () => {
      if (server === undefined) await listen(port);
    },
    close: stop,
  };
}

/** host and port of an http(s) URL. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}
