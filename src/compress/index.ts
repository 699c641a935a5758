/**
 * compress/ — what a chunk's plaintext becomes before it is sealed: a codec byte, then the payload.
 * Pure functions over bytes, run wherever chunks are sealed and opened (worker threads, and the main thread
 * for small ones). No I/O, no crypto.
 *
 * Terms:
 *   codec byte  0 = stored as it is, 1 = one zstd frame. It travels inside the ciphertext (a provider
 *               learns nothing from it), so the algorithm can change later without a new format.
 *   mode        the user's choice, restic's names: off (never compress), auto (zstd level 3, kept only when
 *               it shrinks the chunk; a sample decides first for large chunks, so incompressible data costs
 *               almost nothing), fastest (level 1), better (level 9), max (level 19).
 *
 * Opening is bounded: the chunk's plaintext size comes from its (authenticated) reference, and a frame that
 * would decompress to anything else is rejected before or while decompressing, never allocated beyond it.
 */
import { RaicError } from '../errors.js';
import { zstdCompressInto, zstdDecompress, zstdFrameContentSize } from './zstd.js';

export const COMPRESSION_ID = 'zstd/1';
export type CompressionMode = 'off' | 'auto' | 'fastest' | 'better' | 'max';
export const COMPRESSION_MODES: readonly CompressionMode[] = ['auto', 'off', 'fastest', 'better', 'max'];

export const CODEC_RAW = 0;
export const CODEC_ZSTD = 1;
/** Bytes a framed chunk may have beyond its plaintext (the codec byte; a stored-as-is chunk is never larger). */
export const FRAME_OVERHEAD = 1;

/**
 * The most a zstd frame yields per byte of itself: no block decompresses to more than 128 KiB, and the smallest
 * block that does (an RLE block) takes 4 bytes (RFC 8878 §3.1.1.2). A header declaring more is refused before
 * anything is allocated for it.
 */
const ZSTD_MAX_EXPANSION = (128 * 1024) / 4;

const LEVEL: Record<Exclude<CompressionMode, 'off'>, number> = { auto: 3, fastest: 1, better: 9, max: 19 };

/**
 * auto: chunks larger than this are judged by compressing a sample first (their first SAMPLE_BYTES at level 1):
 * a sample that does not shrink by SAMPLE_GAIN means the chunk is stored as it is without compressing it whole.
 */
const SAMPLE_FROM = 128 * 1024;
const SAMPLE_BYTES = 32 * 1024;
const SAMPLE_GAIN = 0.97;
/** A sample's compressed form must fit here (under SAMPLE_GAIN of it) for the whole chunk to be tried. */
const sampleScratch = new Uint8Array(Math.ceil(SAMPLE_BYTES * SAMPLE_GAIN) - 1);

export function parseCompressionMode(text: string): CompressionMode {
  if ((COMPRESSION_MODES as readonly string[]).includes(text)) return text as CompressionMode;
  throw new RaicError('Usage', `--compression takes ${COMPRESSION_MODES.join(', ')}, not "${text}"`);
}

/**
 * The framed form of `plaintext`: codec byte ‖ payload, written into `into` (≥ plaintext.length + 1 bytes;
 * fresh when absent) and returned as a view of it. Compressed only when that makes it smaller.
 */
export function frameChunk(plaintext: Uint8Array, mode: CompressionMode, into?: Uint8Array): Uint8Array {
  const out = into ?? new Uint8Array(plaintext.length + FRAME_OVERHEAD);
  if (out.length < plaintext.length + FRAME_OVERHEAD) throw new RangeError('frameChunk: output too small');
  if (mode !== 'off' && plaintext.length > 16) {
    const worthTrying = mode !== 'auto' || plaintext.length <= SAMPLE_FROM || zstdCompressInto(plaintext.subarray(0, SAMPLE_BYTES), 1, sampleScratch) !== null;
    if (worthTrying) {
      // Straight into the frame, with room only for a result that shrinks the chunk (packed + overhead < plaintext).
      const packed = zstdCompressInto(plaintext, LEVEL[mode], out.subarray(1, plaintext.length - FRAME_OVERHEAD));
      if (packed !== null) {
        out[0] = CODEC_ZSTD;
        return out.subarray(0, packed + 1);
      }
    }
  }
  out[0] = CODEC_RAW;
  out.set(plaintext, 1);
  return out.subarray(0, plaintext.length + 1);
}

/**
 * The plaintext of a framed chunk, which must be exactly `size` bytes (from the chunk's reference). Writes into
 * `out` when given (≥ size bytes) and returns the view. Rejects Integrity for an unknown codec or a frame whose
 * content is not `size` bytes (checked from the frame header before anything is decompressed).
 */
export function unframeChunk(framed: Uint8Array, size: number, out?: Uint8Array): Uint8Array {
  if (framed.length < 1) throw new RaicError('Integrity', 'an empty chunk frame');
  const codec = framed[0];
  const payload = framed.subarray(1);
  // The output is allocated only once the frame agrees with `size`: a size no frame could hold costs nothing.
  const target = (): Uint8Array => {
    if (!out) return new Uint8Array(size);
    if (out.length < size) throw new RaicError('Usage', `a ${out.length}-byte buffer cannot hold a ${size}-byte chunk`);
    return out.subarray(0, size);
  };
  if (codec === CODEC_RAW) {
    if (payload.length !== size) throw new RaicError('Integrity', `a stored chunk has ${payload.length} bytes, its reference says ${size}`);
    const plain = target();
    plain.set(payload);
    return plain;
  }
  if (codec === CODEC_ZSTD) {
    const declared = zstdFrameContentSize(payload);
    if (declared !== size) throw new RaicError('Integrity', `a compressed chunk declares ${String(declared)} bytes, its reference says ${size}`);
    if (declared > payload.length * ZSTD_MAX_EXPANSION) throw new RaicError('Integrity', `a ${payload.length}-byte zstd frame cannot hold the ${declared} bytes it declares`);
    const plain = target();
    const got = zstdDecompress(payload, plain);
    if (got !== size) throw new RaicError('Integrity', `a compressed chunk decompressed to ${got} bytes, its reference says ${size}`);
    return plain;
  }
  throw new RaicError('Integrity', `a chunk uses compression codec ${String(codec)}, which this raic does not know`);
}
