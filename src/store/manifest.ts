/**
 * Manifests: the chunk list of one file, as a tree so memory stays bounded at any file size.
 *
 * A page holds up to `pageEntries` ChunkEntries (ref + key); a full page is itself stored as a chunk, and
 * its entry goes one level up. The root (depth d) lists the entries of level d: data chunks when d = 0,
 * pages of level d−1 otherwise. The root is sealed under the capability key and stored whole on every
 * member as `manifests/<hash of the sealed bytes>`, so the capability both finds and authenticates it.
 *
 * Root plaintext: "RAICMAN1" | header length u32 | header JSON | entry list.  Page: entry list.
 */
import { RaicError } from '../errors.js';
import { hash, open, seal } from '../crypto/index.js';
import { decodeRefList, encodeRefList, refListTotals, type ChunkEntry } from './chunk-ref.js';

const ROOT_MAGIC = 'RAICMAN2';
const PAGE_MAGIC = 'RAICPAG2';
const ROOT_AD = Buffer.from('raic manifest v1');

/** A byte stream stored as chunks: the top of its page tree. File contents and tree blobs are StreamRefs. */
export interface StreamRef {
  /** Plaintext bytes described. */
  size: number;
  /** Data chunks described. */
  chunks: number;
  /** 0: entries are data chunks; d > 0: they are pages of level d − 1. */
  depth: number;
  entries: ChunkEntry[];
}

/** What a manifest names: one file (`raic put`) or a snapshot's root tree (`raic backup`). */
export type ManifestKind = 'file' | 'tree';

export interface ManifestHeader {
  kind: ManifestKind;
  size: number;
  chunks: number;
  depth: number;
  createdAt: string;
}

export interface ManifestRoot {
  header: ManifestHeader;
  entries: ChunkEntry[];
}

export function manifestRoot(kind: ManifestKind, stream: StreamRef, createdAt: string): ManifestRoot {
  return { header: { kind, size: stream.size, chunks: stream.chunks, depth: stream.depth, createdAt }, entries: stream.entries };
}

export function streamOf(root: ManifestRoot): StreamRef {
  return { size: root.header.size, chunks: root.header.chunks, depth: root.header.depth, entries: root.entries };
}

/** Stores a page (plaintext bytes) as a chunk and returns its entry. */
export type StorePage = (page: Buffer) => Promise<ChunkEntry>;

/** A stream of fewer chunks than a page: its data chunks are its top level, as they are (depth 0). */
export function flatStream(entries: ChunkEntry[]): StreamRef {
  return { size: bytesOf(entries), chunks: entries.length, depth: 0, entries };
}

const bytesOf = (entries: readonly ChunkEntry[]): number => entries.reduce((sum, e) => sum + e.size, 0);

/**
 * flatStream held as the page a tree blob lists it by (PageStreamRef), its entries remade only if asked for. A
 * backup keeps each stored file's ref until its directory's listing is written: the entry objects and their
 * three Buffers each were most of what a directory of many small files held (18k files in /usr/share/man/man1).
 */
export function pagedStream(entries: ChunkEntry[]): StreamRef {
  return new PageStreamRef(bytesOf(entries), entries.length, 0, encodePage(entries));
}

export class ManifestBuilder {
  private readonly levels: ChunkEntry[][] = [[]];
  private size = 0;
  private chunks = 0;

  constructor(
    private readonly pageEntries: number,
    private readonly storePage: StorePage,
  ) {}

  /** Adds the next data chunk (in file order). */
  async add(entry: ChunkEntry): Promise<void> {
    this.size += entry.size;
    this.chunks += 1;
    await this.push(0, entry);
  }

  private async push(level: number, entry: ChunkEntry): Promise<void> {
    const list = (this.levels[level] ??= []);
    list.push(entry);
    if (list.length === this.pageEntries) {
      this.levels[level] = [];
      await this.push(level + 1, await this.storePage(encodePage(list)));
    }
  }

  /** Flushes partial pages upward until one level remains: the stream's top entries. */
  async finish(): Promise<StreamRef> {
    if (this.levels.length === 1) return flatStream(this.levels[0]!);
    let depth = 0;
    while (depth < this.levels.length - 1) {
      const list = this.levels[depth]!;
      if (list.length > 0) {
        this.levels[depth] = [];
        await this.push(depth + 1, await this.storePage(encodePage(list)));
      }
      depth += 1;
    }
    return { size: this.size, chunks: this.chunks, depth, entries: this.levels[depth]! };
  }
}

export function encodePage(entries: readonly ChunkEntry[]): Buffer {
  return encodeRefList(PAGE_MAGIC, entries, true);
}

export function decodePage(bytes: Buffer): ChunkEntry[] {
  return decodeRefList(PAGE_MAGIC, bytes, true);
}

/** Seals the root under `capKey`; returns the bytes and their id (hex hash). */
export function sealManifest(root: ManifestRoot, capKey: Uint8Array): { id: string; sealed: Uint8Array } {
  const header = Buffer.from(JSON.stringify(root.header));
  const list = encodeRefList(PAGE_MAGIC, root.entries, true);
  const plain = Buffer.alloc(8 + 4 + header.length + list.length);
  plain.write(ROOT_MAGIC, 0, 8, 'latin1');
  plain.writeUInt32BE(header.length, 8);
  header.copy(plain, 12);
  list.copy(plain, 12 + header.length);
  const sealed = seal(capKey, plain, ROOT_AD);
  return { id: hash(sealed).toString('hex'), sealed };
}

/** Verifies the sealed root against its id, opens it with the capability key. */
export function openManifest(idHex: string, sealed: Buffer, capKey: Uint8Array): ManifestRoot {
  if (!hash(sealed).equals(Buffer.from(idHex, 'hex'))) {
    throw new RaicError('Integrity', 'manifest bytes do not match the capability (corrupt copy)');
  }
  let plain: Buffer;
  try {
    plain = Buffer.from(open(capKey, sealed, ROOT_AD));
  } catch {
    throw new RaicError('Usage', 'the capability key does not open its manifest: the capability was altered', {
      hint: 'copy the capability again exactly as `raic put` printed it',
    });
  }
  // The key authenticates the bytes, not their sense: whoever made the capability chose them. Every length and
  // field is checked here, so a malformed root fails as Integrity instead of a RangeError or SyntaxError.
  if (plain.length < 12 || plain.toString('latin1', 0, 8) !== ROOT_MAGIC) throw new RaicError('Integrity', 'not a raic manifest');
  const headerLen = plain.readUInt32BE(8);
  if (headerLen > plain.length - 12) throw new RaicError('Integrity', 'a manifest header runs past the manifest');
  let header: Partial<ManifestHeader> | null;
  try {
    header = JSON.parse(plain.toString('utf8', 12, 12 + headerLen)) as Partial<ManifestHeader> | null;
  } catch {
    throw new RaicError('Integrity', 'a manifest header is not JSON');
  }
  if (typeof header !== 'object' || header === null || (header.kind !== 'file' && header.kind !== 'tree') || typeof header.createdAt !== 'string') {
    throw new RaicError('Integrity', 'a manifest header is malformed');
  }
  const root = { header: header as ManifestHeader, entries: decodeRefList(PAGE_MAGIC, plain.subarray(12 + headerLen), true) };
  checkStream(streamOf(root), 'a manifest');
  return root;
}

/**
 * Rejects Integrity unless size, chunks and depth are counts and, at depth 0 (where the entries are the data
 * chunks), the entries are `chunks` chunks of `size` bytes in all: a reader sizes its work and output by them.
 */
function checkStream(ref: StreamRef, what: string): void {
  checkDeclared(ref.size, ref.chunks, ref.depth, () => ({ count: ref.entries.length, bytes: bytesOf(ref.entries) }), what);
}

/** checkStream's checks, given what the entries hold (`listed`, asked for only at depth 0). */
function checkDeclared(size: unknown, chunks: unknown, depth: unknown, listed: () => { count: number; bytes: number }, what: string): void {
  const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!isCount(size) || !isCount(chunks) || !isCount(depth)) throw new RaicError('Integrity', `${what} has a malformed size, chunk count or depth`);
  if (depth !== 0) return;
  const { count, bytes } = listed();
  if (chunks !== count || size !== bytes) throw new RaicError('Integrity', `${what} lists ${count} chunks, not the ${chunks as number} chunks of ${size as number} bytes it declares`);
}

/** Every data chunk entry of a stream in order; `loadPage` fetches and decrypts one page chunk. */
export async function* walkStream(stream: StreamRef, loadPage: (entry: ChunkEntry) => Promise<Buffer>): AsyncGenerator<ChunkEntry> {
  yield* walkLevel(stream.entries, stream.depth, loadPage);
}

async function* walkLevel(entries: ChunkEntry[], depth: number, loadPage: (entry: ChunkEntry) => Promise<Buffer>): AsyncGenerator<ChunkEntry> {
  for (const entry of entries) {
    if (depth === 0) yield entry;
    else yield* walkLevel(decodePage(await loadPage(entry)), depth - 1, loadPage);
  }
}

/** Every entry of a stream's page tree including the pages themselves: yields [entry, isPage]. */
export async function* walkStreamAll(stream: StreamRef, loadPage: (entry: ChunkEntry) => Promise<Buffer>): AsyncGenerator<[ChunkEntry, boolean]> {
  async function* level(entries: ChunkEntry[], depth: number): AsyncGenerator<[ChunkEntry, boolean]> {
    for (const entry of entries) {
      yield [entry, depth > 0];
      if (depth > 0) yield* level(decodePage(await loadPage(entry)), depth - 1);
    }
  }
  yield* level(stream.entries, stream.depth);
}

/** StreamRef as JSON-safe text (used inside tree blobs): entries are the binary entry list in base64. */
export interface StreamRefJson {
  s: number;
  c: number;
  d: number;
  e: string;
}

export function streamRefToJson(ref: StreamRef): StreamRefJson {
  return { s: ref.size, c: ref.chunks, d: ref.depth, e: (ref instanceof PageStreamRef ? ref.page : encodePage(ref.entries)).toString('base64') };
}

/**
 * A StreamRef read from a tree blob (streamRefFromJson): checked in full as it is read, its entries made only when
 * asked for. A backup reuses an unchanged file's ref unread (and writes it back as the page it came from), and a
 * restore's directory pass never reads a file's: an object and three views per chunk, made for every file of every
 * listing walked, were ~40% of the garbage of decoding a tree.
 */
class PageStreamRef implements StreamRef {
  #entries: ChunkEntry[] | null = null;

  constructor(
    readonly size: number,
    readonly chunks: number,
    readonly depth: number,
    /** The entries as encodePage writes them (checked). */
    readonly page: Buffer,
  ) {}

  get entries(): ChunkEntry[] {
    return (this.#entries ??= decodePage(this.page));
  }
}

export function streamRefFromJson(j: StreamRefJson): StreamRef {
  if (typeof j?.s !== 'number' || typeof j.c !== 'number' || typeof j.d !== 'number' || typeof j.e !== 'string') {
    throw new RaicError('Integrity', 'damaged stream reference in a tree');
  }
  const page = Buffer.from(j.e, 'base64');
  // decodePage's checks first, as before; the entries themselves are made only when asked for.
  const totals = refListTotals(PAGE_MAGIC, page, true);
  checkDeclared(j.s, j.c, j.d, () => totals, 'a stream reference in a tree');
  return new PageStreamRef(j.s, j.c, j.d, page);
}
