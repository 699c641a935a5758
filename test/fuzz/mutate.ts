/**
 * The fuzzer's mutator: a seeded PRNG and byte-, field- and JSON-level mutations of valid inputs. Deterministic:
 * the same seed gives the same mutations of the same seed inputs.
 */

/** mulberry32: small, fast, good enough to pick mutations. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** 0 ≤ result < n. */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** A length, count or size field of a seed: what length-field edits aim at. Big-endian unless `le`. */
export interface Field {
  at: number;
  width: 1 | 2 | 4 | 6 | 8;
  le?: boolean;
}

/** A valid input, as its real encoder made it. */
export interface Seed {
  bytes: Buffer;
  /** Its length/count/size fields. */
  fields?: readonly Field[];
  /** Bytes [at, end) are JSON text (structure-aware edits), its length in the u32 at `lengthAt` when given. */
  json?: { at: number; end: number; lengthAt?: number };
}

function readField(buf: Buffer, f: Field): bigint {
  let v = 0n;
  for (let i = 0; i < f.width; i++) v = (v << 8n) | BigInt(buf[f.le ? f.at + f.width - 1 - i : f.at + i]!);
  return v;
}

function writeField(buf: Buffer, f: Field, value: bigint): void {
  let v = BigInt.asUintN(f.width * 8, value);
  for (let i = f.width - 1; i >= 0; i--) {
    buf[f.le ? f.at + f.width - 1 - i : f.at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Sets a length field to 0, 1, its maximum (2^32 − 1 for a u32), a huge or an off-by-one value. */
function editField(buf: Buffer, f: Field, rng: Rng): void {
  if (f.at + f.width > buf.length) return;
  const max = (1n << BigInt(f.width * 8)) - 1n;
  const was = readField(buf, f);
  const values = [0n, 1n, max, max - 1n, 1n << BigInt(f.width * 8 - 1), was + 1n, was - 1n, was * 2n, was / 2n, was + 61n, was + 93n, BigInt(rng.next())];
  writeField(buf, f, rng.pick(values));
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x2f, 0x5c, 0x7b, 0x7d];

/** One byte-level edit of `b` (a fresh buffer). `other` is another seed, for splicing. */
function mutateOnce(b: Buffer, seed: Seed, other: Buffer, rng: Rng): Buffer {
  const len = b.length;
  const at = rng.int(len + 1);
  switch (rng.int(11)) {
    case 0: // bit flip
      if (len > 0) b[rng.int(len)]! ^= 1 << rng.int(8);
      return b;
    case 1: // byte set
      if (len > 0) b[rng.int(len)] = rng.int(2) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return b;
    case 2: // truncation
      return b.subarray(0, rng.int(len));
    case 3: // extension
      return Buffer.concat([b, rng.int(2) ? rng.bytes(1 + rng.int(128)) : Buffer.alloc(1 + rng.int(128))]);
    case 4: // deletion of a range
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(len, at + 1 + rng.int(32)))]);
    case 5: // insertion of random bytes
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(32)), b.subarray(at)]);
    case 6: // splice with another valid input
      return Buffer.concat([b.subarray(0, at), other.subarray(rng.int(other.length + 1))]);
    case 7: // a range repeated
      return Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + rng.int(64)), b.subarray(at)]);
    case 8: // two ranges swapped
    {
      const w = 1 + rng.int(16);
      const a = rng.int(Math.max(1, len - w));
      const c = rng.int(Math.max(1, len - w));
      const tmp = Buffer.from(b.subarray(a, a + w));
      b.copy(b, a, c, c + w);
      tmp.copy(b, c);
      return b;
    }
    default: // length-field edit: a declared field, else a u32 anywhere
    {
      const f = seed.fields && seed.fields.length > 0 && rng.int(4) > 0 ? rng.pick(seed.fields) : { at: rng.int(Math.max(1, len - 3)), width: 4 as const };
      editField(b, f, rng);
      return b;
    }
  }
}

/** 1–4 stacked byte-level edits of the seed. */
export function mutateBytes(seed: Seed, other: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(seed.bytes);
  const edits = 1 + (rng.int(4) === 0 ? rng.int(4) : 0);
  for (let i = 0; i < edits; i++) b = Buffer.from(mutateOnce(b, seed, other, rng));
  return b;
}

const INTERESTING_JSON: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 32 - 1, 2 ** 53, 1e308, -1e308, '', 'x', '..', '.', 'a/b', '\u0000', '\u0000Li4v', '12a', '-', [], {}, [null], { v: 1 }];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every (container, key) pair of a JSON value, depth-first. */
function slots(v: Json, out: [Json[] | Record<string, Json>, string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) out.push([v, k]), slots(v[k]!, out);
  return out;
}

/** One structure-aware edit of JSON text: a value replaced, removed or added, or the whole document replaced. */
export function mutateJsonText(text: string, rng: Rng): string {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    return text;
  }
  const all = slots(doc);
  if (all.length === 0 || rng.int(16) === 0) return JSON.stringify(rng.pick(INTERESTING_JSON));
  const [box, key] = rng.pick(all);
  const value = rng.pick(INTERESTING_JSON) as Json;
  const op = rng.int(4);
  if (Array.isArray(box)) {
    if (op === 0) box.splice(key as number, 1);
    else if (op === 1) box.push(box[key as number]!); // a duplicate element
    else box[key as number] = value;
  } else if (op === 0) delete box[key];
  else if (op === 1) box[`x${rng.int(4)}`] = value; // an unknown field
  else box[key] = value;
  return JSON.stringify(doc);
}

/** A JSON-level edit of the seed's JSON span (its length prefix rewritten), sometimes plus a byte edit. */
export function mutateJson(seed: Seed, other: Buffer, rng: Rng): Buffer {
  const span = seed.json!;
  const text = Buffer.from(mutateJsonText(seed.bytes.toString('utf8', span.at, span.end), rng));
  const out = Buffer.concat([seed.bytes.subarray(0, span.at), text, seed.bytes.subarray(span.end)]);
  if (span.lengthAt !== undefined) out.writeUInt32BE(text.length, span.lengthAt);
  return rng.int(8) === 0 ? mutateBytes({ ...seed, bytes: out }, other, rng) : out;
}

/** A mutated copy of `seed`: JSON-aware half the time when it has a JSON span. */
export function mutate(seed: Seed, other: Buffer, rng: Rng): Buffer {
  return seed.json && rng.int(2) === 0 ? mutateJson(seed, other, rng) : mutateBytes(seed, other, rng);
}
