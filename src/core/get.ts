/**
 * get: capability → manifest (from any member, checked against the capability) → chunks from any k
 * members each → the original bytes, in order. Needs no passphrase. A file target is written to a
 * temp file beside it and renamed only when every byte has been verified: a failed get leaves nothing.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { RaicError, isRaicError } from '../errors.js';
import { appendAll } from '../file-io.js';
import {
  ChunkFetcher,
  ChunkReader,
  arrayTagOf,
  getFromAny,
  manifestKey,
  openManifest,
  streamOf,
  walkStream,
  type FileCapability,
  type ManifestRoot,
  type RaicArray,
} from '../store/index.js';

export interface GetResult {
  size: number;
  chunks: number;
  seconds: number;
  /** Shares that were missing, corrupt or unreachable and were worked around. */
  shareProblems: number;
}

export interface GetOptions {
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (bytesWritten: number, total: number) => void;
}

export async function loadManifest(array: RaicArray, cap: FileCapability): Promise<ManifestRoot> {
  const ours = arrayTagOf(array.shape.arrayId);
  if (cap.arrayTag !== ours) {
    throw new RaicError('Usage', `this capability belongs to another array (tag ${cap.arrayTag}); the config is for array ${array.shape.arrayId} (tag ${ours})`, {
      hint: 'use --config to select the config of the array the capability came from',
    });
  }
  try {
    const root = await getFromAny(array.members, manifestKey(cap.manifestId), 'manifest', (bytes) => openManifest(cap.manifestId, bytes, cap.key));
    if (root.header.kind !== cap.kind) throw new RaicError('Integrity', `the manifest is a ${root.header.kind}, the capability says ${cap.kind}`);
    return root;
  } catch (err) {
    if (isRaicError(err, 'NotFound')) {
      throw new RaicError('NotFound', `no member holds the file this capability names (manifest ${cap.manifestId.slice(0, 16)}…)`, {
        hint: 'the capability may have been altered, or its put never finished',
      });
    }
    throw err;
  }
}

/**
 * Writes the file named by `cap` to `sink` in order; rejects if any chunk cannot be read. The chunks are read
 * through a ChunkFetcher delivering in order, at most `tuning.window` of them between asked for and written:
 * the requests cover exactly the chunks asked for (neighbours in one request), spread over the members
 * holding them; nothing past the file's end is read.
 */
export async function streamFile(array: RaicArray, root: ManifestRoot, sink: (bytes: Uint8Array) => Promise<void>, opts: GetOptions = {}): Promise<Omit<GetResult, 'seconds'>> {
  const reader = new ChunkReader(array.members, array.pool, array.k, array.tuning.chunkBytes);
  const window = Math.max(2, array.tuning.window);
  const fetcher = new ChunkFetcher(reader, { windowChunks: window, ordered: true });
  let asked = 0;
  let chunks = 0;
  let written = 0;
  const deliver = async (plaintext: Uint8Array): Promise<void> => {
    await sink(plaintext);
    written += plaintext.length;
    chunks += 1;
    opts.onProgress?.(written, root.header.size);
  };
  const stop = (): void => void fetcher.abort(new RaicError('Cancelled', 'interrupted'));
  opts.signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const entry of walkStream(streamOf(root), (page) => reader.read(page).then((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)))) {
      if (opts.signal?.aborted) throw new RaicError('Cancelled', 'interrupted');
      fetcher.add(entry, deliver);
      asked += 1;
      // Half a window at a time, so neighbouring chunks are planned together.
      if (asked - chunks >= window) await fetcher.waitUntil(() => asked - chunks <= window / 2);
    }
    await fetcher.drain();
  } catch (err) {
    await fetcher.abort(err);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', stop);
  }
  if (written !== root.header.size) throw new RaicError('Integrity', `restored ${written} bytes but the manifest says ${root.header.size}`);
  return { size: written, chunks, shareProblems: reader.problems.length };
}

function requireFileCapability(cap: FileCapability): void {
  if (cap.kind !== 'file') {
    throw new RaicError('Usage', 'this capability names a snapshot, not a file', { hint: 'use raic restore CAPABILITY --target DIR' });
  }
}

export async function getToFile(array: RaicArray, cap: FileCapability, target: string, opts: GetOptions = {}): Promise<GetResult> {
  const started = performance.now();
  requireFileCapability(cap);
  if (!opts.overwrite && (await pathExists(target))) {
    throw new RaicError('Usage', `${target} already exists`, { hint: 'choose another path, or pass --overwrite to replace it' });
  }
  const root = await loadManifest(array, cap);
  const tmp = join(dirname(target), `.${basename(target)}.raic-${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch (err) {
    throw fsError(err, dirname(target));
  }
  try {
    const behind = new SyncBehind(fh);
    const result = await streamFile(array, root, async (bytes) => {
      try {
        await appendAll(fh, bytes);
      } catch (err) {
        throw fsError(err, target);
      }
      behind.wrote(bytes.length);
    }, opts);
    try {
      await behind.done();
      await fh.sync();
    } catch (err) {
      throw fsError(err, target);
    }
    await fh.close();
    await rename(tmp, target);
    return { ...result, seconds: (performance.now() - started) / 1000 };
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Flushes a file to disk while it is still being written, SYNC_BEHIND_BYTES at a time (fdatasync on the thread
 * pool while the next chunks are fetched), so that the fsync before the rename waits for the last of it, not
 * all of it: for a 1 GiB get to a local disk that tail was ~2.4 s.
 */
class SyncBehind {
  private unsynced = 0;
  private syncing: Promise<void> | null = null;
  private failure: unknown = null;

  constructor(private readonly fh: FileHandle) {}

  wrote(bytes: number): void {
    this.unsynced += bytes;
    if (this.unsynced < SYNC_BEHIND_BYTES || this.syncing) return;
    this.unsynced = 0;
    this.syncing = this.fh.datasync().then(
      () => {
        this.syncing = null;
      },
      (err: unknown) => {
        this.failure ??= err;
        this.syncing = null;
      },
    );
  }

  /** Waits for the flush under way; rejects with the first that failed. */
  async done(): Promise<void> {
    await this.syncing;
    if (this.failure) throw this.failure;
  }
}

const SYNC_BEHIND_BYTES = 64 * 1024 * 1024;

export async function getToStream(array: RaicArray, cap: FileCapability, out: Writable, opts: GetOptions = {}): Promise<GetResult> {
  const started = performance.now();
  requireFileCapability(cap);
  const root = await loadManifest(array, cap);
  const result = await streamFile(array, root, (bytes) => writeWithBackpressure(out, bytes), opts);
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

function writeWithBackpressure(out: Writable, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    out.once('error', onError);
    const ok = out.write(bytes, (err) => {
      out.off('error', onError);
      if (err) reject(err);
      else if (ok) resolve();
    });
    if (!ok) out.once('drain', () => resolve());
  });
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A local filesystem failure as one clear line (disk full, permission, missing directory). */
export function fsError(err: unknown, path: string): RaicError {
  const code = (err as NodeJS.ErrnoException).code;
  const what: Record<string, string> = {
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is exhausted',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOENT: 'no such directory',
    EROFS: 'read-only file system',
    EISDIR: 'is a directory',
  };
  return new RaicError('Permanent', `cannot write ${path}: ${(code && what[code]) ?? (err as Error).message}`, { cause: err });
}
