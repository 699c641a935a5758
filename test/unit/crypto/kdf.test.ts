import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KEY_BYTES,
  type KdfParams,
  deriveKeyFromPassphrase,
  newKdfParams,
  randomBytes,
  unwrapKey,
  wrapKey,
} from '../../../src/crypto/index.js';
import { isRaicError } from '../../../src/errors.js';

const SALT = Buffer.from('ABCDEFGHIJKLMNOP').toString('base64');
const MiB = 2 ** 20;
const fast = (): KdfParams => ({ alg: 'argon2id13', opslimit: 1, memlimit: 64 * 1024, salt: randomBytes(16).toString('base64') });

async function rejectsWith(p: Promise<unknown>, code: Parameters<typeof isRaicError>[1], what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isRaicError(err, code), what);
}

// Vectors made with the Argon2 reference implementation's CLI (`echo -n 123 | argon2 ABCDEFGHIJKLMNOP -id -v 13
// -k 1024 -t 5`, one lane), as published in iov-one/iov-core's libsodium.spec.ts: independent of libsodium.
test('Argon2id v1.3 known answers from the reference implementation', async () => {
  const p1: KdfParams = { alg: 'argon2id13', opslimit: 5, memlimit: 1 * MiB, salt: SALT };
  assert.equal((await deriveKeyFromPassphrase('123', p1)).toString('hex'), '3c5d010180ba0cf5b6b858cba23b318e42d33088983c404598599c3b029ecac6');
  assert.equal((await deriveKeyFromPassphrase('ö', p1)).toString('hex'), 'b113fc7863dbc87b7d1366c3b468d3864a2473ce46e90ed3641fff87ada561f7');
  const p2: KdfParams = { alg: 'argon2id13', opslimit: 2, memlimit: 8 * MiB, salt: SALT };
  assert.equal((await deriveKeyFromPassphrase('123', p2)).toString('hex'), '3ee950488d26ce691657b1d753f562139857b61a58f234d6cb0ce84c4cc27328');
});

test('passphrases are NFC-normalised: composed and decomposed forms give one key', async () => {
  const p = fast();
  const composed = await deriveKeyFromPassphrase('caf\u00e9', p);
  const decomposed = await deriveKeyFromPassphrase('cafe\u0301', p);
  assert.deepEqual(decomposed, composed);
  assert.notDeepEqual(await deriveKeyFromPassphrase('cafe', p), composed);
});

test('different salt or cost gives a different key; same params give the same key', async () => {
  const p = fast();
  const k = await deriveKeyFromPassphrase('pw', p);
  assert.equal(k.length, KEY_BYTES);
  assert.deepEqual(await deriveKeyFromPassphrase('pw', { ...p }), k);
  assert.notDeepEqual(await deriveKeyFromPassphrase('pw', { ...fast() }), k);
  assert.notDeepEqual(await deriveKeyFromPassphrase('pw', { ...p, opslimit: 2 }), k);
});

test('newKdfParams: random 16-byte salt; only an explicit argument selects the tiny test cost, never the environment', () => {
  const saved = process.env['RAIC_KDF_FAST'];
  try {
    process.env['RAIC_KDF_FAST'] = '1'; // the variable of earlier releases: ignored
    const real = newKdfParams();
    assert.equal(real.alg, 'argon2id13');
    assert.ok(real.opslimit >= 2, `default opslimit ${real.opslimit}`);
    assert.ok(real.memlimit >= 64 * MiB, `default memlimit ${real.memlimit}`);
    assert.equal(Buffer.from(real.salt, 'base64').length, 16);
    assert.notEqual(newKdfParams().salt, real.salt);
    const quick = newKdfParams('insecure-test');
    assert.ok(quick.memlimit < real.memlimit && quick.opslimit <= real.opslimit);
    assert.deepEqual(JSON.parse(JSON.stringify(quick)), quick, 'params survive JSON');
  } finally {
    if (saved === undefined) delete process.env['RAIC_KDF_FAST'];
    else process.env['RAIC_KDF_FAST'] = saved;
  }
});

test('derivation runs off the main thread: the event loop keeps turning meanwhile', async () => {
  let turns = 0;
  let running = true;
  const spin = (): void => {
    turns++;
    if (running) setImmediate(spin);
  };
  setImmediate(spin);
  const key = await deriveKeyFromPassphrase('pw', { alg: 'argon2id13', opslimit: 2, memlimit: 32 * MiB, salt: SALT });
  running = false;
  assert.equal(key.length, 32);
  assert.ok(turns > 2, `event loop turned ${turns} times during Argon2id`);
});

test('malformed or out-of-range params are rejected with Usage before any work', async () => {
  const good = fast();
  const cases: Array<[string, unknown]> = [
    ['alg', { ...good, alg: 'argon2i13' }],
    ['opslimit 0', { ...good, opslimit: 0 }],
    ['opslimit fractional', { ...good, opslimit: 1.5 }],
    ['opslimit huge', { ...good, opslimit: 1e6 }],
    ['opslimit string', { ...good, opslimit: '3' }],
    ['memlimit below libsodium min', { ...good, memlimit: 1024 }],
    ['memlimit above 4 GiB', { ...good, memlimit: 8 * 2 ** 30 }],
    ['salt short', { ...good, salt: Buffer.alloc(15).toString('base64') }],
    ['salt long', { ...good, salt: Buffer.alloc(17).toString('base64') }],
    ['salt not base64', { ...good, salt: '!!!!!!!!!!!!!!!!!!!!!!!!' }],
    ['salt with junk inside', { ...good, salt: good.salt.slice(0, 4) + '*' + good.salt.slice(4) }],
    ['salt missing', { ...good, salt: undefined }],
    ['null', null],
  ];
  for (const [what, params] of cases) {
    await rejectsWith(deriveKeyFromPassphrase('pw', params as KdfParams), 'Usage', what);
  }
});

test('wrapKey / unwrapKey: right passphrase opens, wrong passphrase or other array is WrongKey', async () => {
  const params = fast();
  const arrayId = Buffer.from('array:7f3a');
  const repoKey = randomBytes(KEY_BYTES);
  const kek = await deriveKeyFromPassphrase('correct horse battery staple', params);
  const wrapped = wrapKey(kek, repoKey, arrayId);
  assert.equal(wrapped.length, 72);
  assert.ok(!wrapped.includes(repoKey), 'the key does not appear in clear');

  const again = await deriveKeyFromPassphrase('correct horse battery staple', JSON.parse(JSON.stringify(params)) as KdfParams);
  assert.deepEqual(unwrapKey(again, wrapped, arrayId), repoKey);

  const wrongKek = await deriveKeyFromPassphrase('correct horse battery stapler', params);
  assert.throws(
    () => unwrapKey(wrongKek, wrapped, arrayId),
    (err: unknown) => isRaicError(err, 'WrongKey') && /wrong passphrase/.test(err.message),
  );
  assert.throws(() => unwrapKey(kek, wrapped, Buffer.from('array:other')), (err: unknown) => isRaicError(err, 'WrongKey'));
  const tampered = Buffer.from(wrapped);
  tampered[30]! ^= 1;
  assert.throws(() => unwrapKey(kek, tampered, arrayId), (err: unknown) => isRaicError(err, 'WrongKey'));
  assert.throws(() => unwrapKey(kek, wrapped.subarray(0, 71), arrayId), (err: unknown) => isRaicError(err, 'Integrity'));
  assert.throws(() => wrapKey(kek, Buffer.alloc(16), arrayId), (err: unknown) => isRaicError(err, 'Usage'));
});
