/**
 * Compression as a user meets it (k=2, n=3, local members): text is stored in a fraction of its size and comes
 * back bit-exact, --compression off stores it whole, random bytes cost no more than before, a bad mode is a
 * usage error, and an array of the previous format version is refused with one line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, oneCleanErrorLine, sha256, type ArrayFixture } from '../support/array-fixture.js';
import { filesUnder } from '../support/damage.js';

const packBytes = async (a: ArrayFixture): Promise<number> => {
  let total = 0;
  for (const dir of a.memberDirs) for (const f of (await filesUnder(dir)).filter((p) => p.includes('/packs/'))) total += (await stat(f)).size;
  return total;
};

/** Text that compresses like source code: words from a small vocabulary, in a fixed pseudo-random order. */
function textOf(bytes: number, seed: number): Buffer {
  const words = ['const', 'return', 'function', 'the', 'member', 'chunk', 'array', '{', '}', '=>', 'await', 'if', 'else', '\n', 'import', 'export'];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const w = `${words[x % words.length]!} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('').slice(0, bytes));
}

describe('compression', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  before(async () => {
    a = await localArray(2, 3, { label: 'compress' });
  });
  after(async () => a?.cleanup());

  it('auto stores text in a fraction of its size, off stores it whole; both read back bit-exact', async () => {
    const text = textOf(6 * 1024 * 1024, 1);
    const f = join(a.dir, 'text.txt');
    await writeFile(f, text);
    const before0 = await packBytes(a);
    const cap = (await a.ok(['put', f])).trim();
    const auto = (await packBytes(a)) - before0;
    // n/k = 1.5 times the data would be stored without compression.
    assert.ok(auto < 0.5 * 1.5 * text.length, `auto stored ${auto} bytes for ${text.length}`);
    const out = join(a.dir, 'back.txt');
    await a.ok(['get', cap, out]);
    assert.equal(sha256(await readFile(out)), sha256(text));

    const other = textOf(6 * 1024 * 1024, 2); // other content: nothing to dedup against
    const g = join(a.dir, 'other.txt');
    await writeFile(g, other);
    const before1 = await packBytes(a);
    const capOff = (await a.ok(['put', '--compression', 'off', g])).trim();
    const off = (await packBytes(a)) - before1;
    assert.ok(off >= 1.5 * other.length, `off stored ${off} bytes for ${other.length}`);
    const out2 = join(a.dir, 'back2.txt');
    await a.ok(['get', capOff, out2]);
    assert.equal(sha256(await readFile(out2)), sha256(other));
  });

  it('random bytes are stored as they are (no growth beyond the per-chunk framing)', async () => {
    const rnd = randomBytes(5 * 1024 * 1024);
    const f = join(a.dir, 'random.bin');
    await writeFile(f, rnd);
    const before0 = await packBytes(a);
    const cap = (await a.ok(['put', f])).trim();
    const stored = (await packBytes(a)) - before0;
    assert.ok(stored < 1.5 * rnd.length * 1.01, `random: stored ${stored} for ${rnd.length}`);
    const out = join(a.dir, 'random.back');
    await a.ok(['get', cap, out]);
    assert.equal(sha256(await readFile(out)), sha256(rnd));
  });

  it('a backup compresses tree blobs and file content, and restores bit-exact', async () => {
    const src = join(a.dir, 'src');
    await mkdir(src);
    for (let i = 0; i < 200; i++) await writeFile(join(src, `f${i}.ts`), textOf(2000 + i * 37, 100 + i));
    const before0 = await packBytes(a);
    const res = JSON.parse(await a.ok(['backup', '--json', src])) as { bytes: number; storedBytes: number };
    const stored = (await packBytes(a)) - before0;
    assert.ok(stored < 1.5 * res.bytes, `backup of ${res.bytes} bytes stored ${stored}`);
    const target = join(a.dir, 'restored');
    await a.ok(['restore', 'latest', '--target', target]);
    for (const name of await readdir(src)) assert.deepEqual(await readFile(join(target, src, name)), await readFile(join(src, name)), name);
  });

  it('an unknown --compression value is a usage error', async () => {
    const r = await a.raic(['put', '--compression', 'zstd', join(a.dir, 'text.txt')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /compression/);
  });

  it('an array of the previous format version is refused with one line', async () => {
    for (const dir of a.memberDirs) {
      const path = join(dir, 'config');
      const config = JSON.parse(await readFile(path, 'utf8')) as { version: number };
      config.version = 2;
      await writeFile(path, JSON.stringify(config));
    }
    const r = await a.raic(['snapshots']);
    assert.equal(r.code, 1);
    assert.match(oneCleanErrorLine(r.stderr), /format version 2; this raic reads version 3 only/);
  });
});
