/**
 * CommonJS entry of the codec worker threads. piscina loads its task file with require() first, and on
 * Node 20 require() of an ES module (codec-worker.js) goes through require(esm), which intermittently
 * aborted the process (ModuleWrap::CreateRequiredModuleFacade assertion, seen once in ~500 runs). A CJS file
 * that import()s the ES module keeps workers on the ordinary ESM loader.
 */
import type { CodecJob } from './codec-worker.js';

// The import starts as the thread does (piscina loads its task file then), but runs only while the thread's
// event loop does: piscina parks an idle thread in Atomics.wait, so it completes at the thread's first job.
// Awaiting it before the park (exporting the promise, which piscina awaits) was tried: over 50 ms links the
// first tree blob no longer waited ~50 ms for it, for no gain in wall time, while a one-file backup took 4%
// longer (both threads then load the codecs at start, where its one job needs one). A failure surfaces at the
// first job.
const handler: Promise<(job: CodecJob) => unknown> = import('./codec-worker.js').then((m) => m.default);
handler.catch(() => undefined);

export = async function runCodecJobEntry(job: CodecJob): Promise<unknown> {
  return (await handler)(job);
};
