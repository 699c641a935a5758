import { BaseCommand } from '../../cli/base-command.js';
import { keyWriteNotes, newKeyFlags, runKeyCommand } from '../../cli/key-command.js';
import { changePassphrase, type PasswdResult } from '../../core/keys.js';

export default class KeyPasswd extends BaseCommand<typeof KeyPasswd> {
  static override summary = 'Change the passphrase: add a key for the new one, then remove the key in use.';
  static override description = `The new key is written to every member and opened once from them before the old key is removed, so an
interruption never leaves the array without a key. Snapshots and capabilities are unchanged (the repository key is the same).
Afterwards the old passphrase opens nothing, even where a member that was down still holds the old key object.
Exit code 0 when done, 4 when some member missed a write (run raic repair), 12 when the current passphrase is wrong.`;
  static override examples = ['<%= config.bin %> key passwd --new-password-file /etc/raic/new-pass'];
  static override flags = newKeyFlags;

  async run(): Promise<PasswdResult> {
    const { result, n } = await runKeyCommand(
      { configPath: this.configPath(), passphrase: () => this.passphrase(false), newPassphrase: { file: this.flags['new-password-file'] }, exclusive: true, command: 'key passwd' },
      (array, current, pass, confirmLock) => changePassphrase(array, current, pass, { user: this.flags.user, host: this.flags.host }, confirmLock),
    );
    this.log(`saved new key ${result.id}, removed key ${result.removed}`);
    const notes = keyWriteNotes(result, n);
    for (const line of notes.lines) this.note(`raic: ${line}`);
    process.exitCode = notes.exitCode;
    return result;
  }
}
