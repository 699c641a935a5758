/**
 * `raic backup` as cron runs it: no terminal (stdin, stdout and stderr are pipes), output read by a mail
 * or a log. Nothing but the summary, never an escape code; --quiet and --json; exit 3 with the file named
 * on stderr when a file cannot be read or vanishes during the walk — and the rest in the snapshot.
 *
 * Making a file unreadable: the tests run as root, which ignores permission bits through two capabilities
 * (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). The backup is run under `setpriv --bounding-set` without them:
 * it stays uid 0 and owns the array's files, but a mode-000 file or directory is refused to it exactly as
 * to an ordinary user (EACCES). As a non-root user no wrapper is needed.
 *
 * Making a file vanish during the walk, deterministically: a directory's tree blob lists its files' content,
 * so the walk cannot leave a directory before every file in it is read and stored — and the parent's later
 * entries are not looked at before that. The test puts a large file in `a-dir`, watches the process's open
 * files (/proc/<pid>/fd) until it reads that file, deletes the siblings after `a-dir` (a file and a whole
 * directory), and confirms the read was still under way (fdinfo position below the size): the deletion fell
 * between the listing of their directory and their lstat.
 */
import assert from 'node:assert/strict';
import { startRaic as startRaicProcess, type StartedRaic, type Finished } from '../support/cli.js';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { localArray, type ArrayFixture } from '../support/array-fixture.js';
import { repoRoot } from '../support/cli.js';
import { assertSameTree, buildTree, mixedSizes, seededBytes, snapshotTree, without, type BuiltTree, type TreeSnapshot } from '../support/tree-fixture.js';

const SEED = 4242;
const MiB = 1024 * 1024;
const ESC = '\x1b';
const asRoot = process.getuid?.() === 0;
/** Runs a command as root without the capabilities that let root read any file. */
const WITHOUT_DAC = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'];

const startRaic = (a: ArrayFixture, args: string[], wrapper: string[] = []): StartedRaic => startRaicProcess(args, a.env, wrapper);

/** A literal string as a regular expression. */
const literally = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const SUMMARY = /^snapshot ([0-9a-f]{8}) saved: \d+ files, \d+ dirs, .*$/m;
const CAPABILITY = /^capability: (raic:tree:1:\S+)$/m;

function assertNoEscapes(r: Finished, what: string): void {
  assert.ok(!r.stdout.includes(ESC), `${what}: ESC on stdout: ${JSON.stringify(r.stdout)}`);
  assert.ok(!r.stderr.includes(ESC), `${what}: ESC on stderr: ${JSON.stringify(r.stderr)}`);
}

async function restoreAndCompare(a: ArrayFixture, ref: string, want: TreeSnapshot, sourceRoot: string, label: string): Promise<void> {
  const target = join(a.dir, `restore-${label}`);
  await a.ok(['restore', ref, '--target', target]);
  await assertSameTree(want, join(target, sourceRoot), `restore of ${label}`);
  await rm(target, { recursive: true, force: true });
}

describe('raic backup without a terminal, as cron runs it (k=2, n=3)', { timeout: 180_000 }, () => {
  let a: ArrayFixture;
  let tree: BuiltTree;
  before(async () => {
    a = await localArray(2, 3, { label: 'cron' });
    tree = await buildTree(join(a.dir, 'home'), { seed: SEED, sizes: mixedSizes(SEED, 60, 12 * MiB) });
  });
  after(async () => a.cleanup());

  it('prints the summary and nothing else: no escape code on either stream; its capability (asked for) restores the tree', async () => {
    const want = await snapshotTree(tree.root);
    const r = await startRaic(a, ['backup', tree.root, '--show-capability']).done;
    assert.equal(r.code, 0, r.stderr);
    assertNoEscapes(r, 'backup');
    assert.equal(r.stderr, '');
    assert.match(r.stdout, SUMMARY);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, `expected the summary and the capability, got:\n${r.stdout}`);
    const cap = CAPABILITY.exec(r.stdout)?.[1];
    assert.ok(cap, r.stdout);
    // The capability alone (no passphrase) restores what was backed up.
    await restoreAndCompare(a, cap, want, tree.root, 'by-capability');
  });

  it('--quiet prints only the summary (no capability: cron logs must not hold keys); --json prints one JSON object', async () => {
    await writeFile(join(tree.root, 'changed.txt'), 'one more file\n');
    const quiet = await startRaic(a, ['backup', tree.root, '--quiet']).done;
    assert.equal(quiet.code, 0, quiet.stderr);
    assertNoEscapes(quiet, 'backup --quiet');
    assert.equal(quiet.stderr, '');
    const lines = quiet.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, quiet.stdout);
    assert.match(lines[0]!, SUMMARY);
    assert.doesNotMatch(quiet.stdout, /raic:tree:/);

    await writeFile(join(tree.root, 'changed-again.txt'), 'and another\n');
    const json = await startRaic(a, ['backup', tree.root, '--json']).done;
    assert.equal(json.code, 0, json.stderr);
    assertNoEscapes(json, 'backup --json');
    assert.equal(json.stderr, '');
    const body = json.stdout.trim();
    assert.ok(body.startsWith('{') && body.endsWith('}'), json.stdout);
    const out = JSON.parse(body) as Record<string, unknown>;
    assert.match(String(out.snapshotId), /^[0-9a-f]{64}$/);
    assert.equal(out.capability, undefined, 'no capability unless asked');
    assert.deepEqual(out.errors, []);
    const snaps = JSON.parse((await startRaic(a, ['snapshots', '--json']).done).stdout) as Record<string, unknown>[];
    assert.ok(snaps.length >= 3 && snaps.every((s) => s.capability === undefined), 'snapshots --json holds no capability');
    const shown = JSON.parse((await startRaic(a, ['snapshots', '--json', '--show-capability']).done).stdout) as Record<string, unknown>[];
    assert.ok(shown.every((s) => /^raic:tree:1:/.test(String(s.capability))), 'unless asked');
    assert.equal(typeof out.newBytes, 'number');
    assert.equal(out.unchangedFiles, (out.files as number) - 1, 'only the new file should have been read');
  });

  it('an unreadable file and directory: exit 3, both named on stderr, everything else in the snapshot', async () => {
    if (asRoot) assert.equal(spawnSync('setpriv', ['--version']).status, 0, 'setpriv (util-linux) is needed to drop root\'s file-permission override');
    const secret = join(tree.root, 'secret file.bin');
    const lockedDir = join(tree.root, 'locked dir');
    await writeFile(secret, seededBytes(SEED, 'secret', 300_000));
    await mkdir(lockedDir);
    await writeFile(join(lockedDir, 'inside.txt'), 'not reachable\n');
    await chmod(secret, 0o000);
    await chmod(lockedDir, 0o000);
    try {
      // What the snapshot must hold: all but the file's content and the directory's entries.
      const want = without(await snapshotTree(tree.root), ['secret file.bin', 'locked dir/inside.txt']);
      const r = await startRaic(a, ['backup', tree.root, '--json'], asRoot ? WITHOUT_DAC : []).done;
      assertNoEscapes(r, 'backup of unreadable files');
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`${literally(secret)}: permission denied \\(could not be read: not in the snapshot\\)`));
      assert.match(r.stderr, new RegExp(`${literally(lockedDir)}: permission denied`));
      const out = JSON.parse(r.stdout) as { snapshotId: string; errors: { path: string }[] };
      assert.deepEqual(out.errors.map((e) => e.path).sort(), [lockedDir, secret]);
      await restoreAndCompare(a, out.snapshotId, want, tree.root, 'unreadable');
      // Without --json the summary says so too (stdout), the names stay on stderr.
      const plain = await startRaic(a, ['backup', tree.root], asRoot ? WITHOUT_DAC : []).done;
      assert.equal(plain.code, 3, plain.stderr);
      assert.match(plain.stdout, /2 path\(s\) could not be read/);
      assert.ok(plain.stderr.includes(secret), plain.stderr);
    } finally {
      await chmod(lockedDir, 0o755);
      await chmod(secret, 0o644);
      await rm(lockedDir, { recursive: true });
      await rm(secret);
    }
  });

  it('a file deleted between the walk listing it and its read: exit 3, named, the rest in the snapshot', async () => {
    // backup reads FILE_READERS (4) files at once: four big files first keep every reader busy, so
    // b-gone.txt has been listed and lstat'ed but waits for a reader when it is deleted.
    const dir = join(tree.root, 'vanish');
    await mkdir(dir, { recursive: true });
    const bigSize = 48 * MiB;
    const bigs = ['a1.bin', 'a2.bin', 'a3.bin', 'a4.bin'].map((n) => join(dir, n));
    for (const [i, b] of bigs.entries()) await writeFile(b, seededBytes(SEED, `big${i}`, bigSize));
    await writeFile(join(dir, 'b-gone.txt'), 'here when the walk lists the directory\n');
    await writeFile(join(dir, 'd-stays.txt'), 'stays\n');
    const want = without(await snapshotTree(tree.root), ['vanish/b-gone.txt']);

    const run = startRaic(a, ['backup', tree.root]);
    let ended = false;
    void run.done.finally(() => (ended = true));
    const fd = await readingFd(run.pid, bigs[0]!, () => ended);
    assert.ok(fd !== null, 'the backup never had a1.bin open');
    await rm(join(dir, 'b-gone.txt'));
    const pos = await filePosition(run.pid, fd, bigs[0]!);
    assert.ok(pos !== null && pos < bigSize, `the read of a1.bin had ended (position ${pos}) before the deletion`);

    const r = await run.done;
    assertNoEscapes(r, 'backup with a vanishing file');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`${literally(join(dir, 'b-gone.txt'))}: vanished during the backup`));
    assert.doesNotMatch(r.stderr, /unexpected|Error|at /);
    const id = SUMMARY.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    await restoreAndCompare(a, id, want, tree.root, 'vanished');
    await rm(dir, { recursive: true });
  });

  it('on a terminal (a pty from script(1)): a bar with percentage, bytes of the total and an ETA from the pre-scan', async () => {
    assert.equal(spawnSync('script', ['--version']).status, 0, 'script (util-linux bsdutils) is needed to give the backup a terminal');
    const src = join(a.dir, 'tty-src');
    await mkdir(src, { recursive: true });
    for (let i = 0; i < 10; i++) await writeFile(join(src, `f${i}.bin`), seededBytes(SEED, `tty${i}`, 16 * MiB));
    const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, join(repoRoot, 'bin', 'run.js'), 'backup', src].map(quote).join(' ');
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { ...process.env, COLUMNS: '150', ...a.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => out.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString('utf8') }));
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, SUMMARY);
    // The total (160 MiB) is known from the pre-scan, so the bar shows a share of it and an ETA.
    assert.match(r.out, /backup \[[^\]]*\] +\d+% .* \/ 160 MiB .*\/s +ETA \d+:\d\d/, JSON.stringify(r.out.slice(0, 2000)));
    assert.match(r.out, /\d+\/10 files/);
    await rm(src, { recursive: true });
  });
});

/** Polls /proc/<pid>/fd until one of the process's descriptors is `path`; null if it ended first. */
async function readingFd(pid: number, path: string, ended: () => boolean): Promise<string | null> {
  while (!ended()) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === path) return fd;
    }
    await sleep(2);
  }
  return null;
}

/** The file offset of descriptor `fd` of `pid` if it still refers to `path`, else null. */
async function filePosition(pid: number, fd: string, path: string): Promise<number | null> {
  if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) !== path) return null;
  const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
  const pos = /^pos:\s+(\d+)/m.exec(info)?.[1];
  return pos === undefined ? null : Number(pos);
}
