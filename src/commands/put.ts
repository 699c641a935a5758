import { Args } from '@oclif/core';
import { BaseCommand, peakRssMB } from '../cli/base-command.js';
import { openInput } from '../cli/input.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { putStream, type PutResult } from '../core/put.js';

export default class Put extends BaseCommand<typeof Put> {
  static override summary = 'Store one file (or stdin) and print its capability.';
  static override description = `Prints exactly one line on stdout: the capability. Whoever holds it (and can reach k members) can get the file back; keep it safe.`;
  static override examples = ['<%= config.bin %> put report.pdf', 'tar c ~/docs | <%= config.bin %> put -'];
  static override args = { path: Args.string({ description: 'file to store, or - for stdin', required: true }) };

  async run(): Promise<PutResult & { peakRssMB: number }> {
    const input = await openInput(this.args.path);
    const array = await openConfiguredArray({ configPath: this.configPath() });
    try {
      const keys = await unlockArray(array, await this.passphrase(false));
      const result = await putStream(array, keys, input);
      this.log(result.capability);
      return { ...result, peakRssMB: peakRssMB() };
    } finally {
      await array.close();
    }
  }
}
