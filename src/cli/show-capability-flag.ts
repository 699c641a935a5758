import { Flags } from '@oclif/core';

/**
 * --show-capability: capabilities are keys that cannot be revoked, so routine output (a backup's summary in a
 * cron log, snapshots --json) carries them only when asked. (`put` prints its one line: that is its output.)
 */
export const showCapabilityFlag = Flags.boolean({ description: 'also print the capability (a key to what it names: keep it secret)' });
