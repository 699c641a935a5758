/**
 * ObjectCache: a local copy of the members' objects that every run reads again (index segments, metadata
 * packs, catalog records, manifests, forwarding records), so a warm run reads them from disk, not over a
 * link billed per GB. One directory per array: `<root>/<array id>/m<member>/<object key>`.
 *
 * The cache is never the only copy of anything and never the judge of anything:
 * - Each file holds the bytes one member served (or took) under that key — objects are never overwritten,
 *   so the copy stays what the member holds until the member deletes it — behind a SHA-256 of the array
 *   id, member, key and bytes. A file whose hash does not match (a flipped bit, a truncated write, a file
 *   copied from another array's or member's cache) is deleted and the object fetched again.
 * - The layers above verify every byte they use exactly as they verify a member's (tables agreed by k
 *   members, AEAD tags, content hashes); a copy they find bad is evicted (`evict`), so it costs a download.
 * - Listings always go to the members; a key a member no longer lists is evicted when its prefix is listed.
 *   Another host's new objects are learnt that way; a deleted cache costs a download, nothing else.
 * - Writing is best effort: a full or read-only disk makes the cache miss, never a command fail.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFully } from '../file-io.js';
import { closeSync, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';

const MAGIC = Buffer.from('RAICCH01');
/** The "member" whose files are this host's notes (readNote), sealed and written like cached objects. */
const LOCAL_NOTES = -1;
const HEADER_BYTES = MAGIC.length + 32;
/** Verified files whose descriptors stay open (ObjectCache.openFiles): a run reads a few metadata packs at a time. */
const OPEN_FILES = 16;

/** Reads go to the cache first (`use`), or to the members with the cache refreshed from their answers
 * (`refresh`: check and repair, whose job is to see what members hold now). */
export type CacheMode = 'use' | 'refresh';

export interface CacheStats {
  hits: number;
  misses: number;
  /** Bytes served from the cache instead of a member. */
  bytesServed: number;
  /** Files found damaged (and deleted). */
  damaged: number;
  /** Copies the layers above found bad (and evicted). */
  evicted: number;
  /** Files that could not be written (full or read-only disk); the run went on without them. */
  writeErrors: number;
}

export class ObjectCache {
  readonly stats: CacheStats = { hits: 0, misses: 0, bytesServed: 0, damaged: 0, evicted: 0, writeErrors: 0 };
  /** Keys outside `prefixes` that are worth keeping whole (metadata packs), as the layers above learn them. */
  private readonly kept = new Set<string>();
  /** Files verified in this run (key → size of the object), served by ranged reads without hashing again. */
  private readonly verified = new Map<string, number>();
  /**
   * Descriptors of verified files kept open, least recently used first (at most OPEN_FILES): a walk reads a
   * metadata pack one tree blob at a time, and opening and closing the file for each blob cost more than the
   * read (restoring /usr/share: two walks of 3,381 blobs). A file renamed over or deleted meanwhile (another run
   * of raic) still reads as the verified copy it was; evict, write and a damaged read close it here.
   */
  private readonly openFiles = new Map<string, number>();

  /**
   * @param dir      this array's directory (`<root>/<array id>`)
   * @param prefixes keys under these prefixes are always cached whole
   */
  constructor(
    readonly dir: string,
    private readonly arrayId: string,
    private readonly prefixes: readonly string[],
    readonly mode: CacheMode = 'use',
  ) {}

  /** Array `arrayId`'s cache under the cache root `root`: its directory is `<root>/<array id>`. */
  static inRoot(root: string, arrayId: string, prefixes: readonly string[], mode: CacheMode = 'use'): ObjectCache {
    return new ObjectCache(join(root, arrayId), arrayId, prefixes, mode);
  }

  /** Whether objects under `key` are cached. */
  holds(key: string): boolean {
    return this.kept.has(key) || this.prefixes.some((p) => key.startsWith(p));
  }

  /** Marks an object as worth caching whole (a metadata pack, which every walk of a snapshot reads again). */
  keepWhole(key: string): void {
    this.kept.add(key);
  }

  private path(member: number, key: string): string {
    return member === LOCAL_NOTES ? join(this.dir, 'local', key) : join(this.dir, `m${member}`, key);
  }

  /**
   * A small note of this host's about the array (no member holds it), sealed like a cached object: null when
   * absent or damaged. Notes are hints — whoever reads one checks it against what the members say.
   */
  readNote(name: string): Buffer | null {
    // Not counted as an object served in place of a member's. Read once, and often through an ObjectCache no one
    // closes (the early Argon2 start's): its descriptor is not kept.
    return this.load(LOCAL_NOTES, name, undefined, false);
  }

  writeNote(name: string, bytes: Uint8Array): void {
    this.write(LOCAL_NOTES, name, bytes);
  }

  private seal(member: number, key: string, bytes: Uint8Array): Buffer {
    return createHash('sha256').update(`raic cache v1 ${this.arrayId} ${member} ${key}\n`).update(bytes).digest();
  }

  /**
   * Bytes [range) of the cached copy (the whole object without a range), or null when there is none or it
   * is damaged (then deleted). A range past the end gives the bytes that exist, as a provider does.
   */
  read(member: number, key: string, range?: { offset: number; length: number }): Buffer | null {
    const bytes = this.load(member, key, range);
    return bytes && this.served(bytes);
  }

  /**
   * The cached copy, whole, like read, but not counted as an object served in place of a member's: for hints the
   * layers above read before asking the members (the catalog records an early walk picks its parent from).
   */
  peek(member: number, key: string): Buffer | null {
    return this.load(member, key);
  }

  /** read's work, without counting what it serves. */
  private load(member: number, key: string, range?: { offset: number; length: number }, keepOpen = true): Buffer | null {
    const id = `${member} ${key}`;
    let fd = this.openFiles.get(id);
    if (fd === undefined) {
      try {
        fd = openSync(this.path(member, key), 'r');
      } catch {
        this.verified.delete(id);
        return null;
      }
    } else this.openFiles.delete(id); // put back last (most recently used) once read
    let keep = false;
    try {
      let size = this.verified.get(id);
      let out: Buffer;
      if (size === undefined) {
        const whole = Buffer.allocUnsafe(fstatSync(fd).size);
        if (readFully(fd, whole, 0) !== whole.length || whole.length < HEADER_BYTES || !whole.subarray(0, MAGIC.length).equals(MAGIC)) return this.damagedCopy(member, key);
        const bytes = whole.subarray(HEADER_BYTES);
        if (!this.seal(member, key, bytes).equals(whole.subarray(MAGIC.length, HEADER_BYTES))) return this.damagedCopy(member, key);
        size = bytes.length;
        this.verified.set(id, size);
        out = range ? bytes.subarray(Math.min(range.offset, size), Math.min(range.offset + range.length, size)) : bytes;
      } else {
        const from = Math.min(range?.offset ?? 0, size);
        const to = Math.min(range ? range.offset + range.length : size, size);
        out = Buffer.allocUnsafe(to - from);
        if (readFully(fd, out, HEADER_BYTES + from) !== out.length) {
          this.verified.delete(id);
          return this.damagedCopy(member, key);
        }
      }
      keep = keepOpen;
      return out;
    } finally {
      if (keep) this.keepOpen(id, fd);
      else closeSync(fd);
    }
  }

  private keepOpen(id: string, fd: number): void {
    this.openFiles.set(id, fd);
    if (this.openFiles.size <= OPEN_FILES) return;
    const [oldest, oldestFd] = this.openFiles.entries().next().value as [string, number];
    this.openFiles.delete(oldest);
    closeSync(oldestFd);
  }

  /** Closes the kept descriptor of `id`, if any. */
  private forgetOpen(id: string): void {
    const fd = this.openFiles.get(id);
    if (fd === undefined) return;
    this.openFiles.delete(id);
    closeSync(fd);
  }

  /** Closes the descriptors kept open (the array is closing); later reads open the files again. */
  close(): void {
    for (const fd of this.openFiles.values()) closeSync(fd);
    this.openFiles.clear();
  }

  private served(bytes: Buffer): Buffer {
    this.stats.hits += 1;
    this.stats.bytesServed += bytes.length;
    return bytes;
  }

  private damagedCopy(member: number, key: string): null {
    this.stats.damaged += 1;
    removeQuietly(this.path(member, key));
    return null;
  }

  /** Keeps `bytes` as member `member`'s copy of `key` (written aside, then renamed: readers never see half a file). */
  write(member: number, key: string, bytes: Uint8Array): void {
    const path = this.path(member, key);
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.forgetOpen(`${member} ${key}`);
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(tmp, Buffer.concat([MAGIC, this.seal(member, key, bytes), bytes]));
      renameSync(tmp, path);
      this.verified.set(`${member} ${key}`, bytes.length);
    } catch {
      this.stats.writeErrors += 1;
      removeQuietly(tmp);
    }
  }

  /** Drops member `member`'s copy of `key` (deleted on the member, or found bad by the layers above). */
  evict(member: number, key: string, found: 'deleted' | 'bad' = 'deleted'): void {
    this.verified.delete(`${member} ${key}`);
    this.forgetOpen(`${member} ${key}`);
    if (existsSync(this.path(member, key)) && removeQuietly(this.path(member, key)) && found === 'bad') this.stats.evicted += 1;
  }

  /** Keys of member `member` cached under `prefix` (a directory prefix such as `index/` or `packs/ab/`). */
  cachedKeys(member: number, prefix: string): string[] {
    const out: string[] = [];
    if (prefix.endsWith('/')) walkFiles(join(this.dir, `m${member}`, prefix), (rel) => !rel.includes('.tmp-') && out.push(`${prefix}${rel}`));
    return out;
  }

  /** Statistics line for summaries: what the cache saved and what it caught. */
  describe(): string {
    const s = this.stats;
    return `${s.hits} objects (${(s.bytesServed / 1e6).toFixed(1)} MB) read from the cache, ${s.misses} fetched${s.damaged ? `, ${s.damaged} damaged cache files replaced` : ''}`;
  }
}

/** Calls `visit` with the path (relative to `dir`, `/`-separated) and stats of every file below `dir`; unreadable
 * entries are skipped (a cache is best effort, and another run may be renaming files in it). */
export function walkFiles(dir: string, visit: (relPath: string, st: Stats) => unknown, rel = ''): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    let st: Stats;
    try {
      st = lstatSync(join(dir, name));
    } catch {
      continue;
    }
    if (st.isDirectory()) walkFiles(join(dir, name), visit, `${rel}${name}/`);
    else visit(`${rel}${name}`, st);
  }
}

/** Best effort: a file that cannot be removed is verified again at its next read anyway. */
function removeQuietly(path: string): boolean {
  try {
    rmSync(path, { force: true });
    return true;
  } catch {
    return false;
  }
}

