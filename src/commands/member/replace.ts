import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { replaceMember, type ReplaceResult } from '../../core/member-replace.js';
import { openConfiguredArray, unlockArray } from '../../core/open-array.js';
import { withLock } from '../../core/with-lock.js';

export default class MemberReplace extends BaseCommand<typeof MemberReplace> {
  static override summary = 'Replace a member that is gone for good by an empty one.';
  static override description = `The new member takes the old one's share index; the array's member list is updated on every member and in
the local config. Then run raic repair to rebuild its shares from the others. The old member is never contacted.`;
  static override examples = ['<%= config.bin %> member replace s3://dead-bucket/raic s3://new-bucket/raic && <%= config.bin %> repair'];
  static override args = {
    old: Args.string({ description: 'the member URL to retire (as in the config)', required: true }),
    new: Args.string({ description: 'the empty member URL that replaces it', required: true }),
  };

  async run(): Promise<ReplaceResult> {
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting('refresh') });
    let result: ReplaceResult;
    try {
      const keys = await unlockArray(array, await this.passphrase(false));
      result = await withLock(array, keys, { exclusive: true, command: 'member replace', configPath: this.configPath() }, (lock) =>
        replaceMember(array, keys, this.configPath(), this.args.old, this.args.new, { confirmLock: () => lock.confirm() }),
      );
    } finally {
      await array.close();
    }
    this.log(`member ${result.member} is now ${result.newUrl} (was ${result.oldUrl}); run raic repair to rebuild its shares`);
    return result;
  }
}
