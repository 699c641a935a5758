/**
 * Erasure codec throughput: MB/s (10^6 bytes) of *data* (k shards) per second, 1 MiB shards, one
 * core: the SIMD codec raic runs (src/erasure/simd-codec.ts) vs the reed-solomon-erasure crate's WASM
 * build it replaced (test/support/wasm-reed-solomon.ts), and the TypeScript reference with --reference.
 * Reconstruct loses two data shards (one if the shape has one parity shard).
 *
 * Two figures per cell: wall-clock, and per CPU-second of this process (less distorted when other
 * jobs share the machine). Each is the median of 5 runs of >= 300 ms.
 *
 * Run: npx tsc -p . && node dist/bench/erasure-bench.js [--reference]
 */
import { randomFillSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { loadErasureCodec, type ErasureCodec } from '../src/erasure/index.js';
import { ReferenceCodec } from '../src/erasure/load-codec.js';
import { usesRelaxedSwizzle } from '../src/erasure/simd-codec.js';
import { loadCrateCodec } from '../test/support/wasm-reed-solomon.js';

const SHARD = 1 << 20;
const SHAPES: [number, number][] = [
  [4, 6],
  [10, 14],
  [3, 10],
];
const RUNS = 5;
const MIN_RUN_MS = 300;

interface Rate {
  wall: number;
  cpu: number;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median MB/s of `op`, which processes `bytes` of data per call. */
function measure(bytes: number, op: () => void): Rate {
  op(); // warm up: compile, tier up, size the WASM buffer
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let calls = 0;
    do {
      op();
      calls++;
    } while (performance.now() - t0 < MIN_RUN_MS || calls < 3);
    const seconds = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu0);
    wall.push((calls * bytes) / 1e6 / seconds);
    cpu.push((calls * bytes) / 1e6 / ((used.user + used.system) / 1e6));
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function benchCodec(codec: ErasureCodec): { encode: Rate; reconstruct: Rate } {
  const { k, n } = codec;
  const stripe = new Uint8Array(n * SHARD);
  randomFillSync(stripe.subarray(0, k * SHARD));
  const encode = measure(k * SHARD, () => codec.encode(stripe, SHARD));

  const lost = Math.min(2, n - k);
  const present = Array.from({ length: n }, (_, i) => i >= lost);
  const damaged = stripe.slice();
  damaged.fill(0, 0, lost * SHARD);
  // Present shards are never written, so repeating the rebuild on one buffer is a fair loop.
  const reconstruct = measure(k * SHARD, () => codec.reconstruct(damaged, SHARD, present));
  if (Buffer.compare(damaged, stripe) !== 0) throw new Error(`${k}+${n - k}: reconstruct gave wrong bytes`);
  return { encode, reconstruct };
}

const fmt = (r: Rate) => `${r.wall.toFixed(0).padStart(5)} (${r.cpu.toFixed(0).padStart(5)})`;

console.log(`erasure codec, 1 MiB shards, MB/s of data: wall (per CPU-second); load average ${loadavg()[0]!.toFixed(1)}`);
console.log('shape  codec      encode         reconstruct (2 data shards lost)');
for (const [k, n] of SHAPES) {
  const codecs: [string, ErasureCodec][] = [
    ['simd', await loadErasureCodec(k, n)],
    ['crate', await loadCrateCodec(k, n)],
  ];
  if (process.argv.includes('--reference')) codecs.push(['reference', new ReferenceCodec(k, n)]);
  for (const [name, codec] of codecs) {
    const r = benchCodec(codec);
    console.log(`${`${k}+${n - k}`.padEnd(6)} ${name.padEnd(10)} ${fmt(r.encode)}   ${fmt(r.reconstruct)}`);
  }
}
console.log(`simd kernel swizzle: ${usesRelaxedSwizzle() ? 'relaxed' : 'standard'}; load average after: ${loadavg()[0]!.toFixed(1)}`);
