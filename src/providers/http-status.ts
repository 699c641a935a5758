/**
 * How the HTTP-speaking adapters (swift, azure, webdav) classify a failed request. Pure: each
 * adapter's `translateError` extracts the status or socket error code from its SDK's error shape and
 * asks here, so the four error classes mean the same thing on every HTTP backend.
 */
import type { ErrorCode } from '../errors.js';

/** The provider-level class of an HTTP status that is not a success. */
export function classifyHttpStatus(status: number): Extract<ErrorCode, 'NotFound' | 'Auth' | 'Transient' | 'Permanent'> {
  if (status === 404 || status === 410) return 'NotFound';
  if (status === 401 || status === 403) return 'Auth';
  // 408 request timeout, 425 too early, 429 throttled, 5xx server trouble (501: not implemented is final).
  if (status === 408 || status === 425 || status === 429) return 'Transient';
  if (status >= 500 && status !== 501 && status !== 505) return 'Transient';
  return 'Permanent';
}

/** Socket-level failures (errno codes and undici's) that a later attempt may not meet. */
const transientNetworkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND', // DNS may be down for a moment; a wrong host name fails every retry, and says so
  'ESOCKETTIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'REQUEST_SEND_ERROR', // @azure/core-rest-pipeline's wrapper for a socket error
]);

export function isTransientNetworkCode(code: unknown): boolean {
  return typeof code === 'string' && transientNetworkCodes.has(code);
}

/** The first socket error code found on `err` or its `cause` chain (fetch wraps it in `cause`). */
export function networkCodeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (isTransientNetworkCode(code)) return code as string;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
