/**
 * Shared by simd-codec.test.ts and relaxed-swizzle-child.ts (not a test itself): runs a SimdCodec on a
 * given compiled kernel module against the reference, encode and rebuild, over shapes whose row
 * counts use every kernel export (1..4 rows, and groups of them) and lengths around the step size.
 */
import { ReferenceCodec } from '../../../src/erasure/load-codec.js';
import { type GfSimdModule, SimdCodec } from '../../../src/erasure/simd-codec.js';
import { damage, randomStripe } from './stripe-helpers.js';

/** The WebAssembly JS API pieces the tests use (tsconfig's `lib` has no WebAssembly types). */
export const wasmApi = (
  globalThis as unknown as {
    WebAssembly: { validate(bytes: Uint8Array): boolean; compile(bytes: Uint8Array): Promise<GfSimdModule> };
  }
).WebAssembly;

const SHAPES: [number, number][] = [
  [1, 2],
  [4, 6],
  [3, 6],
  [5, 9],
  [3, 10],
  [10, 14],
  [20, 40],
];
const LENGTHS = [1, 31, 32, 33, 40_000];

/** Throws on the first difference; returns how many stripes were compared. */
export function checkKernel(module: GfSimdModule): number {
  let checked = 0;
  for (const [k, n] of SHAPES) {
    const simd = new SimdCodec(k, n, module);
    const reference = new ReferenceCodec(k, n);
    for (const shardLen of LENGTHS) {
      const where = `${k}-of-${n}, ${shardLen} B`;
      const expected = randomStripe(k, n, shardLen);
      const actual = expected.slice();
      reference.encode(expected, shardLen);
      simd.encode(actual, shardLen);
      if (!Buffer.from(actual).equals(expected)) throw new Error(`encode differs, ${where}`);
      const survivors = Array.from({ length: k }, (_, i) => n - k + i); // lose the first n-k shards
      const { damaged, present } = damage(expected, n, shardLen, survivors);
      simd.reconstruct(damaged, shardLen, present, { restoreParity: true });
      if (!Buffer.from(damaged).equals(expected)) throw new Error(`rebuild differs, ${where}`);
      checked++;
    }
  }
  return checked;
}

export const KERNEL_CHECKS = SHAPES.length * LENGTHS.length;
