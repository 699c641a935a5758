/** Worker-thread side of the codec pool: seals and opens chunks and encodes packs off the main thread, moving buffers back. */
import { sealFileBatch, sealFileSegment, type FileBatchTask, type SegmentTask } from './file-segment.js';
import { isRaicError } from '../errors.js';
import { openChunk, openChunkBatch, sealChunk, type OpenBatchTask, type OpenTask, type SealTask } from './chunk-codec.js';
import { encodePackTask, type EncodePackTask } from './pack-encoder.js';
import { transferable } from './worker-transfer.js';

export type CodecJob = { op: 'seal'; task: SealTask } | { op: 'open'; task: OpenTask } | { op: 'segment'; task: SegmentTask } | { op: 'batch'; task: FileBatchTask } | { op: 'openBatch'; task: OpenBatchTask } | { op: 'encodePack'; task: EncodePackTask };

export default function runCodecJob(job: CodecJob): unknown {
  if (job.op === 'seal') {
    const out = sealChunk(job.task);
    return transferable(out, [out.sealed.buffer, out.plaintext.buffer]);
  }
  if (job.op === 'segment') return sealFileSegment(job.task); // results live in shared memory: nothing to move
  if (job.op === 'batch') return sealFileBatch(job.task);
  if (job.op === 'encodePack') {
    return encodePackTask(job.task).then((out) => transferable(out, [out.body.buffer, ...out.objects.map((o) => o.buffer), ...out.unused]));
  }
  if (job.op === 'openBatch') {
    const out = openChunkBatch(job.task);
    return transferable(out, [out.plaintext.buffer]);
  }
  try {
    const plaintext = openChunk(job.task);
    return transferable({ plaintext }, [plaintext.buffer]);
  } catch (err) {
    // An error's class does not survive the thread boundary: say what it was.
    if (isRaicError(err, 'Integrity')) return { integrity: err.message };
    throw err;
  }
}
