/**
 * `npm run fuzz`: every parser of bytes that come from members gets RAIC_FUZZ_INPUTS (default 100,000) mutated
 * inputs. Prints a table (parser, inputs, accepted, rejected, crashes, wrong accepts, largest allocation, time)
 * and the peak RSS; exits 1 on any crash or wrong accept, or a peak RSS over RAIC_FUZZ_MAX_RSS_MB (default 300).
 * RAIC_FUZZ_SEED picks the mutations (default 1); RAIC_FUZZ_ONLY runs the parsers whose name contains it.
 */
import { runFuzz } from './fuzz.js';

const inputs = Number(process.env.RAIC_FUZZ_INPUTS ?? 100_000);
const seed = Number(process.env.RAIC_FUZZ_SEED ?? 1);
const maxRssMB = Number(process.env.RAIC_FUZZ_MAX_RSS_MB ?? 300);
if (!Number.isSafeInteger(inputs) || inputs < 1 || !Number.isSafeInteger(seed)) {
  process.stderr.write('RAIC_FUZZ_INPUTS must be a positive integer and RAIC_FUZZ_SEED an integer\n');
  process.exit(2);
}

const started = performance.now();
const report = await runFuzz({
  inputs,
  seed,
  ...(process.env.RAIC_FUZZ_ONLY ? { only: process.env.RAIC_FUZZ_ONLY } : {}),
  onResult: (r) => process.stderr.write(`${r.name}: ${r.inputs} inputs, ${r.crashes} crashes, ${r.wrongAccepts} wrong accepts, ${(r.ms / 1000).toFixed(1)} s\n`),
});
process.stdout.write(`\n${report.table}\n\n`);
process.stdout.write(`seed ${seed}; ${report.crashes} crashes, ${report.wrongAccepts} wrong accepts; peak RSS ${report.peakRssMB} MB (bound ${maxRssMB} MB); ${((performance.now() - started) / 1000).toFixed(1)} s in all\n`);
for (const r of report.results) {
  for (const f of r.findings) process.stdout.write(`\n${r.name}: ${f.kind}: ${f.what}\n  input (base64): ${f.input}\n`);
}
if (report.crashes > 0 || report.wrongAccepts > 0 || report.peakRssMB > maxRssMB) process.exit(1);
