/**
 * The Swift adapter against the real Swift all-in-one (v1 tempauth): the conformance suite, then
 * what is specific to Swift — missing credentials, and the two pkgcloud defects swift.ts works
 * around, measured here so the workarounds can go when pkgcloud is fixed.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { RaicError } from '../../src/errors.js';
import { createSwiftProvider } from '../../src/providers/swift.js';
import { hostPort, swiftServer, tcpRelay, uniqueName } from '../support/servers.js';
import { providerConformance, rejectsWith } from './conformance.js';

const server = await swiftServer();
const creds = { SWIFT_USERNAME: server.swift.username, SWIFT_PASSWORD: server.swift.key };
const relay = await tcpRelay(hostPort(server.endpoint));
after(() => relay.close());

// Through the relay, so the suite can take the server away from this client only (tempauth builds the
// storage URL from the Host header, so object requests go through the relay too).
const memberUrl = (container: string, base = relay.url) => new URL(`swift://${container}/raic/member?auth=${base}/auth/v1.0`);

providerConformance('swift', () => createSwiftProvider(memberUrl(uniqueName('raic-swift')), creds), {
  stopServer: () => relay.stop(),
  startServer: () => relay.start(),
  badAuth: () => createSwiftProvider(memberUrl(uniqueName('raic-swift')), { ...creds, SWIFT_PASSWORD: 'wrong' }),
});

describe('swift adapter', () => {
  it('refuses to open without credentials, naming the variables to set', async () => {
    await rejectsWith(createSwiftProvider(memberUrl('c'), {}), 'Auth', 'no credentials');
    const err = (await createSwiftProvider(memberUrl('c'), {}).catch((e: unknown) => e)) as RaicError;
    assert.match(err.message, /swift:\/\/c\/raic\/member/);
    assert.match(String(err.hint), /SWIFT_USERNAME and SWIFT_PASSWORD/);
  });

  it('authenticates once for many requests (pkgcloud alone re-authenticates before each one)', async () => {
    const spy = await authCountingProxy(server.endpoint);
    try {
      const p = await createSwiftProvider(memberUrl(uniqueName('raic-swift'), spy.url), creds);
      await p.prepare();
      await Promise.all(Array.from({ length: 5 }, (_, i) => p.put(`k/${i}`, Buffer.from([i]))));
      for (let i = 0; i < 5; i++) assert.deepEqual(await p.head(`k/${i}`), { key: `k/${i}`, size: 1 });
      assert.equal((await p.get('k/3'))[0], 3);
      await p.close();
      assert.equal(spy.auths(), 1, 'one auth request for prepare + 5 puts + 5 heads + 1 get');

      const raw = pkgcloudClient(spy.url);
      const before = spy.auths();
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve, reject) => raw.getContainers((err: unknown) => (err ? reject(err) : resolve())));
      assert.ok(spy.auths() - before >= 3, `pkgcloud alone: ${spy.auths() - before} auth requests for 3 listings`);
    } finally {
      await spy.close();
    }
  });

  it("pkgcloud's upload reports success when Swift refuses If-None-Match (412): why put() uses fetch", async () => {
    const container = uniqueName('raic-swift');
    const p = await createSwiftProvider(memberUrl(container, server.endpoint), creds);
    await p.prepare();
    await p.put('once', Buffer.from('first'));
    const raw = pkgcloudClient(server.endpoint);
    const outcome = await new Promise<string>((resolve) => {
      // The adapter's key `once` is the object raic/member/once.
      const up = raw.upload({ container, remote: 'raic/member/once', headers: { 'If-None-Match': '*' } });
      up.on('success', () => resolve('success'));
      up.on('error', (e: { statusCode?: number }) => resolve(`error ${e.statusCode}`));
      Readable.from([Buffer.from('second')]).pipe(up);
    });
    assert.equal(outcome, 'success', 'pkgcloud reported success (if this fails, pkgcloud was fixed: put() could use it)');
    assert.equal((await p.get('once')).toString(), 'first', 'Swift kept the first version: it refused the PUT');
    await rejectsWith(p.put('once', Buffer.from('second')), 'Exists', "the adapter's put of the same key");
    await p.close();
  });
});

/** The slice of pkgcloud's untyped client these tests call. */
interface RawPkgcloud {
  getContainers(cb: (err: unknown) => void): void;
  upload(opts: { container: string; remote: string; headers: Record<string, string> }): NodeJS.WritableStream & NodeJS.EventEmitter;
}

function pkgcloudClient(base: string): RawPkgcloud {
  const pkgcloud = createRequire(import.meta.url)('pkgcloud');
  return pkgcloud.storage.createClient({
    provider: 'openstack',
    authUrl: base,
    username: creds.SWIFT_USERNAME,
    password: creds.SWIFT_PASSWORD,
    version: 1,
    useServiceCatalog: false,
  });
}

/** An HTTP proxy in front of Swift that counts auth requests. */
async function authCountingProxy(target: string): Promise<{ url: string; auths: () => number; close: () => Promise<void> }> {
  const { host, port } = hostPort(target);
  let auths = 0;
  const agent = new http.Agent({ keepAlive: true });
  const proxy = http.createServer((req, res) => {
    if (req.url?.startsWith('/auth/')) auths++;
    const upstream = http.request({ host, port, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port: own } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${own}`,
    auths: () => auths,
    close: async () => {
      proxy.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
