/**
 * forget, repair and member replace confirm their exclusive lock before they delete or commit (issue 9), as
 * prune does. Here the lock is taken away while they hold it — `raic unlock --remove-all`, run as another
 * process — and each stops with `Locked`, naming the removal, having changed nothing after that point
 * (k=2, n=3, local members; the commands' core functions are called as the commands call them, so the test
 * can run the other process between two confirmations).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { readCatalog } from '../../src/core/catalog.js';
import { forget } from '../../src/core/forget.js';
import { replaceMember } from '../../src/core/member-replace.js';
import { addKey, removeKey } from '../../src/core/keys.js';
import { openConfiguredArray, unlockArray, unlockArrayKey } from '../../src/core/open-array.js';
import { repair } from '../../src/core/repair.js';
import { withLock } from '../../src/core/with-lock.js';
import { isRaicError } from '../../src/errors.js';
import type { Lock, RaicArray, RepoKeys } from '../../src/store/index.js';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { filesUnder } from '../support/damage.js';

/** Rejected with `Locked` because the lock was removed while held. */
const lockRemoved = (err: unknown): boolean => isRaicError(err, 'Locked') && /was removed while held/.test((err as Error).message);

describe('exclusive commands stop when their lock is taken away (k=2, n=3, local members)', () => {
  let a: ArrayFixture;
  let array: RaicArray;
  let keys: RepoKeys;

  before(async () => {
    a = await localArray(2, 3, { label: 'lock-confirm' });
    const src = join(a.dir, 'src');
    await mkdir(src);
    for (let i = 0; i < 4; i++) {
      await writeFile(join(src, `f${i}.bin`), randomBytes(50_000));
      await a.ok(['backup', src]);
    }
    array = await openConfiguredArray({ configPath: a.config });
    keys = await unlockArray(array, a.env.RAIC_PASSWORD!);
  });
  after(async () => {
    await array.close();
    await a.cleanup();
  });

  /**
   * Runs `fn` under the exclusive lock, as the command does, with a confirm() that lets `allowed` confirmations
   * through and then has another process remove every lock before the next one.
   */
  async function lockTakenAway<T>(command: string, allowed: number, fn: (lock: Lock, confirmLock: () => Promise<void>) => Promise<T>): Promise<{ confirmations: number; run: Promise<T> }> {
    const state = { confirmations: 0 };
    const run = withLock(array, keys, { exclusive: true, command, configPath: a.config }, (lock) =>
      fn(lock, async () => {
        if (state.confirmations === allowed) await a.ok(['unlock', '--remove-all']);
        state.confirmations += 1;
        await lock.confirm();
      }),
    );
    await run.catch(() => undefined);
    return { confirmations: state.confirmations, run };
  }

  it('repair: the lock removed before its first write — stops, nothing repaired; repaired by the next run', async () => {
    // Member 2 loses its catalog records and manifests: repair would copy them back.
    const lost = [...(await filesUnder(join(a.memberDirs[2]!, 'snapshots'))), ...(await filesUnder(join(a.memberDirs[2]!, 'manifests')))];
    assert.ok(lost.length >= 6);
    for (const f of lost) await rm(f);
    const { confirmations, run } = await lockTakenAway('repair', 0, (lock, confirmLock) => repair(array, keys, { signal: lock.signal, confirmLock }));
    await assert.rejects(run, lockRemoved);
    assert.equal(confirmations, 1);
    for (const f of lost) await assert.rejects(readFile(f), { code: 'ENOENT' }, `${f} was not written`);
    const result = JSON.parse(await a.ok(['repair', '--json'])) as { copied: unknown[] };
    assert.equal(result.copied.length, lost.length);
  });

  it('forget: the lock removed after its first removal — stops before the second, one snapshot forgotten', async () => {
    const before = await readCatalog(array, keys);
    assert.equal(before.length, 4);
    const { run } = await lockTakenAway('forget', 1, (lock, confirmLock) => forget(array, keys, { last: 1 }, { dryRun: false, signal: lock.signal, confirmLock }));
    await assert.rejects(run, lockRemoved);
    const after = await readCatalog(array, keys);
    assert.equal(after.length, 3, 'exactly one record was removed before the lock was found gone');
    for (const dir of a.memberDirs) assert.equal((await readdir(join(dir, 'forgotten'))).length, 1, `one tombstone on ${dir}`);
  });

  it('member replace: the lock removed after the key copy — stops before the commit: member lists and local config unchanged', async () => {
    const config = await readFile(a.config, 'utf8');
    const memberLists = await Promise.all(a.memberDirs.map((d) => filesUnder(join(d, 'members'))));
    const fresh = join(a.dir, 'replacement');
    const { confirmations, run } = await lockTakenAway('member replace', 1, (_lock, confirmLock) => replaceMember(array, keys, a.config, a.urls[2]!, `file://${fresh}`, { confirmLock }));
    await assert.rejects(run, lockRemoved);
    assert.equal(confirmations, 2);
    assert.equal(await readFile(a.config, 'utf8'), config, 'the local config is unchanged');
    assert.deepEqual(await Promise.all(a.memberDirs.map((d) => filesUnder(join(d, 'members')))), memberLists, 'no new member list');
    assert.deepEqual(await filesUnder(join(fresh, 'members')).catch(() => []), [], 'the new member got no member list');
  });

  it('key remove: the lock removed before the removal — stops, the key still opens the array', async () => {
    const { current } = await unlockArrayKey(array, a.env.RAIC_PASSWORD!);
    const added = await addKey(array, current, 'a second passphrase');
    const { confirmations, run } = await lockTakenAway('key remove', 0, (_lock, confirmLock) => removeKey(array, current, added.id, confirmLock));
    await assert.rejects(run, lockRemoved);
    assert.equal(confirmations, 1);
    for (const dir of a.memberDirs) assert.ok((await readdir(join(dir, 'keys'))).some((k) => k.startsWith(added.id)), `key ${added.id} still on ${dir}`);
    await unlockArrayKey(array, 'a second passphrase'); // still opens
  });
});
