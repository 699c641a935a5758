import { Flags } from '@oclif/core';
import { defaultCacheRoot } from '../cache/index.js';
import { BaseCommand } from '../cli/base-command.js';
import { formatBytes, table } from '../cli/format.js';
import { listCaches, removeCaches, type CacheDirInfo } from '../core/cache-admin.js';
import { readLocalConfig } from '../core/local-config.js';
import { RaicError } from '../errors.js';

export default class Cache extends BaseCommand<typeof Cache> {
  static override summary = 'Show the local metadata caches, or delete them.';
  static override description = `raic keeps a copy of what every run reads again — index segments, metadata packs (directory trees), snapshot
records — in a cache per array ($XDG_CACHE_HOME/raic, or ~/.cache/raic; --cache-dir elsewhere), so an unchanged backup
or a restore does not download them again. Every cached file is verified when read, and the members stay the only
copy of anything: deleting a cache only costs downloads. Needs no passphrase.`;
  static override examples = ['<%= config.bin %> cache', '<%= config.bin %> cache --clean', '<%= config.bin %> cache --clean --all'];
  static override flags = {
    clean: Flags.boolean({ description: "delete the configured array's cache" }),
    all: Flags.boolean({ description: 'with --clean: delete every array\'s cache under the cache directory', dependsOn: ['clean'] }),
  };

  async run(): Promise<{ root: string; caches: CacheDirInfo[]; removed: CacheDirInfo[] }> {
    const root = this.flags['cache-dir'] ?? defaultCacheRoot();
    const arrayId = await this.configuredArrayId(!this.flags.clean || this.flags.all);
    let removed: CacheDirInfo[] = [];
    if (this.flags.clean) {
      removed = removeCaches(root, this.flags.all ? { all: true } : { arrayId: arrayId! });
      this.log(removed.length === 0 ? `nothing to delete in ${root}` : `deleted ${removed.map((c) => `${c.dir} (${formatBytes(c.bytes)})`).join(', ')}`);
    }
    const caches = listCaches(root, arrayId);
    if (!this.flags.clean) {
      this.log(caches.length === 0 ? `no caches in ${root}` : `caches in ${root}:\n${table(['Array', 'Size', 'Files', 'Last written', ''], caches.map((c) => [c.arrayId, formatBytes(c.bytes), String(c.files), c.lastWritten?.replace('T', ' ').slice(0, 19) ?? '-', c.current ? '(this config)' : '']))}`);
    }
    return { root, caches, removed };
  }

  /** The configured array's id; without a config, null when `optional`, else the usual error. */
  private async configuredArrayId(optional: boolean): Promise<string | null> {
    try {
      return (await readLocalConfig(this.configPath())).arrayId;
    } catch (err) {
      if (optional && err instanceof RaicError && err.code === 'NoArray') return null;
      throw err;
    }
  }
}
