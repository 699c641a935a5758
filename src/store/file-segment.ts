/**
 * sealFileSegment — runs on a codec worker: reads the next segment of a file itself, cuts it into
 * content-defined chunks and seals each one into a shared region the main thread owns. The main thread
 * never sees a file's bytes: reading, chunking, hashing, compressing and sealing all happen off it, and
 * it only packs the sealed chunks. (With the chunker on the main thread, a tree backup left both workers
 * half idle.)
 *
 * A segment is at most `segmentBytes` (≥ 2 × the largest chunk, so it always holds a complete chunk). When
 * the file goes on past it, the chunk cut off at the segment's end is not sealed: the next task starts
 * there (`next`), so boundaries are exactly those of one pass over the whole file. A small file is one
 * task: open, read, close. A larger one keeps its descriptor open between tasks (`fd` in the result).
 */
import { closeSync, openSync } from 'node:fs';
import { readFully } from '../file-io.js';
import { GearScanner, type CdcParams } from '../chunk/index.js';
import type { CompressionMode } from '../compress/index.js';
import { sealChunkInto, sealedBytes } from './chunk-codec.js';

export interface SegmentTask {
  /** The file to open, when `fd` is null (the first segment): bytes when its name is not UTF-8. */
  path: string | Uint8Array;
  fd: number | null;
  /** File offset of the segment's first byte: the start of a chunk. */
  position: number;
  segmentBytes: number;
  params: CdcParams;
  convergenceKey: Uint8Array;
  compression: CompressionMode;
  /** Where the sealed chunks go, back to back (see segmentRegionBytes). */
  region: SharedArrayBuffer;
}

export interface SegmentChunk {
  id: Uint8Array;
  key: Uint8Array;
  size: number;
  /** The sealed chunk's bytes at `offset` in the region. */
  length: number;
  offset: number;
}

export type SegmentResult =
  | {
      chunks: SegmentChunk[];
      /** File offset after the last sealed chunk: where the next segment starts. */
      next: number;
      /** The file ended in this segment (its descriptor is closed). */
      eof: boolean;
      /** Still open when not `eof`: pass it to the next segment. */
      fd: number | null;
    }
  | { error: { code: string | undefined; message: string }; fd: null };

/** A region that holds the sealed chunks of any segment: its bytes, plus per-chunk overhead and rounding. */
export function segmentRegionBytes(segmentBytes: number, params: CdcParams): number {
  const maxChunks = Math.ceil(segmentBytes / params.minSize) + 1;
  return segmentBytes + maxChunks * (sealedBytes(0) + REGION_ALIGN);
}

/**
 * Sealed chunks start at multiples of this in the region. V8 copies to or from shared memory byte by byte
 * unless source and destination are equally aligned (measured 2.4 vs 17 GB/s), so each chunk is sealed in
 * private memory and copied to the region at an aligned offset.
 */
const REGION_ALIGN = 8;

/** Per worker (tasks run one at a time on a worker): the segment being chunked, and a chunk being sealed. */
let readBuffer: Buffer | null = null;
let sealScratch: Uint8Array | null = null;

export function sealFileSegment(task: SegmentTask): SegmentResult {
  let fd = task.fd;
  try {
    fd ??= openPath(task.path);
    const data = segmentBuffer(task.segmentBytes);
    const got = readFully(fd, data, task.position);
    const sealed = sealChunks(data, got, got < task.segmentBytes, task, task.region, 0);
    if (sealed.eof) {
      closeSync(fd);
      fd = null;
    }
    return { chunks: sealed.chunks, next: task.position + sealed.consumed, eof: sealed.eof, fd };
  } catch (err) {
    if (fd !== null) closeSync(fd);
    return { error: errorOf(err), fd: null };
  }
}

/**
 * Several small whole files in one task (each one segment: smaller than `segmentBytes`), sealed one after
 * another into one region. Per file, a message round trip and its share of the pool's bookkeeping cost
 * the main thread more than the file's own chunking and sealing on a worker; batching them keeps the main
 * thread from starving the workers on trees of small files. A file that turned out too big for a
 * segment, or for the region's remaining room, comes back `redo`: the caller stores it on its own.
 */
export interface FileBatchTask extends Omit<SegmentTask, 'path' | 'fd' | 'position'> {
  paths: (string | Uint8Array)[];
}

export type FileBatchResult = ({ chunks: SegmentChunk[]; bytes: number } | { error: { code: string | undefined; message: string } } | { redo: true })[];

export function sealFileBatch(task: FileBatchTask): FileBatchResult {
  const out: FileBatchResult = [];
  const data = segmentBuffer(task.segmentBytes);
  let offset = 0;
  for (const path of task.paths) {
    let fd: number | null = null;
    try {
      fd = openPath(path);
      const got = readFully(fd, data, 0);
      closeSync(fd);
      fd = null;
      const sealed = got < task.segmentBytes ? sealChunks(data, got, true, task, task.region, offset) : null;
      if (!sealed || !sealed.eof) {
        out.push({ redo: true });
        continue;
      }
      out.push({ chunks: sealed.chunks, bytes: got });
      offset = sealed.offset;
    } catch (err) {
      if (fd !== null) closeSync(fd);
      out.push({ error: errorOf(err) });
    }
  }
  return out;
}

const openPath = (path: string | Uint8Array): number => openSync(typeof path === 'string' ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength), 'r');

const errorOf = (err: unknown): { code: string | undefined; message: string } => {
  const e = err as NodeJS.ErrnoException;
  return { code: e.code, message: e.message };
};

/** This worker's segment buffer, as a plain Uint8Array view (the scanner's hot loop then sees one array type). */
function segmentBuffer(bytes: number): Uint8Array {
  if (!readBuffer || readBuffer.length < bytes) readBuffer = Buffer.allocUnsafeSlow(bytes);
  return new Uint8Array(readBuffer.buffer, readBuffer.byteOffset, bytes);
}

/** Reads from `position` until `data` is full or the file ends; the bytes read. */

/**
 * Cuts `data[0, got)` into chunks and seals each into `region` from `offset` on. Without `eof`, the chunk cut
 * off at the end is left for the next segment; `eof` comes back false also when the region ran out of room.
 */
function sealChunks(
  data: Uint8Array,
  got: number,
  eof: boolean,
  task: Pick<SegmentTask, 'params' | 'convergenceKey' | 'compression'>,
  region: SharedArrayBuffer,
  offset: number,
): { chunks: SegmentChunk[]; consumed: number; offset: number; eof: boolean } {
  const scanner = new GearScanner(task.params);
  const chunks: SegmentChunk[] = [];
  let at = 0;
  while (at < got) {
    const cut = scanner.scan(data, at, got);
    if (cut < 0 && !eof) break; // cut off by the segment's end: the next segment starts with it
    const end = cut < 0 ? got : cut;
    const bytes = sealedBytes(end - at);
    if (offset + bytes > region.byteLength) return { chunks, consumed: at, offset, eof: false }; // no room: the rest goes next time
    if (!sealScratch || sealScratch.length < bytes) sealScratch = new Uint8Array(sealedBytes(task.params.maxSize));
    const enc = sealChunkInto(data.subarray(at, end), task.convergenceKey, sealScratch, task.compression);
    new Uint8Array(region, offset, enc.sealed.length).set(enc.sealed);
    chunks.push({ id: enc.id, key: enc.key, size: enc.size, length: enc.sealed.length, offset });
    offset += Math.ceil(enc.sealed.length / REGION_ALIGN) * REGION_ALIGN;
    at = end;
  }
  return { chunks, consumed: at, offset, eof };
}
