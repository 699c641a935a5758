/**
 * erasure/: k-of-n Reed-Solomon over byte buffers. Pure functions over bytes: no I/O, no crypto.
 *
 * Terms:
 *   k       data shards per stripe; any k shards of a stripe rebuild it.
 *   n       total shards per stripe (k data + n-k parity); 1 <= k < n <= 255. Shard i goes to member i.
 *   shard   one of the n equal-length pieces of a stripe (`shardLen` bytes).
 *   stripe  n shards back to back in one buffer: shards 0..k-1 hold the (padded) data, k..n-1 parity.
 *   codec   the algorithm, named CODEC_ID in the array config: systematic Vandermonde Reed-Solomon
 *           over GF(2^8) (polynomial 0x11d), byte-identical to the Rust reed-solomon-erasure crate,
 *           Backblaze and klauspost. gf256-reference.ts is its readable definition.
 *
 * loadErasureCodec returns simd-codec.ts: a WebAssembly SIMD128 kernel emitted by gf-simd-wasm.ts
 * (split-nibble table lookups with i8x16.swizzle), ~10x faster than the Rust crate's WASM build
 * (4+2 encode 5.7 GB/s vs 0.58 GB/s per core), which raic ran before and now only tests against.
 * Where WebAssembly SIMD cannot compile, the TypeScript reference (load-codec.ts has the figures).
 */
export { CODEC_ID, type ErasureCodec } from './codec.js';
export { loadErasureCodec } from './load-codec.js';
export { shardLength } from './shape.js';
