/**
 * Pack encoding off the main thread (pack-encoder.ts, CodecPool.encodePack): a worker's objects are byte for
 * byte encodePack's; memory given as spare is written over (dirty spares change nothing) and what a pack did not
 * need comes back; the body's memory comes back to the caller.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { CodecPool } from '../../../src/store/codec-pool.js';
import { encodePack } from '../../../src/store/pack-codec.js';
import { encodePackTask } from '../../../src/store/pack-encoder.js';

/** A copy of `b` in memory of its own (what a writer hands over: a whole ArrayBuffer). */
const own = (b: Uint8Array): Buffer<ArrayBuffer> => {
  const copy = Buffer.from(new ArrayBuffer(b.length));
  copy.set(b);
  return copy;
};

describe('pack encoder', () => {
  const pool = new CodecPool(1);
  after(() => pool.close());

  for (const where of ['this thread', 'a worker'] as const) {
    it(`on ${where}: objects equal encodePack's, spare memory reused, the rest and the body given back`, async () => {
      const k = 4;
      const n = 6;
      const codec = await loadErasureCodec(k, n);
      for (const size of [1000, 3_000_001]) {
        const plain = randomBytes(size);
        const id = randomBytes(16);
        const want = encodePack(plain, codec, id, 100);
        const objectBytes = want.objects[0]!.length;
        // Dirty spares: three large enough, two too small.
        const spare = [...Array.from({ length: 3 }, () => randomBytes(objectBytes + 7)), ...Array.from({ length: 2 }, () => randomBytes(objectBytes - 1))].map((b) => own(b).buffer);
        const body = own(plain);
        const task = { body, id, trailerBytes: 100, k, n, spare };
        const got = where === 'this thread' ? await encodePackTask(task) : await pool.encodePack(task);
        assert.deepEqual(Buffer.from(got.tableBytes), want.tableBytes);
        got.objects.forEach((o, i) => assert.ok(Buffer.from(o.buffer, o.byteOffset, o.byteLength).equals(want.objects[i]!), `object ${i}`));
        assert.equal(got.objects.filter((o) => o.buffer.byteLength === objectBytes + 7).length, 3, 'the three large spares hold objects');
        assert.deepEqual(got.unused.map((b) => b.byteLength), [objectBytes - 1, objectBytes - 1], 'the small spares come back unused');
        assert.ok(Buffer.from(got.body.buffer, got.body.byteOffset, got.body.byteLength).equals(plain), 'the body comes back as it was');
      }
    });
  }
});
