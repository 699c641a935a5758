import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { formatBytes } from '../cli/format.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { restoreTree, type RestoreResult } from '../core/restore.js';
import { listingsToRead, resolveSnapshot } from '../core/snapshot-ref.js';
import type { RepoKeys } from '../store/index.js';

export default class Restore extends BaseCommand<typeof Restore> {
  static override summary = 'Restore a snapshot into a directory.';
  static override description = `SNAPSHOT is an id (prefix) from raic snapshots, "latest", or a tree capability (which needs no passphrase).
Contents, modes, mtimes and symlinks are restored; files are written to a temp name and renamed when complete.
Existing files are never overwritten unless --overwrite is given (restore checks before writing anything).`;
  static override examples = ['<%= config.bin %> restore latest --target /tmp/r', '<%= config.bin %> restore 1a2b3c4d --target /tmp/r --include "/home/me/docs/**"'];
  static override args = { snapshot: Args.string({ description: 'snapshot id, "latest", or a raic:tree: capability', required: true }) };
  static override flags = {
    target: Flags.string({ char: 't', description: 'directory to restore into (created if missing)', required: true }),
    include: Flags.string({ description: 'restore only snapshot paths matching this glob (and what is below them)', multiple: true, default: [] }),
    overwrite: Flags.boolean({ description: 'replace files that already exist under the target' }),
    host: Flags.string({ description: 'with "latest": the latest snapshot of this host' }),
  };

  async run(): Promise<RestoreResult> {
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: listingsToRead(this.args.snapshot) });
    let result: RestoreResult;
    try {
      let keys: RepoKeys | undefined;
      const { root } = await resolveSnapshot(array, this.args.snapshot, async () => (keys = await unlockArray(array, await this.passphrase(false))), { host: this.flags.host });
      result = await restoreTree(array, root, { target: this.flags.target, include: this.flags.include, overwrite: this.flags.overwrite, convergenceKey: keys?.convergence });
    } finally {
      await array.close();
    }
    this.log(`restored ${result.files} files, ${result.dirs} dirs, ${result.symlinks} symlinks, ${formatBytes(result.bytes)} to ${this.flags.target} in ${result.seconds.toFixed(1)} s`);
    if (result.shareProblems > 0) this.note(`note: ${result.shareProblems} shares were missing or damaged and were worked around; run raic check`);
    return result;
  }
}
