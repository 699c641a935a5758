/**
 * PackWriter: appends sealed chunks to a pack body; when the body reaches its target size it is closed with
 * an encrypted trailer, erasure-coded as a whole (pack-codec.ts: k data shares, n − k parity shares, a table
 * of region hashes) and uploaded, member i receiving share i. A chunk's ref names its bytes in the body, so a
 * healthy read is one ranged GET from the member whose data share holds them.
 *
 * Body: sealed chunk … | trailer = seal(index key, ref list, ad = pack id). The trailer lists the ChunkRefs of
 * the pack, so the index can be rebuilt from packs alone.
 * Memory: the body filling, the body encoding, one spare, and the n member objects of the pack uploading (n/k ×
 * a body; with two packs in flight, a put's, those of two packs), plus those of earlier packs that slow members
 * are still taking (at most MAX_LAGGING_PER_MEMBER each) and up to n objects' worth of memory kept for the next
 * pack's objects. A writer makes either data packs (file content) or metadata packs (tree blobs, manifest pages:
 * what walking a snapshot reads), never a mix.
 */
import { RaicError } from '../errors.js';
import { randomBytes, seal } from '../crypto/index.js';
import type { ChunkRef } from './chunk-ref.js';
import { encodeRefList } from './chunk-ref.js';
import type { SealedChunk } from './chunk-codec.js';
import { packKey } from './layout.js';
import type { Members } from './members.js';
import { encodePackTask, type PackEncoder } from './pack-encoder.js';
import { packObjectBytes } from './pack-codec.js';
import { QuorumWrite } from './quorum-write.js';

export const TRAILER_MAGIC = 'RAICTRL2';
/** Refs one pack holds at most: bounds its trailer (≈ 1 MiB). */
export const MAX_REFS_PER_PACK = 16384;
const INITIAL_BODY_BYTES = 1024 * 1024;

/** A kept object buffer is reused for an object at most this many times smaller (see encodeAndUpload). */
const SPARE_SLACK = 1.25;

/**
 * Packs a member may lag behind (its objects still uploading after their pack committed), per writer: what a
 * slow member's backlog holds is at most this many member objects (each 1/k of a body plus the table).
 */
const MAX_LAGGING_PER_MEMBER = 2;
/** How long, as a fraction of a pack's quorum time, the writer waits for a member whose backlog is full. */
const LAG_PATIENCE = 0.25;

interface Lagging {
  write: QuorumWrite;
  /** Resolves once its stats and misses are recorded. */
  accounted: Promise<void>;
}

interface PackBody {
  id: Buffer;
  body: Buffer;
  used: number;
  refs: ChunkRef[];
}

export interface PackWriterStats {
  packs: number;
  /** Bytes uploaded, summed over members. */
  storedBytes: number;
}

export class PackWriter {
  private open: PackBody | null = null;
  /** Closed packs, oldest first, still encoding or uploading to the write quorum (at most packsInFlight). */
  private readonly inFlight: { encoded: Promise<Buffer[]>; uploaded: Promise<void> }[] = [];
  /** Bodies of uploaded packs, reused for the next pack (no per-pack allocation). */
  private readonly spare: Buffer[] = [];
  private scratch = new Uint8Array(0);
  /**
   * Memory of objects a member stored, for the next pack's objects (at most n). Only a put that succeeded gives
   * its object back: one that failed or was cut off may have an abandoned attempt still reading it (the retry
   * layer cancels late attempts but does not wait for them to let go), so that memory is left to the collector.
   */
  private readonly spareObjects: ArrayBuffer[] = [];
  /** Uploads whose quorum held while some member was still taking them. */
  private readonly lagging = new Set<Lagging>();
  readonly stats: PackWriterStats = { packs: 0, storedBytes: 0 };

  constructor(
    private readonly members: Members,
    private readonly k: number,
    private readonly indexKey: Uint8Array,
    /** Body bytes at which a pack is closed. */
    private readonly targetBytes: number,
    private readonly capacityBytes: number,
    /** Members that must store each pack (the write quorum); the others' shares become repair debt. */
    private readonly need: number = members.n,
    /** Metadata packs (every ref they hold is marked meta). */
    private readonly meta = false,
    /** Where closed bodies are erasure-coded (a data session passes the codec pool's workers). */
    private readonly encoder: PackEncoder = encodePackTask,
    /** Closed packs being encoded or uploaded at once, 1 or 2 (see flush). */
    private readonly packsInFlight = 1,
  ) {}

  /**
   * Appends a sealed chunk; returns where it will live. Waits (a promise) only when the chunk closes a pack: for an
   * earlier upload (backpressure). Otherwise it answers at once: a promise per chunk was main-thread garbage.
   */
  add(chunk: Pick<SealedChunk, 'id' | 'size' | 'sealed'>): ChunkRef | Promise<ChunkRef> {
    const p = this.open;
    if (p && (p.used + chunk.sealed.length > this.targetBytes || p.refs.length >= MAX_REFS_PER_PACK)) return this.flush().then(() => this.append(chunk));
    return this.append(chunk);
  }

  private append(chunk: Pick<SealedChunk, 'id' | 'size' | 'sealed'>): ChunkRef {
    const length = chunk.sealed.length;
    let p = this.open;
    if (!p) {
      // A session's first body starts small and grows as chunks come: a session that writes a few MB (most metadata
      // packs, an incremental backup) never holds a whole pack's worth of memory. Once it has filled a pack, a body
      // it needs afresh (the spare is still encoding, as after an index segment's wait) is made whole at once: growing
      // one copied 21 MB into fresh pages, and four of them cost a /usr/share backup's main thread 0.22 s.
      const fresh = this.stats.packs > 0 || this.inFlight.length > 0 ? this.capacityBytes : Math.min(this.capacityBytes, Math.max(INITIAL_BODY_BYTES, length));
      const body = this.spare.pop() ?? Buffer.allocUnsafeSlow(fresh);
      p = { id: randomBytes(16), body, used: 0, refs: [] };
      this.open = p;
    }
    ensureCapacity(p, p.used + length).set(this.unshared(chunk.sealed), p.used);
    const ref: ChunkRef = { id: Buffer.from(chunk.id), pack: p.id, offset: p.used, length, size: chunk.size, meta: this.meta };
    p.used += length;
    p.refs.push(ref);
    return ref;
  }

  /**
   * A chunk in shared memory (a worker's region) as a private copy: V8 copies out of shared memory byte by
   * byte unless source and destination are equally aligned mod 8, which chunks at arbitrary body offsets
   * rarely are (2.4 vs 17 GB/s measured); one aligned copy, then a fast copy, is cheaper.
   */
  private unshared(bytes: Uint8Array): Uint8Array {
    if (!(bytes.buffer instanceof SharedArrayBuffer)) return bytes;
    if (this.scratch.length < bytes.length + 8) this.scratch = new Uint8Array(bytes.length + 8);
    const copy = this.scratch.subarray(bytes.byteOffset % 8, (bytes.byteOffset % 8) + bytes.length);
    copy.set(bytes);
    return copy;
  }

  /**
   * Closes the current pack and starts its encoding. With one pack in flight (the default), first waits until the
   * previous pack is encoded and uploaded to the write quorum: a tree backup's peak RSS has no room for more.
   * With two, the previous pack's upload may still be running (this pack's waits for it): one pack encodes while
   * the one before it uploads, and the body filling waits only for the upload before that. A 1 GiB put into local
   * members in 9.1 MiB bodies took 6.3–7.1 s against 6.8–8.1 s with one (it waited 6 s of 8 on encode-then-upload).
   */
  async flush(): Promise<void> {
    const p = this.open;
    this.open = null;
    await this.drain(this.packsInFlight - 1);
    if (!p || p.refs.length === 0) return;
    const trailer = seal(this.indexKey, encodeRefList(TRAILER_MAGIC, p.refs), p.id);
    ensureCapacity(p, p.used + trailer.length).set(trailer, p.used);
    // The next body fills while this one is encoded (on a worker: its memory is gone from here until it comes back).
    const encoded = this.encode(p.id, p.body.subarray(0, p.used + trailer.length), trailer.length);
    const previous = this.inFlight.at(-1)?.uploaded;
    const uploaded = encoded.then(async (objects) => {
      await previous;
      await this.upload(p.id, objects);
    });
    // Failures surface at the next flush/finish (an encode's through its upload); no unhandled rejection meanwhile.
    uploaded.catch(() => undefined);
    this.inFlight.push({ encoded, uploaded });
  }

  /** Uploads everything still buffered and waits for all uploads. */
  async finish(): Promise<void> {
    await this.flush();
    await this.drain(0);
    // Packs every member has already taken: their stats are final now (settle() waits for the others).
    await Promise.all([...this.lagging].filter((l) => l.write.pending().length === 0).map((l) => l.accounted));
  }

  /**
   * Gives the members still taking this writer's packs their grace (quorum-write.ts), cuts off the rest and
   * records what they missed; then stats and Members.missedWrites are final. Call after finish().
   */
  async settle(): Promise<void> {
    await Promise.all([...this.lagging].map(async ({ write, accounted }) => {
      await write.settleWithGrace();
      await accounted;
    }));
  }

  /**
   * Waits until at most `keep` closed packs are still being stored, the newest of them encoded (its body back
   * in `spare`). Rejects with the first failure of a pack it waited for.
   */
  private async drain(keep: number): Promise<void> {
    while (this.inFlight.length > keep) await this.inFlight.shift()!.uploaded;
    await this.inFlight.at(-1)?.encoded;
  }

  /** Erasure-codes a closed body into the n member objects (the body goes back to `spare`). */
  private async encode(id: Buffer, body: Buffer, trailerBytes: number): Promise<Buffer[]> {
    // The objects' memory is allocated here, on this thread, when none is kept that is large enough (the rest is
    // dropped): memory a worker allocated lives in its own malloc arena, and freed from here it stayed there,
    // raising a tree backup's peak RSS.
    // A kept buffer much larger than this pack's objects would hold memory for nothing: it is dropped as well.
    const bytes = packObjectBytes(body.length, this.k, this.members.n);
    const spare = this.spareObjects.splice(0).filter((b) => b.byteLength >= bytes && b.byteLength <= bytes * SPARE_SLACK).slice(0, this.members.n);
    while (spare.length < this.members.n) spare.push(Buffer.allocUnsafeSlow(bytes).buffer);
    const coded = await this.encoder({ body, id, trailerBytes, k: this.k, n: this.members.n, spare });
    if (this.spare.length < 1) this.spare.push(Buffer.from(coded.body.buffer));
    return coded.objects.map((o) => Buffer.from(o.buffer, o.byteOffset, o.byteLength));
  }

  /**
   * Puts member i's object on member i; resolves once the write quorum stored it (the pack is then committed:
   * an index may name it). Members still taking it keep going in the background, at most
   * MAX_LAGGING_PER_MEMBER packs behind; a member further behind is cut off from this pack (it becomes repair
   * debt), so a slow member neither delays the writer nor makes it hold more than that many of its objects.
   */
  private async upload(id: Buffer, objects: Buffer[]): Promise<void> {
    const key = packKey(id.toString('hex'));
    if (this.meta) this.members.keepWhole(key);
    const objectBytes = objects[0]!.length;
    // Each member's object is let go as soon as its put settles: a lagging member holds only its own.
    const bodies: (Buffer | null)[] = [...objects];
    const write = new QuorumWrite(
      [...bodies.keys()],
      async (i, signal) => {
        try {
          await this.members.call(i, (pr) => pr.put(key, bodies[i]!, { signal }));
          const memory = bodies[i]!.buffer;
          if (memory instanceof ArrayBuffer && this.spareObjects.length < this.members.n) this.spareObjects.push(memory);
        } finally {
          bodies[i] = null;
        }
      },
      this.need,
    );
    if (!(await write.quorum())) {
      await write.settled;
      const failed = write.failed();
      const first = failed[0]!;
      const names = failed.map(({ member, err }) => `${this.members.slots[member]!.url} (${reasonText(err, this.members.slots[member]!.provider?.displayUrl)})`);
      throw new RaicError('Quorum', `could not store a pack on enough members (${write.stored().length} of ${this.members.n}, ${this.need} needed): ${names.join('; ')}`, {
        cause: first.err,
        hint: 'nothing was committed; fix the member(s) and run the command again',
      });
    }
    this.stats.packs += 1;
    await this.makeRoom(write);
    const entry: Lagging = {
      write,
      accounted: write.settled.then(() => {
        this.stats.storedBytes += objectBytes * write.stored().length;
        for (const { member } of write.failed()) this.members.recordMissedWrite(member, write.wasCut(member) ? 'slow' : 'failed');
        this.lagging.delete(entry);
      }),
    };
    this.lagging.add(entry);
  }

  /**
   * For each member still taking `write` whose backlog is full: waits up to LAG_PATIENCE × the quorum's time
   * for its oldest lagging pack to land, else cuts it off from this pack. So a member up to that much slower
   * than the quorum keeps up (the writer slows to its pace) and is never cut on any size of write, while a
   * member far slower costs the writer at most that fraction more per pack.
   */
  private async makeRoom(write: QuorumWrite): Promise<void> {
    const deadline = performance.now() + LAG_PATIENCE * (write.quorumMs ?? 0);
    for (const m of write.pending()) {
      for (;;) {
        const oldest = [...this.lagging].find((l) => l.write.pending().includes(m));
        const left = deadline - performance.now();
        if (!oldest || this.laggingOn(m) < MAX_LAGGING_PER_MEMBER || left <= 0) break;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([oldest.write.memberDone(m), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
        clearTimeout(timer);
      }
      if (this.laggingOn(m) >= MAX_LAGGING_PER_MEMBER) write.cancel(m);
    }
  }

  /** Packs of this writer that member m is still taking, its quorum already met. */
  private laggingOn(m: number): number {
    let count = 0;
    for (const { write } of this.lagging) if (write.pending().includes(m)) count += 1;
    return count;
  }
}

/** An error's message without the member's own name in front (the caller names the member). */
function reasonText(err: unknown, displayUrl: string | undefined): string {
  const msg = err instanceof Error ? err.message : String(err);
  return displayUrl && msg.startsWith(`${displayUrl}: `) ? msg.slice(displayUrl.length + 2) : msg;
}

function ensureCapacity(p: PackBody, bytes: number): Buffer {
  if (p.body.length < bytes) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(bytes, Math.ceil(p.body.length * 1.5)));
    p.body.copy(bigger, 0, 0, p.used);
    p.body = bigger;
  }
  return p.body;
}
