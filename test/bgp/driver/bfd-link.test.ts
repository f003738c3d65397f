// BFD inside the Speaker (bgp/driver/bfd-link.ts, peer.ts; decision 0030)
// through the kernel, in a network namespace this file creates and the test
// thread enters: two Speakers on one loopback (A 192.0.2.1 on the standard
// BFD ports, B 192.0.2.2 on 13784) run BGP with each other, and BFD once
// both sides configure it (30 ms × 4); a third Speaker C (192.0.2.3) has
// no BFD. Everything runs on the test's event loop, so nothing here blocks
// it (the `ip rule` changes run as asynchronous children). It shows, with the figures printed:
//   - an Established session holds its routes until BFD is Up, then sends;
//   - the A→B BFD packets dropped (a policy-routing blackhole rule for UDP
//     13784, ahead of the local table; BGP untouched) take the BGP
//     session down within the Detection Time plus a margin, with Cease/BFD
//     Down (6/10) sent and named in both sides' down reasons;
//   - BFD back Up re-establishes at once, not after the 5 s IdleHold;
//   - the peer's BFD AdminDown (it removes its session) leaves BGP up
//     (RFC 5882 §3.2);
//   - with no BFD at the peer (C), routes go out after wait_up, marked
//     unprotected.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Speaker } from '../../../bgp/driver/speaker.js';
import type { PeerConfig, PeerSnapshot, SpeakerEvent } from '../../../bgp/driver/types.js';
import { testNetns } from '../../support/netns-enter.js';

const netns = testNetns({ file: 'test/bgp/driver/bfd-link.test.ts', tag: 'bfdlink', scope: 'kernel tests in' });

const A = '192.0.2.1';
const B = '192.0.2.2';
const C = '192.0.2.3';
const ALT = 13784;
const BFD = { desiredMinTxMs: 30, requiredMinRxMs: 30, detectMult: 4 } as const;
const ROUTE = '198.51.100.1/32';

const peerOfA = (extra: Partial<PeerConfig> = {}): PeerConfig => ({
  name: 'b',
  address: B,
  asn: 65002,
  localAddress: A,
  holdTime: 9,
  bfd: { ...BFD, port: ALT, waitUpMs: 5_000 },
  ...extra,
});
const peerOfB = (bfd: boolean): PeerConfig => ({
  name: 'a',
  address: A,
  asn: 65001,
  localAddress: B,
  passive: true,
  holdTime: 9,
  ...(bfd ? { bfd: { ...BFD } } : {}),
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Record a speaker's events with the time they arrived. */
function recorder(sp: Speaker): { at: number; e: SpeakerEvent }[] {
  const out: { at: number; e: SpeakerEvent }[] = [];
  sp.on((e) => out.push({ at: performance.now(), e }));
  return out;
}

/** Wait for an event (from index `from` on) that matches. */
async function waitEvent(log: { at: number; e: SpeakerEvent }[], pred: (e: SpeakerEvent) => boolean, from = 0, timeoutMs = 5_000): Promise<{ at: number; e: SpeakerEvent }> {
  const t0 = performance.now();
  for (;;) {
    const hit = log.slice(from).find((x) => pred(x.e));
    if (hit) return hit;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out; events: ${JSON.stringify(log.slice(from).map((x) => x.e))}`);
    await sleep(5);
  }
}

const snap = (sp: Speaker, name: string): PeerSnapshot => sp.snapshot().find((p) => p.name === name)!;

/** Drop (blackhole) UDP to the port, or stop doing so: a rule ahead of the local table (set up in beforeAll). */
async function dropUdpTo(port: number, on: boolean): Promise<void> {
  await promisify(execFile)('ip', ['-n', netns.name, 'rule', on ? 'add' : 'del', 'pref', '10', 'ipproto', 'udp', 'dport', String(port), 'blackhole']);
}

describe.skipIf(!netns.canRun)('BFD in the Speaker (network namespace)', () => {
  let a: Speaker;
  let b: Speaker;
  let c: Speaker;
  let evA: { at: number; e: SpeakerEvent }[];
  let evB: { at: number; e: SpeakerEvent }[];

  beforeAll(async () => {
    netns.setUp([`${A}/32`, `${B}/32`, `${C}/32`]);
    // The local table moves behind pref 10, where dropUdpTo's rule goes.
    netns.ip('rule', 'add', 'pref', '100', 'lookup', 'local');
    netns.ip('rule', 'del', 'pref', '0', 'lookup', 'local');
    a = new Speaker({ asn: 65001, routerId: A, listen: { address: A, port: 179 } });
    b = new Speaker({ asn: 65002, routerId: B, listen: { address: B, port: 179 }, bfd: { ports: { singleHop: ALT } } });
    c = new Speaker({ asn: 65003, routerId: C, listen: { address: C, port: 179 } });
    evA = recorder(a);
    evB = recorder(b);
  });
  afterAll(async () => {
    await a?.stop('test done', { timeoutMs: 500 });
    await b?.stop('test done', { timeoutMs: 500 });
    await c?.stop('test done', { timeoutMs: 500 });
    netns.cleanUp();
  });

  it('an Established session holds its routes until BFD is Up, then sends them', async () => {
    b.addPeer(peerOfB(false));
    a.addPeer(peerOfA());
    a.setRoutes('b', [{ prefix: ROUTE }]);
    await Promise.all([a.start(), b.start()]);
    await waitEvent(evA, (e) => e.type === 'established');
    const held = await waitEvent(evA, (e) => e.type === 'bfd-routes' && e.held);
    await sleep(200);
    const s = snap(a, 'b');
    expect(s.state).toBe('Established');
    expect(s.bfd).toMatchObject({ routesHeld: true, unprotected: false, waitUpMs: 5_000, error: null });
    expect(s.bfd!.session).toMatchObject({ state: 'Down', desiredMinTxMs: 30, requiredMinRxMs: 30, detectMult: 4, multihop: false });
    expect(s.prefixesAnnounced).toBe(0);
    expect(snap(b, 'a').prefixesReceived).toBe(0);

    // B configures BFD too: the session comes Up and A sends.
    expect(await b.updatePeer(peerOfB(true))).toBe('reconfigured');
    const up = await waitEvent(evA, (e) => e.type === 'bfd' && e.to === 'Up');
    const released = await waitEvent(evA, (e) => e.type === 'bfd-routes' && !e.held);
    for (let i = 0; i < 200 && snap(b, 'a').prefixesReceived === 0; i++) await sleep(5);
    console.log(
      `bfd-link: routes held ${(released.at - held.at).toFixed(0)} ms after Established, released ${(released.at - up.at).toFixed(1)} ms after BFD Up; ` +
        `negotiated tx ${snap(a, 'b').bfd!.session!.txIntervalMs} ms, detection ${snap(a, 'b').bfd!.session!.detectionTimeMs} ms`,
    );
    expect(released.e).toMatchObject({ held: false, unprotected: false });
    expect(released.at - up.at).toBeLessThan(100);
    expect(snap(b, 'a').prefixesReceived).toBe(1);
    expect(snap(a, 'b').bfd).toMatchObject({ routesHeld: false, session: { state: 'Up', remoteState: 'Up', detectionTimeMs: 120 } });
  });

  it('BFD packets to B dropped: the BGP session goes down within the Detection Time plus a margin with Cease/BFD Down; BFD back Up re-establishes at once', async () => {
    const fromA = evA.length;
    const fromB = evB.length;
    await dropUdpTo(ALT, true);
    const t0 = performance.now();
    let down: { at: number; e: SpeakerEvent };
    try {
      down = await waitEvent(evB, (e) => e.type === 'down' && e.peer === 'a', fromB, 3_000);
    } finally {
      await dropUdpTo(ALT, false);
    }
    const tBack = performance.now();
    const sentB = evB.slice(fromB).find((x) => x.e.type === 'notification-sent');
    const sentA = evA.slice(fromA).find((x) => x.e.type === 'notification-sent');
    const downA = await waitEvent(evA, (e) => e.type === 'down', fromA);
    const lastB = snap(b, 'a').lastDown;
    const lastA = snap(a, 'b').lastDown;
    // Up again: BFD first, then BGP, without the IdleHold wait.
    const bfdUp = await waitEvent(evB, (e) => e.type === 'bfd' && e.to === 'Up', fromB, 5_000);
    const est = await waitEvent(evB, (e) => e.type === 'established', fromB, 5_000);
    console.log(
      `bfd-link: A→B BFD dropped → B's BGP down after ${(down.at - t0).toFixed(0)} ms (Detection Time 120 ms); ` +
        `B: ${lastB?.message}; A: ${lastA?.message}; BFD Up ${(bfdUp.at - tBack).toFixed(0)} ms after the drop ended, BGP Established ${(est.at - bfdUp.at).toFixed(0)} ms after BFD Up`,
    );
    expect(down.at - t0).toBeLessThan(1_000);
    // Whichever side detected first sent Cease/BFD Down (RFC 9384); both name BFD.
    const sent = [sentA, sentB].filter((x) => x !== undefined).map((x) => x!.e);
    expect(sent).toContainEqual(expect.objectContaining({ code: 6, subcode: 10 }));
    expect(`${lastA?.message} ${lastB?.message}`).toMatch(/BfdDown/);
    expect(downA.e).toMatchObject({ wasEstablished: true });
    expect(est.at - bfdUp.at).toBeLessThan(1_000);
    await waitEvent(evA, (e) => e.type === 'established', fromA);
    for (let i = 0; i < 200 && snap(b, 'a').prefixesReceived === 0; i++) await sleep(5);
    expect(snap(b, 'a').prefixesReceived).toBe(1);
  });

  it("the peer's BFD AdminDown (it removes BFD) leaves the BGP session up (RFC 5882 §3.2)", async () => {
    const fromA = evA.length;
    await b.updatePeer(peerOfB(false));
    const bfdDown = await waitEvent(evA, (e) => e.type === 'bfd' && e.from === 'Up', fromA);
    await sleep(300);
    expect(bfdDown.e).toMatchObject({ to: 'Down', remoteState: 'AdminDown', pathDown: false });
    expect(evA.slice(fromA).filter((x) => x.e.type === 'down')).toEqual([]);
    expect(snap(a, 'b').state).toBe('Established');
    expect(snap(b, 'a').prefixesReceived).toBe(1);
  });

  it('no BFD at the peer: the routes go out after wait_up, marked unprotected', async () => {
    const fromA = evA.length;
    await c.start();
    c.addPeer({ name: 'a', address: A, asn: 65001, localAddress: C, passive: true, holdTime: 9 });
    a.addPeer({ name: 'c', address: C, asn: 65003, localAddress: A, holdTime: 9, bfd: { ...BFD, waitUpMs: 300 } });
    a.setRoutes('c', [{ prefix: ROUTE }]);
    const held = await waitEvent(evA, (e) => e.type === 'bfd-routes' && e.peer === 'c' && e.held, fromA);
    const released = await waitEvent(evA, (e) => e.type === 'bfd-routes' && e.peer === 'c' && !e.held, fromA);
    for (let i = 0; i < 200 && snap(c, 'a').prefixesReceived === 0; i++) await sleep(5);
    console.log(`bfd-link: no BFD at the peer → routes released after ${(released.at - held.at).toFixed(0)} ms (wait_up 300 ms)`);
    expect(released.e).toMatchObject({ unprotected: true });
    expect(released.at - held.at).toBeGreaterThanOrEqual(290);
    expect(released.at - held.at).toBeLessThan(1_000);
    expect(snap(a, 'c').bfd).toMatchObject({ routesHeld: false, unprotected: true, session: { state: 'Down' } });
    expect(snap(c, 'a').prefixesReceived).toBe(1);
  });
});
