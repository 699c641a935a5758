/**
 * An in-memory Provider for deterministic tests of the layers above (never instead of the
 * real-server runs). It keeps the interface's contract: keys checked like the real adapters,
 * create-once puts (unless `conditionalPut: false`), copies in and out so callers cannot alias
 * stored bytes, `NotFound` for absent keys, a range past the end cut short, and no whole object over
 * MAX_OBJECT_BYTES. A call given an aborted signal rejects `Cancelled`; it reports no progress.
 */
import { RaicError } from '../../src/errors.js';
import { checkKey, checkPrefix, checkRange } from '../../src/providers/object-key.js';
import { objectTooLarge } from '../../src/providers/bounded-read.js';
import { MAX_OBJECT_BYTES, type ByteRange, type CallOptions, type ObjectInfo, type Provider, type ProviderCapabilities } from '../../src/providers/types.js';

export interface MemoryProviderOptions {
  /** Shown in displayUrl as `memory://<name>`. Default "mem". */
  name?: string;
  /** Default true, like the file provider; false behaves like S3 (put overwrites). */
  conditionalPut?: boolean;
}

export class MemoryProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;
  /** The stored objects, open to tests that want to inspect or tamper with them directly. */
  readonly objects = new Map<string, Buffer>();
  private closed = false;

  constructor(options: MemoryProviderOptions = {}) {
    this.displayUrl = `memory://${options.name ?? 'mem'}`;
    this.capabilities = { conditionalPut: options.conditionalPut ?? true };
  }

  private open(op?: string, opts?: CallOptions): void {
    if (this.closed) throw new RaicError('Permanent', `${this.displayUrl}: used after close()`);
    if (opts?.signal?.aborted) throw new RaicError('Cancelled', `${this.displayUrl}: ${op}: cancelled`);
  }

  private stored(key: string, op: string, opts?: CallOptions): Buffer {
    this.open(op, opts);
    checkKey(key, this.displayUrl);
    const value = this.objects.get(key);
    if (value === undefined) throw new RaicError('NotFound', `${this.displayUrl}: ${op} ${key}: not found`);
    return value;
  }

  async prepare(): Promise<void> {
    this.open();
  }

  async put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void> {
    this.open('put', opts);
    checkKey(key, this.displayUrl);
    if (this.capabilities.conditionalPut && this.objects.has(key)) {
      throw new RaicError('Exists', `${this.displayUrl}: put ${key}: already exists`);
    }
    this.objects.set(key, Buffer.from(body));
  }

  async get(key: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
    const value = this.stored(key, 'get', opts);
    if (range === undefined && value.length > MAX_OBJECT_BYTES) throw objectTooLarge(this.displayUrl, key, value.length);
    if (range === undefined) return Buffer.from(value);
    checkRange(range, this.displayUrl, key);
    return Buffer.from(value.subarray(range.offset, range.offset + range.length));
  }

  async head(key: string, opts?: CallOptions): Promise<ObjectInfo> {
    return { key, size: this.stored(key, 'head', opts).length };
  }

  async *list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo> {
    this.open('list', opts);
    checkPrefix(prefix, this.displayUrl);
    // A snapshot, so puts and deletes during iteration do not disturb it.
    const matches = [...this.objects].filter(([key]) => key.startsWith(prefix));
    for (const [key, value] of matches) yield { key, size: value.length };
  }

  async delete(key: string, opts?: CallOptions): Promise<void> {
    this.open('delete', opts);
    checkKey(key, this.displayUrl);
    this.objects.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function createMemoryProvider(options: MemoryProviderOptions = {}): MemoryProvider {
  return new MemoryProvider(options);
}
