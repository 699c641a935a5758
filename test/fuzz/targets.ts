/**
 * The fuzz targets: every parser of bytes that come from members (or from a user, or from whoever made a
 * capability), with valid inputs made by the real encoders, sealed with real keys where the parser opens
 * ciphertext, and what a wrong accept is for each.
 *
 * Sealed objects have two or three rows:
 * - "as stored": the sealed bytes mutated, opened as they would be (same name, same key). Any accepted input
 *   that differs from the original is a wrong accept: the hash in the name, the AEAD tag or the checksum must
 *   catch every change.
 * - "renamed" (content-addressed objects): the name recomputed as the hash of the mutated bytes, which any
 *   member can do; now only the AEAD tag stands between the member and the parser, and it must still refuse.
 * - "resealed": the plaintext mutated and sealed again with the real key — bytes a key holder (or whoever made
 *   a capability) can write. The parser behind the tag must not crash, and what it accepts must keep the
 *   format's promises (defined per target).
 * Structural parsers of authenticated or public bytes (ref lists, pack tables, tree blobs, frames, the array
 * config) are fed the mutated bytes directly; a wrong accept is a result that breaks the format's promises.
 */
import { isUtf8 } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { FRAME_OVERHEAD, frameChunk, unframeChunk } from '../../src/compress/index.js';
import { openRecord, type CatalogRecord } from '../../src/core/catalog.js';
import { AEAD_ID, HASH_ID, KEYED_HASH_ID, hash, open, seal } from '../../src/crypto/index.js';
import { COMPRESSION_ID } from '../../src/compress/index.js';
import { CODEC_ID, loadErasureCodec } from '../../src/erasure/index.js';
import { encodeArrayConfig, newArrayConfig, parseArrayConfig } from '../../src/store/array-config.js';
import { formatCapability, parseCapability } from '../../src/store/capability.js';
import { openChunk, sealChunk } from '../../src/store/chunk-codec.js';
import { ENTRY_BYTES, REF_BYTES, decodeRefList, encodeRefList, type ChunkEntry, type ChunkRef } from '../../src/store/chunk-ref.js';
import { ForwardRecord, encodeForwardRecord, type ForwardMove } from '../../src/store/forwarding.js';
import { decodeIndexSegment } from '../../src/store/index-store.js';
import { isKeyTombstone, newKeyObject, parseKeyObject, repoKeys, sealKeyTombstone } from '../../src/store/keyring.js';
import { keyObjectKey } from '../../src/store/layout.js';
import { openLock, type LockPayload } from '../../src/store/locks.js';
import { decodePage, encodePage, manifestRoot, openManifest, sealManifest, streamRefFromJson, streamRefToJson, type ManifestRoot, type StreamRef } from '../../src/store/manifest.js';
import { openMemberList } from '../../src/store/member-list.js';
import { encodePack, encodePackTable, locateRange, parsePackTable, tableLengthOf, type PackTable } from '../../src/store/pack-codec.js';
import { openPackTrailer } from '../../src/store/pack-trailer.js';
import { TRAILER_MAGIC } from '../../src/store/pack-writer.js';
import { decodeTree, encodeTree, type TreeNode } from '../../src/tree/node.js';
import type { ErrorCode } from '../../src/errors.js';
import { target, type Target, type Verdict } from './harness.js';
import { Rng, type Field, type Seed } from './mutate.js';

// Additional data of sealed objects, as the format fixes them (a wrong one makes every seed fail to open).
const MANIFEST_AD = Buffer.from('raic manifest v1');
const INDEX_AD = Buffer.from('raic index v2');
const INDEX_MAGIC = 'RAICIDX2';
const CATALOG_AD = Buffer.from('raic catalog v1');

const wrong = (why: string): Verdict => ({ wrong: why });
/** What an authenticating parser's acceptance means: only the original bytes may pass. */
const onlyOriginal = (same: boolean, what: string): Verdict => (same ? 'accepted' : wrong(`accepted altered ${what}`));
/** A structural check's verdict: null = the result keeps the format's promises. */
const judged = (problem: string | null): Verdict => (problem === null ? 'accepted' : wrong(problem));

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isString = (v: unknown): v is string => typeof v === 'string';
const isStringList = (v: unknown): boolean => Array.isArray(v) && v.every(isString);

function entryOf(rng: Rng, pack = rng.bytes(16), offset = rng.int(2 ** 31)): ChunkEntry {
  const size = rng.int(1 << 20);
  return { id: rng.bytes(32), pack, offset, length: size + 41, size, meta: rng.int(2) === 1, key: rng.bytes(32) };
}

/** The length/count fields of a ref list at `at`: its count, and the first ref's offset, length, size, flags. */
const refListFields = (at: number): Field[] => [{ at: at + 8, width: 4 }, { at: at + 12 + 48, width: 4 }, { at: at + 12 + 52, width: 4 }, { at: at + 12 + 56, width: 4 }, { at: at + 12 + 60, width: 1 }];

/** A ref list that re-encodes to the very bytes it came from (so counts, lengths and flags are all sound). */
function refListProblem(bytes: Buffer, magic: string, refs: readonly ChunkRef[], withKeys: boolean): string | null {
  if (bytes.length !== 12 + refs.length * (withKeys ? ENTRY_BYTES : REF_BYTES)) return `${refs.length} refs in ${bytes.length} bytes`;
  return encodeRefList(magic, refs, withKeys).equals(bytes) ? null : 'the accepted list does not re-encode to its bytes';
}

/** A StreamRef keeps its promises: counts are counts, and a depth-0 ref's entries are its chunks and size. */
function streamProblem(s: Pick<StreamRef, 'size' | 'chunks' | 'depth' | 'entries'>): string | null {
  if (!isCount(s.size) || !isCount(s.chunks) || !isCount(s.depth)) return `size/chunks/depth ${s.size}/${s.chunks}/${s.depth} are not counts`;
  if (s.depth === 0 && (s.chunks !== s.entries.length || s.size !== s.entries.reduce((a, e) => a + e.size, 0))) {
    return `a depth-0 stream of ${s.entries.length} entries (${s.entries.reduce((a, e) => a + e.size, 0)} bytes) claims ${s.chunks} chunks of ${s.size} bytes`;
  }
  return null;
}

const jsonSeed = (bytes: Buffer): Seed => ({ bytes, json: { at: 0, end: bytes.length } });

/** "as stored" and "renamed"/"resealed" rows share this: the verdict of a call that may return null/false. */
function accepted<T>(result: T | null | false, then: (r: T) => Verdict): Verdict {
  return result === null || result === false ? 'rejected' : then(result);
}

/**
 * A sealed, replicated object: "as stored" (its sealed bytes mutated) and "resealed" (its plaintext mutated and
 * sealed again with the real key) rows. `problem` says what an accepted plaintext must be.
 */
function sealedPair<T>(
  name: string,
  codes: readonly ErrorCode[],
  plains: readonly Seed[],
  sealWith: (plain: Buffer) => Uint8Array,
  openWith: (sealed: Buffer) => T,
  problem: (result: T) => string | null,
): Target[] {
  const stored = plains.map((p) => ({ bytes: Buffer.from(sealWith(p.bytes)) }));
  return [
    target({ name: `${name} (as stored)`, codes, seeds: stored, run: (input, _s, same) => (openWith(input), onlyOriginal(same, name)) }),
    target({ name: `${name} (resealed)`, codes, seeds: plains, run: (input) => judged(problem(openWith(Buffer.from(sealWith(input))))) }),
  ];
}

function capabilityTargets(rng: Rng, arrayId: string): Target[] {
  const seeds = (['file', 'tree'] as const).map((kind) => ({ bytes: Buffer.from(formatCapability(arrayId, rng.bytes(32).toString('hex'), rng.bytes(32), kind)) }));
  // Wrong accept: a capability whose fields differ from the original's (the check digits must catch every edit
  // that matters; whitespace around it is trimmed, so those edits parse to the same capability).
  return [
    target({
      name: 'capability',
      codes: ['Usage'],
      seeds,
      run: (input, seed) => (isDeepStrictEqual(parseCapability(input.toString('utf8')), parseCapability(seed.bytes.toString('utf8'))) ? 'accepted' : wrong('accepted an altered capability')),
    }),
  ];
}

async function keyTargets(master: Buffer, arrayId: string): Promise<Target[]> {
  const made = await Promise.all([0, 1].map((i) => newKeyObject(master, `pass ${i}`, arrayId, { cost: 'insecure-test', user: `user${i}`, host: 'host' })));
  const seeds = made.map((m) => ({ ...jsonSeed(m.body), key: m.key }));
  const tombstones = ['00112233445566778899aabbccddeeff', 'ffeeddccbbaa99887766554433221100'].map((id) => ({ bytes: sealKeyTombstone(master, id), id }));
  return [
    // Wrong accept: any altered body accepted under its original name (the name is the body's hash).
    target({ name: 'key object (as stored)', codes: [], seeds, run: (input, seed, same) => accepted(parseKeyObject(seed.key, input), () => onlyOriginal(same, 'key object')) }),
    // Renamed: any member can store any body under its hash. Wrong accept: a body accepted without the shape
    // newKeyObject writes, or with a KDF asking more than init writes (t ≤ 3, m ≤ 64 MiB).
    target({
      name: 'key object (renamed)',
      codes: [],
      seeds,
      run: (input) =>
        accepted(parseKeyObject(keyObjectKey(hash(input).toString('hex').slice(0, 32)), input), (o) => {
          const k = o.kdf as unknown as Record<string, unknown>;
          const kdfOk = k.alg === 'argon2id13' && isCount(k.opslimit) && (k.opslimit as number) >= 1 && (k.opslimit as number) <= 3 && isCount(k.memlimit) && (k.memlimit as number) <= 64 * 2 ** 20 && isString(k.salt) && Buffer.from(k.salt, 'base64').length === 16;
          return judged(o.version === 1 && isString(o.wrapped) && isString(o.createdAt) && (o.owner === undefined || isString(o.owner)) && kdfOk ? null : `accepted a malformed key object ${JSON.stringify(o)}`);
        }),
    }),
    // Wrong accept: altered tombstone bytes judged sound (AEAD).
    target({ name: 'key tombstone', codes: [], seeds: tombstones, run: (input, seed, same) => accepted(isKeyTombstone(master, seed.id, input), () => onlyOriginal(same, 'tombstone')) }),
  ];
}

function manifestTargets(rng: Rng): Target[] {
  const capKey = rng.bytes(32);
  const roots: ManifestRoot[] = [
    manifestRoot('file', { size: 0, chunks: 0, depth: 0, entries: [] }, '2025-01-02T03:04:05.000Z'),
    (() => {
      const entries = [0, 1, 2].map(() => entryOf(rng));
      return manifestRoot('file', { size: entries.reduce((a, e) => a + e.size, 0), chunks: 3, depth: 0, entries }, '2025-01-02T03:04:05.000Z');
    })(),
    manifestRoot('tree', { size: 2 ** 40, chunks: 5000, depth: 1, entries: [entryOf(rng), entryOf(rng)] }, '2025-01-02T03:04:05.000Z'),
  ];
  const sealed = roots.map((r) => {
    const { id, sealed: bytes } = sealManifest(r, capKey);
    return { bytes: Buffer.from(bytes), id };
  });
  const plains = sealed.map((s): Seed => {
    const bytes = Buffer.from(open(capKey, s.bytes, MANIFEST_AD));
    const headerEnd = 12 + bytes.readUInt32BE(8);
    return { bytes, fields: [{ at: 8, width: 4 }, ...refListFields(headerEnd)], json: { at: 12, end: headerEnd, lengthAt: 8 } };
  });
  const pages = [0, 1, 3].map((n) => ({ bytes: encodePage(Array.from({ length: n }, () => entryOf(rng))), fields: refListFields(0) }));
  return [
    // Wrong accept (both): any altered bytes opened. The id is the capability's; then the hash of the bytes.
    target({ name: 'manifest (as stored)', codes: ['Integrity', 'Usage'], seeds: sealed, run: (input, seed, same) => (openManifest(seed.id, input, capKey), onlyOriginal(same, 'manifest')) }),
    target({ name: 'manifest (renamed)', codes: ['Integrity', 'Usage'], seeds: sealed, run: (input, _s, same) => (openManifest(hash(input).toString('hex'), input, capKey), onlyOriginal(same, 'manifest')) }),
    // Resealed: what a capability's maker can write. Wrong accept: a header that is not a ManifestHeader
    // (kind file|tree, counts, createdAt a string), a depth-0 root whose entries are not its chunks and size,
    // or an entry list that does not re-encode to its bytes.
    target({
      name: 'manifest (resealed)',
      codes: ['Integrity', 'Usage'],
      seeds: plains,
      run: (input) => {
        const sealedNow = Buffer.from(seal(capKey, input, MANIFEST_AD));
        const root = openManifest(hash(sealedNow).toString('hex'), sealedNow, capKey);
        const h = root.header as unknown as Record<string, unknown>;
        if (typeof h !== 'object' || h === null || (h.kind !== 'file' && h.kind !== 'tree') || !isString(h.createdAt)) return wrong(`accepted header ${JSON.stringify(h)}`);
        return judged(streamProblem({ ...root.header, entries: root.entries }) ?? refListProblem(input.subarray(12 + input.readUInt32BE(8)), 'RAICPAG2', root.entries, true));
      },
    }),
    // Wrong accept: a page that does not re-encode to its bytes (count × 93 + 12 = length, flags sound).
    target({ name: 'manifest page (decodePage)', codes: ['Integrity'], seeds: pages, run: (input) => judged(refListProblem(input, 'RAICPAG2', decodePage(input), true)) }),
  ];
}

function streamRefTarget(rng: Rng): Target {
  const entries = [entryOf(rng), entryOf(rng)];
  const refs: StreamRef[] = [
    { size: entries.reduce((a, e) => a + e.size, 0), chunks: 2, depth: 0, entries },
    { size: 2 ** 33, chunks: 9000, depth: 1, entries: [entryOf(rng)] },
  ];
  // Wrong accept: see streamProblem. Bytes that are not JSON never reach the parser (decodeTree parses them).
  return target({
    name: 'stream ref (streamRefFromJson)',
    codes: ['Integrity'],
    seeds: refs.map((r) => jsonSeed(Buffer.from(JSON.stringify(streamRefToJson(r))))),
    run: (input) => {
      let j: unknown;
      try {
        j = JSON.parse(input.toString('utf8'));
      } catch {
        return 'rejected';
      }
      return judged(streamProblem(streamRefFromJson(j as Parameters<typeof streamRefFromJson>[0])));
    },
  });
}

function indexTargets(rng: Rng, indexKey: Buffer): Target[] {
  const lists = [0, 1, 4].map((n) => encodeRefList(INDEX_MAGIC, Array.from({ length: n }, () => entryOf(rng))));
  const sealed = lists.map((l) => {
    const bytes = Buffer.from(seal(indexKey, l, INDEX_AD));
    return { bytes, id: hash(bytes).toString('hex') };
  });
  const reseal = (plain: Buffer): { bytes: Buffer; id: string } => {
    const bytes = Buffer.from(seal(indexKey, plain, INDEX_AD));
    return { bytes, id: hash(bytes).toString('hex') };
  };
  const plains = lists.map((bytes) => ({ bytes, fields: refListFields(0) }));
  return [
    // Wrong accept: a ref list that does not re-encode to its bytes (count × 61 + 12 = length, flags sound).
    target({ name: 'ref list (decodeRefList)', codes: ['Integrity'], seeds: plains, run: (input) => judged(refListProblem(input, INDEX_MAGIC, decodeRefList(INDEX_MAGIC, input), false)) }),
    // Wrong accept (stored, renamed): any altered segment decoded. Resealed: see refListProblem.
    target({ name: 'index segment (as stored)', codes: ['Integrity'], seeds: sealed, run: (input, seed, same) => (decodeIndexSegment(indexKey, seed.id, input), onlyOriginal(same, 'index segment')) }),
    target({ name: 'index segment (renamed)', codes: ['Integrity'], seeds: sealed, run: (input, _s, same) => (decodeIndexSegment(indexKey, hash(input).toString('hex'), input), onlyOriginal(same, 'index segment')) }),
    target({
      name: 'index segment (resealed)',
      codes: ['Integrity'],
      seeds: plains,
      run: (input) => {
        const s = reseal(input);
        return judged(refListProblem(input, INDEX_MAGIC, decodeIndexSegment(indexKey, s.id, s.bytes), false));
      },
    }),
  ];
}

function trailerTargets(rng: Rng, indexKey: Buffer): Target[] {
  const id = rng.bytes(16);
  const trailerAt = 10_000_000;
  const plains = [0, 1, 3].map((n) => ({ bytes: encodeRefList(TRAILER_MAGIC, Array.from({ length: n }, () => entryOf(rng, id, rng.int(trailerAt / 2)))), fields: refListFields(0) }));
  // Wrong accept (stored): any altered trailer opened. Resealed: a ref naming another pack or bytes past the
  // trailer's start, or a list that does not re-encode to its bytes.
  return sealedPair(
    'pack trailer',
    ['Integrity'],
    plains,
    (plain) => seal(indexKey, plain, id),
    (sealed) => ({ refs: openPackTrailer(indexKey, id, sealed, trailerAt), sealed }),
    ({ refs, sealed }) => {
      const bad = refs.find((r) => !r.pack.equals(id) || r.offset + r.length > trailerAt);
      return bad ? `a ref at ${bad.offset}+${bad.length} of pack ${bad.pack.toString('hex')}` : refListProblem(Buffer.from(open(indexKey, sealed, id)), TRAILER_MAGIC, refs, false);
    },
  );
}

async function packTableTargets(rng: Rng): Promise<Target[]> {
  const shapes = [
    { k: 4, n: 6, body: 5000, trailer: 300, region: 1024 },
    { k: 2, n: 3, body: 1, trailer: 0, region: 64 * 1024 },
    { k: 3, n: 5, body: 300_000, trailer: 1000, region: 64 * 1024 },
  ];
  const fields: Field[] = [{ at: 24, width: 1 }, { at: 25, width: 1 }, { at: 26, width: 4 }, { at: 30, width: 6 }, { at: 36, width: 4 }, { at: 40, width: 4 }];
  const seeds = await Promise.all(
    shapes.map(async (s) => {
      const id = rng.bytes(16);
      const p = encodePack(rng.bytes(s.body), await loadErasureCodec(s.k, s.n), id, s.trailer, s.region);
      return { bytes: p.tableBytes, fields, id, shape: { k: s.k, n: s.n }, table: p.table, header: p.objects[0]!.subarray(0, 12) };
    }),
  );
  const ranges = seeds.flatMap((s) =>
    [[0, 1], [0, s.table.bodyBytes], [s.table.bodyBytes - 1, 1], [Math.floor(s.table.bodyBytes / 3), Math.ceil(s.table.bodyBytes / 2)]].map(([offset, length]) => {
      const bytes = Buffer.alloc(10);
      bytes.writeUIntBE(offset!, 0, 6);
      bytes.writeUInt32BE(length!, 6);
      return { bytes, fields: [{ at: 0, width: 6 }, { at: 6, width: 4 }] as Field[], table: s.table };
    }),
  );
  return [
    // Wrong accept: a table that names another object or shape, has an impossible geometry (regions under
    // 1 KiB, body 0 or over 4 GiB, shareLen ≠ ceil(body / k), trailer longer than the body), a hash list of
    // another length, or does not re-encode to its bytes.
    target({
      name: 'pack table (parsePackTable)',
      codes: ['Integrity'],
      seeds,
      run: (input, seed) => {
        const t = parsePackTable(input, seed.id, seed.shape);
        const geometryOk = t.id.equals(seed.id) && t.k === seed.shape.k && t.n === seed.shape.n && t.regionBytes >= 1024 && t.bodyBytes >= 1 && t.bodyBytes <= 2 ** 32 - 1 && t.shareLen === Math.ceil(t.bodyBytes / t.k) && t.trailerBytes <= t.bodyBytes;
        if (!geometryOk || t.hashes.length !== t.n * Math.ceil(t.shareLen / t.regionBytes) * 16) return wrong(`accepted geometry ${JSON.stringify({ ...t, hashes: t.hashes.length })}`);
        return judged(encodePackTable(t).equals(input) ? null : 'the table does not re-encode to its bytes');
      },
    }),
    // Wrong accept: a table length other than the header's u32, or outside [44 B, 4 MiB], or a wrong magic.
    target({
      name: 'object header (tableLengthOf)',
      codes: ['Integrity'],
      seeds: seeds.map((s) => ({ bytes: Buffer.from(s.header), fields: [{ at: 8, width: 4 }] as Field[] })),
      run: (input) => {
        const len = tableLengthOf(input);
        return judged(input.toString('latin1', 0, 8) === 'RAICPK03' && len === input.readUInt32BE(8) && len >= 44 && len <= 4 * 1024 * 1024 ? null : `accepted table length ${len}`);
      },
    }),
    // Input: offset u48 ‖ length u32 of a range in a parsed table's body. Wrong accept: pieces that do not
    // cover exactly [offset, offset + length) of the body, in order, within data shares.
    target({
      name: 'range (locateRange)',
      codes: ['Integrity'],
      seeds: ranges,
      run: (input, seed) => {
        if (input.length < 10) return 'rejected';
        const [offset, length] = [input.readUIntBE(0, 6), input.readUInt32BE(6)];
        return judged(rangeProblem(seed.table, offset, length, locateRange(seed.table, offset, length)));
      },
    }),
  ];
}

function rangeProblem(t: PackTable, offset: number, length: number, pieces: ReturnType<typeof locateRange>): string | null {
  if (offset + length > t.bodyBytes || length < 1) return `accepted ${offset}+${length} in a ${t.bodyBytes}-byte body`;
  let at = offset;
  for (const p of pieces) {
    if (p.share < 0 || p.share >= t.k || p.from < 0 || p.to > t.shareLen || p.from >= p.to || p.share * t.shareLen + p.from !== at) return `piece ${JSON.stringify(p)} does not continue at ${at}`;
    at += p.to - p.from;
  }
  return at === offset + length ? null : `pieces cover ${at - offset} bytes, not ${length}`;
}

function forwardingTargets(rng: Rng): Target[] {
  const oldPack = rng.bytes(16);
  const moves: ForwardMove[] = [0, 1, 2].map(() => ({ id: rng.bytes(32), key: rng.bytes(32), to: { pack: rng.bytes(16), offset: rng.int(2 ** 31) * 1000, length: rng.int(2 ** 31) } }));
  const stranger = { id: rng.bytes(32), key: rng.bytes(32) };
  /** Looks up every move and a chunk the record does not name; a location other than the true one is wrong. */
  const lookups = (r: ForwardRecord): Verdict => {
    for (const m of moves) {
      const loc = r.lookup(m);
      if (loc && !(loc.pack.equals(m.to.pack) && loc.offset === m.to.offset && loc.length === m.to.length)) return wrong(`forwarded a chunk to ${loc.pack.toString('hex')}@${loc.offset}`);
    }
    return r.lookup(stranger) === null ? 'accepted' : wrong('forwarded a chunk the record does not name');
  };
  // Generation 0 (the layout before generations: count at 8) and a later one (generation at 8, count at 12).
  return [0, 3].flatMap((generation) => {
    const records = [moves, moves.slice(0, 1), []].map((m) => encodeForwardRecord(oldPack, generation, m));
    const fields: Field[] = generation === 0 ? [{ at: 8, width: 4 }] : [{ at: 8, width: 4 }, { at: 12, width: 4 }];
    const name = `forwarding record${generation === 0 ? ', generation 0' : ''}`;
    return [
      // Wrong accept: any altered record decoded (its checksum must catch accidental damage).
      target({ name: `${name} (as stored)`, codes: ['Integrity'], seeds: records.map((bytes) => ({ bytes, fields })), run: (input, _s, same) => (ForwardRecord.decode(oldPack, generation, input), onlyOriginal(same, 'forwarding record')) }),
      // Checksum recomputed, as a provider altering it on purpose would. Wrong accept: a lookup that returns a
      // location other than where the chunk went (only availability may suffer: null or Integrity).
      target({
        name: `${name} (reforged)`,
        codes: ['Integrity'],
        seeds: records.map((b) => ({ bytes: b.subarray(0, b.length - 32), fields })),
        run: (input) => lookups(ForwardRecord.decode(oldPack, generation, Buffer.concat([input, hash(input)]))),
      }),
    ];
  });
}

/** A tree node as the format defines it (tree/node.ts, DESIGN.md): null when it is one, else what is wrong. */
function nodeProblem(n: TreeNode): string | null {
  const decimal = (v: unknown, signed: boolean): boolean => isString(v) && (signed ? /^-?\d+$/ : /^\d+$/).test(v);
  const raw = n.name?.startsWith?.('\u0000') ? Buffer.from(n.name.slice(1), 'base64url') : null;
  const nameOk =
    isString(n.name) &&
    n.name !== '' &&
    n.name !== '.' &&
    n.name !== '..' &&
    !n.name.includes('/') &&
    (raw === null ? !n.name.includes('\u0000') : raw.length > 0 && raw.toString('base64url') === n.name.slice(1) && !raw.includes(0x2f) && !raw.includes(0) && !isUtf8(raw));
  if (!nameOk) return `a node named ${JSON.stringify(n.name)} (not one path component)`;
  const fieldsOk =
    ['file', 'dir', 'symlink'].includes(n.type) &&
    Number.isInteger(n.mode) &&
    n.mode >= 0 &&
    n.mode <= 0o7777 &&
    decimal(n.mtimeNs, true) &&
    isCount(n.size) &&
    isCount(n.uid) &&
    isCount(n.gid) &&
    (n.ctimeNs === undefined || decimal(n.ctimeNs, true)) &&
    (n.ino === undefined || decimal(n.ino, false)) &&
    (n.dev === undefined || decimal(n.dev, false)) &&
    (n.target === undefined || isString(n.target));
  if (!fieldsOk) return `a malformed node ${JSON.stringify(n)}`;
  return (n.content && streamProblem(n.content)) || (n.subtree && streamProblem(n.subtree)) || null;
}

function treeTarget(rng: Rng): Target {
  const content = (n: number): StreamRef => {
    const entries = Array.from({ length: n }, () => entryOf(rng));
    return { size: entries.reduce((a, e) => a + e.size, 0), chunks: n, depth: 0, entries };
  };
  const base = { mode: 0o644, mtimeNs: '1700000000123456789', uid: 1000, gid: 1000 };
  const trees: TreeNode[][] = [
    [
      { ...base, name: 'a.txt', type: 'file', size: 0, ctimeNs: '1700000000123456789', ino: '12345', dev: '2049', content: content(0) },
      { ...base, name: 'b.bin', type: 'file', size: 0, ctimeNs: '-5', ino: '1', dev: '2', content: content(2) },
      { ...base, name: 'dir', type: 'dir', mode: 0o755, size: 0, subtree: content(1) },
      { ...base, name: 'link', type: 'symlink', size: 0, target: '../a.txt' },
      { ...base, name: '\u0000' + Buffer.from([0x66, 0xe9, 0x6f]).toString('base64url'), type: 'file', size: 0, content: content(0) }, // Latin-1 "féo"
    ],
    [],
  ];
  trees[0]![1]!.size = trees[0]![1]!.content!.size;
  // Wrong accept: a node that is not a TreeNode (name one path component: not empty, ".", "..", without "/"
  // or NUL, its raw form canonical base64url of bytes that are not UTF-8; fields of their types; decimal
  // times, inode and device; sound stream refs), or nodes that do not survive re-encoding.
  return target({
    name: 'tree blob (decodeTree)',
    codes: ['Integrity'],
    seeds: trees.map((t) => jsonSeed(encodeTree(t))),
    run: (input) => {
      const nodes = decodeTree(input);
      for (const n of nodes) {
        const p = nodeProblem(n);
        if (p) return wrong(p);
      }
      return judged(isDeepStrictEqual(decodeTree(encodeTree(nodes)), [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) ? null : 'the nodes do not survive re-encoding');
    },
  });
}

function catalogTargets(rng: Rng, master: Buffer): Target[] {
  const keys = repoKeys(master);
  const id = rng.bytes(32).toString('hex');
  const records: CatalogRecord[] = [
    { kind: 'tree', manifestId: id, capability: 'raic:tree:1:x', time: '2025-01-02T03:04:05.000Z', host: 'h', paths: ['/home/a', '/etc'], tags: ['t'], stats: { files: 3, dirs: 1, bytes: 100, newBytes: 10 }, parent: rng.bytes(32).toString('hex') },
    { kind: 'file', manifestId: id, capability: 'raic:file:1:x', time: '2025-01-02T03:04:05.000Z', host: 'h', paths: ['-'], tags: [], stats: { files: 1, bytes: 5, newBytes: 5 } },
  ];
  // Wrong accept (resealed): a record that is not a CatalogRecord of this id (kind file|tree, the id, strings,
  // string lists, stats of counts, parent absent or a string).
  return sealedPair(
    'catalog record',
    ['Integrity'],
    records.map((r) => jsonSeed(Buffer.from(JSON.stringify(r)))),
    (plain) => seal(keys.catalog, plain, CATALOG_AD),
    (sealed) => openRecord(keys, id, sealed),
    (r) => {
      const s = r.stats as unknown as Record<string, unknown> | null;
      const ok =
        (r.kind === 'file' || r.kind === 'tree') &&
        r.manifestId === id &&
        isString(r.capability) &&
        isString(r.time) &&
        isString(r.host) &&
        isStringList(r.paths) &&
        isStringList(r.tags) &&
        typeof s === 'object' &&
        s !== null &&
        !Array.isArray(s) &&
        isCount(s.files) &&
        isCount(s.bytes) &&
        isCount(s.newBytes) &&
        (s.dirs === undefined || isCount(s.dirs)) &&
        (r.parent === undefined || isString(r.parent));
      return ok ? null : `accepted record ${JSON.stringify(r)}`;
    },
  );
}

function lockTargets(master: Buffer): Target[] {
  const key = 'locks/00112233445566778899aabbccddeeff';
  const lockKey = repoKeys(master).locks;
  const payloads: LockPayload[] = [
    { v: 1, exclusive: false, host: 'h', pid: 4242, user: 'u', time: '2025-01-02T03:04:05.000Z', refreshedAt: '2025-01-02T03:09:05.000Z', command: 'backup' },
    { v: 1, exclusive: true, host: 'other', pid: 1, user: 'root', time: '2025-01-02T03:04:05.000Z', refreshedAt: '2025-01-02T03:04:05.000Z', command: 'prune' },
  ];
  // Wrong accept (resealed): a payload that is not a LockPayload (v 1, a boolean, strings, a safe-integer
  // pid, dates that parse).
  return sealedPair(
    'lock',
    ['Integrity'],
    payloads.map((p) => jsonSeed(Buffer.from(JSON.stringify(p)))),
    (plain) => seal(lockKey, plain, Buffer.from(`raic lock v1 ${key}`)),
    (sealed) => openLock(lockKey, key, sealed),
    (p) => {
      const ok = p.v === 1 && typeof p.exclusive === 'boolean' && isString(p.host) && isString(p.user) && isString(p.command) && Number.isSafeInteger(p.pid) && !Number.isNaN(Date.parse(p.time)) && !Number.isNaN(Date.parse(p.refreshedAt));
      return ok ? null : `accepted lock ${JSON.stringify(p)}`;
    },
  );
}

function memberListTargets(master: Buffer, arrayId: string): Target[] {
  const key = repoKeys(master).members;
  const lists = [
    { urls: ['file:///a', 's3://bucket/p?region=x', 'sftp://u@h/p'], updatedAt: '2025-01-02T03:04:05.000Z' },
    { urls: ['file:///only'], updatedAt: '2025-01-02T03:04:05.000Z' },
  ];
  // Wrong accept (resealed): a list whose urls are not a list of strings, or whose updatedAt is not a string.
  return sealedPair(
    'member list',
    ['Integrity'],
    lists.map((l) => jsonSeed(Buffer.from(JSON.stringify(l)))),
    (plain) => seal(key, plain, Buffer.from(`raic members v1 ${arrayId}`)),
    (sealed) => openMemberList(key, arrayId, sealed),
    (l) => (typeof l === 'object' && l !== null && isStringList(l.urls) && isString(l.updatedAt) ? null : `accepted member list ${JSON.stringify(l)}`),
  );
}

/** A framed chunk's zstd content-size field (little-endian), when its frame declares one. */
function contentSizeField(framed: Buffer, at: number): Field[] {
  if (framed[at] !== 1 || framed.length < at + 6) return [];
  const d = framed[at + 5]!;
  const width = [d >> 5 & 1 ? 1 : 0, 2, 4, 8][d >> 6]!;
  return width === 0 ? [] : [{ at: at + 6 + (d >> 5 & 1 ? 0 : 1) + [0, 1, 2, 4][d & 3]!, width: width as Field['width'], le: true }];
}

function chunkTargets(rng: Rng): Target[] {
  const convergenceKey = rng.bytes(32);
  const plaintexts = [Buffer.alloc(0), Buffer.from('hello, chunk'), rng.bytes(2000), Buffer.from('raic '.repeat(2000)), Buffer.alloc(70_000, 7)];
  const sized = (size: number, bytes: Uint8Array): Buffer => Buffer.concat([Buffer.from([size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255]), bytes]);
  const chunks = plaintexts.map((p) => {
    const c = sealChunk({ plaintext: p, convergenceKey, compression: 'auto' });
    const framed = sized(p.length, frameChunk(p, 'auto'));
    return { sealed: sized(p.length, c.sealed), framed, key: Buffer.from(c.key), plaintext: p };
  });
  // Inputs below are size u32 ‖ bytes: the size is the (authenticated) ref's, so length-field edits reach it.
  const split = (input: Buffer): { size: number; bytes: Buffer } => (input.length < 4 ? { size: 0, bytes: input } : { size: input.readUInt32BE(0), bytes: input.subarray(4) });
  const sizeField: Field = { at: 0, width: 4 };
  /** The declared bound every accepted frame keeps: exactly `size` bytes out; a stored frame's payload as it is. */
  const frameProblem = (framed: Buffer, size: number, out: Uint8Array): string | null =>
    out.length !== size ? `returned ${out.length} bytes for a ${size}-byte chunk` : framed[0] === 0 && !Buffer.from(out).equals(framed.subarray(FRAME_OVERHEAD)) ? 'a stored frame came out altered' : null;
  return [
    // Wrong accept: altered sealed bytes or a size other than the chunk's accepted (AEAD; the frame's size).
    target({
      name: 'chunk (openChunk, as stored)',
      codes: ['Integrity'],
      seeds: chunks.map((c) => ({ bytes: c.sealed, fields: [sizeField], key: c.key, plaintext: c.plaintext })),
      run: (input, seed) => {
        const { size, bytes } = split(input);
        return Buffer.from(openChunk({ sealed: bytes, key: seed.key, size })).equals(seed.plaintext) && size === seed.plaintext.length ? 'accepted' : wrong('opened an altered chunk');
      },
    }),
    // Resealed: the frame mutated and sealed again with the chunk's key (a capability's maker can). Wrong
    // accept: see frameProblem.
    target({
      name: 'chunk (openChunk, resealed)',
      codes: ['Integrity'],
      seeds: chunks.map((c) => ({ bytes: c.framed, fields: [sizeField, ...contentSizeField(c.framed, 4)], key: c.key })),
      run: (input, seed) => {
        const { size, bytes } = split(input);
        return judged(frameProblem(bytes, size, openChunk({ sealed: seal(seed.key, bytes), key: seed.key, size })));
      },
    }),
    // Wrong accept: see frameProblem.
    target({
      name: 'chunk frame (unframeChunk)',
      codes: ['Integrity'],
      seeds: chunks.map((c) => ({ bytes: c.framed, fields: [sizeField, ...contentSizeField(c.framed, 4)] })),
      run: (input) => {
        const { size, bytes } = split(input);
        return judged(frameProblem(bytes, size, unframeChunk(bytes, size)));
      },
    }),
  ];
}

function arrayConfigTarget(rng: Rng): Target {
  const seeds = [[2, 3, 0], [4, 6, 5]].map(([k, n, m]) => jsonSeed(encodeArrayConfig(newArrayConfig(rng.bytes(16).toString('hex'), k!, n!, m!, '2025-01-02T03:04:05.000Z'))));
  // Public plaintext any member can write. Wrong accept: a config that is not this format's (format raic,
  // version 3, a 32-hex-digit id, 1 ≤ k < n ≤ 255, 0 ≤ member < n, the algorithm ids this raic runs, createdAt
  // a string), or that does not survive re-encoding.
  return target({
    name: 'array config',
    codes: ['Integrity', 'Permanent'],
    seeds,
    run: (input) => {
      const c = parseArrayConfig(input, 'fuzz');
      const ok =
        c.format === 'raic' &&
        c.version === 3 &&
        /^[0-9a-f]{32}$/.test(c.arrayId) &&
        Number.isInteger(c.k) &&
        Number.isInteger(c.n) &&
        Number.isInteger(c.member) &&
        c.k >= 1 &&
        c.k < c.n &&
        c.n <= 255 &&
        c.member >= 0 &&
        c.member < c.n &&
        c.codec === CODEC_ID &&
        c.compression === COMPRESSION_ID &&
        c.aead === AEAD_ID &&
        c.keyedHash === KEYED_HASH_ID &&
        c.hash === HASH_ID &&
        isString(c.createdAt);
      if (!ok) return wrong(`accepted config ${JSON.stringify(c)}`);
      return judged(isDeepStrictEqual(parseArrayConfig(encodeArrayConfig(c), 'fuzz'), c) ? null : 'the config does not survive re-encoding');
    },
  });
}

/** Every target, its seeds made with fixtures drawn from `seed` (nonces are fresh: findings print their inputs). */
export async function allTargets(seed: number): Promise<Target[]> {
  const rng = new Rng(seed ^ 0x5eed);
  const master = rng.bytes(32);
  const arrayId = rng.bytes(16).toString('hex');
  const indexKey = repoKeys(master).index;
  return [
    ...capabilityTargets(rng, arrayId),
    ...(await keyTargets(master, arrayId)),
    ...manifestTargets(rng),
    streamRefTarget(rng),
    ...indexTargets(rng, indexKey),
    ...trailerTargets(rng, indexKey),
    ...(await packTableTargets(rng)),
    ...forwardingTargets(rng),
    treeTarget(rng),
    ...catalogTargets(rng, master),
    ...lockTargets(master),
    ...memberListTargets(master, arrayId),
    ...chunkTargets(rng),
    arrayConfigTarget(rng),
  ];
}
