/**
 * The short fuzz run inside the test command: every parser of bytes from members (test/fuzz/targets.ts) gets
 * 2,000 mutated inputs (RAIC_FUZZ_TEST_INPUTS) — no crash, no wrong accept, no allocation sized by an
 * unchecked field. `npm run fuzz` runs the same with 100,000 inputs per parser.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runFuzz } from '../../fuzz/fuzz.js';

it('every parser of member bytes survives mutated inputs: no crash, no wrong accept, bounded memory', async () => {
  const inputs = Number(process.env.RAIC_FUZZ_TEST_INPUTS ?? 2000);
  const report = await runFuzz({ inputs, seed: Number(process.env.RAIC_FUZZ_SEED ?? 1) });
  const findings = report.results.flatMap((r) => r.findings.map((f) => `${r.name}: ${f.kind}: ${f.what} (input ${f.input})`));
  assert.equal(report.crashes + report.wrongAccepts, 0, `\n${report.table}\n${findings.join('\n')}`);
  assert.ok(report.results.length >= 30 && report.results.every((r) => r.inputs === inputs && r.rejected > 0), report.table);
  assert.ok(report.peakRssMB < 300, `peak RSS ${report.peakRssMB} MB`);
});
