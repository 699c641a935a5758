/**
 * encodeFileSegment — runs on a stripe worker: reads the next segment of a file itself, cuts it into
 * content-defined chunks and encodes each one into a shared region the main thread owns. The main thread
 * never sees a file's bytes: reading, chunking, hashing, sealing and erasure coding all happen off it, and
 * it only packs the finished shares. (With the chunker on the main thread, a tree backup left both workers
 * half idle.)
 *
 * A segment is at most `segmentBytes` (≥ 2 × the largest chunk, so it always holds a complete chunk). When
 * the file goes on past it, the chunk cut off at the segment's end is not encoded: the next task starts
 * there (`next`), so boundaries are exactly those of one pass over the whole file. A small file is one
 * task: open, read, close. A larger one keeps its descriptor open between tasks (`fd` in the result).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { GearScanner, type CdcParams } from '../chunk/index.js';
import type { CompressionMode } from '../compress/index.js';
import { loadErasureCodec } from '../erasure/index.js';
import { encodeStripeInto, stripeBytes } from './stripe-codec.js';

export interface SegmentTask {
  /** The file to open, when `fd` is null (the first segment): bytes when its name is not UTF-8. */
  path: string | Uint8Array;
  fd: number | null;
  /** File offset of the segment's first byte: the start of a chunk. */
  position: number;
  segmentBytes: number;
  params: CdcParams;
  convergenceKey: Uint8Array;
  k: number;
  n: number;
  compression: CompressionMode;
  /** Where the stripes go, back to back (see segmentRegionBytes). */
  region: SharedArrayBuffer;
}

export interface SegmentChunk {
  id: Uint8Array;
  key: Uint8Array;
  size: number;
  shareLen: number;
  hashes: Uint8Array;
  /** The stripe's offset in the region. */
  offset: number;
}

export type SegmentResult =
  | {
      chunks: SegmentChunk[];
      /** File offset after the last encoded chunk: where the next segment starts. */
      next: number;
      /** The file ended in this segment (its descriptor is closed). */
      eof: boolean;
      /** Still open when not `eof`: pass it to the next segment. */
      fd: number | null;
    }
  | { error: { code: string | undefined; message: string }; fd: null };

/** A region that holds the stripes of any segment: n/k × its bytes, plus per-chunk AEAD and rounding. */
export function segmentRegionBytes(segmentBytes: number, params: CdcParams, k: number, n: number): number {
  const maxChunks = Math.ceil(segmentBytes / params.minSize) + 1;
  return Math.ceil((n / k) * segmentBytes) + maxChunks * (stripeBytes(0, k, n) + REGION_ALIGN);
}

/**
 * Stripes start at multiples of this in the region. V8 copies to or from shared memory byte by byte unless
 * source and destination are equally aligned (measured 2.4 vs 17 GB/s), so each stripe is built in private
 * memory (the codec copies blocks of it in and out of WASM) and copied to the region at an aligned offset.
 */
const REGION_ALIGN = 8;

/** Per worker (tasks run one at a time on a worker): the segment being chunked, and a stripe being built. */
let readBuffer: Buffer | null = null;
let stripeScratch: Uint8Array | null = null;

export async function encodeFileSegment(task: SegmentTask): Promise<SegmentResult> {
  const codec = await loadErasureCodec(task.k, task.n);
  let fd = task.fd;
  try {
    fd ??= openSync(typeof task.path === 'string' ? task.path : Buffer.from(task.path.buffer, task.path.byteOffset, task.path.byteLength), 'r');
    if (!readBuffer || readBuffer.length < task.segmentBytes) readBuffer = Buffer.allocUnsafeSlow(task.segmentBytes);
    // A plain Uint8Array view: the scanner's hot loop then sees one array type.
    const data = new Uint8Array(readBuffer.buffer, readBuffer.byteOffset, task.segmentBytes);
    let got = 0;
    while (got < task.segmentBytes) {
      const r = readSync(fd, data, got, task.segmentBytes - got, task.position + got);
      if (r === 0) break;
      got += r;
    }
    let eof = got < task.segmentBytes;
    const scanner = new GearScanner(task.params);
    const chunks: SegmentChunk[] = [];
    let at = 0;
    let offset = 0;
    while (at < got) {
      const cut = scanner.scan(data, at, got);
      if (cut < 0 && !eof) break; // cut off by the segment's end: the next segment starts with it
      const end = cut < 0 ? got : cut;
      const bytes = stripeBytes(end - at, task.k, task.n);
      if (offset + bytes > task.region.byteLength) {
        eof = false; // no room (cannot happen with segmentRegionBytes; kept safe): the rest goes next time
        break;
      }
      if (!stripeScratch || stripeScratch.length < bytes) stripeScratch = new Uint8Array(stripeBytes(task.params.maxSize, task.k, task.n));
      const enc = encodeStripeInto(data.subarray(at, end), task.convergenceKey, codec, stripeScratch.subarray(0, bytes), task.compression);
      new Uint8Array(task.region, offset, enc.stripe.length).set(enc.stripe);
      chunks.push({ id: enc.id, key: enc.key, size: enc.size, shareLen: enc.shareLen, hashes: enc.hashes, offset });
      offset += Math.ceil(enc.stripe.length / REGION_ALIGN) * REGION_ALIGN;
      at = end;
    }
    if (eof) {
      closeSync(fd);
      fd = null;
    }
    return { chunks, next: task.position + at, eof, fd };
  } catch (err) {
    if (fd !== null) closeSync(fd);
    const e = err as NodeJS.ErrnoException;
    return { error: { code: e.code, message: e.message }, fd: null };
  }
}
