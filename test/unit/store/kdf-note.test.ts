/**
 * The KDF note: Argon2 starts on the parameters this host last opened the array with (a note in its cache)
 * while the key objects are fetched. The note is a hint only: the key object read from the members decides,
 * a wrong passphrase stays wrong, and a damaged, mismatched or costly note is ignored.
 *
 * The key-object note: the key object last opened, as the members hold it, used instead of a GET while the
 * members list it, and only if it hashes to its name.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ObjectCache } from '../../../src/cache/index.js';
import { isRaicError } from '../../../src/errors.js';
import { Members } from '../../../src/store/members.js';
import { newKeyObject, newMasterKey, parseKeyObject, startEarlyKek, unlockKey } from '../../../src/store/index.js';
import { CountingProvider } from '../../support/counting-provider.js';
import { MemoryProvider } from '../../support/memory-provider.js';

describe('the KDF note', () => {
  const arrayId = 'e'.repeat(32);
  let dir: string;
  let cache: ObjectCache;
  let members: Members;
  const master = newMasterKey();
  let kdf: unknown;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raic-kdf-note-'));
    cache = new ObjectCache(join(dir, arrayId), arrayId, []);
    const providers = [0, 1, 2].map((i) => new MemoryProvider({ name: `k${i}` }));
    const { key, body } = await newKeyObject(master, 'right', arrayId, { cost: 'insecure-test' });
    kdf = parseKeyObject(key, body)!.kdf;
    for (const p of providers) await p.put(key, body);
    members = Members.fromProviders(providers, cache);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const noted = (): unknown => JSON.parse(cache.readNote('kdf.json')?.toString('utf8') ?? 'null');

  it('is written by the first unlock and names the key object parameters; a later unlock still opens', async () => {
    assert.equal(cache.readNote('kdf.json'), null);
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.deepEqual(noted(), kdf);
    const early = startEarlyKek(cache, 'right');
    assert.ok(early, 'the note starts Argon2');
    assert.ok((await unlockKey(members, 'right', arrayId, early)).master.equals(master));
  });

  it('does not make a wrong passphrase right', async () => {
    await assert.rejects(unlockKey(members, 'wrong', arrayId, startEarlyKek(cache, 'wrong')), (err) => isRaicError(err, 'WrongKey'));
    // An early result for the right passphrase is only used for parameters the key object names.
    await assert.rejects(unlockKey(members, 'wrong', arrayId), (err) => isRaicError(err, 'WrongKey'));
  });

  it('naming other parameters, it is not used, and is rewritten', async () => {
    const other = { ...(kdf as object), salt: Buffer.alloc(16, 9).toString('base64') };
    cache.writeNote('kdf.json', Buffer.from(JSON.stringify(other)));
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.deepEqual(noted(), kdf);
  });

  it('damaged or asking more than the defaults, it is ignored', async () => {
    cache.writeNote('kdf.json', Buffer.from(JSON.stringify({ ...(kdf as object), memlimit: 2 ** 31 })));
    assert.equal(startEarlyKek(cache, 'right'), null, 'not run: more than init writes');
    cache.writeNote('kdf.json', Buffer.from('{not json'));
    assert.equal(startEarlyKek(cache, 'right'), null);
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.deepEqual(noted(), kdf);
  });
});

describe('the key-object note', () => {
  const arrayId = 'f'.repeat(32);
  let dir: string;
  let cache: ObjectCache;
  let counting: CountingProvider[];
  let members: Members;
  let key: string;
  let body: Buffer;
  const master = newMasterKey();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raic-key-note-'));
    cache = new ObjectCache(join(dir, arrayId), arrayId, []);
    counting = [0, 1, 2].map((i) => new CountingProvider(new MemoryProvider({ name: `n${i}` })));
    ({ key, body } = await newKeyObject(master, 'right', arrayId, { cost: 'insecure-test' }));
    for (const p of counting) await p.put(key, body);
    members = Members.fromProviders(counting, cache);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const keyGets = (): number => counting.reduce((n, c) => n + c.counted((g) => g.key === key).requests, 0);
  const clear = (): void => counting.forEach((c) => c.clear());

  it('is written by an unlock, and the next one reads no key object from the members', async () => {
    assert.equal(cache.readNote('key-object'), null);
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.ok(keyGets() > 0, 'the first unlock fetched it');
    assert.ok(cache.readNote('key-object'), 'noted');
    clear();
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.equal(keyGets(), 0, 'read from the note');
    await assert.rejects(unlockKey(members, 'wrong', arrayId), (err) => isRaicError(err, 'WrongKey'));
  });

  it('garbled, it is not used: the members are asked, and a sound copy is noted again', async () => {
    const garbled = Buffer.from(body);
    garbled[garbled.length - 3]! ^= 1;
    cache.writeNote('key-object', Buffer.concat([Buffer.from(`${key}\n`), garbled]));
    clear();
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.ok(keyGets() > 0, 'fetched from the members');
    clear();
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
    assert.equal(keyGets(), 0, 'noted again, sound');
  });

  it('naming a key object the members no longer list, it is never tried', async () => {
    const other = await newKeyObject(newMasterKey(), 'right', arrayId, { cost: 'insecure-test' });
    cache.writeNote('key-object', Buffer.concat([Buffer.from(`${other.key}\n`), other.body]));
    // It would open with this passphrase, to another master: were it tried, the unlock would answer that master.
    assert.ok((await unlockKey(members, 'right', arrayId)).master.equals(master));
  });
});
