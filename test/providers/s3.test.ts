/**
 * The S3 provider against OpenStack Swift's S3 API (scripts/servers/up.sh swift): the conformance
 * suite on two fresh buckets — one at the bucket root, one under a prefix reached through a TCP
 * relay that the "server down" test stops — plus what is S3-specific.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { isRaicError } from '../../src/errors.js';
import { withRetry } from '../../src/providers/retry.js';
import { createS3Provider } from '../../src/providers/s3.js';
import { hostPort, swiftServer, tcpRelay, uniqueName } from '../support/servers.js';
import { providerConformance, rejectsWith } from './conformance.js';

const swift = await swiftServer();
const { endpoint, region, accessKeyId, secretAccessKey } = swift.s3;
const credentials = { accessKeyId, secretAccessKey };
const s3Url = (bucket: string, rest = '', ep = endpoint) => new URL(`s3://${bucket}${rest}?endpoint=${ep}&region=${region}`);

const buckets: string[] = [];
const bucket = () => {
  const b = uniqueName('raic-s3');
  buckets.push(b);
  return b;
};
const relay = await tcpRelay(hostPort(endpoint));

after(async () => {
  await relay.close();
  // The suite empties what it wrote; remove the (now empty) buckets too.
  const admin = new S3Client({ endpoint, region, credentials, forcePathStyle: true });
  for (const b of buckets) await admin.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
  admin.destroy();
});

const rootBucket = bucket();
providerConformance('s3 on swift, bucket root', () => createS3Provider(s3Url(rootBucket), { credentials }), {
  badAuth: () => createS3Provider(s3Url(rootBucket), { credentials: { accessKeyId, secretAccessKey: 'wrong' } }),
});

const prefixBucket = bucket();
providerConformance(
  's3 on swift, under a prefix, through a relay',
  // Smaller pages here: paging is crossed twice at a quarter of the cost (the first run uses S3's 1000).
  () => createS3Provider(s3Url(prefixBucket, '/backups/host-1', relay.url), { credentials, listPageSize: 100 }),
  { stopServer: relay.stop, startServer: relay.start, pageBoundary: 100, smallObjects: 250 },
);

describe('s3 provider specifics', () => {
  /** Runs `fn` with only the given AWS variables set, restoring the environment afterwards. */
  async function withAwsEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config' }, vars);
    try {
      return await fn();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }

  it('missing credentials reject Auth, naming the variables to set', async () => {
    await withAwsEnv({}, async () => {
      let err: unknown;
      try {
        await createS3Provider(s3Url('whatever-bucket'));
      } catch (e) {
        err = e;
      }
      assert.ok(isRaicError(err, 'Auth'), `expected Auth, got ${String(err)}`);
      assert.match(err.message, /^s3:\/\/whatever-bucket: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
      assert.doesNotMatch(err.message, /\n/);
    });
  });

  it('takes credentials from the environment variables', async () => {
    const b = bucket();
    await withAwsEnv({ AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey }, async () => {
      const p = await createS3Provider(s3Url(b));
      await p.prepare();
      await p.put('env/k', Buffer.from('from env'));
      assert.equal((await p.get('env/k')).toString(), 'from env');
      await p.delete('env/k');
      await p.close();
    });
  });

  it('takes credentials from a shared credentials profile (AWS_PROFILE or ?profile=)', async () => {
    const dir = await fs.mkdtemp(path.join(tmpdir(), 'raic-aws-'));
    const file = path.join(dir, 'credentials');
    await fs.writeFile(file, `[raic-test]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`);
    const b = bucket();
    try {
      await withAwsEnv({ AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'raic-test' }, async () => {
        const p = await createS3Provider(s3Url(b));
        await p.prepare();
        await p.put('profile/k', Buffer.from('from profile'));
        await p.close();
      });
      await withAwsEnv({ AWS_SHARED_CREDENTIALS_FILE: file }, async () => {
        const p = await createS3Provider(new URL(`s3://${b}?endpoint=${endpoint}&profile=raic-test`));
        assert.equal((await p.get('profile/k')).toString(), 'from profile');
        await p.delete('profile/k');
        await p.close();
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a bucket that was never prepared is Permanent, with a hint', async () => {
    const p = await createS3Provider(s3Url(uniqueName('raic-absent')), { credentials });
    let err: unknown;
    try {
      await p.put('k', Buffer.from('x'));
    } catch (e) {
      err = e;
    }
    assert.ok(isRaicError(err, 'Permanent'), `expected Permanent, got ${String(err)}`);
    assert.match(err.message, /bucket does not exist/);
    await p.close();
  });

  it('an unreachable endpoint is Transient after retrying, in one clear line', async () => {
    const raw = await createS3Provider(s3Url('some-bucket', '/p', 'http://127.0.0.1:1'), { credentials });
    const retries: number[] = [];
    const p = withRetry(raw, { baseDelayMs: 5, onRetry: (e) => retries.push(e.attempt) });
    const started = Date.now();
    let err: unknown;
    try {
      await p.head('k');
    } catch (e) {
      err = e;
    }
    assert.ok(isRaicError(err, 'Transient'), `expected Transient, got ${String(err)}`);
    assert.equal(err.message, 's3://some-bucket/p: cannot connect to http://127.0.0.1:1 (connection refused) (gave up after 4 attempts)');
    assert.deepEqual(retries, [1, 2, 3]);
    assert.ok(Date.now() - started < 5000, 'refused connections fail fast');
    await p.close();
  });

  it('a wrong secret is Auth and says access denied', async () => {
    const p = await createS3Provider(s3Url(rootBucket), { credentials: { accessKeyId, secretAccessKey: 'nope' } });
    await rejectsWith(p.head('x'), 'Auth', 'head');
    const err = await p.get('x').then(
      () => assert.fail('get with a wrong secret resolved'),
      (e: unknown) => e,
    );
    assert.ok(isRaicError(err, 'Auth'), `expected Auth, got ${String(err)}`);
    assert.match(err.message, /^s3:\/\/raic-s3-[0-9a-f]+: get x: access denied \(403 SignatureDoesNotMatch/);
    await p.close();
  });
});
