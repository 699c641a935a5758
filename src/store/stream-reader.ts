/** Reading a stored stream back: whole (small blobs: trees, records) — file contents go through windowed readers. */
import { asBuffer } from '../bytes.js';
import { RaicError } from '../errors.js';
import { walkStream, type StreamRef } from './manifest.js';
import type { ChunkReader } from './chunk-reader.js';

export function pageLoader(reader: ChunkReader): (page: Parameters<ChunkReader['read']>[0]) => Promise<Buffer> {
  return async (page) => asBuffer(await reader.read(page));
}

/** The whole stream in memory; refuses streams larger than `maxBytes` (a damaged or hostile ref). */
export async function readStreamBytes(reader: ChunkReader, ref: StreamRef, maxBytes = 256 * 1024 * 1024): Promise<Buffer> {
  if (ref.size > maxBytes) throw new RaicError('Integrity', `a ${ref.size}-byte blob is larger than expected (${maxBytes})`);
  const out = Buffer.allocUnsafe(ref.size);
  let at = 0;
  for await (const entry of walkStream(ref, pageLoader(reader))) {
    const bytes = await reader.read(entry);
    if (at + bytes.length > out.length) throw new RaicError('Integrity', 'a stream is longer than its reference says');
    out.set(bytes, at);
    at += bytes.length;
    reader.recycle(bytes);
  }
  if (at !== ref.size) throw new RaicError('Integrity', `a stream has ${at} bytes, its reference says ${ref.size}`);
  return out;
}
