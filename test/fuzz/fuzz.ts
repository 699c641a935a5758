/**
 * One fuzz run over every target (targets.ts), judged by the harness: what `npm run fuzz` and the short run
 * inside the test command share.
 */
import { formatTable, peakRssMB, runTarget, type TargetResult } from './harness.js';
import { allTargets } from './targets.js';

export interface FuzzOptions {
  /** Mutated inputs per parser. */
  inputs: number;
  /** PRNG seed: the same seed gives the same mutations. */
  seed: number;
  /** Only targets whose name contains this. */
  only?: string;
  /** Called after each target. */
  onResult?: (r: TargetResult) => void;
}

export interface FuzzReport {
  results: TargetResult[];
  crashes: number;
  wrongAccepts: number;
  peakRssMB: number;
  table: string;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const targets = (await allTargets(opts.seed)).filter((t) => opts.only === undefined || t.name.includes(opts.only));
  const results = targets.map((t, i) => {
    const r = runTarget(t, opts.inputs, opts.seed + i);
    opts.onResult?.(r);
    return r;
  });
  return {
    results,
    crashes: results.reduce((a, r) => a + r.crashes, 0),
    wrongAccepts: results.reduce((a, r) => a + r.wrongAccepts, 0),
    peakRssMB: peakRssMB(),
    table: formatTable(results),
  };
}
