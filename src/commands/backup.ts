import { Args, Flags } from '@oclif/core';
import { BaseCommand, peakRssMB } from '../cli/base-command.js';
import { compressionFlag } from '../cli/compression-flag.js';
import { showCapabilityFlag } from '../cli/show-capability-flag.js';
import { describeDegraded, formatBytes } from '../cli/format.js';
import { backup, prepareEarlyWalk, scanSources, startEarlyWalk, type BackupProgress, type BackupResult } from '../core/backup.js';
import { readCatalog } from '../core/catalog.js';
import { openConfiguredArray, unlockArray } from '../core/open-array.js';
import { withLock } from '../core/with-lock.js';
import { createProgress } from '../cli/progress.js';
import { ExitCode } from '../errors.js';
import { readExcludeFile } from '../tree/index.js';

export default class Backup extends BaseCommand<typeof Backup> {
  static override summary = 'Back up files and directories as a new snapshot.';
  static override description = `Only changes are uploaded: files unchanged since the last snapshot of the same host and paths are not read,
and identical data is stored once across files, snapshots and hosts. Prints the snapshot id (and, with --show-capability,
the snapshot's capability: a key to the whole snapshot, which no passphrase change revokes — keep it out of logs).

Exit codes: 0 all good; 1 failed, nothing committed; 3 snapshot committed but some files could not be read (each named on stderr);
4 snapshot committed degraded — some members missed some shares (the write quorum, --min-members at init, held): run raic repair.`;
  static override examples = [
    '<%= config.bin %> backup ~/Documents ~/Projects',
    '<%= config.bin %> backup /srv --exclude "*.tmp" --exclude /srv/cache --tag nightly --quiet',
  ];
  static override strict = false;
  static override args = { paths: Args.string({ description: 'files and directories to back up', required: true }) };
  static override flags = {
    exclude: Flags.string({ description: 'skip names (no "/") or absolute paths (with "/") matching this glob', multiple: true, default: [] }),
    'exclude-file': Flags.string({ description: 'read exclude patterns from this file, one per line', multiple: true, default: [] }),
    tag: Flags.string({ description: 'tag the snapshot', multiple: true, default: [] }),
    host: Flags.string({ description: 'host name recorded in the snapshot (default: this machine\'s)' }),
    quiet: Flags.boolean({ char: 'q', description: 'print nothing but the summary (and errors)' }),
    compression: compressionFlag,
    'show-capability': showCapabilityFlag,
    force: Flags.boolean({ description: 'read every file again, even those unchanged since the parent snapshot' }),
    'ignore-ctime': Flags.boolean({ description: 'judge files unchanged without their ctime (for filesystems where it moves on its own)' }),
    'ignore-inode': Flags.boolean({ description: 'judge files unchanged without their inode and device (for filesystems without stable inodes)' }),
  };

  async run(): Promise<Omit<BackupResult, 'capability'> & { capability?: string; peakRssMB: number }> {
    const excludes = [...this.flags.exclude];
    for (const file of this.flags['exclude-file']) excludes.push(...(await readExcludeFile(file)));
    // The sources are scanned from here on, while the array opens and the lock is taken.
    const scan = scanSources(this.positional, excludes);
    let result: BackupResult;
    let n: number;
    try {
      const array = await openConfiguredArray({ configPath: this.configPath(), cache: this.cacheSetting(), firstListings: 'lock', passphrase: () => this.passphrase(false) });
      n = array.n;
      try {
        // The early walk's reader lists the forwarding records while the KDF runs.
        const earlyPrep = prepareEarlyWalk(array);
        const keys = await unlockArray(array);
        // Threads and their modules load while the index is read: a one-file backup waited ~300 ms for them at
        // its first file otherwise. Not before the KDF: its 64 MiB and the threads would add up in peak RSS.
        array.startWorkers();
        const progress = createProgress({ quiet: this.flags.quiet, json: this.jsonEnabled(), label: 'backup' });
        const walk = {
          paths: this.positional,
          scan,
          excludes,
          host: this.flags.host,
          changeDetection: { force: this.flags.force, ignoreCtime: this.flags['ignore-ctime'], ignoreInode: this.flags['ignore-inode'] },
          onProgress: (p: BackupProgress) => progress.update({ bytes: p.bytesSeen, files: p.files }, p.total),
        };
        // Files are judged against the parent this host last saw while the lock is taken (backup() checks it).
        const early = startEarlyWalk(array, keys, earlyPrep, walk);
        try {
          result = await withLock(array, keys, { exclusive: false, command: 'backup', confirmInBackground: true, configPath: this.configPath() }, async (lock) =>
            backup(array, keys, readCatalog(array, keys), {
              ...walk,
              early,
              tags: this.flags.tag,
              compression: this.flags.compression,
              signal: lock.signal,
              commitGate: lock.confirmed,
              confirmCommit: () => lock.confirm(),
              estimateTotal: progress.drawing,
            }),
          );
        } finally {
          early?.abandon();
          progress.stop();
        }
      } finally {
        await array.close();
      }
    } finally {
      await scan.close();
    }
    for (const e of result.errors) process.stderr.write(`raic: ${e.path}: ${e.message} (could not be read: not in the snapshot)\n`);
    this.log(
      `snapshot ${result.snapshotId.slice(0, 8)} saved: ${result.files} files, ${result.dirs} dirs, ${formatBytes(result.bytes)}; ` +
        `${result.unchangedFiles} unchanged, ${formatBytes(result.newBytes)} new, ${formatBytes(result.storedBytes)} stored over all members, ${result.seconds.toFixed(1)} s`,
    );
    if (this.flags['show-capability']) this.log(`capability: ${result.capability}`);
    const degraded = describeDegraded(result.degraded, n);
    if (degraded) this.log(degraded);
    if (result.errors.length > 0) {
      this.log(`${result.errors.length} path(s) could not be read; their contents are not in the snapshot (listed on stderr)`);
      process.exitCode = ExitCode.unreadableSources;
    } else if (degraded) process.exitCode = ExitCode.degraded;
    const { capability, ...rest } = result;
    return { ...rest, ...(this.flags['show-capability'] ? { capability } : {}), peakRssMB: peakRssMB() };
  }
}
