/**
 * `raic key list | add | remove | passwd` on a real array (k=2, n=4, file members): restic's semantics; the
 * master key never changes, so snapshots and capabilities outlive every passphrase change; a removed key opens
 * nothing, even from a member that was down when it was removed; the key in use and the last key stay.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getBytes, localArray, oneCleanErrorLine, putFile, type ArrayFixture } from '../support/array-fixture.js';
import { hideDir } from '../support/damage.js';
import type { RunResult } from '../support/cli.js';
import type { KeyEntry as Key } from '../../src/core/keys.js';

const PASS = {
  first: 'correct horse battery staple',
  second: 'second passphrase, for the laptop',
  third: 'third: after passwd',
  fourth: 'fourth: passwd with a member down',
};

describe('raic key (k=2, n=4, local members)', { timeout: 120_000 }, () => {
  let a: ArrayFixture;
  let cap: string;
  let secondId: string;
  const file = (name: string): string => join(a.dir, name);
  const as = (pass: string, args: string[]): Promise<RunResult> => a.raic(args, { env: { RAIC_PASSWORD: pass } });
  const ok = async (pass: string, args: string[]): Promise<string> => {
    const r = await as(pass, args);
    assert.equal(r.code, 0, `raic ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const keys = async (pass: string): Promise<Key[]> => JSON.parse(await ok(pass, ['key', 'list', '--json'])) as Key[];
  const onDisk = async (): Promise<string[][]> => Promise.all(a.memberDirs.map(async (d) => (await readdir(join(d, 'keys'))).sort()));
  /** Runs `fn` with member `i`'s directory moved away (the member is down), then puts it back. */
  const withMemberDown = async <T>(i: number, fn: () => Promise<T>): Promise<T> => {
    const restore = await hideDir(a.memberDirs[i]!);
    try {
      return await fn();
    } finally {
      await restore();
    }
  };
  /** Fails with exit 12 and one clean line naming the wrong passphrase. */
  const refused = async (pass: string): Promise<string> => {
    const r = await as(pass, ['snapshots']);
    assert.equal(r.code, 12, r.stderr);
    return oneCleanErrorLine(r.stderr);
  };

  before(async () => {
    a = await localArray(2, 4, { label: 'keys' });
    await writeFile(file('second.pass'), `${PASS.second}\n`);
    await writeFile(file('third.pass'), PASS.third);
    await writeFile(file('fourth.pass'), PASS.fourth);
    await writeFile(file('empty.pass'), '\n');
    await mkdir(file('src'));
    await writeFile(join(file('src'), 'a.txt'), 'kept through every passphrase\n');
    await writeFile(join(file('src'), 'b.bin'), Buffer.alloc(300_000, 7));
    await ok(PASS.first, ['backup', file('src')]);
    cap = await putFile(a, join(file('src'), 'a.txt'));
  });
  after(async () => a?.cleanup());

  it('key list: one key, marked current, with user, host and creation time, on every member', async () => {
    const list = await keys(PASS.first);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.current, true);
    assert.match(list[0]!.id, /^[0-9a-f]{32}$/);
    assert.ok(list[0]!.user && list[0]!.host, JSON.stringify(list[0]));
    assert.ok(Math.abs(Date.parse(list[0]!.created) - Date.now()) < 10 * 60_000);
    assert.equal(list[0]!.members, 4);
    const human = (await ok(PASS.first, ['key', 'list'])).trimEnd().split('\n');
    assert.match(human[0]!, /^ ID\s+User\s+Host\s+Created$/);
    assert.equal(human.length, 3);
    assert.ok(human[2]!.startsWith(`*${list[0]!.id}`), human[2]);
    // The owner is sealed: no member stores a user or host name in the clear.
    const body = await readFile(join(a.memberDirs[0]!, 'keys', list[0]!.id), 'utf8');
    assert.ok(!body.includes(`"${list[0]!.host!}"`) && !body.includes(`"${list[0]!.user!}"`), body);
  });

  it('removing the last key is refused, and so is bad input, each with one clear line', async () => {
    const [only] = await keys(PASS.first);
    const last = await as(PASS.first, ['key', 'remove', only!.id]);
    assert.equal(last.code, 2, last.stderr);
    assert.match(oneCleanErrorLine(last.stderr), /refusing to remove key [0-9a-f]{32}: it is the only key of this array/);

    const cases: [string[], number, RegExp][] = [
      [['key', 'add', '--new-password-file', file('no-such.pass')], 2, /cannot read the new password file .*no-such\.pass: ENOENT/],
      [['key', 'add', '--new-password-file', file('empty.pass')], 2, /the new passphrase is empty/],
      [['key', 'add'], 2, /a new passphrase is needed and there is no terminal to ask on \(pass --new-password-file FILE\)/],
      [['key', 'remove', 'abcdef12'], 1, /no key abcdef12 in this array \(raic key list shows the ids\)/],
      [['key', 'remove', 'not-hex'], 2, /"not-hex" is not a key id/],
    ];
    for (const [args, code, message] of cases) {
      const r = await as(PASS.first, args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(oneCleanErrorLine(r.stderr), message, args.join(' '));
    }
    const wrong = await as('not the passphrase', ['key', 'add', '--new-password-file', file('second.pass')]);
    assert.equal(wrong.code, 12, wrong.stderr);
    assert.deepEqual(await onDisk(), [[only!.id], [only!.id], [only!.id], [only!.id]], 'a refused command changed the key objects');
  });

  it('key add --new-password-file: both passphrases open the array; list marks the key each one opens', async () => {
    const r = await as(PASS.first, ['key', 'add', '--new-password-file', file('second.pass'), '--host', 'laptop', '--user', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    secondId = /^saved new key ([0-9a-f]{32})$/.exec(r.stdout.trim())?.[1] ?? assert.fail(r.stdout);
    for (const pass of [PASS.first, PASS.second]) assert.match(await ok(pass, ['snapshots']), /2 snapshots/);
    const byFirst = await keys(PASS.first);
    const bySecond = await keys(PASS.second);
    assert.equal(byFirst.length, 2);
    assert.deepEqual(
      byFirst.filter((k) => k.current).map((k) => k.id),
      byFirst.filter((k) => k.id !== secondId).map((k) => k.id),
    );
    assert.deepEqual(
      bySecond.filter((k) => k.current).map((k) => k.id),
      [secondId],
    );
    assert.deepEqual(
      byFirst.filter((k) => k.id === secondId).map((k) => [k.user, k.host, k.members]),
      [['alice', 'laptop', 4]],
    );
    // The cost of the key in use (these tests' arrays use the trivial test KDF), not the default 64 MiB.
    const obj = JSON.parse(await readFile(join(a.memberDirs[3]!, 'keys', secondId), 'utf8')) as { kdf: { memlimit: number; opslimit: number } };
    assert.deepEqual([obj.kdf.opslimit, obj.kdf.memlimit], [1, 64 * 1024]);
  });

  it('key remove refuses the key in use', async () => {
    const first = (await keys(PASS.first)).find((k) => k.current)!;
    const r = await as(PASS.first, ['key', 'remove', first.id.slice(0, 8)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(oneCleanErrorLine(r.stderr), new RegExp(`refusing to remove key ${first.id}: it is the key in use`));
    assert.equal((await keys(PASS.first)).length, 2);
  });

  it('key passwd: the old passphrase opens nothing; the new one restores; a capability from before still gets', async () => {
    const old = (await keys(PASS.first)).find((k) => k.current)!;
    const r = await as(PASS.first, ['key', 'passwd', '--new-password-file', file('third.pass')]);
    assert.equal(r.code, 0, r.stderr);
    const [, newId, removed] = /^saved new key ([0-9a-f]{32}), removed key ([0-9a-f]{32})$/.exec(r.stdout.trim()) ?? assert.fail(r.stdout);
    assert.equal(removed, old.id);

    assert.match(await refused(PASS.first), /wrong passphrase/);
    const after = await keys(PASS.third);
    assert.deepEqual(after.map((k) => [k.id, k.current]).sort(), [[newId, true], [secondId, false]].sort());
    for (const listing of await onDisk()) assert.deepEqual(listing, [newId!, secondId].sort());

    const target = file('restored');
    await ok(PASS.third, ['restore', 'latest', '--target', target]);
    assert.equal(await readFile(join(target, file('src'), 'a.txt'), 'utf8'), 'kept through every passphrase\n');
    assert.deepEqual(await readFile(join(target, file('src'), 'b.bin')), Buffer.alloc(300_000, 7));
    assert.equal((await getBytes(a, cap, file('got.txt'))).toString(), 'kept through every passphrase\n');
    assert.match(await ok(PASS.second, ['snapshots']), /2 snapshots/, 'the other key is untouched');
  });

  it('key remove of another key: it opens nothing afterwards', async () => {
    const r = await as(PASS.third, ['key', 'remove', secondId.slice(0, 6)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `removed key ${secondId}`);
    assert.match(await refused(PASS.second), /wrong passphrase/);
    assert.deepEqual(
      (await keys(PASS.third)).map((k) => k.current),
      [true],
    );
  });

  it('a member down during passwd: its stale copy of the old key opens nothing; check reports it, repair deletes it', async () => {
    const old = (await keys(PASS.third))[0]!;
    const r = await withMemberDown(3, () => as(PASS.third, ['key', 'passwd', '--new-password-file', file('fourth.pass')]));
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /stored on 3 of 4 members — run raic repair/);
    assert.match(r.stderr, /the removed key is still on .*member-3/);
    assert.deepEqual(await readdir(join(a.memberDirs[3]!, 'keys')), [old.id], 'the member that was down still holds the old key');

    assert.match(await refused(PASS.third), /its key was removed from this array/);
    const check = await as(PASS.fourth, ['check', '--json']);
    assert.equal(check.code, 1, check.stderr);
    const report = JSON.parse(check.stdout) as { removedKeys: string[]; members: { damaged: { key: string; problem: string }[] }[] };
    assert.deepEqual(report.removedKeys, [`keys/${old.id}`]);
    assert.deepEqual(
      report.members[3]!.damaged.map((d) => d.problem),
      ['missing', 'missing'],
      'the new key and the tombstone',
    );

    await ok(PASS.fourth, ['repair']);
    const newId = (await keys(PASS.fourth))[0]!.id;
    for (const listing of await onDisk()) assert.deepEqual(listing, [newId]);
    assert.equal((await as(PASS.fourth, ['check'])).code, 0);
    assert.match(await refused(PASS.third), /wrong passphrase/);
    assert.match(await ok(PASS.fourth, ['snapshots']), /2 snapshots/);
  });

  it('with the write quorum out of reach, key add fails with one clear line and changes nothing', async () => {
    // Write quorum 4 (as with init --min-members 4) and one member down; the lock (a majority) is still taken.
    const local = await readFile(a.config, 'utf8');
    await writeFile(a.config, JSON.stringify({ ...(JSON.parse(local) as object), minMembers: 4 }));
    const before = await onDisk();
    const r = await withMemberDown(1, () => as(PASS.fourth, ['key', 'add', '--new-password-file', file('second.pass')])).finally(() => writeFile(a.config, local));
    assert.equal(r.code, 1, r.stderr);
    assert.match(oneCleanErrorLine(r.stderr), /cannot save a new key \(the write quorum is not reachable\): only 3 of 4 members are usable, 4 needed/);
    assert.deepEqual(await onDisk(), before);
    assert.match(await refused(PASS.second), /wrong passphrase/);
  });
});
