import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { checkArray, checkFile, parseDataSubset, type CheckReport, type DataSelection } from '../core/check.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { ExitCode } from '../errors.js';
import { parseCapability } from '../store/index.js';

export default class Check extends BaseCommand<typeof Check> {
  static override summary = 'Check that every share is present (and, with --read-data, intact) on every member.';
  static override description = `With a capability, checks that file (no passphrase needed); without, the whole array (needs the passphrase).
Exit code 0 only if everything is intact on every member.`;
  static override examples = ['<%= config.bin %> check', '<%= config.bin %> check --read-data', '<%= config.bin %> check raic:file:1:… --read-data'];
  static override args = { capability: Args.string({ description: 'check only the file this capability names' }) };
  static override flags = {
    'read-data': Flags.boolean({ description: 'download every share and verify its hash (costs egress)' }),
    'read-data-subset': Flags.string({
      description: 'read only a deterministic slice of the packs: N/M (M nightly runs with N = 1..M cover everything once) or P%',
      exclusive: ['read-data'],
    }),
  };

  async run(): Promise<CheckReport> {
    const subset = this.flags['read-data-subset'];
    const readData: DataSelection = subset !== undefined ? parseDataSubset(subset) : (this.flags['read-data'] ?? false);
    const cap = this.args.capability === undefined ? null : parseCapability(this.args.capability);
    // Open even with fewer than k members up: check must report, not refuse.
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting('refresh'), need: cap ? undefined : 1 });
    let report: CheckReport;
    try {
      report = cap ? await checkFile(array, cap, readData) : await checkArray(array, await unlockArray(array, await this.passphrase(false)), readData);
    } finally {
      await array.close();
    }
    this.log(formatReport(report));
    if (!report.ok) process.exitCode = ExitCode.failed;
    return report;
  }
}

function formatReport(r: CheckReport): string {
  const lines = [
    `checked ${r.scope === 'file' ? 'one file' : 'the whole array'}: ${r.objects} objects per member${r.readData ? `, data of ${r.packsRead} packs read and verified` : ' (structure only; --read-data verifies contents)'}`,
  ];
  for (const m of r.members) {
    if (m.unreachable !== null) {
      lines.push(`  member ${m.member} ${m.url}: UNREACHABLE (${m.unreachable})`);
      continue;
    }
    const state = m.missing + m.corrupt === 0 ? 'ok' : 'DAMAGED';
    lines.push(`  member ${m.member} ${m.url}: ${state} — ${m.present} present, ${m.missing} missing, ${m.corrupt} corrupt`);
    for (const d of m.damaged.slice(0, 20)) lines.push(`      ${d.problem}: ${d.key} (${d.detail})`);
    if (m.damaged.length > 20) lines.push(`      … and ${m.damaged.length - 20} more (--json lists all)`);
  }
  if (r.leftovers && r.leftovers.length > 0) lines.push(`  ${r.leftovers.length} leftover object(s) of interrupted runs (never committed, not damage; raic prune removes them)`);
  if (r.removedKeys && r.removedKeys.length > 0) lines.push(`  ${r.removedKeys.length} removed key object(s) still on a member that missed the removal (they open nothing; raic repair deletes them)`);
  for (const snap of r.snapshots ?? []) {
    const what = `${snap.kind === 'tree' ? 'snapshot' : 'file'} ${snap.id.slice(0, 8)} (${snap.time.replace('T', ' ').slice(0, 19)}, ${snap.paths.join(' ')})`;
    lines.push(snap.survives >= 0 ? `  ${what}: survives the loss of any ${snap.survives} member${snap.survives === 1 ? '' : 's'}` : `  ${what}: NOT RESTORABLE as things stand`);
  }
  lines.push(r.ok ? 'no problems found' : 'problems found: lost or damaged shares are still readable from other members while at least k are intact (raic repair rebuilds them)');
  return lines.join('\n');
}
