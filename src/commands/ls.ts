import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { listSnapshot, type LsEntry } from '../core/ls.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { listingsToRead, resolveSnapshot } from '../core/snapshot-ref.js';

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = 'List the files in a snapshot.';
  static override examples = ['<%= config.bin %> ls latest', '<%= config.bin %> ls 1a2b3c4d /home/me/docs --long'];
  static override args = {
    snapshot: Args.string({ description: 'snapshot id, "latest", or a raic:tree: capability', required: true }),
    path: Args.string({ description: 'list only this path and what is below it' }),
  };
  static override flags = { long: Flags.boolean({ char: 'l', description: 'show mode, size and mtime' }) };

  async run(): Promise<LsEntry[]> {
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: listingsToRead(this.args.snapshot) });
    const entries: LsEntry[] = [];
    try {
      const { root } = await resolveSnapshot(array, this.args.snapshot, async () => unlockArray(array, await this.passphrase(false)));
      for await (const e of listSnapshot(array, root, this.args.path ?? '/')) {
        if (this.jsonEnabled()) entries.push(e);
        else if (this.flags.long) this.log(`${e.type[0]}${e.mode} ${String(e.size).padStart(12)} ${e.mtime} ${e.path}${e.target !== undefined ? ` -> ${e.target}` : ''}`);
        else this.log(e.path);
      }
    } finally {
      await array.close();
    }
    return entries;
  }
}
