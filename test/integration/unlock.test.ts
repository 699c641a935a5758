/** `raic unlock` on a real array (file members): removes stale locks, keeps live ones, --remove-all, --json. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readLocalConfig } from '../../src/core/local-config.js';
import { acquireLock, listLocks, Members, repoKeys, unlockMaster, type Lock, type RepoKeys } from '../../src/store/index.js';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

describe('raic unlock (k=2, n=3, local members)', () => {
  let a: ArrayFixture;
  let members: Members;
  let keys: RepoKeys;
  const held: Lock[] = [];
  before(async () => {
    a = await localArray(2, 3, { label: 'unlock' });
    const config = await readLocalConfig(a.config);
    members = await Members.open(config.members);
    keys = repoKeys(await unlockMaster(members, a.env.RAIC_PASSWORD!, config.arrayId));
  });
  after(async () => {
    for (const l of held) await l.release();
    await members.close();
    await a.cleanup();
  });

  const plant = async (o: { exclusive: boolean; pid?: number; host?: string; pidScope?: string }): Promise<Lock> => {
    const lock = await acquireLock(members, keys.locks, { command: o.exclusive ? 'prune' : 'backup', need: 2, settleMs: 0, ...o });
    held.push(lock);
    return lock;
  };
  const onDisk = (key: string): Promise<boolean[]> => Promise.all(a.memberDirs.map((d) => exists(join(d, key))));

  it('removes a stale lock (its process is gone), keeps a live one, exits 0', async () => {
    // Shared locks both, so planting the second is not refused by the first. A lock from another pid namespace
    // (another machine, or a container with this very host name) is not judged by pid: it stays live.
    const stale = await plant({ exclusive: false, pid: await deadPid() });
    const live = await plant({ exclusive: false, host: 'other-host', pid: 31337, pidScope: 'boot 0 pid:[1]' });
    assert.deepEqual(await onDisk(stale.key), [true, true, true]);
    const sealed = await readFile(join(a.memberDirs[0]!, live.key));
    assert.ok(!sealed.includes('other-host'), 'host name in plaintext on a member');

    const r = await a.raic(['unlock']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed 1 lock:/);
    assert.match(r.stdout, new RegExp(`${stale.key}: shared lock .* no longer running`));
    assert.match(r.stdout, /kept 1 live lock/);
    assert.match(r.stdout, new RegExp(`${live.key}: shared lock of .*@other-host, pid 31337, holder [0-9a-f]{8} \\(backup\\), .* — seen unchanged from here for 0s`));
    assert.deepEqual(await onDisk(stale.key), [false, false, false]);
    assert.deepEqual(await onDisk(live.key), [true, true, true]);
    assert.deepEqual(
      (await listLocks(members, keys.locks)).map((l) => l.key),
      [live.key],
    );
  });

  it('--remove-all --json removes live locks too and reports them', async () => {
    const locks = await listLocks(members, keys.locks);
    assert.equal(locks.length, 1);
    const r = await a.raic(['unlock', '--remove-all', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      removed: { key: string; kind: string; host: string; pid: number; holder: string; watchedMs: number; stale: boolean; refreshedAt: string }[];
      kept: unknown[];
      down: unknown[];
    };
    assert.deepEqual(
      out.removed.map((l) => [l.key, l.kind, l.host, l.pid, l.holder, l.stale]),
      [[locks[0]!.key, 'shared', 'other-host', 31337, locks[0]!.holder, false]],
    );
    assert.ok(out.removed[0]!.watchedMs >= 0);
    assert.ok(!Number.isNaN(Date.parse(out.removed[0]!.refreshedAt)));
    assert.deepEqual(out.kept, []);
    assert.deepEqual(out.down, []);
    assert.deepEqual(await onDisk(locks[0]!.key), [false, false, false]);
  });

  it('with no locks says so; a wrong passphrase exits 12', async () => {
    const r = await a.raic(['unlock']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no locks removed/);
    const wrong = await a.raic(['unlock'], { env: { RAIC_PASSWORD: 'not the passphrase' } });
    assert.equal(wrong.code, 12, wrong.stderr);
  });
});
