import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runRaic } from '../support/cli.js';
import { getBytes, localArray, putFile, randomFile, sha256, type ArrayFixture } from '../support/array-fixture.js';

const CHUNK = 4 * 1024 * 1024; // raic put's chunk size (Tuning.chunkBytes)

describe('raic put / get round trips (k=2, n=4, local members)', () => {
  let a: ArrayFixture;
  before(async () => {
    a = await localArray(2, 4, { label: 'putget' });
  });
  after(async () => a.cleanup());

  it('--help lists the commands', async () => {
    const r = await runRaic(['--help']);
    assert.equal(r.code, 0);
    for (const cmd of ['init', 'put', 'get', 'check']) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
  });

  for (const [label, size] of [
    ['0 bytes', 0],
    ['1 byte', 1],
    ['chunk size - 1', CHUNK - 1],
    ['chunk size', CHUNK],
    ['chunk size + 1', CHUNK + 1],
    ['64 MiB', 64 * 1024 * 1024],
  ] as const) {
    it(`is bit-exact for ${label}`, async () => {
      const src = await randomFile(a.dir, `in-${size}`, size);
      const cap = await putFile(a, src.path);
      const back = await getBytes(a, cap, join(a.dir, `out-${size}`));
      assert.equal(back.length, size);
      assert.equal(sha256(back), sha256(src.bytes));
    });
  }

  it('streams stdin with put - and stdout with get -', async () => {
    const src = await randomFile(a.dir, 'stdin.bin', 9 * 1024 * 1024 + 17);
    const put = await a.raic(['put', '-'], { stdin: { file: src.path } });
    assert.equal(put.code, 0, put.stderr);
    const cap = put.stdout.trim();
    const get = await a.raic(['get', cap, '-']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(sha256(get.stdoutBytes), sha256(src.bytes));
  });

  it('stores identical content once (dedup within the array)', async () => {
    const src = await randomFile(a.dir, 'dedup.bin', 3 * CHUNK);
    const first = JSON.parse(await a.ok(['put', src.path, '--json'])) as { newChunks: number; chunks: number };
    const second = JSON.parse(await a.ok(['put', src.path, '--json'])) as { newChunks: number; chunks: number; capability: string };
    assert.equal(first.newChunks, 3);
    assert.equal(second.chunks, 3);
    assert.equal(second.newChunks, 0);
    assert.equal(sha256(await getBytes(a, second.capability, join(a.dir, 'dedup.out'))), sha256(src.bytes));
  });

  it('refuses to overwrite an existing file unless --overwrite', async () => {
    const src = await randomFile(a.dir, 'ow.bin', 1000);
    const cap = await putFile(a, src.path);
    const target = join(a.dir, 'ow.out');
    await getBytes(a, cap, target);
    const again = await a.raic(['get', cap, target]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    assert.equal((await a.raic(['get', cap, target, '--overwrite'])).code, 0);
    assert.equal(sha256(await readFile(target)), sha256(src.bytes));
  });

  it('--json put reports size, chunks and peak memory', async () => {
    const src = await randomFile(a.dir, 'json.bin', CHUNK + 5);
    const out = JSON.parse(await a.ok(['put', src.path, '--json'])) as Record<string, unknown>;
    assert.equal(out.size, CHUNK + 5);
    assert.equal(out.chunks, 2);
    assert.equal(typeof out.peakRssMB, 'number');
    assert.match(String(out.capability), /^raic:file:1:/);
    assert.ok((await stat(src.path)).size > 0);
  });
});
