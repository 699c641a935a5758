/**
 * The WebDAV adapter against lighttpd + mod_webdav: the conformance suite, then missing credentials,
 * collections made on demand under concurrency, and that a put never leaves a partial object.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { isRaicError, type RaicError } from '../../src/errors.js';
import { createWebdavProvider } from '../../src/providers/webdav.js';
import { hostPort, tcpRelay, uniqueName, webdavServer } from '../support/servers.js';
import { collect, providerConformance, rejectsWith } from './conformance.js';

const server = await webdavServer();
const creds = { WEBDAV_USERNAME: server.username, WEBDAV_PASSWORD: server.password };
const relay = await tcpRelay(hostPort(server.url));
after(() => relay.close());

const origin = new URL(server.url);
const memberUrl = (dir: string, port = relay.port) => new URL(`webdav+http://${origin.hostname}:${port}/${dir}/member`);

providerConformance('webdav', () => createWebdavProvider(memberUrl(uniqueName('raic-webdav')), creds), {
  stopServer: () => relay.stop(),
  startServer: () => relay.start(),
  badAuth: () => createWebdavProvider(memberUrl(uniqueName('raic-webdav')), { ...creds, WEBDAV_PASSWORD: 'wrong' }),
});

describe('webdav adapter', () => {
  it('refuses to open without credentials, naming the variables to set', async () => {
    await rejectsWith(createWebdavProvider(memberUrl('d'), {}), 'Auth', 'no credentials');
    const err = (await createWebdavProvider(memberUrl('d'), {}).catch((e: unknown) => e)) as RaicError;
    assert.match(err.message, /webdav\+http:\/\/127\.0\.0\.1:\d+\/d\/member/);
    assert.match(String(err.hint), /WEBDAV_USERNAME and WEBDAV_PASSWORD/);
  });

  it('makes missing collections for concurrent puts into new directories', async () => {
    const dir = uniqueName('raic-webdav');
    const p = await createWebdavProvider(memberUrl(dir, Number(origin.port)), creds);
    // No prepare(): even the member's own collection is made on the first put.
    const keys = Array.from({ length: 24 }, (_, i) => `packs/${(i % 3).toString(16).padStart(2, '0')}/deep/${i}`);
    await Promise.all(keys.map((k) => p.put(k, Buffer.from(k))));
    assert.deepEqual((await collect(p.list('packs/'))).map((o) => o.key).sort(), [...keys].sort());
    for (const k of keys) assert.equal((await p.get(k)).toString(), k);
    await p.close();
  });

  it('create-once holds under a race: one of 6 concurrent puts wins, whole, and no temp file stays', async () => {
    const dir = uniqueName('raic-webdav');
    const p = await createWebdavProvider(memberUrl(dir, Number(origin.port)), creds);
    await p.prepare();
    const bodies = Array.from({ length: 6 }, (_, i) => Buffer.alloc(2 * 1024 * 1024 + i, i + 1));
    const outcomes = await Promise.allSettled(bodies.map((b) => p.put('race', b)));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(isRaicError(o.reason, 'Exists'), `losers get Exists: ${String(o.reason)}`);
    // lighttpd checks If-None-Match and renames its temp file within one turn of its event loop.
    assert.equal(won.length, 1, `exactly one put succeeds (got ${won.length})`);
    assert.ok((await p.get('race')).equals(bodies[won[0]!]!), "the stored object is the winner's, whole");
    assert.deepEqual(readdirSync(path.join(server.root, dir, 'member')), ['race'], 'no temporary file left');
    await p.close();
  });
});
