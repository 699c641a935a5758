import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { formatBytes, parseSize } from '../cli/format.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { repair, type RepairResult } from '../core/repair.js';
import { withLock } from '../core/with-lock.js';
import { ExitCode } from '../errors.js';

export default class Repair extends BaseCommand<typeof Repair> {
  static override summary = 'Rebuild lost or damaged shares and objects from any k members.';
  static override description = `Missing objects are copied from another member; a missing, truncated or (with --read-data) corrupt pack is
rebuilt byte-identical from the other members' shares. Reports the bytes downloaded and uploaded (egress costs money);
--max-download stops early. --index first rebuilds the index from the packs' own trailers.`;
  static override examples = ['<%= config.bin %> repair --dry-run', '<%= config.bin %> repair --read-data --max-download 20G', '<%= config.bin %> repair --index'];
  static override flags = {
    'dry-run': Flags.boolean({ char: 'n', description: 'report what would be repaired, write nothing' }),
    'read-data': Flags.boolean({ description: 'download every share to find corruption, not just missing objects' }),
    index: Flags.boolean({ description: 'rebuild the index from the packs first' }),
    'max-download': Flags.string({ description: 'stop after downloading about this much (e.g. 500M, 20G)' }),
  };

  async run(): Promise<RepairResult> {
    const max = this.flags['max-download'] === undefined ? undefined : parseSize(this.flags['max-download']);
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting('refresh'), firstListings: 'unlock' });
    let result: RepairResult;
    try {
      const keys = await unlockArray(array, await this.passphrase(false));
      result = await withLock(array, keys, { exclusive: true, command: 'repair', configPath: this.configPath() }, (lock) =>
        repair(array, keys, {
          dryRun: this.flags['dry-run'],
          readData: this.flags['read-data'],
          index: this.flags.index,
          signal: lock.signal,
          confirmLock: () => lock.confirm(),
          ...(max !== undefined ? { maxDownloadBytes: max } : {}),
        }),
      );
    } finally {
      await array.close();
    }
    const verb = result.dryRun ? 'would ' : '';
    if (result.index) this.log(`index: ${result.index.refs} chunk references recovered from pack trailers, ${result.index.damagedSegmentsRemoved} damaged segments removed`);
    for (const a of result.copied) this.log(`${verb}copy    member ${a.member} ${a.key} (${a.reason})`);
    for (const a of result.rebuilt) this.log(`${verb}rebuild member ${a.member} ${a.key} (${a.reason})`);
    for (const a of result.unrepairable) this.log(`CANNOT  member ${a.member} ${a.key}: ${a.reason}`);
    for (const d of result.down) this.log(`not reachable (not repaired): ${d}`);
    this.log(
      `${result.copied.length + result.rebuilt.length} object(s) ${result.dryRun ? 'to repair' : 'repaired'}, ${result.unrepairable.length} unrepairable; downloaded ${formatBytes(result.bytesDownloaded)}, uploaded ${formatBytes(result.bytesUploaded)}${result.limitReached ? ' — stopped at --max-download, run again to continue' : ''}`,
    );
    if (result.unrepairable.length > 0 || result.down.length > 0 || result.limitReached) process.exitCode = ExitCode.failed;
    return result;
  }
}
