/**
 * PackWriter: appends share i of each stripe to member i's pack; when the packs reach their target size
 * they are sealed with an encrypted trailer and uploaded to every member at once. All members' packs of
 * one group receive the same stripes in the same order, so a chunk's shares sit at the same offset on
 * every member and one ChunkRef locates all n.
 *
 * Pack bytes: share… | trailer (AEAD under the index key, ad = pack id) | trailer length u32 | "RAICPK01".
 * The trailer lists the ChunkRefs of the pack, so the index can be rebuilt from packs alone.
 * Memory: at most two groups (one filling, one uploading) of n buffers each. A writer makes either data packs
 * (file content) or metadata packs (tree blobs, manifest pages: what walking a snapshot reads), never a mix.
 */
import { RaicError } from '../errors.js';
import { randomBytes, seal } from '../crypto/index.js';
import type { ChunkRef } from './chunk-ref.js';
import { encodeRefList } from './chunk-ref.js';
import { packKey } from './layout.js';
import type { Members } from './members.js';
import type { EncodedStripe } from './stripe-codec.js';

export const PACK_MAGIC = 'RAICPK01';
export const TRAILER_MAGIC = 'RAICTRL1';
export const PACK_FOOTER_BYTES = 12;
const MAX_REFS_PER_PACK = 4096;

interface PackGroup {
  id: Buffer;
  buffers: Buffer[];
  used: number;
  refs: ChunkRef[];
}

export interface PackWriterStats {
  packs: number;
  /** Bytes uploaded, summed over members. */
  storedBytes: number;
}

export class PackWriter {
  private group: PackGroup | null = null;
  private uploading: Promise<void> | null = null;
  /** Buffer sets of uploaded groups, reused for the next group (no per-pack allocation). */
  private readonly spare: Buffer[][] = [];
  private scratch = new Uint8Array(0);
  readonly stats: PackWriterStats = { packs: 0, storedBytes: 0 };

  constructor(
    private readonly members: Members,
    private readonly indexKey: Uint8Array,
    private readonly targetBytes: number,
    private readonly capacityBytes: number,
    /** Members that must store each pack (the write quorum); the others' shares become repair debt. */
    private readonly need: number = members.n,
    /** Metadata packs (every ref they hold is marked meta). */
    private readonly meta = false,
  ) {}

  /** Appends a stripe's shares; returns where they will live. May wait for an earlier upload (backpressure). */
  async add(enc: Omit<EncodedStripe, 'plaintext'>): Promise<ChunkRef> {
    const n = this.members.n;
    let g = this.group;
    if (g && (g.used + enc.shareLen > this.targetBytes || g.refs.length >= MAX_REFS_PER_PACK)) {
      await this.flush();
      g = null;
    }
    if (!g) {
      const cap = Math.max(this.capacityBytes, enc.shareLen);
      const buffers = this.spare.pop() ?? Array.from({ length: n }, () => Buffer.allocUnsafeSlow(cap));
      g = { id: randomBytes(16), buffers, used: 0, refs: [] };
      this.group = g;
    }
    const stripe = this.unshared(enc.stripe);
    for (let i = 0; i < n; i++) {
      const buf = ensureCapacity(g, i, g.used + enc.shareLen);
      buf.set(stripe.subarray(i * enc.shareLen, (i + 1) * enc.shareLen), g.used);
    }
    const ref: ChunkRef = {
      id: Buffer.from(enc.id),
      pack: g.id,
      offset: g.used,
      shareLen: enc.shareLen,
      size: enc.size,
      meta: this.meta,
      hashes: Buffer.from(enc.hashes),
    };
    g.used += enc.shareLen;
    g.refs.push(ref);
    return ref;
  }

  /**
   * A stripe in shared memory (a worker's region) as a private copy: V8 copies out of shared memory byte by
   * byte unless source and destination are equally aligned mod 8, which shares at arbitrary pack offsets
   * rarely are (2.4 vs 17 GB/s measured); one aligned copy of the whole stripe, then fast copies, is cheaper.
   */
  private unshared(stripe: Uint8Array): Uint8Array {
    if (!(stripe.buffer instanceof SharedArrayBuffer)) return stripe;
    if (this.scratch.length < stripe.length + 8) this.scratch = new Uint8Array(stripe.length + 8);
    const copy = this.scratch.subarray(stripe.byteOffset % 8, (stripe.byteOffset % 8) + stripe.length);
    copy.set(stripe);
    return copy;
  }

  /** Seals the current group and starts its upload (after the previous one finished). */
  async flush(): Promise<void> {
    const g = this.group;
    this.group = null;
    if (this.uploading) {
      const prev = this.uploading;
      this.uploading = null;
      await prev;
    }
    if (!g || g.refs.length === 0) return;
    const trailer = seal(this.indexKey, encodeRefList(TRAILER_MAGIC, this.members.n, g.refs), g.id);
    const total = g.used + trailer.length + PACK_FOOTER_BYTES;
    const footer = Buffer.alloc(PACK_FOOTER_BYTES);
    footer.writeUInt32BE(trailer.length, 0);
    footer.write(PACK_MAGIC, 4, 8, 'latin1');
    for (let i = 0; i < g.buffers.length; i++) {
      const buf = ensureCapacity(g, i, total);
      buf.set(trailer, g.used);
      buf.set(footer, g.used + trailer.length);
    }
    this.uploading = this.upload(g, total);
    // Surface failures at the next flush/finish; avoid an unhandled rejection meanwhile.
    this.uploading.catch(() => undefined);
  }

  /** Uploads everything still buffered and waits for all uploads. */
  async finish(): Promise<void> {
    await this.flush();
    if (this.uploading) {
      const last = this.uploading;
      this.uploading = null;
      await last;
    }
  }

  private async upload(g: PackGroup, total: number): Promise<void> {
    const key = packKey(g.id.toString('hex'));
    const results = await Promise.allSettled(
      g.buffers.map((buf, i) => this.members.call(i, (p) => p.put(key, buf.subarray(0, total)))),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, err: r.reason as unknown }] : []));
    const stored = results.length - failed.length;
    if (stored < this.need) {
      const first = failed[0]!;
      const names = failed.map(({ i, err }) => `${this.members.slots[i]!.url} (${reasonText(err, this.members.slots[i]!.provider?.displayUrl)})`);
      throw new RaicError('Quorum', `could not store a pack on enough members (${stored} of ${this.members.n}, ${this.need} needed): ${names.join('; ')}`, {
        cause: first.err,
        hint: 'nothing was committed; fix the member(s) and run the command again',
      });
    }
    for (const { i } of failed) this.members.recordMissedWrite(i);
    this.stats.packs += 1;
    this.stats.storedBytes += total * stored;
    if (this.spare.length < 2) this.spare.push(g.buffers);
  }
}

/** An error's message without the member's own name in front (the caller names the member). */
function reasonText(err: unknown, displayUrl: string | undefined): string {
  const msg = err instanceof Error ? err.message : String(err);
  return displayUrl && msg.startsWith(`${displayUrl}: `) ? msg.slice(displayUrl.length + 2) : msg;
}

function ensureCapacity(g: PackGroup, i: number, bytes: number): Buffer {
  let buf = g.buffers[i]!;
  if (buf.length < bytes) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(bytes, Math.ceil(buf.length * 1.5)));
    buf.copy(bigger, 0, 0, g.used);
    g.buffers[i] = buf = bigger;
  }
  return buf;
}
