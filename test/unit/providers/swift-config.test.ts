import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError, type ErrorCode } from '../../../src/errors.js';
import { parseSwiftUrl, pkgcloudOptions } from '../../../src/providers/swift-config.js';

const creds = { SWIFT_USERNAME: 'test:tester', SWIFT_PASSWORD: 'testing' };
const parse = (u: string, env: Record<string, string> = creds) => parseSwiftUrl(new URL(u), env);
const rejects = (code: ErrorCode, u: string, env: Record<string, string> = creds) =>
  assert.throws(() => parse(u, env), (e: unknown) => isRaicError(e, code), u);

describe('parseSwiftUrl', () => {
  it('reads container, prefix and a v1 auth URL', () => {
    const c = parse('swift://backups/raic/one/?auth=http://127.0.0.1:18080/auth/v1.0');
    assert.equal(c.container, 'backups');
    assert.equal(c.prefix, 'raic/one/');
    assert.equal(c.authUrl, 'http://127.0.0.1:18080/auth/v1.0');
    assert.equal(c.authVersion, 1);
    assert.equal(c.username, 'test:tester');
    assert.equal(c.password, 'testing');
    assert.equal(c.displayUrl, 'swift://backups/raic/one?auth=http://127.0.0.1:18080/auth/v1.0');
    assert.equal(parse('swift://c?auth=http://h/auth/v1.0').prefix, '');
  });

  it('infers the auth version from the auth URL, and an explicit one wins', () => {
    assert.equal(parse('swift://c?auth=https://ks:5000/v2.0').authVersion, 2);
    assert.equal(parse('swift://c?auth=https://ks:5000/v3/').authVersion, 3);
    assert.equal(parse('swift://c?auth=https://ks:5000/identity').authVersion, 3);
    assert.equal(parse('swift://c?auth=https://ks:5000/identity&auth-version=2').authVersion, 2);
    rejects('Usage', 'swift://c?auth=https://ks/v3&auth-version=4');
  });

  it('takes Keystone scope from the URL before the OS_* environment', () => {
    const env = { ...creds, OS_PROJECT_NAME: 'envproj', OS_USER_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionOne' };
    const c = parse('swift://c/p?auth=https://ks:5000/v3&tenant=urlproj&project-domain=pd', env);
    assert.equal(c.tenantName, 'urlproj');
    assert.equal(c.domainName, 'Default');
    assert.equal(c.projectDomainName, 'pd');
    assert.equal(c.region, 'RegionOne');
    assert.equal(c.tenantId, undefined);
  });

  it('falls back to OS_AUTH_URL and other credential variables', () => {
    const c = parse('swift://c', { OS_AUTH_URL: 'https://ks/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p' });
    assert.deepEqual([c.authUrl, c.username, c.password], ['https://ks/v3', 'u', 'p']);
    assert.equal(c.displayUrl, 'swift://c?auth=https://ks/v3', 'the auth URL in use is shown');
    const st = parse('swift://c', { ST_AUTH: 'http://h/auth/v1.0', ST_USER: 'a:b', ST_KEY: 'k' });
    assert.deepEqual([st.authVersion, st.username, st.password], [1, 'a:b', 'k']);
  });

  it('rejects missing credentials with Auth, and malformed URLs with Usage', () => {
    rejects('Auth', 'swift://c?auth=http://h/auth/v1.0', {});
    rejects('Auth', 'swift://c?auth=http://h/auth/v1.0', { SWIFT_USERNAME: 'only-user' });
    rejects('Usage', 'swift://c/p'); // no auth URL anywhere
    rejects('Usage', 'swift://c?auth=not a url');
    rejects('Usage', 'swift://c?auth=ftp://h/');
    rejects('Usage', 'swift://c?auth=http://u:pw@h/auth/v1.0');
    rejects('Usage', 'swift://user:secret@c?auth=http://h/auth/v1.0');
    rejects('Usage', 'swift://user@c?auth=http://h/auth/v1.0');
    rejects('Usage', 'swift://c/a//b?auth=http://h/auth/v1.0');
    rejects('Usage', 'swift://c?auth=http://h/auth/v1.0&key=secret');
  });

  it('never puts a secret in displayUrl', () => {
    const c = parse('swift://c/p?auth=http://h/auth/v1.0', { SWIFT_USERNAME: 'u', SWIFT_PASSWORD: 'hunter2' });
    assert.ok(!c.displayUrl.includes('hunter2'));
  });
});

describe('pkgcloudOptions', () => {
  it('strips the version path pkgcloud appends itself', () => {
    const v1 = pkgcloudOptions(parse('swift://c?auth=http://127.0.0.1:18080/auth/v1.0'));
    assert.deepEqual(v1, { provider: 'openstack', authUrl: 'http://127.0.0.1:18080', username: 'test:tester', password: 'testing', version: 1, useServiceCatalog: false });
    const v2 = pkgcloudOptions(parse('swift://c?auth=https://ks:5000/v2.0/&tenant=t'));
    assert.equal(v2.authUrl, 'https://ks:5000');
    assert.equal(v2.keystoneAuthVersion, 'v2.0');
    assert.equal(v2.tenantName, 't');
    const v3 = pkgcloudOptions(parse('swift://c?auth=https://ks:5000/v3&region=R&domain=D'));
    assert.deepEqual(
      [v3.authUrl, v3.keystoneAuthVersion, v3.region, v3.domainName, v3.useServiceCatalog],
      ['https://ks:5000', 'v3', 'R', 'D', true],
    );
    assert.ok(!('tenantName' in v3), 'absent settings are not passed as undefined');
  });
});
