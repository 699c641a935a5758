/** A 2 GiB stream from stdin round-trips bit-exact with peak RSS under 300 MB for put and for get. */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';

const GiB = 1024 ** 3;
const RSS_LIMIT_MB = 300;

/** Pseudo-random, incompressible bytes (AES-CTR keystream), hashed as they are produced. */
function randomStream(bytes: number, hash: ReturnType<typeof createHash>): Readable {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const zero = Buffer.alloc(1024 * 1024);
  let left = bytes;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const piece = cipher.update(left >= zero.length ? zero : zero.subarray(0, left));
      left -= piece.length;
      hash.update(piece);
      this.push(piece);
    },
  });
}

describe('2 GiB through stdin', () => {
  let a: ArrayFixture;
  before(async () => {
    a = await localArray(4, 6, { label: 'large' });
  });
  after(async () => a.cleanup());

  it('put - and get are bit-exact with peak RSS under 300 MB', { timeout: 600_000 }, async () => {
    const inHash = createHash('sha256');
    const put = await a.raic(['put', '-', '--json'], { stdin: randomStream(2 * GiB, inHash) });
    assert.equal(put.code, 0, put.stderr);
    const putResult = JSON.parse(put.stdout) as { capability: string; size: number; peakRssMB: number };
    assert.equal(putResult.size, 2 * GiB);
    assert.ok(putResult.peakRssMB < RSS_LIMIT_MB, `put peak RSS ${putResult.peakRssMB} MB`);

    const out = join(a.dir, 'out.bin');
    const get = await a.raic(['get', putResult.capability, out, '--json']);
    assert.equal(get.code, 0, get.stderr);
    const getResult = JSON.parse(get.stdout) as { size: number; peakRssMB: number };
    assert.equal(getResult.size, 2 * GiB);
    assert.ok(getResult.peakRssMB < RSS_LIMIT_MB, `get peak RSS ${getResult.peakRssMB} MB`);

    const outHash = createHash('sha256');
    for await (const piece of createReadStream(out, { highWaterMark: 4 * 1024 * 1024 })) outHash.update(piece as Buffer);
    assert.equal(outHash.digest('hex'), inHash.digest('hex'));
    await rm(out);
    console.log(`2 GiB: put peak ${putResult.peakRssMB} MB, get peak ${getResult.peakRssMB} MB`);
  });
});
