/**
 * zstd through zstd-napi (the reference C library, built from its bundled source by node-gyp at install):
 * synchronous, ~8 µs a call on small inputs, 1 MiB of random bytes in ~0.6 ms at level 3, decompression
 * ~950 MB/s here — the fastest of the bindings measured (the session note has the table). The format does not
 * depend on it: a zstd frame is a zstd frame (RFC 8878), whichever library wrote it.
 *
 * Compressors and the decompression context are per thread (each worker loads this module once) and reused.
 */
import { createRequire } from 'node:module';
import { RaicError } from '../errors.js';

interface ZstdBinding {
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  CCtx: new () => { setParameter(param: number, value: number): void; compress2(dst: Uint8Array, src: Uint8Array): number };
  CParameter: { compressionLevel: number; contentSizeFlag: number };
  compressBound(size: number): number;
}

// zstd-napi is CommonJS; createRequire keeps this module ES. Loaded at the first call, not with the module: a
// command holds it only once it compresses or opens a chunk, after the KDF (whose 64 MiB set a one-file
// backup's peak RSS, on top of everything loaded before it).
const require = createRequire(import.meta.url);
let loaded: ZstdBinding | null = null;
const zstd = (): ZstdBinding => (loaded ??= require('zstd-napi/binding') as ZstdBinding);

const contexts = new Map<number, InstanceType<ZstdBinding['CCtx']>>();
let dctx: InstanceType<ZstdBinding['DCtx']> | null = null;

/** One zstd frame of `data` at `level`, recording the content size (unframeChunk relies on it), in a fresh buffer. */
export function zstdCompress(data: Uint8Array, level: number): Buffer {
  const out = Buffer.allocUnsafe(zstd().compressBound(data.length));
  return out.subarray(0, zstdCompressInto(data, level, out)!);
}

/**
 * Inputs up to this size that may not fit `dst` are compressed into a scratch buffer with room for any result
 * and copied: a result that does not fit makes zstd-napi throw, and the exception cost ~11 µs a call against
 * ~1.6 µs for the compression itself on a 125-byte incompressible file (most of a worker's time on a tree of
 * tiny files). Larger inputs reach here only after a sample compressed (see frameChunk), so rarely fail.
 */
const SCRATCH_UP_TO = 128 * 1024;
let scratch: Uint8Array | null = null;

/**
 * One zstd frame of `data` at `level` written into `dst`, or null when it does not fit there (the caller sizes
 * `dst` to what compression must beat). Nothing is allocated per call: a fresh output buffer per chunk left
 * each worker holding tens of MB of garbage between collections on a tree of small files.
 */
export function zstdCompressInto(data: Uint8Array, level: number, dst: Uint8Array): number | null {
  let c = contexts.get(level);
  if (!c) {
    c = new (zstd().CCtx)();
    c.setParameter(zstd().CParameter.compressionLevel, level);
    c.setParameter(zstd().CParameter.contentSizeFlag, 1);
    contexts.set(level, c);
  }
  try {
    if (data.length <= SCRATCH_UP_TO && dst.length < zstd().compressBound(data.length)) {
      scratch ??= new Uint8Array(zstd().compressBound(SCRATCH_UP_TO));
      const n = c.compress2(scratch, data);
      if (n > dst.length) return null;
      dst.set(scratch.subarray(0, n));
      return n;
    }
    return c.compress2(dst, data);
  } catch {
    return null; // dstSize_tooSmall: it does not shrink enough (any other failure also just means: store it raw)
  }
}

/**
 * Decompresses one frame into `out` and returns the bytes written. It never writes past `out` (ZSTD_decompressDCtx
 * into a bounded destination): a frame that would decompress to more fails instead of growing.
 */
export function zstdDecompress(frame: Uint8Array, out: Uint8Array): number {
  dctx ??= new (zstd().DCtx)();
  try {
    return dctx.decompress(out, frame);
  } catch (cause) {
    throw new RaicError('Integrity', 'a compressed chunk does not decompress', { cause });
  }
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * The content size a zstd frame's header declares (RFC 8878 §3.1.1.1), or null when the header is malformed
 * or declares none. Read from the header alone, before anything is decompressed.
 */
export function zstdFrameContentSize(frame: Uint8Array): number | null {
  if (frame.length < 6) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== ZSTD_MAGIC) return null;
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if ((descriptor >> 3) & 1) return null; // reserved bit
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  if (at + fcsBytes > frame.length) return null;
  switch (fcsBytes) {
    case 1:
      return view.getUint8(at);
    case 2:
      return view.getUint16(at, true) + 256;
    case 4:
      return view.getUint32(at, true);
    default: {
      const big = view.getBigUint64(at, true);
      return big > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(big);
    }
  }
}
