/**
 * `file:///abs/dir` — a local (or mounted) directory as a provider: key `a/b/c` is the file
 * `dir/a/b/c`. Writes are atomic and create-once: the bytes go to a temp file under
 * `dir/.raic-tmp/`, are fsynced, then hard-linked to their final name (link fails if the name
 * exists, unlike rename), and the directory is fsynced, so a crash leaves the object whole or absent.
 * A call's signal is checked between steps and between the 4 MiB slices a body is written or read in
 * (a cancelled put never links its temp file); progress is each slice written or read.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { RaicError } from '../errors.js';
import { WRITE_SLICE_BYTES } from '../file-io.js';
import { objectTooLarge } from './bounded-read.js';
import { throwIfCancelled } from './progress.js';
import { checkKey, checkPrefix, checkRange } from './object-key.js';
import {
  MAX_OBJECT_BYTES,
  type ByteRange,
  type CallOptions,
  type ObjectInfo,
  type Provider,
  type ProviderCapabilities,
  type ProviderFactory,
} from './types.js';

/** Temp files live here, outside every key's path; list() skips it and no key may start with it. */
const TMP_DIR = '.raic-tmp';
/** prepare() removes temp files older than this: leftovers of a crash, never a write in progress. */
const STALE_TMP_MS = 24 * 3600 * 1000;
/** Objects kept open for ranged reads, per member (see FileProvider.openForRead). */
const OPEN_FOR_READ = 32;
/** A kept handle; `readers` reads in progress, `dropped` once no longer kept (the last reader closes it). */
type OpenObject = { handle: FileHandle; size: number; readers: number; dropped: boolean };
/** Object sizes looked up at once while listing (the thread pool runs them in parallel). */
const LIST_STAT_AHEAD = 32;
/** Bytes per read call: the unit of progress and of checks for cancellation (writes go WRITE_SLICE_BYTES at a
 * time: file-io.ts says why). */
const READ_SLICE = 4 * 1024 * 1024;

export interface FileConfig {
  /** Absolute directory holding the objects, without a trailing slash. */
  root: string;
  displayUrl: string;
}

/** Parses `file:///abs/dir` (host empty or `localhost`, no query). Rejects `Usage` otherwise. */
export function parseFileUrl(url: URL): FileConfig {
  const shown = JSON.stringify(url.href);
  if (url.protocol !== 'file:') throw new RaicError('Usage', `not a file: URL: ${shown}`);
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    throw new RaicError('Usage', `file URL must name an absolute directory: ${shown}`, {
      hint: `write file:///absolute/path (three slashes); "${url.hostname}" was read as a host name`,
    });
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RaicError('Usage', `file URL takes no query or fragment: ${shown}`);
  }
  const raw = fileURLToPath(url);
  const root = raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
  if (!path.isAbsolute(root) || path.normalize(root) !== root) {
    throw new RaicError('Usage', `file URL must name a normalized absolute directory: ${shown}`);
  }
  return { root, displayUrl: pathToFileURL(root).href };
}

/** The single translation of filesystem errors into raic's codes. */
export function translateFsError(err: unknown, where: { displayUrl: string; root: string; op: string; key?: string }): RaicError {
  if (err instanceof RaicError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const sysPath = (err as NodeJS.ErrnoException | undefined)?.path;
  const subject = `${where.displayUrl}: ${where.op}${where.key === undefined ? '' : ` ${where.key}`}`;
  const detail = err instanceof Error ? err.message : String(err);
  const make = (c: RaicError['code'], message: string, hint?: string) =>
    new RaicError(c, message, hint === undefined ? { cause: err } : { cause: err, hint });
  if (where.op === 'put' && (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR')) {
    // A link's EEXIST is turned into `Exists` before this point: these come from mkdir, where a
    // file stands where the key needs a directory (or the reverse).
    return make('Permanent', `${subject}: an existing object or directory is in the way (${code})`);
  }
  if (where.op === 'put' && code === 'ENOENT') {
    return make('Transient', `${subject}: a directory vanished while writing (${detail})`);
  }
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
      return make('NotFound', `${subject}: not found`);
    case 'EEXIST':
      return make('Exists', `${subject}: already exists`);
    case 'EACCES':
    case 'EPERM':
      return make('Auth', `${subject}: permission denied on ${sysPath ?? where.root}`, 'check the owner and mode of the directory');
    case 'ENOSPC':
    case 'EDQUOT':
      return make('Permanent', `${subject}: disk full at ${where.root}`, 'free space on that disk or remove this member');
    case 'EROFS':
      return make('Permanent', `${subject}: read-only file system at ${where.root}`);
    case 'EIO':
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
    case 'EINTR':
    case 'ENOMEM':
    case 'ETIMEDOUT':
    case 'ESTALE': // NFS handle went stale: a fresh lookup may work
      return make('Transient', `${subject}: ${code} (${detail})`);
    default:
      return make('Permanent', `${subject}: ${code === '' ? detail : `${code} (${detail})`}`);
  }
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Up to `want` bytes from `offset`; fewer if the file is shorter than its size said. */
async function readAt(handle: FileHandle, offset: number, want: number, opts: CallOptions, where: () => string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(want);
  let got = 0;
  while (got < want) {
    throwIfCancelled(opts.signal, where);
    const { bytesRead } = await handle.read(buf, got, Math.min(READ_SLICE, want - got), offset + got);
    if (bytesRead === 0) break; // file shorter than stat said: return what exists
    got += bytesRead;
    opts.onProgress?.(bytesRead);
  }
  return got === want ? buf : buf.subarray(0, got);
}

/** Writes all of `body` at the handle's start, a slice at a time. */
async function writeAll(handle: FileHandle, body: Uint8Array, opts: CallOptions, where: () => string): Promise<void> {
  let done = 0;
  while (done < body.byteLength) {
    throwIfCancelled(opts.signal, where);
    const { bytesWritten } = await handle.write(body, done, Math.min(WRITE_SLICE_BYTES, body.byteLength - done), done);
    done += bytesWritten;
    opts.onProgress?.(bytesWritten);
  }
}

class FileProvider implements Provider {
  readonly displayUrl: string;
  readonly capabilities: ProviderCapabilities = { conditionalPut: true, reportsProgress: true };
  private readonly root: string;
  private readonly tmpDir: string;
  private readonly openObjects = new Map<string, Promise<OpenObject>>();

  constructor(config: FileConfig) {
    this.root = config.root;
    this.displayUrl = config.displayUrl;
    this.tmpDir = path.join(config.root, TMP_DIR);
  }

  private fail(err: unknown, op: string, key?: string): RaicError {
    return translateFsError(err, { displayUrl: this.displayUrl, root: this.root, op, ...(key === undefined ? {} : { key }) });
  }

  private pathOf(key: string): string {
    checkKey(key, this.displayUrl);
    if (key === TMP_DIR || key.startsWith(`${TMP_DIR}/`)) {
      throw new RaicError('Permanent', `${this.displayUrl}: key ${JSON.stringify(key)} is reserved for temp files`);
    }
    return path.join(this.root, key);
  }

  async prepare(): Promise<void> {
    try {
      await fs.mkdir(this.tmpDir, { recursive: true });
      await this.removeStaleTemps();
    } catch (err) {
      throw this.fail(err, 'prepare');
    }
  }

  private async removeStaleTemps(): Promise<void> {
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of await fs.readdir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      const st = await fs.lstat(p).catch(() => undefined);
      if (st?.isFile() && st.mtimeMs < cutoff) await fs.unlink(p).catch(() => undefined);
    }
  }

  /** Creates `dir` (below the root, never the root itself: a missing root may be an unmounted disk). */
  private async ensureDir(dir: string): Promise<void> {
    try {
      await fs.access(this.root);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') {
        throw new RaicError('Permanent', `${this.displayUrl}: directory ${this.root} does not exist`, {
          cause: err,
          hint: 'is the disk mounted? `raic init` creates the directory of a new member',
        });
      }
      throw err;
    }
    const first = await fs.mkdir(dir, { recursive: true });
    if (first === undefined) return;
    // New directories are durable only once the directory holding each of them is fsynced.
    let d = first;
    await fsyncDir(path.dirname(first));
    while (d !== dir) {
      await fsyncDir(d);
      d = path.join(d, path.relative(d, dir).split(path.sep)[0]!);
    }
  }

  async put(key: string, body: Uint8Array, opts: CallOptions = {}): Promise<void> {
    const final = this.pathOf(key);
    const dir = path.dirname(final);
    const tmp = path.join(this.tmpDir, `${randomBytes(12).toString('hex')}.tmp`);
    const where = () => `${this.displayUrl}: put ${key}`;
    try {
      throwIfCancelled(opts.signal, where);
      await this.ensureDir(dir);
      await fs.mkdir(this.tmpDir, { recursive: true });
      const handle = await fs.open(tmp, 'wx');
      try {
        await writeAll(handle, body, opts, where);
        await handle.sync();
      } finally {
        await handle.close();
      }
      throwIfCancelled(opts.signal, where); // the last moment a cancelled put can still not land
      await this.publish(tmp, final, key);
      await fsyncDir(dir);
    } catch (err) {
      throw this.fail(err, 'put', key);
    } finally {
      await fs.unlink(tmp).catch(() => undefined);
    }
  }

  /** Gives the temp file its final name, refusing to replace an existing object. */
  private async publish(tmp: string, final: string, key: string): Promise<void> {
    try {
      await fs.link(tmp, final);
      return;
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EEXIST') throw new RaicError('Exists', `${this.displayUrl}: put ${key}: already exists`, { cause: err });
      // Filesystems without hard links (FAT/exFAT disks) answer EPERM/ENOTSUP here: fall back to
      // check-then-rename, still atomic for readers but with a small window between the two steps.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    }
    const exists = await fs.lstat(final).then(
      () => true,
      (e: unknown) => (errnoOf(e) === 'ENOENT' ? false : Promise.reject(e)),
    );
    if (exists) throw new RaicError('Exists', `${this.displayUrl}: put ${key}: already exists`);
    await fs.rename(tmp, final);
  }

  async get(key: string, range?: ByteRange, opts: CallOptions = {}): Promise<Buffer> {
    const file = this.pathOf(key);
    if (range !== undefined) checkRange(range, this.displayUrl, key);
    const where = () => `${this.displayUrl}: get ${key}`;
    try {
      throwIfCancelled(opts.signal, where);
      if (range === undefined) {
        const handle = await fs.open(file, 'r');
        try {
          const st = await handle.stat();
          if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
          // The size is known before anything is allocated: an object over the cap is refused unread.
          if (st.size > MAX_OBJECT_BYTES) throw objectTooLarge(this.displayUrl, key, st.size);
          return await readAt(handle, 0, st.size, opts, where);
        } finally {
          await handle.close();
        }
      }
      const open = await this.openForRead(file);
      open.readers += 1;
      try {
        return await readAt(open.handle, range.offset, Math.max(0, Math.min(range.length, open.size - range.offset)), opts, where);
      } finally {
        open.readers -= 1;
        if (open.readers === 0 && open.dropped) void open.handle.close().catch(() => undefined);
      }
    } catch (err) {
      throw this.fail(err, 'get', key);
    }
  }

  /**
   * An open handle for ranged reads, kept (LRU, OPEN_FOR_READ of them): a restore reads thousands of
   * shares from the same packs, and an open, fstat and close per share cost more than the read. Objects are
   * never rewritten (create-once), so a kept handle always reads the object's own bytes; delete() and
   * close() close it (FileHandle.close waits for reads in flight).
   */
  private openForRead(file: string): Promise<OpenObject> {
    const kept = this.openObjects.get(file);
    if (kept) {
      this.openObjects.delete(file); // most recently used goes last
      this.openObjects.set(file, kept);
      return kept;
    }
    const opening = (async (): Promise<OpenObject> => {
      const handle = await fs.open(file, 'r');
      try {
        return { handle, size: (await handle.stat()).size, readers: 0, dropped: false };
      } catch (err) {
        await handle.close();
        throw err;
      }
    })();
    this.openObjects.set(file, opening);
    opening.catch(() => this.openObjects.delete(file));
    for (const [oldest] of this.openObjects) {
      if (this.openObjects.size <= OPEN_FOR_READ) break;
      this.forget(oldest);
    }
    return opening;
  }

  /** Stops keeping a handle: closed now, or by its last reader. */
  private forget(file: string): void {
    const kept = this.openObjects.get(file);
    if (!kept) return;
    this.openObjects.delete(file);
    kept
      .then((open) => {
        open.dropped = true;
        if (open.readers === 0) return open.handle.close();
      })
      .catch(() => undefined);
  }

  async head(key: string, opts: CallOptions = {}): Promise<ObjectInfo> {
    const file = this.pathOf(key);
    try {
      throwIfCancelled(opts.signal, () => `${this.displayUrl}: head ${key}`);
      const st = await fs.stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      return { key, size: st.size };
    } catch (err) {
      throw this.fail(err, 'head', key);
    }
  }

  async *list(prefix: string, opts: CallOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix, this.displayUrl);
    const where = () => `${this.displayUrl}: list ${prefix}`;
    // Walk only the deepest directory the prefix names in full.
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const stack: string[] = [base];
    while (stack.length > 0) {
      const rel = stack.pop()!;
      throwIfCancelled(opts.signal, where);
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(path.join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // nothing under this prefix
        throw this.fail(err, 'list', prefix);
      }
      const files: string[] = [];
      for (const entry of entries) {
        const key = rel + entry.name;
        if (rel === '' && entry.name === TMP_DIR) continue;
        if (!/^[a-z0-9._-]+$/.test(entry.name)) continue; // not an object raic wrote
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) stack.push(`${key}/`);
        } else if (entry.isFile() && key.startsWith(prefix)) files.push(key);
      }
      // Sizes: LIST_STAT_AHEAD lstat calls in flight (the thread pool runs them at once), yielded in order.
      const sizes: Promise<number | undefined>[] = [];
      const sizeOf = (key: string): Promise<number | undefined> =>
        fs.lstat(path.join(this.root, key)).then(
          (st) => st.size,
          (e: unknown) => {
            if (errnoOf(e) === 'ENOENT') return undefined; // deleted while listing
            throw this.fail(e, 'list', prefix);
          },
        );
      for (let i = 0; i < files.length; i++) {
        for (let j = sizes.length; j < Math.min(files.length, i + LIST_STAT_AHEAD); j++) {
          const pending = sizeOf(files[j]!);
          pending.catch(() => undefined); // awaited in turn below
          sizes.push(pending);
        }
        const size = await sizes[i]!;
        if (size !== undefined) yield { key: files[i]!, size };
      }
    }
  }

  async delete(key: string, opts: CallOptions = {}): Promise<void> {
    const file = this.pathOf(key);
    throwIfCancelled(opts.signal, () => `${this.displayUrl}: delete ${key}`);
    this.forget(file);
    try {
      await fs.unlink(file);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return; // already absent
      throw this.fail(err, 'delete', key);
    }
  }

  async close(): Promise<void> {
    const kept = [...this.openObjects.values()];
    this.openObjects.clear();
    await Promise.all(
      kept.map((k) =>
        k
          .then(async (open) => {
            open.dropped = true;
            if (open.readers === 0) await open.handle.close();
          })
          .catch(() => undefined),
      ),
    );
  }
}

export const createFileProvider: ProviderFactory = async (url) => new FileProvider(parseFileUrl(url));
