/**
 * Parses a Swift member URL plus the environment into the settings the Swift adapter needs. Pure.
 *
 *   swift://CONTAINER/PREFIX?auth=AUTH_URL[&auth-version=1|2|3][&region=R][&tenant=T][&tenant-id=ID]
 *                          [&domain=D][&project-domain=PD]
 *
 * - `auth`: the identity endpoint, e.g. `http://127.0.0.1:18080/auth/v1.0` (tempauth/swauth, "v1"),
 *   `https://keystone:5000/v2.0` or `https://keystone:5000/v3`. Falls back to `OS_AUTH_URL`/`ST_AUTH`.
 * - `auth-version`: inferred from the auth URL's last path segment when absent (`v1…` → 1,
 *   `v2…` → 2, otherwise 3).
 * - Keystone scope: `tenant` (project name; env `OS_PROJECT_NAME`/`OS_TENANT_NAME`), `tenant-id`
 *   (`OS_PROJECT_ID`/`OS_TENANT_ID`), `domain` (the user's domain, `OS_USER_DOMAIN_NAME`),
 *   `project-domain` (`OS_PROJECT_DOMAIN_NAME`), `region` (`OS_REGION_NAME`). URL beats env.
 * - Credentials only from the environment, never the URL: `SWIFT_USERNAME`/`SWIFT_PASSWORD`, else
 *   `OS_USERNAME`/`OS_PASSWORD`, else python-swiftclient's `ST_USER`/`ST_KEY`. For v1 the user is
 *   `account:user` (`test:tester`) and the password is the key.
 */
import { RaicError } from '../errors.js';
import { folderPrefix, readableQuery, refuseUrlPassword } from './member-path.js';

export type SwiftAuthVersion = 1 | 2 | 3;

export interface SwiftConfig {
  container: string;
  /** '' or 'a/b/': prepended to every key. */
  prefix: string;
  /** The auth URL as the user wrote it. */
  authUrl: string;
  authVersion: SwiftAuthVersion;
  username: string;
  password: string;
  region?: string;
  tenantName?: string;
  tenantId?: string;
  domainName?: string;
  projectDomainName?: string;
  /** swift://container/prefix?auth=… with only non-secret parameters. */
  displayUrl: string;
}

type Env = Record<string, string | undefined>;

const knownParams = new Set(['auth', 'auth-version', 'region', 'tenant', 'tenant-id', 'domain', 'project-domain']);

export function parseSwiftUrl(url: URL, env: Env): SwiftConfig {
  refuseUrlPassword(url, 'SWIFT_USERNAME and SWIFT_PASSWORD');
  const container = decodeURIComponent(url.host);
  const bare = `swift://${url.host}${url.pathname}`;
  if (container === '') {
    throw new RaicError('Usage', `no container in ${bare}`, { hint: 'write swift://CONTAINER/PREFIX?auth=AUTH_URL' });
  }
  if (url.username !== '') {
    throw new RaicError('Usage', `${bare} names a user before the container`, {
      hint: 'the user comes from SWIFT_USERNAME (or OS_USERNAME), not the URL',
    });
  }
  for (const name of url.searchParams.keys()) {
    if (!knownParams.has(name)) {
      throw new RaicError('Usage', `unknown parameter "${name}" in ${bare}`, {
        hint: `known parameters: ${[...knownParams].join(', ')}`,
      });
    }
  }
  const prefix = folderPrefix(url.pathname, bare);
  const q = (name: string): string | undefined => nonEmpty(url.searchParams.get(name));

  const authUrl = q('auth') ?? nonEmpty(env.OS_AUTH_URL) ?? nonEmpty(env.ST_AUTH);
  if (authUrl === undefined) {
    throw new RaicError('Usage', `no auth URL for ${bare}`, {
      hint: 'add ?auth=https://keystone.example:5000/v3 (or http://host:8080/auth/v1.0) or set OS_AUTH_URL',
    });
  }
  let parsedAuth: URL;
  try {
    parsedAuth = new URL(authUrl);
  } catch {
    throw new RaicError('Usage', `auth URL ${JSON.stringify(authUrl)} of ${bare} is not a URL`);
  }
  if (parsedAuth.protocol !== 'http:' && parsedAuth.protocol !== 'https:') {
    throw new RaicError('Usage', `auth URL of ${bare} must be http(s), not ${parsedAuth.protocol}`);
  }
  if (parsedAuth.username !== '' || parsedAuth.password !== '') {
    throw new RaicError('Usage', `the auth URL of ${bare} carries credentials`, {
      hint: 'remove them and set SWIFT_USERNAME and SWIFT_PASSWORD instead',
    });
  }
  const authVersion = parseAuthVersion(q('auth-version'), parsedAuth, bare);

  const username = nonEmpty(env.SWIFT_USERNAME) ?? nonEmpty(env.OS_USERNAME) ?? nonEmpty(env.ST_USER);
  const password = nonEmpty(env.SWIFT_PASSWORD) ?? nonEmpty(env.OS_PASSWORD) ?? nonEmpty(env.ST_KEY);
  if (username === undefined || password === undefined) {
    throw new RaicError('Auth', `no Swift credentials for ${bare}`, {
      hint: 'set SWIFT_USERNAME and SWIFT_PASSWORD (or OS_USERNAME/OS_PASSWORD, or ST_USER/ST_KEY)',
    });
  }

  const shown = [...url.searchParams].filter(([k]) => k !== 'auth');
  const displayUrl = `swift://${url.host}${prefix === '' ? '' : `/${prefix.slice(0, -1)}`}` + readableQuery([['auth', authUrl], ...shown]);

  return {
    container,
    prefix,
    authUrl,
    authVersion,
    username,
    password,
    ...defined('region', q('region') ?? nonEmpty(env.OS_REGION_NAME)),
    ...defined('tenantName', q('tenant') ?? nonEmpty(env.OS_PROJECT_NAME) ?? nonEmpty(env.OS_TENANT_NAME)),
    ...defined('tenantId', q('tenant-id') ?? nonEmpty(env.OS_PROJECT_ID) ?? nonEmpty(env.OS_TENANT_ID)),
    ...defined('domainName', q('domain') ?? nonEmpty(env.OS_USER_DOMAIN_NAME)),
    ...defined('projectDomainName', q('project-domain') ?? nonEmpty(env.OS_PROJECT_DOMAIN_NAME)),
    displayUrl,
  };
}

function parseAuthVersion(given: string | undefined, authUrl: URL, bare: string): SwiftAuthVersion {
  if (given !== undefined) {
    if (given === '1' || given === '2' || given === '3') return Number(given) as SwiftAuthVersion;
    throw new RaicError('Usage', `auth-version=${given} in ${bare}: expected 1, 2 or 3`);
  }
  const last = authUrl.pathname.replace(/\/+$/, '').split('/').pop() ?? '';
  if (/^v1/.test(last)) return 1;
  if (/^v2/.test(last)) return 2;
  return 3;
}

/**
 * The options pkgcloud's OpenStack storage client wants. pkgcloud appends its own path to `authUrl`
 * (`/auth/v1.0` for v1, `/v2.0/tokens` or `/v3/auth/tokens` for Keystone), so the version suffix the
 * user wrote is removed here.
 */
export function pkgcloudOptions(cfg: SwiftConfig): Record<string, unknown> {
  const base = cfg.authUrl
    .replace(/\/+$/, '')
    .replace(cfg.authVersion === 1 ? /\/auth\/v1(\.0)?$/ : cfg.authVersion === 2 ? /\/v2(\.0)?$/ : /\/v3$/, '');
  const common = { provider: 'openstack', authUrl: base, username: cfg.username, password: cfg.password };
  if (cfg.authVersion === 1) return { ...common, version: 1, useServiceCatalog: false };
  return {
    ...common,
    keystoneAuthVersion: cfg.authVersion === 2 ? 'v2.0' : 'v3',
    useServiceCatalog: true,
    ...defined('region', cfg.region),
    ...defined('tenantName', cfg.tenantName),
    ...defined('tenantId', cfg.tenantId),
    ...defined('domainName', cfg.domainName),
    ...defined('projectDomainName', cfg.projectDomainName),
  };
}

function nonEmpty(v: string | null | undefined): string | undefined {
  return v === null || v === undefined || v === '' ? undefined : v;
}

function defined<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
