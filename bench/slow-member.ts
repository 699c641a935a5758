/**
 * One member 10× slower than the others: how much longer does a get take? Every request to the slow
 * member is delayed by 9× its own duration (so it takes 10× as long), in process, on local members.
 * Hedged reads should keep the slowdown small (target ≤ 1.3×).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { openConfiguredArray } from '../src/core/open-array.js';
import { getToStream } from '../src/core/get.js';
import { parseCapability } from '../src/store/index.js';
import { withRetry, type Provider } from '../src/providers/index.js';

function tenTimesSlower(p: Provider): Provider {
  const slow = async <T>(op: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await op();
    await sleep(9 * (performance.now() - t0));
    return out;
  };
  return {
    displayUrl: p.displayUrl,
    // Its pause after each call moves no bytes: withRetry must not judge it by progress.
    capabilities: { conditionalPut: p.capabilities.conditionalPut },
    prepare: () => p.prepare(),
    put: (k, b, o) => slow(() => p.put(k, b, o)),
    get: (k, r, o) => slow(() => p.get(k, r, o)),
    head: (k, o) => slow(() => p.head(k, o)),
    list: (prefix, o) => p.list(prefix, o),
    delete: (k, o) => p.delete(k, o),
    close: () => p.close(),
  };
}

export async function slowMemberBench(raicBin: string, base: string, sizeMiB: number): Promise<{ fast: number; slow: number }> {
  const dir = await mkdtemp(join(base, 'raic-slow-'));
  try {
    const members = Array.from({ length: 6 }, (_, i) => join(dir, `m${i}`));
    for (const m of members) await mkdir(m);
    const env = { ...process.env, RAIC_CONFIG: join(dir, 'config.json'), RAIC_PASSWORD: 'bench', RAIC_KDF_FAST: '1' };
    const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [raicBin, ...args], { env, input, maxBuffer: 1 << 20 });
    // (the put reads its input from `input`; a capability line is all that comes back)
    if (run(['init', '--k', '4', ...members.map((m) => `file://${m}`)]).status !== 0) throw new Error('init failed');
    const dd = spawnSync('head', ['-c', String(sizeMiB * 1024 * 1024), '/dev/urandom'], { maxBuffer: sizeMiB * 1024 * 1024 + 1 });
    const put = run(['put', '-'], dd.stdout);
    if (put.status !== 0) throw new Error(`put failed: ${put.stderr.toString()}`);
    const cap = parseCapability(put.stdout.toString().trim());
    const timeGet = async (slowUrl: string | null): Promise<number> => {
      const array = await openConfiguredArray({
        configPath: env.RAIC_CONFIG,
        wrap: (p) => withRetry(slowUrl !== null && p.displayUrl === slowUrl ? tenTimesSlower(p) : p),
      });
      try {
        const sink = new Writable({ write: (_c, _e, cb) => cb() });
        const t0 = performance.now();
        await getToStream(array, cap, sink);
        return (performance.now() - t0) / 1000;
      } finally {
        await array.close();
      }
    };
    await timeGet(null); // warm the page cache
    const fast = Math.min(await timeGet(null), await timeGet(null));
    const slowUrl = `file://${members[0]}`; // a data-share member: the one a naive reader always asks
    const slow = Math.min(await timeGet(slowUrl), await timeGet(slowUrl));
    return { fast, slow };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
