/**
 * `s3://bucket/prefix?endpoint=…&region=…&path-style=…` — Amazon S3 or any S3-compatible server,
 * through AWS SDK v3. Object key `k` is `prefix + k` in the bucket.
 *
 * Settings chosen for S3-compatible servers (OpenStack Swift's s3api in particular, SERVERS.md):
 * checksums only when an operation requires them (a default stream checksum is sent aws-chunked,
 * which Swift answers 501); no conditional PUT (Swift answers 501), so `conditionalPut: false`;
 * deletes one by one (DeleteObjects needs a Content-MD5 the SDK no longer sends). The SDK's own
 * retries are off: `withRetry` owns retries, so attempts and timeouts are counted in one place.
 * A call's signal is the SDK's `abortSignal` (it destroys the request, and with it the socket); a put's
 * body is a counting stream of the buffer with its ContentLength, so progress is what the socket took
 * (and the payload is sent UNSIGNED-PAYLOAD: the SDK hashes only bodies it holds whole).
 */
import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type { BucketLocationConstraint, GetObjectCommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as CredentialProviders from '@aws-sdk/credential-providers';
import { RaicError, isRaicError } from '../errors.js';
import { readGetBody, type ResponseBody } from './bounded-read.js';
import { cancelledError, countingReadable } from './progress.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import { parseS3Url, type S3Config } from './s3-config.js';
import { translateS3Error } from './s3-errors.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider, ProviderCapabilities } from './types.js';

export { parseS3Url, type S3Config } from './s3-config.js';

// The SDK is CommonJS and large: `require` compiles it once, where an ESM `import` of a CommonJS entry also
// scans it twice (format detection, then the export lexer): ~80 ms more before an s3 member's first request.
const require = createRequire(import.meta.url);
const { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client: S3ClientClass } =
  require('@aws-sdk/client-s3') as typeof ClientS3;
const { createCredentialChain, fromEnv, fromIni, fromProcess } = require('@aws-sdk/credential-providers') as typeof CredentialProviders;

/** Static keys, as the AWS environment variables give them. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

type CredentialSource = NonNullable<S3ClientConfig['credentials']>;

export interface S3ProviderOptions {
  /** Credentials to use instead of the environment/profile chain (embedding, tests). */
  credentials?: S3Credentials;
  /** TCP connect timeout. Default 5 s: a reachable endpoint accepts in well under that. */
  connectionTimeoutMs?: number;
  /** A request whose socket stays silent this long is abandoned. Default 60 s. This is only a
   * backstop for hung sockets; the per-request deadline is withRetry's. */
  socketTimeoutMs?: number;
  /** Keys per ListObjectsV2 page. Default 1000, S3's maximum; smaller only to test paging cheaply. */
  listPageSize?: number;
}

const CREDENTIAL_HINT =
  'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or AWS_PROFILE naming a profile in ~/.aws/credentials or ~/.aws/config';

/**
 * Environment variables, then the shared credentials/config files (AWS_PROFILE or `?profile=`,
 * including `credential_process`). Deliberately not the SDK's default chain: its EC2/ECS
 * instance-metadata lookups send traffic off this machine and stall for seconds when absent.
 */
async function resolveCredentials(config: S3Config): Promise<CredentialSource> {
  const profile = config.profile;
  const fromProfiles = [fromIni(profile === undefined ? {} : { profile }), fromProcess(profile === undefined ? {} : { profile })];
  // A profile named in the URL wins over environment keys; otherwise the usual order.
  const chain = profile === undefined ? createCredentialChain(fromEnv(), ...fromProfiles) : createCredentialChain(...fromProfiles);
  let found: S3Credentials;
  try {
    found = await chain();
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/\s+/g, ' ').trim() : String(err);
    throw new RaicError(
      'Auth',
      `${config.displayUrl}: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (${why})`,
      { cause: err, hint: CREDENTIAL_HINT },
    );
  }
  // Expiring credentials (SSO, assumed roles) must be re-resolved: hand the SDK the chain.
  return found.expiration === undefined ? found : chain;
}

class S3Provider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities = { conditionalPut: false, reportsProgress: true };
  private readonly endpointLabel: string;

  constructor(
    private readonly client: S3Client,
    private readonly config: S3Config,
    private readonly region: string,
    private readonly listPageSize: number,
  ) {
    this.displayUrl = config.displayUrl;
    this.endpointLabel = config.endpoint ?? `the AWS S3 endpoint of ${region}`;
  }

  private fail(err: unknown, op: string, key?: string, signal?: AbortSignal): RaicError {
    if (signal?.aborted) return cancelledError(`${this.displayUrl}: ${op}${key === undefined ? '' : ` ${key}`}`, signal);
    return translateS3Error(err, {
      displayUrl: this.displayUrl,
      endpoint: this.endpointLabel,
      op,
      ...(key === undefined ? {} : { key }),
    });
  }

  private objectKey(key: string): string {
    checkKey(key, this.displayUrl);
    return this.config.prefix + key;
  }

  async prepare(): Promise<void> {
    const Bucket = this.config.bucket;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket }));
      return;
    } catch (err) {
      const e = this.fail(err, 'prepare');
      if (e.code !== 'NotFound' && e.code !== 'Permanent') throw e;
    }
    try {
      // us-east-1 is S3's default location and must not be named; any other region must be.
      const where = this.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: this.region as BucketLocationConstraint } };
      await this.client.send(new CreateBucketCommand({ Bucket, ...where }));
    } catch (err) {
      // Lost a race with another prepare(), or the bucket is ours already: fine if it now answers.
      try {
        await this.client.send(new HeadBucketCommand({ Bucket }));
      } catch {
        throw this.fail(err, 'prepare');
      }
    }
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    try {
      const Body = countingReadable(body, opts);
      await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key, Body, ContentLength: body.byteLength }), sendOptions(opts));
    } catch (err) {
      throw this.fail(err, 'put', key, opts.signal);
    }
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    const Key = this.objectKey(key);
    if (range !== undefined) checkRange(range, this.displayUrl, key);
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.config.bucket,
          Key,
          ...(range === undefined ? {} : { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` }),
        }),
        sendOptions(opts),
      );
    } catch (err) {
      const e = this.fail(err, 'get', key, opts.signal);
      // 416: the range starts at or past the end of an object that exists: no bytes there.
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (range !== undefined && (status === 416 || (err as { name?: string }).name === 'InvalidRange')) return Buffer.alloc(0);
      throw e;
    }
    try {
      if (out.Body === undefined) throw new RaicError('Transient', `${this.displayUrl}: get ${key}: answer had no body`);
      // In Node the body is the response stream itself (an IncomingMessage): read it bounded.
      const answer = { body: out.Body as unknown as ResponseBody, partial: out.$metadata.httpStatusCode === 206, length: out.ContentLength };
      return await readGetBody(answer, this.displayUrl, key, range, opts);
    } catch (err) {
      throw this.fail(err, 'get', key, opts.signal);
    }
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    const Key = this.objectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key }), sendOptions(opts));
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      throw this.fail(err, 'head', key, opts.signal);
    }
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    const strip = this.config.prefix.length;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: this.config.prefix + prefix,
            MaxKeys: this.listPageSize,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          sendOptions(opts),
        );
      } catch (err) {
        throw this.fail(err, 'list', prefix, opts.signal);
      }
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined) continue;
        yield { key: obj.Key.slice(strip), size: obj.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key }), sendOptions(opts));
    } catch (err) {
      const e = this.fail(err, 'delete', key, opts.signal);
      if (isRaicError(e, 'NotFound')) return; // already absent
      throw e;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

const SILENT = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, trace: () => undefined };

/** The SDK's per-call options: the signal, if any. */
function sendOptions(opts: CallOptions): { abortSignal?: AbortSignal } {
  return opts.signal === undefined ? {} : { abortSignal: opts.signal };
}

/** Opens an S3 member. Rejects `Usage` for a malformed URL, `Auth` when no credentials are found. */
export async function createS3Provider(url: URL, options: S3ProviderOptions = {}): Promise<Provider> {
  const config = parseS3Url(url);
  const region = config.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const credentials = options.credentials ?? (await resolveCredentials(config));
  // The SDK prints a multi-line notice about its future Node requirement on every run; raic's
  // cron users cannot act on it and it would break quiet output. An explicit setting wins.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const client = new S3ClientClass({
    region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    forcePathStyle: config.forcePathStyle,
    credentials,
    maxAttempts: 1,
    // Providers never log; without a logger of its own the SDK warns on the console whenever a put sent
    // as a stream fails ("non-retryable streaming request"), e.g. each cancelled attempt.
    logger: SILENT,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK sends `Expect: 100-continue` on puts of 2 MB or more (every pack object), and sends each such put
    // on a new connection of its own (a keep-alive-less agent): a TCP (and TLS) handshake plus a round trip for
    // the 100 before the first byte. A first backup over 50 ms links took ~5% longer with it; what it saves, a
    // body not sent when the server rejects the headers, is rare here (a bad credential fails the small objects
    // first).
    expectContinueHeader: false,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
    },
  });
  return new S3Provider(client, config, region, options.listPageSize ?? 1000);
}
