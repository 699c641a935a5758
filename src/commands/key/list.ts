import { BaseCommand } from '../../cli/base-command.js';
import { table } from '../../cli/format.js';
import { listKeys, type KeyEntry } from '../../core/keys.js';
import { openConfiguredArray, unlockArrayKey } from '../../core/open-array.js';

export default class KeyList extends BaseCommand<typeof KeyList> {
  static override summary = 'List the keys (passphrases) of the array; * marks the one in use.';
  static override description = `Each passphrase opens its own key object (stored on every member); all of them open the same repository key, so
adding or removing one changes no snapshot or capability. Shows each key's id, the user and host that made it, and when.`;
  static override examples = ['<%= config.bin %> key list', '<%= config.bin %> key list --json'];

  async run(): Promise<KeyEntry[]> {
    const array = await openConfiguredArray({ configPath: this.configPath() });
    let keys: KeyEntry[];
    try {
      keys = await listKeys(array, (await unlockArrayKey(array, await this.passphrase(false))).current);
    } finally {
      await array.close();
    }
    this.log(
      table(
        [' ID', 'User', 'Host', 'Created'],
        keys.map((k) => [`${k.current ? '*' : ' '}${k.id}`, k.user ?? '', k.host ?? '', k.created.replace('T', ' ').slice(0, 19)]),
      ),
    );
    return keys;
  }
}
