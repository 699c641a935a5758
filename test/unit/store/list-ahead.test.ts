import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaicError } from '../../../src/errors.js';
import { listUnion } from '../../../src/store/replicated.js';
import { Members } from '../../../src/store/members.js';
import type { Provider } from '../../../src/providers/types.js';
import { CountingProvider } from '../../support/counting-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';

const three = (): { counted: CountingProvider[]; members: Members } => {
  const counted = [0, 1, 2].map((i) => new CountingProvider(new MemoryProvider({ name: `m${i}` })));
  return { counted, members: Members.fromProviders(counted) };
};

describe('Members.listAhead: a command’s first listings started early, each serving one listing', () => {
  it('serves the next listing of the prefix from the one started ahead, once; the one after lists again', async () => {
    const { counted, members } = three();
    for (const p of counted) await p.put('locks/a', Buffer.from('x'));
    members.listAhead(['locks/', 'keys/']);
    assert.deepEqual(counted.map((p) => p.lists), [['locks/', 'keys/'], ['locks/', 'keys/'], ['locks/', 'keys/']]);
    // Written after the early listing was taken: the first listing (served ahead) does not show it ...
    for (const p of counted) await p.put('locks/b', Buffer.from('y'));
    assert.deepEqual([...(await listUnion(members, 'locks/')).keys()].sort(), ['locks/a']);
    assert.deepEqual(counted.map((p) => p.lists.length), [2, 2, 2], 'no new listing: served from the early one');
    // ... the next one asks the members again and does.
    assert.deepEqual([...(await listUnion(members, 'locks/')).keys()].sort(), ['locks/a', 'locks/b']);
    assert.deepEqual(counted.map((p) => p.lists.length), [3, 3, 3]);
    // Another prefix is not served from it.
    assert.deepEqual([...(await listUnion(members, 'snapshots/')).keys()], []);
    assert.deepEqual(counted.map((p) => p.lists.at(-1)), ['snapshots/', 'snapshots/', 'snapshots/']);
  });

  it('a listing that failed ahead fails its consumer as its own would: the member is marked down', async () => {
    const { counted, members } = three();
    const broken: Provider = counted[1]!;
    const list = broken.list.bind(broken);
    broken.list = (prefix) => {
      if (prefix === 'keys/') {
        return (async function* () {
          yield* [];
          throw new RaicError('Transient', 'connection reset');
        })();
      }
      return list(prefix);
    };
    members.listAhead(['keys/']);
    await new Promise((r) => setTimeout(r, 10)); // the failure lands before anyone asks
    await assert.rejects(listUnion(members, 'keys/'), /connection reset/);
    assert.equal(members.isUp(1), false);
    assert.equal(members.isUp(0), true);
  });
});
