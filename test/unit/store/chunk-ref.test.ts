import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeRefList, encodeRefList, entryBytes, refBytes, type ChunkEntry } from '../../../src/store/chunk-ref.js';

const entry = (n: number, i: number): ChunkEntry => ({
  id: randomBytes(32),
  pack: randomBytes(16),
  offset: 2 ** 40 + i, // beyond 32 bits: offsets are 48-bit
  shareLen: 1_048_576 + i,
  size: 4_194_304 - i,
  meta: i % 2 === 1,
  hashes: randomBytes(32 * n),
  key: randomBytes(32),
});

describe('ChunkRef binary form', () => {
  for (const n of [2, 6, 255]) {
    it(`round-trips refs and entries for n=${n}`, () => {
      const list = Array.from({ length: 5 }, (_, i) => entry(n, i));
      const refsOnly = decodeRefList('TESTLIST', encodeRefList('TESTLIST', n, list), false);
      assert.equal(refsOnly.n, n);
      assert.equal(encodeRefList('TESTLIST', n, list).length, 13 + 5 * refBytes(n));
      for (const [i, r] of refsOnly.refs.entries()) {
        const want = list[i]!;
        assert.ok(r.id.equals(want.id) && r.pack.equals(want.pack) && r.hashes.equals(want.hashes));
        assert.deepEqual([r.offset, r.shareLen, r.size, r.meta], [want.offset, want.shareLen, want.size, want.meta]);
        assert.equal('key' in r, false);
      }
      const withKeys = decodeRefList('TESTLIST', encodeRefList('TESTLIST', n, list, true), true);
      assert.equal(encodeRefList('TESTLIST', n, list, true).length, 13 + 5 * entryBytes(n));
      for (const [i, e] of withKeys.refs.entries()) assert.ok(e.key.equals(list[i]!.key));
    });
  }

  it('rejects a wrong magic and a wrong length', () => {
    const bytes = encodeRefList('TESTLIST', 3, [entry(3, 0)]);
    assert.throws(() => decodeRefList('OTHERMAG', bytes), /not a OTHERMAG/);
    assert.throws(() => decodeRefList('TESTLIST', bytes.subarray(0, bytes.length - 1)), /wrong length/);
  });

  it('rejects unknown flag bits', () => {
    const bytes = encodeRefList('TESTLIST', 3, [entry(3, 0)]);
    bytes[13 + 62] = 0x82;
    assert.throws(() => decodeRefList('TESTLIST', bytes), /unknown flags/);
  });
});
