import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { maskUrl } from '../../core/config-show.js';
import { readLocalConfig } from '../../core/local-config.js';
import { MAX_BULK_BYTES, testMember, type Permission, type PermissionState, type ProviderTestResult } from '../../core/provider-test.js';
import { ExitCode } from '../../errors.js';

export default class ProviderTest extends BaseCommand<typeof ProviderTest> {
  static override summary = 'Check that members work: round trip, create-once, latency, throughput and permissions.';
  static override description = `Tests the given member URLs, or every member in the config when none is given, one after the other. Each test writes a few objects under raic-provider-test/ in the member (a small one, and --size MiB for throughput), reads them back, lists them, checks create-once where the backend offers it, and deletes them; the member's own data is not touched. No passphrase is needed.

Exit code 0 only if every member passed; a failing member's row says what failed, with the full error below the table.`;
  static override examples = [
    '<%= config.bin %> provider test',
    "<%= config.bin %> provider test 's3://my-bucket/raic?region=eu-west-1' --json",
    '<%= config.bin %> provider test --prepare azure://acct/new-container',
  ];
  static override strict = false;
  static override args = { urls: Args.string({ description: 'member URLs to test (default: every member in the config)' }) };
  static override flags = {
    size: Flags.integer({ description: 'MiB moved by the throughput test (one put, one get); at most the largest object raic reads whole', default: 8, min: 1, max: MAX_BULK_BYTES / (1024 * 1024) }),
    prepare: Flags.boolean({ description: 'first create the bucket / container / directory if missing, as init does' }),
  };

  async run(): Promise<ProviderTestResult[]> {
    const urls = this.positional.length > 0 ? this.positional : (await readLocalConfig(this.configPath())).members;
    const results: ProviderTestResult[] = [];
    for (const url of urls) {
      this.note(`testing ${results.length + 1}/${urls.length}: ${maskUrl(url)} …`);
      results.push(await testMember(url, { bulkBytes: this.flags.size * 1024 * 1024, prepare: this.flags.prepare }));
    }
    this.log(formatResults(results, this.flags.prepare));
    if (!results.every((r) => r.ok)) process.exitCode = ExitCode.failed;
    return results;
  }
}

function formatResults(results: ProviderTestResult[], prepared: boolean): string {
  const num = (x: number | null, unit = '') => (x === null ? '-' : `${x.toFixed(1)}${unit}`);
  const rows = results.map((r) => [r.url, r.ok ? 'ok' : 'FAILED', num(r.latencyMs, ' ms'), num(r.putMBps), num(r.getMBps), r.ok ? r.notes.join('; ') : [r.failure?.phrase ?? 'failed', ...r.notes].join('; ')]);
  const header = ['member', 'result', 'latency', 'put MB/s', 'get MB/s', 'note'];
  const rightAligned = new Set([2, 3, 4]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  const bulk = results[0]?.bulkBytes;
  if (bulk !== undefined) out.push('', `latency: median of small head requests; throughput: one put and one get of ${bulk / (1024 * 1024)} MiB (MB = 10^6 bytes)`);
  for (const r of results) {
    if (r.ok || r.failure === null) continue;
    out.push('', `${r.url}: ${r.failure.phrase}`, `    ${r.failure.step}: ${r.failure.message}`);
    if (r.failure.hint !== undefined) out.push(`    hint: ${r.failure.hint}`);
    // A new member's bucket / container / directory may simply not exist yet.
    if (!prepared && r.failure.code === 'Permanent' && (r.failure.step === 'list-empty' || r.failure.step === 'put')) {
      out.push('    if the bucket, container or directory does not exist yet, --prepare creates it');
    }
    out.push(`    access: ${describeAccess(r.permissions)}`);
  }
  if (results.length > 0 && results.every((r) => r.ok)) out.push(`every member passed: read, write, list and delete permitted`);
  return out.join('\n');
}

/** "list ok, write denied, read+delete untested". */
function describeAccess(p: Record<Permission, PermissionState>): string {
  const order: Permission[] = ['read', 'write', 'list', 'delete'];
  const states: PermissionState[] = ['ok', 'denied', 'failed', 'untested'];
  return states
    .map((s) => [order.filter((k) => p[k] === s), s] as const)
    .filter(([names]) => names.length > 0)
    .map(([names, s]) => `${names.join('+')} ${s}`)
    .join(', ');
}
