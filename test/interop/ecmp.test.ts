// ECMP through a real upstream: FRR with zebra in a router namespace holding
// bridge br0, two herald speakers (AS 65011 and 65012, one per spoke
// namespace) announcing the same 198.51.100.53/32 and 2001:db8:53::53/128
// with equal attributes (origin igp, MED 10). FRR 8.4 is multipath by
// default; different neighbour ASNs also need `bgp bestpath as-path
// multipath-relax`, which the lab's FRR config sets. Checked in the router
// namespace's kernel table, where forwarding happens:
//   - one multipath route per prefix with both herald next hops;
//   - after one speaker withdraws (setRoutes []), only the other next hop;
//   - after the other stops with Cease, no route at all.
// The time from each herald call to the kernel change is printed (polling
// `ip route` every 5 ms); only a bound of a few seconds is asserted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, bridgeTopology, labReady, nsRun, sleep, startRouter, type BridgeTopology, type Router } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { RouteSpec } from '../../bgp/index.js';

const ready = labReady(['frr'], 'ECMP interop');

const ROUTER_AS = 65000;
const SPEAKER_AS = [65011, 65012];
const V4 = '198.51.100.53';
const V6 = '2001:db8:53::53';
const ROUTES_V4: RouteSpec[] = [{ prefix: `${V4}/32`, origin: 'igp', med: 10 }];
const ROUTES_V6: RouteSpec[] = [{ prefix: `${V6}/128`, origin: 'igp', med: 10 }];
/** Failover must show in the kernel within this (LAB.md measured ~0.1 s). */
const BOUND_MS = 5_000;

interface KernelRoute {
  text: string;
  /** Every next-hop address, in printed order. */
  vias: string[];
  /** Printed as one route with `nexthop via …` lines. */
  multipath: boolean;
}

/** Read the router namespace's kernel route for one destination. */
async function kernelRoute(ns: string, family: 'ipv4' | 'ipv6', dest: string): Promise<KernelRoute> {
  const res = await nsRun(ns, 'ip', [family === 'ipv6' ? '-6' : '-4', 'route', 'show', dest]);
  const text = res.stdout.trim();
  return { text, vias: [...text.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!), multipath: /^\s*nexthop via /m.test(text) };
}

/** Poll both families every 5 ms until each satisfies `done` (or boundMs passes); return the ms each took from t0 (performance.now()). */
async function timeUntil(
  ns: string,
  t0: number,
  done: (r: KernelRoute) => boolean,
  boundMs = BOUND_MS,
): Promise<{ v4: number; v6: number; last: Record<string, KernelRoute> }> {
  const at: Record<string, number> = {};
  const last: Record<string, KernelRoute> = {};
  while (performance.now() - t0 < boundMs && (at.v4 === undefined || at.v6 === undefined)) {
    const [r4, r6] = await Promise.all([kernelRoute(ns, 'ipv4', V4), kernelRoute(ns, 'ipv6', V6)]);
    const now = performance.now();
    last.v4 = r4;
    last.v6 = r6;
    if (at.v4 === undefined && done(r4)) at.v4 = now - t0;
    if (at.v6 === undefined && done(r6)) at.v6 = now - t0;
    await sleep(5);
  }
  return { v4: at.v4 ?? Infinity, v6: at.v6 ?? Infinity, last };
}

describe.skipIf(!ready)('ECMP: two herald speakers behind FRR with zebra', () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: Router;
  const speakers: HeraldProcess[] = [];

  beforeAll(async () => {
    topo = await bridgeTopology(lab, 2, { roles: ['heraldA', 'heraldB'] });
    await lab.enableForwarding(topo.router);
    frr = await startRouter(lab, 'frr', {
      name: 'upstream',
      ns: topo.router,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      peers: topo.spokes.flatMap((s, i) => [
        { address: s.v4, asn: SPEAKER_AS[i]!, passive: true, families: ['ipv4' as const], holdTime: 9 },
        { address: s.v6, asn: SPEAKER_AS[i]!, passive: true, families: ['ipv6' as const], holdTime: 9 },
      ]),
    });
    for (const [i, s] of topo.spokes.entries()) {
      const h = new HeraldProcess(s.ns, { asn: SPEAKER_AS[i]!, routerId: s.v4, listen: false }, [
        { name: 'r4', address: topo.routerV4, asn: ROUTER_AS, families: ['ipv4'], connectRetryMs: 1000 },
        { name: 'r6', address: topo.routerV6, asn: ROUTER_AS, families: ['ipv6'], connectRetryMs: 1000 },
      ]);
      speakers.push(h);
      await h.start();
    }
    await Promise.all(speakers.flatMap((h) => [h.waitEstablished('r4', 60_000), h.waitEstablished('r6', 60_000)]));
  });

  afterAll(async () => {
    for (const h of speakers) h.kill();
    await lab.close();
  });

  it('installs one multipath route per prefix with both herald next hops', async () => {
    for (const h of speakers) {
      await h.setRoutes('r4', ROUTES_V4);
      await h.setRoutes('r6', ROUTES_V6);
    }
    const [a, b] = topo.spokes;
    const t = await timeUntil(topo.router, performance.now(), (r) => r.multipath && r.vias.length === 2, 20_000);
    console.log(`ECMP: multipath installed after v4 ${t.v4.toFixed(1)} ms, v6 ${t.v6.toFixed(1)} ms\n${t.last.v4!.text}\n${t.last.v6!.text}`);
    expect(t.last.v4!.multipath, t.last.v4!.text).toBe(true);
    expect([...t.last.v4!.vias].sort()).toEqual([a!.v4, b!.v4].sort());
    expect(t.last.v6!.multipath, t.last.v6!.text).toBe(true);
    expect([...t.last.v6!.vias].sort()).toEqual([a!.v6, b!.v6].sort());
    // zebra put them there, and each appears exactly once (one route, two next hops).
    expect(t.last.v4!.text).toMatch(/proto bgp/);
    expect(t.last.v4!.text.match(new RegExp(`^${V4.replace(/\./g, '\\.')}`, 'gm'))).toHaveLength(1);
    expect(t.last.v6!.text.match(/^2001:db8:53::53/gm)).toHaveLength(1);
  });

  it('keeps only the other next hop after one speaker withdraws', async () => {
    const [, b] = topo.spokes;
    const t0 = performance.now();
    await Promise.all([speakers[0]!.setRoutes('r4', []), speakers[0]!.setRoutes('r6', [])]);
    const t = await timeUntil(topo.router, t0, (r) => !r.multipath && r.vias.length === 1);
    console.log(`ECMP: withdraw from one speaker → single next hop in the kernel after v4 ${t.v4.toFixed(1)} ms, v6 ${t.v6.toFixed(1)} ms`);
    expect(t.v4).toBeLessThan(BOUND_MS);
    expect(t.v6).toBeLessThan(BOUND_MS);
    expect(t.last.v4!.vias).toEqual([b!.v4]);
    expect(t.last.v6!.vias).toEqual([b!.v6]);
  });

  it('removes the route once the other speaker stops with Cease', async () => {
    const t0 = performance.now();
    await speakers[1]!.stop('herald ECMP test: maintenance');
    const t = await timeUntil(topo.router, t0, (r) => r.text === '');
    console.log(`ECMP: Cease from the last speaker → route gone from the kernel after v4 ${t.v4.toFixed(1)} ms, v6 ${t.v6.toFixed(1)} ms`);
    expect(t.v4).toBeLessThan(BOUND_MS);
    expect(t.v6).toBeLessThan(BOUND_MS);
    expect(await frr.kernelRoutes!('ipv4')).not.toContain(V4);
    expect(await frr.kernelRoutes!('ipv6')).not.toContain(V6);
    expect(await frr.logText()).toContain('herald ECMP test: maintenance');
  });
});
