/**
 * Stripe sharing (share-lending.ts, PackReader.decodePiece with ShareLoans): a decode of a slow data member's
 * range takes the other shares' bytes that reads under way bring, and asks members only for the rest — a parity
 * range, the gaps between loans, a loan whose read failed. Counted at the members, so every verdict follows from
 * what was asked, not from the clock (a fixed hedge delay: no timing decides which members are asked).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { packKey } from '../../../src/store/layout.js';
import { Members } from '../../../src/store/members.js';
import { encodePack, shareOf } from '../../../src/store/pack-codec.js';
import { PackReader, type ShareLoans } from '../../../src/store/pack-reader.js';
import { ShareLending } from '../../../src/store/share-lending.js';
import { CountingProvider } from '../../support/counting-provider.js';
import { createMemoryProvider } from '../../support/memory-provider.js';

const K = 4;
const N = 6;

async function onePack() {
  const counting = Array.from({ length: N }, () => new CountingProvider(createMemoryProvider()));
  const members = Members.fromProviders(counting);
  members.fixedHedgeDelayMs = 60_000;
  const id = randomBytes(16);
  const object = packKey(id.toString('hex'));
  const coded = encodePack(randomBytes(4 * 300_000 + 17), await loadErasureCodec(K, N), id);
  await Promise.all(coded.objects.map((o, i) => counting[i]!.put(object, o)));
  const reader = new PackReader(members, K);
  const table = await reader.table(object, id);
  for (const c of counting) c.clear();
  const share = (i: number, from: number, to: number): Buffer => Buffer.from(shareOf(coded, i).subarray(from, to));
  const asked = (i: number): number => counting[i]!.counted().bytes;
  return { reader, object, table, share, asked };
}

describe('share lending', () => {
  it('a decode borrows the data shares under way and asks one parity member for its range alone', async () => {
    const p = await onePack();
    const [from, to] = [10_000, 250_000];
    const loans: ShareLoans = (i, a, b) => (i >= 1 && i < K ? [{ from: a, to: b, bytes: Promise.resolve(p.share(i, a, b)) }] : []);
    const got = await p.reader.decodePiece(p.object, p.table, { share: 0, from, to }, undefined, loans);
    assert.ok(got?.equals(p.share(0, from, to)), 'share 0 decoded');
    for (let i = 0; i < K; i++) assert.equal(p.asked(i), 0, `member ${i} asked for nothing`);
    assert.equal(p.asked(4) + p.asked(5), to - from, 'one parity range');
  });

  it('without loans the same decode asks k members for the whole range', async () => {
    const p = await onePack();
    const got = await p.reader.decodePiece(p.object, p.table, { share: 0, from: 10_000, to: 250_000 });
    assert.ok(got?.equals(p.share(0, 10_000, 250_000)));
    assert.equal([1, 2, 3, 4, 5].reduce((sum, i) => sum + p.asked(i), 0), K * 240_000);
  });

  it('gaps between loans, and a loan whose read failed, are asked of the member', async () => {
    const p = await onePack();
    const [from, to] = [0, 200_000];
    const loans: ShareLoans = (i) => {
      if (i === 1) return [{ from: 50_000, to: 120_000, bytes: Promise.resolve(p.share(1, 50_000, 120_000)) }];
      if (i === 2) return [{ from, to, bytes: Promise.resolve(null) }];
      if (i === 3) return [{ from, to, bytes: Promise.resolve(p.share(3, from, to)) }];
      return [];
    };
    const got = await p.reader.decodePiece(p.object, p.table, { share: 0, from, to }, undefined, loans);
    assert.ok(got?.equals(p.share(0, from, to)));
    assert.equal(p.asked(1), to - from - 70_000, 'member 1: the gaps around its loan');
    assert.equal(p.asked(2), to - from, 'member 2: its failed loan, asked again');
    assert.equal(p.asked(3), 0);
    assert.equal(p.asked(4) + p.asked(5), to - from);
  });

  it('ShareLending: borrowers get a copy of their part when the read repays, null when it failed; then it lends no more', async () => {
    const lending = new ShareLending();
    const bytes = randomBytes(1000);
    const a = lending.lend('obj', 2, 100, 1100);
    const b = lending.lend('obj', 3, 0, 500);
    const loans = lending.loansFor('obj');
    assert.deepEqual(loans(2, 0, 50), [], 'no overlap');
    assert.deepEqual(loans(1, 100, 1100), [], 'another share');
    const [part] = loans(2, 600, 2000);
    assert.equal(part!.from, 600);
    assert.equal(part!.to, 1100);
    const [failed] = loans(3, 0, 100);
    const want = Buffer.from(bytes.subarray(500, 1000)); // share bytes 600–1100 of a read of 100–1100
    lending.repay('obj', a, bytes);
    bytes.fill(0); // the reader hands its bytes on: the borrower's copy is its own
    assert.ok(Buffer.from((await part!.bytes)!).equals(want));
    lending.repay('obj', b, null);
    assert.equal(await failed!.bytes, null);
    assert.equal(lending.size, 0);
    assert.deepEqual(loans(2, 100, 1100), []);
  });

  it('ShareLending: a waiting read is started when first borrowed; once degraded, bytes are kept and lent, oldest dropped first', async () => {
    const lending = new ShareLending(1500);
    let started = 0;
    const early = lending.lend('obj', 1, 0, 1000, () => (started += 1));
    const bytes = randomBytes(1000);
    lending.repay('obj', early, bytes);
    assert.deepEqual(lending.held('obj', 1, 0, 1000), [], 'not kept before a share is decoded');
    const queued = lending.lend('obj', 1, 1000, 2000, () => (started += 1));
    lending.loansFor('obj')(1, 1500, 1600);
    lending.loansFor('obj')(1, 1600, 1700);
    assert.equal(started, 1, 'started once, by its first borrower');
    lending.degrade();
    const more = randomBytes(1000);
    const want = Buffer.from(more.subarray(900, 1000));
    lending.repay('obj', queued, more);
    more.fill(0); // handed on: what is kept is a copy
    const [held] = lending.held('obj', 1, 1200, 3000);
    assert.deepEqual([held!.from, held!.to], [1200, 2000]);
    const [loan] = lending.loansFor('obj')(1, 1900, 2500);
    assert.deepEqual([loan!.from, loan!.to], [1900, 2000]);
    assert.ok(Buffer.from((await loan!.bytes)!).equals(want));
    const decoded = lending.lend('obj', 3, 0, 100);
    lending.repay('obj', decoded, randomBytes(100), false);
    assert.deepEqual(lending.held('obj', 3, 0, 100), [], 'bytes its member did not serve (decoded) are not kept');
    lending.keep('obj', 2, 0, 800, randomBytes(800)); // 1800 kept > 1500: the oldest goes
    assert.deepEqual(lending.held('obj', 1, 1000, 2000), []);
    assert.equal(lending.held('obj', 2, 0, 800).length, 1);
  });
});
