import { BaseCommand } from '../../cli/base-command.js';
import { keyWriteNotes, newKeyFlags, runKeyCommand } from '../../cli/key-command.js';
import { addKey, type AddKeyResult } from '../../core/keys.js';

export default class KeyAdd extends BaseCommand<typeof KeyAdd> {
  static override summary = 'Add a key: a new passphrase that opens the array too.';
  static override description = `The new key wraps the same repository key as the others, with the KDF cost of the key in use; it is written to every
member (at least the write quorum) and opened once from them before the command succeeds. Prints its id.
Exit code 0 when done, 4 when some member missed it (run raic repair), 12 when the current passphrase is wrong.`;
  static override examples = ['<%= config.bin %> key add --new-password-file ~/.config/raic/second-pass'];
  static override flags = newKeyFlags;

  async run(): Promise<AddKeyResult> {
    const { result, n } = await runKeyCommand(
      { configPath: this.configPath(), passphrase: () => this.passphrase(false), newPassphrase: { file: this.flags['new-password-file'] }, exclusive: false, command: 'key add' },
      (array, current, pass) => addKey(array, current, pass, { user: this.flags.user, host: this.flags.host }),
    );
    this.log(`saved new key ${result.id}`);
    const notes = keyWriteNotes(result, n);
    for (const line of notes.lines) this.note(`raic: ${line}`);
    process.exitCode = notes.exitCode;
    return result;
  }
}
