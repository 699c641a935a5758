/** Read planning (read-plan.ts): which ranged GETs cover a set of byte ranges. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesce, DEFAULT_COALESCE } from '../../../src/store/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const spans = (...pairs: [number, number][]) => pairs.map(([from, to]) => ({ from, to }));
const requests = (groups: { from: number; to: number }[]) => groups.map((g) => [g.from, g.to]);

describe('coalesce', () => {
  it('merges ranges back to back into one request, in any order given', () => {
    assert.deepEqual(requests(coalesce(spans([200, 300], [0, 100], [100, 200]))), [[0, 300]]);
  });

  it('merges a gap of up to 4 KiB always, a longer one only while the unused bytes stay within 1/32 of the used', () => {
    // 4 KiB between two 100-byte ranges: merged (a request costs more than 4 KiB of download).
    assert.deepEqual(requests(coalesce(spans([0, 100], [100 + 4 * KiB, 200 + 4 * KiB]))), [[0, 200 + 4 * KiB]]);
    // 5 KiB between them: not worth it.
    assert.equal(coalesce(spans([0, 100], [100 + 5 * KiB, 200 + 5 * KiB])).length, 2);
    // 16 KiB between two 256 KiB ranges: 16/512 = 1/32, merged; 17 KiB is not.
    assert.equal(coalesce(spans([0, 256 * KiB], [272 * KiB, 528 * KiB])).length, 1);
    assert.equal(coalesce(spans([0, 256 * KiB], [273 * KiB, 529 * KiB])).length, 2);
  });

  it('never builds a request over the cap, but a range larger than the cap is a request of its own', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ from: i * 100 * KiB, to: (i + 1) * 100 * KiB }));
    const got = coalesce(many);
    for (const g of got) assert.ok(g.to - g.from <= DEFAULT_COALESCE.maxRequestBytes, `${g.to - g.from}`);
    assert.equal(got.length, Math.ceil((40 * 100 * KiB) / DEFAULT_COALESCE.maxRequestBytes));
    assert.deepEqual(got.flatMap((g) => g.spans).length, 40, 'every range is served');
    // A few bytes beside a range over the cap ride along; another large range does not.
    assert.deepEqual(requests(coalesce(spans([0, 3 * MiB], [3 * MiB, 3 * MiB + 10]))), [[0, 3 * MiB + 10]]);
    assert.deepEqual(requests(coalesce(spans([0, 87], [87, 87 + 2 * MiB], [87 + 2 * MiB, 87 + 4 * MiB]))), [[0, 87 + 2 * MiB], [87 + 2 * MiB, 87 + 4 * MiB]]);
  });

  it('costs overlapping ranges once', () => {
    const got = coalesce(spans([0, 100], [50, 150], [150, 160]));
    assert.deepEqual(requests(got), [[0, 160]]);
    assert.equal(got[0]!.spans.length, 3);
  });
});
