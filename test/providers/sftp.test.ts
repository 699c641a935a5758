/**
 * The SFTP adapter against OpenSSH's internal-sftp: the conformance suite, then host-key pinning
 * (unknown and changed keys refused, known_hosts honoured), missing credentials, and the
 * rename-based create-once under a race.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { isRaicError, type RaicError } from '../../src/errors.js';
import { createSftpProvider } from '../../src/providers/sftp.js';
import { fingerprintOf } from '../../src/providers/sftp-host-key.js';
import { sftpServer, tcpRelay, uniqueName } from '../support/servers.js';
import { providerConformance, rejectsWith } from './conformance.js';

const server = await sftpServer();
// servers.ts does not record the host key; the server script keeps it beside the user key.
const hostKeyLine = readFileSync(path.join(path.dirname(server.privateKeyPath), 'ssh_host_ed25519_key.pub'), 'utf8');
const hostKeyBlob = Buffer.from(hostKeyLine.split(/\s+/)[1]!, 'base64');
const fingerprint = fingerprintOf(hostKeyBlob);
const scratch = mkdtempSync(path.join(tmpdir(), 'raic-sftp-test-'));
const relay = await tcpRelay({ host: server.host, port: server.port });
after(async () => {
  await relay.close();
  rmSync(scratch, { recursive: true, force: true });
});

const env = { SFTP_KEY_FILE: server.privateKeyPath };
const dirName = () => uniqueName('raic-sftp');
const memberUrl = (dir: string, opts: { port?: number; pin?: boolean } = {}) =>
  new URL(`sftp://${server.username}@${server.host}:${opts.port ?? relay.port}${server.root}/${dir}/member${opts.pin === false ? '' : `?fingerprint=${fingerprint}`}`);

function otherUserKey(): string {
  const file = path.join(scratch, 'other_id_ed25519');
  writeFileSync(file, parseableKey(), { mode: 0o600 });
  return file;
}

/** A fresh ed25519 private key that ssh2 can read back: about 1 in 400 of those ssh2 generates it cannot
 * ("Malformed OpenSSH private key": 8 of 3,000), which made the bad-credentials test fail now and then with
 * a parse error instead of the server's refusal. */
function parseableKey(): string {
  for (;;) {
    const key = ssh2.utils.generateKeyPairSync('ed25519').private;
    if (!(ssh2.utils.parseKey(key) instanceof Error)) return key;
  }
}

providerConformance('sftp', () => createSftpProvider(memberUrl(dirName()), env), {
  stopServer: () => relay.stop(),
  startServer: () => relay.start(),
  badAuth: () => createSftpProvider(memberUrl(dirName()), { SFTP_KEY_FILE: otherUserKey() }),
});

describe('sftp adapter', () => {
  it('refuses an unknown host key with Auth, showing the fingerprint and how to pin it', async () => {
    const knownHosts = path.join(scratch, 'empty_known_hosts');
    writeFileSync(knownHosts, '');
    const p = await createSftpProvider(memberUrl(dirName(), { pin: false }), { ...env, SFTP_KNOWN_HOSTS: knownHosts });
    const err = (await p.head('x').catch((e: unknown) => e)) as RaicError;
    assert.ok(isRaicError(err, 'Auth'), `expected Auth, got ${String(err)}`);
    assert.match(err.message, /unknown SSH host key/);
    assert.ok(err.message.includes(fingerprint), 'the message shows the fingerprint');
    assert.ok(err.hint?.includes(`?fingerprint=${fingerprint}`), 'the hint shows the URL parameter that pins it');
    assert.ok(err.hint?.includes(`ssh-keyscan -p ${relay.port} ${server.host}`), 'and the known_hosts way');
    await p.close();
  });

  it('accepts a host listed in known_hosts, and refuses a changed key for it', async () => {
    const good = path.join(scratch, 'known_hosts');
    writeFileSync(good, `# test\n[${server.host}]:${server.port} ${hostKeyLine.split(/\s+/).slice(0, 2).join(' ')}\n`);
    const p = await createSftpProvider(memberUrl(dirName(), { port: server.port, pin: false }), { ...env, SFTP_KNOWN_HOSTS: good });
    await p.prepare();
    await p.put('k', Buffer.from('pinned by known_hosts'));
    assert.equal((await p.get('k')).toString(), 'pinned by known_hosts');
    await p.close();

    const changed = path.join(scratch, 'known_hosts_changed');
    // Another ed25519 key, in OpenSSH's wire form, built directly (ssh2's generate-then-parse round trip
    // intermittently rejected its own output: "Malformed OpenSSH public key").
    const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const sshString = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const otherHostKey = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)]);
    writeFileSync(changed, `[${server.host}]:${server.port} ssh-ed25519 ${otherHostKey.toString('base64')}\n`);
    const q = await createSftpProvider(memberUrl(dirName(), { port: server.port, pin: false }), { ...env, SFTP_KNOWN_HOSTS: changed });
    const err = (await q.head('k').catch((e: unknown) => e)) as RaicError;
    assert.ok(isRaicError(err, 'Auth'), `expected Auth, got ${String(err)}`);
    assert.match(err.message, /does not match/);
    await q.close();
  });

  it('refuses to open without any credential, naming the ways to give one', async () => {
    await rejectsWith(createSftpProvider(memberUrl('d'), {}), 'Auth', 'no key, agent or password');
    const err = (await createSftpProvider(memberUrl('d'), {}).catch((e: unknown) => e)) as RaicError;
    assert.match(String(err.hint), /SFTP_KEY_FILE/);
  });

  it('create-once holds under a race: one of 8 concurrent puts wins, whole, and no temp file stays', async () => {
    const dir = dirName();
    const p = await createSftpProvider(memberUrl(dir), env);
    await p.prepare();
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024 + i, i + 1));
    const outcomes = await Promise.allSettled(bodies.map((b) => p.put('race/k', b)));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    assert.equal(won.length, 1, `exactly one put succeeds (got ${won.length})`);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(isRaicError(o.reason, 'Exists'), `losers get Exists: ${String(o.reason)}`);
    assert.ok((await p.get('race/k')).equals(bodies[won[0]!]!), "the stored object is the winner's, whole");
    assert.deepEqual(readdirSync(path.join(server.root, dir, 'member', 'race')), ['k'], 'no temporary file left');
    await p.close();
  });
});
