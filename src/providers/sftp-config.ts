/**
 * Parses an SFTP member URL plus the environment into the SFTP adapter's settings. Pure.
 *
 *   sftp://[USER@]HOST[:PORT]/ABS/PATH[?fingerprint=SHA256:…]   an absolute directory
 *   sftp://[USER@]HOST[:PORT]/~/REL/PATH                        relative to the login directory
 *
 * (the path convention of curl and the IETF sftp URI draft). USER defaults to `SFTP_USER`, then the
 * local user. Authentication, first found wins: the key file `SFTP_KEY_FILE` (or `?key=PATH`; the
 * env var keeps paths out of shared config), with `SFTP_KEY_PASSPHRASE` if it is encrypted; the ssh
 * agent at `SSH_AUTH_SOCK`; a password in `SFTP_PASSWORD`. Never a password in the URL.
 * Host key: pinned by `?fingerprint=SHA256:…` (as `ssh-keygen -lf` prints it), else looked up in
 * `SFTP_KNOWN_HOSTS` (default ~/.ssh/known_hosts). An unknown key is refused, never trusted on first use.
 */
import { RaicError } from '../errors.js';
import { folderPrefix, readableQuery, refuseUrlPassword } from './member-path.js';

export interface SftpConfig {
  host: string;
  port: number;
  username: string;
  /** '' (login directory), 'rel/dir/' or '/abs/dir/': prepended to every key. */
  base: string;
  keyFile?: string;
  passphrase?: string;
  agent?: string;
  password?: string;
  /** `SHA256:<base64 without padding>` when pinned in the URL. */
  fingerprint?: string;
  knownHostsFile: string;
  /** sftp://user@host:port/path[?fingerprint=…]: no secret, no key path. */
  displayUrl: string;
}

type Env = Record<string, string | undefined>;

export interface SftpDefaults {
  /** The local user name (os.userInfo().username). */
  localUser: string;
  /** The home directory (os.homedir()). */
  home: string;
}

const fingerprintPattern = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function parseSftpUrl(url: URL, env: Env, defaults: SftpDefaults): SftpConfig {
  refuseUrlPassword(url, 'SFTP_KEY_FILE (or SFTP_PASSWORD)');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 22 : Number(url.port);
  const username = url.username !== '' ? decodeURIComponent(url.username) : (env.SFTP_USER || defaults.localUser);
  const authority = `${username}@${url.host}`;
  const bare = `sftp://${authority}${url.pathname}`;
  if (host === '') throw new RaicError('Usage', `no host in ${bare}`, { hint: 'write sftp://USER@HOST[:PORT]/PATH' });
  for (const name of url.searchParams.keys()) {
    if (name !== 'fingerprint' && name !== 'key') {
      throw new RaicError('Usage', `unknown parameter "${name}" in ${bare}`, { hint: 'known parameters: fingerprint, key' });
    }
  }

  const base = baseDirectory(url.pathname, bare);
  // Base64 has '+', which a query string decodes as a space: undo that, fingerprints have no spaces.
  const fingerprint = url.searchParams.get('fingerprint')?.replace(/ /g, '+');
  if (fingerprint !== undefined && !fingerprintPattern.test(fingerprint)) {
    throw new RaicError('Usage', `fingerprint=${fingerprint} in ${bare} is not SHA256:<43 base64 characters>`, {
      hint: 'copy it from `ssh-keygen -lf <host key>.pub` or from raic’s unknown-host-key message',
    });
  }

  const keyFile = expandHome(env.SFTP_KEY_FILE || url.searchParams.get('key') || undefined, defaults.home);
  const agent = env.SSH_AUTH_SOCK || undefined;
  const password = env.SFTP_PASSWORD || undefined;
  if (keyFile === undefined && agent === undefined && password === undefined) {
    throw new RaicError('Auth', `no SSH credentials for ${bare}`, {
      hint: 'set SFTP_KEY_FILE to a private key (SFTP_KEY_PASSPHRASE if it is encrypted), run an ssh agent (SSH_AUTH_SOCK), or set SFTP_PASSWORD',
    });
  }

  const shown: [string, string][] = fingerprint === undefined ? [] : [['fingerprint', fingerprint]];
  return {
    host,
    port,
    username,
    base,
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(env.SFTP_KEY_PASSPHRASE ? { passphrase: env.SFTP_KEY_PASSPHRASE } : {}),
    ...(agent === undefined ? {} : { agent }),
    ...(password === undefined ? {} : { password }),
    ...(fingerprint === undefined ? {} : { fingerprint }),
    knownHostsFile: expandHome(env.SFTP_KNOWN_HOSTS || undefined, defaults.home) ?? `${defaults.home}/.ssh/known_hosts`,
    displayUrl: `sftp://${authority}${url.pathname.replace(/(.)\/+$/, '$1')}${readableQuery(shown)}`,
  };
}

/** `/abs/dir` → '/abs/dir/', `/` → '/', `/~` → '', `/~/rel` → 'rel/'. */
function baseDirectory(pathname: string, bare: string): string {
  if (pathname === '/~' || pathname.startsWith('/~/')) return folderPrefix(pathname.slice(2), bare);
  return `/${folderPrefix(pathname, bare)}`;
}

function expandHome(path: string | undefined, home: string): string | undefined {
  if (path === undefined) return undefined;
  return path === '~' || path.startsWith('~/') ? home + path.slice(1) : path;
}
