/**
 * Is a restored tree identical to its source? A source tree is recorded once (relative paths, kinds, file
 * sizes and SHA-256 of contents streamed, symlink targets); each restore is then checked against that record:
 * the same relative paths with the same kinds, the same file contents, the same symlink targets. Special
 * files (sockets, FIFOs, devices) are skipped on both sides; modes, owners and times are not compared.
 */
import { constants } from 'node:fs';
import { access, lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from './measure.js';

type Kind = 'dir' | 'file' | 'symlink';

interface Entry {
  kind: Kind;
  size: number;
  /** symlink target, or (files) SHA-256 hex of the contents; '' for directories */
  value: string;
}

export interface TreeRecord {
  root: string;
  entries: Map<string, Entry>;
  files: number;
  dirs: number;
  symlinks: number;
  /** sum of the regular files' sizes */
  bytes: number;
  /** special files and unreadable paths, left out */
  skipped: number;
}

export interface TreeDiff {
  identical: boolean;
  checked: number;
  missing: string[];
  extra: string[];
  differ: string[];
}

/** Every entry under root (not root itself), relative path → kind, without following symlinks. */
async function walk(root: string, onSkip: (rel: string) => void): Promise<Map<string, { kind: Kind; size: number }>> {
  const out = new Map<string, { kind: Kind; size: number }>();
  const stack = [''];
  for (let rel = stack.pop(); rel !== undefined; rel = stack.pop()) {
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      onSkip(rel);
      continue;
    }
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, child));
      if (st.isDirectory()) {
        out.set(child, { kind: 'dir', size: 0 });
        stack.push(child);
      } else if (st.isFile()) out.set(child, { kind: 'file', size: st.size });
      else if (st.isSymbolicLink()) out.set(child, { kind: 'symlink', size: 0 });
      else onSkip(child);
    }
  }
  return out;
}

/** Runs op over items, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, op: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await op(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function valueOf(path: string, kind: Kind): Promise<string> {
  if (kind === 'file') return sha256File(path);
  if (kind === 'symlink') return readlink(path);
  return '';
}

/** Records a source tree: paths, kinds, sizes, content hashes, symlink targets (reading it also warms the page cache). */
export async function recordTree(root: string): Promise<TreeRecord> {
  let skipped = 0;
  const found = await walk(root, () => skipped++);
  const entries = new Map<string, Entry>();
  const record: TreeRecord = { root, entries, files: 0, dirs: 0, symlinks: 0, bytes: 0, skipped: 0 };
  await eachLimited([...found], 4, async ([rel, { kind, size }]) => {
    let value: string;
    try {
      value = await valueOf(join(root, rel), kind);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') throw err;
      skipped++; // unreadable: neither tool can back it up
      return;
    }
    entries.set(rel, { kind, size, value });
    if (kind === 'file') {
      record.files++;
      record.bytes += size;
    } else if (kind === 'dir') record.dirs++;
    else record.symlinks++;
  });
  record.skipped = skipped;
  return record;
}

/** Checks the tree at `restored` against a record of its source. */
export async function compareTree(source: TreeRecord, restored: string): Promise<TreeDiff> {
  const diff: TreeDiff = { identical: false, checked: 0, missing: [], extra: [], differ: [] };
  try {
    await access(restored, constants.R_OK);
  } catch {
    diff.missing.push('(the whole tree: nothing at ' + restored + ')');
    return diff;
  }
  const found = await walk(restored, () => undefined);
  for (const rel of found.keys()) if (!source.entries.has(rel)) diff.extra.push(rel);
  const both: [string, Entry][] = [];
  for (const [rel, want] of source.entries) {
    const got = found.get(rel);
    if (!got) diff.missing.push(rel);
    else if (got.kind !== want.kind || got.size !== want.size) diff.differ.push(rel);
    else both.push([rel, want]);
  }
  await eachLimited(both, 4, async ([rel, want]) => {
    if ((await valueOf(join(restored, rel), want.kind)) !== want.value) diff.differ.push(rel);
    diff.checked++;
  });
  diff.identical = diff.missing.length === 0 && diff.extra.length === 0 && diff.differ.length === 0;
  return diff;
}

export function describeDiff(diff: TreeDiff): string {
  if (diff.identical) return `identical (${diff.checked} paths checked)`;
  const some = (list: string[]): string => list.slice(0, 3).join(', ') + (list.length > 3 ? ', …' : '');
  const parts: string[] = [];
  if (diff.missing.length) parts.push(`${diff.missing.length} missing (${some(diff.missing)})`);
  if (diff.extra.length) parts.push(`${diff.extra.length} extra (${some(diff.extra)})`);
  if (diff.differ.length) parts.push(`${diff.differ.length} differ (${some(diff.differ)})`);
  return `DIFFERS: ${parts.join('; ')}`;
}
