/**
 * The closed set of errors raic raises. Every layer throws `RaicError` with one of these codes so the
 * layers above can decide (retry, hedge, try another member, exit) without matching SDK messages.
 * Providers translate their SDK's errors into these codes in exactly one place each.
 */
export type ErrorCode =
  | 'NotFound' // the object / member / manifest does not exist
  | 'Exists' // create-once write found the key already present
  | 'Auth' // credentials missing or refused
  | 'Transient' // may succeed if retried: network, 5xx, throttling, timeout
  | 'Permanent' // will not succeed if retried: bad request, bucket missing, no space
  | 'Integrity' // bytes did not match their hash or failed authentication
  | 'Quorum' // fewer than the required members answered
  | 'Config' // local configuration missing or invalid
  | 'NoArray' // no array at the configured members
  | 'Usage' // the user asked for something malformed (bad flag, bad capability, bad URL)
  | 'WrongKey' // wrong passphrase or key
  | 'Locked' // could not take a lock
  | 'Cancelled'; // interrupted by signal or AbortSignal

export class RaicError extends Error {
  readonly code: ErrorCode;
  /** Optional hint printed after the message: what the user should do next. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RaicError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

export function isRaicError(err: unknown, code?: ErrorCode): err is RaicError {
  return err instanceof RaicError && (code === undefined || err.code === code);
}

/**
 * `work`'s value, or the Integrity error it rejected with: for callers to whom bytes that do not authenticate are
 * an answer to act on (rebuild them from other members), like openBatch's per-chunk results. Any other rejection
 * is rethrown.
 */
export async function integrityAsValue<T>(work: Promise<T>): Promise<T | RaicError> {
  try {
    return await work;
  } catch (err) {
    if (isRaicError(err, 'Integrity')) return err;
    throw err;
  }
}

/** Exit codes: restic's table where it has one (see DESIGN.md). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreadableSources: 3,
  degraded: 4,
  noArray: 10,
  locked: 11,
  wrongKey: 12,
  interrupted: 130,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!(err instanceof RaicError)) return ExitCode.failed;
  switch (err.code) {
    case 'Usage':
      return ExitCode.usage;
    case 'NoArray':
    case 'Config':
      return ExitCode.noArray;
    case 'WrongKey':
      return ExitCode.wrongKey;
    case 'Locked':
      return ExitCode.locked;
    case 'Cancelled':
      return ExitCode.interrupted;
    default:
      return ExitCode.failed;
  }
}

/** The error to throw when `signal` aborted: its reason if that is a RaicError (e.g. a lost lock), else Cancelled. */
export function abortError(signal: AbortSignal): RaicError {
  return signal.reason instanceof RaicError ? signal.reason : new RaicError('Cancelled', 'interrupted; nothing was committed');
}
