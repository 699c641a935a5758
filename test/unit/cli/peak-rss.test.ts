/** peakRssMB (cli/base-command.ts): the peak of raic's own memory, not of whatever started it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('a raic started by a process holding 400 MB reports its own peak, not the parent\'s', () => {
  const parentHolds = Buffer.alloc(400 * 1024 * 1024, 1); // resident: every page written
  const module = fileURLToPath(new URL('../../../src/cli/base-command.js', import.meta.url));
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `import { peakRssMB } from ${JSON.stringify(module)}; console.log(peakRssMB());`], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const reported = Number(child.stdout.trim());
  assert.ok(reported > 0, `a figure: ${child.stdout}`);
  // getrusage's maxRSS carries the forked parent's resident size across exec: it said over 400 here.
  assert.ok(reported < 300, `the child's own peak, ${reported} MB (the parent holds ${parentHolds.length >> 20} MiB)`);
});
