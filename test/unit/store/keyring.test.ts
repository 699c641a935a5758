/** Key objects as members serve them: only a copy whose name is its hash and whose KDF asks no more than init writes is used. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kdfParamsWithinDefaults } from '../../../src/crypto/index.js';
import { isKeyTombstone, keyOwner, newKeyObject, newMasterKey, opensTo, parseKeyObject, sealKeyTombstone } from '../../../src/store/index.js';
import { hash } from '../../../src/crypto/index.js';

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
