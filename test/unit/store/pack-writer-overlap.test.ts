/**
 * PackWriter's packs in flight (pack-writer.ts, flush): with one, the next pack waits for the previous one's upload
 * before it is encoded; with two (a put), it is encoded while the previous one uploads, uploads still go one pack
 * after another in order, the writer holds at most two closed packs, and a failed upload fails the writer without
 * the packs after it being stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { loadErasureCodec } from '../../../src/erasure/index.js';
import { isRaicError } from '../../../src/errors.js';
import type { CallOptions } from '../../../src/providers/types.js';
import { packKey } from '../../../src/store/layout.js';
import { Members } from '../../../src/store/members.js';
import { PackWriter } from '../../../src/store/pack-writer.js';
import type { PackEncoder } from '../../../src/store/pack-encoder.js';
import { encodePackTask } from '../../../src/store/pack-encoder.js';
import { MemoryProvider } from '../../support/memory-provider.js';

const K = 2;
const N = 3;
const CHUNK = 40_000;
/** Two chunks per pack: the third closes the first pack. */
const TARGET = 2 * CHUNK + 100;

/** A member whose pack puts wait until `letThrough()` (puts of other objects go through). */
class GatedMember extends MemoryProvider {
  readonly putOrder: string[] = [];
  private gate: Promise<void>;
  private release!: () => void;
  fail = false;

  constructor(name: string) {
    super({ name });
    this.gate = new Promise((r) => (this.release = r));
  }

  letThrough(): void {
    this.release();
  }

  override async put(key: string, body: Uint8Array, opts?: CallOptions): Promise<void> {
    await this.gate;
    if (this.fail) throw new Error('disk on fire');
    this.putOrder.push(key);
    await super.put(key, body, opts);
  }
}

function setup(packsInFlight: number): { members: GatedMember[]; writer: PackWriter; encoded: () => number } {
  const members = Array.from({ length: N }, (_, i) => new GatedMember(`m${i}`));
  let encodes = 0;
  const encoder: PackEncoder = (task) => {
    encodes += 1;
    return encodePackTask(task);
  };
  const writer = new PackWriter(Members.fromProviders(members), K, randomBytes(32), TARGET, 4 * TARGET, N, false, encoder, packsInFlight);
  return { members, writer, encoded: () => encodes };
}

const chunk = (): { id: Buffer; size: number; sealed: Buffer } => ({ id: randomBytes(32), size: CHUNK, sealed: randomBytes(CHUNK) });

/** Whether `p` settles within a few turns of the event loop (the encoder runs on this thread, synchronously). */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 20 && !done; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('pack writer: packs in flight', () => {
  // Loaded once before any test: an encode then runs within a turn of the event loop, so `settles` counts turns,
  // not time (the first load compiles WebAssembly).
  before(() => loadErasureCodec(K, N));

  it('one in flight: the second pack waits for the first upload before it is encoded', async () => {
    const { members, writer, encoded } = setup(1);
    for (let i = 0; i < 4; i++) assert.ok(await settles(Promise.resolve(writer.add(chunk()))), `chunk ${i} of the first two packs`);
    // The fifth chunk closes pack 2: its flush waits for pack 1's upload, held at the gate.
    const fifth = Promise.resolve(writer.add(chunk()));
    assert.equal(await settles(fifth), false);
    assert.equal(encoded(), 1, 'pack 2 is not encoded while pack 1 uploads');
    for (const m of members) m.letThrough();
    await fifth;
    await writer.finish();
    assert.equal(encoded(), 3);
    assert.equal(writer.stats.packs, 3);
  });

  it('two in flight: the second pack is encoded while the first uploads; uploads go in order; the third waits', async () => {
    const { members, writer, encoded } = setup(2);
    const packs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const ref = Promise.resolve(writer.add(chunk()));
      assert.ok(await settles(ref), `chunk ${i} of the first two packs`);
      const hex = (await ref).pack.toString('hex');
      if (!packs.includes(hex)) packs.push(hex);
    }
    // The fifth chunk closes pack 2: encoded at once though pack 1 is still held at the gate.
    const fifth = Promise.resolve(writer.add(chunk()));
    assert.ok(await settles(fifth), 'pack 2 closes without waiting for pack 1');
    packs.push((await fifth).pack.toString('hex'));
    assert.equal(encoded(), 2, 'pack 2 encoded while pack 1 uploads');
    Promise.resolve(writer.add(chunk())).catch(() => undefined);
    // The seventh closes pack 3: two packs are in flight already, so it waits for pack 1's upload.
    const seventh = Promise.resolve(writer.add(chunk()));
    assert.equal(await settles(seventh), false);
    assert.equal(encoded(), 2, 'no third pack is encoded while two are in flight');
    for (const m of members) assert.deepEqual(m.putOrder, []);
    for (const m of members) m.letThrough();
    await seventh;
    await writer.finish();
    assert.equal(writer.stats.packs, 4);
    for (const m of members) assert.deepEqual(m.putOrder.slice(0, 3), packs.map(packKey), `${m.displayUrl} stored the packs in order`);
  });

  it('two in flight: a failed upload fails the writer, and the pack behind it is never stored', async () => {
    const { members, writer } = setup(2);
    for (let i = 0; i < 5; i++) await Promise.resolve(writer.add(chunk()));
    for (const m of members) {
      m.fail = true;
      m.letThrough();
    }
    await assert.rejects(writer.finish(), (err: unknown) => isRaicError(err, 'Quorum'));
    for (const m of members) assert.equal(m.objects.size, 0);
  });
});
