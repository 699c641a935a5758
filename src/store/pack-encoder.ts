/**
 * PackEncoder: how a PackWriter has a closed pack body erasure-coded (encodePack), on this thread or, through
 * CodecPool.encodePack, on a worker. Data packs go to the workers: splitting, parity and hashing every region of
 * n/k × each body (1.5 GiB of SHA-256 for a 1 GiB put at 4+2) were the main thread's largest cost while the
 * workers waited. The body and the objects' memory move to the worker and back, never copied; `spare` is the
 * memory for the objects (a PackWriter gives n buffers large enough, so a worker allocates none), and what a pack
 * did not use comes back as `unused`.
 */
import { loadErasureCodec } from '../erasure/index.js';
import { encodePack, REGION_BYTES } from './pack-codec.js';

export interface EncodePackTask {
  /** The whole body (chunks, then the sealed trailer); its ArrayBuffer moves to the worker and back. */
  body: Uint8Array;
  id: Uint8Array;
  trailerBytes: number;
  k: number;
  n: number;
  /** Memory for the objects, given away by the caller. */
  spare: ArrayBuffer[];
}

export interface EncodePackResult {
  /** The task's body (the same memory, moved back). */
  body: Uint8Array;
  tableBytes: Uint8Array;
  /** Member i's object. */
  objects: Uint8Array[];
  /** The spare memory this pack did not need. */
  unused: ArrayBuffer[];
}

export type PackEncoder = (task: EncodePackTask) => Promise<EncodePackResult>;

/** Encodes on the calling thread (a worker runs this for CodecPool.encodePack). */
export async function encodePackTask(task: EncodePackTask): Promise<EncodePackResult> {
  const codec = await loadErasureCodec(task.k, task.n);
  const spare = [...task.spare];
  const coded = encodePack(task.body, codec, task.id, task.trailerBytes, REGION_BYTES, (bytes) => {
    const i = spare.findIndex((b) => b.byteLength >= bytes);
    return i < 0 ? Buffer.allocUnsafeSlow(bytes) : Buffer.from(spare.splice(i, 1)[0]!, 0, bytes);
  });
  return { body: task.body, tableBytes: coded.tableBytes, objects: coded.objects, unused: spare };
}
