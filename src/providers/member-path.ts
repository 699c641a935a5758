/**
 * The folder part of a member URL (`…/backups/raic` in `swift://c/backups/raic`), turned into the
 * prefix every key is stored under. Pure; shared by the adapters whose URLs carry a folder.
 */
import { RaicError } from '../errors.js';

/**
 * `'/a/b/'`, `'a/b'` → `'a/b/'`; `''` or `'/'` → `''`. Percent-escapes are decoded. Rejects (`Usage`)
 * `.`/`..` segments and empty segments (`a//b`): a folder must name one place on every backend.
 */
export function folderPrefix(path: string, memberUrl: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw new RaicError('Usage', `bad percent-escape in the path of ${memberUrl}`);
  }
  const trimmed = decoded.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new RaicError('Usage', `the path of ${memberUrl} has an empty, "." or ".." segment`);
  }
  return `${trimmed}/`;
}

/** Members never carry secrets in their URL: they would end up in config files, logs and shell history. */
export function refuseUrlPassword(url: URL, envHint: string): void {
  if (url.password !== '') {
    const shown = new URL(url.href);
    shown.password = '***';
    throw new RaicError('Usage', `${shown.href} contains a password`, {
      hint: `remove it from the URL and set ${envHint} instead`,
    });
  }
}

/**
 * `?a=b&c=d` for a displayUrl: escapes only what would break the query apart, so URLs stay readable
 * (`+` is kept: the adapters read it back as `+`, and base64 fingerprints are full of it).
 */
export function readableQuery(params: Iterable<[string, string]>): string {
  const esc = (s: string) => s.replace(/[%&#=\s]/g, (c) => encodeURIComponent(c));
  const parts = [...params].map(([k, v]) => `${esc(k)}=${esc(v)}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}
