/**
 * `SimdCodec`: rs-vandermonde-gf256/1 computed by the WASM SIMD kernel of gf-simd-wasm.ts.
 *
 * Every operation is "output rows = M × input rows": encode takes the k data shards to the n-k
 * parity shards with the encoding matrix's parity rows; reconstruct takes the first k surviving
 * shards to the missing ones with (rows of the encoding matrix) × (inverse of the survivors' rows),
 * which gives the same bytes as rebuilding the data and re-encoding. The matrices come from
 * gf256-reference.ts, so only the multiply-accumulate is new code.
 *
 * Stripes are processed in blocks of up to MAX_BLOCK bytes per shard: a block of each input shard
 * is copied into WASM memory, the kernel runs, the output blocks are copied back. WASM memory is
 * fixed (gf-simd-wasm.ts MEMORY_PAGES) whatever the stripe size, so nothing grows or leaks.
 *
 * One WASM instance per thread (module state is per worker_thread), shared by every (k, n): calls are
 * synchronous, so they never interleave.
 */
import type { ErasureCodec } from './codec.js';
import { encodingMatrix, gfMul, invert } from './gf256-reference.js';
import { gfSimdModuleBytes, kernelExport, MAX_ROWS_PER_CALL, MEMORY_PAGES, STEP_BYTES } from './gf-simd-wasm.js';
import { assertShape, assertStripe, countPresent } from './shape.js';

/** The few pieces of the WebAssembly JS API used here (tsconfig's `lib` carries no WebAssembly types). */
interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<GfSimdModule>;
  Instance: new (module: GfSimdModule) => { readonly exports: object };
}
/** The compiled kernel module: opaque here, instantiated once per thread. */
export type GfSimdModule = object;
const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

type Kernel = (tables: number, inputs: number, outputs: number, cols: number, stride: number, len: number) => void;

/** Memory layout (1 MiB): coefficient tables first, then the input blocks, then the output blocks. */
const MEMORY_BYTES = MEMORY_PAGES * 65536;
/** 32 bytes per coefficient; the most coefficients a plan has is 127 × 128 (R + C <= 255): 520,192 bytes. */
const TABLE_BYTES = 512 << 10;
const BLOCK_AREA = TABLE_BYTES;
const BLOCK_AREA_BYTES = MEMORY_BYTES - BLOCK_AREA;
/** Bytes per shard per block at most; a multiple of STEP_BYTES. Blocks are also limited to the
 *  block area / (inputs + outputs), so a call's working set stays <= 512 KiB, inside a core's L2 cache.
 *  Measured with bench/erasure-bench.ts: 8 KiB to 128 KiB blocks (and 512 KiB to 1.5 MiB working sets)
 *  were alike within this machine's ~10% noise, but fewer blocks mean fewer JS calls per stripe. */
export const MAX_BLOCK = 64 << 10;
/** Decode plans kept per codec (one per pattern of present shards seen recently). */
const PLAN_CACHE_SIZE = 32;

/** A matrix product to run: outputs[r] = Σ_c rows[r][c] · inputs[c] (shard indices of the stripe). */
interface Plan {
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Table pairs in the order the kernel reads them: per group of rows, per column, per row. */
  readonly tables: Uint8Array;
}

/** The split-nibble table pair of `c`: lo[x] = c·x, hi[x] = c·(x << 4). */
function writeTablePair(c: number, out: Uint8Array, at: number): void {
  for (let x = 0; x < 16; x++) {
    out[at + x] = gfMul(c, x);
    out[at + 16 + x] = gfMul(c, x << 4);
  }
}

/** Groups of at most MAX_ROWS_PER_CALL rows: [first row, row count]. */
function rowGroups(rowCount: number): [number, number][] {
  const groups: [number, number][] = [];
  for (let first = 0; first < rowCount; first += MAX_ROWS_PER_CALL) {
    groups.push([first, Math.min(MAX_ROWS_PER_CALL, rowCount - first)]);
  }
  return groups;
}

function makePlan(inputs: readonly number[], outputs: readonly number[], rows: readonly Uint8Array[]): Plan {
  const cols = inputs.length;
  const tables = new Uint8Array(rows.length * cols * 32);
  for (const [first, count] of rowGroups(rows.length)) {
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < count; r++) writeTablePair(rows[first + r]![c]!, tables, (first * cols + c * count + r) * 32);
    }
  }
  if (tables.length > TABLE_BYTES) throw new RangeError(`erasure plan needs ${tables.length} bytes of tables`);
  return { inputs, outputs, tables };
}

/** This thread's WASM instance and the table set currently in its memory. */
class SimdKernel {
  private readonly memory: Uint8Array;
  private readonly kernels: Kernel[];
  private loadedTables: Uint8Array | undefined;

  constructor(module: GfSimdModule) {
    const exports = new WebAssembly.Instance(module).exports as Record<string, unknown>;
    this.memory = new Uint8Array((exports.memory as { buffer: ArrayBuffer }).buffer);
    this.kernels = Array.from({ length: MAX_ROWS_PER_CALL + 1 }, (_, rows) => exports[kernelExport(rows)] as Kernel);
  }

  /** Bytes of WASM linear memory: for tests that check it stays fixed. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Runs `plan` over every byte of the stripe's shards. */
  run(plan: Plan, stripe: Uint8Array, shardLen: number): void {
    const { inputs, outputs, tables } = plan;
    const mem = this.memory;
    if (this.loadedTables !== tables) {
      mem.set(tables, 0);
      this.loadedTables = tables;
    }
    const cols = inputs.length;
    // Block length: a multiple of STEP_BYTES, no longer than the shard needs, all blocks in memory.
    const fits = Math.floor(BLOCK_AREA_BYTES / (cols + outputs.length) / STEP_BYTES) * STEP_BYTES;
    const block = Math.min(MAX_BLOCK, fits, Math.ceil(shardLen / STEP_BYTES) * STEP_BYTES);
    const outBase = BLOCK_AREA + cols * block;
    const groups = rowGroups(outputs.length);
    for (let offset = 0; offset < shardLen; offset += block) {
      const len = Math.min(block, shardLen - offset);
      // The kernel runs over whole steps; lanes past `len` hold stale bytes and only reach output lanes past `len`.
      const stepped = Math.ceil(len / STEP_BYTES) * STEP_BYTES;
      for (let c = 0; c < cols; c++) {
        const from = inputs[c]! * shardLen + offset;
        mem.set(stripe.subarray(from, from + len), BLOCK_AREA + c * block);
      }
      for (const [first, count] of groups) {
        this.kernels[count]!(first * cols * 32, BLOCK_AREA, outBase + first * block, cols, block, stepped);
      }
      for (let r = 0; r < outputs.length; r++) {
        const from = outBase + r * block;
        stripe.set(mem.subarray(from, from + len), outputs[r]! * shardLen + offset);
      }
    }
  }
}

let compiled: Promise<GfSimdModule> | undefined;
let relaxed = false;
let kernel: SimdKernel | undefined;
let kernelModule: GfSimdModule | undefined;

/** Whether this thread's kernel uses `i8x16.relaxed_swizzle` (see gfSimdModuleBytes), once compiled. */
export function usesRelaxedSwizzle(): boolean {
  return relaxed;
}

/** Compiles the kernel module once per thread, with relaxed swizzles where the runtime has them;
 *  rejects where WebAssembly or its SIMD is unavailable. */
export function compileGfSimd(): Promise<GfSimdModule> {
  if (compiled === undefined) {
    if (WebAssembly === undefined) return Promise.reject(new Error('no WebAssembly in this runtime'));
    const relaxedBytes = gfSimdModuleBytes({ relaxedSwizzle: true });
    relaxed = WebAssembly.validate(relaxedBytes);
    compiled = WebAssembly.compile(relaxed ? relaxedBytes : gfSimdModuleBytes());
    compiled.catch(() => {
      compiled = undefined; // let a later call retry instead of caching the failure
    });
  }
  return compiled;
}

/** This thread's kernel instance for `module`, created on first use. */
export function simdKernel(module: GfSimdModule): SimdKernel {
  if (kernel === undefined || kernelModule !== module) {
    kernel = new SimdKernel(module);
    kernelModule = module;
  }
  return kernel;
}

export class SimdCodec implements ErasureCodec {
  private readonly matrix: Uint8Array[];
  private readonly encodePlan: Plan;
  /** Decode plans by pattern of present shards (and restoreParity), least recently used first. */
  private readonly plans = new Map<string, Plan>();

  constructor(
    readonly k: number,
    readonly n: number,
    private readonly module: GfSimdModule,
  ) {
    assertShape(k, n);
    this.matrix = encodingMatrix(k, n);
    const data = [...Array(k).keys()];
    const parity = Array.from({ length: n - k }, (_, i) => k + i);
    this.encodePlan = makePlan(data, parity, this.matrix.slice(k));
  }

  encode(stripe: Uint8Array, shardLen: number): void {
    assertStripe(stripe, shardLen, this.n);
    simdKernel(this.module).run(this.encodePlan, stripe, shardLen);
  }

  reconstruct(stripe: Uint8Array, shardLen: number, present: readonly boolean[], opts?: { restoreParity?: boolean }): void {
    assertStripe(stripe, shardLen, this.n);
    countPresent(present, this.k, this.n);
    const plan = this.decodePlan(present, opts?.restoreParity === true);
    if (plan.outputs.length > 0) simdKernel(this.module).run(plan, stripe, shardLen);
  }

  private decodePlan(present: readonly boolean[], restoreParity: boolean): Plan {
    const { k, n } = this;
    let key = restoreParity ? 'p' : 'd';
    for (let i = 0; i < n; i++) key += present[i] === true ? '1' : '0';
    const cached = this.plans.get(key);
    if (cached !== undefined) {
      this.plans.delete(key); // re-insert: most recently used last
      this.plans.set(key, cached);
      return cached;
    }
    const survivors = [...Array(n).keys()].filter((i) => present[i] === true).slice(0, k);
    const missing = [...Array(n).keys()].filter((i) => present[i] !== true && (i < k || restoreParity));
    let rows: Uint8Array[] = [];
    if (missing.length > 0) {
      // decode maps the survivors back to the data; each missing shard is its encoding row × decode.
      const allData = survivors[k - 1] === k - 1;
      const decode = allData ? undefined : invert(survivors.map((i) => this.matrix[i]!));
      rows = missing.map((i) => (decode === undefined ? this.matrix[i]! : rowTimes(this.matrix[i]!, decode)));
    }
    const plan = makePlan(survivors, missing, rows);
    this.plans.set(key, plan);
    if (this.plans.size > PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value!);
    return plan;
  }
}

/** row × matrix over GF(2^8). */
function rowTimes(row: Uint8Array, matrix: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(matrix[0]!.length);
  for (let i = 0; i < row.length; i++) {
    const factor = row[i]!;
    if (factor === 0) continue;
    const m = matrix[i]!;
    for (let c = 0; c < out.length; c++) out[c]! ^= gfMul(factor, m[c]!);
  }
  return out;
}
