/**
 * QuorumWrite: one object put on several members at once, each put under its own AbortSignal, so that the
 * caller can commit once the write quorum holds and cut the members that lag (issue 11: a write does not
 * wait for the slowest member; Storj's long-tail cancellation). What a member did not store — it failed, or
 * was cancelled — is that member's repair debt; the caller records it.
 *
 * Grace: a member still taking an object when the quorum already holds gets graceMs(quorum time) more. The
 * grace is proportional to how long the quorum took, so on a link every member shares (one slow uplink:
 * all finish at about the same time) nobody is cut, while a member several times slower than the quorum is;
 * the floor covers the spread of healthy round trips on a small object, the ceiling is the retry layer's
 * idle deadline (withRetry: a request that long without its answer counts as stalled anyway).
 */
import { RaicError } from '../errors.js';

const GRACE_FACTOR = 1;
const GRACE_FLOOR_MS = 1000;
const GRACE_CEILING_MS = 30_000;

/** How long members may still take an object, once the quorum held after `quorumMs`. */
export function graceMs(quorumMs: number): number {
  return Math.min(GRACE_CEILING_MS, Math.max(GRACE_FLOOR_MS, GRACE_FACTOR * quorumMs));
}

export type MemberPut = (member: number, signal: AbortSignal) => Promise<void>;

export class QuorumWrite {
  private readonly controls = new Map<number, AbortController>();
  private readonly errors = new Map<number, unknown>();
  private readonly ok = new Set<number>();
  private readonly cutOff = new Set<number>();
  /** Each member's put, settled either way. */
  private readonly done = new Map<number, Promise<void>>();
  private readonly waiting: (() => void)[] = [];
  private readonly started = performance.now();
  /** ms from the start until the quorum held; null until then. */
  quorumMs: number | null = null;
  /** Resolves once every member's put settled (stored, failed or cancelled). */
  readonly settled: Promise<void>;

  constructor(
    readonly members: readonly number[],
    put: MemberPut,
    private readonly need: number,
  ) {
    this.settled = Promise.all(
      members.map((m) => {
        const settled = this.run(m, put);
        this.done.set(m, settled);
        return settled;
      }),
    ).then(() => undefined);
  }

  private async run(m: number, put: MemberPut): Promise<void> {
    const control = new AbortController();
    this.controls.set(m, control);
    try {
      await put(m, control.signal);
      this.ok.add(m);
    } catch (err) {
      this.errors.set(m, this.cutOff.has(m) ? new RaicError('Cancelled', 'cut off: too slow to keep up with the others', { cause: err }) : err);
    } finally {
      this.controls.delete(m);
      if (this.quorumMs === null && this.ok.size >= this.need) this.quorumMs = performance.now() - this.started;
      for (const wake of this.waiting.splice(0)) wake();
    }
  }

  /** Resolves once member m's put settled (stored, failed or cancelled). */
  memberDone(m: number): Promise<void> {
    return this.done.get(m) ?? Promise.resolve();
  }

  /** Resolves once the quorum holds (true) or can no longer hold (false: too many failed). */
  async quorum(): Promise<boolean> {
    while (this.ok.size < this.need && this.ok.size + this.controls.size >= this.need) {
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
    return this.ok.size >= this.need;
  }

  /** Members whose put is still running. */
  pending(): number[] {
    return [...this.controls.keys()];
  }

  stored(): number[] {
    return [...this.ok];
  }

  /** Members whose put failed or was cancelled, with why. */
  failed(): { member: number; err: unknown }[] {
    return [...this.errors].map(([member, err]) => ({ member, err }));
  }

  /** Whether member `m` was cut off for lagging (cancel()), as opposed to failing on its own. */
  wasCut(m: number): boolean {
    return this.cutOff.has(m) && !this.ok.has(m);
  }

  /** Cuts member `m` off (if its put still runs): its signal fires; it settles as failed unless it had landed. */
  cancel(m: number): void {
    const control = this.controls.get(m);
    if (!control) return;
    this.cutOff.add(m);
    control.abort();
  }

  /**
   * Waits for the members still running, at most the grace after the quorum (`graceMs(quorumMs)`, counted
   * from now), then cancels the rest and waits for them to settle.
   */
  async settleWithGrace(): Promise<void> {
    if (this.controls.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs(this.quorumMs ?? 0))));
      await Promise.race([this.settled, grace]);
      clearTimeout(timer);
      for (const m of this.pending()) this.cancel(m);
    }
    await this.settled;
  }
}
