/**
 * Loss and corruption with members on the real S3 API (Swift's s3api, two buckets) mixed with local
 * directories: k=3, n=5 — members 0–2 local, 3–4 S3.
 */
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getBytes, localArray, oneCleanErrorLine, putFile, randomFile, sha256, type ArrayFixture } from '../support/array-fixture.js';
import { hideDir, packFiles, truncateTo, keyOf } from '../support/damage.js';
import { S3Admin } from '../support/s3-admin.js';
import { swiftServer, uniqueName } from '../support/servers.js';

const swift = await swiftServer();
const s3env = { AWS_ACCESS_KEY_ID: swift.s3.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.s3.secretAccessKey, AWS_REGION: swift.s3.region };
const buckets = [uniqueName('raic-mix'), uniqueName('raic-mix')];
const prefix = 'backups/raic';
const s3Url = (bucket: string, endpoint = swift.s3.endpoint) => `s3://${bucket}/${prefix}?endpoint=${endpoint}&region=${swift.s3.region}`;

describe('mixed local + S3 members (k=3, n=5)', () => {
  let a: ArrayFixture;
  let admin: S3Admin;
  let cap: string;
  let expected: string;
  const run = (args: string[], config?: string) => a.raic(args, { env: { ...s3env, ...(config ? { RAIC_CONFIG: config } : {}) } });

  /** A copy of the config in which the given S3 members point at a dead endpoint (unreachable). */
  async function configWithUnreachable(members: number[]): Promise<string> {
    const c = JSON.parse(await readFile(a.config, 'utf8')) as { members: string[] };
    for (const m of members) c.members[m] = s3Url(buckets[m - 3]!, 'http://127.0.0.1:1');
    const path = join(a.dir, `config-unreachable-${members.join('')}.json`);
    await writeFile(path, JSON.stringify(c));
    return path;
  }

  before(async () => {
    admin = new S3Admin(swift.s3);
    process.env.AWS_ACCESS_KEY_ID = s3env.AWS_ACCESS_KEY_ID; // the fixture's init runs raic too
    process.env.AWS_SECRET_ACCESS_KEY = s3env.AWS_SECRET_ACCESS_KEY;
    a = await localArray(3, 5, { label: 'mixed', extraUrls: buckets.map((b) => s3Url(b)) });
    const src = await randomFile(a.dir, 'data.bin', 9 * 1024 * 1024 + 7);
    expected = sha256(src.bytes);
    cap = await putFile(a, src.path);
  });
  after(async () => {
    for (const b of buckets) await admin.deleteAll(b);
    admin.close();
    await a.cleanup();
  });

  it('stored packs, index and manifest in both buckets', async () => {
    for (const b of buckets) {
      const keys = await admin.keys(b, prefix);
      for (const kind of ['config', 'packs/', 'index/', 'manifests/', 'keys/']) assert.ok(keys.some((k) => k.startsWith(`${prefix}/${kind}`)), `${b} lacks ${kind}`);
    }
  });

  it('both S3 members unreachable → get is bit-exact', async () => {
    const config = await configWithUnreachable([3, 4]);
    const r = await run(['get', cap, join(a.dir, 'out-s3down')], config);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(join(a.dir, 'out-s3down'))), expected);
  });

  it('one S3 member unreachable and one local member deleted → bit-exact', async () => {
    const config = await configWithUnreachable([4]);
    const restore = await hideDir(a.memberDirs[1]!);
    try {
      const r = await run(['get', cap, join(a.dir, 'out-mixed-loss')], config);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha256(await readFile(join(a.dir, 'out-mixed-loss'))), expected);
    } finally {
      await restore();
    }
  });

  it('three members lost → one line naming them, no output file', async () => {
    const config = await configWithUnreachable([3, 4]);
    const restore = await hideDir(a.memberDirs[0]!);
    const target = join(a.dir, 'out-three');
    try {
      const r = await run(['get', cap, target], config);
      assert.notEqual(r.code, 0);
      const line = oneCleanErrorLine(r.stderr);
      assert.ok(line.includes(a.urls[0]!), line);
      for (const b of buckets) assert.ok(line.includes(b), `${line} should name ${b}`);
      await assert.rejects(access(target));
    } finally {
      await restore();
    }
  });

  it('corrupt packs on an S3 member and a local member → bit-exact; check --read-data names both', async () => {
    const s3Packs = (await admin.keys(buckets[0]!, `${prefix}/packs/`)).sort();
    for (const key of s3Packs) {
      const body = await admin.get(buckets[0]!, key);
      body[body.length >> 1] = body[body.length >> 1]! ^ 0xff;
      await admin.put(buckets[0]!, key, body);
    }
    const localPacks = await packFiles(a.memberDirs[2]!);
    for (const f of localPacks) await truncateTo(f, 0.3);

    assert.equal(sha256(await getBytes(a, cap, join(a.dir, 'out-corrupt'))), expected);
    const r = await run(['check', cap, '--read-data', '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as { members: { damaged: { key: string }[] }[] };
    assert.deepEqual(report.members[3]!.damaged.map((d) => d.key).sort(), s3Packs.map((k) => k.slice(prefix.length + 1)));
    assert.deepEqual(report.members[2]!.damaged.map((d) => d.key).sort(), localPacks.map((f) => keyOf(a.memberDirs[2]!, f)).sort());
    for (const m of [0, 1, 4]) assert.equal(report.members[m]!.damaged.length, 0);
  });

  it('an S3 bucket emptied entirely plus a corrupt local member → still bit-exact; check names both', async () => {
    // A fresh file, so the damage of the previous test does not count against this one.
    const before = new Set(await packFiles(a.memberDirs[0]!));
    const src = await randomFile(a.dir, 'data2.bin', 6 * 1024 * 1024 + 1);
    const cap2 = await putFile(a, src.path);
    await admin.deleteAll(buckets[1]!, prefix);
    const fresh = (await packFiles(a.memberDirs[0]!)).filter((f) => !before.has(f));
    assert.ok(fresh.length > 0);
    for (const f of fresh) await truncateTo(f, 0.9);
    const target = join(a.dir, 'out-bucket-gone');
    const r = await run(['get', cap2, target]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(await readFile(target)), sha256(src.bytes));
    const check = await run(['check', cap2, '--json']);
    assert.equal(check.code, 1);
    const report = JSON.parse(check.stdout) as { members: { unreachable: string | null; corrupt: number }[] };
    assert.match(report.members[4]!.unreachable ?? '', /no raic array/);
    assert.ok(report.members[0]!.corrupt > 0);
  });
});
