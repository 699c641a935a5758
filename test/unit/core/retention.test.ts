import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { applyRetention, groupKey, isoWeek, type RetentionDecision, type RetentionPolicy, type SnapshotInfo } from '../../../src/core/retention.js';

// Fixtures (all times UTC). Group "alpha /home": one snapshot a day at 02:00 from 2023-06-01 to 2024-05-31
// (366 days: 2024 is a leap year; 2024-05-31 is a Friday), plus irregular ones:
//   x20240531a, x20240531b  2024-05-31 14:00, the same instant (a tie: the smaller id counts as newer)
//   x20240527               2024-05-27 23:30 (a Monday; newer than that day's d20240527)
//   x20221231               2022-12-31 12:00 (the oldest; a year, month and ISO week of its own)
// Other groups: "beta /home" (b1-b3), "alpha /etc,/var" (e1 lists its paths in the other order), "alpha /etc".
function snap(id: string, iso: string, host = 'alpha', paths = ['/home'], tags: string[] = []): SnapshotInfo {
  return { id, time: new Date(iso), host, paths, tags };
}

function dailyYear(): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (let t = Date.UTC(2023, 5, 1, 2); t <= Date.UTC(2024, 4, 31, 2); t += 86_400_000) {
    const d = new Date(t);
    const id = `d${d.toISOString().slice(0, 10).replaceAll('-', '')}`;
    const tags = id === 'd20231225' ? ['xmas'] : id === 'd20230601' ? ['first', 'manual'] : [];
    out.push({ id, time: d, host: 'alpha', paths: ['/home'], tags });
  }
  return out;
}

const alphaHome: SnapshotInfo[] = [
  ...dailyYear(),
  snap('x20240531a', '2024-05-31T14:00:00Z'),
  snap('x20240531b', '2024-05-31T14:00:00Z', 'alpha', ['/home'], ['manual']),
  snap('x20240527', '2024-05-27T23:30:00Z'),
  snap('x20221231', '2022-12-31T12:00:00Z'),
];
const betaHome = [snap('b1', '2024-03-10T08:00:00Z', 'beta'), snap('b2', '2024-03-20T08:00:00Z', 'beta'), snap('b3', '2024-04-02T08:00:00Z', 'beta')];
const alphaEtcVar = [snap('e1', '2024-05-01T00:00:00Z', 'alpha', ['/var', '/etc']), snap('e2', '2024-05-02T00:00:00Z', 'alpha', ['/etc', '/var'])];
const alphaEtc = [snap('f1', '2024-05-03T00:00:00Z', 'alpha', ['/etc'])];
const everything = [...alphaHome, ...betaHome, ...alphaEtcVar, ...alphaEtc];

function keptIds(d: RetentionDecision): string[] {
  return d.keep.map((k) => k.snapshot.id);
}
function reasonsOf(d: RetentionDecision): Record<string, string[]> {
  return Object.fromEntries(d.keep.map((k) => [k.snapshot.id, k.reasons]));
}
/** keep and remove are disjoint and together hold every input snapshot exactly once. */
function assertPartition(input: readonly SnapshotInfo[], d: RetentionDecision): void {
  const ids = [...keptIds(d), ...d.remove.map((s) => s.id)];
  assert.equal(new Set(ids).size, ids.length, 'a snapshot appears twice');
  assert.deepEqual([...ids].sort(), input.map((s) => s.id).sort());
}
function run(input: readonly SnapshotInfo[], policy: RetentionPolicy): RetentionDecision {
  const d = applyRetention(input, policy);
  assertPartition(input, d);
  return d;
}
const monthEnds = ['d20240430', 'd20240331', 'd20240229', 'd20240131', 'd20231231', 'd20231130', 'd20231031', 'd20230930', 'd20230831', 'd20230731', 'd20230630'];

describe('retention: fixture sanity', () => {
  it('the daily year has 366 snapshots and 2024-05-31 is a Friday', () => {
    assert.equal(dailyYear().length, 366);
    assert.equal(new Date('2024-05-31T00:00:00Z').getUTCDay(), 5);
  });
});

describe('retention: single rules on a year of daily snapshots', () => {
  it('keep-last 3 keeps the three newest, ties ordered by id', () => {
    const d = run(alphaHome, { last: 3 });
    assert.deepEqual(keptIds(d), ['x20240531a', 'x20240531b', 'd20240531']);
    assert.deepEqual(reasonsOf(d)['x20240531b'], ['last']);
    assert.equal(d.remove.length, alphaHome.length - 3);
  });

  it('keep-hourly 3: one per hour; the tied snapshot in the same hour goes', () => {
    const d = run(alphaHome, { hourly: 3 });
    assert.deepEqual(keptIds(d), ['x20240531a', 'd20240531', 'd20240530']);
    assert.ok(d.remove.some((s) => s.id === 'x20240531b'));
  });

  it('keep-daily 7 keeps the newest snapshot of each of the last 7 days', () => {
    const d = run(alphaHome, { daily: 7 });
    assert.deepEqual(keptIds(d), ['x20240531a', 'd20240530', 'd20240529', 'd20240528', 'x20240527', 'd20240526', 'd20240525']);
    assert.ok(d.keep.every((k) => k.reasons.length === 1 && k.reasons[0] === 'daily'));
    for (const gone of ['x20240531b', 'd20240531', 'd20240527', 'd20240524']) assert.ok(d.remove.some((s) => s.id === gone), gone);
  });

  it('keep-weekly 4 uses ISO weeks (Monday to Sunday)', () => {
    const d = run(alphaHome, { weekly: 4 });
    assert.deepEqual(keptIds(d), ['x20240531a', 'd20240526', 'd20240519', 'd20240512']);
  });

  it('keep-monthly 12 keeps each month\'s last snapshot', () => {
    const d = run(alphaHome, { monthly: 12 });
    assert.deepEqual(keptIds(d), ['x20240531a', ...monthEnds]);
    assert.ok(d.remove.some((s) => s.id === 'x20221231'), 'the count ran out before the oldest');
  });

  it('keep-yearly 2 and 5: a year is a bucket; the count may exceed the years present', () => {
    assert.deepEqual(keptIds(run(alphaHome, { yearly: 2 })), ['x20240531a', 'd20231231']);
    const d = run(alphaHome, { yearly: 5 });
    assert.deepEqual(keptIds(d), ['x20240531a', 'd20231231', 'x20221231']);
    assert.deepEqual(reasonsOf(d)['x20221231'], ['yearly']);
  });

  it('Infinity (restic\'s "unlimited") keeps every bucket', () => {
    const d = run(alphaHome, { monthly: Infinity });
    assert.deepEqual(keptIds(d), ['x20240531a', ...monthEnds, 'x20221231']);
  });
});

describe('retention: combinations and reasons', () => {
  it('restic\'s classic --keep-daily 7 --keep-weekly 4 --keep-monthly 12', () => {
    const d = run(alphaHome, { daily: 7, weekly: 4, monthly: 12 });
    assert.deepEqual(keptIds(d), [
      'x20240531a', 'd20240530', 'd20240529', 'd20240528', 'x20240527', 'd20240526', 'd20240525', 'd20240519', 'd20240512', ...monthEnds,
    ]);
    assert.equal(d.keep.length, 20);
    assert.equal(d.remove.length, 370 - 20);
    const r = reasonsOf(d);
    assert.deepEqual(r['x20240531a'], ['daily', 'weekly', 'monthly']);
    assert.deepEqual(r['d20240526'], ['daily', 'weekly']);
    assert.deepEqual(r['d20240525'], ['daily']);
    assert.deepEqual(r['d20240519'], ['weekly']);
    assert.deepEqual(r['d20240430'], ['monthly']);
  });

  it('adding --keep-yearly 75 and --keep-last 2 lists every reason, in rule order', () => {
    const d = run(alphaHome, { last: 2, daily: 7, weekly: 4, monthly: 12, yearly: 75 });
    const r = reasonsOf(d);
    assert.deepEqual(r['x20240531a'], ['last', 'daily', 'weekly', 'monthly', 'yearly']);
    assert.deepEqual(r['x20240531b'], ['last']);
    assert.deepEqual(r['d20231231'], ['monthly', 'yearly']);
    assert.deepEqual(r['x20221231'], ['yearly']);
    assert.equal(d.keep.length, 22);
  });

  it('restic\'s documented example: 12 Sundays, --keep-daily 4 keeps the last four', () => {
    const sundays = Array.from({ length: 12 }, (_, i) => snap(`s${i}`, new Date(Date.UTC(2019, 8, 1 + 7 * i, 11)).toISOString()));
    assert.deepEqual(keptIds(run(sundays, { daily: 4 })), ['s11', 's10', 's9', 's8']);
  });
});

describe('retention: the oldest snapshot (restic ≥ 0.16)', () => {
  it('is kept when a rule still has count left, marked "oldest" when its bucket was already kept', () => {
    const d = run(betaHome, { monthly: 5 });
    assert.deepEqual(keptIds(d), ['b3', 'b2', 'b1']);
    assert.deepEqual(reasonsOf(d), { b3: ['monthly'], b2: ['monthly'], b1: ['oldest monthly'] });
  });

  it('is not kept once every count is used up', () => {
    const d = run(betaHome, { monthly: 2 });
    assert.deepEqual(keptIds(d), ['b3', 'b2']);
    assert.deepEqual(d.remove.map((s) => s.id), ['b1']);
  });

  it('unlimited rules keep it too', () => {
    assert.deepEqual(reasonsOf(run(betaHome, { yearly: Infinity })), { b3: ['yearly'], b1: ['oldest yearly'] });
  });
});

describe('retention: tags', () => {
  it('keep-tag keeps every snapshot with one of the tags, uncounted', () => {
    const d = run(alphaHome, { tags: ['manual', 'xmas'] });
    assert.deepEqual(keptIds(d), ['x20240531b', 'd20231225', 'd20230601']);
    assert.deepEqual(reasonsOf(d), { x20240531b: ['tag manual'], d20231225: ['tag xmas'], d20230601: ['tag manual'] });
  });

  it('tags combine with count rules; reasons list both', () => {
    const d = run(alphaHome, { last: 2, tags: ['manual'] });
    assert.deepEqual(keptIds(d), ['x20240531a', 'x20240531b', 'd20230601']);
    assert.deepEqual(reasonsOf(d)['x20240531b'], ['tag manual', 'last']);
  });

  it('the tag "" matches untagged snapshots', () => {
    const input = [snap('t1', '2024-01-01T00:00:00Z', 'h', ['/'], ['a']), snap('t2', '2024-01-02T00:00:00Z', 'h', ['/']), snap('t3', '2024-01-03T00:00:00Z', 'h', ['/'], ['b'])];
    const d = run(input, { tags: [''] });
    assert.deepEqual(reasonsOf(d), { t2: ['untagged'] });
  });

  it('refuses a policy that would remove every snapshot of a group (as restic does)', () => {
    assert.throws(
      () => applyRetention([...alphaHome, ...betaHome], { tags: ['manual'] }),
      (e) => isRaicError(e, 'Usage') && /every snapshot of host beta/.test((e as Error).message),
    );
  });
});

describe('retention: groups', () => {
  it('applies the policy to each host + sorted paths group separately', () => {
    const d = run(everything, { last: 1 });
    assert.deepEqual(keptIds(d).sort(), ['b3', 'e2', 'f1', 'x20240531a']);
    assert.ok(d.remove.some((s) => s.id === 'e1'), 'e1 and e2 list the same paths in another order: one group');
  });

  it('orders the output by group, newest first within a group', () => {
    const d = run(everything, { monthly: 1 });
    const keys = d.keep.map((k) => groupKey(k.snapshot));
    assert.deepEqual(keys, [...keys].sort());
    const removedAlpha = d.remove.filter((s) => s.host === 'alpha' && s.paths[0] === '/home').map((s) => s.time.getTime());
    assert.deepEqual(removedAlpha, [...removedAlpha].sort((a, b) => b - a));
  });

  it('groupKey ignores path order and separates hosts', () => {
    assert.equal(groupKey(alphaEtcVar[0]!), groupKey(alphaEtcVar[1]!));
    assert.notEqual(groupKey(betaHome[0]!), groupKey(alphaHome[0]!));
    assert.notEqual(groupKey(alphaEtc[0]!), groupKey(alphaEtcVar[0]!));
  });

  it('does not depend on the input order (ties included)', () => {
    const policy = { daily: 7, weekly: 4, monthly: 12, last: 2 };
    const expected = applyRetention(everything, policy);
    let seed = 42;
    const shuffled = [...everything];
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (const input of [shuffled, [...everything].reverse()]) {
      const got = applyRetention(input, policy);
      assert.deepEqual(keptIds(got), keptIds(expected));
      assert.deepEqual(got.remove.map((s) => s.id), expected.remove.map((s) => s.id));
    }
    assert.equal(shuffled.length, everything.length, 'input not mutated in length');
  });

  it('an empty snapshot list gives an empty decision', () => {
    assert.deepEqual(applyRetention([], { last: 1 }), { keep: [], remove: [] });
  });
});

describe('retention: ISO weeks at year ends', () => {
  it('isoWeek matches known dates', () => {
    assert.deepEqual(isoWeek({ year: 2024, month: 12, day: 29 }), { isoYear: 2024, week: 52 });
    assert.deepEqual(isoWeek({ year: 2024, month: 12, day: 30 }), { isoYear: 2025, week: 1 });
    assert.deepEqual(isoWeek({ year: 2021, month: 1, day: 3 }), { isoYear: 2020, week: 53 });
    assert.deepEqual(isoWeek({ year: 2021, month: 1, day: 4 }), { isoYear: 2021, week: 1 });
    assert.deepEqual(isoWeek({ year: 2023, month: 1, day: 1 }), { isoYear: 2022, week: 52 });
    assert.deepEqual(isoWeek({ year: 2026, month: 1, day: 1 }), { isoYear: 2026, week: 1 });
  });

  it('a week that spans New Year is one bucket', () => {
    const a = [snap('w1', '2024-12-28T10:00:00Z'), snap('w2', '2024-12-30T10:00:00Z'), snap('w3', '2025-01-02T10:00:00Z')];
    assert.deepEqual(keptIds(run(a, { weekly: 2 })), ['w3', 'w1']);
    const b = [snap('v1', '2020-12-31T10:00:00Z'), snap('v2', '2021-01-03T10:00:00Z'), snap('v3', '2021-01-04T10:00:00Z'), snap('v0', '2020-12-20T10:00:00Z')];
    assert.deepEqual(keptIds(run(b, { weekly: 2 })), ['v3', 'v2']);
  });
});

describe('retention: time zone', () => {
  const savedTz = process.env.TZ;
  after(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });
  const input = [snap('z0', '2024-05-30T10:00:00Z'), snap('z1', '2024-05-31T10:00:00Z'), snap('z2', '2024-05-31T20:00:00Z')];

  it('buckets are UTC by default, whatever TZ says', () => {
    process.env.TZ = 'Pacific/Auckland'; // UTC+12 in May: z2 is 1 June there
    assert.deepEqual(keptIds(applyRetention(input, { daily: 2 })), ['z2', 'z0']);
  });

  it('timeZone "local" buckets by the process\'s zone', () => {
    process.env.TZ = 'Pacific/Auckland';
    assert.equal(new Date('2024-05-31T20:00:00Z').getDate(), 1, 'the zone took effect');
    assert.deepEqual(keptIds(applyRetention(input, { daily: 2 }, { timeZone: 'local' })), ['z2', 'z1']);
  });
});

describe('retention: invalid policies and input', () => {
  const usage = (e: unknown) => isRaicError(e, 'Usage');
  it('an empty policy is a Usage error (it would decide nothing)', () => {
    for (const p of [{}, { daily: 0 }, { tags: [] }, { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, tags: [] }] as RetentionPolicy[]) {
      assert.throws(() => applyRetention(alphaHome, p), usage, JSON.stringify(p));
    }
  });
  it('rejects negative, fractional and NaN counts', () => {
    for (const n of [-1, 1.5, Number.NaN, -Infinity]) assert.throws(() => applyRetention(alphaHome, { daily: n }), usage, String(n));
  });
  it('rejects a snapshot without a valid time', () => {
    assert.throws(() => applyRetention([snap('bad', 'not a date')], { last: 1 }), usage);
  });
});
