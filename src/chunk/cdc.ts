/**
 * Content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016 / IEEE TPDS 2020) for `raic backup`:
 * a cut is placed where a rolling Gear hash of the last 32 bytes matches a mask, so boundaries move with
 * the content. Inserting or changing bytes in a large file changes the chunk(s) around the edit and no
 * others, which is what lets a re-backup dedup against the previous snapshot.
 *
 * Algorithm `fastcdc-gear/1` (boundaries are part of dedup behaviour: changing anything below needs a
 * new id):
 * - Gear hash, 32 bits: h = (h << 1) + GEAR[byte] (mod 2^32), GEAR pinned in gear-table.ts. Bit j of h
 *   depends on the last j + 1 bytes only, so the masks take the top bits, which see the most bytes.
 * - Cut-point skipping: the first minSize − 32 bytes of a chunk are not hashed; hashing starts 32 bytes
 *   before minSize so that every candidate cut sees a full 32-byte window, never the chunk's start.
 * - Normalized chunking, level 2: with b = log2(avgSize), a chunk of length L (counting the byte just
 *   hashed) ends there if L ≥ minSize and the top b + 2 bits of h are zero while L < avgSize, or the
 *   top b − 2 bits once L ≥ avgSize; it ends at maxSize regardless. Sizes cluster around avgSize.
 */
import { RaicError } from '../errors.js';
import { GEAR } from './gear-table.js';

export interface CdcParams {
  /** No chunk but a stream's last is shorter. At least 64 bytes. */
  minSize: number;
  /** FastCDC's "normal size", where the mask eases; a power of two. With minSize = avgSize / 4 the mean
   *  chunk of random data is 1.146 × this (computed; measured 1.14–1.16 over 512 MiB). */
  avgSize: number;
  /** No chunk is longer; bounds memory. */
  maxSize: number;
}

/**
 * 256 KiB / 1 MiB / 4 MiB (FastCDC's own ratios, min = avg / 4, max = 4 × avg), mean ≈ 1.15 MiB: big
 * enough that per-chunk costs (a 63 + 32n byte ChunkRef, one AEAD call, one stripe) stay small beside
 * the data, small enough that an edit re-uploads about a megabyte. A chunk reaches maxSize on random
 * data with probability ≈ e^-12, so cuts forced by size (which do not resynchronise) are rare.
 */
export const DEFAULT_CDC: CdcParams = Object.freeze({ minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024 });

/** Recorded in the format: which boundary function cut the chunks. */
export const CDC_ID = 'fastcdc-gear/1';

/** Bytes hashed before the first candidate cut, so its hash covers a full window (32-bit Gear). */
const WINDOW = 32;
/** FastCDC's normalization level: the masks are log2(avgSize) ± this many bits. */
const NORMALIZATION = 2;

/** Throws `Usage` unless the parameters are ones this chunker can honour. */
export function checkCdcParams(p: CdcParams): void {
  const bits = Math.log2(p.avgSize);
  const ok =
    Number.isInteger(p.minSize) &&
    Number.isInteger(p.maxSize) &&
    Number.isInteger(bits) &&
    bits - NORMALIZATION >= 1 &&
    bits + NORMALIZATION <= 32 &&
    p.minSize >= 2 * WINDOW &&
    p.minSize < p.avgSize &&
    p.avgSize < p.maxSize &&
    p.maxSize <= 2 ** 31;
  if (!ok) {
    throw new RaicError('Usage', `invalid chunking parameters ${JSON.stringify(p)}`, {
      hint: 'need 64 ≤ minSize < avgSize < maxSize ≤ 2^31, avgSize a power of two',
    });
  }
}

/** A mask of the top `bits` bits of a 32-bit hash, as an int32. */
function topBits(bits: number): number {
  return bits >= 32 ? -1 : ~(0xffffffff >>> bits) | 0;
}

/**
 * The boundary search, resumable across buffers: it keeps the hash and the length of the chunk so far,
 * so a stream can be scanned piece by piece where it lies, without first copying it anywhere.
 */
export class GearScanner {
  private hash = 0;
  /** Bytes of the current chunk already scanned. */
  private length = 0;
  private readonly maskSmall: number;
  private readonly maskLarge: number;

  constructor(private readonly params: CdcParams) {
    checkCdcParams(params);
    const bits = Math.log2(params.avgSize);
    this.maskSmall = topBits(bits + NORMALIZATION);
    this.maskLarge = topBits(bits - NORMALIZATION);
  }

  /**
   * Scans data[from, to), which continues the current chunk. Returns the index in `data` just past the
   * current chunk's last byte (and starts a new chunk there), or −1 if the chunk goes on past `to`.
   */
  scan(data: Uint8Array, from: number, to: number): number {
    const { minSize, avgSize, maxSize } = this.params;
    // data[i] is byte number (i - shift) of the chunk.
    const shift = from - this.length;
    let i = Math.max(from, Math.min(to, shift + minSize - WINDOW)); // cut-point skipping
    let end = Math.min(to, shift + minSize - 1);
    let h = this.hash;
    for (; i < end; i++) h = ((h << 1) + GEAR[data[i]!]!) | 0;
    this.hash = h;
    end = Math.min(to, shift + avgSize - 1);
    const small = this.seek(data, i, end, this.maskSmall);
    if (small >= 0) return this.cut(small);
    i = Math.max(i, end);
    end = Math.min(to, shift + maxSize - 1);
    const large = this.seek(data, i, end, this.maskLarge);
    if (large >= 0) return this.cut(large);
    i = Math.max(i, end);
    if (i < to) return this.cut(i + 1); // byte maxSize − 1: the chunk is full
    this.length = to - shift;
    return -1;
  }

  /**
   * Hashes data[from, to) until the hash matches `mask`; returns the index just past the matching byte,
   * or −1 (keeping the hash) if none does. Unrolled by eight: measured 1.8× the speed of the plain loop
   * (1170 vs 635 MB/s of hashing). Reading 32-bit words measured ~20% faster still, not worth the alignment
   * and byte-order handling it needs.
   */
  private seek(data: Uint8Array, from: number, to: number, mask: number): number {
    const gear = GEAR;
    let h = this.hash;
    let i = from;
    for (; i + 8 <= to; i += 8) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & mask) === 0) return i + 1;
      h = ((h << 1) + gear[data[i + 1]!]!) | 0;
      if ((h & mask) === 0) return i + 2;
      h = ((h << 1) + gear[data[i + 2]!]!) | 0;
      if ((h & mask) === 0) return i + 3;
      h = ((h << 1) + gear[data[i + 3]!]!) | 0;
      if ((h & mask) === 0) return i + 4;
      h = ((h << 1) + gear[data[i + 4]!]!) | 0;
      if ((h & mask) === 0) return i + 5;
      h = ((h << 1) + gear[data[i + 5]!]!) | 0;
      if ((h & mask) === 0) return i + 6;
      h = ((h << 1) + gear[data[i + 6]!]!) | 0;
      if ((h & mask) === 0) return i + 7;
      h = ((h << 1) + gear[data[i + 7]!]!) | 0;
      if ((h & mask) === 0) return i + 8;
    }
    for (; i < to; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & mask) === 0) return i + 1;
    }
    this.hash = h;
    return -1;
  }

  private cut(at: number): number {
    this.hash = 0;
    this.length = 0;
    return at;
  }
}

/** A plain Uint8Array view, so the hot loop sees one array type (Buffer is a subclass). */
function plain(data: Uint8Array): Uint8Array {
  return data.constructor === Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Pure boundary finder over one buffer: index of the end of the first chunk in data[0..len) (len ≤ maxSize). */
export function findBoundary(data: Uint8Array, len: number, params: CdcParams): number {
  const end = new GearScanner(params).scan(plain(data), 0, Math.min(len, data.length));
  return end < 0 ? Math.min(len, data.length) : end;
}

/**
 * Cuts a byte stream into content-defined chunks; memory bounded by ~2 × maxSize. Each yielded chunk is a
 * view at offset 0 of its own ArrayBuffer obtained from `alloc` (which must return ≥ maxSize bytes), so
 * the caller can move it to a worker thread and recycle it (see src/store/buffer-pool.ts and how
 * src/core/put.ts uses fixedChunks). Boundaries do not depend on how the source is split into pieces.
 */
export async function* cdcChunks(
  source: AsyncIterable<Uint8Array>,
  params: CdcParams = DEFAULT_CDC,
  alloc: () => ArrayBuffer = () => new ArrayBuffer(params.maxSize),
): AsyncGenerator<Buffer> {
  const scanner = new GearScanner(params);
  const fresh = (): Buffer => {
    const buffer = alloc();
    if (buffer.byteLength < params.maxSize) {
      throw new RaicError('Usage', `chunk buffer of ${buffer.byteLength} bytes is smaller than maxSize ${params.maxSize}`);
    }
    return Buffer.from(buffer, 0, params.maxSize);
  };
  let chunk: Buffer | undefined; // taken from `alloc` only once a byte needs it
  let used = 0;
  for await (const piece of source) {
    const data = plain(piece);
    let at = 0;
    while (at < data.length) {
      const cut = scanner.scan(data, at, data.length);
      const stop = cut < 0 ? data.length : cut;
      chunk ??= fresh();
      chunk.set(data.subarray(at, stop), used);
      used += stop - at;
      at = stop;
      if (cut >= 0) {
        yield chunk.subarray(0, used);
        chunk = undefined;
        used = 0;
      }
    }
  }
  if (chunk !== undefined && used > 0) yield chunk.subarray(0, used);
}
