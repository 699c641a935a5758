/**
 * A wide-area link on loopback: a TCP relay on 127.0.0.1 in front of one server (a "member link"), which
 *
 *   - delays every byte by a one-way latency in each direction (RTT/2 each way, so a request and its response
 *     see the configured RTT), and a new connection carries data only one RTT after it was accepted (the TCP
 *     handshake a real link costs; no TLS is modelled);
 *   - caps each direction's throughput with a token bucket (`RateCap`, bits per second); one bucket may serve
 *     several links, as one home uplink serves every member (a shared upstream cap and, separately, a shared
 *     downstream cap), its waiting connections served round robin;
 *   - counts the bytes it delivers: up (client → server) and down (server → client).
 *
 * Honest by construction: a chunk is written out only once its due time has passed (timers are checked
 * against the clock, never trusted to be punctual); a bucket never holds more than `burstBytes` of credit,
 * so over any window of T seconds a cap passes at most rate × T + burst (the burst is 1% of a second's
 * worth, at least 4 KiB); a late timer only makes a link slower. Backpressure: a connection's source socket is
 * paused while the bytes the relay holds for that direction (waiting for the cap, waiting out the latency,
 * queued on the destination socket) exceed a high-water mark sized to the link's bandwidth-delay product, and
 * resumed below half of it, so memory stays bounded whatever the sender does.
 */
import * as net from 'node:net';

const now = (): number => performance.now();

/** Largest slice one connection takes from a shared bucket per turn (round robin between connections). */
const QUANTUM = 16 * 1024;

/** Bytes in flight a link without a rate cap is assumed to need (1 Gbit/s) when sizing its high-water mark. */
const UNCAPPED_BYTES_PER_SECOND = 125e6;

/** A token bucket in bytes, refilled continuously; several links may share one. */
export class RateCap {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
  private tokens: number;
  private last = now();
  /** Connections (one direction each) with bytes waiting for credit, served round robin. */
  private readonly waiting: Flow[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly bitsPerSecond: number, opts: { burstBytes?: number } = {}) {
    if (!(bitsPerSecond > 0) || !Number.isFinite(bitsPerSecond)) throw new Error(`RateCap: bits per second must be a positive number, not ${bitsPerSecond}`);
    this.bytesPerSecond = bitsPerSecond / 8;
    this.burstBytes = opts.burstBytes ?? Math.max(4096, Math.round(this.bytesPerSecond / 100));
    this.tokens = this.burstBytes;
  }

  /** `flow` has bytes waiting. */
  want(flow: Flow): void {
    if (!this.waiting.includes(flow)) this.waiting.push(flow);
    this.pump();
  }

  /** `flow` is gone (its connection closed). */
  forget(flow: Flow): void {
    const i = this.waiting.indexOf(flow);
    if (i >= 0) this.waiting.splice(i, 1);
    if (this.waiting.length === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private readonly pump = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const t = now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((t - this.last) / 1000) * this.bytesPerSecond);
    this.last = t;
    while (this.waiting.length > 0 && this.tokens >= 1) {
      const flow = this.waiting.shift()!;
      this.tokens -= flow.release(Math.min(Math.floor(this.tokens), QUANTUM), t);
      if (flow.queued > 0) this.waiting.push(flow);
    }
    if (this.waiting.length > 0) {
      // Wake when half the burst is credited: a timer up to that late still loses no credit.
      const need = this.burstBytes / 2 - this.tokens;
      this.timer = setTimeout(this.pump, Math.max(1, Math.ceil((need / this.bytesPerSecond) * 1000)));
    }
  };
}

/** One direction of one relayed connection: source socket → (rate cap) → (one-way delay) → destination socket. */
class Flow {
  /** Bytes received and not yet released by the cap. */
  queued = 0;
  private readonly pending: Buffer[] = [];
  /** Released by the cap, waiting out the one-way delay (due times never decrease). */
  private readonly inFlight: { due: number; chunk: Buffer }[] = [];
  private inFlightBytes = 0;
  private deliverTimer: NodeJS.Timeout | undefined;
  private openTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private ended = false;
  private finished = false;
  private closed = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly cap: RateCap | undefined,
    private readonly delayMs: number,
    /** No byte is released before this time (the handshake). */
    private readonly openAt: number,
    private readonly highWater: number,
    private readonly onDeliver: (bytes: number) => void,
    private readonly onBuffered: (bytes: number) => void,
  ) {
    dst.on('drain', () => this.checkResume());
  }

  /** Bytes the relay holds for this direction, the destination socket's own queue included. */
  get buffered(): number {
    return this.queued + this.inFlightBytes + this.dst.writableLength;
  }

  push(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.queued += chunk.length;
    this.onBuffered(this.buffered);
    if (!this.paused && this.buffered > this.highWater) {
      this.paused = true;
      this.src.pause();
    }
    this.offer();
  }

  /** The source has no more to send: end the destination once everything queued is delivered. */
  end(): void {
    this.ended = true;
    this.maybeFinish();
  }

  /** The connection is gone: drop what is queued, stop the timers. */
  close(): void {
    this.closed = true;
    this.cap?.forget(this);
    clearTimeout(this.deliverTimer);
    clearTimeout(this.openTimer);
    this.pending.length = 0;
    this.inFlight.length = 0;
    this.queued = 0;
    this.inFlightBytes = 0;
  }

  private offer(): void {
    if (this.queued === 0) return;
    const t = now();
    if (t < this.openAt) {
      this.openTimer ??= setTimeout(() => {
        this.openTimer = undefined;
        this.offer();
      }, Math.ceil(this.openAt - t));
      return;
    }
    if (this.cap) this.cap.want(this);
    else this.release(Infinity, t);
  }

  /** Releases up to `max` bytes into the delay line at time t; returns how many. */
  release(max: number, t: number): number {
    let n = 0;
    while (n < max && this.pending.length > 0) {
      const head = this.pending[0]!;
      const room = max - n;
      let piece: Buffer;
      if (head.length <= room) {
        piece = head;
        this.pending.shift();
      } else {
        piece = head.subarray(0, room);
        this.pending[0] = head.subarray(room);
      }
      n += piece.length;
      this.inFlight.push({ due: t + this.delayMs, chunk: piece });
      this.inFlightBytes += piece.length;
    }
    this.queued -= n;
    this.deliver();
    return n;
  }

  private readonly deliver = (): void => {
    clearTimeout(this.deliverTimer);
    this.deliverTimer = undefined;
    if (this.closed) return;
    const t = now();
    while (this.inFlight.length > 0 && this.inFlight[0]!.due <= t) {
      const { chunk } = this.inFlight.shift()!;
      this.inFlightBytes -= chunk.length;
      if (this.dst.destroyed) continue;
      this.dst.write(chunk);
      this.onDeliver(chunk.length);
    }
    if (this.inFlight.length > 0) {
      // setTimeout may fire a little early against performance.now(): deliver() checks the clock again.
      this.deliverTimer = setTimeout(this.deliver, Math.max(1, Math.ceil(this.inFlight[0]!.due - t)));
    }
    this.checkResume();
    this.maybeFinish();
  };

  private checkResume(): void {
    if (this.paused && !this.closed && this.buffered <= this.highWater / 2) {
      this.paused = false;
      this.src.resume();
    }
  }

  private maybeFinish(): void {
    if (this.finished || !this.ended || this.queued > 0 || this.inFlight.length > 0) return;
    this.finished = true;
    if (!this.dst.destroyed) this.dst.end();
  }
}

export interface LinkOptions {
  /** The server behind the link; loopback only. */
  target: { host: string; port: number };
  /** Round-trip time added by the link, ms (half each way). Default 0. */
  rttMs?: number;
  /** Cap on client → server bytes; may be shared with other links. Default: none. */
  up?: RateCap;
  /** Cap on server → client bytes; may be shared with other links. Default: none. */
  down?: RateCap;
  /** Bytes held per direction of a connection before its source is paused. Default: 1 MiB + two
   * bandwidth-delay products (at 1 Gbit/s when uncapped). */
  highWaterBytes?: number;
  /** A new connection carries data only one RTT after it is accepted (default true). */
  handshake?: boolean;
}

export interface LinkCounters {
  /** Bytes delivered to the server. */
  up: number;
  /** Bytes delivered to the client. */
  down: number;
  /** Connections accepted. */
  connections: number;
}

export interface LinkRelay {
  /** Where clients connect: 127.0.0.1 and this port. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Totals since the relay started. */
  counters(): LinkCounters;
  /** Most bytes ever held for one direction of one connection (backpressure check). */
  peakBufferedBytes(): number;
  /** Refuses new connections, cuts open ones. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function highWaterFor(cap: RateCap | undefined, rttMs: number): number {
  return 1024 * 1024 + Math.ceil(2 * (cap?.bytesPerSecond ?? UNCAPPED_BYTES_PER_SECOND) * (rttMs / 1000));
}

/** Starts a link relay on 127.0.0.1 (a free port) in front of `opts.target`. */
export async function linkRelay(opts: LinkOptions): Promise<LinkRelay> {
  if (!LOOPBACK.has(opts.target.host)) throw new Error(`linkRelay: the target must be on loopback, not ${opts.target.host}`);
  const rttMs = opts.rttMs ?? 0;
  if (!(rttMs >= 0)) throw new Error(`linkRelay: rttMs must be ≥ 0, not ${rttMs}`);
  const oneWay = rttMs / 2;
  const handshake = opts.handshake ?? true;
  const totals: LinkCounters = { up: 0, down: 0, connections: 0 };
  let peak = 0;
  const onBuffered = (bytes: number): void => {
    if (bytes > peak) peak = bytes;
  };
  const open = new Set<net.Socket>();

  const onConnection = (client: net.Socket): void => {
    totals.connections++;
    const accepted = now();
    const upstream = net.connect({ ...opts.target, allowHalfOpen: true });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client);
    open.add(upstream);
    const upFlow = new Flow(client, upstream, opts.up, oneWay, handshake ? accepted + rttMs : accepted, opts.highWaterBytes ?? highWaterFor(opts.up, rttMs), (n) => (totals.up += n), onBuffered);
    const downFlow = new Flow(upstream, client, opts.down, oneWay, accepted, opts.highWaterBytes ?? highWaterFor(opts.down, rttMs), (n) => (totals.down += n), onBuffered);
    const fail = (): void => {
      upFlow.close();
      downFlow.close();
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (b: Buffer) => upFlow.push(b));
    upstream.on('data', (b: Buffer) => downFlow.push(b));
    client.on('end', () => upFlow.end());
    upstream.on('end', () => downFlow.end());
    client.on('error', fail);
    upstream.on('error', fail);
    // A socket that closes takes the flow towards it with it; the flow out of it still drains, then ends.
    client.on('close', () => {
      open.delete(client);
      downFlow.close();
      upFlow.end();
      if (upstream.destroyed) upFlow.close();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      upFlow.close();
      downFlow.end();
      if (client.destroyed) downFlow.close();
    });
  };

  const server = net.createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    counters: () => ({ ...totals }),
    peakBufferedBytes: () => peak,
    close: async () => {
      for (const sock of open) sock.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The caps of `count` links: each its own (per-link), or one upstream and one downstream cap for all (shared). */
export function linkCaps(layout: 'per-link' | 'shared', count: number, upBitsPerSecond: number, downBitsPerSecond: number): { up: RateCap; down: RateCap }[] {
  if (layout === 'shared') {
    const shared = { up: new RateCap(upBitsPerSecond), down: new RateCap(downBitsPerSecond) };
    return Array.from({ length: count }, () => shared);
  }
  return Array.from({ length: count }, () => ({ up: new RateCap(upBitsPerSecond), down: new RateCap(downBitsPerSecond) }));
}

/** Sum of several links' counters. */
export function totalCounters(relays: LinkRelay[]): LinkCounters {
  const sum: LinkCounters = { up: 0, down: 0, connections: 0 };
  for (const r of relays) {
    const c = r.counters();
    sum.up += c.up;
    sum.down += c.down;
    sum.connections += c.connections;
  }
  return sum;
}
