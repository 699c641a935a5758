/**
 * Child process body for simd-codec.test.ts (not a test itself): on runtimes where relaxed SIMD needs
 * a flag (Node 20: --experimental-wasm-relaxed-simd), the test runs this with the flag. Checks the
 * relaxed-swizzle kernel against the reference and that loadErasureCodec picks it; prints JSON.
 */
import { gfSimdModuleBytes } from '../../../src/erasure/gf-simd-wasm.js';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { usesRelaxedSwizzle } from '../../../src/erasure/simd-codec.js';
import { checkKernel, wasmApi } from './kernel-check.js';

const checked = checkKernel(await wasmApi.compile(gfSimdModuleBytes({ relaxedSwizzle: true })));
await loadErasureCodec(4, 6);
console.log(JSON.stringify({ checked, picked: usesRelaxedSwizzle() }));
