/**
 * Plain TypeScript Reed-Solomon over GF(2^8): the readable definition of `rs-vandermonde-gf256/1`.
 *
 * Field: GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d) and generator 2.
 * Matrix: the n×k Vandermonde matrix V[r][c] = r^c (with 0^0 = 1), multiplied by the inverse of its
 * top k×k square, so the first k rows are the identity (systematic: data shards are stored as-is) and
 * rows k..n-1 give the parity. This is the construction of the Rust `reed-solomon-erasure` crate,
 * Backblaze's JavaReedSolomon and klauspost/reedsolomon; any k rows of it are invertible, which is
 * what lets any k surviving shards rebuild the rest.
 *
 * Three jobs: simd-codec.ts takes its matrices (encodingMatrix, invert) and only replaces the
 * byte loops; tests check the SIMD codec's and the Rust crate's bytes against this code; and
 * `load-codec.ts` falls back to it where WebAssembly SIMD cannot be used. It favours clarity over
 * speed (~200 MB/s).
 */
import { RaicError } from '../errors.js';

const POLYNOMIAL = 0x11d;

/** EXP[i] = 2^i, doubled in length so EXP[LOG[a] + LOG[b]] needs no modulo. */
const EXP = new Uint8Array(510);
/** LOG[a] = i such that 2^i = a (LOG[0] is unused). */
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= POLYNOMIAL;
  }
}

/** MUL[a * 256 + b] = a·b; a row `MUL.subarray(a * 256, a * 256 + 256)` multiplies bytes by a. */
const MUL = new Uint8Array(256 * 256);
for (let a = 1; a < 256; a++) {
  for (let b = 1; b < 256; b++) MUL[a * 256 + b] = EXP[LOG[a]! + LOG[b]!]!;
}

export function gfMul(a: number, b: number): number {
  return MUL[(a << 8) | b]!;
}

export function gfInverse(a: number): number {
  if (a === 0) throw new RangeError('GF(2^8): zero has no inverse');
  return EXP[255 - LOG[a]!]!;
}

/** a^e, with 0^0 = 1 as the Vandermonde construction needs. */
export function gfPow(a: number, e: number): number {
  if (e === 0) return 1;
  if (a === 0) return 0;
  return EXP[(LOG[a]! * e) % 255]!;
}

/** A matrix is an array of rows. */
type Matrix = Uint8Array[];

function multiply(a: Matrix, b: Matrix): Matrix {
  const cols = b[0]!.length;
  return a.map((row) => {
    const out = new Uint8Array(cols);
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let i = 0; i < row.length; i++) sum ^= gfMul(row[i]!, b[i]![c]!);
      out[c] = sum;
    }
    return out;
  });
}

/** Gauss-Jordan inversion of a square matrix; throws if it is singular (never for k rows of ours). */
export function invert(m: Matrix): Matrix {
  const size = m.length;
  const work = m.map((row, r) => {
    const wide = new Uint8Array(2 * size);
    wide.set(row);
    wide[size + r] = 1;
    return wide;
  });
  for (let col = 0; col < size; col++) {
    const pivotRow = work.findIndex((row, r) => r >= col && row[col] !== 0);
    if (pivotRow < 0) throw new RangeError('GF(2^8): singular matrix');
    [work[col], work[pivotRow]] = [work[pivotRow]!, work[col]!];
    const pivot = work[col]!;
    const scale = gfInverse(pivot[col]!);
    for (let i = 0; i < 2 * size; i++) pivot[i] = gfMul(pivot[i]!, scale);
    for (let r = 0; r < size; r++) {
      const row = work[r]!;
      const factor = row[col]!;
      if (r === col || factor === 0) continue;
      for (let i = 0; i < 2 * size; i++) row[i]! ^= gfMul(factor, pivot[i]!);
    }
  }
  return work.map((row) => row.slice(size));
}

/** The n×k systematic encoding matrix: identity on top, parity coefficients in rows k..n-1. */
export function encodingMatrix(k: number, n: number): Matrix {
  const vandermonde: Matrix = [];
  for (let r = 0; r < n; r++) {
    const row = new Uint8Array(k);
    for (let c = 0; c < k; c++) row[c] = gfPow(r, c);
    vandermonde.push(row);
  }
  return multiply(vandermonde, invert(vandermonde.slice(0, k)));
}

/** out = Σ coefficients[i] · inputs[i], byte by byte. */
function combine(coefficients: Uint8Array, inputs: readonly Uint8Array[], out: Uint8Array): void {
  out.fill(0);
  for (let i = 0; i < inputs.length; i++) {
    const c = coefficients[i]!;
    const input = inputs[i]!;
    if (c === 0) continue;
    if (c === 1) {
      for (let b = 0; b < out.length; b++) out[b]! ^= input[b]!;
      continue;
    }
    const times = MUL.subarray(c * 256, c * 256 + 256);
    for (let b = 0; b < out.length; b++) out[b]! ^= times[input[b]!]!;
  }
}

function shardViews(stripe: Uint8Array, shardLen: number, n: number): Uint8Array[] {
  const views: Uint8Array[] = [];
  for (let i = 0; i < n; i++) views.push(stripe.subarray(i * shardLen, (i + 1) * shardLen));
  return views;
}

/**
 * Encoder/decoder for one (k, n). Arguments are assumed checked by the caller (`ErasureCodec`
 * wrappers check them); `present` must have at least k true entries.
 */
export class Gf256Reference {
  readonly k: number;
  readonly n: number;
  private readonly matrix: Matrix;

  constructor(k: number, n: number) {
    this.k = k;
    this.n = n;
    this.matrix = encodingMatrix(k, n);
  }

  /** Writes parity shards k..n-1 of `stripe` from data shards 0..k-1. */
  encode(stripe: Uint8Array, shardLen: number): void {
    const shards = shardViews(stripe, shardLen, this.n);
    const data = shards.slice(0, this.k);
    for (let p = this.k; p < this.n; p++) combine(this.matrix[p]!, data, shards[p]!);
  }

  /** Rewrites missing data shards (and missing parity shards when `restoreParity`). */
  reconstruct(stripe: Uint8Array, shardLen: number, present: readonly boolean[], restoreParity: boolean): void {
    const { k, n } = this;
    const shards = shardViews(stripe, shardLen, n);
    const missingData = [...Array(k).keys()].filter((i) => !present[i]);
    if (missingData.length > 0) {
      // Rows of the encoding matrix for the first k survivors map data to those survivors;
      // the inverse maps the survivors back to data.
      const survivors = [...Array(n).keys()].filter((i) => present[i]).slice(0, k);
      const decode = invert(survivors.map((i) => this.matrix[i]!));
      const inputs = survivors.map((i) => shards[i]!);
      for (const d of missingData) combine(decode[d]!, inputs, shards[d]!);
    }
    if (!restoreParity) return;
    const data = shards.slice(0, k);
    for (let p = k; p < n; p++) if (!present[p]) combine(this.matrix[p]!, data, shards[p]!);
  }
}
