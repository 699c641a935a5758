/**
 * ChunkReader.openBatch: a request's small chunks opened in one worker task. Each chunk is judged by its own
 * tag (one damaged chunk fails alone, its neighbours still open), the plaintexts are the chunks', and their
 * shared buffer never goes back to the reader's pool of recycled buffers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { ChunkReader } from '../../../src/store/chunk-reader.js';
import type { ChunkEntry } from '../../../src/store/chunk-ref.js';
import { openChunkBatch } from '../../../src/store/chunk-codec.js';
import { CodecPool } from '../../../src/store/codec-pool.js';
import { Members } from '../../../src/store/members.js';
import { MemoryProvider } from '../../support/memory-provider.js';

describe('opening a batch of chunks', () => {
  let pool: CodecPool;
  before(() => {
    pool = new CodecPool(1);
  });
  after(async () => pool.close());

  /** Sealed chunks back to back in one buffer, as a coalesced read returns them, with their entries. */
  async function sealedRun(plaintexts: Buffer[]): Promise<{ bytes: Buffer; spans: { entry: ChunkEntry; from: number; to: number }[] }> {
    const convergenceKey = randomBytes(32);
    const parts: Buffer[] = [];
    const spans: { entry: ChunkEntry; from: number; to: number }[] = [];
    let at = 0;
    for (const plaintext of plaintexts) {
      const c = await pool.seal({ plaintext, convergenceKey, compression: 'auto' });
      const entry: ChunkEntry = { id: Buffer.from(c.id), pack: randomBytes(16), offset: at, length: c.sealed.length, size: c.size, meta: false, key: Buffer.from(c.key) };
      spans.push({ entry, from: at, to: at + c.sealed.length });
      parts.push(Buffer.from(c.sealed));
      at += c.sealed.length;
    }
    return { bytes: Buffer.concat(parts), spans };
  }

  const reader = (maxChunkBytes: number): ChunkReader => new ChunkReader(Members.fromProviders([new MemoryProvider({ name: 'a' }), new MemoryProvider({ name: 'b' })]), pool, 1, maxChunkBytes);

  it('opens every chunk of the buffer; a damaged one fails alone with Integrity', async () => {
    const plaintexts = [Buffer.alloc(70_000, 'text '), randomBytes(90_000), Buffer.from('a small one'), randomBytes(200_000)];
    const { bytes, spans } = await sealedRun(plaintexts);
    bytes[spans[1]!.from + 10]! ^= 1;
    const r = reader(4 << 20);
    const { opened: out } = await r.openBatch(bytes, spans);
    assert.equal(out.length, 4);
    for (const i of [0, 2, 3]) assert.deepEqual(Buffer.from(out[i] as Uint8Array), plaintexts[i]);
    assert.ok(isRaicError(out[1], 'Integrity'), 'the damaged chunk is refused');
    // The source buffer was copied, not moved: still the caller's.
    assert.equal(bytes.length > 0 && bytes.buffer.byteLength > 0, true);
  });

  it("moves the caller's buffer only when asked and it spans its buffer whole", async () => {
    const plaintexts = [randomBytes(100_000), randomBytes(120_000)];
    const { bytes, spans } = await sealedRun(plaintexts);
    const own = new Uint8Array(bytes); // its own ArrayBuffer
    const { opened: out } = await reader(0).openBatch(own, spans, { moveBytes: true });
    assert.equal(own.buffer.byteLength, 0, 'moved to the worker');
    assert.deepEqual(out.map((p) => Buffer.from(p as Uint8Array)), plaintexts);
  });

  it("plaintexts sharing one buffer are never recycled into the reader's pool", async () => {
    // A pool of buffers exactly as large as the batch's plaintext: a recycled batch buffer would be handed out
    // again while its other chunks are still in use.
    const plaintexts = [randomBytes(100_000), randomBytes(100_000)];
    const { bytes, spans } = await sealedRun(plaintexts);
    const r = reader(200_000);
    const out = (await r.openBatch(bytes, spans)).opened as Uint8Array[];
    assert.equal(out[0]!.buffer.byteLength, 200_000);
    r.recycle(out[0]!);
    const next = await sealedRun([randomBytes(70_000)]); // opened by a worker into a pooled buffer
    const reopened = await r.openSealed(next.spans[0]!.entry, next.bytes);
    assert.notEqual(reopened.buffer, out[0]!.buffer);
    assert.deepEqual(out.map((p) => Buffer.from(p)), plaintexts, 'both chunks untouched');
  });

  it('refuses spans and keys that do not match the chunk count', () => {
    assert.throws(() => openChunkBatch({ sealed: new Uint8Array(100), spans: new Uint32Array(3), keys: new Uint8Array(64), sizes: new Uint32Array(2) }), /mismatched/);
  });
});
