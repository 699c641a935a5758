import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getBytes, localArray, oneCleanErrorLine, putFile, randomFile, sha256, type ArrayFixture } from '../support/array-fixture.js';
import { flipBytes, hideDir, keyOf, packFiles, truncateTo } from '../support/damage.js';

/** Every way to choose `size` of `0..n-1`. */
function subsets(n: number, size: number): number[][] {
  if (size === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first <= n - size; first++) for (const rest of subsets(n - first - 1, size - 1)) out.push([first, ...rest.map((r) => r + first + 1)]);
  return out;
}

describe('k=3, n=5 on local directories: loss and corruption', () => {
  let a: ArrayFixture;
  let cap: string;
  let expected: string;
  before(async () => {
    a = await localArray(3, 5, { label: 'loss' });
    const src = await randomFile(a.dir, 'data.bin', 13 * 1024 * 1024 + 123); // 4 chunks
    expected = sha256(src.bytes);
    cap = await putFile(a, src.path);
  });
  after(async () => a.cleanup());

  for (const lost of subsets(5, 2)) {
    it(`get is bit-exact with members ${lost.join(' and ')} deleted`, async () => {
      const restore = await Promise.all(lost.map((i) => hideDir(a.memberDirs[i]!)));
      try {
        assert.equal(sha256(await getBytes(a, cap, join(a.dir, `out-${lost.join('')}`))), expected);
      } finally {
        for (const r of restore) await r();
      }
    });
  }

  it('with 3 members deleted, fails with one line naming them and leaves no file', async () => {
    const lost = [0, 2, 4];
    const restore = await Promise.all(lost.map((i) => hideDir(a.memberDirs[i]!)));
    const target = join(a.dir, 'three-lost.out');
    try {
      const r = await a.raic(['get', cap, target]);
      assert.notEqual(r.code, 0);
      const line = oneCleanErrorLine(r.stderr);
      for (const i of lost) assert.ok(line.includes(a.urls[i]!), `${line} should name ${a.urls[i]}`);
      for (const i of [1, 3]) assert.ok(!line.includes(`${a.urls[i]!} (`), `${line} should not blame ${a.urls[i]}`);
      await assert.rejects(access(target));
    } finally {
      for (const r of restore) await r();
    }
  });

  it('check passes on an intact array, for the file and for the whole array', async () => {
    assert.equal((await a.raic(['check', cap, '--read-data'])).code, 0);
    const whole = await a.raic(['check', '--read-data', '--json']);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal((JSON.parse(whole.stdout) as { ok: boolean }).ok, true);
  });

  it('flipped bytes and truncated packs on n−k members: get is bit-exact, check --read-data names each', async () => {
    // Member 1: a byte flipped in the first share of every pack; member 3: every pack truncated.
    const flipped = await packFiles(a.memberDirs[1]!);
    const truncated = await packFiles(a.memberDirs[3]!);
    for (const f of flipped) await flipBytes(f, [10]);
    for (const f of truncated) await truncateTo(f, 0.5);

    assert.equal(sha256(await getBytes(a, cap, join(a.dir, 'damaged.out'))), expected);

    for (const args of [['check', cap, '--read-data', '--json'], ['check', '--read-data', '--json']]) {
      const r = await a.raic(args);
      assert.equal(r.code, 1, `check must fail: ${r.stdout}`);
      const report = JSON.parse(r.stdout) as { ok: boolean; members: { member: number; corrupt: number; damaged: { key: string; problem: string }[] }[] };
      assert.equal(report.ok, false);
      const damagedKeys = (m: number) => report.members[m]!.damaged.map((d) => d.key).sort();
      assert.deepEqual(damagedKeys(1), flipped.map((f) => keyOf(a.memberDirs[1]!, f)).sort());
      assert.deepEqual(damagedKeys(3), truncated.map((f) => keyOf(a.memberDirs[3]!, f)).sort());
      for (const m of [0, 2, 4]) assert.equal(report.members[m]!.damaged.length, 0);
    }
    // Structure-only check still sees the truncation (sizes), not the flipped byte.
    const structural = JSON.parse((await a.raic(['check', '--json'])).stdout) as { members: { member: number; corrupt: number }[] };
    assert.equal(structural.members[3]!.corrupt, truncated.length);

    const human = await a.raic(['check', cap, '--read-data']);
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`member 1 .*DAMAGED`));
    assert.match(human.stdout, new RegExp(`member 3 .*DAMAGED`));
  });
});
