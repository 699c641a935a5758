import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { fixedChunks } from '../../../src/chunk/index.js';

async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const take = sizes[i % sizes.length]!;
    yield data.subarray(at, at + take);
    at += take;
  }
}

describe('fixedChunks', () => {
  for (const total of [0, 1, 999, 1000, 1001, 5432]) {
    it(`cuts ${total} bytes into 1000-byte chunks whatever the input pieces`, async () => {
      const data = randomBytes(total);
      const chunks: Buffer[] = [];
      for await (const c of fixedChunks(pieces(data, [1, 333, 2048, 7]), 1000)) chunks.push(Buffer.from(c));
      assert.equal(chunks.length, Math.ceil(total / 1000));
      for (const c of chunks.slice(0, -1)) assert.equal(c.length, 1000);
      assert.ok(Buffer.concat(chunks).equals(data));
    });
  }

  it('gives each chunk its own ArrayBuffer from the allocator (so it can move to a worker and be recycled)', async () => {
    const given = new Set<ArrayBuffer>();
    const alloc = (): ArrayBuffer => {
      const b = new ArrayBuffer(1000);
      given.add(b);
      return b;
    };
    const seen = new Set<ArrayBufferLike>();
    for await (const c of fixedChunks(pieces(randomBytes(2500), [100]), 1000, alloc)) {
      assert.equal(c.byteOffset, 0);
      assert.ok(given.has(c.buffer as ArrayBuffer));
      assert.ok(!seen.has(c.buffer));
      seen.add(c.buffer);
    }
    assert.equal(seen.size, 3);
  });

  for (const total of [0, 1, 999, 1000, 1001, 5432]) {
    it(`reads ${total} bytes of a read-into source (a file) straight into 1000-byte chunks, whatever each read returns`, async () => {
      const data = randomBytes(total);
      let at = 0;
      const reads = [1, 333, 2048, 7];
      let calls = 0;
      const source = {
        readInto: async (into: Uint8Array): Promise<number> => {
          const take = Math.min(into.length, reads[calls++ % reads.length]!, data.length - at);
          into.set(data.subarray(at, at + take));
          at += take;
          return take;
        },
      };
      const given = new Set<ArrayBuffer>();
      const alloc = (): ArrayBuffer => {
        const b = new ArrayBuffer(1000);
        given.add(b);
        return b;
      };
      const chunks: Buffer[] = [];
      for await (const c of fixedChunks(source, 1000, alloc)) {
        assert.ok(given.has(c.buffer as ArrayBuffer) && c.byteOffset === 0, 'each chunk is its own allocated buffer');
        chunks.push(Buffer.from(c));
      }
      assert.equal(chunks.length, Math.ceil(total / 1000));
      for (const c of chunks.slice(0, -1)) assert.equal(c.length, 1000);
      assert.ok(Buffer.concat(chunks).equals(data));
    });
  }
});
