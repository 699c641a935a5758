/**
 * The one check of object keys and list prefixes, shared by the adapters. raic owns naming
 * (types.ts: keys are `[a-z0-9/._-]`), so a key outside that set is a bug above the provider and is
 * refused rather than escaped; `..` and empty segments are refused so no key can leave a file
 * provider's directory. Byte ranges are checked here too.
 */
import { RaicError } from '../errors.js';
import type { ByteRange } from './types.js';

const KEY_CHARS = /^[a-z0-9/._-]*$/;
/** S3's limit; no backend raic uses allows less. */
const MAX_KEY_LENGTH = 1024;

function badSegment(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..';
}

/** Rejects `Permanent` unless `key` is a well-formed object key. */
export function checkKey(key: string, displayUrl: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !KEY_CHARS.test(key) || key.split('/').some(badSegment)) {
    throw new RaicError('Permanent', `${displayUrl}: invalid object key ${JSON.stringify(key)}`, {
      hint: 'keys are 1-1024 characters of [a-z0-9/._-], with no empty, "." or ".." segment',
    });
  }
}

/** Rejects `Permanent` unless `prefix` is empty or the start of a well-formed key. */
export function checkPrefix(prefix: string, displayUrl: string): void {
  if (prefix === '') return;
  // Every complete segment (all but the last, which may be cut short) must be a valid segment.
  const complete = prefix.split('/').slice(0, -1);
  if (prefix.length > MAX_KEY_LENGTH || !KEY_CHARS.test(prefix) || complete.some(badSegment)) {
    throw new RaicError('Permanent', `${displayUrl}: invalid list prefix ${JSON.stringify(prefix)}`, {
      hint: 'a prefix is the start of a key: [a-z0-9/._-], with no empty, "." or ".." segment',
    });
  }
}

/** Rejects `Permanent` for a range that is not two integers with offset >= 0 and length > 0. */
export function checkRange(range: ByteRange, displayUrl: string, key: string): void {
  if (!Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length) || range.offset < 0 || range.length <= 0) {
    throw new RaicError('Permanent', `${displayUrl}: get ${key}: invalid byte range ${JSON.stringify(range)}`);
  }
}
