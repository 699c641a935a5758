/**
 * provider test: what a user runs before trusting a member. A short, non-destructive exercise of one
 * provider through the whole Provider interface, under a scratch prefix that it removes afterwards:
 * list, write, read back, ranged read, head, list again, a missing key, create-once (when the
 * adapter claims it), latency, throughput, delete. It stops at the first failure and names it in
 * one phrase ("auth refused", "unreachable", "create-once not honoured"); the full error stays beside it.
 *
 * Scratch objects are flat names in one folder (`raic-provider-test/<16 hex>-small`), so listing them
 * never walks the member's own data, and a hierarchical backend (file, sftp, webdav) keeps at most
 * one empty `raic-provider-test/` folder: the Provider interface has no way to remove folders.
 */
import { randomBytes } from 'node:crypto';
import { RaicError, isRaicError, type ErrorCode } from '../errors.js';
import { MAX_OBJECT_BYTES, openProvider, withRetry, type ObjectInfo, type Provider } from '../providers/index.js';
import { maskUrl } from './config-show.js';

export type Permission = 'read' | 'write' | 'list' | 'delete';
export type PermissionState = 'ok' | 'denied' | 'failed' | 'untested';

/** The steps, in the order they run. */
export type StepName =
  | 'open'
  | 'prepare'
  | 'list-empty'
  | 'put'
  | 'get'
  | 'range'
  | 'head'
  | 'list'
  | 'missing'
  | 'create-once'
  | 'latency'
  | 'bulk-put'
  | 'bulk-get'
  | 'delete';

export interface StepResult {
  step: StepName;
  ok: boolean;
  /** Wall time of the step. */
  ms: number;
}

export interface ProviderTestFailure {
  step: StepName;
  /** One phrase for a table cell: "auth refused", "unreachable", "read back wrong bytes"… */
  phrase: string;
  /** The error's code, or `Mismatch` when the provider answered but with the wrong thing. */
  code: ErrorCode | 'Mismatch' | 'Internal';
  /** The full one-line message (the adapter's, which names the member). */
  message: string;
  hint?: string;
}

export interface ProviderTestResult {
  /** The member's display URL (no secrets). */
  url: string;
  ok: boolean;
  /** The first failure; null when every step passed. */
  failure: ProviderTestFailure | null;
  steps: StepResult[];
  permissions: Record<Permission, PermissionState>;
  /** `not offered`: the adapter does not claim create-once (puts may overwrite), which is not a failure. */
  createOnce: 'honoured' | 'not honoured' | 'not offered' | 'untested';
  /** Median of `latencyRounds` head requests of a small object, in ms; null if not measured. */
  latencyMs: number | null;
  /** Put and get of `bulkBytes` random bytes, in MB/s (10^6 bytes per second); null if not measured. */
  putMBps: number | null;
  getMBps: number | null;
  bulkBytes: number;
  /** Retries the retry wrapper made (0 when the caller did not wrap the provider). */
  retries: number;
  /** Where the test objects went (a key prefix inside the member). */
  scratchPrefix: string;
  /** Test objects still present after clean-up; null when that could not be listed. */
  leftover: number | null;
  /** Facts worth showing even on success ("no create-once", "2 retries"). */
  notes: string[];
}

export interface ProviderTestOptions {
  /** Bytes moved by the throughput step (one put, one get). Default 8 MiB: long enough to measure a
   * fast link, short enough for a slow one (8 s at 1 MB/s). Held in memory twice (sent and read back).
   * At most MAX_BULK_BYTES: a whole get returns no more. */
  bulkBytes?: number;
  /** Head requests whose median is the latency. Default 7. */
  latencyRounds?: number;
  /** Call provider.prepare() first (creates the bucket / container / directory if missing). Default false:
   * the test then writes nothing outside its scratch prefix. */
  prepare?: boolean;
}

const MiB = 1024 * 1024;
/** The largest throughput object: the largest a whole get returns (providers/types.ts). */
export const MAX_BULK_BYTES = MAX_OBJECT_BYTES;
export const SCRATCH_FOLDER = 'raic-provider-test/';
/** Small object: a few KiB, an odd size so a server that pads or truncates shows. */
const SMALL_BYTES = 4099;
const RANGE = { offset: 1000, length: 2000 };

const PERMISSION_OF: Record<StepName, Permission | null> = {
  open: null,
  prepare: 'write',
  'list-empty': 'list',
  put: 'write',
  get: 'read',
  range: 'read',
  head: 'read',
  list: 'list',
  missing: 'read',
  'create-once': 'write',
  latency: 'read',
  'bulk-put': 'write',
  'bulk-get': 'read',
  delete: 'delete',
};

const LABEL: Record<StepName, string> = {
  open: 'open',
  prepare: 'prepare',
  'list-empty': 'list',
  put: 'write',
  get: 'read',
  range: 'ranged read',
  head: 'head',
  list: 'list',
  missing: 'missing-key read',
  'create-once': 'create-once',
  latency: 'latency probe',
  'bulk-put': 'bulk write',
  'bulk-get': 'bulk read',
  delete: 'delete',
};

/** A provider answered, but not what the interface promises. */
class Mismatch extends Error {
  constructor(
    readonly phrase: string,
    message: string,
  ) {
    super(message);
  }
}

function emptyResult(url: string, bulkBytes: number, scratchPrefix: string): ProviderTestResult {
  return {
    url,
    ok: false,
    failure: null,
    steps: [],
    permissions: { read: 'untested', write: 'untested', list: 'untested', delete: 'untested' },
    createOnce: 'untested',
    latencyMs: null,
    putMBps: null,
    getMBps: null,
    bulkBytes,
    retries: 0,
    scratchPrefix,
    leftover: null,
    notes: [],
  };
}

/**
 * Runs every step against `provider` (which the caller opened and closes). Never rejects for a
 * provider failure: the result says what failed.
 */
export async function testProvider(provider: Provider, options: ProviderTestOptions = {}): Promise<ProviderTestResult> {
  const bulkBytes = options.bulkBytes ?? 8 * MiB;
  if (bulkBytes > MAX_BULK_BYTES) throw new RaicError('Usage', `the throughput object can be at most ${MAX_BULK_BYTES / MiB} MiB, the largest object raic reads whole`);
  const rounds = options.latencyRounds ?? 7;
  const scratch = `${SCRATCH_FOLDER}${randomBytes(8).toString('hex')}-`;
  const result = emptyResult(provider.displayUrl, bulkBytes, scratch);
  const small = `${scratch}small`;
  const bulk = `${scratch}bulk`;
  const smallBody = randomBytes(SMALL_BYTES);
  /** Keys a put was attempted on: a failed put may still have landed, so clean-up deletes them all. */
  const attempted = new Set<string>();
  let answered = false; // did the provider ever answer? ("unreachable" vs a later network failure)

  const step = async (name: StepName, fn: () => Promise<void>): Promise<void> => {
    const started = performance.now();
    try {
      await fn();
    } catch (err) {
      result.steps.push({ step: name, ok: false, ms: elapsed(started) });
      result.failure = describeFailure(name, err, answered);
      const perm = PERMISSION_OF[name];
      // Refused is a permission answer; a network failure says nothing about permissions.
      if (perm !== null) result.permissions[perm] = isRaicError(err, 'Auth') ? 'denied' : isRaicError(err, 'Transient') ? 'untested' : 'failed';
      throw err;
    }
    answered = true;
    result.steps.push({ step: name, ok: true, ms: elapsed(started) });
    const perm = PERMISSION_OF[name];
    if (perm !== null && result.permissions[perm] === 'untested') result.permissions[perm] = 'ok';
  };
  const put = async (key: string, body: Uint8Array): Promise<void> => {
    attempted.add(key);
    await provider.put(key, body);
  };

  try {
    if (options.prepare === true) await step('prepare', () => provider.prepare());
    await step('list-empty', async () => {
      const found = await collect(provider.list(scratch));
      if (found.length > 0) throw new Mismatch('list shows objects never written', `list of a fresh prefix ${scratch} returned ${found.length} objects (${found[0]!.key}, …)`);
    });
    await step('put', () => put(small, smallBody));
    await step('get', async () => {
      const back = await provider.get(small);
      if (!back.equals(smallBody)) throw new Mismatch('read back wrong bytes', `get ${small} returned ${back.length} bytes that differ from the ${smallBody.length} written`);
    });
    await step('range', async () => {
      const part = await provider.get(small, RANGE);
      const want = smallBody.subarray(RANGE.offset, RANGE.offset + RANGE.length);
      if (!part.equals(want)) {
        throw new Mismatch('ranged read wrong bytes', `get ${small} bytes ${RANGE.offset}+${RANGE.length} returned ${part.length} bytes that differ from what was written`);
      }
    });
    await step('head', async () => {
      const info = await provider.head(small);
      if (info.size !== SMALL_BYTES) throw new Mismatch('head reports wrong size', `head ${small} says ${info.size} bytes, ${SMALL_BYTES} were written`);
    });
    await step('list', async () => {
      const found = await collect(provider.list(scratch));
      const entry = found.find((o) => o.key === small);
      if (entry === undefined) throw new Mismatch('list misses a written object', `list ${scratch} did not return ${small} (got ${found.map((o) => o.key).join(', ') || 'nothing'})`);
      if (entry.size !== SMALL_BYTES) throw new Mismatch('list reports wrong size', `list says ${small} has ${entry.size} bytes, ${SMALL_BYTES} were written`);
    });
    await step('missing', async () => {
      try {
        await provider.get(`${scratch}absent`);
      } catch (err) {
        if (isRaicError(err, 'NotFound')) return;
        throw err;
      }
      throw new Mismatch('missing key not reported as not-found', `get of a key never written (${scratch}absent) resolved`);
    });
    if (provider.capabilities.conditionalPut) {
      await step('create-once', async () => {
        let second: unknown = null;
        try {
          await put(small, randomBytes(SMALL_BYTES));
        } catch (err) {
          second = err;
        }
        const kept = (await provider.get(small)).equals(smallBody);
        if (second === null || !kept) {
          result.createOnce = 'not honoured';
          throw new Mismatch(
            'create-once not honoured',
            `a second put of ${small} ${second === null ? 'succeeded' : 'was refused'} and the object ${kept ? 'kept' : 'lost'} its first contents; the adapter claims create-once`,
          );
        }
        if (!isRaicError(second, 'Exists')) throw second;
        result.createOnce = 'honoured';
      });
    } else {
      result.createOnce = 'not offered';
      result.notes.push('no create-once');
    }
    await step('latency', async () => {
      const times: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const started = performance.now();
        await provider.head(small);
        times.push(performance.now() - started);
      }
      result.latencyMs = round1(median(times));
    });
    const bulkBody = randomBytes(bulkBytes);
    await step('bulk-put', async () => {
      const started = performance.now();
      await put(bulk, bulkBody);
      result.putMBps = mbps(bulkBytes, performance.now() - started);
    });
    await step('bulk-get', async () => {
      const started = performance.now();
      const back = await provider.get(bulk);
      const ms = performance.now() - started;
      if (!back.equals(bulkBody)) throw new Mismatch('bulk read wrong bytes', `get ${bulk} returned ${back.length} bytes that differ from the ${bulkBytes} written`);
      result.getMBps = mbps(bulkBytes, ms);
    });
    await step('delete', async () => {
      await provider.delete(small);
      await provider.delete(bulk);
      try {
        await provider.head(small);
      } catch (err) {
        if (!isRaicError(err, 'NotFound')) throw err;
        try {
          await provider.delete(small);
        } catch (again) {
          throw new Mismatch('delete of an absent key fails', `deleting ${small} a second time rejected (the interface says it resolves): ${messageOf(again)}`);
        }
        return;
      }
      throw new Mismatch('delete did not remove the object', `head ${small} still answers after delete`);
    });
    result.ok = true;
  } catch {
    // Recorded by step(); the remaining steps are skipped.
  } finally {
    await cleanUp(provider, scratch, attempted, result);
  }
  return result;
}

/**
 * Deletes every key a put was attempted on, then counts what is left. Skipped when nothing was written,
 * and not retried into an unreachable server (that would only add minutes of waiting).
 */
async function cleanUp(provider: Provider, scratch: string, attempted: Set<string>, result: ProviderTestResult): Promise<void> {
  if (attempted.size === 0) {
    result.leftover = 0;
    return;
  }
  if (result.failure?.code !== 'Transient') {
    await Promise.allSettled([...attempted].map((key) => provider.delete(key)));
    try {
      result.leftover = (await collect(provider.list(scratch))).length;
    } catch {
      result.leftover = null;
    }
  }
  if (result.leftover !== 0) {
    result.notes.push(`${result.leftover === null ? 'test objects may remain' : `${result.leftover} test object${result.leftover === 1 ? '' : 's'} left`} under ${scratch}`);
  }
}

/** The phrase a user sees first, from the step and the error. */
export function describeFailure(step: StepName, err: unknown, answeredBefore: boolean): ProviderTestFailure {
  const label = LABEL[step];
  if (err instanceof Mismatch) return { step, phrase: err.phrase, code: 'Mismatch', message: err.message };
  if (!(err instanceof RaicError)) return { step, phrase: `${label}: unexpected error`, code: 'Internal', message: messageOf(err) };
  const perm = PERMISSION_OF[step];
  let phrase: string;
  switch (err.code) {
    case 'Auth':
      if (step === 'open') phrase = 'no credentials';
      else if (step === 'missing') phrase = 'missing key reported as auth error';
      else phrase = answeredBefore && perm !== null ? `${perm} not permitted` : 'auth refused';
      break;
    case 'Transient':
      phrase = answeredBefore ? `${label} failed (network or server)` : 'unreachable';
      break;
    case 'Usage':
      phrase = 'bad URL';
      break;
    case 'NotFound':
      phrase = `${label}: object not found after write`;
      break;
    case 'Exists':
      phrase = `${label}: key already exists`;
      break;
    case 'Cancelled':
      phrase = 'interrupted';
      break;
    default:
      phrase = step === 'missing' ? `missing key reported as ${err.code}` : `${label} failed`;
  }
  return { step, phrase, code: err.code, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) };
}

/**
 * Opens `memberUrl` the way every command does (openProvider + withRetry), tests it, closes it.
 * A URL that cannot be opened (malformed, missing credentials) is a failed result, not an exception,
 * so a table of many members always shows every row.
 */
export async function testMember(memberUrl: string, options: ProviderTestOptions = {}): Promise<ProviderTestResult> {
  let retries = 0;
  let provider: Provider;
  const started = performance.now();
  try {
    provider = withRetry(await openProvider(memberUrl), { onRetry: () => void retries++ });
  } catch (err) {
    const failed = emptyResult(maskUrl(memberUrl), options.bulkBytes ?? 8 * MiB, '');
    failed.steps.push({ step: 'open', ok: false, ms: elapsed(started) });
    failed.failure = describeFailure('open', err, false);
    failed.leftover = 0;
    return failed;
  }
  const opened: StepResult = { step: 'open', ok: true, ms: elapsed(started) };
  try {
    const result = await testProvider(provider, options);
    result.steps.unshift(opened);
    result.retries = retries;
    if (retries > 0) result.notes.push(`${retries} ${retries === 1 ? 'retry' : 'retries'}`);
    return result;
  } finally {
    await provider.close().catch(() => undefined);
  }
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of it) out.push(o);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function mbps(bytes: number, ms: number): number {
  return round1(bytes / 1e6 / (Math.max(ms, 0.001) / 1000));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function elapsed(since: number): number {
  return round1(performance.now() - since);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
