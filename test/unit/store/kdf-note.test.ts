/**
 * The KDF note: Argon2 starts on the parameters this host last opened the array with (a note in its cache)
 * while the key objects are fetched. The note is a hint only: the key object read from the members decides,
 * a wrong passphrase stays wrong, and a damaged, mismatched or costly note is ignored.
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
