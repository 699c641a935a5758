/**
 * store/ — the array. Terms:
 * - member i: the provider holding share i of every erasure-coded object (n members, any k suffice to read).
 * - chunk: a plaintext piece, compressed and sealed with its content-derived key (chunk-codec.ts, run on
 *   worker threads by CodecPool).
 * - pack: a body of sealed chunks and an encrypted trailer, erasure-coded as a whole into k data and n−k
 *   parity shares (pack-writer.ts, pack-codec.ts); member i's object holds share i and the pack's table.
 * - ChunkRef: where a chunk's sealed bytes are in a pack's body; the index maps chunk id → ChunkRef.
 * - manifest: the sealed chunk list of one file; a capability names and opens it.
 */
export { RaicArray, defaultMinMembers, verifyMembers, type ArrayShape, type CacheChoice } from './array.js';
export { newArrayConfig, encodeArrayConfig, parseArrayConfig, type ArrayConfig } from './array-config.js';
export { formatCapability, parseCapability, arrayTagOf, type CapabilityKind, type FileCapability } from './capability.js';
export type { ChunkEntry, ChunkRef } from './chunk-ref.js';
export { ChunkIndex } from './chunk-index.js';
export { codedObjects, committedSegments, loadIndex, readIndexSegment, segmentTableId, writeIndexSegment } from './index-store.js';
export { OBJECT_HEADER_BYTES, encodePack, regionsMatch, type PackTable } from './pack-codec.js';
export { ForwardRecord, ForwardTable, encodeForwardRecord, forwardGenerations, writeForwardRecord, type ChunkLocation, type ForwardHop, type ForwardMove } from './forwarding.js';
export {
  isKeyTombstone,
  keyOwner,
  liveKeyObjects,
  newKeyObject,
  newMasterKey,
  opensTo,
  parseKeyObject,
  readKeyObject,
  removedKeyIds,
  repoKeys,
  sealKeyTombstone,
  startEarlyKek,
  unlockKey,
  unlockMaster,
  type EarlyKek,
  type KeyObject,
  type KeyOwner,
  type NewKeyOptions,
  type RepoKeys,
  type UnlockedKey,
} from './keyring.js';
export * from './layout.js';
export { acquireLock, describeLock, formatAge, listLocks, lockQuorum, removeLocks, thisPidScope, type Lock, type LockInfo, type LockOptions } from './locks.js';
export { LockSightings, bootClock, type ObserverClock } from './lock-sightings.js';
export {
  ManifestBuilder,
  manifestRoot,
  openManifest,
  sealManifest,
  streamOf,
  streamRefFromJson,
  streamRefToJson,
  walkStream,
  walkStreamAll,
  type ManifestKind,
  type ManifestRoot,
  type StreamRef,
  type StreamRefJson,
} from './manifest.js';
export { ChunkSink, SMALL_FILE_BYTES, type SinkStats, type StoredFile, type StreamWriter } from './chunk-sink.js';
export { readMemberList, writeMemberList } from './member-list.js';
export { Members, type MemberSlot } from './members.js';
export { PackWriter, TRAILER_MAGIC } from './pack-writer.js';
export { getFromAny, listCounts, listHeld, listUnion, messageOf, putOnAll, removeEverywhere, tombstonedIds } from './replicated.js';
export { ChunkReader, type BatchPlacer, type PlaceBatchResult, type PlaceBatchTask } from './chunk-reader.js';
export { ChunkFetcher, DEFAULT_FETCH, type Deliver, type Placement, type FetchLimits, type FetchStats } from './chunk-fetcher.js';
export { coalesce, DEFAULT_COALESCE, type CoalesceLimits } from './read-plan.js';
export { PackReader, sameTable, type CodedTable, type ReadProblem } from './pack-reader.js';
export { pageLoader, readStreamBytes } from './stream-reader.js';
export { holdersOf, listPacks, readPackTrailer, unindexedPackRefs, type PackCopies } from './pack-trailer.js';
export { CodecPool } from './codec-pool.js';
export type { SealedChunk } from './chunk-codec.js';
export { BufferPool } from './buffer-pool.js';
export { defaultTuning, packBodyBytes, type Tuning } from './tuning.js';
export { Batcher } from './batcher.js';
