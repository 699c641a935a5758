/**
 * MAX_OBJECT_BYTES (providers/types.ts), the most a whole get returns, stays above the largest object the
 * format writes: a pack's member object at the pack size's upper clamp, k = 1 (one share is the whole body),
 * a full trailer, and the table of n = 255 members. If the format's sizes grow, this fails before a member's
 * honest copy is refused.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DEFAULT_CDC } from '../../../src/chunk/index.js';
import { AEAD_OVERHEAD } from '../../../src/crypto/index.js';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { MAX_OBJECT_BYTES } from '../../../src/providers/types.js';
import { sealedBytes } from '../../../src/store/chunk-codec.js';
import { encodeRefList, type ChunkRef } from '../../../src/store/chunk-ref.js';
import { OBJECT_HEADER_BYTES, REGION_BYTES, encodePack } from '../../../src/store/pack-codec.js';
import { MAX_REFS_PER_PACK, TRAILER_MAGIC } from '../../../src/store/pack-writer.js';
import { defaultTuning, packBodyBytes } from '../../../src/store/tuning.js';

const MiB = 1024 * 1024;

it('the largest pack member object the format writes fits MAX_OBJECT_BYTES, with room to spare', async () => {
  const n = 255;
  // Any budget: the clamp caps the target at 32 MiB a share; with k = 1 a share is the whole body.
  const target = packBodyBytes(defaultTuning({ packBudgetBytes: 2 ** 40 }), 1, n);
  // A pack closes before a chunk would pass the target; only a chunk larger than the target stands alone.
  const chunks = Math.max(target, sealedBytes(Math.max(defaultTuning().chunkBytes, DEFAULT_CDC.maxSize)));
  const ref: ChunkRef = { id: Buffer.alloc(32), pack: Buffer.alloc(16), offset: 0, length: 1, size: 1, meta: false };
  const trailer = encodeRefList(TRAILER_MAGIC, Array.from({ length: MAX_REFS_PER_PACK }, () => ref)).length + AEAD_OVERHEAD;
  const share = chunks + trailer;
  // The table's fixed part, measured on a one-byte pack of the same n; then one hash per region per member.
  const tiny = encodePack(Buffer.alloc(1), await loadErasureCodec(1, n), Buffer.alloc(16));
  const tableHead = tiny.tableBytes.length - n * 16;
  const table = tableHead + n * Math.ceil(share / REGION_BYTES) * 16;
  const object = OBJECT_HEADER_BYTES + table + share;
  assert.ok(object * 1.5 < MAX_OBJECT_BYTES, `MAX_OBJECT_BYTES leaves room above ${(object / MiB).toFixed(2)} MiB`);
  // With the default 32 MiB budget the largest share is 8 MiB (k = 1, n = 2: budget / 4).
  assert.equal(packBodyBytes(defaultTuning(), 1, 2), 8 * MiB);
});
