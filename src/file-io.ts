/**
 * Synchronous positional reads and writes that loop until done: readSync and writeSync may move fewer bytes
 * than asked (a signal, a pipe, a network filesystem). Below every layer, like errors.ts.
 */
import { readSync, writeSync } from 'node:fs';

/** Reads into all of `into` from `position` of the file; returns how many bytes came (fewer only at its end). */
export function readFully(fd: number, into: Uint8Array, position: number): number {
  let got = 0;
  while (got < into.length) {
    const n = readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Writes all of `bytes` at `position` of the file, or at its current position when null. */
export function writeAll(fd: number, bytes: Uint8Array, position: number | null = null): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at, position === null ? null : position + at);
}
