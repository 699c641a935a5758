/**
 * Host-key checking for the SFTP adapter: OpenSSH fingerprints and known_hosts lookup. Pure.
 *
 * A *key blob* is the SSH wire encoding of a public key: what ssh2 hands to `hostVerifier` and what
 * a known_hosts line carries in base64. Supported known_hosts syntax: comma-separated host patterns
 * with `*`/`?` wildcards and `!` negation, `[host]:port` for non-22 ports, hashed hosts
 * (`|1|salt|hmac`), and the `@revoked` marker. `@cert-authority` lines are skipped (no certificates).
 */
import { createHash, createHmac } from 'node:crypto';

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string }
  | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; fingerprint: string };

/**
 * Decides whether `blob` is the right key for host:port. A pinned fingerprint is the whole truth
 * when given; otherwise the known_hosts text (empty if the file is absent) is consulted.
 */
export function verifyHostKey(blob: Uint8Array, host: string, port: number, pin: { fingerprint?: string; knownHosts: string }): HostKeyVerdict {
  const fingerprint = fingerprintOf(blob);
  if (pin.fingerprint !== undefined) {
    return fingerprint === pin.fingerprint ? { ok: true, fingerprint } : { ok: false, reason: 'mismatch', fingerprint };
  }
  const name = port === 22 ? host : `[${host}]:${port}`;
  const wanted = Buffer.from(blob).toString('base64');
  let sawHost = false;
  let match = false;
  for (const entry of parseKnownHosts(pin.knownHosts)) {
    if (entry.marker === 'cert-authority' || !hostMatches(entry.hosts, name)) continue;
    const same = entry.keyBase64 === wanted;
    if (entry.marker === 'revoked') {
      if (same) return { ok: false, reason: 'revoked', fingerprint };
      continue;
    }
    sawHost = true;
    if (same) match = true;
  }
  if (match) return { ok: true, fingerprint };
  return { ok: false, reason: sawHost ? 'mismatch' : 'unknown', fingerprint };
}

export interface KnownHostsEntry {
  marker?: 'revoked' | 'cert-authority';
  hosts: string;
  keyType: string;
  keyBase64: string;
}

export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0].slice(1) as KnownHostsEntry['marker'];
      fields.shift();
    } else if (fields[0]?.startsWith('@')) {
      continue;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) continue;
    entries.push({ ...(marker === undefined ? {} : { marker }), hosts, keyType, keyBase64 });
  }
  return entries;
}

/** OpenSSH's rule: some positive pattern matches and no negated pattern does. */
export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedHostMatches(patterns, name);
  let positive = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    if (!globMatches(negated ? p.slice(1) : p, name)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

function hashedHostMatches(field: string, name: string): boolean {
  const [, , salt, hash] = field.split('|');
  if (salt === undefined || hash === undefined) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

function globMatches(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** What the user sees when a host key is refused: the fingerprint and two ways to pin it. */
export function hostKeyRefusal(verdict: Exclude<HostKeyVerdict, { ok: true }>, host: string, port: number, knownHostsFile: string): { message: string; hint: string } {
  const target = port === 22 ? host : `[${host}]:${port}`;
  const scan = `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host} >> ${knownHostsFile}`;
  const pin = `add ?fingerprint=${verdict.fingerprint} to the member URL, or run \`${scan}\` after checking the fingerprint with the server's admin`;
  switch (verdict.reason) {
    case 'unknown':
      return { message: `unknown SSH host key for ${target} (${verdict.fingerprint}): refusing to connect`, hint: pin };
    case 'revoked':
      return { message: `the SSH host key of ${target} (${verdict.fingerprint}) is marked @revoked in ${knownHostsFile}`, hint: 'do not connect: ask the server admin' };
    case 'mismatch':
      return {
        message: `SSH host key of ${target} does not match the pinned key (server sent ${verdict.fingerprint}): possible man-in-the-middle`,
        hint: 'if the server key was changed on purpose, update the fingerprint or known_hosts entry',
      };
  }
}
