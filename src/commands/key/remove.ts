import { Args } from '@oclif/core';
import { BaseCommand } from '../../cli/base-command.js';
import { keyWriteNotes, runKeyCommand } from '../../cli/key-command.js';
import { removeKey, type RemoveKeyResult } from '../../core/keys.js';

export default class KeyRemove extends BaseCommand<typeof KeyRemove> {
  static override summary = 'Remove a key (passphrase) by its id; never the key in use or the last one.';
  static override description = `ID is a key id as raic key list shows it, or a unique prefix of at least 4 characters. The key's tombstone is
written to the members first, then the key object is deleted on every member: a copy left on a member that was down opens nothing.
Exit code 0 when done, 4 when some member could not be reached (run raic repair when it is back), 12 when the passphrase is wrong.`;
  static override examples = ['<%= config.bin %> key remove 3f2a9c01'];
  static override args = { id: Args.string({ description: 'the key id (raic key list)', required: true }) };

  async run(): Promise<RemoveKeyResult> {
    const { result, n } = await runKeyCommand(
      { configPath: this.configPath(), passphrase: () => this.passphrase(false), newPassphrase: null, exclusive: true, command: 'key remove' },
      (array, current, _pass, confirmLock) => removeKey(array, current, this.args.id, confirmLock),
    );
    this.log(`removed key ${result.id}`);
    const notes = keyWriteNotes(result, n);
    for (const line of notes.lines) this.note(`raic: ${line}`);
    process.exitCode = notes.exitCode;
    return result;
  }
}
