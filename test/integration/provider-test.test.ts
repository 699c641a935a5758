/**
 * `raic provider test` as a user runs it, against one member of each kind on its real server
 * (scripts/servers/up.sh): every kind passes with sane figures and leaves nothing behind; a wrong
 * secret, a dead endpoint, missing credentials and a missing bucket each fail their own row with
 * their own phrase; the --json shape; the config's members when no URL is given. Then the core
 * function on real backends behind a lying or faulty wrapper, for failures no healthy server shows.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeleteBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SCRATCH_FOLDER, testProvider, type ProviderTestResult } from '../../src/core/provider-test.js';
import { createFileProvider } from '../../src/providers/file.js';
import { createS3Provider } from '../../src/providers/s3.js';
import { fingerprintOf } from '../../src/providers/sftp-host-key.js';
import type { Provider } from '../../src/providers/types.js';
import { runRaic, tempDir } from '../support/cli.js';
import { createFaultyProvider } from '../support/faulty-provider.js';
import { S3Admin } from '../support/s3-admin.js';
import { azuriteServer, sftpServer, swiftServer, uniqueName, webdavServer } from '../support/servers.js';

// As bin/run.js does: the SDK's warning about its future Node support is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const swift = await swiftServer();
const azurite = await azuriteServer();
const sftp = await sftpServer();
const webdav = await webdavServer();

const hostKeyLine = readFileSync(path.join(path.dirname(sftp.privateKeyPath), 'ssh_host_ed25519_key.pub'), 'utf8');
const sftpFingerprint = fingerprintOf(Buffer.from(hostKeyLine.split(/\s+/)[1]!, 'base64'));

/** Every credential the six kinds need, as a user would export them. */
const env: Record<string, string | undefined> = {
  AWS_ACCESS_KEY_ID: swift.s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: swift.s3.secretAccessKey,
  AWS_REGION: swift.s3.region,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_CONFIG_FILE: '/nonexistent/config',
  SWIFT_USERNAME: swift.swift.username,
  SWIFT_PASSWORD: swift.swift.key,
  AZURE_STORAGE_KEY: azurite.accountKey,
  SFTP_KEY_FILE: sftp.privateKeyPath,
  WEBDAV_USERNAME: webdav.username,
  WEBDAV_PASSWORD: webdav.password,
};

const s3Url = (bucket: string, endpoint = swift.s3.endpoint) => `s3://${bucket}/pt?endpoint=${endpoint}&region=${swift.s3.region}`;
const webdavOrigin = new URL(webdav.url);

const MiB = 1024 * 1024;
const buckets: string[] = []; // S3 buckets and Swift containers (one namespace on this server)
const localDirs: string[] = [];
let fileDir: string;

before(async () => {
  fileDir = await tempDir('provider-test');
  localDirs.push(fileDir);
});

after(async () => {
  const admin = new S3Client({
    endpoint: swift.s3.endpoint,
    region: swift.s3.region,
    credentials: { accessKeyId: swift.s3.accessKeyId, secretAccessKey: swift.s3.secretAccessKey },
    forcePathStyle: true,
  });
  for (const b of buckets) await admin.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
  admin.destroy();
  for (const d of localDirs) await rm(d, { recursive: true, force: true });
});

/** One fresh member URL of each kind; `--prepare` creates the bucket / container / directory. */
function oneOfEachKind(): { kind: string; url: string; localRoot?: string; bucket?: string }[] {
  const s3Bucket = uniqueName('raic-pt-s3');
  const container = uniqueName('raic-pt-swift');
  const azureContainer = uniqueName('raic-pt-azure');
  const sftpDir = uniqueName('raic-pt-sftp');
  const webdavDir = uniqueName('raic-pt-webdav');
  buckets.push(s3Bucket, container);
  localDirs.push(path.join(sftp.root, sftpDir), path.join(webdav.root, webdavDir));
  return [
    { kind: 'file', url: `file://${fileDir}`, localRoot: fileDir },
    { kind: 's3', url: s3Url(s3Bucket), bucket: s3Bucket },
    { kind: 'swift', url: `swift://${container}/pt?auth=${swift.swift.authUrl}` },
    { kind: 'azure', url: `azure://${azurite.accountName}/${azureContainer}/pt?endpoint=${azurite.blobEndpoint}` },
    { kind: 'sftp', url: `sftp://${sftp.username}@${sftp.host}:${sftp.port}${sftp.root}/${sftpDir}/pt?fingerprint=${sftpFingerprint}`, localRoot: path.join(sftp.root, sftpDir, 'pt') },
    { kind: 'webdav+http', url: `webdav+http://${webdavOrigin.host}/${webdavDir}/pt`, localRoot: path.join(webdav.root, webdavDir, 'pt') },
  ];
}

interface Row {
  member: string;
  result: string;
  latency: string;
  put: string;
  get: string;
  note: string;
}

/** The table's rows (header excluded), in the order the members were given. */
function tableRows(stdout: string, count: number): Row[] {
  const lines = stdout.split('\n');
  assert.deepEqual(lines[0]!.split(/\s{2,}/), ['member', 'result', 'latency', 'put MB/s', 'get MB/s', 'note'], 'table header');
  return lines.slice(1, 1 + count).map((line) => {
    const [member, result, latency, put, get, note] = line.split(/\s{2,}/);
    return { member: member!, result: result!, latency: latency!, put: put!, get: get!, note: note ?? '' };
  });
}

function assertSaneFigures(r: ProviderTestResult, what: string): void {
  assert.ok(r.latencyMs !== null && r.latencyMs >= 0 && r.latencyMs < 2000, `${what}: latency ${r.latencyMs} ms`);
  assert.ok(r.putMBps !== null && r.putMBps > 1 && r.putMBps < 100_000, `${what}: put ${r.putMBps} MB/s`);
  assert.ok(r.getMBps !== null && r.getMBps > 1 && r.getMBps < 100_000, `${what}: get ${r.getMBps} MB/s`);
}

describe('raic provider test: one member of each kind on its real server', () => {
  it('every kind passes: a table row each with latency and throughput, exit 0, nothing left behind', async () => {
    const members = oneOfEachKind();
    const r = await runRaic(['provider', 'test', '--prepare', '--size', '4', ...members.map((m) => m.url)], { env });
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const rows = tableRows(r.stdout, members.length);
    members.forEach((m, i) => {
      const row = rows[i]!;
      assert.equal(row.result, 'ok', `${m.kind}: ${JSON.stringify(row)}`);
      assert.ok(m.url.startsWith(row.member.split('?')[0]!), `${m.kind}: row ${i} names ${row.member}`);
      assert.match(row.latency, /^\d+\.\d ms$/, `${m.kind} latency`);
      for (const rate of [row.put, row.get]) assert.ok(Number(rate) > 1, `${m.kind}: ${rate} MB/s`);
      assert.equal(row.note, m.kind === 's3' ? 'no create-once' : '', `${m.kind} note`);
    });
    assert.match(r.stdout, /every member passed: read, write, list and delete permitted/);
    assert.match(r.stdout, /one put and one get of 4 MiB/);

    // Removed afterwards: no object under the scratch folder anywhere.
    for (const m of members.filter((x) => x.localRoot !== undefined)) {
      const scratch = path.join(m.localRoot!, SCRATCH_FOLDER);
      const left = existsSync(scratch) ? await readdir(scratch) : [];
      assert.deepEqual(left, [], `${m.kind}: ${scratch} still holds ${left.join(', ')}`);
    }
    const admin = new S3Admin(swift.s3);
    try {
      assert.deepEqual(await admin.keys(members[1]!.bucket!), [], 's3 bucket emptied');
    } finally {
      admin.close();
    }
  });

  it('--json: an array of one result per member, with steps, permissions and figures', async () => {
    const members = oneOfEachKind();
    const r = await runRaic(['provider', 'test', '--json', '--prepare', '--size', '2', ...members.map((m) => m.url)], { env });
    assert.equal(r.code, 0, r.stderr);
    const results = JSON.parse(r.stdout) as ProviderTestResult[];
    assert.ok(Array.isArray(results));
    assert.equal(results.length, members.length);
    const steps = ['open', 'prepare', 'list-empty', 'put', 'get', 'range', 'head', 'list', 'missing', 'create-once', 'latency', 'bulk-put', 'bulk-get', 'delete'];
    members.forEach((m, i) => {
      const res = results[i]!;
      assert.deepEqual(
        Object.keys(res).sort(),
        ['bulkBytes', 'createOnce', 'failure', 'getMBps', 'latencyMs', 'leftover', 'notes', 'ok', 'permissions', 'putMBps', 'retries', 'scratchPrefix', 'steps', 'url'],
        `${m.kind}: result fields`,
      );
      assert.equal(res.ok, true, `${m.kind}: ${JSON.stringify(res.failure)}`);
      assert.equal(res.failure, null);
      assert.deepEqual(res.permissions, { read: 'ok', write: 'ok', list: 'ok', delete: 'ok' }, m.kind);
      assert.equal(res.createOnce, m.kind === 's3' ? 'not offered' : 'honoured', `${m.kind} create-once`);
      assert.deepEqual(
        res.steps.map((s) => s.step),
        steps.filter((s) => s !== 'create-once' || m.kind !== 's3'),
        `${m.kind} steps`,
      );
      assert.ok(res.steps.every((s) => s.ok && s.ms >= 0), `${m.kind}: every step ok`);
      assert.equal(res.bulkBytes, 2 * MiB);
      assert.equal(res.leftover, 0, `${m.kind} leftover`);
      assert.match(res.scratchPrefix, /^raic-provider-test\/[0-9a-f]{16}-$/);
      assert.ok(!res.url.includes(env.AZURE_STORAGE_KEY!) && !res.url.includes(env.WEBDAV_PASSWORD!), 'no secret in the url');
      assertSaneFigures(res, m.kind);
    });
    assert.equal(r.stderr, '', '--json prints no progress notes');
  });

  it('a wrong S3 secret fails that row with "auth refused", the others still pass, exit 1', async () => {
    const bucket = uniqueName('raic-pt-s3');
    buckets.push(bucket);
    const r = await runRaic(['provider', 'test', '--size', '1', `file://${fileDir}`, s3Url(bucket)], { env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong-secret' } });
    assert.equal(r.code, 1, r.stdout);
    const [file, s3] = tableRows(r.stdout, 2);
    assert.equal(file!.result, 'ok');
    assert.equal(s3!.result, 'FAILED');
    assert.equal(s3!.note, 'auth refused');
    assert.equal(s3!.latency, '-');
    // The detail below the table: the adapter's message, its hint, and what was (not) permitted.
    assert.match(r.stdout, new RegExp(`s3://${bucket}/pt: auth refused\\n    list-empty: .*access denied \\(403 SignatureDoesNotMatch`));
    assert.match(r.stdout, /hint: check AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY/);
    assert.match(r.stdout, /access: list denied, read\+write\+delete untested/);
    assert.ok(!r.stdout.includes('wrong-secret') && !r.stderr.includes('wrong-secret'), 'the secret is never printed');

    const j = await runRaic(['provider', 'test', '--json', s3Url(bucket)], { env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong-secret' } });
    assert.equal(j.code, 1);
    const [res] = JSON.parse(j.stdout) as ProviderTestResult[];
    assert.equal(res!.ok, false);
    assert.deepEqual({ ...res!.failure, message: undefined, hint: undefined }, { step: 'list-empty', phrase: 'auth refused', code: 'Auth', message: undefined, hint: undefined });
    assert.deepEqual(res!.permissions, { read: 'untested', write: 'untested', list: 'denied', delete: 'untested' });
  });

  it('an unreachable endpoint fails its row with "unreachable", quickly', async () => {
    const started = Date.now();
    const r = await runRaic(
      ['provider', 'test', s3Url('raic-pt-nowhere', 'http://127.0.0.1:1'), `sftp://${sftp.username}@127.0.0.1:1/srv/x?fingerprint=${sftpFingerprint}`],
      { env },
    );
    assert.equal(r.code, 1);
    const rows = tableRows(r.stdout, 2);
    for (const row of rows) {
      assert.equal(row.result, 'FAILED', row.member);
      assert.match(row.note, /^unreachable(; 3 retries)?$/, row.member);
    }
    assert.match(r.stdout, /cannot connect to http:\/\/127\.0\.0\.1:1 \(connection refused\)/);
    assert.ok(Date.now() - started < 30_000, 'refused connections fail within seconds');
  });

  it('missing credentials and a bad URL are rows of their own, not a crash', async () => {
    const r = await runRaic(['provider', 'test', `webdav+http://${webdavOrigin.host}/x`, 'not-a-url'], {
      env: { ...env, WEBDAV_USERNAME: undefined, WEBDAV_PASSWORD: undefined },
    });
    assert.equal(r.code, 1);
    const [dav, bad] = tableRows(r.stdout, 2);
    assert.equal(dav!.note, 'no credentials');
    assert.equal(bad!.note, 'bad URL');
    assert.match(r.stdout, /hint: set WEBDAV_USERNAME and WEBDAV_PASSWORD/);
  });

  it('without --prepare a missing bucket fails, is not created, and the output says how to create it', async () => {
    const bucket = uniqueName('raic-pt-absent');
    const r = await runRaic(['provider', 'test', s3Url(bucket)], { env });
    assert.equal(r.code, 1);
    const [row] = tableRows(r.stdout, 1);
    assert.equal(row!.note, 'list failed');
    assert.match(r.stdout, /bucket does not exist/);
    assert.match(r.stdout, /--prepare creates it/);
    const admin = new S3Client({
      endpoint: swift.s3.endpoint,
      region: swift.s3.region,
      credentials: { accessKeyId: swift.s3.accessKeyId, secretAccessKey: swift.s3.secretAccessKey },
      forcePathStyle: true,
    });
    try {
      await assert.rejects(admin.send(new HeadBucketCommand({ Bucket: bucket })), 'the bucket was not created');
    } finally {
      admin.destroy();
    }
  });

  it('with no URL, tests every member of the config in share order (no passphrase needed)', async () => {
    const dir = await tempDir('provider-test-config');
    localDirs.push(dir);
    const members = [path.join(dir, 'm0'), path.join(dir, 'm1')];
    for (const m of members) await mkdir(m);
    const config = path.join(dir, 'config.json');
    const urls = [...members.map((m) => `file://${m}`), s3Url('raic-pt-nowhere', 'http://127.0.0.1:1')];
    await writeFile(config, JSON.stringify({ version: 1, arrayId: 'a'.repeat(32), k: 2, n: 3, members: urls }));
    const r = await runRaic(['provider', 'test', '--json', '--size', '1', '--config', config], { env: { ...env, RAIC_PASSWORD: undefined } });
    assert.equal(r.code, 1, 'one member is unreachable');
    const results = JSON.parse(r.stdout) as ProviderTestResult[];
    assert.deepEqual(
      results.map((x) => [x.url, x.ok, x.failure?.phrase ?? null]),
      [
        [urls[0], true, null],
        [urls[1], true, null],
        ['s3://raic-pt-nowhere/pt', false, 'unreachable'],
      ],
    );
  });
});

/** A provider that claims create-once but, like a WebDAV server ignoring If-None-Match, overwrites. */
function claimingCreateOnce(inner: Provider): Provider {
  return {
    displayUrl: inner.displayUrl,
    capabilities: { conditionalPut: true },
    prepare: () => inner.prepare(),
    put: (k, b) => inner.put(k, b),
    get: (k, r) => inner.get(k, r),
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
    close: () => inner.close(),
  };
}

describe('testProvider (core) on real backends behind a lying or faulty wrapper', () => {
  it('an adapter claiming create-once over a server that overwrites: "create-once not honoured"', async () => {
    const bucket = uniqueName('raic-pt-s3');
    buckets.push(bucket);
    const s3 = await createS3Provider(new URL(s3Url(bucket)), { credentials: { accessKeyId: swift.s3.accessKeyId, secretAccessKey: swift.s3.secretAccessKey } });
    await s3.prepare();
    const res = await testProvider(claimingCreateOnce(s3), { bulkBytes: MiB });
    await s3.close();
    assert.equal(res.ok, false);
    assert.equal(res.failure?.phrase, 'create-once not honoured');
    assert.equal(res.failure?.code, 'Mismatch');
    assert.equal(res.createOnce, 'not honoured');
    assert.equal(res.leftover, 0, 'cleaned up after the failure');
  });

  it('bytes changed on the way back: "read back wrong bytes"', async () => {
    const faulty = createFaultyProvider(await createFileProvider(new URL(`file://${fileDir}`))).corruptGets();
    const res = await testProvider(faulty, { bulkBytes: MiB });
    assert.equal(res.failure?.phrase, 'read back wrong bytes');
    assert.equal(res.failure?.step, 'get');
    assert.deepEqual(res.permissions, { read: 'failed', write: 'ok', list: 'ok', delete: 'untested' });
    assert.equal(res.leftover, 0);
  });

  it('writes refused after a listing worked: "write not permitted", and the permission summary says so', async () => {
    const faulty = createFaultyProvider(await createFileProvider(new URL(`file://${fileDir}`))).failAlways('Auth', { ops: ['put'] });
    const res = await testProvider(faulty, { bulkBytes: MiB });
    assert.equal(res.failure?.phrase, 'write not permitted');
    assert.deepEqual(res.permissions, { read: 'untested', write: 'denied', list: 'ok', delete: 'untested' });
    assert.equal(res.latencyMs, null);
    assert.equal(res.putMBps, null);
  });
});
