/**
 * `loadErasureCodec(k, n)`: the WASM SIMD codec (simd-codec.ts), or the TypeScript reference where
 * WebAssembly SIMD cannot compile (a runtime without WebAssembly or without its SIMD128 feature).
 *
 * Why our own kernel rather than the Rust `reed-solomon-erasure` crate's WASM build, which raic used
 * before: the crate has no WASM SIMD and was the largest single cost of a backup's worker threads.
 * Measured with bench/erasure-bench.ts (Node 20, 1 MiB shards, MB/s of data per CPU-second, one
 * thread; reconstruct with 2 data shards lost), SIMD vs crate:
 *   4+2   encode 5755 vs 580, reconstruct 5202 vs 580
 *   10+4  encode 2737 vs 295, reconstruct 5306 vs 513
 * The bytes are the same: tests compare the SIMD codec, the crate (now a devDependency,
 * test/support/wasm-reed-solomon.ts) and the reference on many shapes and lengths. The SIMD codec
 * works in fixed-size WASM memory (1 MiB), so every stripe size and shape goes to it: no 1 GiB cap,
 * no allocator to recycle, unlike the crate.
 */
import type { ErasureCodec } from './codec.js';
import { Gf256Reference } from './gf256-reference.js';
import { assertShape, assertStripe, countPresent } from './shape.js';
import { compileGfSimd, type GfSimdModule, SimdCodec } from './simd-codec.js';

/** The reference encoder/decoder behind the ErasureCodec checks. */
export class ReferenceCodec implements ErasureCodec {
  private readonly rs: Gf256Reference;

  constructor(
    readonly k: number,
    readonly n: number,
  ) {
    assertShape(k, n);
    this.rs = new Gf256Reference(k, n);
  }

  encode(stripe: Uint8Array, shardLen: number): void {
    assertStripe(stripe, shardLen, this.n);
    this.rs.encode(stripe, shardLen);
  }

  reconstruct(stripe: Uint8Array, shardLen: number, present: readonly boolean[], opts?: { restoreParity?: boolean }): void {
    assertStripe(stripe, shardLen, this.n);
    countPresent(present, this.k, this.n);
    this.rs.reconstruct(stripe, shardLen, present, opts?.restoreParity === true);
  }
}

/** This thread's codecs by shape: callers ask once per stripe, and a codec keeps its matrices and
 *  decode plans. An array has one shape, so a few entries are plenty. */
const codecs = new Map<string, ErasureCodec>();
const CODEC_CACHE_SIZE = 8;

/** Compiles (once per thread, cached) the SIMD kernel and returns this thread's codec for (k, n).
 *  Throws RaicError('Usage') for invalid k/n. Works inside worker_threads (each worker has its own
 *  instance). */
export async function loadErasureCodec(k: number, n: number): Promise<ErasureCodec> {
  assertShape(k, n);
  const key = `${k}/${n}`;
  const cached = codecs.get(key);
  if (cached !== undefined) return cached;
  let module: GfSimdModule | undefined;
  try {
    module = await compileGfSimd();
  } catch {
    module = undefined;
  }
  const codec = codecs.get(key) ?? (module === undefined ? new ReferenceCodec(k, n) : new SimdCodec(k, n, module));
  codecs.set(key, codec);
  if (codecs.size > CODEC_CACHE_SIZE) codecs.delete(codecs.keys().next().value!);
  return codec;
}
