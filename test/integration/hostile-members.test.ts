/**
 * Members that lie, lag or roll back, and files whose mtime lies (k=2, n=4, local members): the three ways
 * to lose data that issue 9 opens with, each as a user meets it through the CLI.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { localArray, sha256, type ArrayFixture } from '../support/array-fixture.js';
import { runRaic, tempDir } from '../support/cli.js';
import { seededBytes } from '../support/tree-fixture.js';
import { filesUnder } from '../support/damage.js';

interface CheckJson {
  ok: boolean;
  members: { member: number; corrupt: number; missing: number; damaged: { key: string; problem: string }[] }[];
  snapshots?: { id: string; survives: number }[];
}

interface BackupJson {
  snapshotId: string;
  unchangedFiles: number;
  bytesRead: number;
  newChunks: number;
}

const check = async (a: ArrayFixture, ...args: string[]): Promise<{ code: number; report: CheckJson }> => {
  const r = await a.raic(['check', '--json', ...args]);
  return { code: r.code, report: JSON.parse(r.stdout) as CheckJson };
};

const backupJson = async (a: ArrayFixture, ...args: string[]): Promise<BackupJson> => JSON.parse(await a.ok(['backup', '--json', ...args])) as BackupJson;

describe('a member rolled back to an old state', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  after(async () => a?.cleanup());

  it('a backup after the rollback restores bit-exact (dedup does not lean on what only that member holds)', async () => {
    a = await localArray(2, 4, { label: 'rollback' });
    const src = join(a.dir, 'src');
    const big = seededBytes(1, 'rollback-big', 3 * 1024 * 1024);
    await mkdir(src);
    await writeFile(join(src, 'small.txt'), 'a small file that stays\n');
    await writeFile(join(src, 'big.bin'), big);
    await a.ok(['backup', src]);

    // Member 0 as it is now, kept aside (a NAS snapshot, a lagging replica).
    const saved = join(a.dir, 'member-0-saved');
    await cp(a.memberDirs[0]!, saved, { recursive: true, preserveTimestamps: true });

    await rm(join(src, 'big.bin'));
    await a.ok(['backup', src]);
    await a.ok(['forget', '--keep-last', '1', '--prune']);

    // Member 0 comes back from its old copy: it serves index segments and packs the others pruned.
    await rm(a.memberDirs[0]!, { recursive: true, force: true });
    await cp(saved, a.memberDirs[0]!, { recursive: true, preserveTimestamps: true });

    await writeFile(join(src, 'big.bin'), big);
    const r = await a.raic(['backup', '--json', src]);
    if (r.code !== 0) {
      // Refusing is allowed; then nothing may have been committed.
      assert.notEqual(r.code, 3);
      assert.notEqual(r.code, 4);
      return;
    }
    const res = JSON.parse(r.stdout) as BackupJson;
    assert.ok(res.newChunks > 0, 'the file was stored again, not deduplicated against the pruned copy');

    const target = join(a.dir, 'restored');
    await a.ok(['restore', 'latest', '--target', target]);
    const back = await readFile(join(target, src, 'big.bin'));
    assert.equal(sha256(back), sha256(big), 'restored bit-exact');

    // The forgotten snapshot's record, replayed by member 0, stays forgotten (its tombstones are on the others).
    const snaps = JSON.parse(await a.ok(['snapshots', '--json'])) as { manifestId: string }[];
    assert.equal(snaps.length, 2, `the kept and the new snapshot only: ${JSON.stringify(snaps)}`);
    // check judges the new snapshot by what is really present: it restores, and it survives a loss.
    const c = await check(a);
    assert.equal(c.report.snapshots!.length, 2);
    const latest = c.report.snapshots!.find((s) => s.id === res.snapshotId);
    assert.ok(latest, 'the new snapshot is in check\'s report');
    assert.ok(latest.survives >= 1, JSON.stringify(c.report.snapshots));
    // repair brings member 0 up to date (the tombstone too) and deletes the replayed record; then all is whole.
    await a.ok(['repair']);
    const after = await check(a);
    assert.equal(after.code, 0, JSON.stringify(after.report.members));
    assert.ok(after.report.snapshots!.every((s) => s.survives === 2), JSON.stringify(after.report.snapshots));
    assert.equal((await readdir(join(a.memberDirs[0]!, 'snapshots'))).length, 2, 'the replayed record is gone from member 0');
  });
});

describe('check names an unrestorable snapshot even when no index segment names its packs', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  after(async () => a?.cleanup());

  it('packs gone from n−k+1 members with the index lost everywhere: survives −1, exit 1', async () => {
    a = await localArray(2, 4, { label: 'unrestorable' });
    const src = join(a.dir, 'src');
    await mkdir(src);
    await writeFile(join(src, 'data.bin'), seededBytes(2, 'unrestorable', 2 * 1024 * 1024));
    const snap = await backupJson(a, src);
    for (const dir of a.memberDirs) await rm(join(dir, 'index'), { recursive: true, force: true });
    for (const dir of a.memberDirs.slice(0, 3)) await rm(join(dir, 'packs'), { recursive: true, force: true });
    const c = await check(a);
    assert.equal(c.code, 1);
    assert.equal(c.report.ok, false);
    const health = c.report.snapshots!.find((s) => s.id === snap.snapshotId);
    assert.ok(health && health.survives < 0, `the snapshot is reported unrestorable: ${JSON.stringify(c.report.snapshots)}`);
  });
});

describe('a file rewritten with the same size and its old mtime put back', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  let src: string;
  const file = (): string => join(src, 'notes.txt');
  const mtime = new Date('2024-01-02T03:04:05Z');
  const rewrite = async (text: string): Promise<void> => {
    const before = await stat(file());
    await writeFile(file(), text); // in place: same inode
    await utimes(file(), mtime, mtime);
    const now = await stat(file());
    assert.equal(now.ino, before.ino);
    assert.equal(now.size, before.size);
    assert.equal(now.mtimeMs, before.mtimeMs);
  };
  const restoredText = async (label: string): Promise<string> => {
    const target = join(a.dir, `restore-${label}`);
    await a.ok(['restore', 'latest', '--target', target]);
    return readFile(join(target, src, 'notes.txt'), 'utf8');
  };

  before(async () => {
    a = await localArray(2, 4, { label: 'ctime' });
    src = join(a.dir, 'src');
    await mkdir(src);
    await writeFile(file(), 'version one\n');
    await utimes(file(), mtime, mtime);
    await writeFile(join(src, 'other.txt'), 'untouched\n');
    await utimes(join(src, 'other.txt'), mtime, mtime); // whole seconds: utimes can put it back exactly
    await a.ok(['backup', src]);
  });
  after(async () => a?.cleanup());

  it('is read again (its ctime moved) and the next snapshot holds the new content', async () => {
    await new Promise((r) => setTimeout(r, 20)); // ctime has ns resolution, but make sure the clock moved
    await rewrite('version two\n');
    const res = await backupJson(a, src);
    assert.equal(res.unchangedFiles, 1, 'only the untouched file is reused');
    assert.equal(await restoredText('two'), 'version two\n');
  });

  it('--ignore-ctime trusts mtime alone (restic\'s flag), --force reads everything', async () => {
    await new Promise((r) => setTimeout(r, 20));
    await rewrite('version 3!!\n');
    const ignoring = await backupJson(a, src, '--ignore-ctime');
    assert.equal(ignoring.unchangedFiles, 2, 'both files reused unread');
    assert.equal(await restoredText('ignored'), 'version two\n', 'the flag does what it says: the rewrite is missed');
    const forced = await backupJson(a, src, '--force');
    assert.equal(forced.unchangedFiles, 0);
    assert.ok(forced.bytesRead > 0);
    assert.equal(await restoredText('forced'), 'version 3!!\n');
  });

  it('--ignore-inode reuses a file whose inode changed (copied back over itself)', async () => {
    const copy = join(a.dir, 'notes.copy');
    await cp(join(src, 'other.txt'), copy);
    await rm(join(src, 'other.txt'));
    await cp(copy, join(src, 'other.txt'));
    await utimes(join(src, 'other.txt'), mtime, mtime);
    const res = await backupJson(a, src, '--ignore-inode', '--ignore-ctime');
    assert.equal(res.unchangedFiles, 2);
    const strict = await backupJson(a, src);
    assert.equal(strict.unchangedFiles, 2, 'a snapshot records the metadata it saw: the next strict run matches it');
  });
});

describe('one member\'s bad copy of a key object', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  let keyFile: string;
  let good: Buffer;
  let cap: string;

  before(async () => {
    a = await localArray(2, 4, { label: 'badkey' });
    const keys = await readdir(join(a.memberDirs[0]!, 'keys'));
    assert.equal(keys.length, 1);
    keyFile = join(a.memberDirs[0]!, 'keys', keys[0]!);
    good = await readFile(keyFile);
    const f = join(a.dir, 'f.txt');
    await writeFile(f, 'kept safe\n');
    cap = (await a.ok(['put', f])).trim();
  });
  after(async () => a?.cleanup());

  const huge = (): Buffer => {
    const obj = JSON.parse(good.toString('utf8')) as { kdf: { memlimit: number } };
    obj.kdf.memlimit = 4 * 2 ** 30;
    return Buffer.from(JSON.stringify(obj));
  };
  const copies: [string, () => Buffer][] = [
    ['garbage bytes', () => Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42])],
    ['wrong JSON', () => Buffer.from('{"kdf":"argon2id13","x":1}')],
    ['a 4 GiB Argon2 memlimit', huge],
  ];
  for (const [label, body] of copies) {
    it(`${label}: every command works as before; check names the copy; repair rewrites it`, async () => {
      await writeFile(keyFile, body());
      const snaps = await a.raic(['snapshots']);
      assert.equal(snaps.code, 0, snaps.stderr);
      const f = join(a.dir, 'g.txt');
      await writeFile(f, `${label}\n`);
      const r = await a.raic(['backup', f]);
      assert.equal(r.code, 0, r.stderr);
      const out = join(a.dir, `got-${copies.findIndex(([l]) => l === label)}.txt`);
      await a.ok(['get', cap, out]);
      assert.equal(await readFile(out, 'utf8'), 'kept safe\n');
      const c = await check(a);
      assert.equal(c.code, 1);
      assert.deepEqual(c.report.members[0]!.damaged.map((d) => [d.key, d.problem]), [[`keys/${keyFile.split('/').pop()}`, 'corrupt']]);
      await a.ok(['repair']);
      assert.deepEqual(await readFile(keyFile), good, 'repair put back the sound copy');
      assert.equal((await check(a)).code, 0);
    });
  }

  it('a wrong passphrase is still refused (exit 12)', async () => {
    const r = await a.raic(['snapshots'], { env: { RAIC_PASSWORD: 'not the passphrase' } });
    assert.equal(r.code, 12, r.stderr);
  });
});

describe('prune with a live chunk that no member holds', { timeout: 300_000 }, () => {
  let a: ArrayFixture;
  after(async () => a?.cleanup());

  it('deletes nothing and says why', async () => {
    a = await localArray(2, 3, { label: 'prune-missing' });
    const src = join(a.dir, 'src');
    await mkdir(src);
    await writeFile(join(src, 'keep.bin'), seededBytes(3, 'keep', 600 * 1024));
    await writeFile(join(src, 'drop.bin'), seededBytes(4, 'drop', 600 * 1024));
    await a.ok(['backup', src]);
    await rm(join(src, 'drop.bin'));
    await a.ok(['backup', src]);
    await a.ok(['forget', '--keep-last', '1']);
    // The data pack gone from every member, as if lost (metadata packs stay: the snapshot can be walked):
    // the live file's chunks are nowhere.
    let dropped = 0;
    for (const dir of a.memberDirs) {
      for (const f of (await filesUnder(join(dir, 'packs'))).filter((p) => !p.includes('.tmp'))) {
        if ((await stat(f)).size > 100 * 1024) {
          await rm(f);
          dropped += 1;
        }
      }
    }
    assert.equal(dropped, 3, 'one data pack per member');
    const listing = async (): Promise<string[]> => (await Promise.all(a.memberDirs.map((d) => readdir(d, { recursive: true })))).flat().sort();
    const before = await listing();
    const r = await a.raic(['prune']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /prune stopped before deleting anything: \d+ chunk\(s\) that snapshots need are on no member/);
    assert.deepEqual(await listing(), before, 'nothing deleted');
  });
});

describe('no environment variable weakens a new array\'s KDF', { timeout: 120_000 }, () => {
  it('RAIC_KDF_FAST=1 (which earlier releases honoured) is ignored: init writes the default Argon2id cost', async () => {
    const dir = await tempDir('kdf-env');
    try {
      const env = { RAIC_CONFIG: join(dir, 'config.json'), RAIC_PASSWORD: 'a passphrase', RAIC_KDF_FAST: '1' };
      const r = await runRaic(['init', '--k', '1', `file://${dir}/a`, `file://${dir}/b`], { env, realKdf: true });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'no warning: nothing weak was written');
      const [name] = await readdir(join(dir, 'a', 'keys'));
      const obj = JSON.parse(await readFile(join(dir, 'a', 'keys', name!), 'utf8')) as { kdf: { opslimit: number; memlimit: number } };
      assert.deepEqual([obj.kdf.opslimit, obj.kdf.memlimit], [3, 64 * 2 ** 20]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('attaching a second machine to members whose plaintext configs lie about their share index', { timeout: 120_000 }, () => {
  it('takes the share order from the sealed member list, and the second machine restores bit-exact', async () => {
    const a = await localArray(2, 3, { label: 'attach-order' });
    try {
      const src = join(a.dir, 'src');
      await mkdir(src);
      await writeFile(join(src, 'f.bin'), seededBytes(7, 'attach-order', 3 * 2 ** 20));
      await a.ok(['backup', src]);
      // Members 0 and 1 swap the share index their public config claims (a member's own, unauthenticated word).
      const configs = await Promise.all([0, 1].map((m) => readFile(join(a.memberDirs[m]!, 'config'), 'utf8')));
      const swapped = configs.map((c) => JSON.parse(c) as { member: number });
      [swapped[0]!.member, swapped[1]!.member] = [swapped[1]!.member, swapped[0]!.member];
      for (const m of [0, 1]) await writeFile(join(a.memberDirs[m]!, 'config'), JSON.stringify(swapped[m]));
      const second = { RAIC_CONFIG: join(a.dir, 'second.json') };
      // The URLs given in another order: the list decides, not the order given, not the configs.
      const r = await a.raic(['init', '--k', '2', a.urls[2]!, a.urls[0]!, a.urls[1]!], { env: second });
      assert.equal(r.code, 0, r.stderr);
      const shown = JSON.parse(await a.ok(['config', 'show', '--json'], { env: second })) as { members: { url: string }[] };
      assert.deepEqual(shown.members.map((m) => m.url), a.urls);
      // (While their configs lie, those members are treated as down; once they are put right, all is readable.)
      for (const m of [0, 1]) await writeFile(join(a.memberDirs[m]!, 'config'), configs[m]!);
      const target = join(a.dir, 'restored');
      await a.ok(['restore', 'latest', '--target', target], { env: second });
      assert.equal(sha256(await readFile(join(target, src, 'f.bin'))), sha256(await readFile(join(src, 'f.bin'))));
    } finally {
      await a.cleanup();
    }
  });
});
