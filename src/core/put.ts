/**
 * put: one byte stream → chunks → stripes on worker threads → packs on every member → index segment →
 * manifest (the commit point) → capability. Memory is bounded by the tuning window and pack budget,
 * whatever the input size. Nothing is referenced before it is stored: packs, then index, then manifest.
 */
import { RaicError } from '../errors.js';
import { AEAD_OVERHEAD, randomBytes } from '../crypto/index.js';
import { shardLength } from '../erasure/index.js';
import { fixedChunks } from '../chunk/index.js';
import {
  BufferPool,
  ManifestBuilder,
  PackWriter,
  formatCapability,
  loadIndex,
  manifestKey,
  packTargetBytes,
  putOnAll,
  sealManifest,
  writeIndexSegment,
  type ChunkEntry,
  type ChunkRef,
  type EncodedStripe,
  type RaicArray,
  type RepoKeys,
} from '../store/index.js';

export interface PutResult {
  capability: string;
  size: number;
  chunks: number;
  /** Chunks not already stored in the array (the rest were deduplicated). */
  newChunks: number;
  /** Bytes written to providers, summed over members (packs only). */
  storedBytes: number;
  seconds: number;
}

export interface PutOptions {
  signal?: AbortSignal;
  onProgress?: (bytesRead: number) => void;
}

export async function putStream(array: RaicArray, keys: RepoKeys, source: AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<PutResult> {
  const started = performance.now();
  const { k, n, tuning } = { k: array.k, n: array.n, tuning: array.tuning };
  array.members.requireUp(n, 'cannot store (every member must be reachable to write)');
  const known = await loadIndex(array.members, keys.index);
  const target = packTargetBytes(tuning, n);
  const packs = new PackWriter(array.members, keys.index, target, target + Math.ceil((tuning.chunkBytes + 64) / k) + 64 * 1024);
  let unindexed: ChunkRef[] = [];
  let newChunks = 0;

  const storeChunk = async (enc: EncodedStripe): Promise<ChunkEntry> => {
    const idHex = Buffer.from(enc.id).toString('hex');
    let ref = known.get(idHex);
    if (!ref) {
      ref = await packs.add(enc);
      known.set(idHex, ref);
      unindexed.push(ref);
      newChunks += 1;
      if (unindexed.length >= tuning.indexSegmentEntries) {
        // An index segment may only name packs that are already stored.
        await packs.finish();
        await writeIndexSegment(array.members, keys.index, unindexed);
        unindexed = [];
      }
    }
    return { ...ref, key: Buffer.from(enc.key) };
  };
  // Recycled buffers: plaintext chunks and stripes shuttle to the workers and back (bounded memory).
  const chunkBuffers = new BufferPool(tuning.chunkBytes);
  const stripeBuffers = new BufferPool(n * shardLength(tuning.chunkBytes + AEAD_OVERHEAD, k));
  const encode = (plaintext: Uint8Array, pooled: boolean) =>
    array.pool.encode({ plaintext, convergenceKey: keys.convergence, k, n, stripeBuffer: stripeBuffers.take() }, { movePlaintext: pooled });
  const storeAndRecycle = async (enc: EncodedStripe): Promise<ChunkEntry> => {
    const entry = await storeChunk(enc);
    stripeBuffers.release(enc.stripe.buffer);
    chunkBuffers.release(enc.plaintext.buffer);
    return entry;
  };
  const manifest = new ManifestBuilder(n, tuning.manifestPageEntries, async (page) => storeAndRecycle(await encode(page, false)));

  let bytesRead = 0;
  const inFlight: ReturnType<typeof encode>[] = [];
  const drainOne = async (): Promise<void> => manifest.add(await storeAndRecycle(await inFlight.shift()!));
  try {
    for await (const chunk of fixedChunks(source, tuning.chunkBytes, () => chunkBuffers.take())) {
      if (opts.signal?.aborted) throw new RaicError('Cancelled', 'interrupted; nothing was committed');
      bytesRead += chunk.length;
      inFlight.push(encode(chunk, true));
      opts.onProgress?.(bytesRead);
      if (inFlight.length >= tuning.window) await drainOne();
    }
    while (inFlight.length > 0) await drainOne();
  } catch (err) {
    await Promise.allSettled(inFlight);
    throw err;
  }
  const root = await manifest.finish(new Date().toISOString());
  await packs.finish();
  if (unindexed.length > 0) await writeIndexSegment(array.members, keys.index, unindexed);
  const capKey = randomBytes(32);
  const { id, sealed } = sealManifest(root, n, capKey);
  await putOnAll(array.members, manifestKey(id), sealed, 'manifest');
  return {
    capability: formatCapability(array.shape.arrayId, id, capKey),
    size: root.header.size,
    chunks: root.header.chunks,
    newChunks,
    storedBytes: packs.stats.storedBytes,
    seconds: (performance.now() - started) / 1000,
  };
}
