/**
 * A Provider wrapper that records every get (key, range asked for, bytes answered) and every listing, for tests
 * of what a read costs: bytes and requests per member. Everything passes through unchanged.
 */
import type { ByteRange, CallOptions, ObjectInfo, Provider, ProviderCapabilities } from '../../src/providers/types.js';

export interface CountedGet {
  key: string;
  range: ByteRange | undefined;
  bytes: number;
}

export class CountingProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities;
  readonly gets: CountedGet[] = [];
  /** Prefixes listed, in order. */
  readonly lists: string[] = [];

  constructor(readonly inner: Provider) {
    this.displayUrl = inner.displayUrl;
    this.capabilities = inner.capabilities;
  }

  /** Forgets what was recorded. */
  clear(): void {
    this.gets.length = 0;
    this.lists.length = 0;
  }

  /** Gets (and the bytes they answered) whose key passes `keep`. */
  counted(keep: (g: CountedGet) => boolean = () => true): { requests: number; bytes: number } {
    const kept = this.gets.filter(keep);
    return { requests: kept.length, bytes: kept.reduce((s, g) => s + g.bytes, 0) };
  }

  prepare(): Promise<void> {
    return this.inner.prepare();
  }

  put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void> {
    return this.inner.put(key, body, opts);
  }

  async get(key: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
    const bytes = await this.inner.get(key, range, opts);
    this.gets.push({ key, range, bytes: bytes.length });
    return bytes;
  }

  head(key: string, opts?: CallOptions): Promise<ObjectInfo> {
    return this.inner.head(key, opts);
  }

  list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo> {
    this.lists.push(prefix);
    return this.inner.list(prefix, opts);
  }

  delete(key: string, opts?: CallOptions): Promise<void> {
    return this.inner.delete(key, opts);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
