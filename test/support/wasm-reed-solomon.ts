/**
 * Test-only: the Rust `reed-solomon-erasure` crate compiled to WASM, as shipped in
 * `@subspace/reed-solomon-erasure.wasm` (a devDependency; we use its .wasm file, not its JS wrapper).
 * raic's run-time codec is src/erasure/simd-codec.ts; this crate is the independent implementation
 * the tests compare it with, byte for byte (`loadCrateCodec`).
 *
 * Why not the wrapper: the WASM `reconstruct` export takes ownership of its `shards_available`
 * buffer and frees it, and the wrapper frees it a second time. That corrupts the module's allocator
 * (wee_alloc): later reconstructs on the same instance fail with "too few shards present" or trap
 * with "memory access out of bounds". Here the flags buffer is allocated per call and left to the
 * WASM side to free; the shards buffer, which the WASM side only borrows, is ours and reused.
 *
 * Exports used (wasm-bindgen ABI of that build):
 *   encode(shardsPtr, shardsLen, dataShards, parityShards) -> result code (0 = ok)
 *   reconstruct(shardsPtr, shardsLen, dataShards, parityShards, flagsPtr, flagsLen) -> result code;
 *     flags are one byte per shard, exactly 1 = present; restores data shards only; frees flags.
 *   __wbindgen_malloc(size) -> ptr, __wbindgen_free(ptr, size), memory.
 * Both functions `unwrap()` the crate's constructor, so an invalid shape panics (a trap): callers
 * check shapes first (shape.ts).
 *
 * Memory: the crate allocates its matrices on every call, and wee_alloc does not always reuse the
 * freed blocks: for small shapes (n <= ~24) memory stays flat, but e.g. 128+255 grows ~400 KB per
 * call. WASM memory can only be given back by dropping the instance, so `withWasm` does that once
 * the heap passes HEAP_SLACK_BYTES beyond what the stripe buffer explains (instantiating costs
 * ~0.6 ms). That bounds memory for every shape without giving up WASM for any.
 *
 * One instance per thread (module-level state is per worker_thread), shared by every (k, n): calls
 * are synchronous, so they never interleave.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ErasureCodec } from '../../src/erasure/codec.js';
import { Gf256Reference } from '../../src/erasure/gf256-reference.js';
import { assertShape, assertStripe, countPresent } from '../../src/erasure/shape.js';
import { RaicError } from '../../src/errors.js';

/** The few pieces of the WebAssembly JS API used here (tsconfig's `lib` carries no WebAssembly types). */
interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule) => { readonly exports: object };
}
/** A compiled module: opaque here, instantiated once per thread. */
export type WasmModule = object;
const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface RsExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  encode(shardsPtr: number, shardsLen: number, dataShards: number, parityShards: number): number;
  reconstruct(
    shardsPtr: number,
    shardsLen: number,
    dataShards: number,
    parityShards: number,
    flagsPtr: number,
    flagsLen: number,
  ): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(ptr: number, size: number): void;
}

/** Result codes of the WASM build, for error messages. */
const RESULT_NAMES = [
  'ok',
  'too few shards',
  'too many shards',
  'too few data shards',
  'too many data shards',
  'too few parity shards',
  'too many parity shards',
  'too few buffer shards',
  'too many buffer shards',
  'incorrect shard size',
  'too few shards present',
  'empty shard',
  'invalid shard flags',
  'invalid index',
];

/** Callers check shapes and survivor counts first, so any non-zero result means a bug or a corrupted
 *  instance, never bad shards: not 'Integrity', which would send the caller looking for other shares. */
function check(result: number, what: string): void {
  if (result === 0) return;
  const name = RESULT_NAMES[result] ?? `code ${result}`;
  throw new RaicError('Permanent', `erasure ${what} failed in WASM: ${name}`);
}

/**
 * Largest stripe we place in WASM memory (wasm32 tops out at 4 GiB, and wee_alloc never returns
 * memory): bigger stripes go to the reference codec. Raic's stripes are one chunk (a few MiB).
 */
export const WASM_MAX_STRIPE_BYTES = 1 << 30;

/** Heap allowed beyond twice the stripe buffer (the buffer and the smaller ones it replaced). */
export const HEAP_SLACK_BYTES = 32 << 20;

/** Stripe buffer sizes are multiples of this (one WASM page). */
const PAGE = 64 << 10;

/** One WASM instance and its reusable stripe buffer. */
export class WasmReedSolomon {
  private readonly exports: RsExports;
  private view: Uint8Array;
  /** Our buffer in WASM memory, grown to the largest stripe seen; never freed by the WASM side. */
  private stripePtr = 0;
  private stripeCapacity = 0;

  constructor(module: WasmModule) {
    this.exports = new WebAssembly.Instance(module).exports as unknown as RsExports;
    this.view = new Uint8Array(this.exports.memory.buffer);
  }

  /** Bytes of WASM linear memory: for tests that check nothing leaks. */
  get memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** A view of WASM memory; growing memory (any malloc, in JS or inside the Rust code) detaches the old one. */
  private memory(): Uint8Array {
    if (this.view.buffer !== this.exports.memory.buffer) this.view = new Uint8Array(this.exports.memory.buffer);
    return this.view;
  }

  /** Bytes of WASM memory the heap may reach before the instance should be replaced. */
  get heapCeiling(): number {
    return 2 * this.stripeCapacity + HEAP_SLACK_BYTES;
  }

  /** Our stripe buffer, at least `bytes` long. It grows by >= 1.5x so that chunks of varying size
   *  cause few reallocations (each leaves a freed block wee_alloc may not reuse). */
  private reserve(bytes: number): number {
    if (bytes > this.stripeCapacity) {
      const wanted = Math.max(bytes, Math.floor(this.stripeCapacity * 1.5));
      const capacity = Math.ceil(wanted / PAGE) * PAGE;
      if (this.stripeCapacity > 0) this.exports.__wbindgen_free(this.stripePtr, this.stripeCapacity);
      this.stripeCapacity = 0;
      this.stripePtr = this.exports.__wbindgen_malloc(capacity);
      this.stripeCapacity = capacity;
    }
    return this.stripePtr;
  }

  /** See ErasureCodec.encode; arguments already checked. */
  encode(stripe: Uint8Array, shardLen: number, k: number, n: number): void {
    const total = n * shardLen;
    const dataLen = k * shardLen;
    const ptr = this.reserve(total);
    this.memory().set(stripe.subarray(0, dataLen), ptr);
    check(this.exports.encode(ptr, total, k, n - k), 'encode');
    stripe.set(this.memory().subarray(ptr + dataLen, ptr + total), dataLen);
  }

  /** See ErasureCodec.reconstruct; arguments already checked, at least k present. */
  reconstruct(
    stripe: Uint8Array,
    shardLen: number,
    k: number,
    n: number,
    present: readonly boolean[],
    restoreParity: boolean,
  ): void {
    let missingData = false;
    let missingParity = false;
    for (let i = 0; i < n; i++) {
      if (present[i] === true) continue;
      if (i < k) missingData = true;
      else missingParity = true;
    }
    restoreParity &&= missingParity;
    if (!missingData && !restoreParity) return;

    const total = n * shardLen;
    const ptr = this.reserve(total);
    // Allocate the flags before taking a memory view: malloc may grow (and detach) memory.
    const flagsPtr = missingData ? this.exports.__wbindgen_malloc(n) : 0;
    const mem = this.memory();
    for (let i = 0; i < n; i++) {
      const on = present[i] === true;
      if (missingData) mem[flagsPtr + i] = on ? 1 : 0;
      // Only survivors are read; parity is not needed when only parity is being restored.
      if (on && (missingData || i < k)) mem.set(stripe.subarray(i * shardLen, (i + 1) * shardLen), ptr + i * shardLen);
    }
    if (missingData) {
      // The WASM side frees flagsPtr: do not free it here (that double free is the wrapper's bug).
      check(this.exports.reconstruct(ptr, total, k, n - k, flagsPtr, n), 'reconstruct');
    }
    if (restoreParity) check(this.exports.encode(ptr, total, k, n - k), 'encode');
    const out = this.memory();
    for (let i = 0; i < n; i++) {
      if (present[i] === true || (i >= k && !restoreParity)) continue;
      stripe.set(out.subarray(ptr + i * shardLen, ptr + (i + 1) * shardLen), i * shardLen);
    }
  }
}

let compiled: Promise<WasmModule> | undefined;
let instance: WasmReedSolomon | undefined;
let instanceModule: WasmModule | undefined;

/** Compiles the .wasm file once per thread. */
export function compileWasm(): Promise<WasmModule> {
  if (compiled === undefined) {
    compiled = (async () => {
      const require = createRequire(import.meta.url);
      const path = require.resolve('@subspace/reed-solomon-erasure.wasm/dist/reed_solomon_erasure_bg.wasm');
      return WebAssembly.compile(await readFile(path));
    })();
    compiled.catch(() => {
      compiled = undefined; // let a later call retry instead of caching the failure
    });
  }
  return compiled;
}

/** This thread's instance, created on first use (or after the last one was dropped). */
export function wasmInstance(module: WasmModule): WasmReedSolomon {
  if (instance === undefined || instanceModule !== module) {
    instance = new WasmReedSolomon(module);
    instanceModule = module;
  }
  return instance;
}

/**
 * Runs `call` on this thread's instance. Drops the instance afterwards if its heap passed its ceiling,
 * or if the call failed (a trap or an unexpected result code: the allocator state can no longer be
 * trusted), so the next call starts clean. Failures surface as RaicError('Permanent').
 */
export function withWasm(module: WasmModule, call: (rs: WasmReedSolomon) => void): void {
  const rs = wasmInstance(module);
  try {
    call(rs);
  } catch (err) {
    instance = undefined;
    if (err instanceof RaicError) throw err;
    throw new RaicError('Permanent', `erasure codec failed inside WASM: ${String(err)}`, { cause: err });
  }
  if (rs.memoryBytes > rs.heapCeiling) instance = undefined;
}

/** The crate behind the ErasureCodec checks; falls back to the reference for stripes over `maxWasmStripe` bytes. */
export class WasmCodec implements ErasureCodec {
  private fallback: Gf256Reference | undefined;

  constructor(
    readonly k: number,
    readonly n: number,
    private readonly module: WasmModule,
    private readonly maxWasmStripe = WASM_MAX_STRIPE_BYTES,
  ) {
    assertShape(k, n);
  }

  encode(stripe: Uint8Array, shardLen: number): void {
    assertStripe(stripe, shardLen, this.n);
    if (stripe.length > this.maxWasmStripe) return this.reference().encode(stripe, shardLen);
    withWasm(this.module, (rs) => rs.encode(stripe, shardLen, this.k, this.n));
  }

  reconstruct(stripe: Uint8Array, shardLen: number, present: readonly boolean[], opts?: { restoreParity?: boolean }): void {
    assertStripe(stripe, shardLen, this.n);
    countPresent(present, this.k, this.n);
    const restoreParity = opts?.restoreParity === true;
    if (stripe.length > this.maxWasmStripe) return this.reference().reconstruct(stripe, shardLen, present, restoreParity);
    withWasm(this.module, (rs) => rs.reconstruct(stripe, shardLen, this.k, this.n, present, restoreParity));
  }

  private reference(): Gf256Reference {
    this.fallback ??= new Gf256Reference(this.k, this.n);
    return this.fallback;
  }
}

/** The crate's codec for (k, n), compiled once per thread. */
export async function loadCrateCodec(k: number, n: number): Promise<WasmCodec> {
  assertShape(k, n);
  return new WasmCodec(k, n, await compileWasm());
}
