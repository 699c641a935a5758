/**
 * Lock sightings: when this machine first saw each lock object, on this machine's own clock. They are how
 * a lock is judged stale without comparing another machine's clock with ours (store/locks.ts): a holder
 * replaces its lock object with a new one (a new random key) at every refresh, so an object this machine
 * has seen present for the whole stale interval has not been refreshed in that time.
 *
 * - The clock (`ObserverClock`) is only ever compared with itself: on Linux, time since boot (it counts a
 *   suspend, unlike the monotonic clock) under the boot's id; elsewhere this machine's wall clock. A
 *   sighting taken under another epoch (before a reboot) is dropped.
 * - Forgetting is always safe: a lock seen again is judged from its new first sighting, i.e. it looks
 *   younger. So a sightings file that cannot be read or written, lost updates between two raic processes
 *   (last writer wins) and a key missing from one lagging listing (dropped, then seen again) only delay a
 *   verdict of "stale", never hasten it.
 * - With a file, sightings persist between runs (an unreachable holder's lock goes stale for the second
 *   run 30 minutes after the first saw it). The file holds lock keys (random names) and times, no secret.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { uptime } from 'node:os';
import { dirname } from 'node:path';
import { randomBytes } from '../crypto/index.js';

export interface ObserverClock {
  /** Readings taken under different epochs are not comparable (e.g. a boot id). */
  readonly epoch: string;
  /** Milliseconds; only differences between two readings of one epoch mean anything. */
  now(): number;
}

let bootIdRead: string | null | undefined;
let machineClock: ObserverClock | undefined;

/** The id of this boot of the running Linux kernel (containers on one host share it); null elsewhere. */
export function linuxBootId(): string | null {
  if (bootIdRead !== undefined) return bootIdRead;
  bootIdRead = null;
  if (process.platform === 'linux') {
    try {
      bootIdRead = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootIdRead = null;
    }
  }
  return bootIdRead;
}

/** This machine's clock for sightings and for a holder's own "not refreshed for too long" check. */
export function bootClock(): ObserverClock {
  const boot = linuxBootId();
  machineClock ??= boot ? { epoch: `boot ${boot}`, now: () => uptime() * 1000 } : { epoch: 'wall clock', now: () => Date.now() };
  return machineClock;
}

interface SightingsFile {
  v: 1;
  epoch: string;
  /** Lock key → first seen (clock ms). */
  seen: Record<string, number>;
}

export class LockSightings {
  private seen = new Map<string, number>();
  private loaded: Promise<void> | undefined;

  /** Without `file`, sightings last as long as this object (one raic run). */
  constructor(
    readonly clock: ObserverClock = bootClock(),
    private readonly file?: string,
  ) {}

  /**
   * Notes that the lock objects `present` exist now and returns when each was first seen (clock ms).
   * Keys not in `present` are forgotten: pass every lock object a listing showed.
   */
  async see(present: readonly string[]): Promise<ReadonlyMap<string, number>> {
    await (this.loaded ??= this.load());
    const now = this.clock.now();
    const next = new Map<string, number>();
    for (const key of present) next.set(key, this.seen.get(key) ?? now);
    const changed = next.size !== this.seen.size || [...next.keys()].some((k) => !this.seen.has(k));
    this.seen = next;
    if (changed) await this.save();
    return next;
  }

  private async load(): Promise<void> {
    if (this.file === undefined) return;
    try {
      const f = JSON.parse(await readFile(this.file, 'utf8')) as Partial<SightingsFile>;
      if (f.v !== 1 || f.epoch !== this.clock.epoch || typeof f.seen !== 'object' || f.seen === null) return;
      const now = this.clock.now();
      for (const [key, at] of Object.entries(f.seen)) {
        // A sighting "in the future" cannot come from this epoch's clock: ignore it (safe: the lock looks younger).
        if (typeof at === 'number' && Number.isFinite(at) && at <= now) this.seen.set(key, at);
      }
    } catch {
      // Missing or damaged: start afresh (safe, see above).
    }
  }

  private async save(): Promise<void> {
    if (this.file === undefined) return;
    const body: SightingsFile = { v: 1, epoch: this.clock.epoch, seen: Object.fromEntries(this.seen) };
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
    } catch {
      // Read-only config directory and the like: sightings then last for this run only (safe, see above).
    }
  }
}
