/**
 * CommonJS entry of file-writer.ts on the worker threads: piscina require()s a task file first, and require()
 * of an ES module on Node 20 intermittently aborted the process (see store/codec-worker-entry.cts).
 */
import type { WriteFilesResult, WriteFilesTask } from './file-writer.js';

let handler: Promise<(task: WriteFilesTask) => WriteFilesResult> | undefined;

export = async function writeFilesEntry(task: WriteFilesTask): Promise<WriteFilesResult> {
  handler ??= import('./file-writer.js').then((m) => m.default);
  return (await handler)(task);
};
