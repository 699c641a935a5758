import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fingerprintOf, hostKeyRefusal, hostMatches, parseKnownHosts, verifyHostKey, type HostKeyVerdict } from '../../../src/providers/sftp-host-key.js';

const reason = (v: HostKeyVerdict) => (v.ok ? 'ok' : v.reason);

// A real ed25519 host key line, as ssh-keygen writes it; its fingerprint as `ssh-keygen -lf` prints it.
const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKQaP5ZKCrnfpDIFz0azLyznsxRDdGvZIQ9LibK4HrWb';
const blob = Buffer.from(line.split(' ')[1]!, 'base64');
const other = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIFTLzdXQuAJ1GZxNP/EfEm2QbSOgC9if79c8NzOQj3r7', 'base64');

describe('fingerprintOf', () => {
  it("matches OpenSSH's SHA256 form", () => {
    // ssh-keygen -lf on the key above prints this fingerprint.
    assert.equal(fingerprintOf(blob), 'SHA256:/IdmWP5YEJUpQwvdVz7cCF03lClz5+lgbrA75nIC0cE');
  });
});

describe('verifyHostKey', () => {
  const kh = (hosts: string, key = line) => `${hosts} ${key}\n`;

  it('accepts a pinned fingerprint and refuses any other key, ignoring known_hosts', () => {
    const pin = fingerprintOf(blob);
    assert.equal(verifyHostKey(blob, 'h', 22, { fingerprint: pin, knownHosts: '' }).ok, true);
    const v = verifyHostKey(other, 'h', 22, { fingerprint: pin, knownHosts: kh('h', `ssh-ed25519 ${other.toString('base64')}`) });
    assert.deepEqual(v, { ok: false, reason: 'mismatch', fingerprint: fingerprintOf(other) });
  });

  it('finds the host in known_hosts, by name or [name]:port', () => {
    assert.equal(verifyHostKey(blob, 'nas', 22, { knownHosts: kh('other,nas') }).ok, true);
    assert.equal(verifyHostKey(blob, '127.0.0.1', 2222, { knownHosts: kh('[127.0.0.1]:2222') }).ok, true);
    assert.equal(reason(verifyHostKey(blob, '127.0.0.1', 2222, { knownHosts: kh('127.0.0.1') })), 'unknown', 'port 22 entry does not cover 2222');
  });

  it('tells unknown from changed from revoked', () => {
    assert.equal(reason(verifyHostKey(blob, 'nas', 22, { knownHosts: '' })), 'unknown');
    assert.equal(reason(verifyHostKey(blob, 'nas', 22, { knownHosts: kh('nas', `ssh-ed25519 ${other.toString('base64')}`) })), 'mismatch');
    assert.equal(reason(verifyHostKey(blob, 'nas', 22, { knownHosts: `${kh('nas')}@revoked * ${line}\n` })), 'revoked');
    assert.equal(reason(verifyHostKey(blob, 'nas', 22, { knownHosts: `@cert-authority nas ${line}\n` })), 'unknown', 'CA lines are not host keys');
  });

  it('matches hashed host names', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[nas]:2200').digest('base64');
    const hashed = `|1|${salt.toString('base64')}|${hash}`;
    assert.equal(verifyHostKey(blob, 'nas', 2200, { knownHosts: kh(hashed) }).ok, true);
    assert.equal(reason(verifyHostKey(blob, 'nas', 22, { knownHosts: kh(hashed) })), 'unknown');
  });
});

describe('known_hosts syntax', () => {
  it('parses markers, skips comments, blank and short lines', () => {
    const entries = parseKnownHosts(`# c\n\nnas ${line}\n@revoked x ${line}\nbroken-line\n@weird x ${line}\n`);
    assert.deepEqual(
      entries.map((e) => [e.marker, e.hosts, e.keyType]),
      [
        [undefined, 'nas', 'ssh-ed25519'],
        ['revoked', 'x', 'ssh-ed25519'],
      ],
    );
  });

  it('applies wildcards and negation like OpenSSH', () => {
    assert.equal(hostMatches('*.example.org', 'nas.example.org'), true);
    assert.equal(hostMatches('nas?', 'nas1'), true);
    assert.equal(hostMatches('*.example.org,!evil.example.org', 'evil.example.org'), false);
    assert.equal(hostMatches('NAS', 'nas'), true, 'host names are case-insensitive');
    assert.equal(hostMatches('nas.example.org', 'nasXexample.org'), false, 'a dot is literal');
  });
});

describe('hostKeyRefusal', () => {
  it('shows the fingerprint and both ways to pin it', () => {
    const { message, hint } = hostKeyRefusal({ ok: false, reason: 'unknown', fingerprint: 'SHA256:abc' }, '10.0.0.5', 2222, '/home/a/.ssh/known_hosts');
    assert.match(message, /\[10\.0\.0\.5\]:2222 \(SHA256:abc\)/);
    assert.match(hint, /\?fingerprint=SHA256:abc/);
    assert.match(hint, /ssh-keyscan -p 2222 10\.0\.0\.5 >> \/home\/a\/\.ssh\/known_hosts/);
    assert.match(hostKeyRefusal({ ok: false, reason: 'mismatch', fingerprint: 'SHA256:x' }, 'h', 22, 'kh').message, /man-in-the-middle/);
  });
});
