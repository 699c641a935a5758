/**
 * The one conformance suite every provider runs against its real server (STYLE.md: restic's
 * backend/test suite, kopia's VerifyStorage). An adapter's test file calls
 * `providerConformance(name, open, opts)` and adds only what is specific to it.
 *
 * `open()` must give a provider on a location no other run uses (a fresh bucket, container or
 * directory); the suite also writes everything under a random key prefix and deletes what it wrote.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { withRetry } from '../../src/providers/retry.js';
import { isRaicError, type ErrorCode } from '../../src/errors.js';
import { MAX_OBJECT_BYTES, type ObjectInfo, type Provider } from '../../src/providers/types.js';

export interface ConformanceOptions {
  /** Size of the big-object round trip. Default MAX_OBJECT_BYTES (64 MiB), the largest whole get. */
  bigObjectBytes?: number;
  /** Also store an object one byte over MAX_OBJECT_BYTES and check that a whole get refuses it while ranges
   * of it still read. Default true; the in-memory doubles turn it off to stay cheap. */
  oversizeObject?: boolean;
  /** How many small objects the paging test lists. Default pageBoundary + 1 (1001). */
  smallObjects?: number;
  /** The backend's list page size, which the paging test must cross. Default 1000 (S3's). */
  pageBoundary?: number;
  /** Makes the server unreachable for this provider; with startServer, enables the "server down" test. */
  stopServer?: () => Promise<void>;
  startServer?: () => Promise<void>;
  /** Opens a provider on the same server with wrong credentials; enables the auth test. */
  badAuth?: () => Promise<Provider>;
}

const MiB = 1024 * 1024;

/** Asserts that `promise` rejects with a RaicError of `code`, showing what came instead. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, what: string): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (err) {
    if (isRaicError(err, code)) return;
    assert.fail(`${what}: expected RaicError ${code}, got ${err instanceof Error ? `${err.name}${isRaicError(err) ? ` ${err.code}` : ''}: ${err.message}` : String(err)}`);
  }
  assert.fail(`${what}: expected RaicError ${code}, but it resolved with ${JSON.stringify(outcome)?.slice(0, 200)}`);
}

export async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of it) out.push(info);
  return out;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function providerConformance(name: string, open: () => Promise<Provider>, opts: ConformanceOptions = {}): void {
  const bigBytes = opts.bigObjectBytes ?? MAX_OBJECT_BYTES;
  const pageBoundary = opts.pageBoundary ?? 1000;
  const smallCount = opts.smallObjects ?? pageBoundary + 1;
  // Every key of this run starts with `run`: runs never see each other's objects.
  const run = `conformance-${randomBytes(6).toString('hex')}/`;

  describe(`provider conformance: ${name}`, () => {
    let p: Provider;

    before(async () => {
      p = await open();
      await p.prepare();
    });

    after(async () => {
      if (p === undefined) return;
      try {
        const left = await collect(p.list(run));
        await forEachLimit(left, 16, (o) => p.delete(o.key));
      } finally {
        await p.close();
      }
    });

    it('prepare() is idempotent', async () => {
      await p.prepare();
      await p.prepare();
      const key = `${run}prepared`;
      await p.put(key, Buffer.from('ok'));
      assert.equal((await p.get(key)).toString(), 'ok');
    });

    it('put then get returns the same bytes, whole and by byte range', async () => {
      const key = `${run}basic/object.bin`;
      const body = randomBytes(1000);
      const original = Buffer.from(body);
      await p.put(key, body);
      body.fill(0); // the provider must not keep (or lazily read) the caller's buffer
      const whole = await p.get(key);
      assert.ok(Buffer.isBuffer(whole), 'get() returns a Buffer');
      assert.ok(whole.equals(original), 'whole object round trip');
      const cases: [number, number, Buffer][] = [
        [0, 1, original.subarray(0, 1)], // first byte
        [400, 200, original.subarray(400, 600)], // middle
        [999, 1, original.subarray(999, 1000)], // last byte
        [900, 500, original.subarray(900)], // runs past the end: what exists
        [0, 1000, original], // exactly the whole object
        [1000, 10, Buffer.alloc(0)], // starts at the end
        [5000, 10, Buffer.alloc(0)], // starts past the end
      ];
      for (const [offset, length, want] of cases) {
        const got = await p.get(key, { offset, length });
        assert.ok(got.equals(want), `range offset=${offset} length=${length}: got ${got.length} bytes, want ${want.length}`);
      }
    });

    it('stores an empty object', async () => {
      const key = `${run}basic/empty`;
      await p.put(key, new Uint8Array(0));
      assert.equal((await p.get(key)).length, 0);
      assert.deepEqual(await p.head(key), { key, size: 0 });
    });

    it('head() gives the key and size', async () => {
      const key = `${run}head/x.dat`;
      await p.put(key, randomBytes(4321));
      assert.deepEqual(await p.head(key), { key, size: 4321 });
    });

    it('list() returns exactly the keys under a prefix, with sizes', async () => {
      const base = `${run}list/`;
      const sizes: Record<string, number> = {
        [`${base}a/1`]: 1,
        [`${base}a/2`]: 22,
        [`${base}a/deep/er/3`]: 333,
        [`${base}ab/1`]: 4,
        [`${base}b/1`]: 5,
        [`${base}top`]: 6,
      };
      await forEachLimit(Object.keys(sizes), 8, (k) => p.put(k, randomBytes(sizes[k]!)));
      const keysOf = async (prefix: string) => (await collect(p.list(prefix))).map((o) => o.key).sort();
      const under = (prefix: string) => Object.keys(sizes).filter((k) => k.startsWith(prefix)).sort();

      const all = await collect(p.list(base));
      assert.deepEqual(
        all.map((o) => [o.key, o.size]).sort(),
        Object.entries(sizes).sort(),
        'everything under the base prefix, with sizes',
      );
      for (const prefix of [`${base}a/`, `${base}a`, `${base}a/deep/`, `${base}b`, `${base}t`, `${base}top`]) {
        assert.deepEqual(await keysOf(prefix), under(prefix), `list(${JSON.stringify(prefix)})`);
      }
      assert.deepEqual(await keysOf(`${base}zzz`), [], 'a prefix matching nothing');
      assert.deepEqual(await keysOf(`${base}nothing/here/`), [], 'a directory-like prefix matching nothing');
      assert.deepEqual(await keysOf(`${run}no-such-dir/`), [], 'a prefix with no objects at all');
    });

    it(`list() crosses page boundaries (${smallCount} objects)`, { timeout: 600_000 }, async () => {
      const base = `${run}many/`;
      const keys = Array.from({ length: smallCount }, (_, i) => `${base}${String(i).padStart(5, '0')}`);
      await forEachLimit(keys, 16, (k) => p.put(k, Buffer.from(k)));
      const listed = await collect(p.list(base));
      const listedKeys = listed.map((o) => o.key);
      assert.equal(new Set(listedKeys).size, listedKeys.length, 'no key listed twice');
      assert.deepEqual([...listedKeys].sort(), keys, `all ${smallCount} keys listed`);
      for (const o of listed) assert.equal(o.size, o.key.length, `size of ${o.key}`);
      await forEachLimit(keys, 16, (k) => p.delete(k));
      assert.deepEqual(await collect(p.list(base)), [], 'all deleted');
    });

    it('delete() removes an object and resolves when it is already absent', async () => {
      const key = `${run}del/victim`;
      await p.put(key, Buffer.from('bye'));
      await p.delete(key);
      await rejectsWith(p.get(key), 'NotFound', 'get after delete');
      await rejectsWith(p.head(key), 'NotFound', 'head after delete');
      assert.deepEqual(await collect(p.list(`${run}del/`)), [], 'list after delete');
      await p.delete(key); // again
      await p.delete(`${run}del/never-existed`);
    });

    it('get()/head() of a missing key reject NotFound', async () => {
      const key = `${run}missing/nope`;
      await rejectsWith(p.get(key), 'NotFound', 'get');
      await rejectsWith(p.get(key, { offset: 0, length: 10 }), 'NotFound', 'ranged get');
      await rejectsWith(p.head(key), 'NotFound', 'head');
    });

    it('put() is create-once where the provider says so', async () => {
      const key = `${run}once/k`;
      const first = Buffer.from('first version');
      const second = Buffer.from('second, longer version');
      await p.put(key, first);
      if (p.capabilities.conditionalPut) {
        await rejectsWith(p.put(key, second), 'Exists', 'second put of the same key');
        assert.ok((await p.get(key)).equals(first), 'the first version is kept');
      } else {
        await p.put(key, second); // may overwrite: must still be one whole version
        const got = await p.get(key);
        assert.ok(got.equals(first) || got.equals(second), 'one whole version, never a mix');
      }
    });

    it('reports progress that adds up to the bytes moved, where it says it does', async () => {
      const key = `${run}progress/object`;
      const body = randomBytes(3 * MiB + 17);
      let sent = 0;
      let received = 0;
      await p.put(key, body, { onProgress: (n) => (sent += n) });
      const back = await p.get(key, undefined, { onProgress: (n) => (received += n) });
      assert.ok(back.equals(body), 'round trip');
      if (p.capabilities.reportsProgress === true) {
        // At least the body: an adapter may send it twice (WebDAV, once more after making missing collections).
        assert.ok(sent >= body.length && sent % body.length === 0, `put progress: ${sent} bytes for a body of ${body.length}`);
        assert.equal(received, body.length, 'get progress');
      }
    });

    it('a call given an aborted signal rejects Cancelled and changes nothing', async () => {
      const key = `${run}cancelled/kept`;
      const never = `${run}cancelled/never`;
      await p.put(key, Buffer.from('kept'));
      const ac = new AbortController();
      ac.abort();
      const signal = ac.signal;
      await rejectsWith(p.put(never, Buffer.from('x'), { signal }), 'Cancelled', 'put');
      await rejectsWith(p.get(key, undefined, { signal }), 'Cancelled', 'get');
      await rejectsWith(p.get(key, { offset: 0, length: 2 }, { signal }), 'Cancelled', 'ranged get');
      await rejectsWith(p.head(key, { signal }), 'Cancelled', 'head');
      await rejectsWith(p.delete(key, { signal }), 'Cancelled', 'delete');
      await rejectsWith(collect(p.list(`${run}cancelled/`, { signal })), 'Cancelled', 'list');
      assert.equal((await p.get(key)).toString(), 'kept', 'the cancelled delete removed nothing');
      await rejectsWith(p.head(never), 'NotFound', 'the cancelled put stored nothing');
    });

    it(`round-trips a ${Math.round(bigBytes / MiB)} MiB object (sha256)`, { timeout: 600_000 }, async () => {
      const key = `${run}big/object`;
      let body: Buffer | undefined = randomBytes(bigBytes);
      const digest = sha256(body);
      const mid = Math.floor(bigBytes / 2);
      const slice = Buffer.from(body.subarray(mid - 100, mid + 100));
      await p.put(key, body);
      body = undefined; // let it go before reading back
      assert.deepEqual(await p.head(key), { key, size: bigBytes });
      const back = await p.get(key);
      assert.equal(back.length, bigBytes, 'length');
      assert.equal(sha256(back), digest, 'sha256 of the whole object');
      assert.ok((await p.get(key, { offset: mid - 100, length: 200 })).equals(slice), 'a range in the middle');
      await p.delete(key);
    });

    if (opts.oversizeObject ?? true) {
      it('a whole get refuses an object over MAX_OBJECT_BYTES (Integrity, naming member and key); ranges of it still read', { timeout: 600_000 }, async () => {
        const key = `${run}big/oversize`;
        let body: Buffer | undefined = Buffer.alloc(MAX_OBJECT_BYTES + 1, 0x5a);
        const tail = randomBytes(100);
        tail.copy(body, body.length - tail.length);
        await p.put(key, body);
        body = undefined;
        const err = await p.get(key).then(
          (got) => assert.fail(`a whole get of ${MAX_OBJECT_BYTES + 1} bytes resolved with ${got.length} bytes`),
          (e: unknown) => e,
        );
        assert.ok(isRaicError(err, 'Integrity'), `expected Integrity, got ${String(err)}`);
        assert.ok(err.message.includes(p.displayUrl) && err.message.includes(key), `the error names the member and key: ${err.message}`);
        assert.ok((await p.get(key, { offset: MAX_OBJECT_BYTES - 99, length: 100 })).equals(tail), 'a range at its end');
        await p.delete(key);
      });
    }

    it('takes 32 concurrent puts', { timeout: 300_000 }, async () => {
      // Through the retry wrapper, as raic always uses a provider: under load a server may reset a pooled
      // keep-alive connection (Transient by contract); what is tested here is that concurrency loses nothing.
      const rp = withRetry(p);
      const bodies = Array.from({ length: 32 }, (_, i) => ({ key: `${run}concurrent/${i}`, body: randomBytes(64 * 1024 + i) }));
      await Promise.all(bodies.map(({ key, body }) => rp.put(key, body)));
      const got = await Promise.all(bodies.map(({ key }) => rp.get(key)));
      got.forEach((b, i) => assert.ok(b.equals(bodies[i]!.body), `object ${i}`));
      assert.equal((await collect(p.list(`${run}concurrent/`))).length, 32);
    });

    if (opts.badAuth !== undefined) {
      const badAuth = opts.badAuth;
      it('wrong credentials are classified Auth', async () => {
        let bad: Provider;
        try {
          bad = await badAuth();
        } catch (err) {
          // Some backends check credentials when connecting: that must be Auth too.
          assert.ok(isRaicError(err, 'Auth'), `opening with bad credentials: expected Auth, got ${String(err)}`);
          return;
        }
        try {
          const key = `${run}auth/x`;
          await rejectsWith(bad.put(key, Buffer.from('x')), 'Auth', 'put with bad credentials');
          await rejectsWith(bad.get(key), 'Auth', 'get with bad credentials');
          await rejectsWith(bad.head(key), 'Auth', 'head with bad credentials');
          await rejectsWith(collect(bad.list(run)), 'Auth', 'list with bad credentials');
        } finally {
          await bad.close();
        }
      });
    }

    if (opts.stopServer !== undefined && opts.startServer !== undefined) {
      const { stopServer, startServer } = opts;
      it('an unreachable server is classified Transient, and work resumes when it is back', { timeout: 180_000 }, async () => {
        const key = `${run}down/k`;
        await p.put(key, Buffer.from('before'));
        await stopServer();
        try {
          await rejectsWith(p.get(key), 'Transient', 'get while down');
          await rejectsWith(p.head(key), 'Transient', 'head while down');
          await rejectsWith(p.put(`${run}down/new`, Buffer.from('x')), 'Transient', 'put while down');
          await rejectsWith(collect(p.list(`${run}down/`)), 'Transient', 'list while down');
        } finally {
          await startServer();
        }
        // The server may need a moment; the provider itself must recover without being reopened.
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            assert.equal((await p.get(key)).toString(), 'before');
            break;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        await p.put(`${run}down/after`, Buffer.from('after'));
        assert.equal((await p.get(`${run}down/after`)).toString(), 'after');
      });
    }
  });
}
