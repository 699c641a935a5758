/**
 * Chunk framing (compress/): round trips in every mode, raw storage where zstd does not help, a frame read by
 * an independent decoder (fzstd, pure JS: the format does not depend on the binding), and bounded opening —
 * a frame that declares or holds another size than the chunk's reference is refused before it can grow.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decompress as fzstdDecompress } from 'fzstd';
import { CODEC_RAW, CODEC_ZSTD, COMPRESSION_MODES, frameChunk, parseCompressionMode, unframeChunk } from '../../../src/compress/index.js';
import { zstdCompress, zstdCompressInto, zstdFrameContentSize } from '../../../src/compress/zstd.js';
import { isRaicError } from '../../../src/errors.js';

const text = Buffer.from(readFileSync(new URL(import.meta.url)).toString('utf8').repeat(40));

test('every mode round-trips text, random bytes, tiny and empty chunks', () => {
  const samples = [text, randomBytes(300_000), randomBytes(17), Buffer.alloc(0), Buffer.alloc(1 << 20, 7), Buffer.from('x')];
  for (const mode of COMPRESSION_MODES) {
    for (const plain of samples) {
      const framed = frameChunk(plain, mode);
      assert.ok(framed.length <= plain.length + 1, `${mode}: never larger than stored as it is`);
      assert.deepEqual(Buffer.from(unframeChunk(framed, plain.length)), plain, `${mode}, ${plain.length} bytes`);
    }
  }
});

test('auto compresses text and stores random bytes as they are; off never compresses', () => {
  const t = frameChunk(text, 'auto');
  assert.equal(t[0], CODEC_ZSTD);
  assert.ok(t.length < text.length / 3, `text shrank to ${t.length} of ${text.length}`);
  const r = randomBytes(1 << 20);
  const framed = frameChunk(r, 'auto');
  assert.equal(framed[0], CODEC_RAW);
  assert.equal(framed.length, r.length + 1);
  assert.equal(frameChunk(text, 'off')[0], CODEC_RAW);
  // A large chunk that is random at its start but compressible later is judged by its sample: stored as it is.
  assert.equal(frameChunk(Buffer.concat([randomBytes(64 * 1024), Buffer.alloc(256 * 1024)]), 'auto')[0], CODEC_RAW);
  assert.ok(frameChunk(text, 'max').length <= frameChunk(text, 'fastest').length);
});

test('frames are plain zstd (RFC 8878): an independent decoder reads them, and the header parser agrees', () => {
  for (const level of [1, 3, 9, 19]) {
    const frame = zstdCompress(text, level);
    assert.deepEqual(Buffer.from(fzstdDecompress(frame)), text, `level ${level}`);
    assert.equal(zstdFrameContentSize(frame), text.length);
  }
  for (const size of [0, 1, 255, 256, 300, 65_535, 65_536 + 256, 70_000, 5_000_000]) {
    assert.equal(zstdFrameContentSize(zstdCompress(Buffer.alloc(size, 1), 3)), size, `${size} bytes`);
  }
});

test('opening is bounded: wrong declared size, a frame that runs long, garbage, and unknown codecs are refused', () => {
  const plain = Buffer.alloc(100_000, 3);
  const framed = frameChunk(plain, 'auto');
  const refused = (f: () => unknown, what: string): void => assert.throws(f, (e: unknown) => isRaicError(e, 'Integrity'), what);
  refused(() => unframeChunk(framed, plain.length - 1), 'declared size larger than the reference');
  refused(() => unframeChunk(framed, plain.length + 1), 'declared size smaller than the reference');
  // A bomb: a small frame that declares and holds 1 GiB, against a 4 MiB reference.
  const bomb = zstdCompress(Buffer.alloc(64 << 20), 3);
  refused(() => unframeChunk(Buffer.concat([Buffer.from([CODEC_ZSTD]), bomb]), 4 << 20), 'bomb');
  // A frame whose header lies (declares 1000 bytes, holds 100 000): refused without writing past its buffer.
  const liar = Buffer.from(zstdCompress(plain, 3));
  const honestHeader = zstdCompress(Buffer.alloc(1000, 3), 3);
  assert.equal(zstdFrameContentSize(honestHeader), 1000);
  const forged = Buffer.concat([Buffer.from([CODEC_ZSTD]), honestHeader.subarray(0, 6), liar.subarray(6)]);
  refused(() => unframeChunk(forged, 1000), 'a header that lies');
  refused(() => unframeChunk(Buffer.from([CODEC_ZSTD, 1, 2, 3, 4, 5, 6, 7]), 5), 'garbage');
  refused(() => unframeChunk(Buffer.from([7, 1, 2]), 2), 'unknown codec');
  refused(() => unframeChunk(Buffer.alloc(0), 0), 'empty');
  refused(() => unframeChunk(Buffer.from([CODEC_RAW, 1, 2]), 3), 'raw with the wrong length');
});

test('compressing into a bounded buffer: a frame that fits is written whole, one that does not gives null', () => {
  // Up to 128 KiB (the chunks of small files): room for exactly the frame, one byte less, and plenty.
  for (const plain of [text.subarray(0, 4000), text.subarray(0, 200), text.subarray(0, 128 * 1024), randomBytes(125), randomBytes(100_000)]) {
    const whole = zstdCompress(plain, 3);
    for (const room of [whole.length, whole.length - 1, whole.length + 64]) {
      const dst = Buffer.alloc(room);
      const n = zstdCompressInto(plain, 3, dst);
      if (room < whole.length) {
        assert.equal(n, null, `${plain.length} bytes into ${room}`);
        continue;
      }
      assert.equal(n, whole.length, `${plain.length} bytes into ${room}`);
      assert.deepEqual(Buffer.from(fzstdDecompress(dst.subarray(0, n!))), Buffer.from(plain));
    }
  }
  // Larger: straight into the buffer, which needs zstd's bound of room (frameChunk sizes it to the chunk).
  const big = zstdCompressInto(text, 3, Buffer.alloc(text.length + 1024));
  assert.equal(big, zstdCompress(text, 3).length);
  assert.equal(zstdCompressInto(randomBytes(200_000), 3, Buffer.alloc(199_990)), null);
});

test('--compression values are restic\'s', () => {
  assert.equal(parseCompressionMode('max'), 'max');
  assert.throws(() => parseCompressionMode('zstd'), (e: unknown) => isRaicError(e, 'Usage'));
});
