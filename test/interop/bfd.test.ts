// BFD interop: herald's BfdDriver (in a child process in its own namespace)
// against FRR 8.4's bfdd and BIRD 2's `protocol bfd`, each in its own
// namespace, single hop (direct veth) and multihop (through a router
// namespace with forwarding), herald Active and Passive:
//
//   herald .1 ──── .2 FRR      single hop IPv4 + IPv6: herald Active, FRR passive-mode
//   herald .5 ──── .6 BIRD     single hop: BIRD Active, herald Passive
//   herald .9 ── R ── .14 FRR  multihop: FRR Active, herald Passive
//   herald .9 ── R ── .18 BIRD multihop: herald Active, BIRD passive
//
// It checks that every session comes Up with the intervals each side was
// configured with (FRR `show bfd peers json`, `birdc show bfd sessions`,
// herald's snapshot), that a timer change is a Poll Sequence in both
// directions (herald's change adopted by FRR and BIRD; FRR's vtysh change
// adopted by herald, and FRR's slower rate seen on the wire), that FRR's
// bfdd frozen with SIGSTOP is Down with diag 1 at herald within the
// Detection Time plus a margin (the figure prints), and that AdminDown from
// herald shows in FRR as down with remote diagnostic "administratively
// down". The namespaces and daemons are shared by all cases.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdRouter, FrrRouter, Lab, frrBfdPeerLine, labReady, nsRun, pointToPoint, sleep, waitFor, type RouterBfdPeer } from './lab/index.js';
import { BfdProcess } from './support/bfd-process.js';
import { encodeControl } from '../../bgp/bfd/wire.js';
import { BfdState } from '../../bgp/bfd/iana.js';

const ready = labReady(['frr', 'bird'], 'BFD interop');

/** FRR's bfdd sessions: single hop to herald .1 (IPv4) and ::1 (IPv6), multihop to herald .9. */
const FRR_SINGLE: RouterBfdPeer = { address: '192.0.2.1', localAddress: '192.0.2.2', minTxMs: 100, minRxMs: 100, multiplier: 3, passive: true };
const FRR_V6: RouterBfdPeer = { address: '2001:db8:0:100::1', localAddress: '2001:db8:0:100::2', minTxMs: 100, minRxMs: 100, multiplier: 3, passive: true };
const FRR_MULTI: RouterBfdPeer = { address: '192.0.2.9', localAddress: '192.0.2.14', multihop: true, minTxMs: 150, minRxMs: 150, multiplier: 3 };
/** A Down packet from discriminator 0x4242 (Your Discriminator 0), for the TTL probes. */
const DOWN_PROBE = Buffer.from(
  encodeControl({
    diag: 0,
    state: BfdState.Down,
    poll: false,
    final: false,
    cpi: false,
    demand: false,
    detectMult: 3,
    myDiscriminator: 0x4242,
    yourDiscriminator: 0,
    desiredMinTxUs: 1_000_000,
    requiredMinRxUs: 1_000_000,
    requiredMinEchoRxUs: 0,
  }),
).toString('hex');
/** BIRD's: single hop to herald .5 (Active, 200 ms, x4), multihop to herald .9 (passive). */
const BIRD_SINGLE: RouterBfdPeer = { address: '192.0.2.5', localAddress: '192.0.2.6', minTxMs: 200, minRxMs: 200, multiplier: 4 };
const BIRD_MULTI: RouterBfdPeer = { address: '192.0.2.9', localAddress: '192.0.2.18', multihop: true, minTxMs: 120, minRxMs: 120, multiplier: 3, passive: true };

describe.skipIf(!ready)('BFD interop: FRR bfdd and BIRD 2', () => {
  const lab = new Lab();
  let frr: FrrRouter;
  let bird: BirdRouter;
  let herald: BfdProcess;
  const t0 = Date.now();

  beforeAll(async () => {
    const [hns, fns, bns, rns] = await Promise.all(['herald', 'frr', 'bird', 'router'].map((r) => lab.addNamespace(r)));
    await pointToPoint(lab, hns!, fns!, { index: 0, ifA: 'eth0', ifB: 'eth0' });
    await pointToPoint(lab, hns!, bns!, { index: 1, ifA: 'eth1', ifB: 'eth0' });
    await pointToPoint(lab, hns!, rns!, { index: 2, ifA: 'eth2', ifB: 'eth0' });
    await pointToPoint(lab, rns!, fns!, { index: 3, ifA: 'eth1', ifB: 'eth1' });
    await pointToPoint(lab, rns!, bns!, { index: 4, ifA: 'eth2', ifB: 'eth1' });
    await lab.enableForwarding(rns!);
    // Multihop paths go through the router: herald's .9 reaches FRR's .14 and BIRD's .18 via .10.
    await lab.ip(hns!, ['route', 'add', '192.0.2.12/30', 'via', '192.0.2.10']);
    await lab.ip(hns!, ['route', 'add', '192.0.2.16/30', 'via', '192.0.2.10']);
    await lab.ip(fns!, ['route', 'add', '192.0.2.8/30', 'via', '192.0.2.13']);
    await lab.ip(bns!, ['route', 'add', '192.0.2.8/30', 'via', '192.0.2.17']);
    frr = new FrrRouter(lab, { name: 'frr', ns: fns!, asn: 65000, routerId: '192.0.2.2', peers: [], bfd: [FRR_SINGLE, FRR_V6, FRR_MULTI] });
    bird = new BirdRouter(lab, { name: 'bird', ns: bns!, asn: 65000, routerId: '192.0.2.6', peers: [], bfd: [BIRD_SINGLE, BIRD_MULTI] });
    herald = new BfdProcess(hns!);
    await Promise.all([frr.start(), bird.start(), herald.start()]);
    await herald.addSession({ name: 'frr', peer: '192.0.2.2', local: '192.0.2.1', desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 });
    await herald.addSession({ name: 'frr6', peer: '2001:db8:0:100::2', local: '2001:db8:0:100::1', desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 });
    await herald.addSession({ name: 'frr-mh', peer: '192.0.2.14', local: '192.0.2.9', multihop: { maxHops: 2 }, passive: true, desiredMinTxMs: 150, requiredMinRxMs: 150, detectMult: 3 });
    await herald.addSession({ name: 'bird', peer: '192.0.2.6', local: '192.0.2.5', passive: true, desiredMinTxMs: 50, requiredMinRxMs: 250, detectMult: 3 });
    await herald.addSession({ name: 'bird-mh', peer: '192.0.2.18', local: '192.0.2.9', multihop: true, desiredMinTxMs: 120, requiredMinRxMs: 120, detectMult: 3 });
    console.log(`bfd interop: lab and daemons ready in ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    await herald?.stop();
    await lab.close();
    console.log(`bfd interop: file wall time ${Date.now() - t0} ms`);
  });

  it('every session comes Up with each side using the intervals it was configured with', async () => {
    const t1 = Date.now();
    const settled = { state: 'Up', pollActive: false };
    const [f, f6, fm, b, bm] = await Promise.all(
      ['frr', 'frr6', 'frr-mh', 'bird', 'bird-mh'].map((n) => herald.until(n, (s) => s.state === 'Up' && !s.pollActive && s.remote !== null && s.remote.desiredMinTxMs < 1000)),
    );
    console.log(`bfd interop: all five sessions Up ${Date.now() - t1} ms after the last was added`);
    // herald's view: tx = max(ours, their RequiredMinRx); Detection Time = their mult x max(our RequiredMinRx, their DesiredMinTx).
    expect(f).toMatchObject({ ...settled, multihop: false, remote: { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 }, txIntervalMs: 100, detectionTimeMs: 300 });
    expect(f6).toMatchObject({ ...settled, remote: { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 }, txIntervalMs: 100, detectionTimeMs: 300 });
    expect(fm).toMatchObject({ ...settled, multihop: true, minTtl: 254, remote: { desiredMinTxMs: 150, requiredMinRxMs: 150, detectMult: 3 }, txIntervalMs: 150, detectionTimeMs: 450 });
    expect(b).toMatchObject({ ...settled, remote: { desiredMinTxMs: 200, requiredMinRxMs: 200, detectMult: 4 }, txIntervalMs: 200, detectionTimeMs: 4 * 250 });
    // BIRD 2 sends multihop packets with the system TTL (64), so that session has no TTL floor.
    expect(bm).toMatchObject({ ...settled, multihop: true, minTtl: 1, remote: { desiredMinTxMs: 120, requiredMinRxMs: 120, detectMult: 3 }, txIntervalMs: 120, detectionTimeMs: 360 });
    for (const s of [f!, f6!, fm!, b!, bm!]) expect(s.counters.discards.ttl, s.name).toBe(0);

    // FRR's view (bfdd shows its configured values and what herald advertises).
    const peers = await frr.bfdPeers();
    const byPeer = (addr: string): (typeof peers)[number] | undefined => peers.find((p) => p.peer === addr);
    expect(byPeer('192.0.2.1')).toMatchObject({
      status: 'up',
      multihop: false,
      'passive-mode': true,
      id: f!.remoteDiscriminator,
      'remote-id': f!.localDiscriminator,
      'transmit-interval': 100,
      'receive-interval': 100,
      'remote-transmit-interval': 100,
      'remote-receive-interval': 100,
      'remote-detect-multiplier': 3,
    });
    expect(byPeer('2001:db8:0:100::1')).toMatchObject({ status: 'up', 'remote-id': f6!.localDiscriminator });
    expect(byPeer('192.0.2.9')).toMatchObject({
      status: 'up',
      multihop: true,
      'remote-transmit-interval': 150,
      'remote-receive-interval': 150,
      'remote-id': fm!.localDiscriminator,
    });
    // BIRD's view: Interval is its negotiated tx (max(200, our 250)), Timeout its Detection Time (3 x max(200, our 50)).
    const bs = await bird.bfdSessions();
    expect(bs.find((s) => s.address === '192.0.2.5')).toMatchObject({ state: 'Up', intervalMs: 250, timeoutMs: 600 });
    expect(bs.find((s) => s.address === '192.0.2.9')).toMatchObject({ state: 'Up', intervalMs: 120, timeoutMs: 360 });
  });

  it("herald's timer change is a Poll Sequence FRR and BIRD adopt", async () => {
    const before = await herald.session('frr');
    await herald.updateSession('frr', { desiredMinTxMs: 300, requiredMinRxMs: 200 });
    await waitFor(
      async () => {
        const p = (await frr.bfdPeers()).find((x) => x.peer === '192.0.2.1');
        return p?.['remote-transmit-interval'] === 300 && p['remote-receive-interval'] === 200 ? true : undefined;
      },
      10_000,
      () => 'FRR did not see herald advertise 300 / 200',
    );
    const after = await herald.until('frr', (s) => s.counters.pollsCompleted > before.counters.pollsCompleted && !s.pollActive);
    // tx = max(300, FRR 100); FRR now sends every max(100, our 200) = 200: Detection Time 3 x 200.
    expect(after).toMatchObject({ state: 'Up', txIntervalMs: 300, rxIntervalMs: 200, detectionTimeMs: 600 });
    expect(after.counters.downTransitions).toBe(before.counters.downTransitions);

    await herald.updateSession('bird', { requiredMinRxMs: 400 });
    await waitFor(
      async () => ((await bird.bfdSessions()).find((s) => s.address === '192.0.2.5')?.intervalMs === 400 ? true : undefined),
      10_000,
      async () => `BIRD's interval did not become 400 ms: ${JSON.stringify(await bird.bfdSessions())}`,
    );
    expect(await herald.until('bird', (s) => !s.pollActive && s.detectionTimeMs === 4 * 400)).toMatchObject({ state: 'Up' });

    await herald.updateSession('frr', { desiredMinTxMs: 100, requiredMinRxMs: 100 });
    await herald.until('frr', (s) => !s.pollActive && s.txIntervalMs === 100 && s.detectionTimeMs === 300);
  });

  it("FRR's timer change (vtysh) is adopted by herald, and FRR then sends at its new rate", async () => {
    const rate = async (ms: number): Promise<number> => {
      const a = (await herald.session('frr')).counters.packetsIn;
      await sleep(ms);
      return ((await herald.session('frr')).counters.packetsIn - a) / (ms / 1000);
    };
    const fast = await rate(1500);
    await frr.vtysh(['configure terminal', 'bfd', frrBfdPeerLine(FRR_SINGLE), 'transmit-interval 250', 'receive-interval 200']);
    const s = await herald.until('frr', (x) => x.remote?.desiredMinTxMs === 250 && x.remote.requiredMinRxMs === 200);
    // tx = max(our 100, FRR's 200); Detection Time = 3 x max(our 100, FRR's 250).
    expect(s).toMatchObject({ state: 'Up', txIntervalMs: 200, rxIntervalMs: 250, detectionTimeMs: 750 });
    await sleep(300); // FRR uses a larger interval only once its Poll Sequence ends (herald's Final)
    const slow = await rate(1500);
    console.log(`bfd interop: packets from FRR per second, 100 ms interval ${fast.toFixed(1)}, 250 ms interval ${slow.toFixed(1)}`);
    // Jittered to 75-100 %: 10-13.3 / s at 100 ms, 4-5.3 / s at 250 ms.
    expect(fast).toBeGreaterThan(8);
    expect(slow).toBeLessThan(6.5);
    expect(slow).toBeGreaterThan(3);
    await frr.vtysh(['configure terminal', 'bfd', frrBfdPeerLine(FRR_SINGLE), 'transmit-interval 100', 'receive-interval 100']);
    await herald.until('frr', (x) => x.remote?.desiredMinTxMs === 100 && x.detectionTimeMs === 300);
  });

  it("BIRD's timer change (birdc configure) is adopted by herald", async () => {
    const before = await herald.session('bird');
    expect(before).toMatchObject({ txIntervalMs: 200, detectionTimeMs: 4 * 400 }); // herald asks 400 ms since the test above
    await bird.setBfd([{ ...BIRD_SINGLE, minTxMs: 300, minRxMs: 150 }, BIRD_MULTI]);
    const s = await herald.until('bird', (x) => x.remote?.desiredMinTxMs === 300 && x.remote.requiredMinRxMs === 150);
    // tx = max(our 50, BIRD's 150); Detection Time = 4 x max(our 400, BIRD's 300).
    expect(s).toMatchObject({ state: 'Up', txIntervalMs: 150, detectionTimeMs: 1600 });
    expect(s.counters.downTransitions).toBe(before.counters.downTransitions);
    await waitFor(
      async () => ((await bird.bfdSessions()).find((x) => x.address === '192.0.2.5')?.intervalMs === 400 ? true : undefined),
      5_000,
      () => 'BIRD interval',
    );
  });

  it("FRR's bfdd frozen with SIGSTOP: herald reports Down with diag 1 within the Detection Time plus a margin", async () => {
    await herald.until('frr', (s) => s.state === 'Up' && s.detectionTimeMs === 300);
    const pid = Number((await readFile(join(frr.dir, 'bfdd.pid'), 'utf8')).trim());
    expect((await readFile(`/proc/${pid}/comm`, 'utf8')).trim()).toBe('bfdd');
    const from = herald.events.length;
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    try {
      const down = await herald.until('frr', (s) => s.state === 'Down', 5_000);
      const ev = herald.events.slice(from).find((e) => e.event.type === 'state' && e.event.session === 'frr' && e.event.to === 'Down');
      expect(ev).toBeDefined();
      const ms = ev!.at - stoppedAt;
      console.log(`bfd interop: FRR bfdd SIGSTOP -> herald Down after ${ms.toFixed(0)} ms (Detection Time 300 ms)`);
      expect(ms).toBeLessThan(300 * 3);
      expect(down).toMatchObject({ localDiag: 1, localDiagName: 'ControlDetectionTimeExpired', lastDown: { diag: 1, pathDown: true } });
      expect(ev!.event).toMatchObject({ from: 'Up', to: 'Down', diag: 1, pathDown: true });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await herald.until('frr', (s) => s.state === 'Up');
    await herald.until('frr6', (s) => s.state === 'Up');
  });

  it('AdminDown from herald: FRR shows the session down with remote diagnostic "administratively down"', async () => {
    await herald.setAdminDown('frr', true);
    await waitFor(
      async () => {
        const p = (await frr.bfdPeers()).find((x) => x.peer === '192.0.2.1');
        return p?.status === 'down' ? p : undefined;
      },
      5_000,
      () => 'FRR did not take the session down',
    ).then((p) => expect(p).toMatchObject({ 'remote-diagnostic': 'administratively down', diagnostic: 'neighbor signaled session down' }));
    expect(await herald.session('frr')).toMatchObject({ state: 'AdminDown', localDiag: 7 });
    await herald.setAdminDown('frr', false);
    await herald.until('frr', (s) => s.state === 'Up');
    const p = (await frr.bfdPeers()).find((x) => x.peer === '192.0.2.1');
    expect(p?.status).toBe('up');
  });

  it('single hop across namespaces: a packet that crossed the router (TTL 254) is dropped and counted, one from the next hop (255) accepted', async () => {
    // Two passive probe sessions on herald: one towards FRR's far address (.14, behind the
    // router), one towards the router itself (.10, on herald's link).
    await herald.addSession({ name: 'probe-far', peer: '192.0.2.14', local: '192.0.2.9', passive: true });
    await herald.addSession({ name: 'probe-near', peer: '192.0.2.10', local: '192.0.2.9', passive: true });
    const send = (ns: string, src: string): Promise<unknown> =>
      nsRun(ns, process.execPath, [
        '-e',
        `const s=require('dgram').createSocket('udp4');s.bind(0,'${src}',()=>{s.setTTL(255);` +
          `s.send(Buffer.from('${DOWN_PROBE}','hex'),3784,'192.0.2.9',()=>s.close())})`,
      ]);
    await send(frr.ns, '192.0.2.14');
    await send(lab.namespaces.find((n) => n.role === 'router')!.name, '192.0.2.10');
    const far = await herald.until('probe-far', (s) => s.counters.discards.ttl === 1);
    const near = await herald.until('probe-near', (s) => s.state === 'Init');
    expect(far).toMatchObject({ state: 'Down', remoteDiscriminator: 0, counters: { packetsIn: 0 } });
    expect(near).toMatchObject({ remoteDiscriminator: 0x4242, counters: { packetsIn: 1, discards: { ttl: 0 } } });
  });
});
