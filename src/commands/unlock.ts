import { Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base-command.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { unlockLocks, type LockReport, type UnlockResult } from '../core/unlock.js';
import { lockSightings } from '../core/with-lock.js';
import { formatAge } from '../store/index.js';

export default class Unlock extends BaseCommand<typeof Unlock> {
  static override summary = 'Remove stale locks left by raic runs that ended without releasing them.';
  static override description = `A lock is stale when its process is gone on this machine (same kernel boot and pid namespace: another container
with the same host name does not count), or when this machine has seen it unchanged for 30 minutes — a running raic replaces its
lock every 5 minutes. Time stamps inside locks are never compared with this machine's clock. First sightings are remembered between
runs (beside the config), so a lock left by a crashed raic on another machine goes at a run 30 minutes or more after the first that saw it.
Live locks are listed and kept. With --remove-all every lock goes, live and unreadable ones too: use it only when you know no raic is running against these members.
Needs the passphrase (locks are encrypted). Exit code 0 when done.`;
  static override examples = ['<%= config.bin %> unlock', '<%= config.bin %> unlock --remove-all'];
  static override flags = { 'remove-all': Flags.boolean({ description: 'remove every lock, live ones too' }) };

  async run(): Promise<UnlockResult> {
    // Any one member is enough to clear what it holds; the ones down are named in the output.
    const array = await openConfiguredArray({ configPath: this.configPath(), need: 1 });
    let result: UnlockResult;
    try {
      result = await unlockLocks(array, await unlockArray(array, await this.passphrase(false)), {
        removeAll: this.flags['remove-all'],
        sightings: lockSightings(this.configPath(), array.shape.arrayId),
      });
    } finally {
      await array.close();
    }
    this.log(formatResult(result));
    return result;
  }
}

function formatResult(r: UnlockResult): string {
  const lines = [r.removed.length === 0 ? 'no locks removed' : `removed ${plural(r.removed.length, 'lock')}:`];
  for (const l of r.removed) lines.push(`  ${describe(l)}`);
  if (r.kept.length > 0) {
    lines.push(`kept ${plural(r.kept.length, 'live lock')} (\`raic unlock --remove-all\` removes them if you are sure no raic is running):`);
    for (const l of r.kept) lines.push(`  ${describe(l)}`);
  }
  if (r.down.length > 0) lines.push(`unreachable, locks there not removed: ${r.down.join('; ')}`);
  return lines.join('\n');
}

function describe(l: LockReport): string {
  if (l.kind === 'unreadable') return `${l.key}: unreadable with this array's key (${l.reason ?? ''})`;
  const holder = l.holder ? `, holder ${l.holder.slice(0, 8)}` : '';
  const why = l.reason ? ` — ${l.reason}` : ` — seen unchanged from here for ${formatAge(l.watchedMs)}`;
  return `${l.key}: ${l.kind} lock of ${l.user}@${l.host}, pid ${l.pid}${holder} (${l.command}), taken ${l.time}, refreshed ${l.refreshedAt}${why}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
