/**
 * The mixed array of issue 4: k=3, n=6, one member of each kind — file, s3 (Swift's S3 API), swift
 * (native), azure (Azurite), sftp (OpenSSH), webdav (lighttpd) — each network member behind its own
 * relay (test/support/six-members.ts), driven through the real CLI. Shows: a backup restores
 * bit-exact with any three members' servers stopped (three different sets, every kind stopped at
 * least once); a member killed in the middle of a backup either commits degraded (default write quorum)
 * or — with --min-members 6 — fails with one line naming that member
 * and commits nothing, and the next backup succeeds; `raic provider test` passes on the config's six.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ProviderTestResult } from '../../src/core/provider-test.js';
import type { CatalogRecord } from '../../src/core/catalog.js';
import { oneCleanErrorLine, runRaic, tempDir, type RunOptions, type RunResult } from '../support/cli.js';
import { filesUnder } from '../support/damage.js';
import { sixMembers, startAll, type MemberKind, type SixMembers } from '../support/six-members.js';

const MiB = 1024 * 1024;

/** A test's array: its own members, config file and passphrase. */
interface MixedArray {
  six: SixMembers;
  dir: string;
  config: string;
  raic(args: string[], opts?: RunOptions): Promise<RunResult>;
  ok(args: string[], opts?: RunOptions): Promise<string>;
  close(): Promise<void>;
}

async function mixedArray(label: string, initFlags: string[] = []): Promise<MixedArray> {
  const six = await sixMembers(label);
  const dir = await tempDir(label);
  const config = join(dir, 'config.json');
  const env = { ...six.env, RAIC_CONFIG: config, RAIC_PASSWORD: 'six clouds, any three' };
  const raic = (args: string[], opts: RunOptions = {}) => runRaic(args, { ...opts, env: { ...env, ...opts.env } });
  const ok = async (args: string[], opts: RunOptions = {}) => {
    const r = await raic(args, opts);
    if (r.code !== 0) throw new Error(`raic ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  await ok(['init', '--k', '3', ...initFlags, ...six.urls]);
  return {
    six,
    dir,
    config,
    raic,
    ok,
    close: async () => {
      await six.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic pseudo-random bytes (so a failure reproduces), fast enough for tens of MiB. */
function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at, 0, Math.min(block.length, size - at));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * A tree with what a restore can get wrong: ~50 files of mixed sizes (an empty one, a 1.5 MiB one),
 * nested directories, an empty directory, relative and dangling symlinks, names with spaces and
 * non-ASCII, distinct modes, and mtimes with millisecond fractions.
 */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'docs', 'deep', 'deeper'), { recursive: true });
  await mkdir(join(root, 'empty dir'));
  await mkdir(join(root, 'bin'));
  const files: [string, number][] = [
    ['empty.txt', 0],
    ['big.bin', 1.5 * MiB],
    ['with spaces — café ñ 日本語.txt', 3000],
    ['docs/deep/deeper/leaf ü.dat', 70_000],
  ];
  for (let i = 0; i < 46; i++) files.push([`${['docs', 'docs/deep', 'bin', '.'][i % 4]}/file-${i}.dat`, 1 + ((i * 7919) % 97) * 1024 + i]);
  for (const [name, size] of files) await writeFile(join(root, name), bytesOf(name, size));
  await chmod(join(root, 'bin', 'file-2.dat'), 0o755);
  await chmod(join(root, 'docs', 'file-0.dat'), 0o600);
  await chmod(join(root, 'with spaces — café ñ 日本語.txt'), 0o640);
  await symlink('docs/deep/deeper/leaf ü.dat', join(root, 'link to leaf'));
  await symlink('../../bin', join(root, 'docs', 'deep', 'up-link'));
  await symlink('/nonexistent/target', join(root, 'dangling'));
  // Millisecond fractions, set last (on directories after their contents).
  let t = 1_600_000_000_123;
  for (const [name] of files) await utimes(join(root, name), new Date((t += 1001)), new Date(t));
  for (const d of ['docs/deep/deeper', 'docs/deep', 'docs', 'empty dir', 'bin']) await utimes(join(root, d), new Date((t += 777)), new Date(t));
  await chmod(join(root, 'empty dir'), 0o750);
}

interface Entry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeNs: bigint;
  size: number;
  sha256?: string;
  target?: string;
}

/** Every entry under `root` (root itself as ''), by relative path. */
async function snapshotOf(root: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const visit = async (rel: string): Promise<void> => {
    const abs = join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const base = { mode: Number(st.mode & 0o7777n), mtimeNs: st.mtimeNs, size: Number(st.size) };
    if (st.isSymbolicLink()) out.set(rel, { ...base, type: 'symlink', size: 0, target: await readlink(abs) });
    else if (st.isFile()) out.set(rel, { ...base, type: 'file', sha256: createHash('sha256').update(await readFile(abs)).digest('hex') });
    else if (st.isDirectory()) {
      out.set(rel, { ...base, type: 'dir', size: 0 });
      for (const name of (await readdir(abs)).sort()) await visit(rel === '' ? name : join(rel, name));
    } else throw new Error(`unexpected file type at ${abs}`);
  };
  await visit('');
  return out;
}

/** Contents, types, modes (not of symlinks), mtimes to the millisecond and symlink targets all equal. */
async function assertSameTree(source: string, restored: string): Promise<void> {
  const [want, got] = await Promise.all([snapshotOf(source), snapshotOf(restored)]);
  assert.deepEqual([...got.keys()], [...want.keys()], 'the same paths');
  for (const [rel, w] of want) {
    const g = got.get(rel)!;
    const what = `'${rel || '.'}'`;
    assert.equal(g.type, w.type, `${what} type`);
    assert.equal(g.size, w.size, `${what} size`);
    assert.equal(g.sha256, w.sha256, `${what} content`);
    assert.equal(g.target, w.target, `${what} symlink target`);
    if (w.type !== 'symlink') assert.equal(g.mode.toString(8), w.mode.toString(8), `${what} mode`);
    const skew = g.mtimeNs > w.mtimeNs ? g.mtimeNs - w.mtimeNs : w.mtimeNs - g.mtimeNs;
    assert.ok(skew < 1_000_000n, `${what} mtime: ${g.mtimeNs} restored, ${w.mtimeNs} backed up`);
  }
}

/** Where `raic restore` puts a backed-up absolute path under its target. */
const restoredPath = (target: string, source: string) => join(target, source);

describe('mixed array of six kinds (k=3, n=6): restore with any three servers stopped', () => {
  let a: MixedArray;
  let source: string;
  before(async () => {
    a = await mixedArray('mixed6');
    source = join(a.dir, 'source tree');
    await makeTree(source);
    const out = await a.ok(['backup', source]);
    assert.match(out, /^snapshot [0-9a-f]{8} saved: 50 files, 6 dirs/m, out);
  });
  after(() => a?.close());

  const sets: MemberKind[][] = [
    ['s3', 'swift', 'azure'], // the three non-local ones
    ['swift', 'azure', 'sftp'],
    ['file', 'sftp', 'webdav'], // the local member's directory gone
  ];
  for (const down of sets) {
    it(`restore latest is bit-exact with ${down.join(' + ')} stopped`, async () => {
      const target = join(a.dir, `restore-without-${down.join('-')}`);
      for (const kind of down) await a.six.byKind(kind).stop();
      try {
        const r = await a.raic(['restore', 'latest', '--target', target]);
        assert.equal(r.code, 0, `stderr:\n${r.stderr}`);
        assert.match(r.stdout, /^restored 50 files, \d+ dirs, 3 symlinks/, r.stdout);
      } finally {
        await startAll(a.six);
      }
      await assertSameTree(source, restoredPath(target, source));
    });
  }

  it('raic provider test with no URL passes on the six members of the config', async () => {
    const r = await a.raic(['provider', 'test', '--json', '--size', '2']);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const results = JSON.parse(r.stdout) as ProviderTestResult[];
    assert.equal(results.length, 6);
    results.forEach((res, i) => {
      const member = a.six.members[i]!;
      assert.equal(res.ok, true, `${member.kind}: ${JSON.stringify(res.failure)}`);
      assert.ok(member.url.startsWith(res.url), `${member.kind}: result ${i} is for ${res.url}`);
      assert.deepEqual(res.permissions, { read: 'ok', write: 'ok', list: 'ok', delete: 'ok' }, member.kind);
      assert.equal(res.leftover, 0, `${member.kind} leftover`);
      assert.ok((res.putMBps ?? 0) > 0.5 && (res.getMBps ?? 0) > 0.5, `${member.kind}: put ${res.putMBps}, get ${res.getMBps} MB/s`);
    });
  });
});

/**
 * The write policy decides: with the default quorum (k+1 = 4 of 6) a backup that loses one member midway
 * commits degraded — exit 4, the member named, `raic repair` fills it in later; with --min-members 6 it
 * commits nothing — exit 1, one line naming the member.
 */
for (const [victim, quorum] of [
  ['sftp', 'default'],
  ['swift', 'all'],
] as const) {
  describe(`mixed array of six kinds: the ${victim} member killed in the middle of raic backup (write quorum: ${quorum === 'all' ? '6 of 6' : '4 of 6'})`, () => {
    let a: MixedArray;
    let source: string;
    let first: CatalogRecord[];
    before(async () => {
      a = await mixedArray(`mixed6-kill-${victim}`, quorum === 'all' ? ['--min-members', '6'] : []);
      source = join(a.dir, 'big tree');
      await mkdir(join(source, 'sub'), { recursive: true });
      // A pack group holds ~16 MiB of plaintext here (5.3 MiB per member, k=3): 24 MiB is one and a half,
      // so when the first pack lands the backup still has a pack, the index and the snapshot to write.
      for (let i = 0; i < 3; i++) await writeFile(join(source, i % 2 ? 'sub' : '.', `part-${i}.bin`), randomBytes(8 * MiB));
      await writeFile(join(source, 'small.txt'), 'a small file\n');
      await a.ok(['backup', join(source, 'small.txt')]);
      first = await snapshots();
      assert.equal(first.length, 1);
    });
    after(() => a?.close());

    const snapshots = async (): Promise<CatalogRecord[]> => JSON.parse(await a.ok(['snapshots', '--json'])) as CatalogRecord[];

    it(quorum === 'all' ? 'the backup fails with one line naming the killed member and commits nothing' : 'the backup commits degraded (exit 4) and names the killed member', async (t) => {
      const member = a.six.byKind(victim);
      const packsDir = join(a.six.byKind('file').localRoot!, 'packs');
      const packs = async () => (await filesUnder(packsDir).catch(() => [])).filter((f) => !f.includes('.tmp'));
      const earlier = (await packs()).length;

      const started = Date.now();
      const running = a.raic(['backup', source]);
      let finished = false;
      void running.then(() => (finished = true));
      // Stop the victim once a new pack has reached another member: the backup is then mid-upload.
      while (!finished && (await packs()).length === earlier) await new Promise((r) => setTimeout(r, 20));
      assert.equal(finished, false, 'the backup ended before a pack was stored');
      const killedAt = Date.now() - started;
      await member.stop();
      let r: RunResult;
      try {
        r = await running;
      } finally {
        await member.start();
      }
      t.diagnostic(`killed ${victim} ${killedAt} ms into the backup; raic exited ${r.code} after ${Date.now() - started} ms`);
      assert.doesNotMatch(r.stderr, /\n\s+at |node:internal/);
      if (quorum === 'all') {
        const line = oneCleanErrorLine(r.stderr);
        assert.equal(r.code, 1, line);
        assert.ok(line.includes(member.baseUrl), `the message names ${member.baseUrl}: ${line}`);
        for (const other of a.six.members.filter((m) => m !== member)) assert.ok(!line.includes(other.baseUrl), `only the victim is named: ${line}`);
        assert.match(line, /nothing was committed/);
        assert.doesNotMatch(r.stdout, /snapshot .* saved/);
        assert.deepEqual((await snapshots()).map((s) => s.manifestId), first.map((s) => s.manifestId), 'no new snapshot');
      } else {
        assert.equal(r.code, 4, `${r.stdout}${r.stderr}`);
        const degraded = /stored on 5 of 6 members — run raic repair \(missed: (.*)\)/.exec(r.stdout);
        assert.ok(degraded, r.stdout);
        assert.ok(degraded[1]!.includes(member.baseUrl), `names ${member.baseUrl}: ${degraded[1]}`);
        for (const other of a.six.members.filter((m) => m !== member)) assert.ok(!degraded[1]!.includes(other.baseUrl), `only the victim is named: ${degraded[1]}`);
        assert.equal((await snapshots()).length, 2, 'the snapshot committed');
      }
    });

    it('with the member back, the array is whole again and the snapshot restores bit-exact', async () => {
      if (quorum !== 'all') {
        const before = await a.raic(['check']);
        assert.equal(before.code, 1, 'the missed shares show up in check');
        await a.ok(['repair']);
      }
      const out = await a.ok(['backup', source]);
      assert.match(out, /^snapshot [0-9a-f]{8} saved: 4 files, 2 dirs/m, out);
      const target = join(a.dir, 'restored');
      const restored = await a.ok(['restore', 'latest', '--target', target]);
      assert.match(restored, /^restored 4 files/, restored);
      await assertSameTree(source, restoredPath(target, source));
      const check = await a.raic(['check']);
      assert.equal(check.code, 0, `raic check:\n${check.stdout}${check.stderr}`);
    });
  });
}
