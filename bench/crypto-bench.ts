/**
 * Measures the crypto primitives raic could use, on this machine, to choose between them (src/crypto/*.ts cite
 * these figures). MB = 10^6 bytes. Candidates of one group are measured interleaved (A B C, A B C, …) so that
 * load from other processes hits them alike; each row shows the median and the best of RUNS runs, each run
 * over ~RUN_BYTES of random data. Run: npx tsc -p . && node dist/bench/crypto-bench.js
 * (RAIC_BENCH_QUICK=1 for a smoke run).
 */
import { createHash, createHmac, hash as oneShotHash, randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import lsw from 'libsodium-wrappers-sumo';
import { sodium } from '../src/crypto/sodium.js';
import { AEAD_OVERHEAD, deriveKeyFromPassphrase, hash, keyedHash, newKdfParams, open, seal } from '../src/crypto/index.js';

const quick = process.env['RAIC_BENCH_QUICK'] === '1';
const RUNS = quick ? 1 : 7;
const RUN_BYTES = quick ? 16 * 2 ** 20 : 128 * 2 ** 20;
const MiB = 2 ** 20;

await lsw.ready;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const best = (xs: number[]): number => Math.max(...xs);

type Candidate = [name: string, fn: () => void];

/** MB/s (median, best) for each candidate applied to `size`-byte messages. */
function compare(group: string, size: number, candidates: Candidate[]): void {
  const iters = Math.max(1, Math.round(RUN_BYTES / size));
  const rates = candidates.map((): number[] => []);
  for (const [, fn] of candidates) fn(); // warm up (JIT, lazy init)
  for (let r = 0; r < RUNS; r++) {
    candidates.forEach(([, fn], c) => {
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) fn();
      rates[c]!.push((iters * size) / ((performance.now() - t0) / 1000) / 1e6);
    });
  }
  candidates.forEach(([name], c) => {
    const xs = rates[c]!;
    console.log(`| ${group} | ${name} | ${median(xs).toFixed(0)} | ${best(xs).toFixed(0)} |`);
  });
}

console.log(`| group | candidate | MB/s median of ${RUNS} | MB/s best |`);
console.log('|---|---|---|---|');

const key = randomFillSync(Buffer.alloc(32));
const nonce = randomFillSync(Buffer.alloc(24));
const ad = Buffer.from('bench-ad');

// --- AEAD, 4 MiB messages -----------------------------------------------------------------------------------
{
  const size = 4 * MiB;
  const m = randomFillSync(Buffer.alloc(size));
  const c = Buffer.alloc(size + 16);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(c, m, ad, null, nonce, key);
  const back = Buffer.alloc(size);
  const sealedOut = Buffer.alloc(size + AEAD_OVERHEAD);
  const sealed = Buffer.from(seal(key, m, ad));
  compare('AEAD encrypt 4 MiB', size, [
    ['sodium-native, reused out', () => void sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(c, m, ad, null, nonce, key)],
    ['sodium-native, fresh out', () =>
      void sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(Buffer.allocUnsafe(size + 16), m, ad, null, nonce, key)],
    ['libsodium-wrappers-sumo (WASM)', () => void lsw.crypto_aead_xchacha20poly1305_ietf_encrypt(m, ad, null, nonce, key)],
    ['raic seal(), out given', () => void seal(key, m, ad, sealedOut)],
    ['raic seal(), no out', () => void seal(key, m, ad)],
  ]);
  compare('AEAD decrypt 4 MiB', size, [
    ['sodium-native, reused out', () => void sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(back, null, c, ad, nonce, key)],
    ['libsodium-wrappers-sumo (WASM)', () => void lsw.crypto_aead_xchacha20poly1305_ietf_decrypt(null, c, ad, nonce, key)],
    ['raic open(), out given', () => void open(key, sealed, ad, back)],
    ['raic open(), no out', () => void open(key, sealed, ad)],
  ]);
}

// --- keyed hash and hash, at several message sizes -------------------------------------------------------------
for (const size of [4 * MiB, 64 * 1024, 1024]) {
  const label = size >= MiB ? `${size / MiB} MiB` : `${size / 1024} KiB`;
  const m = randomFillSync(Buffer.alloc(size));
  const out32 = Buffer.alloc(32);
  compare(`keyedHash ${label}`, size, [
    ['HMAC-SHA-256, node:crypto', () => void createHmac('sha256', key).update(m).digest()],
    ['keyed BLAKE2b-256, sodium-native', () => sodium.crypto_generichash(out32, m, key)],
    ['keyed BLAKE2b-256, libsodium-wrappers-sumo', () => void lsw.crypto_generichash(32, m, key)],
    ['raic keyedHash()', () => void keyedHash(key, m)],
  ]);
  compare(`hash ${label}`, size, [
    ['SHA-256, node:crypto createHash', () => void createHash('sha256').update(m).digest()],
    ['SHA-256, node:crypto hash() one-shot', () => void oneShotHash('sha256', m, 'buffer')],
    ['BLAKE2b-256, sodium-native', () => sodium.crypto_generichash(out32, m)],
    ['BLAKE2b-256, libsodium-wrappers-sumo', () => void lsw.crypto_generichash(32, m, null)],
    ['raic hash()', () => void hash(m)],
  ]);
}

// --- Argon2id: wall time of one derivation ---------------------------------------------------------------------
{
  const salt = randomFillSync(Buffer.alloc(16));
  const pw = Buffer.from('correct horse battery staple');
  const out = Buffer.alloc(32);
  const saved = process.env['RAIC_KDF_FAST'];
  delete process.env['RAIC_KDF_FAST'];
  const params = newKdfParams();
  if (saved !== undefined) process.env['RAIC_KDF_FAST'] = saved;
  const native = (ops: number, mem: number) => () => sodium.crypto_pwhash_async(out, pw, salt, ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13);
  const candidates: Array<[string, () => Promise<unknown> | unknown]> = [
    ['sodium-native, opslimit 2, 64 MiB', native(2, 64 * MiB)],
    ['sodium-native, opslimit 3, 64 MiB', native(3, 64 * MiB)],
    ['libsodium-wrappers-sumo, opslimit 3, 64 MiB', () => lsw.crypto_pwhash(32, pw, salt, 3, 64 * MiB, lsw.crypto_pwhash_ALG_ARGON2ID13)],
    ['sodium-native, opslimit 3, 128 MiB', native(3, 128 * MiB)],
    ['sodium-native, opslimit 4, 128 MiB', native(4, 128 * MiB)],
    ['sodium-native, opslimit 3, 256 MiB', native(3, 256 * MiB)],
    [`raic deriveKeyFromPassphrase(), default: opslimit ${params.opslimit}, ${params.memlimit / MiB} MiB`, () =>
      deriveKeyFromPassphrase('correct horse battery staple', params)],
  ];
  if (quick) candidates.splice(1, candidates.length - 2);
  const runs = quick ? 1 : 5;
  const times = candidates.map((): number[] => []);
  for (const [, fn] of candidates) await fn();
  for (let r = 0; r < runs; r++) {
    for (const [c, [, fn]] of candidates.entries()) {
      const t0 = performance.now();
      await fn();
      times[c]!.push(performance.now() - t0);
    }
  }
  console.log(`\n| Argon2id | ms median of ${runs} | ms best |`);
  console.log('|---|---|---|');
  candidates.forEach(([name], c) => {
    const ts = times[c]!;
    console.log(`| ${name} | ${median(ts).toFixed(0)} | ${Math.min(...ts).toFixed(0)} |`);
  });
}
