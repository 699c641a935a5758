/**
 * Runs on the worker threads (through file-writer-entry.cts and CodecPool.runModule): writes whole small files
 * for restore, each to a temp name, with its metadata, then renamed into place. File creation costs ~100 µs of
 * kernel time per file here; on the main thread that made it the bottleneck of restoring a tree of small files
 * while the workers sat idle, so the workers do it, several files per task.
 */
import { closeSync, lstatSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { writeAll } from '../file-io.js';
import { applyMetadata, type NodeMetadata } from '../tree/index.js';

export interface FileToWrite {
  /** Temp and final paths (bytes where a name is not UTF-8). */
  tmp: string | Uint8Array;
  path: string | Uint8Array;
  data: Uint8Array;
  /** Only what applyMetadata needs: the whole node (its content's entries) would be copied to the worker. */
  node: NodeMetadata;
}

export interface WriteFilesTask {
  files: FileToWrite[];
  /** Replacing existing files is allowed (never a directory). */
  overwrite: boolean;
}

/** Per file, in order: null when written, or why not (the temp file is removed then). */
export type WriteFilesResult = ({ code: string | undefined; message: string; directory?: true } | null)[];

const fsName = (p: string | Uint8Array): string | Buffer => (typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));

export default function writeFiles(task: WriteFilesTask): WriteFilesResult {
  return task.files.map((f) => {
    const tmp = fsName(f.tmp);
    const path = fsName(f.path);
    let fd: number | null = null;
    try {
      fd = openSync(tmp, 'wx', 0o600);
      writeAll(fd, f.data);
      closeSync(fd);
      fd = null;
      applyMetadata(tmp, f.node);
      if (task.overwrite && lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) {
        unlinkSync(tmp);
        return { code: undefined, message: 'is a directory', directory: true };
      }
      renameSync(tmp, path);
      return null;
    } catch (err) {
      discardTemp(fd, tmp);
      const e = err as NodeJS.ErrnoException;
      return { code: e.code, message: e.message };
    }
  });
}


/** After a failed write: closes the temp file if still open and removes it (never made, or already gone, is fine). */
export function discardTemp(fd: number | null, tmp: string | Buffer): void {
  if (fd !== null) closeSync(fd);
  try {
    unlinkSync(tmp);
  } catch {
    // never made, or already gone
  }
}
