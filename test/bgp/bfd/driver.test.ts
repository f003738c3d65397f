// The BFD driver (bgp/bfd/driver.ts) through the kernel, in a network
// namespace this file creates and the test thread enters: two BfdDrivers on
// one loopback (one on the standard ports, one on 13784 / 14784) bring
// IPv4, IPv6 and multihop sessions Up, change timers with a Poll Sequence,
// go AdminDown, time out, and refuse bad configurations. Plain UDP sockets
// play a third system: they check the source port (49152-65535, kept) and
// send packets with TTL / Hop Limit 254 and 255 to prove the BPF filter.
// Intervals are 10-30 ms so every wait is short; measured figures print.
import * as dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BfdDriver, type BfdDriverEvent, type BfdSessionSnapshot } from '../../../bgp/bfd/driver.js';
import { decodeControl, encodeControl, type BfdControlPacket } from '../../../bgp/bfd/wire.js';
import { BfdState } from '../../../bgp/bfd/iana.js';
import type { Logger } from '../../../bgp/driver/types.js';
import { ManualClock } from '../../../bgp/driver/clock.js';
import { testNetns } from '../../support/netns-enter.js';

const netns = testNetns({ file: 'test/bgp/bfd/driver.test.ts', tag: 'bfd', scope: 'kernel tests in' });

const ALT = { singleHop: 13784, multihop: 14784 };

interface Logged {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

function recorder(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (obj: object, msg: string) => lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Wait until `pred` holds for a driver's session snapshot, polling every 5 ms. */
async function until(d: BfdDriver, name: string, pred: (s: BfdSessionSnapshot) => boolean, timeoutMs = 5_000): Promise<BfdSessionSnapshot> {
  const t0 = performance.now();
  for (;;) {
    const s = d.session(name);
    if (s && pred(s)) return s;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting on ${name}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Collect a driver's events. */
function events(d: BfdDriver): BfdDriverEvent[] {
  const out: BfdDriverEvent[] = [];
  d.on((e) => out.push(e));
  return out;
}

function udp(family: 4 | 6, address: string, port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, address, () => resolve(s));
  });
}

function sendTo(s: dgram.Socket, bytes: Uint8Array, port: number, address: string, ttl: number): Promise<void> {
  s.setTTL(ttl);
  return new Promise((resolve, reject) => s.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
}

const pkt = (p: Partial<BfdControlPacket>): Uint8Array =>
  encodeControl({
    diag: 0,
    state: BfdState.Down,
    poll: false,
    final: false,
    cpi: false,
    demand: false,
    detectMult: 3,
    myDiscriminator: 0x5555,
    yourDiscriminator: 0,
    desiredMinTxUs: 1_000_000,
    requiredMinRxUs: 1_000_000,
    requiredMinEchoRxUs: 0,
    ...p,
  });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!netns.canRun)('BfdDriver through the kernel (network namespace)', () => {
  const logA = recorder();
  let a: BfdDriver;
  let b: BfdDriver;
  let evA: BfdDriverEvent[];
  let evB: BfdDriverEvent[];

  beforeAll(() => {
    netns.setUp([
      '192.0.2.1/32',
      '192.0.2.2/32',
      '192.0.2.3/32',
      '192.0.2.4/32',
      '192.0.2.5/32',
      '192.0.2.9/32',
      '2001:db8::1/128',
      '2001:db8::2/128',
      '2001:db8::3/128',
    ]);
    // Every address of 198.51.100.0/24 is local: sources for the unknown-address tests.
    netns.ip('route', 'add', 'local', '198.51.100.0/24', 'dev', 'lo');
    a = new BfdDriver({ logger: logA.logger, unknownLogLimit: 4 });
    b = new BfdDriver({ ports: ALT });
    evA = events(a);
    evB = events(b);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    netns.cleanUp();
  });

  it('IPv4 single hop: active A and passive B come Up and negotiate max(tx, rx) and the Detection Time', async () => {
    const t0 = performance.now();
    await b.addSession({ name: 'toA', peer: '192.0.2.1', local: '192.0.2.2', passive: true, desiredMinTxMs: 30, requiredMinRxMs: 20, detectMult: 4 });
    await a.addSession({ name: 'toB', peer: '192.0.2.2', local: '192.0.2.1', port: ALT.singleHop, desiredMinTxMs: 10, requiredMinRxMs: 25, detectMult: 3 });
    const sa = await until(a, 'toB', (s) => s.state === 'Up' && !s.pollActive && s.remote?.desiredMinTxMs === 30);
    const sb = await until(b, 'toA', (s) => s.state === 'Up' && !s.pollActive && s.remote?.desiredMinTxMs === 10);
    console.log(`bfd driver: IPv4 session Up in ${(performance.now() - t0).toFixed(1)} ms`);
    // A sends every max(10, B's 20) = 20 ms; B every max(30, A's 25) = 30 ms.
    expect({ tx: sa.txIntervalMs, rx: sa.rxIntervalMs, det: sa.detectionTimeMs }).toEqual({ tx: 20, rx: 30, det: 4 * 30 });
    expect({ tx: sb.txIntervalMs, rx: sb.rxIntervalMs, det: sb.detectionTimeMs }).toEqual({ tx: 30, rx: 20, det: 3 * 20 });
    expect(sa.remoteDiscriminator).toBe(sb.localDiscriminator);
    expect(sb.remoteDiscriminator).toBe(sa.localDiscriminator);
    expect(sa.counters.upTransitions).toBe(1);
    expect(sa.counters.pollsCompleted).toBeGreaterThanOrEqual(1);
    expect(evA).toContainEqual(expect.objectContaining({ type: 'state', session: 'toB', to: 'Up', pathDown: false }));
    expect(evB.filter((e) => e.type === 'state').map((e) => (e as { to: string }).to)).toEqual(['Init', 'Up']);
    await sleep(150);
    const later = a.session('toB')!;
    expect(later.counters.packetsIn).toBeGreaterThan(3);
    expect(later.counters.packetsOut).toBeGreaterThan(5);
    expect(later.uptimeMs).toBeGreaterThan(100);
  });

  it('a timer change at runtime is a Poll Sequence the other side adopts', async () => {
    const polls = a.session('toB')!.counters.pollsCompleted;
    a.updateSession('toB', { desiredMinTxMs: 40, requiredMinRxMs: 50 });
    const sa = await until(a, 'toB', (s) => s.counters.pollsCompleted > polls && !s.pollActive);
    const sb = await until(b, 'toA', (s) => s.remote?.desiredMinTxMs === 40 && s.remote.requiredMinRxMs === 50);
    expect(sa.txIntervalMs).toBe(40);
    expect(sb.txIntervalMs).toBe(50); // max(B's 30, A's new 50)
    expect(sb.detectionTimeMs).toBe(3 * 40);
    expect(sa.state).toBe('Up');
    expect(evA).toContainEqual({ type: 'poll-done', session: 'toB', txIntervalMs: 40, detectionTimeMs: 4 * 50 });
  });

  it('AdminDown from A: B goes Down with diag 3 and pathDown false (RFC 5882 §3.2); back Up after AdminUp', async () => {
    a.setAdminDown('toB', true);
    const sb = await until(b, 'toA', (s) => s.state === 'Down');
    expect({ diag: sb.localDiagName, remote: sb.remoteState, remoteDiag: sb.remoteDiagName }).toEqual({
      diag: 'NeighborSignaledSessionDown',
      remote: 'AdminDown',
      remoteDiag: 'AdministrativelyDown',
    });
    expect(sb.lastDown).toMatchObject({ diag: 3, remoteState: 'AdminDown', pathDown: false });
    expect(evB).toContainEqual(expect.objectContaining({ type: 'state', from: 'Up', to: 'Down', remoteState: 'AdminDown', pathDown: false }));
    expect(a.session('toB')).toMatchObject({ state: 'AdminDown', localDiag: 7 });
    a.setAdminDown('toB', false);
    await until(a, 'toB', (s) => s.state === 'Up');
    await until(b, 'toA', (s) => s.state === 'Up');
  });

  it('IPv6 single hop and IPv4 multihop sessions come Up alongside', async () => {
    await b.addSession({ name: 'v6', peer: '2001:db8::1', local: '2001:db8::2', desiredMinTxMs: 20, requiredMinRxMs: 20 });
    await a.addSession({ name: 'v6', peer: '2001:db8::2', local: '2001:db8::1', port: ALT.singleHop, desiredMinTxMs: 20, requiredMinRxMs: 20 });
    await b.addSession({ name: 'mh', peer: '192.0.2.3', local: '192.0.2.4', multihop: { maxHops: 3 }, desiredMinTxMs: 20, requiredMinRxMs: 20 });
    await a.addSession({ name: 'mh', peer: '192.0.2.4', local: '192.0.2.3', multihop: true, port: ALT.multihop, desiredMinTxMs: 20, requiredMinRxMs: 20 });
    for (const d of [a, b]) {
      await until(d, 'v6', (s) => s.state === 'Up');
      const mh = await until(d, 'mh', (s) => s.state === 'Up');
      expect(mh.multihop).toBe(true);
    }
    expect(a.session('mh')!.minTtl).toBe(1); // no limit by default
    expect(b.session('mh')!.minTtl).toBe(253);
  });

  it('sends from one source port in 49152-65535 for the session life, TTL 255, to the peer port', async () => {
    const peer = await udp(4, '192.0.2.9', 23784);
    const seen: { port: number; packet: BfdControlPacket }[] = [];
    peer.on('message', (m, r) => seen.push({ port: r.port, packet: decodeControl(m) }));
    try {
      await a.addSession({ name: 'raw', peer: '192.0.2.9', local: '192.0.2.1', port: 23784, desiredMinTxMs: 10, requiredMinRxMs: 10 });
      const sp = a.session('raw')!.sourcePort;
      expect(sp).toBeGreaterThanOrEqual(49152);
      expect(sp).toBeLessThanOrEqual(65535);
      // Answer Down with a 20 ms RequiredMinRx: A goes Init and, after its slow first interval, keeps one port.
      await sendTo(peer, pkt({ requiredMinRxUs: 20_000 }), 3784, '192.0.2.1', 255);
      await until(a, 'raw', (s) => s.state === 'Init');
      const t0 = performance.now();
      while (seen.length < 2 && performance.now() - t0 < 3_000) await sleep(10);
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(new Set(seen.map((s) => s.port))).toEqual(new Set([sp]));
      expect(seen[0]!.packet).toMatchObject({ state: BfdState.Down, yourDiscriminator: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 10_000 });
      expect(seen.at(-1)!.packet).toMatchObject({ state: BfdState.Init, yourDiscriminator: 0x5555 });
    } finally {
      await a.removeSession('raw');
      peer.close();
    }
  });

  it('single hop: TTL / Hop Limit 254 is discarded (counted as ttl), 255 accepted', async () => {
    for (const [family, peerAddr, localAddr] of [
      [4, '192.0.2.5', '192.0.2.1'],
      [6, '2001:db8::3', '2001:db8::1'],
    ] as const) {
      const name = `ttl${family}`;
      // Replies go to a closed port, not back into A's own listener.
      await a.addSession({ name, peer: peerAddr, local: localAddr, passive: true, desiredMinTxMs: 10, requiredMinRxMs: 10, port: 33784 });
      const s = await udp(family, peerAddr);
      try {
        for (let i = 0; i < 3; i++) await sendTo(s, pkt({ myDiscriminator: 0x77 }), 3784, localAddr, 254);
        await until(a, name, (x) => x.counters.discards.ttl === 3);
        expect(a.session(name)).toMatchObject({ state: 'Down', remoteDiscriminator: 0 });
        expect(a.session(name)!.counters.packetsIn).toBe(0);
        await sendTo(s, pkt({ myDiscriminator: 0x77 }), 3784, localAddr, 255);
        const got = await until(a, name, (x) => x.state === 'Init');
        expect(got.remoteDiscriminator).toBe(0x77);
        expect(got.counters.packetsIn).toBe(1);
        expect(got.counters.discards.ttl).toBe(3);
      } finally {
        s.close();
        await a.removeSession(name);
      }
    }
    expect(logA.lines.some((l) => l.level === 'warn' && l.obj.reason === 'ttl')).toBe(true);
  });

  it('multihop: each session its own TTL floor, 256 - maxHops, on one socket (IPv4 and IPv6)', async () => {
    // Replies go to a closed port (34784), not back into A's own listener.
    const common = { local: '192.0.2.1', passive: true, port: 34784 } as const;
    await a.addSession({ name: 'mh1', peer: '192.0.2.5', multihop: { maxHops: 1 }, ...common });
    await a.addSession({ name: 'mh2', peer: '192.0.2.9', multihop: { maxHops: 2 }, ...common });
    await a.addSession({ name: 'mhany', peer: '198.51.100.200', multihop: true, ...common });
    const common6 = { local: '2001:db8::1', passive: true, port: 34784 } as const;
    await a.addSession({ name: 'mh6a', peer: '2001:db8::3', multihop: { maxHops: 1 }, ...common6 });
    await a.addSession({ name: 'mh6b', peer: '2001:db8::2', multihop: { maxHops: 2 }, ...common6 });
    const sockets = await Promise.all([
      udp(4, '192.0.2.5'),
      udp(4, '192.0.2.9'),
      udp(4, '198.51.100.200'),
      udp(6, '2001:db8::3'),
      udp(6, '2001:db8::2'),
    ]);
    const [s5, s9, sAny, s6a, s6b] = sockets;
    try {
      await sendTo(s5!, pkt({ myDiscriminator: 0x51 }), 4784, '192.0.2.1', 254);
      await sendTo(s9!, pkt({ myDiscriminator: 0x52 }), 4784, '192.0.2.1', 254);
      await sendTo(sAny!, pkt({ myDiscriminator: 0x53 }), 4784, '192.0.2.1', 64);
      await sendTo(s6a!, pkt({ myDiscriminator: 0x61 }), 4784, '2001:db8::1', 254);
      await sendTo(s6b!, pkt({ myDiscriminator: 0x62 }), 4784, '2001:db8::1', 254);
      expect(await until(a, 'mh1', (x) => x.counters.discards.ttl === 1)).toMatchObject({ state: 'Down', minTtl: 255 });
      expect(await until(a, 'mh2', (x) => x.state === 'Init')).toMatchObject({ remoteDiscriminator: 0x52, minTtl: 254 });
      expect(await until(a, 'mhany', (x) => x.state === 'Init')).toMatchObject({ remoteDiscriminator: 0x53, minTtl: 1 });
      expect(await until(a, 'mh6a', (x) => x.counters.discards.ttl === 1)).toMatchObject({ state: 'Down' });
      expect(await until(a, 'mh6b', (x) => x.state === 'Init')).toMatchObject({ remoteDiscriminator: 0x62 });
      // The same source at TTL 255 passes mh1's floor.
      await sendTo(s5!, pkt({ myDiscriminator: 0x51 }), 4784, '192.0.2.1', 255);
      expect(await until(a, 'mh1', (x) => x.state === 'Init')).toMatchObject({ remoteDiscriminator: 0x51 });
      // After mh2 is removed its rule goes: TTL 254 from .9 is an unknown packet, not a ttl discard.
      await a.removeSession('mh2');
      const before = a.counters().unknownByReason;
      await sendTo(s9!, pkt({ myDiscriminator: 0x52 }), 4784, '192.0.2.1', 254);
      const t0 = performance.now();
      while (a.counters().unknownByReason['no-session'] === before['no-session'] && performance.now() - t0 < 2_000) await sleep(5);
      expect(a.counters().unknownByReason['no-session']).toBe(before['no-session'] + 1);
      expect(a.counters().unknownByReason.ttl).toBe(before.ttl);
    } finally {
      for (const s of sockets) s.close();
      for (const n of ['mh1', 'mhany', 'mh6a', 'mh6b']) await a.removeSession(n);
    }
    expect(a.session('mh')!.minTtl).toBe(1);
  });

  it('counts packets no session owns by reason, logs each address once and a bounded set of them', async () => {
    const before = a.counters();
    const logged = (): number => logA.lines.filter((l) => l.msg.startsWith('BFD packet from an address with no session')).length;
    const l0 = logged();
    const socks = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => udp(4, `198.51.100.${i}`)));
    try {
      for (const s of socks) for (let i = 0; i < 3; i++) await sendTo(s, pkt({}), 3784, '192.0.2.1', 255);
      await sendTo(socks[0]!, new Uint8Array([0x00, 0x40, 0x03, 0x18]), 3784, '192.0.2.1', 255); // version 0
      await sendTo(socks[0]!, pkt({ state: BfdState.Up, yourDiscriminator: 0xdead }), 3784, '192.0.2.1', 255);
      // The first address again: forgotten (limit 4 here), so it is logged again.
      await sendTo(socks[0]!, pkt({}), 3784, '192.0.2.1', 255);
      const t0 = performance.now();
      while (a.counters().unknownPackets - before.unknownPackets < 21 && performance.now() - t0 < 3_000) await sleep(5);
    } finally {
      for (const s of socks) s.close();
    }
    const after = a.counters();
    expect(after.unknownPackets - before.unknownPackets).toBe(21);
    expect(after.unknownByReason['no-session'] - before.unknownByReason['no-session']).toBe(20);
    expect(after.unknownByReason.version - before.unknownByReason.version).toBe(1);
    expect(logged() - l0).toBe(7);
  });

  it('detects a silent peer: Down with diag 1 and pathDown within the Detection Time (plus scheduling slack)', async () => {
    await b.addSession({ name: 'det', peer: '192.0.2.4', local: '192.0.2.5', desiredMinTxMs: 10, requiredMinRxMs: 10, detectMult: 3 });
    await a.addSession({ name: 'det', peer: '192.0.2.5', local: '192.0.2.4', port: ALT.singleHop, desiredMinTxMs: 10, requiredMinRxMs: 10, detectMult: 3 });
    await until(a, 'det', (s) => s.state === 'Up' && s.detectionTimeMs === 30);
    await until(b, 'det', (s) => s.state === 'Up');
    const down = new Promise<number>((resolve) => {
      const off = a.on((e) => {
        if (e.type === 'state' && e.session === 'det' && e.to === 'Down') {
          off();
          resolve(performance.now());
        }
      });
    });
    // B's address vanishes: its packets stop (send errors), nothing says AdminDown.
    const t0 = performance.now();
    netns.ip('addr', 'del', '192.0.2.5/32', 'dev', 'lo');
    const elapsed = (await down) - t0;
    console.log(`bfd driver: silent peer detected after ${elapsed.toFixed(1)} ms (Detection Time 30 ms)`);
    expect(elapsed).toBeLessThan(30 * 10);
    expect(a.session('det')).toMatchObject({ state: 'Down', localDiag: 1, lastDown: { diag: 1, pathDown: true, remoteState: 'Up' } });
    await until(b, 'det', (s) => s.counters.sendErrors > 0);
    expect(evA).toContainEqual(expect.objectContaining({ type: 'state', session: 'det', from: 'Up', to: 'Down', diag: 1, pathDown: true }));
    netns.ip('addr', 'add', '192.0.2.5/32', 'dev', 'lo');
    await b.removeSession('det');
    await a.removeSession('det');
  });

  it('a stall of this thread longer than the Detection Time is no false Down: the packets waiting in the socket are read before the late expiry is judged', async () => {
    // A raw peer in a worker thread keeps sending every 10 ms (Detection
    // Time 25 × 20 ms = 500 ms at A: the sender thread itself must never
    // look silent on a loaded machine) while this thread, A's, is blocked
    // for 1.5 s, three Detection Times. Node runs due timers before it reads
    // sockets, so without the second look A would declare Down with the
    // peer's packets unread in its socket.
    // (A session that is Up stays Up on Init, RFC 5880 §6.8.6, so the peer says Init throughout.)
    const peer = await udp(4, '192.0.2.9', 28784);
    try {
      await a.addSession({ name: 'stall', peer: '192.0.2.9', local: '192.0.2.1', port: 28784, desiredMinTxMs: 1000, requiredMinRxMs: 20, detectMult: 3 });
      const discr = a.session('stall')!.localDiscriminator;
      const DETECT_MS = 500;
      const BLOCK_MS = 1_500;
      const init = pkt({ state: BfdState.Init, desiredMinTxUs: 20_000, requiredMinRxUs: 1_000_000, detectMult: DETECT_MS / 20, myDiscriminator: 0x7777, yourDiscriminator: discr });
      // The worker stamps each send (epoch ms, comparable across threads) and
      // answers 'sent FROM TO' with how many it sent in that window.
      const w = new Worker(
        `const dgram = require('node:dgram');
         const { parentPort, workerData } = require('node:worker_threads');
         const s = dgram.createSocket('udp4');
         const sent = [];
         s.bind(0, '192.0.2.9', () => {
           s.setTTL(255);
           const t = setInterval(() => {
             s.send(workerData, 3784, '192.0.2.1');
             sent.push(performance.timeOrigin + performance.now());
             if (sent.length > 2000) sent.splice(0, 1000);
           }, 10);
           parentPort.on('message', (m) => {
             if (m === 'stop') { clearInterval(t); s.close(() => parentPort.postMessage('closed')); return; }
             const [from, to] = m.split(' ').slice(1).map(Number);
             parentPort.postMessage(sent.filter((x) => x >= from && x <= to).length);
           });
         });`,
        { eval: true, workerData: Buffer.from(init) },
      );
      const sentBetween = (from: number, to: number): Promise<number> =>
        new Promise((resolve) => {
          w.once('message', (n: number) => resolve(n));
          w.postMessage(`sent ${from} ${to}`);
        });
      try {
        await until(a, 'stall', (x) => x.state === 'Up');
        // The case needs the peer's packets waiting in the socket when the
        // block ends. On a loaded machine the sender thread may itself get no
        // CPU for the whole block; then nothing waits, the Down is real, and
        // the attempt proves nothing: it is made again (at most three times).
        let attempt = 0;
        let before!: BfdSessionSnapshot;
        let after!: BfdSessionSnapshot;
        let readBefore = 0;
        for (;;) {
          attempt++;
          await sleep(100);
          before = await until(a, 'stall', (x) => x.state === 'Up' && x.detectionTimeMs === DETECT_MS);
          readBefore = a.counters().readAtLateExpiry;
          // Blocked inside a setImmediate callback: the loop's next phase is
          // its timers, so the expired Detection Time is seen before the
          // socket is read, which is the case the second look is for.
          const blockEnd = await new Promise<number>((resolve) =>
            setImmediate(() => {
              const t0 = performance.now();
              while (performance.now() - t0 < BLOCK_MS) {
                // Blocked: no timer, no socket read on this thread.
              }
              resolve(performance.timeOrigin + performance.now());
            }),
          );
          await sleep(30);
          after = a.session('stall')!;
          const read = a.counters().readAtLateExpiry - readBefore;
          const waiting = await sentBetween(blockEnd - DETECT_MS, blockEnd);
          console.log(
            `bfd driver: attempt ${attempt}: ${BLOCK_MS} ms stall with a ${DETECT_MS} ms Detection Time, ${waiting} packets sent in its last ${DETECT_MS} ms: ${after.state}, ` +
              `down transitions ${before.counters.downTransitions} → ${after.counters.downTransitions}, late expiries ${before.counters.lateDetections} → ${after.counters.lateDetections}, ${read} datagrams read at once at the late expiry, largest receive gap ${after.counters.rxGapMaxMs} ms`,
          );
          if (waiting > 0 || attempt === 3) {
            expect(waiting, 'the sender thread sent nothing in the last Detection Time of three blocks').toBeGreaterThan(0);
            break;
          }
          await until(a, 'stall', (x) => x.state === 'Up');
        }
        expect(after.state).toBe('Up');
        expect(after.counters.downTransitions).toBe(before.counters.downTransitions);
        expect(after.counters.lateDetections).toBe(before.counters.lateDetections + 1);
        // Read synchronously when the late expiry was noticed, not left to the event loop.
        expect(a.counters().readAtLateExpiry).toBeGreaterThan(readBefore);
        expect(after.counters.rxGapMaxMs).toBeGreaterThanOrEqual(BLOCK_MS - 50);
        // A real silence still goes Down, one look later.
        w.postMessage('stop');
        await new Promise((r) => w.once('message', r));
        const t1 = performance.now();
        await until(a, 'stall', (x) => x.state === 'Down');
        const ms = performance.now() - t1;
        console.log(`bfd driver: the peer's silence detected ${ms.toFixed(1)} ms after its last packet was sent (Detection Time ${DETECT_MS} ms)`);
        expect(ms).toBeLessThan(DETECT_MS * 4);
      } finally {
        await w.terminate();
      }
    } finally {
      await a.removeSession('stall');
      peer.close();
    }
  });

  it('removeSession tells the peer with AdminDown', async () => {
    // The synchronous `ip` calls above block this thread for longer than the 60 ms
    // Detection Time, so the session may have flapped: start from Up.
    await until(a, 'v6', (x) => x.state === 'Up');
    await until(b, 'v6', (x) => x.state === 'Up');
    await b.removeSession('v6');
    const s = await until(a, 'v6', (x) => x.state === 'Down');
    expect(s).toMatchObject({ remoteState: 'AdminDown', localDiag: 3, lastDown: { pathDown: false } });
    expect(b.session('v6')).toBeUndefined();
  });

  it('refuses bad or clashing configurations with a clear error', async () => {
    await expect(a.addSession({ name: 'toB', peer: '192.0.2.9' })).rejects.toThrow(/toB already exists/);
    await expect(a.addSession({ name: 'dup', peer: '192.0.2.2' })).rejects.toThrow(/single-hop session with 192\.0\.2\.2 already exists \(toB\)/);
    await expect(a.addSession({ name: 'mhx', peer: '192.0.2.9', multihop: true })).rejects.toThrow(/needs a local address/);
    await expect(a.addSession({ name: 'fam', peer: '192.0.2.9', local: '2001:db8::1' })).rejects.toThrow(/different families/);
    await expect(a.addSession({ name: 'fast', peer: '192.0.2.9', desiredMinTxMs: 5 })).rejects.toThrow(/10\.\.60000 ms, got 5/);
    await expect(a.addSession({ name: 'mult', peer: '192.0.2.9', detectMult: 0 })).rejects.toThrow(/detect multiplier/);
    await expect(a.addSession({ name: 'hops', peer: '192.0.2.9', local: '192.0.2.1', multihop: { maxHops: 0 } })).rejects.toThrow(/maxHops/);
    await expect(a.addSession({ name: 'addr', peer: 'router.example' })).rejects.toThrow(/not an IP address/);
    expect(() => a.updateSession('nope', { detectMult: 2 })).toThrow(/no BFD session nope/);
    expect(() => a.updateSession('toB', { requiredMinRxMs: 70_000 })).toThrow(/10\.\.60000/);
    // A third driver on the standard port: the bind fails and says why.
    const c = new BfdDriver();
    await expect(c.addSession({ name: 'x', peer: '192.0.2.9' })).rejects.toThrow(/cannot listen on UDP 0\.0\.0\.0:3784.*EADDRINUSE.*another BFD daemon/);
    await c.close();
  });

  it('runs in a worker thread (decision 0020): a driver there brings a session Up with one here', async () => {
    // The worker inherits this thread's network namespace; it loads TypeScript through tsx.
    const code = `
      import('tsx/esm/api').then(async ({ register }) => {
        register();
        const { parentPort } = await import('node:worker_threads');
        const { BfdDriver } = await import(${JSON.stringify(new URL('../../../bgp/bfd/driver.ts', import.meta.url).pathname)});
        const d = new BfdDriver({ ports: { singleHop: 23784, multihop: 24784 } });
        await d.addSession({ name: 'w', peer: '192.0.2.1', local: '192.0.2.9', desiredMinTxMs: 20, requiredMinRxMs: 20 });
        d.on((e) => { if (e.type === 'state' && e.to === 'Up') parentPort.postMessage({ up: d.session('w') }); });
        parentPort.on('message', async () => { await d.close(); parentPort.postMessage({ closed: true }); });
      });`;
    await a.addSession({ name: 'w', peer: '192.0.2.9', local: '192.0.2.1', port: 23784, desiredMinTxMs: 20, requiredMinRxMs: 20 });
    const w = new Worker(code, { eval: true });
    try {
      const up = await new Promise<BfdSessionSnapshot>((resolve, reject) => {
        w.on('message', (m: { up?: BfdSessionSnapshot }) => m.up && resolve(m.up));
        w.once('error', reject);
        w.once('exit', (c) => reject(new Error(`worker exited ${c}`)));
      });
      expect(up).toMatchObject({ state: 'Up', remoteDiscriminator: a.session('w')!.localDiscriminator });
      await until(a, 'w', (x) => x.state === 'Up');
      w.postMessage('close');
      await until(a, 'w', (x) => x.state === 'Down' && x.remoteState === 'AdminDown');
    } finally {
      await w.terminate();
      await a.removeSession('w');
    }
  });

  it('keeps its deadlines on the injected Clock (ManualClock: nothing more goes out until it moves)', async () => {
    const clock = new ManualClock(1_000);
    const d = new BfdDriver({ clock, ports: { singleHop: 25784, multihop: 26784 } });
    const peer = await udp(4, '192.0.2.9', 27784);
    const got: number[] = [];
    peer.on('message', () => got.push(clock.now()));
    // (clock.now() at arrival: the first packet leaves inside addSession, at 1000)
    try {
      await d.addSession({ name: 'm', peer: '192.0.2.9', local: '192.0.2.1', port: 27784 });
      const wait = async (n: number): Promise<void> => {
        const t0 = performance.now();
        while (got.length < n && performance.now() - t0 < 2_000) await sleep(5);
      };
      await wait(1);
      expect(got).toEqual([1_000]); // the first packet at once
      await sleep(100);
      expect(got.length).toBe(1); // real time passes, the manual clock does not
      expect(clock.pending).toBe(1); // one timer for the earliest deadline
      // The next one is due 750-1000 ms later (slow rate before Up, jittered).
      clock.advance(740);
      await sleep(100);
      expect(got.length).toBe(1);
      clock.advance(260);
      await wait(2);
      expect(got.length).toBe(2);
    } finally {
      await d.close();
      peer.close();
    }
  });

  it('close() says AdminDown on every session and releases the ports', async () => {
    const before = b.snapshot().map((s) => s.name);
    expect(before).toContain('toA');
    await a.close();
    const s = await until(b, 'toA', (x) => x.state === 'Down');
    expect(s.remoteState).toBe('AdminDown');
    // The ports are free again.
    const again = new BfdDriver();
    await again.addSession({ name: 'again', peer: '192.0.2.2', local: '192.0.2.1', port: ALT.singleHop });
    await again.close();
  });
});
