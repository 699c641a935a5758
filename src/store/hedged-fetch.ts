/**
 * hedgedFetch: gets `need` results from a preference-ordered list of sources. It starts the `need` best;
 * whenever one fails it starts the next at once, and whenever the ones running are late by the policy
 * (Members.hedgePolicy: past the expected time of their request, within a byte budget) it starts one more,
 * so one slow or dead member costs at most a hedge delay, not its whole time. Once `need` answered, the
 * fetches still running are cancelled (their signal fires), so an overtaken read stops using its link.
 */
import type { HedgePolicy } from './members.js';

/** Calls `fire` after `ms`; returns a function that cancels it (tests inject a manual clock). */
export type SetTimer = (ms: number, fire: () => void) => () => void;

const realTimer: SetTimer = (ms, fire) => {
  const t = setTimeout(fire, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export async function hedgedFetch<T>(
  candidates: readonly number[],
  need: number,
  fetch: (source: number, signal: AbortSignal) => Promise<T | null>,
  policy: HedgePolicy,
  setTimer: SetTimer = realTimer,
): Promise<Map<number, T>> {
  const got = new Map<number, T>();
  const running = new Map<number, AbortController>();
  let next = 0;
  return new Promise((resolve) => {
    let cancelTimer: (() => void) | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      cancelTimer?.();
      for (const c of running.values()) c.abort();
      running.clear();
      resolve(got);
    };
    const armHedge = (): void => {
      cancelTimer?.();
      cancelTimer = null;
      if (done || next >= candidates.length || running.size === 0) return;
      const ms = policy.delayMs([...running.keys()], candidates[next]!);
      if (ms === null) return;
      cancelTimer = setTimer(ms, () => {
        cancelTimer = null;
        if (done || got.size >= need || next >= candidates.length) return;
        policy.hedged(candidates[next]!);
        start();
        armHedge();
      });
    };
    const start = (): void => {
      const source = candidates[next++]!;
      const control = new AbortController();
      running.set(source, control);
      let result: Promise<T | null>;
      try {
        result = fetch(source, control.signal);
      } catch {
        result = Promise.resolve(null);
      }
      result
        .catch(() => null)
        .then((value) => {
          running.delete(source);
          if (done) return;
          if (value !== null) got.set(source, value);
          if (got.size >= need) return finish();
          // A failure is replaced at once; a success still short of `need` waits for the others (or the hedge).
          if (value === null && next < candidates.length) {
            start();
            armHedge();
          }
          if (running.size === 0 && next >= candidates.length) finish();
        });
    };
    while (next < candidates.length && running.size < need) start();
    if (running.size === 0) return finish();
    armHedge();
  });
}
