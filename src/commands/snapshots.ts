import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { formatBytes, table } from '../cli/format.js';
import { showCapabilityFlag } from '../cli/show-capability-flag.js';
import { readCatalog, type CatalogRecord } from '../core/catalog.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';

export default class Snapshots extends BaseCommand<typeof Snapshots> {
  static override summary = 'List snapshots (and files stored with raic put).';
  static override examples = ['<%= config.bin %> snapshots', '<%= config.bin %> snapshots --host laptop --json'];
  static override flags = {
    host: Flags.string({ description: 'only snapshots of this host' }),
    tag: Flags.string({ description: 'only snapshots with this tag', multiple: true, default: [] }),
    path: Flags.string({ description: 'only snapshots that include this path', multiple: true, default: [] }),
    'show-capability': showCapabilityFlag,
  };

  async run(): Promise<(Omit<CatalogRecord, 'capability'> & { capability?: string })[]> {
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: 'catalog' });
    let records: CatalogRecord[];
    try {
      records = await readCatalog(array, await unlockArray(array, await this.passphrase(false)));
    } finally {
      await array.close();
    }
    const shown = records.filter(
      (r) =>
        (!this.flags.host || r.host === this.flags.host) &&
        this.flags.tag.every((t) => r.tags.includes(t)) &&
        this.flags.path.every((p) => r.paths.includes(p)),
    );
    this.log(
      table(
        ['ID', 'Time', 'Host', 'Kind', 'Paths', 'Files', 'Size', 'Added'],
        shown.map((r) => [
          r.manifestId.slice(0, 8),
          r.time.replace('T', ' ').slice(0, 19),
          r.host,
          r.kind === 'tree' ? 'backup' : 'put',
          r.paths.join(' '),
          String(r.stats.files),
          formatBytes(r.stats.bytes),
          formatBytes(r.stats.newBytes),
        ]),
      ),
    );
    this.log(`${shown.length} snapshot${shown.length === 1 ? '' : 's'}`);
    if (this.flags['show-capability']) {
      for (const r of shown) this.log(`${r.manifestId.slice(0, 8)}  ${r.capability}`);
      return shown;
    }
    return shown.map(({ capability: _, ...r }) => r);
  }
}
