/**
 * CommonJS entry of the codec worker threads. piscina loads its task file with require() first, and on
 * Node 20 require() of an ES module (codec-worker.js) goes through require(esm), which intermittently
 * aborted the process (ModuleWrap::CreateRequiredModuleFacade assertion, seen once in ~500 runs). A CJS file
 * that import()s the ES module keeps workers on the ordinary ESM loader.
 */
import type { CodecJob } from './codec-worker.js';

// Loaded as the thread starts (piscina loads its task file then), not at the first job: a short command that
// starts its workers early (RaicArray.startWorkers) finds them ready. A failure surfaces at the first job.
const handler: Promise<(job: CodecJob) => unknown> = import('./codec-worker.js').then((m) => m.default);
handler.catch(() => undefined);

export = async function runCodecJobEntry(job: CodecJob): Promise<unknown> {
  return (await handler)(job);
};
