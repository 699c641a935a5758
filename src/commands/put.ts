import { Args } from '@oclif/core';
import { BaseCommand, peakRssMB } from '../cli/base-command.js';
import { compressionFlag } from '../cli/compression-flag.js';
import { describeDegraded } from '../cli/format.js';
import { ExitCode } from '../errors.js';
import { openInput } from '../cli/input.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { putStream, type PutResult } from '../core/put.js';
import { withLock } from '../core/with-lock.js';
import { resolve } from 'node:path';

export default class Put extends BaseCommand<typeof Put> {
  static override summary = 'Store one file (or stdin) and print its capability.';
  static override description = `Prints exactly one line on stdout: the capability. Whoever holds it (and can reach k members) can get the file back; keep it safe.`;
  static override examples = ['<%= config.bin %> put report.pdf', 'tar c ~/docs | <%= config.bin %> put -'];
  static override args = { path: Args.string({ description: 'file to store, or - for stdin', required: true }) };
  static override flags = { compression: compressionFlag };

  async run(): Promise<PutResult & { peakRssMB: number }> {
    const input = await openInput(this.args.path);
    try {
      const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: 'lock' });
      try {
        const keys = await unlockArray(array, await this.passphrase(false));
        const result = await withLock(array, keys, { exclusive: false, command: 'put', configPath: this.configPath() }, (lock) =>
          putStream(array, keys, input.source, { signal: lock.signal, confirmCommit: () => lock.confirm(), label: this.args.path === '-' ? '-' : resolve(this.args.path), compression: this.flags.compression }),
        );
        this.log(result.capability);
        const degraded = describeDegraded(result.degraded, array.n);
        if (degraded) {
          process.stderr.write(`raic: ${degraded}\n`);
          process.exitCode = ExitCode.degraded;
        }
        return { ...result, peakRssMB: peakRssMB() };
      } finally {
        await array.close();
      }
    } finally {
      await input.close();
    }
  }
}
