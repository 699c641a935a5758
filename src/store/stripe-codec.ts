/**
 * Chunk ⇄ stripe: the CPU-heavy transforms, pure functions run inside worker threads.
 *
 * encode: key = keyedHash(convergenceKey, plaintext) (content-derived, so identical chunks in one
 * repository dedup and a manifest can hand out exactly the keys it names); id = keyedHash(key, "chunk-id");
 * the plaintext is framed (compress/: codec byte ‖ payload, zstd when it shrinks), sealed = AEAD(key, framed);
 * the stripe's data is sealedLen u32 ‖ sealed, zero-padded to k equal shards, then n−k parity shards; each
 * share hashed.
 * decode: verify each supplied share's hash (a corrupt share becomes an erasure, never reaches the
 * decoder), reconstruct missing data shards from any k, open the AEAD, unframe (bounded by the chunk's size).
 */
import { FRAME_OVERHEAD, frameChunk, unframeChunk, type CompressionMode } from '../compress/index.js';
import { AEAD_OVERHEAD, hash, keyedHash, open, seal } from '../crypto/index.js';
import { loadErasureCodec, shardLength, type ErasureCodec } from '../erasure/index.js';
import { RaicError } from '../errors.js';

const CHUNK_ID_LABEL = Buffer.from('raic chunk id v1');

export interface EncodeTask {
  plaintext: Uint8Array;
  convergenceKey: Uint8Array;
  k: number;
  n: number;
  compression: CompressionMode;
  /** Where to build the stripe (≥ stripeBytes(plaintext.length) bytes); a fresh buffer when absent. */
  stripeBuffer?: ArrayBuffer;
}

export interface EncodedStripe {
  id: Uint8Array;
  key: Uint8Array;
  size: number;
  shareLen: number;
  /** n shares back to back, `shareLen` each. */
  stripe: Uint8Array;
  /** n × 32-byte share hashes. */
  hashes: Uint8Array;
  /** The task's plaintext, handed back so its buffer can be recycled. */
  plaintext: Uint8Array;
}

export function chunkKeyAndId(convergenceKey: Uint8Array, plaintext: Uint8Array): { key: Buffer; id: Buffer } {
  const key = keyedHash(convergenceKey, plaintext);
  return { key, id: keyedHash(key, CHUNK_ID_LABEL) };
}

export async function encodeStripe(task: EncodeTask): Promise<EncodedStripe> {
  const { plaintext, k, n } = task;
  const room = stripeBytes(plaintext.length, k, n);
  // Own ArrayBuffer (not Node's shared Buffer pool) so it can be transferred back without a copy.
  const stripe = task.stripeBuffer ? new Uint8Array(task.stripeBuffer, 0, room) : new Uint8Array(room);
  return { ...encodeStripeInto(plaintext, task.convergenceKey, await loadErasureCodec(k, n), stripe, task.compression), plaintext };
}

/** Per thread: where framed chunks are built and opened (used and done with inside one call). */
let frameScratch = new Uint8Array(0);
function scratch(bytes: number): Uint8Array {
  if (frameScratch.length < bytes) frameScratch = new Uint8Array(Math.max(bytes, 64 * 1024));
  return frameScratch.subarray(0, bytes);
}

/** The stripe's length prefix: the sealed chunk's length, then the sealed bytes. */
const LENGTH_BYTES = 4;
/** What a chunk of `size` bytes can grow by in its stripe's data at most (stored as it is). */
export const STRIPE_OVERHEAD = LENGTH_BYTES + AEAD_OVERHEAD + FRAME_OVERHEAD;

/** The most bytes the stripe of a `size`-byte chunk can take (stored as it is; compressed ones take less). */
export function stripeBytes(size: number, k: number, n: number): number {
  return n * shardLength(size + STRIPE_OVERHEAD, k);
}

/**
 * encode's work, into `stripe` (≥ stripeBytes(plaintext.length) bytes, any buffer — a shared one too). The
 * returned stripe is the used part of it: n × shareLen bytes.
 */
export function encodeStripeInto(plaintext: Uint8Array, convergenceKey: Uint8Array, codec: ErasureCodec, stripe: Uint8Array, compression: CompressionMode): Omit<EncodedStripe, 'plaintext'> {
  const { k, n } = codec;
  const { key, id } = chunkKeyAndId(convergenceKey, plaintext);
  const framed = frameChunk(plaintext, compression, scratch(plaintext.length + FRAME_OVERHEAD));
  const sealedLen = framed.length + AEAD_OVERHEAD;
  const dataLen = LENGTH_BYTES + sealedLen;
  const shareLen = shardLength(dataLen, k);
  const used = stripe.subarray(0, n * shareLen);
  new DataView(used.buffer, used.byteOffset, LENGTH_BYTES).setUint32(0, sealedLen);
  seal(key, framed, undefined, used.subarray(LENGTH_BYTES));
  used.fill(0, dataLen, k * shareLen); // padding of the last data shard (a recycled buffer holds old bytes)
  codec.encode(used, shareLen);
  const hashes = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) hashes.set(hash(used.subarray(i * shareLen, (i + 1) * shareLen)), 32 * i);
  return { id, key, size: plaintext.length, shareLen, stripe: used, hashes };
}

/** The chunk in a whole (reconstructed) stripe's data: length prefix checked, opened, unframed into `out`. */
function openStripeData(data: Uint8Array, key: Uint8Array, size: number, out: Uint8Array): Uint8Array {
  const sealedLen = new DataView(data.buffer, data.byteOffset, LENGTH_BYTES).getUint32(0);
  if (sealedLen < AEAD_OVERHEAD + FRAME_OVERHEAD || LENGTH_BYTES + sealedLen > data.length || sealedLen > size + AEAD_OVERHEAD + FRAME_OVERHEAD) {
    throw new RaicError('Integrity', `a stripe names a ${sealedLen}-byte sealed chunk that does not fit it`);
  }
  const framed = open(key, data.subarray(LENGTH_BYTES, LENGTH_BYTES + sealedLen), undefined, scratch(sealedLen - AEAD_OVERHEAD));
  return unframeChunk(framed, size, out);
}

export interface DecodeTask {
  /** Share i or null where not fetched / unavailable; length n. */
  shares: (Uint8Array | null)[];
  hashes: Uint8Array;
  shareLen: number;
  size: number;
  key: Uint8Array;
  k: number;
  n: number;
  /** Scratch for the stripe (≥ n × shareLen) and room for the plaintext (≥ size); fresh when absent. */
  stripeBuffer?: ArrayBuffer;
  plaintextBuffer?: ArrayBuffer;
}

export type DecodeResult = { plaintext: Uint8Array; stripe: Uint8Array } | { badShares: number[] };

/** Returns the plaintext, or the indexes of supplied shares whose hash is wrong (caller fetches others). */
export async function decodeStripe(task: DecodeTask): Promise<DecodeResult> {
  const { shares, shareLen, k, n } = task;
  const badShares: number[] = [];
  const present: boolean[] = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; i++) {
    const share = shares[i];
    if (!share) continue;
    const expected = task.hashes.subarray(32 * i, 32 * i + 32);
    if (share.length !== shareLen || !hash(share).equals(expected)) badShares.push(i);
    else present[i] = true;
  }
  if (badShares.length > 0) return { badShares };
  const stripe = task.stripeBuffer ? new Uint8Array(task.stripeBuffer, 0, n * shareLen) : new Uint8Array(n * shareLen);
  for (let i = 0; i < n; i++) if (present[i]) stripe.set(shares[i]!, i * shareLen);
  let dataMissing = false;
  for (let i = 0; i < k; i++) if (!present[i]) dataMissing = true;
  if (dataMissing) (await loadErasureCodec(k, n)).reconstruct(stripe, shareLen, present);
  const room = task.plaintextBuffer ? new Uint8Array(task.plaintextBuffer, 0, task.size) : new Uint8Array(task.size);
  const plaintext = openStripeData(stripe.subarray(0, k * shareLen), task.key, task.size, room);
  return { plaintext, stripe };
}

export interface RebuildTask {
  shares: (Uint8Array | null)[];
  hashes: Uint8Array;
  shareLen: number;
  k: number;
  n: number;
}

/**
 * Every share of a stripe from any k valid ones (repair): verifies the supplied shares, reconstructs the
 * missing data and parity shards, and checks each rebuilt share against its recorded hash.
 */
export async function rebuildStripe(task: RebuildTask): Promise<{ stripe: Uint8Array } | { badShares: number[] }> {
  const { shares, shareLen, k, n } = task;
  const badShares: number[] = [];
  const present: boolean[] = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; i++) {
    const share = shares[i];
    if (!share) continue;
    if (share.length !== shareLen || !hash(share).equals(task.hashes.subarray(32 * i, 32 * i + 32))) badShares.push(i);
    else present[i] = true;
  }
  if (badShares.length > 0) return { badShares };
  const stripe = new Uint8Array(n * shareLen);
  for (let i = 0; i < n; i++) if (present[i]) stripe.set(shares[i]!, i * shareLen);
  if (present.some((p) => !p)) (await loadErasureCodec(k, n)).reconstruct(stripe, shareLen, present, { restoreParity: true });
  for (let i = 0; i < n; i++) {
    if (!hash(stripe.subarray(i * shareLen, (i + 1) * shareLen)).equals(task.hashes.subarray(32 * i, 32 * i + 32))) {
      throw new RaicError('Integrity', `rebuilt share ${i} does not match its recorded hash`);
    }
  }
  return { stripe };
}
