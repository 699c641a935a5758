/**
 * CommonJS entry of the stripe worker threads. piscina loads its task file with require() first, and on
 * Node 20 require() of an ES module (stripe-worker.js) goes through require(esm), which intermittently
 * aborted the process (ModuleWrap::CreateRequiredModuleFacade assertion, seen once in ~500 runs). A CJS file
 * that import()s the ES module keeps workers on the ordinary ESM loader.
 */
import type { StripeJob } from './stripe-worker.js';

let handler: Promise<(job: StripeJob) => Promise<unknown>> | undefined;

export = async function runStripeJobEntry(job: StripeJob): Promise<unknown> {
  handler ??= import('./stripe-worker.js').then((m) => m.default);
  return (await handler)(job);
};
