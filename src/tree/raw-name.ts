/**
 * File names (and symlink targets) that are not valid UTF-8 — Latin-1 names from old systems, names from
 * broken tools. POSIX names are bytes; JavaScript strings are not, and decoding such a name to a string
 * replaces the odd bytes with U+FFFD, after which the file cannot even be opened.
 *
 * Encoding (part of the tree-blob format): a name or target that is valid UTF-8 is stored as itself; any
 * other is stored as NUL + base64url(raw bytes). NUL can appear in no file name or symlink target, so the
 * two never collide. Internally raic keeps paths as strings made of such names; `fsPath` turns one back
 * into the exact bytes for a file system call, `displayPath` into a readable form with the odd bytes
 * shown as \xNN.
 */
import { isUtf8 } from 'node:buffer';

const RAW = '\u0000';

/** A name (or symlink target) read as bytes, in raic's string form. */
export function nameFromBytes(raw: Buffer): string {
  return isUtf8(raw) ? raw.toString('utf8') : `${RAW}${raw.toString('base64url')}`;
}

/**
 * Whether `name` (read from a tree blob) is one path component in raic's string form: not empty, ".", "..",
 * without "/" or NUL; or NUL + the canonical base64url of bytes that are not UTF-8 (nameFromBytes' form),
 * themselves without "/" or NUL. Restore joins names to a path: any other name could point outside the target.
 */
export function isNameComponent(name: unknown): boolean {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/')) return false;
  if (!name.startsWith(RAW)) return !name.includes(RAW);
  const raw = Buffer.from(name.slice(1), 'base64url');
  return raw.length > 0 && !isUtf8(raw) && !raw.includes(0x2f) && !raw.includes(0) && raw.toString('base64url') === name.slice(1);
}

/** The bytes a name or target in raic's string form stands for. */
export function bytesOfName(name: string): Buffer {
  return name.startsWith(RAW) ? Buffer.from(name.slice(1), 'base64url') : Buffer.from(name, 'utf8');
}

/** A path made of such names, as the file system needs it: the string itself when every part is UTF-8. */
export function fsPath(path: string): string | Buffer {
  if (!path.includes(RAW)) return path;
  return Buffer.concat(path.split('/').flatMap((part, i) => (i === 0 ? [bytesOfName(part)] : [Buffer.from('/'), bytesOfName(part)])));
}

/** For messages and listings: parts that are not UTF-8 shown with their odd bytes as \xNN. */
export function displayPath(path: string): string {
  if (!path.includes(RAW)) return path;
  return path
    .split('/')
    .map((part) => (part.startsWith(RAW) ? showBytes(bytesOfName(part)) : part))
    .join('/');
}

/** Valid UTF-8 runs as text, every other byte as \xNN. */
function showBytes(raw: Buffer): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    // Longest valid UTF-8 run starting at i (sequences are at most 4 bytes).
    let j = i;
    while (j < raw.length) {
      const len = raw[j]! < 0x80 ? 1 : raw[j]! >= 0xf0 ? 4 : raw[j]! >= 0xe0 ? 3 : raw[j]! >= 0xc2 ? 2 : 0;
      if (len === 0 || j + len > raw.length || !isUtf8(raw.subarray(j, j + len))) break;
      j += len;
    }
    out += raw.subarray(i, j).toString('utf8');
    if (j < raw.length) out += `\\x${raw[j]!.toString(16).padStart(2, '0')}`;
    i = j + 1;
  }
  return out;
}
