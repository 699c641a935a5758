/**
 * Retention: which snapshots `raic forget` keeps, with restic's `forget --keep-*` semantics
 * (internal/data/snapshot_policy.go, doc/060_forget.rst). Pure: no I/O, no clock.
 *
 * - Snapshots are grouped by host + sorted paths (restic's default `--group-by host,paths`); the policy is
 *   applied to each group on its own, so one machine's snapshots never push out another's.
 * - Within a group, snapshots are walked newest first (equal times: smaller id first, so the result does not
 *   depend on input order). For each count rule, a snapshot is kept when its bucket differs from the last
 *   kept bucket of that rule and the rule has count left: the newest snapshot of each of the last N distinct
 *   buckets that hold a snapshot. Buckets: `last` = every snapshot; `hourly` = year-month-day-hour;
 *   `daily` = year-month-day; `weekly` = ISO 8601 week-year and week (Monday to Sunday); `monthly`; `yearly`.
 * - Like restic ≥ 0.16: when the group's oldest snapshot is reached and a rule still has count left, it is
 *   kept too (reason `oldest <rule>` if its bucket was already represented), so a short history is not lost.
 * - `tags`: any snapshot carrying one of them is kept (uncounted); the tag `''` matches untagged snapshots.
 * - A snapshot kept for several rules lists every reason, in the order: tags, last, hourly … yearly.
 * - Buckets are computed in UTC by default (deterministic whatever the machine's zone); `timeZone: 'local'`
 *   uses the process's zone (TZ), as restic does.
 *
 * Errors (RaicError 'Usage'): a policy with no rule (it would keep everything; restic refuses too), a count
 * that is not a non-negative integer or Infinity (= restic's `unlimited`), a snapshot without a valid time,
 * and a policy that would remove every snapshot of a group (possible with tags alone; restic refuses).
 */
import { RaicError } from '../errors.js';

export interface SnapshotInfo {
  id: string;
  time: Date;
  host: string;
  paths: string[];
  tags: string[];
}

/** Each count: how many buckets to keep; 0 or absent = rule unused; Infinity = every bucket. */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Keep any snapshot with one of these tags ('' = untagged snapshots). */
  tags?: string[];
}

/** Both lists: groups in `groupKey` order, newest first within a group. keep ∪ remove = the input. */
export interface RetentionDecision {
  keep: { snapshot: SnapshotInfo; reasons: string[] }[];
  remove: SnapshotInfo[];
}

type CountRule = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const COUNT_RULES: readonly CountRule[] = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];

interface CalendarParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
}

/** The group a snapshot belongs to: host and sorted paths, as JSON (unambiguous, readable). */
export function groupKey(s: SnapshotInfo): string {
  return JSON.stringify({ host: s.host, paths: [...s.paths].sort() });
}

export function applyRetention(
  snapshots: readonly SnapshotInfo[],
  policy: RetentionPolicy,
  opts: { timeZone?: 'UTC' | 'local' } = {},
): RetentionDecision {
  const counts = validatePolicy(policy);
  const tags = policy.tags ?? [];
  const partsOf = opts.timeZone === 'local' ? localParts : utcParts;

  const groups = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    if (!(s.time instanceof Date) || Number.isNaN(s.time.getTime())) {
      throw new RaicError('Usage', `snapshot ${s.id} has no valid time`);
    }
    const key = groupKey(s);
    const list = groups.get(key);
    if (list) list.push(s);
    else groups.set(key, [s]);
  }

  const decision: RetentionDecision = { keep: [], remove: [] };
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!.sort(newestFirst);
    const kept = applyToGroup(group, counts, tags, partsOf, decision);
    if (kept === 0) {
      const { host, paths } = JSON.parse(key) as { host: string; paths: string[] };
      throw new RaicError('Usage', `refusing to remove every snapshot of host ${host}, paths ${paths.join(', ')}`, {
        hint: 'no snapshot of this group has the given tags; add a --keep-last/--keep-daily… rule',
      });
    }
  }
  return decision;
}

/** Walks one group (sorted newest first), appending to `out`; returns how many were kept. */
function applyToGroup(
  group: readonly SnapshotInfo[],
  counts: ReadonlyMap<CountRule, number>,
  tags: readonly string[],
  partsOf: (d: Date) => CalendarParts,
  out: RetentionDecision,
): number {
  // Per rule: count left and the bucket of the last snapshot it kept.
  const state = new Map<CountRule, { left: number; lastBucket: number | undefined }>();
  for (const [rule, n] of counts) state.set(rule, { left: n, lastBucket: undefined });

  let kept = 0;
  group.forEach((s, nr) => {
    const reasons: string[] = [];
    for (const tag of tags) {
      if (tag === '' ? s.tags.length === 0 : s.tags.includes(tag)) reasons.push(tag === '' ? 'untagged' : `tag ${tag}`);
    }
    const parts = partsOf(s.time);
    const isOldest = nr === group.length - 1;
    for (const rule of COUNT_RULES) {
      const st = state.get(rule);
      if (!st || st.left <= 0) continue;
      const bucket = bucketOf(rule, parts, nr);
      if (bucket !== st.lastBucket || isOldest) {
        reasons.push(bucket === st.lastBucket ? `oldest ${rule}` : rule);
        st.lastBucket = bucket;
        st.left -= 1; // Infinity stays Infinity
      }
    }
    if (reasons.length > 0) {
      out.keep.push({ snapshot: s, reasons });
      kept += 1;
    } else {
      out.remove.push(s);
    }
  });
  return kept;
}

function validatePolicy(policy: RetentionPolicy): Map<CountRule, number> {
  const counts = new Map<CountRule, number>();
  for (const rule of COUNT_RULES) {
    const n = policy[rule];
    if (n === undefined) continue;
    if (!(n === Infinity || (Number.isInteger(n) && n >= 0))) {
      throw new RaicError('Usage', `--keep-${rule} must be a whole number ≥ 0 or unlimited, not ${String(n)}`);
    }
    if (n > 0) counts.set(rule, n);
  }
  if (counts.size === 0 && (policy.tags ?? []).length === 0) {
    throw new RaicError('Usage', 'no retention rule given: nothing would be removed', {
      hint: 'pass at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-tag',
    });
  }
  return counts;
}

function newestFirst(a: SnapshotInfo, b: SnapshotInfo): number {
  const dt = b.time.getTime() - a.time.getTime();
  if (dt !== 0) return dt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A number identifying the snapshot's bucket for a rule; equal numbers = same bucket. */
function bucketOf(rule: CountRule, p: CalendarParts, nr: number): number {
  switch (rule) {
    case 'last':
      return nr; // every snapshot is its own bucket
    case 'hourly':
      return ((p.year * 100 + p.month) * 100 + p.day) * 100 + p.hour;
    case 'daily':
      return (p.year * 100 + p.month) * 100 + p.day;
    case 'weekly': {
      const { isoYear, week } = isoWeek(p);
      return isoYear * 100 + week;
    }
    case 'monthly':
      return p.year * 100 + p.month;
    case 'yearly':
      return p.year;
  }
}

/** ISO 8601 week: weeks start on Monday; week 1 is the one holding the year's first Thursday. */
export function isoWeek(p: Pick<CalendarParts, 'year' | 'month' | 'day'>): { isoYear: number; week: number } {
  const dayMs = 86_400_000;
  const date = Date.UTC(p.year, p.month - 1, p.day);
  const mondayBased = (new Date(date).getUTCDay() + 6) % 7; // Monday = 0 … Sunday = 6
  const thursday = new Date(date + (3 - mondayBased) * dayMs); // the week's Thursday decides its year
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / dayMs / 7) + 1;
  return { isoYear, week };
}

function utcParts(d: Date): CalendarParts {
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() };
}

function localParts(d: Date): CalendarParts {
  return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours() };
}
