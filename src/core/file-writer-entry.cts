/**
 * CommonJS entry of file-writer.ts on the worker threads: piscina require()s a task file first, and require()
 * of an ES module on Node 20 intermittently aborted the process (see store/codec-worker-entry.cts).
 */
import type { WriteFilesResult, WriteFilesTask } from './file-writer.js';
import type { PlaceBatchTask } from '../store/chunk-reader.js';

let writer: Promise<typeof import('./file-writer.js')> | undefined;

/** writeFiles for a WriteFilesTask, placeFiles for a PlaceBatchTask (restore's placer). */
export = async function writeFilesEntry(task: WriteFilesTask | PlaceBatchTask): Promise<WriteFilesResult | unknown> {
  writer ??= import('./file-writer.js');
  const m = await writer;
  return 'files' in task ? m.default(task) : m.placeFiles(task);
};
