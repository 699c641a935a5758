/**
 * chunk/ — cutting byte streams into chunks. A chunk is the unit of encryption, erasure coding and
 * dedup. `fixedChunks` serves `raic put`; content-defined chunking for snapshots comes with `raic backup`.
 */
export { fixedChunks } from './fixed-chunker.js';
