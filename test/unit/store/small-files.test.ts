/**
 * Small files stored in batches (ChunkSink.storeSmallFile → one worker task for many files): each file's
 * stream holds exactly its bytes; a file that grew past a segment since its lstat, or vanished, is handled
 * alone (stored whole / reported), without disturbing the others in its batch.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ChunkReader, ChunkSink, Members, RaicArray, newMasterKey, readStreamBytes, repoKeys, type StoredFile } from '../../../src/store/index.js';
import { createMemoryProvider } from '../../support/memory-provider.js';

describe('small files in batches', () => {
  const params = { minSize: 4 * 1024, avgSize: 8 * 1024, maxSize: 16 * 1024 }; // a segment is 32 KiB
  const array = RaicArray.fromMembers({ arrayId: randomBytes(16).toString('hex'), k: 2, n: 3 }, Members.fromProviders(Array.from({ length: 3 }, () => createMemoryProvider())), { workers: 2 });
  const keys = repoKeys(newMasterKey());
  let dir = '';
  after(async () => {
    await array.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('each file of a batch reads back exactly; a grown file is stored whole; a vanished one is an error', async () => {
    dir = await mkdtemp(join(tmpdir(), 'raic-small-'));
    const contents = new Map<string, Buffer>();
    // Grew since "lstat": more than a 32 KiB segment, so the batch hands it back and it is stored on its own.
    contents.set(join(dir, 'grown'), randomBytes(100_000));
    for (let i = 0; i < 300; i++) contents.set(join(dir, `f${i}`), randomBytes(i % 7 === 0 ? 0 : 1 + ((i * 977) % 20_000)));
    for (const [path, bytes] of contents) await writeFile(path, bytes);

    const sink = await ChunkSink.open(array, keys, params.maxSize);
    const read: Promise<StoredFile>[] = [];
    for (const path of contents.keys()) read.push((await sink.queueSmallFile(path, path.endsWith('grown') ? 10 : contents.get(path)!.length, params)).read);
    const missing = (await sink.queueSmallFile(join(dir, 'no-such-file'), 10, params)).read;
    const results = await Promise.all(read);
    const streams = await Promise.all(
      results.map(async (r) => {
        assert.ok(!('error' in r), 'every existing file is read');
        return r.stored;
      }),
    );
    const gone = await missing;
    assert.ok('error' in gone && gone.error.code === 'ENOENT', 'the vanished file is reported, not stored');
    await sink.finish();

    const reader = new ChunkReader(array.members, array.pool, array.k, params.maxSize);
    const paths = [...contents.keys()];
    for (let i = 0; i < paths.length; i++) {
      const back = await readStreamBytes(reader, streams[i]!);
      assert.ok(Buffer.from(back).equals(contents.get(paths[i]!)!), `${paths[i]} reads back identical`);
      assert.equal((results[i] as { bytes: number }).bytes, contents.get(paths[i]!)!.length);
    }
    const grown = streams[paths.indexOf(join(dir, 'grown'))]!;
    assert.ok(grown.entries.length + grown.depth > 1, 'the grown file was cut into several chunks (stored alone, by segments)');
  });
});
