/**
 * The S3 adapter's single `translateError`: AWS SDK v3 errors (service exceptions, credential
 * errors, Node socket errors) into raic's codes, as one line that names the member. Pure, so it is
 * unit-tested without a server.
 */
import { RaicError, type ErrorCode } from '../errors.js';

export interface S3ErrorContext {
  /** The member, e.g. `s3://bucket/prefix`. */
  displayUrl: string;
  /** Where requests go, e.g. `http://127.0.0.1:18080`: named when it cannot be reached. */
  endpoint: string;
  /** What was being done: `put`, `get`, `list`, `prepare`... */
  op: string;
  key?: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errno?: number;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'timed out',
  ESOCKETTIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EHOSTDOWN: 'host down',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EADDRNOTAVAIL: 'address not available',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed early',
  UND_ERR_SOCKET: 'socket error',
};

/** Failures before a connection existed (the rest happened on an open connection). */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

const AUTH_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'Unauthorized',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidClientTokenId',
  'AccountProblem',
  'CredentialsProviderError',
]);

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** The Node socket error code inside `err`, looking through `cause` and AggregateError. */
function socketCode(err: SdkErrorShape | undefined, depth = 0): string | undefined {
  if (err === undefined || err === null || typeof err !== 'object' || depth > 4) return undefined;
  if (typeof err.code === 'string' && err.code in SOCKET_REASONS) return err.code;
  for (const inner of err.errors ?? []) {
    const c = socketCode(inner as SdkErrorShape, depth + 1);
    if (c !== undefined) return c;
  }
  return socketCode(err.cause as SdkErrorShape | undefined, depth + 1);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function translateS3Error(err: unknown, ctx: S3ErrorContext): RaicError {
  if (err instanceof RaicError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SdkErrorShape;
  const subject = `${ctx.displayUrl}: ${ctx.op}${ctx.key === undefined ? '' : ` ${ctx.key}`}`;
  const make = (code: ErrorCode, message: string, hint?: string) =>
    new RaicError(code, message, hint === undefined ? { cause: err } : { cause: err, hint });

  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? '';
  const detail = oneLine(e.message ?? '');
  const label = [status, name !== '' && name !== 'Error' && name !== String(status) ? name : undefined]
    .filter((x) => x !== undefined)
    .join(' ');
  const extra = detail !== '' && detail !== name && detail !== 'UnknownError' ? detail : '';
  const inParens = [label, extra].filter((x) => x !== '').join(': ');
  const withDetail = (reason: string) => (inParens === '' ? reason : `${reason} (${inParens})`);

  // No HTTP answer at all: the endpoint could not be reached or dropped the connection.
  const sock = socketCode(e);
  if (sock !== undefined && status === undefined) {
    const verb = CONNECT_CODES.has(sock) ? 'cannot connect to' : 'lost connection to';
    return make('Transient', `${ctx.displayUrl}: ${verb} ${ctx.endpoint} (${SOCKET_REASONS[sock]})`);
  }
  if (name === 'TimeoutError' && status === undefined) {
    return make('Transient', `${ctx.displayUrl}: ${ctx.op} timed out talking to ${ctx.endpoint} (${detail})`);
  }
  if (name === 'CredentialsProviderError') {
    return make(
      'Auth',
      `${ctx.displayUrl}: no usable S3 credentials (${detail})`,
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials',
    );
  }
  if (name === 'NoSuchBucket') {
    return make('Permanent', `${ctx.displayUrl}: bucket does not exist`, '`raic init` creates the bucket of a new member');
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return make('NotFound', `${subject}: not found`);
  }
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    return make('Auth', `${subject}: ${withDetail('access denied')}`, 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile');
  }
  if (status === 501 || name === 'NotImplemented') {
    return make('Permanent', `${subject}: ${withDetail('not supported by this server')}`);
  }
  if (TRANSIENT_NAMES.has(name) || status === 408 || status === 429 || (status !== undefined && status >= 500)) {
    return make('Transient', `${subject}: ${withDetail('server busy or failing')}`);
  }
  if (status !== undefined && status >= 400) {
    return make('Permanent', `${subject}: ${withDetail('request refused')}`);
  }
  // No status and nothing recognised: most likely the transport (a garbled or cut-off answer).
  return make('Transient', `${subject}: ${withDetail('unexpected error')}`);
}
