/**
 * CommonJS entry of the codec worker threads. piscina loads its task file with require() first, and on
 * Node 20 require() of an ES module (codec-worker.js) goes through require(esm), which intermittently
 * aborted the process (ModuleWrap::CreateRequiredModuleFacade assertion, seen once in ~500 runs). A CJS file
 * that import()s the ES module keeps workers on the ordinary ESM loader.
 */
import type { CodecJob } from './codec-worker.js';

let handler: Promise<(job: CodecJob) => unknown> | undefined;

export = async function runCodecJobEntry(job: CodecJob): Promise<unknown> {
  handler ??= import('./codec-worker.js').then((m) => m.default);
  return (await handler)(job);
};
