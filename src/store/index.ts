/**
 * store/ — the array. Terms:
 * - member i: the provider holding share i of every stripe (n members, any k suffice to read).
 * - chunk: a plaintext piece; sealed with its content-derived key, then split into a stripe of k data and
 *   n−k parity shares (stripe-codec.ts, run on worker threads by StripePool).
 * - pack: member i's object holding share i of many stripes, plus an encrypted trailer (pack-writer.ts).
 * - ChunkRef: where a chunk's shares are and their hashes; the index maps chunk id → ChunkRef.
 * - manifest: the sealed chunk list of one file; a capability names and opens it.
 */
export { RaicArray, defaultMinMembers, verifyMembers, type ArrayShape } from './array.js';
export { newArrayConfig, encodeArrayConfig, parseArrayConfig, type ArrayConfig } from './array-config.js';
export { formatCapability, parseCapability, arrayTagOf, type CapabilityKind, type FileCapability } from './capability.js';
export type { ChunkEntry, ChunkRef } from './chunk-ref.js';
export { shareHash } from './chunk-ref.js';
export { loadIndex, writeIndexSegment } from './index-store.js';
export { ForwardRecord, ForwardTable, encodeForwardRecord, writeForwardRecord, type ChunkLocation, type ForwardMove } from './forwarding.js';
export { newKeyObject, newMasterKey, parseKeyObject, readKeyObject, repoKeys, unlockMaster, type KeyObject, type RepoKeys } from './keyring.js';
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
export { ChunkSink, type SinkStats, type StreamWriter } from './chunk-sink.js';
export { readMemberList, writeMemberList } from './member-list.js';
export { Members, type MemberSlot } from './members.js';
export { PackWriter, PACK_FOOTER_BYTES, PACK_MAGIC, TRAILER_MAGIC } from './pack-writer.js';
export { getFromAny, listCounts, listUnion, messageOf, putOnAll } from './replicated.js';
export { ShareReader, type ShareProblem } from './share-reader.js';
export { pageLoader, readStreamBytes } from './stream-reader.js';
export { holdersOf, listPacks, readPackTrailer, unindexedPackRefs, type PackCopies } from './pack-trailer.js';
export { StripePool } from './stripe-pool.js';
export type { EncodedStripe } from './stripe-codec.js';
export { BufferPool } from './buffer-pool.js';
export { defaultTuning, packTargetBytes, type Tuning } from './tuning.js';
