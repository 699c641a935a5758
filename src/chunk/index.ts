/**
 * chunk/ — cutting byte streams into chunks. A chunk is the unit of encryption, erasure coding and
 * dedup. `fixedChunks` serves `raic put` (chunk i always starts at i × size). `cdcChunks` serves
 * `raic backup`: content-defined chunking (FastCDC, algorithm `CDC_ID`), where boundaries follow the
 * content, so an insertion or edit in a large file changes about one chunk instead of every one after it.
 */
export { fixedChunks, type ByteSource, type ReadIntoSource } from './fixed-chunker.js';
export { CDC_ID, DEFAULT_CDC, GearScanner, cdcChunks, checkCdcParams, findBoundary, type CdcParams } from './cdc.js';
