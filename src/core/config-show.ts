/**
 * config show: the local config as a user may safely paste it into a bug report — path, array id,
 * k, n, the members in share order with any secret in their URLs masked, and for each member which
 * credential environment variables its scheme reads and whether each is set. Values are never read
 * out, only tested for presence. Needs no passphrase and contacts no member.
 */
import { credentialVariables } from '../providers/index.js';
import { readLocalConfig } from './local-config.js';

export interface CredentialVariable {
  name: string;
  /** Present and non-empty (the adapters treat an empty variable as absent). */
  set: boolean;
}

export interface MemberView {
  /** Share index: member i holds share i. */
  index: number;
  /** The member URL with passwords and secret-looking query parameters replaced by `***`. */
  url: string;
  /** URL scheme without the colon (`s3`, `webdav+http`…); '' when the URL does not parse. */
  scheme: string;
  /** Every environment variable this scheme's adapter reads for credentials or auth, in its order of preference. */
  variables: CredentialVariable[];
}

export interface ConfigView {
  configPath: string;
  arrayId: string;
  k: number;
  n: number;
  members: MemberView[];
}

/** Re-exported: the list itself lives beside each adapter's entry in the provider registry. */
export { credentialVariables };

export async function showConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigView> {
  const config = await readLocalConfig(configPath);
  return {
    configPath,
    arrayId: config.arrayId,
    k: config.k,
    n: config.n,
    members: config.members.map((url, index) => {
      const scheme = schemeOf(url);
      return {
        index,
        url: maskUrl(url),
        scheme,
        variables: credentialVariables(scheme).map((name) => ({ name, set: (env[name] ?? '') !== '' })),
      };
    }),
  };
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? m[1]!.toLowerCase() : '';
}

/** Query parameter names that may carry a secret (SAS `sig`, `X-Amz-Signature`, `token`, `apikey`, …). */
const SECRET_NAME = /sig|token|key|secret|passw|pwd|sas|credential|^pass$|^auth[-_]?token$/i;
const MASK = '***';

/**
 * `url` with every secret it could carry replaced by `***`: the password of `user:password@`, and the
 * value of each query (or fragment) parameter whose name looks secret. Parameter values that are
 * URLs themselves (`?endpoint=http://…`) are masked the same way. Everything else keeps the user's
 * own spelling, so the result can still be recognised (no re-encoding). Adapters already refuse
 * passwords in URLs; this is the belt to their braces, for configs written by hand or by old versions.
 */
export function maskUrl(url: string, depth = 0): string {
  let rest = url;
  let fragment = '';
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) {
    fragment = rest.slice(hashAt);
    rest = rest.slice(0, hashAt);
  }
  let query = '';
  const queryAt = rest.indexOf('?');
  if (queryAt >= 0) {
    query = rest.slice(queryAt);
    rest = rest.slice(0, queryAt);
  }
  rest = maskUserinfo(rest, url);
  const maskedQuery = query === '' ? '' : `?${maskParams(query.slice(1), depth)}`;
  const maskedFragment = fragment.includes('=') ? `#${maskParams(fragment.slice(1), depth)}` : fragment;
  return rest + maskedQuery + maskedFragment;
}

/** `scheme://user:secret@host/path` → `scheme://user:***@host/path` (query and fragment already cut off). */
function maskUserinfo(beforeQuery: string, whole: string): string {
  const sep = beforeQuery.indexOf('://');
  if (sep < 0) return beforeQuery;
  const start = sep + 3;
  const slash = beforeQuery.indexOf('/', start);
  const authorityEnd = slash < 0 ? beforeQuery.length : slash;
  let at = beforeQuery.lastIndexOf('@', authorityEnd - 1);
  if (at < start) {
    // A password containing '/' ends the authority early, and then the URL does not parse: in that
    // case take the last '@' anywhere before the query as the end of the userinfo.
    if (parses(whole)) return beforeQuery;
    at = beforeQuery.lastIndexOf('@');
    if (at < start) return beforeQuery;
  }
  const userinfo = beforeQuery.slice(start, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return beforeQuery;
  return `${beforeQuery.slice(0, start)}${userinfo.slice(0, colon)}:${MASK}${beforeQuery.slice(at)}`;
}

function parses(url: string): boolean {
  try {
    new URL(url);
    return true;
  } catch {
    return false;
  }
}

function maskParams(params: string, depth: number): string {
  return params
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      if (eq < 0) return pair;
      const rawValue = pair.slice(eq + 1);
      if (SECRET_NAME.test(decodeLoosely(rawName))) return `${rawName}=${MASK}`;
      if (depth >= 2) return pair;
      // A nested URL (S3's ?endpoint=, Swift's ?auth=): mask inside it, as typed or percent-encoded.
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rawValue)) return `${rawName}=${maskUrl(rawValue, depth + 1)}`;
      const decoded = decodeLoosely(rawValue);
      if (decoded !== rawValue && /^[a-z][a-z0-9+.-]*:\/\//i.test(decoded)) {
        const masked = maskUrl(decoded, depth + 1);
        if (masked !== decoded) return `${rawName}=${encodeURIComponent(masked)}`;
      }
      return pair;
    })
    .join('&');
}

function decodeLoosely(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
