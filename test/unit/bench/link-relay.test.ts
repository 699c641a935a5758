/**
 * bench/link-relay.ts against local echo and sink servers on 127.0.0.1. Byte counts are asserted exactly;
 * time only from below (a cap or a delay can make a transfer no faster than its bound; a loaded machine only
 * makes it slower), so nothing here can flake on a busy machine.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateCap, linkRelay, type LinkRelay } from '../../../bench/link-relay.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** A server on 127.0.0.1 (half-open allowed); returns its port. */
async function serve(onConnection: (sock: net.Socket) => void): Promise<{ host: string; port: number }> {
  const accepted = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    accepted.add(sock);
    onConnection(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  closers.push(async () => {
    for (const sock of accepted) sock.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
}

/** Echoes everything, ends when the client ends. */
const echo = (sock: net.Socket): void => {
  sock.pipe(sock);
};

/** Reads everything; `onTotal` after each read with the running total and the time. */
function sink(onTotal: (total: number, at: number) => void): (sock: net.Socket) => void {
  return (sock) => {
    let total = 0;
    sock.on('data', (b: Buffer) => onTotal((total += b.length), performance.now()));
    sock.on('end', () => sock.end());
  };
}

async function relay(opts: Parameters<typeof linkRelay>[0]): Promise<LinkRelay> {
  const r = await linkRelay(opts);
  closers.push(() => r.close());
  return r;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    closers.push(async () => void sock.destroy());
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Everything the socket sends until it ends. */
function readAll(sock: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  sock.on('data', (b: Buffer) => parts.push(b));
  return new Promise((resolve, reject) => {
    sock.once('end', () => resolve(Buffer.concat(parts)));
    sock.once('error', reject);
  });
}

/** Resolves when `want` bytes have reached a sink, with the time of the last read. */
function sinkUntil(want: number): { done: Promise<number>; handler: (sock: net.Socket) => void } {
  let resolveDone!: (at: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  return { done, handler: sink((total, at) => total >= want && resolveDone(at)) };
}

describe('linkRelay', () => {
  it('delivers every byte both ways, in order, and counts them exactly', async () => {
    const server = await serve(echo);
    for (const caps of [{}, { up: new RateCap(400e6), down: new RateCap(400e6) }]) {
      const r = await relay({ target: server, rttMs: 10, ...caps });
      const sent = [randomBytes(1_000_000), randomBytes(700_001)];
      const got = await Promise.all(
        sent.map(async (data) => {
          const sock = await connect(r.port);
          const reply = readAll(sock);
          for (let i = 0; i < data.length; i += 100_000) sock.write(data.subarray(i, i + 100_000));
          sock.end();
          return reply;
        }),
      );
      for (const [i, data] of sent.entries()) assert.ok(got[i]!.equals(data), `connection ${i}: the echo differs`);
      assert.deepEqual(r.counters(), { up: 1_700_001, down: 1_700_001, connections: 2 });
    }
  });

  it('a round trip takes at least the RTT, a one-way trip half of it, the first data one RTT more', async () => {
    const rttMs = 120;
    const r = await relay({ target: await serve(echo), rttMs });
    const called = performance.now();
    const sock = await connect(r.port);
    const roundTrip = async (): Promise<number> => {
      const t0 = performance.now();
      const back = new Promise<void>((resolve) => sock.once('data', () => resolve()));
      sock.write('x');
      await back;
      return performance.now() - t0;
    };
    const first = await roundTrip();
    assert.ok(performance.now() - called >= 2 * rttMs, 'the first round trip waits for the handshake too');
    assert.ok(first >= rttMs, `first round trip ${first} ms`);
    for (let i = 0; i < 3; i++) {
      const t = await roundTrip();
      assert.ok(t >= rttMs, `round trip ${t} ms < ${rttMs} ms`);
    }
    sock.destroy();

    let arrived = 0;
    const oneWay = await relay({ target: await serve(sink((_total, at) => (arrived = at))), rttMs });
    const s2 = await connect(oneWay.port);
    await sleep(rttMs + 20);
    const sentAt = performance.now();
    s2.write('y');
    while (arrived === 0) await sleep(5);
    assert.ok(arrived - sentAt >= rttMs / 2, `one way took ${arrived - sentAt} ms`);
    s2.destroy();
  });

  it('caps each direction: 1 MB up through 4 Mbit/s takes ≥ 1.9 s, 500 kB down ≥ 0.95 s', async () => {
    const up = sinkUntil(1_000_000);
    const r = await relay({ target: await serve(up.handler), up: new RateCap(4e6) });
    const sock = await connect(r.port);
    const t0 = performance.now();
    sock.write(randomBytes(1_000_000));
    const upSeconds = ((await up.done) - t0) / 1000;
    assert.ok(upSeconds >= 1.9, `1 MB through 4 Mbit/s in ${upSeconds} s`);
    assert.equal(r.counters().up, 1_000_000);
    sock.destroy();

    const body = randomBytes(500_000);
    const down = await relay({ target: await serve((s) => s.end(body)), down: new RateCap(4e6) });
    const t1 = performance.now();
    const got = await readAll(await connect(down.port));
    const downSeconds = (performance.now() - t1) / 1000;
    assert.ok(got.equals(body));
    assert.ok(downSeconds >= 0.95, `500 kB down through 4 Mbit/s in ${downSeconds} s`);
    assert.deepEqual(down.counters(), { up: 0, down: 500_000, connections: 1 });
  });

  it('one shared cap holds for all its links together', async () => {
    const shared = new RateCap(8e6);
    const sinks = [sinkUntil(500_000), sinkUntil(500_000)];
    const relays = await Promise.all(sinks.map(async (s) => relay({ target: await serve(s.handler), up: shared })));
    const socks = await Promise.all(relays.map((r) => connect(r.port)));
    const t0 = performance.now();
    for (const sock of socks) sock.write(randomBytes(500_000));
    const last = Math.max(...(await Promise.all(sinks.map((s) => s.done))));
    const seconds = (last - t0) / 1000;
    assert.ok(seconds >= 0.95, `2 × 500 kB through one shared 8 Mbit/s cap in ${seconds} s`);
    for (const r of relays) assert.equal(r.counters().up, 500_000);
    for (const sock of socks) sock.destroy();
  });

  it('pauses a sender whose bytes the server does not take: memory stays bounded', async () => {
    let serverSide: net.Socket | undefined;
    let total = 0;
    const size = 16 * 1024 * 1024;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const target = await serve((sock) => {
      serverSide = sock;
      sock.pause(); // stays paused: a 'data' listener does not resume a paused socket
      sock.on('data', (b: Buffer) => {
        total += b.length;
        if (total === size) resolveAll();
      });
    });
    const highWaterBytes = 256 * 1024;
    const r = await relay({ target, rttMs: 2, highWaterBytes });
    const sock = await connect(r.port);
    sock.write(randomBytes(size));
    await sleep(400);
    assert.equal(total, 0);
    assert.ok(r.peakBufferedBytes() <= highWaterBytes + 128 * 1024, `the relay held ${r.peakBufferedBytes()} bytes`);
    serverSide!.resume();
    await all;
    assert.equal(r.counters().up, size);
    assert.ok(r.peakBufferedBytes() <= highWaterBytes + 128 * 1024, `the relay held ${r.peakBufferedBytes()} bytes`);
    sock.destroy();
  });
});
