import { Args, Flags } from '@oclif/core';
import { BaseCommand, peakRssMB } from '../cli/base-command.js';
import { RaicError } from '../errors.js';
import { getToFile, getToStream, type GetResult } from '../core/get.js';
import { openConfiguredArray } from '../core/open-array.js';
import { parseCapability } from '../store/index.js';

export default class Get extends BaseCommand<typeof Get> {
  static override summary = 'Write the file a capability names (no passphrase needed).';
  static override description = `Reads from any k reachable members. The file is written to a temp file and renamed when complete and verified:
a failed get never leaves a partial file at PATH. Without PATH (or with -) the bytes go to stdout.`;
  static override examples = ['<%= config.bin %> get raic:file:1:… report.pdf', '<%= config.bin %> get raic:file:1:… - | tar x'];
  static override args = {
    capability: Args.string({ description: 'the capability printed by raic put', required: true }),
    path: Args.string({ description: 'where to write the file, or - for stdout (default)' }),
  };
  static override flags = { overwrite: Flags.boolean({ description: 'replace PATH if it exists' }) };

  async run(): Promise<GetResult & { peakRssMB: number }> {
    const cap = parseCapability(this.args.capability);
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting() });
    try {
      const target = this.args.path ?? '-';
      if (target === '-' && this.jsonEnabled()) throw new RaicError('Usage', '--json needs a PATH: stdout carries the file itself');
      const result = target === '-' ? await getToStream(array, cap, process.stdout) : await getToFile(array, cap, target, { overwrite: this.flags.overwrite });
      if (result.shareProblems > 0) this.note(`note: ${result.shareProblems} shares were missing or damaged and were worked around; run raic check`);
      return { ...result, peakRssMB: peakRssMB() };
    } finally {
      await array.close();
    }
  }
}
