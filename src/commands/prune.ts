import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { prune, type PruneResult } from '../core/prune.js';
import { withLock } from '../core/with-lock.js';
import { describePrune } from '../cli/format.js';

export default class Prune extends BaseCommand<typeof Prune> {
  static override summary = 'Delete data that no snapshot or stored file needs any more.';
  static override description = `Takes the exclusive lock (waits for no backup: fails with exit 11 if one is running) and needs every member
reachable: it never deletes while a member cannot be listed. If any snapshot cannot be read, nothing is deleted.`;
  static override examples = ['<%= config.bin %> prune', '<%= config.bin %> prune --dry-run'];
  static override flags = {
    'dry-run': Flags.boolean({ char: 'n', description: 'show what would be deleted, delete nothing' }),
    'repack-threshold': Flags.integer({ description: 'repack packs at least this % unused (default 50; 100 turns repacking off)', min: 1, max: 100 }),
  };

  async run(): Promise<PruneResult> {
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: 'unlock' });
    let result: PruneResult;
    try {
      const keys = await unlockArray(array, await this.passphrase(false));
      result = await withLock(array, keys, { exclusive: true, command: 'prune', configPath: this.configPath() }, (lock) =>
        prune(array, keys, {
          dryRun: this.flags['dry-run'] ?? false,
          signal: lock.signal,
          confirmLock: () => lock.confirm(),
          ...(this.flags['repack-threshold'] !== undefined ? { repackThreshold: this.flags['repack-threshold'] / 100 } : {}),
        }),
      );
    } finally {
      await array.close();
    }
    this.log(describePrune(result));
    return result;
  }
}
