/**
 * put: one byte stream → fixed-size chunks → ChunkSink (stripes on worker threads, packs on every
 * member, index) → manifest (the commit point) → catalog record → capability. Memory is bounded by
 * the tuning window and pack budget, whatever the input size.
 */
import { RaicError, abortError } from '../errors.js';
import { randomBytes } from '../crypto/index.js';
import { fixedChunks, type ByteSource } from '../chunk/index.js';
import { ChunkSink, formatCapability, manifestKey, manifestRoot, putOnAll, sealManifest, type RaicArray, type RepoKeys } from '../store/index.js';
import type { CompressionMode } from '../compress/index.js';
import { writeCatalogRecord } from './catalog.js';

export interface PutResult {
  capability: string;
  size: number;
  chunks: number;
  /** Chunks not already stored in the array (the rest were deduplicated). */
  newChunks: number;
  /** Bytes written to providers, summed over members (packs only). */
  storedBytes: number;
  /** Members that missed some objects (the write still met its quorum): run `raic repair`. `slowObjects` of them
   * the member was cut off from for lagging behind the others (a slow link), not for failing. */
  degraded: { member: number; url: string; missedObjects: number; slowObjects: number }[];
  seconds: number;
}

export interface PutOptions {
  signal?: AbortSignal;
  onProgress?: (bytesRead: number) => void;
  /** Shown by `raic snapshots` (the file name, or "-" for stdin). */
  label?: string;
  host?: string;
  /** How chunks are compressed (default auto). */
  compression?: CompressionMode;
  /** Called while the last packs and the index segment are stored, and awaited before the manifest and catalog
   * record are written (the lock's confirm()); when it rejects, nothing is committed. */
  confirmCommit?: () => Promise<void>;
}

export async function putStream(array: RaicArray, keys: RepoKeys, source: ByteSource, opts: PutOptions = {}): Promise<PutResult> {
  const started = performance.now();
  array.members.requireUp(array.writeQuorum, 'cannot store (the write quorum is not reachable)');
  const sink = await ChunkSink.open(array, keys, array.tuning.chunkBytes, {
    // One large stream: larger packs, two stored at once (tuning.ts, PackWriter.flush say why).
    dataPacks: { budgetBytes: array.tuning.putPackBudgetBytes, packsInFlight: 2 },
    ...(opts.compression ? { compression: opts.compression } : {}),
  });
  const stream = sink.openStream();
  let bytesRead = 0;
  for await (const chunk of fixedChunks(source, array.tuning.chunkBytes, () => sink.allocChunk())) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    bytesRead += chunk.length;
    await stream.write(chunk);
    opts.onProgress?.(bytesRead);
  }
  const ref = await stream.end();
  // Confirmed while the last pack and the index segment are stored, as backup does: both before the manifest.
  await Promise.all([sink.finish(), opts.confirmCommit?.()]);
  if (opts.signal?.aborted) throw abortError(opts.signal);
  const createdAt = new Date().toISOString();
  const capKey = randomBytes(32);
  const { id, sealed } = sealManifest(manifestRoot('file', ref, createdAt), capKey);
  await putOnAll(array.members, manifestKey(id), sealed, 'manifest', array.writeQuorum);
  const capability = formatCapability(array.shape.arrayId, id, capKey);
  await writeCatalogRecord(array, keys, { kind: 'file', manifestId: id, capability, time: createdAt, host: opts.host, paths: [opts.label ?? '-'], tags: [], stats: { files: 1, bytes: ref.size, newBytes: sink.stats.newBytes } });
  return {
    capability,
    size: ref.size,
    chunks: ref.chunks,
    newChunks: sink.stats.newChunks,
    storedBytes: sink.stats.storedBytes,
    degraded: array.members.degraded(),
    seconds: (performance.now() - started) / 1000,
  };
}
