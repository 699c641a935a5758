/**
 * Azure Blob Storage through @azure/storage-blob, for `azure://ACCOUNT/CONTAINER/PREFIX`.
 * Credentials (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING) and
 * the `?endpoint=` parameter are documented in azure-config.ts.
 *
 * Create-once is Azure's own: a put carries `If-None-Match: *` and an existing blob answers 409.
 * The SDK's retry policy and download-resume retries are turned off: retrying is retry.ts's job.
 * A call's signal is the SDK's `abortSignal` (it aborts the request and its socket); a put's body is a
 * counting stream of the buffer, so progress is what the socket took; a get's is counted as read.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { RaicError } from '../errors.js';
import { parseAzureUrl, type AzureConfig } from './azure-config.js';
import { readGetBody } from './bounded-read.js';
import { cancelledError, countingReadable } from './progress.js';
import { classifyHttpStatus, networkCodeOf } from './http-status.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import type { ByteRange, CallOptions, ObjectInfo, Provider } from './types.js';

/** Blobs per listing request: Azure allows 5000; 1000 like the other adapters, so the conformance paging test crosses it. */
const LIST_PAGE = 1000;

/** `env` is where credentials are read (tests pass their own). */
export async function createAzureProvider(url: URL, env: Record<string, string | undefined> = process.env): Promise<Provider> {
  const cfg = parseAzureUrl(url, env);
  // Loaded here, not at import, so `raic --help` does not pay for the SDK.
  const sdk = await import('@azure/storage-blob');
  const options = { retryOptions: { maxTries: 1 } };
  const service =
    cfg.credential.kind === 'sharedKey'
      ? new sdk.BlobServiceClient(cfg.endpoint, new sdk.StorageSharedKeyCredential(cfg.account, cfg.credential.key), options)
      : new sdk.BlobServiceClient(`${cfg.endpoint}?${cfg.credential.token}`, new sdk.AnonymousCredential(), options);
  return new AzureProvider(cfg, service.getContainerClient(cfg.container));
}

class AzureProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities = { conditionalPut: true, reportsProgress: true };

  constructor(
    private readonly cfg: AzureConfig,
    private readonly container: ContainerClient,
  ) {
    this.displayUrl = cfg.displayUrl;
  }

  async prepare(): Promise<void> {
    try {
      await this.container.createIfNotExists();
    } catch (err) {
      throw this.translateError(err, 'prepare', undefined);
    }
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    try {
      // One Put Blob, as uploadData does below 256 MiB, from a stream: the SDK writes a buffer body at once
      // (and reports it all sent), a stream only as the socket drains.
      await this.blob(key).upload(() => countingReadable(body, opts), body.byteLength, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
        ...abortOption(opts),
      });
    } catch (err) {
      throw this.translateError(err, 'put', key, opts.signal);
    }
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    checkKey(key, this.displayUrl);
    if (range) checkRange(range, this.displayUrl, key);
    try {
      const res = await this.blob(key).download(range?.offset ?? 0, range?.length, { maxRetryRequests: 0, ...abortOption(opts) });
      const answer = { body: res.readableStreamBody, partial: res._response.status === 206, length: res.contentLength };
      return await readGetBody(answer, this.displayUrl, key, range, opts);
    } catch (err) {
      // A range that starts at or past the end of an existing blob: no bytes there.
      if (range && statusOf(err) === 416 && !opts.signal?.aborted) return Buffer.alloc(0);
      throw this.translateError(err, 'get', key, opts.signal);
    }
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    checkKey(key, this.displayUrl);
    try {
      const props = await this.blob(key).getProperties(abortOption(opts));
      return { key, size: props.contentLength ?? 0 };
    } catch (err) {
      throw this.translateError(err, 'head', key, opts.signal);
    }
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    const pages = this.container.listBlobsFlat({ prefix: this.cfg.prefix + prefix, ...abortOption(opts) }).byPage({ maxPageSize: LIST_PAGE });
    try {
      for await (const page of pages) {
        for (const b of page.segment.blobItems) {
          yield { key: b.name.slice(this.cfg.prefix.length), size: b.properties.contentLength ?? 0 };
        }
      }
    } catch (err) {
      throw this.translateError(err, `list ${JSON.stringify(prefix)}`, undefined, opts.signal);
    }
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    checkKey(key, this.displayUrl);
    try {
      await this.blob(key).deleteIfExists({ deleteSnapshots: 'include', ...abortOption(opts) });
    } catch (err) {
      throw this.translateError(err, 'delete', key, opts.signal);
    }
  }

  async close(): Promise<void> {
    // The SDK's HTTP agent is shared and keeps no per-client state to release.
  }

  private blob(key: string) {
    return this.container.getBlockBlobClient(this.cfg.prefix + key);
  }

  /**
   * The one place Azure failures become RaicErrors. `key` is undefined for operations on the container
   * itself, where a 404 means it is missing: Permanent, since retrying won't create it.
   */
  private translateError(err: unknown, op: string, key: string | undefined, signal?: AbortSignal): RaicError {
    const where = `azure ${op} ${key === undefined ? this.displayUrl : `${key} on ${this.displayUrl}`}`;
    if (signal?.aborted) return cancelledError(where, signal);
    if (err instanceof RaicError) return err;
    const status = statusOf(err);
    const azureCode = String((err as { code?: unknown; details?: { errorCode?: unknown } }).details?.errorCode ?? (err as { code?: unknown }).code ?? '');
    if (status === 409 && op === 'put') return new RaicError('Exists', `${where}: already exists`, { cause: err });
    if (status === 404 && (key === undefined || azureCode === 'ContainerNotFound')) {
      return new RaicError('Permanent', `${where}: container ${this.cfg.container} not found`, { cause: err, hint: 'run raic init to create it' });
    }
    if (status !== undefined) {
      const code = classifyHttpStatus(status);
      const detail = `HTTP ${status}${azureCode ? ` ${azureCode}` : ''}`;
      if (code === 'Auth') {
        return new RaicError('Auth', `${where}: ${detail}, credentials refused`, {
          cause: err,
          hint: 'check AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN / AZURE_STORAGE_CONNECTION_STRING',
        });
      }
      return new RaicError(code, `${where}: ${detail}`, { cause: err });
    }
    const net = networkCodeOf(err);
    if (net !== undefined) return new RaicError('Transient', `${where}: ${net} (${this.cfg.endpoint} unreachable)`, { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    return new RaicError('Permanent', `${where}: ${message}`, { cause: err });
  }
}

/** The SDK's per-call option for the signal, if any. */
function abortOption(opts: CallOptions): { abortSignal?: AbortSignal } {
  return opts.signal === undefined ? {} : { abortSignal: opts.signal };
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s > 0 ? s : undefined;
}
