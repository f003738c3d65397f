// Issue 8 must-shows for BFD with BGP (decision 0030), with `herald run`:
// FRR 8.4 (zebra, bgpd with `neighbor X bfd` and a 100 ms × 3 profile,
// bfdd, multipath) in a router namespace holding bridge br0; two herald
// hosts on the bridge announce 198.51.100.53/32 with
// `bfd: {min_tx: 100ms, min_rx: 100ms, multiplier: 3}`, so FRR's kernel
// table holds it with two next hops; BIRD 2 (`bfd on`) is a third spoke
// peering with host2. One lab for every case, in this order:
//   - sessions and BFD Up, intervals as configured in FRR's `show bfd peers
//     json` and in herald's `routes peers --json`;
//   - host1's herald frozen (SIGSTOP): its next hop leaves FRR's kernel
//     route within 1.0 s (target 0.35 s); SIGCONT: back in ECMP;
//   - host1's link cut (the bridge port down): the same bound; link up: back;
//   - FRR's bfdd frozen: both heralds take their BGP session down within
//     1.0 s with Cease/BFD Down, which FRR's bgpd (still running) logs as
//     received; bfdd thawed: sessions back;
//   - herald ↔ BIRD: BGP with BFD comes up; herald's BFD packets to BIRD
//     dropped: BIRD takes BGP down ("BFD session down") and so does herald;
//     packets flowing again: the session comes back.
// Every figure prints. Bounds are generous multiples of the targets.
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdRouter, FrrRouter, Lab, bridgeTopology, labReady, nsRun, sleep, waitFor, type BridgeTopology } from './lab/index.js';
import { DaemonProcess, type LogLine } from './support/daemon-process.js';
import { RouteMonitor } from './support/route-monitor.js';
import type { PeerState } from '../../src/state/index.js';

const WHAT = 'BFD with BGP (herald run, FRR bfdd, BIRD 2)';
const ready = labReady(['frr', 'bird'], WHAT);

const ROUTER_AS = 65000;
const HOST_AS = 65011;
const BIRD_AS = 65100;
const ANYCAST = '198.51.100.53';
const TIMERS = { minTxMs: 100, minRxMs: 100, multiplier: 3 };
/** Asserted bound for every detection (the target is 0.35 s). */
const DETECT_BOUND_MS = 1_000;
/** Sanity bound for coming back (printed, not a target). */
const BACK_BOUND_MS = 20_000;
const ROUTES_BIN = join(import.meta.dirname, '../../src/bin/routes.cjs');

interface Host {
  name: string;
  ns: string;
  v4: string;
  dir: string;
  herald: DaemonProcess;
}

function heraldConf(h: { v4: string; dir: string }, routerV4: string, bird: string | null): string {
  return `# BFD with BGP interop test host
router_id: ${h.v4}
asn: ${HOST_AS}
listen: { address: "::", port: 179 }
api: { socket: ${h.dir}/herald.sock }
bfd: { min_tx: 100ms, min_rx: 100ms, multiplier: 3 }
peers:
  - { name: r, address: ${routerV4}, asn: ${ROUTER_AS}, local_address: ${h.v4}, hold_time: 9, connect_retry: 1s }
${bird ? `  - { name: bird, address: ${bird}, asn: ${BIRD_AS}, local_address: ${h.v4}, hold_time: 9, connect_retry: 1s }\n` : ''}static:
  - { prefix: ${ANYCAST}/32 }
drain: { period: 0s, message: "bfd test done" }
`;
}

/** The next hops of FRR's kernel route for the anycast /32 ([] when none). */
async function vias(ns: string): Promise<string[]> {
  const res = await nsRun(ns, 'ip', ['-4', 'route', 'show', ANYCAST]);
  return [...res.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
}

/** FRR's kernel route for the anycast /32, followed through `ip monitor route`. */
let route: RouteMonitor;

/** Wait until pred holds for the kernel route's next hops: ms from t0 (Date.now()) to the kernel's report, or throw after bound + 5 s. */
async function hopsUntil(pred: (h: string[]) => boolean, t0: number, boundMs: number): Promise<number> {
  const ms = await route.until(pred, t0, boundMs + 5_000);
  if (ms === null) throw new Error(`kernel route for ${ANYCAST}: condition not met after ${Date.now() - t0} ms; next hops ${JSON.stringify(route.hops)}`);
  return ms;
}

/** `routes peers --json` from a host's control socket. */
async function peersJson(h: Host): Promise<PeerState[]> {
  const r = await promisify(execFile)(process.execPath, [ROUTES_BIN, '--socket', join(h.dir, 'herald.sock'), 'peers', '--json'], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as PeerState[];
}

const at = (l: LogLine): number => Date.parse(String(l.time));
const downOf = (peer: string) => (l: LogLine) => l.msg === 'session down' && l.peer === peer && l.wasEstablished === true;
const upOf = (peer: string) => (l: LogLine) => l.msg === 'session established' && l.peer === peer;

describe.skipIf(!ready)(WHAT, () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: FrrRouter;
  let bird: BirdRouter;
  let birdV4 = '';
  const hosts: Host[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    topo = await bridgeTopology(lab, 3, { roles: ['host1', 'host2', 'bird'] });
    const [s1, s2, sb] = topo.spokes as [BridgeTopology['spokes'][0], BridgeTopology['spokes'][0], BridgeTopology['spokes'][0]];
    birdV4 = sb.v4;
    frr = new FrrRouter(lab, {
      name: 'upstream',
      ns: topo.router,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      peers: [s1, s2].map((s) => ({ address: s.v4, asn: HOST_AS, passive: true, families: ['ipv4' as const], holdTime: 9, localAddress: topo.routerV4, bfd: TIMERS })),
    });
    bird = new BirdRouter(lab, {
      name: 'bird',
      ns: sb.ns,
      asn: BIRD_AS,
      routerId: sb.v4,
      peers: [{ address: s2.v4, asn: HOST_AS, passive: true, families: ['ipv4'], holdTime: 9, localAddress: sb.v4, bfd: TIMERS }],
    });
    for (const [i, s] of [s1, s2].entries()) {
      const name = `host${i + 1}`;
      const dir = await lab.tempDir(`bfd-bgp-${name}`);
      chmodSync(dir, 0o755);
      writeFileSync(join(dir, 'herald.yaml'), heraldConf({ v4: s.v4, dir }, topo.routerV4, i === 1 ? sb.v4 : null));
      hosts.push({ name, ns: s.ns, v4: s.v4, dir, herald: new DaemonProcess(s.ns, join(dir, 'herald.yaml'), { name: `herald-${name}` }) });
    }
    await Promise.all([frr.start(), bird.start()]);
    route = await RouteMonitor.start(topo.router, ANYCAST);
    await Promise.all(hosts.map((h) => h.herald.start()));
    await Promise.all([...hosts.map((h) => frr.waitEstablished(h.v4, 30_000)), bird.waitEstablished(s2.v4, 30_000)]);
    await hopsUntil((h) => h.length === 2, Date.now(), 20_000);
    console.log(`bfd-bgp: lab up, sessions Established and the route in ECMP after ${Date.now() - t0} ms`);
  });

  afterAll(async () => {
    route?.stop();
    for (const h of hosts) {
      try {
        h.herald.signal('SIGCONT');
      } catch {
        /* not running */
      }
      h.herald.kill();
    }
    await lab.close();
  });

  it('sessions and BFD Up; intervals as configured in FRR (show bfd peers json) and in herald (routes peers --json)', async () => {
    let fp: Awaited<ReturnType<FrrRouter['bfdPeers']>> = [];
    await waitFor(
      async () => {
        fp = await frr.bfdPeers();
        return hosts.every((h) => fp.some((p) => p.peer === h.v4 && p.status === 'up' && p['remote-transmit-interval'] === 100)) ? true : undefined;
      },
      10_000,
      () => `FRR BFD peers: ${JSON.stringify(fp)}`,
    );
    const ours: Record<string, unknown>[] = [];
    for (const h of hosts) {
      const f = fp.find((p) => p.peer === h.v4)!;
      expect(f).toMatchObject({ status: 'up', 'transmit-interval': 100, 'receive-interval': 100, 'detect-multiplier': 3 });
      expect(f).toMatchObject({ 'remote-transmit-interval': 100, 'remote-receive-interval': 100, 'remote-detect-multiplier': 3 });
      // herald's views follow the BFD thread within a second (decision 0040): wait for the negotiated values.
      const r = await waitFor(
        async () => {
          const x = (await peersJson(h)).find((p) => p.name === 'r')!;
          return x.bfd?.session?.remoteState === 'Up' && x.bfd.session.txIntervalMs === 100 && x.bfd.session.remote?.desiredMinTxMs === 100 ? x : undefined;
        },
        3_000,
        async () => `herald's view of BFD on ${h.name}: ${JSON.stringify((await peersJson(h)).find((p) => p.name === 'r')?.bfd)}`,
      );
      expect(r.state).toBe('Established');
      expect(r.bfd).toMatchObject({ error: null, routesHeld: false, unprotected: false });
      expect(r.bfd!.session).toMatchObject({
        state: 'Up',
        remoteState: 'Up',
        multihop: false,
        desiredMinTxMs: 100,
        requiredMinRxMs: 100,
        detectMult: 3,
        remote: { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3 },
        txIntervalMs: 100,
        detectionTimeMs: 300,
      });
      expect(r.prefixesAnnounced).toBe(1);
      ours.push({ host: h.name, frr: `${f['transmit-interval']}/${f['receive-interval']}×${f['detect-multiplier']}`, herald: `${r.bfd!.session!.txIntervalMs}ms tx, detect ${r.bfd!.session!.detectionTimeMs}ms` });
    }
    expect(await vias(topo.router)).toEqual(hosts.map((h) => h.v4).sort());
    console.log(`bfd-bgp: BFD Up with FRR, intervals ${JSON.stringify(ours)}; kernel route via ${(await vias(topo.router)).join(', ')}`);
  });

  it("host1's herald frozen (SIGSTOP): its next hop leaves FRR's kernel route within 1.0 s; SIGCONT: back in ECMP", async () => {
    const [h1, h2] = hosts as [Host, Host];
    const mark = h1.herald.mark();
    const t0 = Date.now();
    h1.herald.signal('SIGSTOP');
    let gone: number;
    try {
      gone = await hopsUntil((h) => !h.includes(h1.v4), t0, DETECT_BOUND_MS);
    } finally {
      await sleep(300);
      h1.herald.signal('SIGCONT');
    }
    const tCont = Date.now();
    const back = await hopsUntil((h) => h.length === 2, tCont, BACK_BOUND_MS);
    const est = await h1.herald.waitLog(upOf('r'), 5_000, mark);
    console.log(`bfd-bgp: herald frozen → next hop gone from FRR's kernel route after ${gone} ms (bound ${DETECT_BOUND_MS}, target 350); thawed → back in ECMP after ${back} ms (session Established ${at(est) - tCont} ms after SIGCONT)`);
    expect(gone).toBeLessThanOrEqual(DETECT_BOUND_MS);
    expect(await vias(topo.router)).toEqual([h1.v4, h2.v4].sort());
  });

  it("host1's link cut (bridge port down): its next hop leaves FRR's kernel route within 1.0 s; link up: back in ECMP", async () => {
    const [h1] = hosts as [Host];
    const mark = h1.herald.mark();
    const t0 = Date.now();
    await lab.ip(topo.router, ['link', 'set', 'dev', 'sp1', 'down']);
    let gone: number;
    try {
      gone = await hopsUntil((h) => !h.includes(h1.v4), t0, DETECT_BOUND_MS);
      // herald sees the same failure through its own BFD.
      await h1.herald.waitLog(downOf('r'), 3_000, mark);
    } finally {
      await lab.ip(topo.router, ['link', 'set', 'dev', 'sp1', 'up']);
    }
    const tUp = Date.now();
    const back = await hopsUntil((h) => h.length === 2, tUp, BACK_BOUND_MS);
    const down = h1.herald.find(downOf('r'), mark)[0]!;
    console.log(
      `bfd-bgp: link cut → next hop gone from FRR's kernel route after ${gone} ms (bound ${DETECT_BOUND_MS}); herald's session down after ${at(down) - t0} ms (${String(down.reason)}); link up → back in ECMP after ${back} ms`,
    );
    expect(gone).toBeLessThanOrEqual(DETECT_BOUND_MS);
    expect(at(down) - t0).toBeLessThanOrEqual(DETECT_BOUND_MS);
    expect(String(down.reason)).toMatch(/BfdDown/);
  });

  it("FRR's bfdd frozen: herald takes its BGP sessions down within 1.0 s with Cease/BFD Down, which FRR's bgpd receives; bfdd thawed: sessions back", async () => {
    const marks = hosts.map((h) => h.herald.mark());
    const pid = frr.pidOf('bfdd');
    const t0 = Date.now();
    process.kill(pid, 'SIGSTOP');
    let downs: LogLine[];
    try {
      downs = await Promise.all(hosts.map((h, i) => h.herald.waitLog(downOf('r'), 5_000, marks[i])));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const tCont = Date.now();
    const ups = await Promise.all(hosts.map((h, i) => h.herald.waitLog(upOf('r'), BACK_BOUND_MS, marks[i])));
    await hopsUntil((h) => h.length === 2, tCont, BACK_BOUND_MS);
    const log = await frr.logText();
    const figures = hosts.map((h, i) => `${h.name} down after ${at(downs[i]!) - t0} ms (${String(downs[i]!.reason)}), Established again ${at(ups[i]!) - tCont} ms after SIGCONT`);
    console.log(`bfd-bgp: FRR's bfdd frozen → ${figures.join('; ')}`);
    for (const [i, h] of hosts.entries()) {
      expect(at(downs[i]!) - t0, h.name).toBeLessThanOrEqual(DETECT_BOUND_MS);
      expect(String(downs[i]!.reason)).toMatch(/^sent Cease\/BfdDown: BFD down \(ControlDetectionTimeExpired/);
      // RFC 9384: FRR's bgpd (not frozen) got the NOTIFICATION over the working transport.
      expect(log).toMatch(new RegExp(`NOTIFICATION: received from neighbor ${h.v4.replace(/\./g, '\\.')} 6/10`));
    }
  });

  it('herald ↔ BIRD 2 with bfd on: BGP and BFD come up; BFD packets to BIRD dropped: BIRD and herald take BGP down; flowing again: back', async () => {
    const h2 = hosts[1]!;
    let sess: Awaited<ReturnType<BirdRouter['bfdSessions']>> = [];
    await waitFor(
      async () => {
        sess = await bird.bfdSessions();
        return sess.some((s) => s.address === h2.v4 && s.state === 'Up') ? true : undefined;
      },
      10_000,
      () => `BIRD BFD sessions: ${JSON.stringify(sess)}`,
    );
    expect(await bird.sessionState(h2.v4)).toBe('Established');
    const b = (await peersJson(h2)).find((p) => p.name === 'bird')!;
    expect(b.state).toBe('Established');
    expect(b.bfd!.session).toMatchObject({ state: 'Up', txIntervalMs: 100, detectionTimeMs: 300 });
    expect(b.prefixesAnnounced).toBe(1);

    const mark = h2.herald.mark();
    const rule = ['rule', 'add', 'pref', '10', 'to', `${birdV4}/32`, 'ipproto', 'udp', 'dport', '3784', 'blackhole'];
    const t0 = Date.now();
    await lab.ip(h2.ns, rule);
    let down: LogLine;
    let proto = '';
    try {
      down = await h2.herald.waitLog(downOf('bird'), 5_000, mark);
      await waitFor(
        async () => {
          proto = (await bird.birdc(['show', 'protocols', 'all', 'hrp0'])).stdout;
          return /BFD session down/.test(proto) ? true : undefined;
        },
        5_000,
        () => `BIRD did not report a BFD down:\n${proto}`,
      );
    } finally {
      await lab.ip(h2.ns, ['rule', 'del', ...rule.slice(2)]);
    }
    const tBack = Date.now();
    const up = await h2.herald.waitLog(upOf('bird'), BACK_BOUND_MS, mark);
    console.log(
      `bfd-bgp: BIRD: BFD to BIRD dropped → herald's session down after ${at(down) - t0} ms (${String(down.reason)}); BIRD: "${/Last error:\s+(.*)/.exec(proto)?.[1] ?? '?'}"; ` +
        `packets flowing again → Established ${at(up) - tBack} ms later; BIRD BFD ${JSON.stringify(sess.find((s) => s.address === h2.v4))}`,
    );
    expect(at(down) - t0).toBeLessThanOrEqual(DETECT_BOUND_MS);
    expect(String(down.reason)).toMatch(/BfdDown|Cease/);
    expect(proto).toMatch(/BFD session down/);
  });
});
