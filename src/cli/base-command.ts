/**
 * BaseCommand: what every raic command shares — --config, passphrase flags, --json (restic's habit:
 * results as JSON on stdout, errors as one JSON line on stderr), and the one place that turns an error
 * into a single clear line and an exit code (no stack traces for user mistakes).
 */
import { readFileSync } from 'node:fs';
import { Command, Flags, type Interfaces } from '@oclif/core';
import { RaicError, exitCodeFor, ExitCode } from '../errors.js';
import type { CacheMode } from '../cache/index.js';
import { resolveConfigPath } from '../core/local-config.js';
import type { CacheSetting } from '../core/open-array.js';
import { readPassphrase } from './passphrase.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    config: Flags.string({ description: 'config file (default: $RAIC_CONFIG or ~/.config/raic/config.json)', helpGroup: 'GLOBAL' }),
    'password-file': Flags.string({ description: 'read the passphrase from this file', helpGroup: 'GLOBAL' }),
    'password-command': Flags.string({ description: 'run this shell command and use its output as the passphrase', helpGroup: 'GLOBAL' }),
    'cache-dir': Flags.string({ description: 'local cache of the array\'s metadata (default: $XDG_CACHE_HOME/raic or ~/.cache/raic)', helpGroup: 'GLOBAL' }),
    'no-cache': Flags.boolean({ description: 'read everything from the members; keep no local cache', helpGroup: 'GLOBAL' }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** Positional arguments as given (variadic commands, `strict = false`). */
  protected positional!: string[];

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as unknown as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.positional = argv as string[];
  }

  protected configPath(): string {
    return resolveConfigPath(this.flags.config);
  }

  /** The cache this run uses: the flags', in `mode` (check and repair refresh it from the members). */
  protected cacheSetting(mode: CacheMode = 'use'): CacheSetting {
    return { enabled: !this.flags['no-cache'], dir: this.flags['cache-dir'], mode };
  }

  protected passphrase(confirm: boolean): Promise<string> {
    return readPassphrase({ passwordFile: this.flags['password-file'], passwordCommand: this.flags['password-command'] }, confirm);
  }

  /** Prints a human line on stderr (never in --json mode): progress and notes stay off stdout. */
  protected note(line: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${line}\n`);
  }

  protected override async catch(err: Error & { oclif?: { exit?: number } }): Promise<void> {
    let code: number;
    let message: string;
    let hint: string | undefined;
    let kind: string;
    if (err instanceof RaicError) {
      code = exitCodeFor(err);
      message = err.message;
      hint = err.hint;
      kind = err.code;
    } else if (err.oclif) {
      // oclif's own parse/usage errors (unknown flag, missing argument) and this.exit().
      if (err.oclif.exit === 0) return;
      code = err.oclif.exit ?? ExitCode.usage;
      message = err.message.split('\n')[0] ?? err.message;
      hint = 'see --help';
      kind = 'Usage';
    } else {
      code = ExitCode.failed;
      message = `unexpected error: ${err.message}`;
      hint = 'please report this; RAIC_DEBUG=1 shows details';
      kind = 'Internal';
    }
    if (process.env.RAIC_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
    if (this.jsonEnabled()) {
      process.stderr.write(`${JSON.stringify({ message_type: 'error', code: kind, exit_code: code, message, ...(hint ? { hint } : {}) })}\n`);
    } else {
      process.stderr.write(`raic: ${message}${hint ? ` (${hint})` : ''}\n`);
    }
    process.exitCode = code;
  }
}

/**
 * Peak resident memory of this process so far (all threads), in MB — reported in --json summaries. On Linux the
 * high-water mark of this program's own memory (VmHWM): getrusage's maxRSS is carried across exec from the
 * forked parent, so raic started by a 300 MB process (a bench, a backup scheduler in Node) said 300 MB.
 */
export function peakRssMB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Math.round(Number(hwm[1]) / 1024);
  } catch {
    // not Linux: getrusage's figure
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
