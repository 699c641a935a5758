import assert from 'node:assert/strict';
import { access, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatCapability, parseCapability } from '../../src/store/index.js';
import { localArray, oneCleanErrorLine, putFile, randomFile, type ArrayFixture } from '../support/array-fixture.js';
import { runRaic, tempDir } from '../support/cli.js';

describe('bad input: one clear line, non-zero exit, nothing left behind', () => {
  let a: ArrayFixture;
  let other: ArrayFixture;
  let cap: string;
  const scratch: string[] = [];
  /** A temp dir removed after the suite. */
  const scratchDir = async (label: string): Promise<string> => {
    const dir = await tempDir(label);
    scratch.push(dir);
    return dir;
  };
  before(async () => {
    a = await localArray(2, 3, { label: 'bad' });
    other = await localArray(2, 3, { label: 'other' });
    cap = await putFile(a, (await randomFile(a.dir, 'f.bin', 5000)).path);
  });
  after(async () => {
    await a.cleanup();
    await other.cleanup();
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  async function failsCleanly(args: string[], env: Record<string, string | undefined>, expect: RegExp, code?: number): Promise<void> {
    const before = await readdir(a.dir);
    const r = await runRaic(args, { env: { ...a.env, ...env } });
    if (code !== undefined) assert.equal(r.code, code, r.stderr);
    else assert.notEqual(r.code, 0);
    assert.match(oneCleanErrorLine(r.stderr), expect);
    assert.deepEqual(await readdir(a.dir), before, 'no file may be left behind');
  }

  it('wrong passphrase → exit 12', async () => {
    await failsCleanly(['put', join(a.dir, 'f.bin')], { RAIC_PASSWORD: 'wrong' }, /wrong passphrase/, 12);
  });

  it('no passphrase and no terminal → tells how to give one', async () => {
    await failsCleanly(['put', join(a.dir, 'f.bin')], { RAIC_PASSWORD: undefined }, /RAIC_PASSWORD/);
  });

  it('garbled capability', async () => {
    await failsCleanly(['get', 'not-a-capability', join(a.dir, 'x')], {}, /not a valid capability/);
    await failsCleanly(['get', cap.replace('raic:file', 'raic:flie'), join(a.dir, 'x')], {}, /not a valid capability/);
  });

  it('truncated capability', async () => {
    await failsCleanly(['get', cap.slice(0, cap.length - 9), join(a.dir, 'x')], {}, /not a valid capability/);
    await failsCleanly(['get', cap.slice(0, 60), join(a.dir, 'x')], {}, /not a valid capability/);
  });

  it('mistyped capability (one character changed) is caught by its checksum', async () => {
    const i = 40;
    const typo = cap.slice(0, i) + (cap[i] === 'a' ? 'b' : 'a') + cap.slice(i + 1);
    await failsCleanly(['get', typo, join(a.dir, 'x')], {}, /checksum/);
  });

  it('tampered capability with a valid checksum: altered key, altered manifest id', async () => {
    const parsed = parseCapability(cap);
    const arrayId = JSON.parse(await (await import('node:fs/promises')).readFile(a.config, 'utf8')).arrayId as string;
    const badKey = Buffer.from(parsed.key);
    badKey[0] = badKey[0]! ^ 1;
    await failsCleanly(['get', formatCapability(arrayId, parsed.manifestId, badKey), join(a.dir, 'x')], {}, /capability key does not open|altered/);
    const badId = Buffer.from(parsed.manifestId, 'hex');
    badId[5] = badId[5]! ^ 1;
    await failsCleanly(['get', formatCapability(arrayId, badId.toString('hex'), parsed.key), join(a.dir, 'x')], {}, /no member holds/);
  });

  it('capability from another array', async () => {
    const foreign = await putFile(other, (await randomFile(other.dir, 'g.bin', 100)).path);
    await failsCleanly(['get', foreign, join(a.dir, 'x')], {}, /another array/);
  });

  it('unknown URL scheme', async () => {
    const dir = await scratchDir('scheme');
    await failsCleanly(['init', '--k', '1', `file://${dir}/a`, 'ftp://example/x'], { RAIC_CONFIG: join(dir, 'c.json') }, /unknown URL scheme "ftp:"/);
    await assert.rejects(access(join(dir, 'c.json')));
  });

  it('k ≥ n', async () => {
    const dir = await scratchDir('kn');
    await failsCleanly(['init', '--k', '2', `file://${dir}/a`, `file://${dir}/b`], { RAIC_CONFIG: join(dir, 'c.json') }, /k must be smaller/, 2);
    await failsCleanly(['init', '--k', '0', `file://${dir}/a`, `file://${dir}/b`], { RAIC_CONFIG: join(dir, 'c.json') }, /--k must be/, 2);
    await assert.rejects(access(join(dir, 'c.json')));
    assert.deepEqual(await readdir(dir), []);
  });

  it('missing S3 credentials', async () => {
    const dir = await scratchDir('nocreds');
    const r = await runRaic(['init', '--k', '1', `file://${dir}/a`, 's3://raic-nocreds/x?endpoint=http://127.0.0.1:18080&region=us-east-1'], {
      env: { RAIC_CONFIG: join(dir, 'c.json'), RAIC_PASSWORD: 'p', HOME: dir, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined, AWS_SESSION_TOKEN: undefined },
    });
    assert.notEqual(r.code, 0);
    assert.match(oneCleanErrorLine(r.stderr), /credential/i);
    assert.match(r.stderr, /AWS_ACCESS_KEY_ID/);
    await assert.rejects(access(join(dir, 'c.json')));
  });

  it('unreachable endpoint', async () => {
    const dir = await scratchDir('unreach');
    const r = await runRaic(['init', '--k', '1', `file://${dir}/a`, 's3://raic-unreach/x?endpoint=http://127.0.0.1:1&region=us-east-1'], {
      env: { RAIC_CONFIG: join(dir, 'c.json'), RAIC_PASSWORD: 'p', AWS_ACCESS_KEY_ID: 'test:tester', AWS_SECRET_ACCESS_KEY: 'testing' },
    });
    assert.notEqual(r.code, 0);
    const line = oneCleanErrorLine(r.stderr);
    assert.match(line, /127\.0\.0\.1:1/);
    await assert.rejects(access(join(dir, 'c.json')));
  });

  it('a file that cannot be read', async () => {
    await failsCleanly(['put', join(a.dir, 'does-not-exist')], {}, /cannot read .*no such file/);
    await failsCleanly(['put', a.dir], {}, /is a directory/);
  });

  it('no config → exit 10 with what to do', async () => {
    await failsCleanly(['put', join(a.dir, 'f.bin')], { RAIC_CONFIG: join(a.dir, 'nope.json') }, /raic init/, 10);
  });
});
