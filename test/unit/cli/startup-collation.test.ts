/**
 * bin/run.js loads oclif's config with a code-point compare in place of String#localeCompare: the first
 * localeCompare of a run maps ICU's collation data (~3 MB of resident memory). These check that no run of a
 * command reaches it on the way in, and that the code-point order is the order oclif would have had.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { raicBin, raicNodeFlags, repoRoot } from '../../support/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'raic-collation-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('the command ids sort the same by code point as by localeCompare', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, unknown> };
  const ids = Object.keys(manifest.commands);
  assert.ok(ids.length > 10, `the manifest lists the commands (${ids.length})`);
  const byCodePoint = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byLocale = [...ids].sort((a, b) => a.localeCompare(b));
  assert.deepEqual(byCodePoint, byLocale);
});

test('a command runs without one localeCompare on the way (no ICU collation data mapped)', () => {
  const preload = join(scratch, 'count-locale-compare.mjs');
  writeFileSync(
    preload,
    `const orig = String.prototype.localeCompare; let calls = 0;
String.prototype.localeCompare = function (...a) { calls += 1; return orig.apply(this, a); };
process.on('exit', () => process.stderr.write('localeCompare calls: ' + calls + '\\n'));\n`,
  );
  // A command that gets as far as its own run(): it looks for its config and finds none.
  const r = spawnSync(process.execPath, [...raicNodeFlags, '--import', preload, raicBin, 'snapshots'], {
    encoding: 'utf8',
    env: { ...process.env, RAIC_CONFIG: join(scratch, 'absent', 'config.json'), RAIC_PASSWORD: 'x' },
  });
  assert.match(r.stderr, /no raic config at/, r.stderr);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /localeCompare calls: 0\n/, r.stderr);
});
