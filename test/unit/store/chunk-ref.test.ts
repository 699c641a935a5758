import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ENTRY_BYTES, REF_BYTES, decodeRefList, encodeRefList, type ChunkEntry } from '../../../src/store/chunk-ref.js';

const entry = (i: number): ChunkEntry => ({
  id: randomBytes(32),
  pack: randomBytes(16),
  offset: 2 ** 32 - 1 - i, // the whole u32 range: a body may be up to 4 GiB
  length: 1_048_576 + i,
  size: 4_194_304 - i,
  meta: i % 2 === 1,
  key: randomBytes(32),
});

describe('ChunkRef binary form', () => {
  it('round-trips refs and entries, 61 and 93 bytes each', () => {
    const list = Array.from({ length: 5 }, (_, i) => entry(i));
    const refsOnly = decodeRefList('TESTLIST', encodeRefList('TESTLIST', list), false);
    assert.equal(REF_BYTES, 61);
    assert.equal(encodeRefList('TESTLIST', list).length, 12 + 5 * REF_BYTES);
    for (const [i, r] of refsOnly.entries()) {
      const want = list[i]!;
      assert.ok(r.id.equals(want.id) && r.pack.equals(want.pack));
      assert.deepEqual([r.offset, r.length, r.size, r.meta], [want.offset, want.length, want.size, want.meta]);
      assert.equal('key' in r, false);
    }
    const withKeys = decodeRefList('TESTLIST', encodeRefList('TESTLIST', list, true), true);
    assert.equal(encodeRefList('TESTLIST', list, true).length, 12 + 5 * ENTRY_BYTES);
    for (const [i, e] of withKeys.entries()) assert.ok(e.key.equals(list[i]!.key));
  });

  it('rejects a wrong magic and a wrong length', () => {
    const bytes = encodeRefList('TESTLIST', [entry(0)]);
    assert.throws(() => decodeRefList('OTHERMAG', bytes), /not a OTHERMAG/);
    assert.throws(() => decodeRefList('TESTLIST', bytes.subarray(0, bytes.length - 1)), /wrong length/);
  });

  it('rejects unknown flag bits', () => {
    const bytes = encodeRefList('TESTLIST', [entry(0)]);
    bytes[12 + 60] = 0x82;
    assert.throws(() => decodeRefList('TESTLIST', bytes), /unknown flags/);
  });
});
