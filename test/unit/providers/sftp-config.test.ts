import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError, type ErrorCode } from '../../../src/errors.js';
import { parseSftpUrl } from '../../../src/providers/sftp-config.js';

const defaults = { localUser: 'alice', home: '/home/alice' };
const key = { SFTP_KEY_FILE: '/keys/id' };
const fp = 'SHA256:nwuGG+Ih0iw6Ta85RslPFzNxm0lljj24N+CsKzYgHxg';
const parse = (u: string, env: Record<string, string> = key) => parseSftpUrl(new URL(u), env, defaults);
const rejects = (code: ErrorCode, u: string, env: Record<string, string> = key) =>
  assert.throws(() => parse(u, env), (e: unknown) => isRaicError(e, code), u);

describe('parseSftpUrl', () => {
  it('reads user, host, port and an absolute directory', () => {
    const c = parse('sftp://bob@nas.local:2222/srv/backups/raic/');
    assert.deepEqual(
      [c.username, c.host, c.port, c.base, c.keyFile, c.knownHostsFile, c.displayUrl],
      ['bob', 'nas.local', 2222, '/srv/backups/raic/', '/keys/id', '/home/alice/.ssh/known_hosts', 'sftp://bob@nas.local:2222/srv/backups/raic'],
    );
  });

  it('defaults the user to SFTP_USER, then the local user, and the port to 22', () => {
    assert.equal(parse('sftp://nas/x').username, 'alice');
    assert.equal(parse('sftp://nas/x', { ...key, SFTP_USER: 'carol' }).username, 'carol');
    assert.equal(parse('sftp://nas/x').port, 22);
    assert.equal(parse('sftp://nas/x').displayUrl, 'sftp://alice@nas/x', 'the user in use is shown');
  });

  it('reads /~/ as relative to the login directory', () => {
    assert.equal(parse('sftp://nas/~/backups').base, 'backups/');
    assert.equal(parse('sftp://nas/~').base, '');
    assert.equal(parse('sftp://nas/~/').base, '');
    assert.equal(parse('sftp://nas/').base, '/');
  });

  it('takes a pinned fingerprint, reading a query-decoded + back as +', () => {
    const c = parse(`sftp://nas/x?fingerprint=${fp}`);
    assert.equal(c.fingerprint, fp);
    assert.equal(c.displayUrl, `sftp://alice@nas/x?fingerprint=${fp}`);
    assert.equal(parse(`sftp://nas/x?fingerprint=${encodeURIComponent(fp)}`).fingerprint, fp);
    rejects('Usage', 'sftp://nas/x?fingerprint=MD5:aa:bb');
    rejects('Usage', 'sftp://nas/x?fingerprint=SHA256:short');
  });

  it('takes credentials from the environment: key file (env over ?key=), agent, password', () => {
    assert.equal(parse('sftp://nas/x?key=/url/key', {}).keyFile, '/url/key');
    assert.equal(parse('sftp://nas/x?key=/url/key', { SFTP_KEY_FILE: '~/id' }).keyFile, '/home/alice/id');
    assert.equal(parse('sftp://nas/x?key=/url/key').displayUrl, 'sftp://alice@nas/x', 'the key path is not shown');
    const agent = parse('sftp://nas/x', { SSH_AUTH_SOCK: '/run/agent.sock' });
    assert.deepEqual([agent.agent, agent.keyFile], ['/run/agent.sock', undefined]);
    assert.equal(parse('sftp://nas/x', { SFTP_PASSWORD: 'pw' }).password, 'pw');
    assert.equal(parse('sftp://nas/x', { ...key, SFTP_KEY_PASSPHRASE: 'pp' }).passphrase, 'pp');
    assert.equal(parse('sftp://nas/x', { ...key, SFTP_KNOWN_HOSTS: '~/kh' }).knownHostsFile, '/home/alice/kh');
  });

  it('rejects missing credentials with Auth and malformed URLs with Usage', () => {
    rejects('Auth', 'sftp://nas/x', {});
    rejects('Usage', 'sftp://bob:secret@nas/x');
    rejects('Usage', 'sftp://nas/x?password=secret');
    rejects('Usage', 'sftp://nas/a//b');
    rejects('Usage', 'sftp:///x');
  });
});
