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
 * loadErasureCodec runs the Rust crate compiled to WASM (wasm-reed-solomon.ts) and falls back to the
 * TypeScript reference where WASM cannot serve (load-codec.ts says which cases).
 */
export { CODEC_ID, type ErasureCodec } from './codec.js';
export { loadErasureCodec } from './load-codec.js';
export { shardLength } from './shape.js';
