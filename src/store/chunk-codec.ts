/**
 * Chunk ⇄ sealed chunk: the CPU-heavy transforms, pure functions run inside worker threads (or inline for
 * small chunks).
 *
 * seal: key = keyedHash(convergenceKey, plaintext) (content-derived, so identical chunks in one repository
 * dedup and a manifest can hand out exactly the keys it names); id = keyedHash(key, "chunk-id"); the
 * plaintext is framed (compress/: codec byte ‖ payload, zstd when it shrinks); sealed = AEAD(key, framed).
 * Erasure coding happens per pack, not per chunk (pack-codec.ts).
 * open: the sealed length is bounded by the chunk's size before anything is decrypted; AEAD open; unframe
 * (bounded by the chunk's size).
 */
import { FRAME_OVERHEAD, frameChunk, unframeChunk, type CompressionMode } from '../compress/index.js';
import { AEAD_OVERHEAD, KEY_BYTES, keyedHash, open, seal } from '../crypto/index.js';
import { RaicError, isRaicError } from '../errors.js';

const CHUNK_ID_LABEL = Buffer.from('raic chunk id v1');

/** What sealing can add to a chunk at most (stored as it is; compressed ones take less). */
export const SEAL_OVERHEAD = AEAD_OVERHEAD + FRAME_OVERHEAD;

/** The most bytes the sealed form of a `size`-byte chunk can take. */
export const sealedBytes = (size: number): number => size + SEAL_OVERHEAD;

export interface SealTask {
  plaintext: Uint8Array;
  convergenceKey: Uint8Array;
  compression: CompressionMode;
  /** Where to build the sealed chunk (≥ sealedBytes(plaintext.length) bytes); a fresh buffer when absent. */
  sealedBuffer?: ArrayBuffer;
}

export interface SealedChunk {
  id: Uint8Array;
  key: Uint8Array;
  size: number;
  sealed: Uint8Array;
}

export interface SealResult extends SealedChunk {
  /** The task's plaintext, handed back so its buffer can be recycled. */
  plaintext: Uint8Array;
}

export function chunkKeyAndId(convergenceKey: Uint8Array, plaintext: Uint8Array): { key: Buffer; id: Buffer } {
  const key = keyedHash(convergenceKey, plaintext);
  return { key, id: keyedHash(key, CHUNK_ID_LABEL) };
}

export function sealChunk(task: SealTask): SealResult {
  const { plaintext } = task;
  const room = sealedBytes(plaintext.length);
  // Own ArrayBuffer (not Node's shared Buffer pool) so it can be transferred back without a copy.
  const out = task.sealedBuffer ? new Uint8Array(task.sealedBuffer, 0, room) : new Uint8Array(room);
  return { ...sealChunkInto(plaintext, task.convergenceKey, out, task.compression), plaintext };
}

/** Per thread: where framed chunks are built and opened (used and done with inside one call). */
let frameScratch = new Uint8Array(0);
function scratch(bytes: number): Uint8Array {
  if (frameScratch.length < bytes) frameScratch = new Uint8Array(Math.max(bytes, 64 * 1024));
  return frameScratch.subarray(0, bytes);
}

/** seal's work, into `out` (≥ sealedBytes(plaintext.length) bytes, any buffer — a shared one too). */
export function sealChunkInto(plaintext: Uint8Array, convergenceKey: Uint8Array, out: Uint8Array, compression: CompressionMode): SealedChunk {
  const { key, id } = chunkKeyAndId(convergenceKey, plaintext);
  const framed = frameChunk(plaintext, compression, scratch(plaintext.length + FRAME_OVERHEAD));
  const sealed = out.subarray(0, framed.length + AEAD_OVERHEAD);
  seal(key, framed, undefined, sealed);
  return { id, key, size: plaintext.length, sealed };
}

export interface OpenTask {
  sealed: Uint8Array;
  key: Uint8Array;
  size: number;
  /** Room for the plaintext (≥ size); fresh when absent. */
  plaintextBuffer?: ArrayBuffer;
}

/**
 * The chunk's plaintext (into `into` when given, ≥ size bytes). Rejects Integrity when the bytes are not the
 * chunk (wrong length, tag or frame).
 */
export function openChunk(task: OpenTask, into?: Uint8Array): Uint8Array {
  const { sealed, size } = task;
  if (sealed.length < SEAL_OVERHEAD || sealed.length > sealedBytes(size)) {
    throw new RaicError('Integrity', `a ${sealed.length}-byte sealed chunk cannot hold ${size} bytes`);
  }
  let framed: Uint8Array;
  try {
    framed = open(task.key, sealed, undefined, scratch(sealed.length - AEAD_OVERHEAD));
  } catch {
    throw new RaicError('Integrity', 'a chunk does not authenticate');
  }
  // No output buffer of `size` bytes here: unframeChunk allocates one only once the frame agrees with the size.
  return unframeChunk(framed, size, into ?? (task.plaintextBuffer ? new Uint8Array(task.plaintextBuffer) : undefined));
}

/**
 * Several chunks cut from one buffer (a ranged read of neighbouring chunks), opened in one call: one worker
 * task for a request's small chunks instead of one each (a task costs the main thread more than opening a
 * small chunk). `spans` holds each chunk's [from, to) in `sealed`, `keys` their keys back to back.
 */
export interface OpenBatchTask {
  sealed: Uint8Array;
  spans: Uint32Array;
  keys: Uint8Array;
  sizes: Uint32Array;
}

/**
 * The plaintexts of the chunks kept (all of them unless openChunkBatch was given `keep`) back to back in
 * `plaintext` (task order, each `sizes[i]` bytes), and per chunk null or why it did not open.
 */
export interface OpenBatchResult {
  plaintext: Uint8Array;
  integrity: (string | null)[];
}

/** Per thread: where the chunks a batch does not keep are opened (see openChunkBatch). */
let dropScratch = new Uint8Array(0);

/**
 * Opens the batch. With `keep` (per chunk, 0 to drop its plaintext) and `use`, each chunk that opened is shown to
 * `use` while its plaintext is at hand (a view valid during the call only); a dropped one is opened into this
 * thread's scratch and gone after, so a batch whose chunks are all used here allocates nothing for them.
 */
export function openChunkBatch(task: OpenBatchTask, keep?: Uint8Array, use?: (i: number, plaintext: Uint8Array) => void): OpenBatchResult {
  const { sealed, spans, keys, sizes } = task;
  const count = sizes.length;
  if (spans.length !== 2 * count || keys.length !== KEY_BYTES * count || (keep && keep.length !== count)) throw new RaicError('Usage', 'a batch of chunks with mismatched spans or keys');
  let total = 0;
  let largestDropped = 0;
  for (let i = 0; i < count; i++) {
    if (!keep || keep[i]) total += sizes[i]!;
    else largestDropped = Math.max(largestDropped, sizes[i]!);
  }
  const plaintext = new Uint8Array(total);
  if (dropScratch.length < largestDropped) dropScratch = new Uint8Array(largestDropped);
  const integrity: (string | null)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const size = sizes[i]!;
    const into = !keep || keep[i] ? plaintext.subarray(at, (at += size)) : dropScratch.subarray(0, size);
    try {
      openChunk({ sealed: sealed.subarray(spans[2 * i], spans[2 * i + 1]), key: keys.subarray(KEY_BYTES * i, KEY_BYTES * (i + 1)), size }, into);
      integrity.push(null);
    } catch (err) {
      if (!isRaicError(err, 'Integrity')) throw err;
      integrity.push(err.message);
      continue;
    }
    use?.(i, into);
  }
  return { plaintext, integrity };
}
