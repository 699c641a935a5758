/** The codec contract every erasure implementation satisfies. */

/** Named, versioned algorithm recorded in the array config. */
export const CODEC_ID = 'rs-vandermonde-gf256/1';

export interface ErasureCodec {
  readonly k: number; // data shards
  readonly n: number; // total shards (k data + n-k parity), 1 <= k < n <= 255
  /** `stripe` holds n shards of `shardLen` bytes back to back; shards 0..k-1 hold data.
   *  Computes the n-k parity shards and writes them in place (shards k..n-1).
   *  Throws RaicError('Usage') if `stripe` is not n × shardLen bytes or shardLen < 1. */
  encode(stripe: Uint8Array, shardLen: number): void;
  /** `present[i]` says shard i of `stripe` holds valid bytes (at least k must). Rewrites the missing data
   *  shards in place; also the missing parity shards when `restoreParity` (used by repair). Present
   *  shards are never written.
   *  Throws RaicError('Integrity') if fewer than k are present; RaicError('Usage') for a malformed
   *  stripe or a `present` whose length is not n. */
  reconstruct(stripe: Uint8Array, shardLen: number, present: readonly boolean[], opts?: { restoreParity?: boolean }): void;
}
