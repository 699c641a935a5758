/**
 * Chunker throughput: MB/s (10^6 bytes) over 512 MiB of random data held in memory, one core.
 *
 * - `cdcChunks` as `raic backup` uses it: pieces of 1 MiB (and 64 KiB, fs.createReadStream's default),
 *   each chunk copied into a pooled buffer that is released at once (as put.ts does after the workers).
 * - `GearScanner` alone: boundaries only, no copy (the pure cost of the hash loop).
 * - `fixedChunks` 1 MiB: the copy alone, for reference.
 * - npm chunkers compared when they can be loaded (boundaries only, same min/avg/max where they take
 *   them). They are not dependencies of raic: install them in a scratch directory and point
 *   RAIC_CHUNK_BENCH_MODULES at it, e.g. `npm install --prefix /tmp/cdc @dstanesc/wasm-chunking-fastcdc-node
 *   rabin-native rabin-wasm` then `RAIC_CHUNK_BENCH_MODULES=/tmp/cdc node dist/bench/chunk-bench.js`.
 *
 * Two figures per line: wall-clock, and per CPU-second of this process (less distorted when other jobs
 * share the machine); medians of 5 runs. RAIC_CHUNK_BENCH_MB sets the data size (default 512 MiB).
 *
 * Run: npx tsc -p . && node dist/bench/chunk-bench.js
 */
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { CDC_ID, DEFAULT_CDC, GearScanner, cdcChunks, fixedChunks } from '../src/chunk/index.js';
import { BufferPool } from '../src/store/buffer-pool.js';

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.RAIC_CHUNK_BENCH_MB ?? 512) * MiB;
const RUNS = 5;
const { minSize, avgSize, maxSize } = DEFAULT_CDC;

interface Result {
  wall: number;
  cpu: number;
  chunks: number;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Median MB/s of `op` over TOTAL bytes; `op` returns the number of chunks it cut. */
async function measure(op: () => number | Promise<number>): Promise<Result> {
  let chunks = await op(); // warm up: compile and tier up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    chunks = await op();
    const seconds = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu0);
    wall.push(TOTAL / 1e6 / seconds);
    cpu.push(TOTAL / 1e6 / ((used.user + used.system) / 1e6));
  }
  return { wall: median(wall), cpu: median(cpu), chunks };
}

async function* pieces(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

/** Runs a chunk generator to the end, recycling every chunk's buffer at once. */
async function drain(chunks: AsyncGenerator<Buffer>, pool: BufferPool): Promise<number> {
  let count = 0;
  for await (const chunk of chunks) {
    pool.release(chunk.buffer);
    count++;
  }
  return count;
}

function report(name: string, r: Result): void {
  const mean = r.chunks > 0 ? (TOTAL / r.chunks / MiB).toFixed(2) : '-';
  console.log(`${name.padEnd(72)} ${r.wall.toFixed(0).padStart(6)} ${r.cpu.toFixed(0).padStart(8)} ${String(r.chunks).padStart(7)} ${mean.padStart(9)}`);
}

/** The compared npm chunkers, each reduced to "count the chunks of `data`". */
type Candidate = (data: Uint8Array) => number;

interface FastCdcWasm {
  compute_chunks(source: Uint8Array, min: number, avg: number, max: number): Uint32Array;
}
interface RabinNative {
  Chunker: new (opts: { minSize: number; maxSize: number }) => {
    push(data: Uint8Array): Iterable<{ length: number; offset: number }>;
    end(): { length: number; offset: number } | null;
  };
}
interface RabinWasm {
  create(bits: number, min: number, max: number, window: number): Promise<{ fingerprint(buf: Uint8Array): ArrayLike<number> }>;
}

async function loadCandidates(): Promise<[string, Candidate][]> {
  const dir = resolve(process.env.RAIC_CHUNK_BENCH_MODULES ?? process.cwd());
  const req = createRequire(join(dir, 'noop.js'));
  const load = <T>(name: string): T | undefined => {
    try {
      return req(name) as T;
    } catch {
      console.log(`(${name}: not found from ${dir}; skipped)`);
      return undefined;
    }
  };
  const found: [string, Candidate][] = [];
  const window = 16 * MiB; // one-shot APIs copy their input into WASM memory: feed them windows
  const fastcdc = load<FastCdcWasm>('@dstanesc/wasm-chunking-fastcdc-node');
  if (fastcdc) {
    found.push([
      '@dstanesc/wasm-chunking-fastcdc-node (fastcdc-rs, WASM), 16 MiB windows',
      (data) => {
        let count = 0;
        for (let at = 0; at < data.length; at += window) count += fastcdc.compute_chunks(data.subarray(at, at + window), minSize, avgSize, maxSize).length;
        return count;
      },
    ]);
  }
  const rabinNative = load<RabinNative>('rabin-native');
  if (rabinNative) {
    found.push([
      'rabin-native (librabin, N-API), 1 MiB pieces',
      (data) => {
        const chunker = new rabinNative.Chunker({ minSize, maxSize });
        let count = 0;
        for (let at = 0; at < data.length; at += MiB) for (const _ of chunker.push(data.subarray(at, at + MiB))) count++;
        return count + (chunker.end() ? 1 : 0);
      },
    ]);
  }
  const rabinWasm = load<RabinWasm>('rabin-wasm');
  if (rabinWasm) {
    const rabin = await rabinWasm.create(Math.log2(avgSize), minSize, maxSize, 64);
    found.push([
      'rabin-wasm (AssemblyScript), 16 MiB windows',
      (data) => {
        let count = 0;
        for (let at = 0; at < data.length; at += window) count += rabin.fingerprint(data.subarray(at, at + window)).length;
        return count;
      },
    ]);
  }
  return found;
}

async function main(): Promise<void> {
  const data = new Uint8Array(TOTAL);
  for (let at = 0; at < TOTAL; at += 64 * MiB) randomFillSync(data, at, Math.min(64 * MiB, TOTAL - at));
  const pool = new BufferPool(maxSize);
  console.log(`${CDC_ID} ${JSON.stringify(DEFAULT_CDC)}; ${TOTAL / MiB} MiB random; node ${process.version}; load ${loadavg()[0]!.toFixed(1)}`);
  console.log(`${'chunker'.padEnd(72)} ${'wall'.padStart(6)} ${'cpu MB/s'.padStart(8)} ${'chunks'.padStart(7)} ${'mean MiB'.padStart(9)}`);

  report(
    'GearScanner.scan (boundaries only)',
    await measure(() => {
      const scanner = new GearScanner(DEFAULT_CDC);
      let count = 0;
      for (let at = 0; at < data.length; ) {
        const cut = scanner.scan(data, at, data.length);
        count++;
        if (cut < 0) break;
        at = cut;
      }
      return count;
    }),
  );
  report('cdcChunks, 1 MiB pieces, pooled buffers', await measure(() => drain(cdcChunks(pieces(data, MiB), DEFAULT_CDC, () => pool.take()), pool)));
  report('cdcChunks, 64 KiB pieces, pooled buffers', await measure(() => drain(cdcChunks(pieces(data, 64 * 1024), DEFAULT_CDC, () => pool.take()), pool)));
  report('fixedChunks 1 MiB, 1 MiB pieces (copy only)', await measure(() => drain(fixedChunks(pieces(data, MiB), MiB, () => pool.take()), pool)));
  for (const [name, candidate] of await loadCandidates()) report(name, await measure(() => candidate(data)));
}

await main();
