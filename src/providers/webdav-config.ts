/**
 * Parses a WebDAV member URL plus the environment into the WebDAV adapter's settings. Pure.
 *
 *   webdav://HOST[:PORT]/PATH        over https
 *   webdav+http://HOST[:PORT]/PATH   over plain http (a LAN server, or a local test server)
 *
 * Basic auth from `WEBDAV_USERNAME` and `WEBDAV_PASSWORD` (a user name in the URL is accepted and
 * wins over `WEBDAV_USERNAME`; a password in the URL is refused).
 */
import { RaicError } from '../errors.js';
import { folderPrefix, refuseUrlPassword } from './member-path.js';

export interface WebdavConfig {
  /** `https://host:port` or `http://host:port`, no path. */
  origin: string;
  /** Server path of the member's collection: '/' or '/a/b/'. */
  root: string;
  username: string;
  password: string;
  /** webdav[+http]://[user@]host:port/path: no secret. */
  displayUrl: string;
}

type Env = Record<string, string | undefined>;

export function parseWebdavUrl(url: URL, env: Env): WebdavConfig {
  refuseUrlPassword(url, 'WEBDAV_PASSWORD');
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'webdav' && scheme !== 'webdav+http') {
    throw new RaicError('Usage', `not a WebDAV URL: ${scheme}:`, { hint: 'write webdav://HOST/PATH (https) or webdav+http://HOST/PATH' });
  }
  const authority = `${url.username === '' ? '' : `${url.username}@`}${url.host}`;
  const bare = `${scheme}://${authority}${url.pathname}`;
  if (url.hostname === '') throw new RaicError('Usage', `no host in ${bare}`, { hint: 'write webdav://HOST[:PORT]/PATH' });
  if (url.search !== '' || url.hash !== '') throw new RaicError('Usage', `${bare} takes no query or fragment`);
  const root = `/${folderPrefix(url.pathname, bare)}`;
  const username = url.username !== '' ? decodeURIComponent(url.username) : env.WEBDAV_USERNAME;
  const password = env.WEBDAV_PASSWORD;
  if (!username || password === undefined) {
    throw new RaicError('Auth', `no WebDAV credentials for ${bare}`, { hint: 'set WEBDAV_USERNAME and WEBDAV_PASSWORD' });
  }
  return {
    origin: `${scheme === 'webdav' ? 'https' : 'http'}://${url.host}`,
    root,
    username,
    password,
    displayUrl: `${scheme}://${authority}${root.replace(/\/$/, '')}`,
  };
}
