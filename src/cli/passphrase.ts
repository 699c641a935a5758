/**
 * Where the passphrase comes from, in order: --password-file, --password-command, RAIC_PASSWORD, a
 * prompt on a terminal (asked twice when creating an array). A new passphrase (raic key add / passwd):
 * --new-password-file or a prompt. Cron has no terminal: it must use one of
 * the first three, and gets a clear error (never a hang) when none is set.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { RaicError } from '../errors.js';

export interface PassphraseSources {
  passwordFile?: string | undefined;
  passwordCommand?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export async function readPassphrase(src: PassphraseSources, confirm: boolean): Promise<string> {
  const env = src.env ?? process.env;
  let pass: string | undefined;
  if (src.passwordFile) pass = await fromFile(src.passwordFile);
  else if (src.passwordCommand) pass = await fromCommand(src.passwordCommand);
  else if (env.RAIC_PASSWORD !== undefined) pass = env.RAIC_PASSWORD;
  else if (process.stdin.isTTY && process.stderr.isTTY) {
    pass = await prompt('raic passphrase: ');
    if (confirm && (await prompt('again, to confirm: ')) !== pass) throw new RaicError('Usage', 'the two passphrases differ; nothing was created');
  } else {
    throw new RaicError('Usage', 'a passphrase is needed and there is no terminal to ask on', {
      hint: 'set RAIC_PASSWORD, or pass --password-file FILE or --password-command CMD',
    });
  }
  if (pass.length === 0) throw new RaicError('Usage', 'the passphrase is empty');
  return pass;
}

/**
 * The new passphrase of `raic key add` / `key passwd` (restic's sources): --new-password-file, else a prompt on
 * a terminal, asked twice. RAIC_PASSWORD and --password-file/--password-command are the current passphrase,
 * never the new one, so with no file and no terminal this rejects Usage rather than guess.
 */
export async function readNewPassphrase(file: string | undefined): Promise<string> {
  let pass: string;
  if (file !== undefined) pass = await fromFile(file, 'new password file');
  else if (process.stdin.isTTY && process.stderr.isTTY) {
    pass = await prompt('new raic passphrase: ');
    if ((await prompt('again, to confirm: ')) !== pass) throw new RaicError('Usage', 'the two new passphrases differ; no key was changed');
  } else {
    throw new RaicError('Usage', 'a new passphrase is needed and there is no terminal to ask on', { hint: 'pass --new-password-file FILE' });
  }
  if (pass.length === 0) throw new RaicError('Usage', `the new passphrase is empty${file !== undefined ? ` (${file})` : ''}`);
  return pass;
}

async function fromFile(path: string, what = 'password file'): Promise<string> {
  try {
    return stripNewline(await readFile(path, 'utf8'));
  } catch (err) {
    throw new RaicError('Usage', `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function fromCommand(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { maxBuffer: 64 * 1024, timeout: 60_000 }, (err, stdout) => {
      if (err) reject(new RaicError('Usage', `the password command failed: ${command} (${err.code !== undefined ? `exit ${String(err.code)}` : err.message})`));
      else resolve(stripNewline(stdout));
    });
  });
}

const stripNewline = (s: string): string => s.replace(/\r?\n$/, '');

/** Reads a line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (!muted) process.stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
    rl.on('SIGINT', () => {
      rl.close();
      reject(new RaicError('Cancelled', 'interrupted'));
    });
  });
}
