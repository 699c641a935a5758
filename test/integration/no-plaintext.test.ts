/** No plaintext reaches a provider: a marker in a file's content and name appears in no stored object. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { localArray, putFile, type ArrayFixture } from '../support/array-fixture.js';
import { filesUnder } from '../support/damage.js';
import { S3Admin } from '../support/s3-admin.js';
import { swiftServer, uniqueName } from '../support/servers.js';

const swift = await swiftServer();
const bucket = uniqueName('raic-plain');

describe('no plaintext on any member', () => {
  let a: ArrayFixture;
  let admin: S3Admin;
  const marker = `RAIC-PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`;
  before(async () => {
    admin = new S3Admin(swift.s3);
    process.env.AWS_ACCESS_KEY_ID = swift.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = swift.s3.secretAccessKey;
    a = await localArray(2, 4, { label: 'plain', extraUrls: [`s3://${bucket}?endpoint=${swift.s3.endpoint}&region=${swift.s3.region}`] });
  });
  after(async () => {
    await admin.deleteAll(bucket);
    admin.close();
    await a.cleanup();
  });

  it('a file full of a marker string leaves no trace of it (or of its name) in any object', async () => {
    // Small file (one chunk, its shares tiny) and a multi-chunk one: the marker repeated, plus random filler.
    const small = join(a.dir, `${marker}.txt`);
    await writeFile(small, `${marker}\n`);
    const big = join(a.dir, `big-${marker}.bin`);
    await writeFile(big, Buffer.concat(Array.from({ length: 20000 }, () => Buffer.from(`${marker} ${randomBytes(200).toString('hex')}\n`))));
    await putFile(a, small);
    await putFile(a, big);
    const put = await a.raic(['put', '-'], { stdin: Buffer.from(marker.repeat(1000)) });
    assert.equal(put.code, 0, put.stderr);

    const needles = [marker, marker.slice(0, 16), Buffer.from(marker).toString('base64').slice(0, 16), Buffer.from(marker).toString('hex').slice(0, 32)];
    let scanned = 0;
    const scan = (where: string, bytes: Buffer): void => {
      scanned += 1;
      const text = bytes.toString('latin1');
      for (const needle of needles) assert.ok(!text.includes(needle), `${where} contains ${needle}`);
    };
    for (const dir of a.memberDirs) for (const f of await filesUnder(dir)) scan(f, await readFile(f));
    for (const key of await admin.keys(bucket)) {
      assert.ok(!key.includes(marker));
      scan(`s3://${bucket}/${key}`, await admin.get(bucket, key));
    }
    assert.ok(scanned > 4 * 5, `scanned only ${scanned} objects`);
  });
});
