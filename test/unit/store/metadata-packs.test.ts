/**
 * Metadata apart from data: a session's tree blobs and manifest pages go to metadata packs, file content to
 * data packs, never mixed (read back from the packs' own trailers), and the flag survives the index.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { ChunkSink, Members, PackReader, RaicArray, listPacks, loadIndex, newMasterKey, readPackTrailer, repoKeys } from '../../../src/store/index.js';
import { createMemoryProvider } from '../../support/memory-provider.js';

describe('metadata packs', () => {
  const array = RaicArray.fromMembers({ arrayId: randomBytes(16).toString('hex'), k: 2, n: 3 }, Members.fromProviders(Array.from({ length: 3 }, () => createMemoryProvider())), {
    chunkBytes: 64 * 1024,
    manifestPageEntries: 4, // a stream of more than 4 chunks gets manifest pages (metadata)
  });
  const keys = repoKeys(newMasterKey());
  after(async () => array.close());

  it('tree blobs and pages go to metadata packs, content to data packs, never mixed', async () => {
    const sink = await ChunkSink.open(array, keys, 64 * 1024);
    const w = sink.openStream();
    for (let i = 0; i < 20; i++) await w.write(randomBytes(64 * 1024), false); // 20 content chunks → pages
    const content = await w.end();
    assert.ok(content.depth > 0, 'the stream has manifest pages');
    const blob = await sink.storeBytes(Buffer.from(JSON.stringify({ v: 1, nodes: Array.from({ length: 50 }, (_, i) => ({ name: `f${i}` })) })));
    await sink.finish();

    const kinds = new Map<string, boolean>();
    const packs = await listPacks(array.members);
    assert.ok(packs.size >= 2, `${packs.size} packs`);
    const reader = new PackReader(array.members, array.k);
    for (const packHex of packs.keys()) {
      const refs = await readPackTrailer(reader, packHex, keys.index);
      const metas = new Set(refs.map((r) => r.meta));
      assert.equal(metas.size, 1, `pack ${packHex} mixes metadata and content`);
      kinds.set(packHex, refs[0]!.meta);
    }
    assert.equal(blob.entries[0]!.meta, true, 'a tree blob is metadata');
    assert.equal(kinds.get(blob.entries[0]!.pack.toString('hex')), true);
    for (const e of content.entries) assert.equal(e.meta, true, 'top-level entries of a paged stream are its pages');
    const index = await loadIndex(array.members, array.k, keys.index);
    const dataRefs = [...index.values()].filter((r) => !r.meta);
    const metaRefs = [...index.values()].filter((r) => r.meta);
    assert.equal(dataRefs.length, 20);
    assert.ok(metaRefs.length >= 1 + Math.ceil(20 / 4));
    for (const r of index.values()) assert.equal(kinds.get(r.pack.toString('hex')), r.meta, 'index flag matches the pack kind');
  });
});
