/**
 * prune and a chunk stored twice. Two sessions that do not see each other's index (run side by side, or
 * behind a lagging listing) store the same chunk twice; each copy is sealed under its own random nonce, and
 * with other compression settings the copies differ in length too. When prune repacks the pack holding one
 * copy, it may forward that copy's readers to the other copy (both open under the chunk's key) — but only
 * with the other copy's own length: an entry's length read at the other copy's place fails to open. An
 * index ref built from one copy's entry at the other's place made later snapshots unreadable the same way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { writeCatalogRecord } from '../../../src/core/catalog.js';
import { checkFile } from '../../../src/core/check.js';
import { loadManifest, streamFile } from '../../../src/core/get.js';
import { prune } from '../../../src/core/prune.js';
import { putStream } from '../../../src/core/put.js';
import {
  ChunkSink,
  Members,
  RaicArray,
  formatCapability,
  manifestKey,
  manifestRoot,
  newMasterKey,
  parseCapability,
  putOnAll,
  repoKeys,
  sealManifest,
} from '../../../src/store/index.js';
import { createMemoryProvider } from '../../support/memory-provider.js';
import { writeMemberConfigs } from '../../support/member-configs.js';

const KiB = 1024;

describe('prune with two copies of one chunk', () => {
  const arrayId = randomBytes(16).toString('hex');
  const providers = Array.from({ length: 3 }, () => createMemoryProvider());
  const array = RaicArray.fromMembers({ arrayId, k: 2, n: 3 }, Members.fromProviders(providers), { chunkBytes: 256 * KiB });
  const keys = repoKeys(newMasterKey());
  after(async () => array.close());

  /** Stores `chunks` as one file in `sink` (no finish) and returns a function that commits it as a record. */
  async function store(sink: ChunkSink, chunks: Buffer[], label: string): Promise<() => Promise<string>> {
    const w = sink.openStream();
    for (const c of chunks) await w.write(c, false);
    const ref = await w.end();
    return async () => {
      const capKey = randomBytes(32);
      const time = new Date().toISOString();
      const { id, sealed } = sealManifest(manifestRoot('file', ref, time), capKey);
      await putOnAll(array.members, manifestKey(id), sealed, 'manifest', array.writeQuorum);
      const capability = formatCapability(arrayId, id, capKey);
      await writeCatalogRecord(array, keys, { kind: 'file', manifestId: id, capability, time, host: 'test', paths: [label], tags: [], stats: { files: 1, bytes: ref.size, newBytes: 0 } });
      return capability;
    };
  }

  async function read(capability: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    await streamFile(array, await loadManifest(array, parseCapability(capability)), async (b) => void parts.push(Buffer.from(b)));
    return Buffer.concat(parts);
  }

  it('repacks the mostly-garbage pack holding one copy by forwarding its readers to the other copy', async () => {
    await writeMemberConfigs(providers, arrayId, 2);
    // Compressible, and the two sessions compress differently: the copies differ in length.
    const shared = Buffer.concat([randomBytes(KiB), Buffer.alloc(199 * KiB, 7)]);
    const garbage = [randomBytes(256 * KiB), randomBytes(256 * KiB), randomBytes(256 * KiB)];
    // Two sessions opened before either wrote its index: neither dedups against the other.
    const [one, two] = await Promise.all([ChunkSink.open(array, keys, 256 * KiB), ChunkSink.open(array, keys, 256 * KiB, { compression: 'off' })]);
    const commitShared1 = await store(one, [shared], 'shared (copy 1)');
    await store(one, garbage, 'garbage'); // never committed: garbage beside copy 1 in the same pack
    const commitShared2 = await store(two, [shared], 'shared (copy 2)');
    await one.finish();
    await two.finish();
    const cap1 = await commitShared1();
    const cap2 = await commitShared2();

    const result = await prune(array, keys, { dryRun: false });
    assert.equal(result.packsRepacked, 1, JSON.stringify(result));
    // Every copy opens under the chunk's key (the record carries copy 2's own length): nothing to copy.
    assert.equal(result.chunksMoved, 0, 'copy 1 is forwarded to copy 2, not copied');
    assert.equal(result.forwardRecordsWritten, 1);

    for (const cap of [cap1, cap2]) {
      assert.ok((await read(cap)).equals(shared));
      const report = await checkFile(array, parseCapability(cap), true);
      assert.equal(report.ok, true, JSON.stringify(report.members));
    }
    // A later session dedups against the index prune wrote: what it commits must read back too.
    const again = await putStream(array, keys, (async function* () {
      yield shared;
    })());
    assert.equal(again.newChunks, 0, 'the later session did not dedup');
    assert.ok((await read(again.capability)).equals(shared));
  });
});
