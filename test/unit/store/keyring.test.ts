/** Key objects as members serve them: only a copy whose name is its hash and whose KDF asks no more than init writes is used. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kdfParamsWithinDefaults } from '../../../src/crypto/index.js';
import { isKeyTombstone, keyOwner, newKeyObject, newMasterKey, opensTo, parseKeyObject, sealKeyTombstone } from '../../../src/store/index.js';
import { hash } from '../../../src/crypto/index.js';
import type { ByteRange, CallOptions, ObjectInfo } from '../../../src/providers/index.js';
import { Members } from '../../../src/store/members.js';
import { unlockKey } from '../../../src/store/index.js';
import { MemoryProvider } from '../../support/memory-provider.js';

const named = (body: Buffer): string => `keys/${hash(body).toString('hex').slice(0, 32)}`;

test('parseKeyObject accepts what newKeyObject writes and nothing a member could substitute', async () => {
  const { key, body } = await newKeyObject(newMasterKey(), 'pass', 'a'.repeat(32));
  assert.ok(parseKeyObject(key, body), 'a sound copy');
  assert.equal(parseKeyObject(key, Buffer.from([0xff, 0, 1])), null, 'garbage');
  assert.equal(parseKeyObject(key, Buffer.from('{"kdf":"argon2id13","x":1}')), null, 'wrong JSON under the real name');
  const flipped = Buffer.from(body);
  flipped[flipped.length - 5]! ^= 1;
  assert.equal(parseKeyObject(key, flipped), null, 'one flipped byte');
  // A well-formed object under its own hash name, but asking for 4 GiB or many passes: not run.
  const obj = JSON.parse(body.toString('utf8')) as { kdf: { memlimit: number; opslimit: number } };
  for (const change of [{ memlimit: 4 * 2 ** 30 }, { opslimit: 64 }]) {
    const evil = Buffer.from(JSON.stringify({ ...obj, kdf: { ...obj.kdf, ...change } }));
    assert.equal(parseKeyObject(named(evil), evil), null, JSON.stringify(change));
  }
  const wrongShape = Buffer.from(JSON.stringify({ ...obj, version: 2 }));
  assert.equal(parseKeyObject(named(wrongShape), wrongShape), null, 'unknown version');
  const huge = Buffer.alloc(10_000, 0x20);
  assert.equal(parseKeyObject(named(huge), huge), null, 'oversized');
});

test('kdfParamsWithinDefaults: init\'s default (t=3, 64 MiB) and less, nothing more', () => {
  const salt = Buffer.alloc(16, 7).toString('base64');
  assert.equal(kdfParamsWithinDefaults({ alg: 'argon2id13', opslimit: 3, memlimit: 64 * 2 ** 20, salt }), true);
  assert.equal(kdfParamsWithinDefaults({ alg: 'argon2id13', opslimit: 1, memlimit: 64 * 1024, salt }), true);
  assert.equal(kdfParamsWithinDefaults({ alg: 'argon2id13', opslimit: 4, memlimit: 64 * 2 ** 20, salt }), false);
  assert.equal(kdfParamsWithinDefaults({ alg: 'argon2id13', opslimit: 3, memlimit: 64 * 2 ** 20 + 1024, salt }), false);
  assert.equal(kdfParamsWithinDefaults('argon2id13'), false);
  assert.equal(kdfParamsWithinDefaults(null), false);
  assert.equal(kdfParamsWithinDefaults({ alg: 'argon2id13', opslimit: 3, memlimit: 64 * 2 ** 20, salt: 'short' }), false);
});

test('a key object seals its owner; a key tombstone opens only under its master and for its own id', async () => {
  const master = newMasterKey();
  const arrayId = 'b'.repeat(32);
  const { key, body } = await newKeyObject(master, 'pass', arrayId, { cost: 'insecure-test', user: 'alice', host: 'laptop' });
  const obj = parseKeyObject(key, body)!;
  assert.ok(!body.toString('utf8').includes('alice') && !body.toString('utf8').includes('laptop'), 'owner in the clear');
  assert.deepEqual(keyOwner(master, arrayId, obj), { user: 'alice', host: 'laptop' });
  assert.equal(keyOwner(newMasterKey(), arrayId, obj), null, 'another master');
  assert.equal(keyOwner(master, arrayId, { ...obj, wrapped: `${obj.wrapped.slice(0, -4)}AAA=` }), null, 'moved onto another wrapped key');
  assert.equal(await opensTo(obj, 'pass', arrayId, master), true);
  assert.equal(await opensTo(obj, 'other', arrayId, master), false);

  const tomb = sealKeyTombstone(master, 'c'.repeat(32));
  assert.equal(isKeyTombstone(master, 'c'.repeat(32), tomb), true);
  assert.equal(isKeyTombstone(master, 'd'.repeat(32), tomb), false, 'copied under another key id');
  assert.equal(isKeyTombstone(newMasterKey(), 'c'.repeat(32), tomb), false, 'forged without the master');
});

test('unlockKey fetches the key object while a slow member is still listing, and a bad early copy costs nothing', async () => {
  const master = newMasterKey();
  const arrayId = 'f'.repeat(32);
  const { key, body } = await newKeyObject(master, 'pass', arrayId, { cost: 'insecure-test' });
  const events: string[] = [];
  let releaseSlow!: () => void;
  const slowListing = new Promise<void>((resolve) => (releaseSlow = resolve));
  class Watched extends MemoryProvider {
    constructor(readonly index: number) {
      super({ name: `w${index}` });
    }
    override async *list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo> {
      if (this.index === 2 && prefix === 'keys/') await slowListing;
      yield* super.list(prefix, opts);
      if (prefix === 'keys/') events.push(`listed ${this.index}`);
    }
    override async get(k: string, range?: ByteRange, opts?: CallOptions): Promise<Buffer> {
      if (k === key) events.push(`get ${this.index}`);
      return super.get(k, range, opts);
    }
  }
  const providers = [0, 1, 2].map((i) => new Watched(i));
  for (const p of providers) await p.put(key, body);
  // Member 0 lists first and serves a garbled copy: the early fetch is asked of it.
  const garbled = Buffer.from(body);
  garbled[garbled.length - 3]! ^= 1;
  providers[0]!.objects.set(key, garbled);
  const members = Members.fromProviders(providers);
  const unlocking = unlockKey(members, 'pass', arrayId);
  for (let i = 0; i < 50 && !events.some((e) => e.startsWith('get')); i++) await new Promise((r) => setImmediate(r));
  assert.ok(events.some((e) => e.startsWith('get')), `a key object was asked for before member 2 listed (${events.join(', ')})`);
  assert.ok(!events.includes('listed 2'));
  releaseSlow();
  const unlocked = await unlocking;
  assert.ok(unlocked.master.equals(master), 'the garbled early copy was passed over for a sound one');
  assert.equal(unlocked.key, key);
  assert.deepEqual(events.filter((e) => e.startsWith('get')), ['get 0', 'get 0', 'get 1'], 'the early copy, then each member in turn until a sound one');
});
