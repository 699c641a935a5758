import { BaseCommand } from '../../cli/base-command.js';
import { showConfig, type ConfigView } from '../../core/config-show.js';

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override summary = 'Print the local config: array, k, n, members (secrets masked) and which credential variables are set.';
  static override description = `Members are listed in share order (member i holds share i). Any secret in a member URL is shown as ***, and credential environment variables are reported as set or not set, never with their values: the output is safe to share. No passphrase is needed and no member is contacted.`;
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json'];

  async run(): Promise<ConfigView> {
    const view = await showConfig(this.configPath());
    this.log(formatView(view));
    return view;
  }
}

function formatView(v: ConfigView): string {
  const width = String(v.n - 1).length;
  const lines = [
    `config:  ${v.configPath}`,
    `array:   ${v.arrayId}`,
    `shape:   k=${v.k}, n=${v.n} (any ${v.k} of the ${v.n} members restore everything)`,
    `members (share order):`,
  ];
  for (const m of v.members) {
    const pad = ' '.repeat(width + 4);
    lines.push(`  ${String(m.index).padStart(width)}  ${m.url}`);
    if (m.variables.length === 0) {
      lines.push(`${pad}credentials: none from the environment${m.scheme === 'file' ? ' (file permissions)' : ''}`);
      continue;
    }
    const set = m.variables.filter((x) => x.set).map((x) => x.name);
    const unset = m.variables.filter((x) => !x.set).map((x) => x.name);
    lines.push(`${pad}set:     ${set.length === 0 ? '(none)' : set.join(' ')}`);
    if (unset.length > 0) lines.push(`${pad}not set: ${unset.join(' ')}`);
  }
  return lines.join('\n');
}
