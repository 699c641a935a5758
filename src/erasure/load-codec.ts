/**
 * `loadErasureCodec(k, n)`: the WASM codec, or the TypeScript reference where WASM cannot serve.
 *
 * Which shapes go where:
 *   - every (k, n) with 1 <= k < n <= 255 → WASM. The crate accepts any k >= 1, n - k >= 1,
 *     n <= 256 — k = 1, parity-heavy shapes (3+7, 1+254) and n = 255 included — and its parity
 *     equals the reference's: checked once on 4,732 shapes (every n <= 20, every k <= 3 or
 *     n - k <= 3, every n >= 250, …) and re-checked by test/unit/erasure/wasm-vs-reference.test.ts;
 *   - stripes larger than WASM_MAX_STRIPE_BYTES (1 GiB) → reference, call by call, because wasm32
 *     memory is capped at 4 GiB and the WASM allocator never gives memory back;
 *   - if the .wasm file cannot be compiled at all (missing, or a runtime without WebAssembly) →
 *     reference for every shape.
 * The two produce the same bytes, so the choice never shows in the format.
 */
import type { ErasureCodec } from './codec.js';
import { Gf256Reference } from './gf256-reference.js';
import { assertShape, assertStripe, countPresent } from './shape.js';
import { compileWasm, WASM_MAX_STRIPE_BYTES, type WasmModule, withWasm } from './wasm-reed-solomon.js';

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

/** The WASM codec; falls back to the reference for stripes over `maxWasmStripe` bytes. */
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

/** Loads (once per thread, cached) the WASM module and returns a codec for (k, n). Throws
 *  RaicError('Usage') for invalid k/n. Works inside worker_threads (each worker has its own instance). */
export async function loadErasureCodec(k: number, n: number): Promise<ErasureCodec> {
  assertShape(k, n);
  let module: WasmModule;
  try {
    module = await compileWasm();
  } catch {
    return new ReferenceCodec(k, n);
  }
  return new WasmCodec(k, n, module);
}
