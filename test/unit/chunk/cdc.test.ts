import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CDC_ID, DEFAULT_CDC, GearScanner, cdcChunks, findBoundary, type CdcParams } from '../../../src/chunk/index.js';
import { GEAR } from '../../../src/chunk/gear-table.js';
import { RaicError } from '../../../src/errors.js';

const MiB = 1024 * 1024;
const SMALL: CdcParams = { minSize: 1024, avgSize: 4096, maxSize: 16384 };

/** Deterministic pseudo-random bytes: the AES-128-CTR keystream under SHA-256(seed). Stable forever. */
function seeded(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

async function* pieces(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const take = sizes[i % sizes.length]!;
    yield data.subarray(at, at + take);
    at += take;
  }
}

async function chunksOf(data: Uint8Array, params: CdcParams = DEFAULT_CDC, sizes = [MiB]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of cdcChunks(pieces(data, sizes), params)) out.push(c);
  return out;
}

const lengths = (chunks: Buffer[]): number[] => chunks.map((c) => c.length);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Chunks of `after` whose content is not among the chunks of `before`, and the converse. */
function changed(before: Buffer[], after: Buffer[]): { added: number; removed: number } {
  const a = new Set(before.map(sha));
  const b = new Set(after.map(sha));
  return { added: [...b].filter((h) => !a.has(h)).length, removed: [...a].filter((h) => !b.has(h)).length };
}

describe('cdcChunks (fastcdc-gear/1)', () => {
  it('names its algorithm and keeps FastCDC ratios by default', () => {
    assert.equal(CDC_ID, 'fastcdc-gear/1');
    assert.deepEqual({ ...DEFAULT_CDC }, { minSize: 256 * 1024, avgSize: MiB, maxSize: 4 * MiB });
  });

  it('uses the pinned gear table: entry i = first 4 bytes of SHA-256("raic/fastcdc-gear/" + i)', () => {
    assert.equal(GEAR.length, 256);
    for (let i = 0; i < 256; i++) {
      assert.equal(GEAR[i], createHash('sha256').update(`raic/fastcdc-gear/${i}`).digest().readInt32BE(0), `entry ${i}`);
    }
  });

  it('cuts 64 MiB of random data into chunks within [min, max] whose mean is near the expected 1.15 MiB', async () => {
    const data = seeded('raic cdc sizes', 64 * MiB);
    const chunks = await chunksOf(data);
    for (const c of chunks.slice(0, -1)) {
      assert.ok(c.length >= DEFAULT_CDC.minSize && c.length <= DEFAULT_CDC.maxSize, `chunk of ${c.length} bytes`);
    }
    assert.ok(chunks.at(-1)!.length <= DEFAULT_CDC.maxSize);
    assert.ok(Buffer.concat(chunks).equals(data));
    // Normalized chunking level 2 with min = avg/4: expected mean 1.146 × avgSize on random data.
    const mean = data.length / chunks.length;
    assert.ok(Math.abs(mean / (1.146 * MiB) - 1) < 0.1, `mean chunk ${(mean / MiB).toFixed(3)} MiB over ${chunks.length} chunks`);
  });

  it('finds the same boundaries whatever the sizes of the input pieces (1, 7, 64 KiB, 5 MiB, mixed)', async () => {
    // Each piece costs a few µs of async plumbing under the test runner: shorter inputs for tiny pieces.
    const cases: [CdcParams, Uint8Array, number[][]][] = [
      [DEFAULT_CDC, new Uint8Array(seeded('raic cdc pieces', 12 * MiB)), [[64 * 1024], [5 * MiB], [1, 7, 64 * 1024, 5 * MiB, 3]]],
      [DEFAULT_CDC, new Uint8Array(seeded('raic cdc pieces', 4 * MiB)), [[7]]], // cuts at 1.05, 2.63, 3.67 MiB
      [SMALL, new Uint8Array(seeded('raic cdc pieces small', 256 * 1024)), [[1], [7], [64 * 1024], [5 * MiB], [1, 7, 5000]]],
    ];
    for (const [params, data, sizeLists] of cases) {
      const reference = lengths(await chunksOf(data, params, [data.length]));
      assert.ok(reference.length >= 3, `${reference.length} chunks`);
      for (const sizes of sizeLists) {
        const chunks = await chunksOf(data, params, sizes);
        assert.deepEqual(lengths(chunks), reference, `pieces of ${sizes.join(', ')} bytes, ${data.length} in all`);
        assert.ok(Buffer.concat(chunks).equals(data));
      }
    }
  });

  it('GearScanner fed one byte at a time cuts where it cuts a whole buffer', () => {
    const data = new Uint8Array(seeded('raic cdc pieces', 12 * MiB));
    const cuts = (step: number): number[] => {
      const scanner = new GearScanner(DEFAULT_CDC);
      const out: number[] = [];
      for (let at = 0; at < data.length; at += step) {
        const to = Math.min(at + step, data.length);
        for (let from = at, cut; (cut = scanner.scan(data, from, to)) >= 0; from = cut) out.push(cut);
      }
      return out;
    };
    const whole = cuts(data.length);
    assert.equal(whole.length, 11);
    assert.deepEqual(cuts(1), whole);
    assert.deepEqual(cuts(7), whole);
  });

  it('agrees with findBoundary applied chunk after chunk', async () => {
    for (const [params, data] of [
      [DEFAULT_CDC, seeded('raic cdc pure', 16 * MiB)],
      [SMALL, seeded('raic cdc pure small', 256 * 1024)],
    ] as const) {
      const cuts: number[] = [];
      for (let at = 0; at < data.length; ) {
        const len = Math.min(params.maxSize, data.length - at);
        const end = findBoundary(data.subarray(at), len, params);
        assert.ok(end > 0 && end <= len);
        cuts.push(end);
        at += end;
      }
      assert.deepEqual(lengths(await chunksOf(data, params, [4093])), cuts);
    }
  });

  it('findBoundary looks only at data[0..len) and returns len when no cut is in it', () => {
    const data = seeded('raic cdc len', 4 * MiB);
    const first = findBoundary(data, DEFAULT_CDC.maxSize, DEFAULT_CDC);
    assert.ok(first >= DEFAULT_CDC.minSize && first < DEFAULT_CDC.maxSize);
    assert.equal(findBoundary(data, first - 1, DEFAULT_CDC), first - 1);
    assert.equal(findBoundary(data, first, DEFAULT_CDC), first);
    assert.equal(findBoundary(data.subarray(0, 10), 10, DEFAULT_CDC), 10);
  });

  it('matches the pinned golden boundaries (a change here changes dedup: it needs a new CDC_ID)', async () => {
    const big = lengths(await chunksOf(seeded('raic cdc golden', 16 * MiB)));
    assert.deepEqual(big.slice(0, 8), GOLDEN_DEFAULT);
    const small = lengths(await chunksOf(seeded('raic cdc golden small', 64 * 1024), SMALL));
    assert.deepEqual(small.slice(0, 8), GOLDEN_SMALL);
  });

  /** Offsets spread over `length` bytes by a fixed rule: the same every run. */
  const spread = (length: number, count: number): number[] => Array.from({ length: count }, (_, i) => Math.floor(((i * 0.6180339887) % 1) * length));
  /** Offsets that touch neither the 32-byte hash window of a cut point nor the cut itself. */
  const clearOfCuts = (chunks: Buffer[], xs: number[]): number[] => {
    const ends = chunks.map((_, i) => chunks.slice(0, i + 1).reduce((n, c) => n + c.length, 0));
    return xs.filter((x) => ends.every((end) => x < end - 32 || x >= end));
  };

  it('resists shifts: inserting one byte changes at most 2 chunks, all others identical', async () => {
    const data = seeded('raic cdc shift', 32 * MiB);
    const before = await chunksOf(data);
    const firstCut = before[0]!.length;
    const offsets = [0, 1, 777, firstCut - 32, firstCut, firstCut + 5, 13 * MiB + 12345, data.length - 1, data.length];
    for (const x of [...offsets, ...clearOfCuts(before, spread(data.length, 12))]) {
      const edited = Buffer.concat([data.subarray(0, x), Buffer.from([0x5a]), data.subarray(x)]);
      const after = await chunksOf(edited);
      const { added, removed } = changed(before, after);
      assert.ok(added >= 1 && added <= 2 && removed <= 2, `insert at ${x}: ${added} new, ${removed} gone of ${before.length}`);
      assert.ok(Math.abs(after.length - before.length) <= 1);
    }
  });

  it('changing one byte changes exactly 1–2 chunks', async () => {
    const data = seeded('raic cdc edit', 32 * MiB);
    const before = await chunksOf(data);
    const firstCut = before[0]!.length;
    const offsets = [0, firstCut - 33, firstCut, 9 * MiB + 4321, data.length - 1];
    for (const x of [...offsets, ...clearOfCuts(before, spread(data.length, 12))]) {
      const edited = Buffer.from(data);
      edited[x] = edited[x]! ^ 0xff;
      const { added, removed } = changed(before, await chunksOf(edited));
      assert.ok(added >= 1 && added <= 2 && removed >= 1 && removed <= 2, `edit at ${x}: ${added} new, ${removed} gone`);
    }
  });

  it('resynchronises within a few chunks when an edit erases a cut point', async () => {
    // An edit in the 32 bytes before a cut can erase it. The merged chunk then ends at a point the old
    // chunking skipped (cut-point skipping and normalization count from a chunk's start), and so can the
    // next few, until a cut coincides again. Measured on this input: 1 to 6 chunks; about 32 in 1.2 MiB
    // of random single-byte edits land there, so the mean cost of an edit stays about one chunk.
    const data = seeded('raic cdc shift', 32 * MiB);
    const before = await chunksOf(data);
    let end = 0;
    for (const chunk of before.slice(0, 6)) {
      end += chunk.length;
      for (const x of [end - 31, end - 1]) {
        const inserted = await chunksOf(Buffer.concat([data.subarray(0, x), Buffer.from([0x5a]), data.subarray(x)]));
        const flipped = Buffer.from(data);
        flipped[x] = flipped[x]! ^ 0xff;
        for (const after of [inserted, await chunksOf(flipped)]) {
          const { added, removed } = changed(before, after);
          assert.ok(added >= 1 && added <= 8 && removed >= 1 && removed <= 8, `edit at ${x}: ${added} new, ${removed} gone`);
          // Everything from ~15 MiB on is untouched.
          assert.deepEqual(after.slice(-16).map(sha), before.slice(-16).map(sha), `edit at ${x}`);
        }
      }
    }
  });

  it('yields nothing for empty input, one chunk for one byte', async () => {
    assert.deepEqual(await chunksOf(new Uint8Array(0)), []);
    const one = await chunksOf(Uint8Array.of(42));
    assert.equal(one.length, 1);
    assert.deepEqual([...one[0]!], [42]);
  });

  it('handles input of exactly maxSize, and cuts at maxSize when the content never matches', async () => {
    const random = seeded('raic cdc max', DEFAULT_CDC.maxSize);
    const chunks = await chunksOf(random);
    assert.ok(Buffer.concat(chunks).equals(random));
    for (const c of chunks) assert.ok(c.length <= DEFAULT_CDC.maxSize);
    // All zeros hash to a constant whose top bits are not zero: only the size limit cuts.
    assert.deepEqual(lengths(await chunksOf(new Uint8Array(DEFAULT_CDC.maxSize))), [DEFAULT_CDC.maxSize]);
    assert.deepEqual(lengths(await chunksOf(new Uint8Array(DEFAULT_CDC.maxSize + 1))), [DEFAULT_CDC.maxSize, 1]);
    assert.deepEqual(lengths(await chunksOf(new Uint8Array(3 * DEFAULT_CDC.maxSize), DEFAULT_CDC, [999_999])), [
      DEFAULT_CDC.maxSize,
      DEFAULT_CDC.maxSize,
      DEFAULT_CDC.maxSize,
    ]);
  });

  it('gives each chunk its own ArrayBuffer from the allocator, at offset 0, and takes no spare one', async () => {
    const given = new Set<ArrayBuffer>();
    const alloc = (): ArrayBuffer => {
      const b = new ArrayBuffer(SMALL.maxSize);
      given.add(b);
      return b;
    };
    const seen = new Set<ArrayBufferLike>();
    for await (const c of cdcChunks(pieces(seeded('raic cdc alloc', 200_000), [5000]), SMALL, alloc)) {
      assert.equal(c.byteOffset, 0);
      assert.ok(given.has(c.buffer as ArrayBuffer));
      assert.ok(!seen.has(c.buffer));
      seen.add(c.buffer);
    }
    assert.ok(seen.size > 10);
    assert.equal(given.size, seen.size);
  });

  it('refuses a too-small buffer and parameters it cannot honour with Usage', async () => {
    const tooSmall = cdcChunks(pieces(new Uint8Array(10), [10]), SMALL, () => new ArrayBuffer(SMALL.maxSize - 1));
    await assert.rejects(tooSmall.next(), (e: unknown) => e instanceof RaicError && e.code === 'Usage');
    for (const bad of [
      { minSize: 4096, avgSize: 4096, maxSize: 16384 },
      { minSize: 1024, avgSize: 5000, maxSize: 16384 },
      { minSize: 1024, avgSize: 4096, maxSize: 4096 },
      { minSize: 16, avgSize: 4096, maxSize: 16384 },
    ]) {
      assert.throws(() => findBoundary(new Uint8Array(10), 10, bad), (e: unknown) => e instanceof RaicError && e.code === 'Usage', JSON.stringify(bad));
    }
  });
});

/** First chunk lengths of seeded('raic cdc golden', 16 MiB) under DEFAULT_CDC. */
const GOLDEN_DEFAULT = [1091551, 1350758, 1254325, 1350409, 1990783, 2332642, 815896, 884059];
/** First chunk lengths of seeded('raic cdc golden small', 64 KiB) under SMALL. */
const GOLDEN_SMALL = [4893, 5264, 1457, 6138, 4825, 8373, 5248, 6523];
