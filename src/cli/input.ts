/** Opens what `raic put` reads: a regular file (checked up front, so errors are clear) or stdin for "-". */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { RaicError } from '../errors.js';

export async function openInput(path: string): Promise<AsyncIterable<Uint8Array>> {
  if (path === '-') return process.stdin;
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
  return createReadStream('', { fd: fh, highWaterMark: 1024 * 1024 });
}
