/** What the key commands share (raic key add, remove, passwd): restic's flags, the run under a lock, the closing notes. */
import { Flags } from '@oclif/core';
import { openConfiguredArray, unlockArrayKey } from '../core/open-array.js';
import { withLock } from '../core/with-lock.js';
import { ExitCode } from '../errors.js';
import type { RaicArray, UnlockedKey } from '../store/index.js';
import { describeDegraded } from './format.js';
import { readNewPassphrase } from './passphrase.js';

/** Flags of the commands that make a key (key add, key passwd). */
export const newKeyFlags = {
  'new-password-file': Flags.string({ description: 'read the new passphrase from this file (default: ask twice on the terminal)' }),
  user: Flags.string({ description: 'user name recorded in the new key (default: the local user)' }),
  host: Flags.string({ description: 'host name recorded in the new key (default: this host)' }),
};

export interface KeyRun {
  configPath: string;
  passphrase: () => Promise<string>;
  /** Whether a new passphrase is read (after the current one opened the array, before the lock is taken). */
  newPassphrase: { file: string | undefined } | null;
  exclusive: boolean;
  command: string;
}

/** Opens the array, unlocks it with the passphrase given, reads the new one if asked, and runs `fn` under the lock. */
export async function runKeyCommand<T>(opts: KeyRun, fn: (array: RaicArray, current: UnlockedKey, newPassphrase: string, confirmLock: () => Promise<void>) => Promise<T>): Promise<{ result: T; n: number }> {
  const array = await openConfiguredArray({ configPath: opts.configPath });
  try {
    const { keys, current } = await unlockArrayKey(array, await opts.passphrase());
    const pass = opts.newPassphrase ? await readNewPassphrase(opts.newPassphrase.file) : '';
    return { result: await withLock(array, keys, { exclusive: opts.exclusive, command: opts.command, configPath: opts.configPath }, (lock) => fn(array, current, pass, () => lock.confirm())), n: array.n };
  } finally {
    await array.close();
  }
}

/**
 * The lines after a key write (members that missed it, members that still hold a removed key) for stderr, and
 * the exit code: 4 (degraded, run raic repair) when there is any.
 */
export function keyWriteNotes(r: { missed: readonly { member: number; url: string }[]; notRemovedOn?: readonly string[] }, n: number): { lines: string[]; exitCode: number } {
  const degraded = describeDegraded(r.missed, n);
  const lines = degraded ? [degraded] : [];
  if (r.notRemovedOn && r.notRemovedOn.length > 0) {
    lines.push(`the removed key is still on ${r.notRemovedOn.join('; ')}: it opens nothing (its tombstone is on the other members); raic repair deletes it there`);
  }
  return { lines, exitCode: lines.length > 0 ? ExitCode.degraded : ExitCode.ok };
}
