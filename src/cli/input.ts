/** Opens what `raic put` reads: a regular file (checked up front, so errors are clear) or stdin for "-". */
import { open } from 'node:fs/promises';
import type { ByteSource } from '../chunk/index.js';
import { RaicError } from '../errors.js';

export interface PutInput {
  source: ByteSource;
  /** Closes the file (stdin is left open). */
  close(): Promise<void>;
}

export async function openInput(path: string): Promise<PutInput> {
  if (path === '-') return { source: process.stdin, close: async () => undefined };
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
    throw new RaicError('Usage', `cannot read ${path}: ${why}`);
  }
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    throw new RaicError('Usage', `${path} is a directory; put stores one file (use - to read stdin)`);
  }
  const file = fh;
  // The file is read into the chunks themselves (fixedChunks), at its current position.
  return { source: { readInto: async (into) => (await file.read(into, 0, into.length, null)).bytesRead }, close: () => file.close() };
}
