/**
 * Reads and writes that loop until done: read and write may move fewer bytes than asked (a signal, a pipe, a
 * network filesystem). Below every layer, like errors.ts.
 */
import { readSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Bytes per write call. The kernel's copy into the page cache cost several times more per byte in large writes
 * than in 256 KiB ones (1.5 GiB into 12 MiB files from one buffer: 3.2 s of system time in 4 MiB writes, 0.55 s
 * in 256 KiB ones; a 1 GiB get to a file spent 4-5 s in system time writing 4 MiB chunks whole).
 */
export const WRITE_SLICE_BYTES = 256 * 1024;

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
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(WRITE_SLICE_BYTES, bytes.length - at), position === null ? null : position + at);
}

/** Writes all of `bytes` at the handle's current position. */
export async function appendAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, Math.min(WRITE_SLICE_BYTES, bytes.length - at))).bytesWritten;
}
