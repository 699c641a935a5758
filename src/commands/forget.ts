import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { describePrune } from '../cli/format.js';
import { forget, type ForgetResult } from '../core/forget.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { prune, type PruneResult } from '../core/prune.js';
import type { RetentionPolicy } from '../core/retention.js';
import { withLock } from '../core/with-lock.js';
import { RaicError } from '../errors.js';

export default class Forget extends BaseCommand<typeof Forget> {
  static override summary = 'Remove snapshots according to a retention policy (restic semantics).';
  static override description = `Policies apply per host and set of paths. Only the snapshot records are removed; add --prune (or run raic prune)
to free the space. Files stored with raic put are not snapshots and are never forgotten.`;
  static override examples = ['<%= config.bin %> forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune', '<%= config.bin %> forget --keep-last 3 --dry-run'];
  static override flags = {
    'keep-last': Flags.integer({ description: 'keep the N most recent snapshots', min: 0 }),
    'keep-hourly': Flags.integer({ description: 'keep the last snapshot of each of the last N hours', min: 0 }),
    'keep-daily': Flags.integer({ description: 'keep the last snapshot of each of the last N days', min: 0 }),
    'keep-weekly': Flags.integer({ description: 'keep the last snapshot of each of the last N ISO weeks', min: 0 }),
    'keep-monthly': Flags.integer({ description: 'keep the last snapshot of each of the last N months', min: 0 }),
    'keep-yearly': Flags.integer({ description: 'keep the last snapshot of each of the last N years', min: 0 }),
    'keep-tag': Flags.string({ description: 'keep every snapshot with this tag', multiple: true, default: [] }),
    host: Flags.string({ description: 'only consider snapshots of this host' }),
    'dry-run': Flags.boolean({ char: 'n', description: 'show what would be removed, remove nothing' }),
    prune: Flags.boolean({ description: 'run prune afterwards to free the space' }),
  };

  async run(): Promise<ForgetResult & { prune?: PruneResult }> {
    const f = this.flags;
    const policy: RetentionPolicy = {
      ...(f['keep-last'] !== undefined ? { last: f['keep-last'] } : {}),
      ...(f['keep-hourly'] !== undefined ? { hourly: f['keep-hourly'] } : {}),
      ...(f['keep-daily'] !== undefined ? { daily: f['keep-daily'] } : {}),
      ...(f['keep-weekly'] !== undefined ? { weekly: f['keep-weekly'] } : {}),
      ...(f['keep-monthly'] !== undefined ? { monthly: f['keep-monthly'] } : {}),
      ...(f['keep-yearly'] !== undefined ? { yearly: f['keep-yearly'] } : {}),
      ...(f['keep-tag'].length > 0 ? { tags: f['keep-tag'] } : {}),
    };
    if (Object.keys(policy).length === 0) throw new RaicError('Usage', 'no policy given: nothing would be kept', { hint: 'pass at least one --keep-* flag' });
    const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: 'unlock' });
    let result: ForgetResult & { prune?: PruneResult };
    try {
      const keys = await unlockArray(array, await this.passphrase(false));
      result = await withLock(array, keys, { exclusive: true, command: 'forget', configPath: this.configPath() }, async (lock) => {
        const decided = await forget(array, keys, policy, { dryRun: f['dry-run'] ?? false, host: f.host, signal: lock.signal, confirmLock: () => lock.confirm() });
        return f.prune ? { ...decided, prune: await prune(array, keys, { dryRun: f['dry-run'] ?? false, signal: lock.signal, confirmLock: () => lock.confirm() }) } : decided;
      });
    } finally {
      await array.close();
    }
    for (const k of result.keep) this.log(`keep   ${k.id.slice(0, 8)}  ${k.time.replace('T', ' ').slice(0, 19)}  ${k.host}  ${k.paths.join(' ')}  (${k.reasons.join(', ')})`);
    for (const r of result.remove) this.log(`${result.dryRun ? 'would remove' : 'remove'} ${r.id.slice(0, 8)}  ${r.time.replace('T', ' ').slice(0, 19)}  ${r.host}  ${r.paths.join(' ')}`);
    this.log(`${result.keep.length} kept, ${result.remove.length} ${result.dryRun ? 'would be removed' : 'removed'}`);
    if (result.prune) this.log(describePrune(result.prune));
    return result;
  }
}
