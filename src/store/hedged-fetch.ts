/**
 * hedgedFetch: gets `need` results from a preference-ordered list of sources. It starts the `need` best;
 * whenever one fails, or none has answered within the hedge delay, it starts the next — so one slow or
 * dead member costs at most a hedge delay, not its whole latency. Late answers are ignored.
 */
export async function hedgedFetch<T>(
  candidates: readonly number[],
  need: number,
  fetch: (source: number) => Promise<T | null>,
  hedgeDelayMs: () => number,
): Promise<Map<number, T>> {
  const got = new Map<number, T>();
  let next = 0;
  let running = 0;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      resolve(got);
    };
    const armHedge = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        if (!done && got.size < need && next < candidates.length) {
          start();
          armHedge();
        }
      }, hedgeDelayMs());
      timer.unref?.();
    };
    const start = (): void => {
      const source = candidates[next++]!;
      running += 1;
      fetch(source)
        .catch(() => null)
        .then((value) => {
          running -= 1;
          if (done) return;
          if (value !== null) got.set(source, value);
          if (got.size >= need) return finish();
          // A failure is replaced at once; a success still short of `need` waits for the others (or the hedge).
          if (value === null && next < candidates.length) {
            start();
            armHedge();
          }
          if (running === 0 && next >= candidates.length) finish();
        });
    };
    while (next < candidates.length && running < need) start();
    if (running === 0) return finish();
    armHedge();
  });
}
