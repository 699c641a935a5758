import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { initArray, type InitResult } from '../core/init.js';

export default class Init extends BaseCommand<typeof Init> {
  static override summary = 'Create an array on n members, or attach this machine to an existing one.';
  static override description = `n is the number of member URLs; any k of them are enough to read everything back (1 ≤ k < n ≤ 255).
Each member gets the public array config and the wrapped repository key; the local config is written last.
When the members already hold an array, init attaches to it instead, after checking the passphrase (k members must answer).`;
  static override examples = [
    '<%= config.bin %> init --k 2 file:///mnt/usb/raic s3://bucket-a/raic s3://bucket-b/raic',
    'RAIC_PASSWORD=... <%= config.bin %> init --k 3 --config ./raic.json file:///srv/a file:///srv/b file:///srv/c file:///srv/d file:///srv/e',
  ];
  static override strict = false;
  static override args = { urls: Args.string({ description: 'member URLs (file:///abs/dir, s3://bucket/prefix?endpoint=…)', required: true }) };
  static override flags = {
    k: Flags.integer({ description: 'members needed to read (data shares per stripe)', required: true }),
    'insecure-kdf': Flags.boolean({ hidden: true, description: 'tests only: a passphrase KDF that costs nothing to guess against' }),
    'min-members': Flags.integer({ description: 'write quorum: members that must store every object for a backup or put to commit (default k+1, at most n); the others are filled later by raic repair' }),
  };

  async run(): Promise<InitResult> {
    const result = await initArray({
      k: this.flags.k,
      urls: this.positional,
      configPath: this.configPath(),
      minMembers: this.flags['min-members'],
      passphrase: (confirm) => this.passphrase(confirm),
      insecureKdf: this.flags['insecure-kdf'],
    });
    if (this.flags['insecure-kdf'] && !result.attached) process.stderr.write('raic: --insecure-kdf: this array\'s key objects cost nothing to guess against (for tests only)\n');
    this.log(
      `${result.attached ? 'attached to' : 'created'} array ${result.arrayId}: any ${result.k} of ${result.n} members restore everything\nconfig written to ${result.configPath}`,
    );
    return result;
  }
}
