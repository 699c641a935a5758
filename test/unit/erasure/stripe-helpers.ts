/** Helpers shared by the erasure tests: deterministic data and survivor subsets. */
import { randomFillSync } from 'node:crypto';

/** A stripe of n shards whose k data shards hold random bytes and whose parity is zero. */
export function randomStripe(k: number, n: number, shardLen: number): Uint8Array {
  const stripe = new Uint8Array(n * shardLen);
  randomFillSync(stripe.subarray(0, k * shardLen));
  return stripe;
}

/** Every k-element subset of 0..n-1, in lexicographic order. */
export function* subsets(n: number, k: number): Generator<number[]> {
  const pick = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield [...pick];
    let i = k - 1;
    while (i >= 0 && pick[i] === n - k + i) i--;
    if (i < 0) return;
    pick[i]!++;
    for (let j = i + 1; j < k; j++) pick[j] = pick[j - 1]! + 1;
  }
}

/** A copy of `stripe` with every shard not in `survivors` zeroed, and the matching `present` flags. */
export function damage(stripe: Uint8Array, n: number, shardLen: number, survivors: readonly number[]) {
  const damaged = stripe.slice();
  const present = Array.from({ length: n }, (_, i) => survivors.includes(i));
  for (let i = 0; i < n; i++) if (!present[i]) damaged.fill(0, i * shardLen, (i + 1) * shardLen);
  return { damaged, present };
}

export function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}
