/**
 * ShareReader: fetches k valid shares of a chunk and decodes it. Asks data shares first (no decoding
 * needed when they all answer), then parity; a share that is missing, unreachable, short or fails its
 * hash is replaced by another member's, so any n−k members may be lost or corrupt.
 */
import { RaicError, isRaicError } from '../errors.js';
import type { ChunkEntry } from './chunk-ref.js';
import { packKey } from './layout.js';
import type { Members } from './members.js';
import { messageOf } from './replicated.js';
import type { StripePool } from './stripe-pool.js';
import { BufferPool } from './buffer-pool.js';
import { AEAD_OVERHEAD } from '../crypto/index.js';
import { shardLength } from '../erasure/index.js';

export interface ShareProblem {
  member: number;
  pack: string;
  problem: 'missing' | 'corrupt' | 'unreachable';
  detail: string;
}

export class ShareReader {
  /** Every share problem met while reading (for reporting; repair will use it). */
  readonly problems: ShareProblem[] = [];

  /** Recycled scratch buffers (see BufferPool); chunks larger than their capacity get fresh ones. */
  private readonly stripes: BufferPool;
  private readonly plaintexts: BufferPool;

  constructor(
    private readonly members: Members,
    private readonly pool: StripePool,
    private readonly k: number,
    maxChunkBytes = 0,
  ) {
    this.stripes = new BufferPool(members.n * shardLength(maxChunkBytes + AEAD_OVERHEAD, k));
    this.plaintexts = new BufferPool(maxChunkBytes);
  }

  /** Gives back the buffer of a plaintext returned by read() once the caller is done with it. */
  recycle(plaintext: Uint8Array): void {
    this.plaintexts.release(plaintext.buffer);
  }

  /** The chunk's plaintext. Its buffer may be recycled: call recycle() when done, or keep it. */
  async read(entry: ChunkEntry): Promise<Uint8Array> {
    const n = this.members.n;
    const shares: (Uint8Array | null)[] = new Array<Uint8Array | null>(n).fill(null);
    const tried = new Set<number>();
    const packHex = entry.pack.toString('hex');
    for (;;) {
      const have = shares.filter((s) => s !== null).length;
      const candidates = [...Array(n).keys()].filter((i) => !tried.has(i) && this.members.isUp(i));
      const want = this.k - have;
      if (want > candidates.length) {
        throw new RaicError('Quorum', `cannot read chunk ${entry.id.toString('hex').slice(0, 16)}: ${have + candidates.length} of ${n} shares obtainable, ${this.k} needed; ${this.describe(packHex)}`, {
          hint: 'bring the unreachable members back, then retry',
        });
      }
      const batch = candidates.slice(0, want);
      await Promise.all(
        batch.map(async (i) => {
          tried.add(i);
          shares[i] = await this.fetchShare(i, entry, packHex);
        }),
      );
      if (shares.filter((s) => s !== null).length < this.k) continue;
      const fits = entry.size <= this.plaintexts.capacity;
      const result = await this.pool.decode({
        shares: shares.map((s) => s),
        hashes: entry.hashes,
        shareLen: entry.shareLen,
        size: entry.size,
        key: entry.key,
        k: this.k,
        n,
        ...(fits ? { stripeBuffer: this.stripes.take(), plaintextBuffer: this.plaintexts.take() } : {}),
      });
      if ('plaintext' in result) {
        this.stripes.release(result.stripe.buffer);
        return result.plaintext;
      }
      for (const i of result.badShares) {
        this.problems.push({ member: i, pack: packHex, problem: 'corrupt', detail: 'share hash mismatch' });
        shares[i] = null;
      }
      // Good shares may have been moved (detached) into the worker: fetch those again.
      for (let i = 0; i < n; i++) {
        if (shares[i]?.byteLength === 0) {
          shares[i] = null;
          tried.delete(i);
        }
      }
    }
  }

  private async fetchShare(i: number, entry: ChunkEntry, packHex: string): Promise<Uint8Array | null> {
    try {
      const bytes = await this.members.call(i, (p) => p.get(packKey(packHex), { offset: entry.offset, length: entry.shareLen }));
      if (bytes.length !== entry.shareLen) {
        this.problems.push({ member: i, pack: packHex, problem: 'corrupt', detail: `short share (${bytes.length} of ${entry.shareLen} bytes)` });
        return null;
      }
      return bytes;
    } catch (err) {
      const problem = isRaicError(err, 'NotFound') ? 'missing' : 'unreachable';
      this.problems.push({ member: i, pack: packHex, problem, detail: messageOf(err) });
      return null;
    }
  }

  private describe(packHex: string): string {
    const down = this.members.describeDown();
    const probs = this.problems.filter((p) => p.pack === packHex).map((p) => `${this.members.slots[p.member]!.url}: ${p.problem}`);
    return [down && `unreachable: ${down}`, probs.length > 0 && `share problems: ${probs.join(', ')}`].filter(Boolean).join('; ');
  }
}
