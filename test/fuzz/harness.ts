/**
 * The fuzz harness: feeds each parser mutated copies of valid inputs and judges every call.
 *
 * Verdicts per input:
 * - crash: the parser threw anything but a RaicError with one of the target's expected codes (a TypeError,
 *   RangeError, SyntaxError, plain Error, an allocation failure), or allocated more than ALLOC_LIMIT bytes at
 *   once (it sized a buffer by a length field it had not checked);
 * - wrong accept: the parser accepted bytes it must refuse. What that is differs per parser and is defined
 *   beside each target (targets.ts): for a parser that authenticates (AEAD, a hash, check digits), accepting
 *   any bytes that differ from the original; for a structural parser, returning a value that breaks what the
 *   format promises (counts × sizes = lengths, fields of their types, re-encoding to the same value);
 * - otherwise accepted or rejected (returned its "no" value, or threw an expected RaicError).
 * Bounded memory: the largest single allocation during a parser call is recorded, and the peak RSS of the
 * whole run (process.resourceUsage().maxRSS) is reported and bounded by the caller.
 */
import { isRaicError, type ErrorCode } from '../../src/errors.js';
import { Rng, mutate, type Seed } from './mutate.js';

export type Verdict = 'accepted' | 'rejected' | { wrong: string };

export interface Target<S extends Seed = Seed> {
  name: string;
  /** Codes a rejection may carry; any other error is a crash. */
  codes: readonly ErrorCode[];
  seeds: readonly S[];
  /**
   * Calls the parser on `input` (a mutation of `seed`; `same` when it equals the seed's bytes). Returns
   * 'rejected' when the parser returned its "no" value (null, false), { wrong } for a wrong accept, and lets
   * whatever the parser throws propagate.
   */
  run(input: Buffer, seed: S, same: boolean): Verdict;
}

/** Infers a target's seed type from its seeds (a Target<S> serves wherever a Target is wanted). */
export const target = <S extends Seed>(t: Target<S>): Target => t;

/** A parser call allocating more than this at once is sizing memory by a field it has not bounded. */
export const ALLOC_LIMIT = 64 * 1024 * 1024;

export interface Finding {
  kind: 'crash' | 'wrong accept' | 'allocation';
  what: string;
  input: string;
}

export interface TargetResult {
  name: string;
  inputs: number;
  accepted: number;
  rejected: number;
  crashes: number;
  wrongAccepts: number;
  /** Largest single allocation in one call, bytes. */
  maxAlloc: number;
  ms: number;
  /** The first few findings, with their inputs (base64), to turn into regression cases. */
  findings: Finding[];
}

/**
 * Records the largest single allocation (typed arrays, ArrayBuffers, Buffers) while installed: parsers size
 * their buffers with `new Uint8Array(n)` or `Buffer.alloc(n)`, which the harness wraps. Zero-filled memory is
 * mapped lazily, so peak RSS alone would not show a 4 GiB buffer that is never touched.
 */
class AllocationWatch {
  largest = 0;
  private readonly undo: (() => void)[] = [];

  install(): void {
    const note = (n: unknown): void => {
      if (typeof n === 'number' && n > this.largest) this.largest = n;
    };
    const g = globalThis as Record<string, unknown>;
    for (const name of ['Uint8Array', 'ArrayBuffer', 'SharedArrayBuffer']) {
      const original = g[name] as new (...args: unknown[]) => object;
      g[name] = new Proxy(original, {
        construct: (target, args: unknown[], newTarget: () => object) => {
          note(args[0]);
          return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget) as object;
        },
      });
      this.undo.push(() => (g[name] = original));
    }
    for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
      const original = Buffer[name];
      Buffer[name] = ((size: number, ...rest: never[]) => {
        note(size);
        return (original as (...a: unknown[]) => Buffer).call(Buffer, size, ...rest);
      }) as typeof original;
      this.undo.push(() => (Buffer[name] = original));
    }
  }

  uninstall(): void {
    for (const u of this.undo.splice(0).reverse()) u();
  }
}

/** Runs `fn` under the allocation watch: the largest single allocation it made, and what it threw. */
export function watchAllocations(fn: () => unknown): { largest: number; error: unknown } {
  const watch = new AllocationWatch();
  watch.install();
  try {
    fn();
    return { largest: watch.largest, error: undefined };
  } catch (error) {
    return { largest: watch.largest, error };
  } finally {
    watch.uninstall();
  }
}

const MAX_FINDINGS = 5;

function describe(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}${isRaicError(err) ? `(${err.code})` : ''}: ${err.message}` : String(err);
}

/** Runs `inputs` mutated inputs through one target. Every seed is first checked to be accepted as it is. */
export function runTarget<S extends Seed>(t: Target<S>, inputs: number, seed: number): TargetResult {
  const r: TargetResult = { name: t.name, inputs, accepted: 0, rejected: 0, crashes: 0, wrongAccepts: 0, maxAlloc: 0, ms: 0, findings: [] };
  const note = (kind: Finding['kind'], what: string, input: Buffer): void => {
    if (r.findings.length < MAX_FINDINGS) r.findings.push({ kind, what, input: input.toString('base64') });
  };
  for (const s of t.seeds) {
    const v = t.run(Buffer.from(s.bytes), s, true);
    if (v !== 'accepted') throw new Error(`fuzz target ${t.name}: a valid seed is not accepted (${JSON.stringify(v)})`);
  }
  const rng = new Rng(seed);
  const watch = new AllocationWatch();
  const started = performance.now();
  watch.install();
  try {
    for (let i = 0; i < inputs; i++) {
      const from = rng.pick(t.seeds);
      const input = mutate(from, rng.pick(t.seeds).bytes, rng);
      // A mutation may give back a valid input (a splice of two seeds can rebuild either): judged as that one.
      const original = t.seeds.find((x) => x.bytes.equals(input));
      const [s, same] = original ? [original, true] : [from, false];
      watch.largest = 0;
      try {
        const v = t.run(input, s, same);
        if (v === 'accepted') r.accepted += 1;
        else if (v === 'rejected') r.rejected += 1;
        else {
          r.wrongAccepts += 1;
          note('wrong accept', v.wrong, input);
        }
      } catch (err) {
        if (isRaicError(err) && t.codes.includes(err.code)) r.rejected += 1;
        else {
          r.crashes += 1;
          note('crash', describe(err), input);
        }
      }
      r.maxAlloc = Math.max(r.maxAlloc, watch.largest);
      if (watch.largest > ALLOC_LIMIT) {
        r.crashes += 1;
        note('allocation', `allocated ${watch.largest} bytes at once`, input);
      }
    }
  } finally {
    watch.uninstall();
  }
  r.ms = performance.now() - started;
  return r;
}

/** Peak resident set size of this process so far, in MB (10^6 bytes). */
export const peakRssMB = (): number => Math.round((process.resourceUsage().maxRSS * 1024) / 1e6);

const fmtBytes = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** The results as a table, one row per parser, then totals. */
export function formatTable(results: readonly TargetResult[]): string {
  const head = ['parser', 'inputs', 'accepted', 'rejected', 'crashes', 'wrong accepts', 'max alloc', 'time'];
  const rows = results.map((r) => [r.name, String(r.inputs), String(r.accepted), String(r.rejected), String(r.crashes), String(r.wrongAccepts), fmtBytes(r.maxAlloc), `${(r.ms / 1000).toFixed(1)} s`]);
  const sum = (f: (r: TargetResult) => number): string => String(results.reduce((a, r) => a + f(r), 0));
  rows.push(['total', sum((r) => r.inputs), sum((r) => r.accepted), sum((r) => r.rejected), sum((r) => r.crashes), sum((r) => r.wrongAccepts), fmtBytes(Math.max(0, ...results.map((r) => r.maxAlloc))), `${(results.reduce((a, r) => a + r.ms, 0) / 1000).toFixed(1)} s`]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(0, -1).map(line), widths.map((w) => '-'.repeat(w)).join('  '), line(rows.at(-1)!)].join('\n');
}
