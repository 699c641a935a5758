import { RaicError } from '../errors.js';
import type { PruneResult } from '../core/prune.js';

/** Human-readable figures for command output. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Left-aligned text table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function describePrune(p: PruneResult): string {
  const verb = p.dryRun ? 'would' : '';
  const lines = [
    `prune: ${verb ? 'would delete' : 'deleted'} ${p.packsDeleted} of ${p.packsTotal} packs (${formatBytes(p.bytesFreed)} over all members), ${p.manifestsDeleted} orphan manifests`,
    `       ${verb ? 'would repack' : 'repacked'} ${p.packsRepacked} mostly-unused packs (${p.chunksMoved} live chunks moved, ${formatBytes(p.bytesWritten)} written, ${p.forwardRecordsWritten} forwarding records); ${p.partlyUsedPacks} partly-used packs kept (${formatBytes(p.unusedBytesInKeptPacks)} unused)`,
  ];
  for (const s of p.repackSkipped) lines.push(`       kept ${s.pack.slice(0, 16)}: ${s.reason}`);
  if (p.liveChunksMissing > 0) lines.push(`       WARNING: ${p.liveChunksMissing} live chunks were not found in any pack (run raic check)`);
  return lines.join('\n');
}

/** "500M", "2G", "1.5GiB", "1000" → bytes (K/M/G/T are powers of 1024). Throws Usage otherwise. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new RaicError('Usage', `not a size: "${text}" (examples: 500M, 2G, 1048576)`);
  const power = ' kmgt'.indexOf((m[2] ?? '').toLowerCase() || ' ');
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** The degraded-write summary line, or null when every member got everything. A member cut off for lagging
 * behind the others (a slow link) is said to be that, with how many objects it was left to catch up on. */
export function describeDegraded(degraded: readonly { member: number; url: string; missedObjects?: number; slowObjects?: number }[], n: number): string | null {
  if (degraded.length === 0) return null;
  const named = degraded.map((d) => {
    const slow = d.slowObjects ?? 0;
    if (slow === 0) return d.url;
    const objects = (count: number): string => `${count} object${count === 1 ? '' : 's'}`;
    return `${d.url}, too slow to keep up: ${objects(d.missedObjects ?? slow)} left for repair`;
  });
  return `stored on ${n - degraded.length} of ${n} members — run raic repair (missed: ${named.join('; ')})`;
}
