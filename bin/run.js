#!/usr/bin/env -S node --max-semi-space-size=2 --max-old-space-size=1536
// Entry point for the `raic` command: hands argv to oclif, which loads dist/src/commands.
// --max-semi-space-size=2: the main thread's garbage is short-lived and its buffers off-heap; V8's default
// young generation (up to 48 MB) held ~30-40 MB of peak RSS for nothing (measured on a /usr/share backup
// and restore, at no cost in time).
// --max-old-space-size=1536: below 2 GiB V8 lets the old generation grow to ~1.8× what survived its last full
// collection instead of 4× (heap-controller's growing factor scales with the heap limit), so the walk's
// promoted garbage and dead off-heap pack buffers are freed sooner: a /usr/share backup's peak RSS 320-330 ->
// ~265 MB at the same CPU time. The index costs ~100 bytes a chunk, so 1.5 GiB still holds ~10 M chunks.

// The AWS SDK warns on Node 20 about its *future* releases; raic's SDK version is pinned by its
// lockfile, so the warning is noise on every run for users (and breaks "one clear line" errors).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// oclif checks on every start that Node satisfies *its own* engines range, loading semver to do so (~25 ms of
// each run's startup, on the critical path of every command); raic's package.json states the Node it needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= 'true';
// File I/O runs on libuv's thread pool (4 threads by default); pack writes to n members with fsync, plus
// file reads, would queue behind each other. Must be set before the first fs call.
process.env.UV_THREADPOOL_SIZE ??= '16';

const { Config, execute } = await import('@oclif/core');
// oclif's config sorts the command ids with localeCompare, and the first such call maps ICU's collation data from
// the node binary: ~3 MB more resident memory in every run (a one-file backup's peak RSS 131.7 -> 128.7 MB, /usr/bin/time;
// nothing else of raic's startup needs ICU). The ids are lowercase ASCII, ':' and '-', which code-point order sorts
// the same way; the builtin is back before any command runs. (execute loads the config again from this one, reusing its
// plugins: ~1 ms, and no second sort.)
const localeCompare = String.prototype.localeCompare;
String.prototype.localeCompare = function (that) {
  return this < that ? -1 : this > that ? 1 : 0;
};
let config;
try {
  config = await Config.load(import.meta.url);
} finally {
  String.prototype.localeCompare = localeCompare;
}
await execute({ loadOptions: config });
