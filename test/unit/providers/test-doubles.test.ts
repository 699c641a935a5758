/** The test doubles themselves: the conformance suite holds for the in-memory provider (alone and
 * behind the fault injector), and each fault does what it says. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRaicError } from '../../../src/errors.js';
import { MAX_OBJECT_BYTES } from '../../../src/providers/types.js';
import { FaultyProvider } from '../../support/faulty-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';
import { collect, providerConformance, rejectsWith } from '../../providers/conformance.js';

const MiB = 1024 * 1024;

providerConformance('memory', async () => new MemoryProvider(), { bigObjectBytes: 16 * MiB, oversizeObject: false });
providerConformance('memory, overwriting', async () => new MemoryProvider({ conditionalPut: false }), {
  bigObjectBytes: 1 * MiB,
  oversizeObject: false,
  smallObjects: 20,
});

let faulty: FaultyProvider | undefined;
providerConformance(
  'memory behind the fault injector',
  async () => (faulty = new FaultyProvider(new MemoryProvider())),
  {
    bigObjectBytes: 1 * MiB,
    oversizeObject: false,
    stopServer: async () => void faulty!.down(),
    startServer: async () => void faulty!.up(),
    badAuth: async () => new FaultyProvider(new MemoryProvider()).failAlways('Auth'),
  },
);

describe('FaultyProvider', () => {
  const setup = async () => {
    const memory = new MemoryProvider();
    await memory.put('k/1', Buffer.from('0123456789'));
    await memory.put('k/2', Buffer.from('abc'));
    return { memory, f: new FaultyProvider(memory) };
  };

  it('fails the next N matching calls with the given code, then recovers', async () => {
    const { f } = await setup();
    f.failNext(2, 'Permanent', { ops: ['get'], key: /^k\// });
    assert.equal((await f.head('k/1')).size, 10, 'other ops unaffected');
    await rejectsWith(f.get('k/1'), 'Permanent', 'first');
    await rejectsWith(f.get('k/2'), 'Permanent', 'second');
    assert.equal((await f.get('k/1')).length, 10, 'third passes');
    assert.deepEqual(f.calls.map((c) => c.op), ['head', 'get', 'get', 'get']);
  });

  it('fails every call until reset()', async () => {
    const { f } = await setup();
    f.failAlways('Auth');
    for (let i = 0; i < 3; i++) await rejectsWith(f.head('k/1'), 'Auth', `call ${i}`);
    f.reset();
    assert.equal((await f.head('k/1')).size, 10);
  });

  it('afterCall: the write lands although the caller sees an error', async () => {
    const { memory, f } = await setup();
    f.failNext(1, 'Transient', { ops: ['put'], afterCall: true });
    await rejectsWith(f.put('k/3', Buffer.from('x')), 'Transient', 'put');
    assert.equal(memory.objects.get('k/3')?.toString(), 'x');
  });

  it('adds latency', async () => {
    const { f } = await setup();
    f.addLatency(60, { ops: ['head'] });
    let t = Date.now();
    await f.head('k/1');
    assert.ok(Date.now() - t >= 55, 'head delayed');
    t = Date.now();
    await f.get('k/1');
    assert.ok(Date.now() - t < 55, 'get not delayed');
  });

  it('corrupts the bytes get() returns, not the stored ones', async () => {
    const { memory, f } = await setup();
    f.corruptGets({ key: 'k/1' });
    const got = await f.get('k/1');
    assert.equal(got.length, 10);
    assert.notDeepEqual(got, Buffer.from('0123456789'));
    assert.equal(got.filter((b, i) => b !== '0123456789'.charCodeAt(i)).length, 1, 'exactly one byte differs');
    assert.equal(memory.objects.get('k/1')?.toString(), '0123456789');
    assert.equal((await f.get('k/2')).toString(), 'abc', 'other keys intact');
  });

  it('pretends objects are lost', async () => {
    const { f } = await setup();
    f.lose('k/1');
    await rejectsWith(f.get('k/1'), 'NotFound', 'get');
    await rejectsWith(f.head('k/1'), 'NotFound', 'head');
    assert.deepEqual((await collect(f.list('k/'))).map((o) => o.key), ['k/2']);
  });

  it('down(): refuses every call until up()', async () => {
    const { f } = await setup();
    f.down();
    await rejectsWith(f.get('k/1'), 'Transient', 'get');
    await rejectsWith(collect(f.list('')), 'Transient', 'list');
    f.up();
    assert.equal((await f.get('k/2')).toString(), 'abc');
  });

  it("down('hang'): calls wait until up(), then fail as a dropped connection would", async () => {
    const { f } = await setup();
    f.down('hang');
    let settled = false;
    const pending = f.get('k/1').then(
      () => assert.fail('resolved'),
      (e: unknown) => {
        settled = true;
        return e;
      },
    );
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(settled, false, 'still hanging');
    f.up();
    assert.ok(isRaicError(await pending, 'Transient'));
  });
});

describe('MemoryProvider', () => {
  it('copies bytes in and out', async () => {
    const m = new MemoryProvider();
    const body = Buffer.from('abc');
    await m.put('k', body);
    body[0] = 0x7a;
    const out = await m.get('k');
    out[1] = 0x7a;
    assert.equal((await m.get('k')).toString(), 'abc');
  });

  it('refuses a whole get over MAX_OBJECT_BYTES, like the real adapters; ranges still read', async () => {
    const m = new MemoryProvider();
    m.objects.set('big', Buffer.alloc(MAX_OBJECT_BYTES + 1, 1));
    await rejectsWith(m.get('big'), 'Integrity', 'whole get');
    assert.equal((await m.get('big', { offset: MAX_OBJECT_BYTES, length: 10 })).length, 1);
  });

  it('checks keys like the real adapters', async () => {
    await rejectsWith(new MemoryProvider().put('../x', Buffer.from('x')), 'Permanent', 'bad key');
  });
});
