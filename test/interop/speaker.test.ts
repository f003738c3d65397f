// herald's BGP speaker against five real routers (FRR with zebra, BIRD 2,
// GoBGP, OpenBGPD, ExaBGP), each in its own network namespace joined to
// herald's namespace by a veth pair. For each router:
//   - sessions come up with herald dialing (router passive) over IPv4 and
//     IPv6 transport, and with herald listening (router active);
//   - IPv4 /32 and /24, IPv6 /128 and /64 arrive with exactly the next hop,
//     MED, communities and large communities herald set; a withdraw removes;
//   - herald's Adj-RIB-In holds what the router sent;
//   - stopping herald delivers Cease with the shutdown text, which the router logs.
// ExaBGP only connects out, so with it herald always listens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  labReady,
  pointToPoint,
  startRouter,
  waitFor,
  type PointToPoint,
  type ReceivedRoute,
  type Router,
  type RouterKind,
} from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { PeerConfig, RouteSpec } from '../../bgp/index.js';

const KINDS: RouterKind[] = ['frr', 'bird', 'gobgp', 'openbgpd', 'exabgp'];
const ready = labReady(KINDS, 'speaker interop');

const HERALD_AS = 65011;
const ROUTER_AS = 65000;
const SHUTDOWN_TEXT = 'herald interop: planned maintenance';

function routesFor(p: PointToPoint): { v4: RouteSpec[]; v6: RouteSpec[] } {
  return {
    v4: [
      { prefix: '198.51.100.53/32', med: 10, communities: ['65011:53'], largeCommunities: ['65011:1:53'] },
      { prefix: '203.0.113.0/24', med: 20, communities: ['65011:24', '65011:100'], largeCommunities: ['65011:2:24'] },
    ],
    v6: [
      { prefix: '2001:db8:53::53/128', med: 30, communities: ['65011:128'], largeCommunities: ['65011:6:128'] },
      { prefix: '2001:db8:64::/64', med: 40, communities: ['65011:64'], largeCommunities: ['65011:6:64'], nextHop: p.aV6 },
    ],
  };
}

function byPrefix(rs: ReceivedRoute[], prefix: string): ReceivedRoute | undefined {
  return rs.find((r) => r.prefix === prefix);
}

describe.skipIf(!ready).each(KINDS)('herald speaker ↔ %s', (kind) => {
  const lab = new Lab();
  let p: PointToPoint;
  let router: Router;
  let herald: HeraldProcess;
  // ExaBGP cannot listen: herald must. Every other router waits for herald to dial.
  const heraldDials = kind !== 'exabgp';

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const rns = await lab.addNamespace(kind);
    p = await pointToPoint(lab, hns, rns, { v4Net: '192.0.2' });
    router = await startRouter(lab, kind, {
      name: kind,
      ns: rns,
      asn: ROUTER_AS,
      routerId: p.bV4,
      peers: [
        { address: p.aV4, asn: HERALD_AS, passive: heraldDials, families: ['ipv4'], holdTime: 9 },
        { address: p.aV6, asn: HERALD_AS, passive: heraldDials, families: ['ipv6'], holdTime: 9 },
      ],
      announce: [
        { prefix: '198.51.100.128/25', med: 77, communities: ['65000:7'], largeCommunities: ['65000:7:7'] },
        { prefix: '2001:db8:77::/48', communities: ['65000:77'] },
      ],
    });
    const peers: PeerConfig[] = [
      { name: 'r4', address: p.bV4, asn: ROUTER_AS, passive: !heraldDials, families: ['ipv4'], connectRetryMs: 1000 },
      { name: 'r6', address: p.bV6, asn: ROUTER_AS, passive: !heraldDials, families: ['ipv6'], connectRetryMs: 1000 },
    ];
    herald = new HeraldProcess(hns, { asn: HERALD_AS, routerId: p.aV4, listen: { address: '::', port: 179 } }, peers);
    await herald.start();
    await Promise.all([herald.waitEstablished('r4', 60_000), herald.waitEstablished('r6', 60_000)]);
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it(`reaches Established with herald ${heraldDials ? 'dialing' : 'listening'}`, async () => {
    await router.waitEstablished(p.aV4, 30_000);
    await router.waitEstablished(p.aV6, 30_000);
    const snap = await herald.snapshot();
    expect(snap.map((s) => s.state)).toEqual(['Established', 'Established']);
    expect(snap.find((s) => s.name === 'r4')!.families).toEqual(['1/1']);
    expect(snap.find((s) => s.name === 'r6')!.families).toEqual(['2/1']);
  });

  it('delivers /32, /24, /128 and /64 with exactly the attributes herald set', async () => {
    const want = routesFor(p);
    await herald.setRoutes('r4', want.v4);
    await herald.setRoutes('r6', want.v6);
    const got = await waitFor(
      async () => {
        const rs = await router.routes();
        return want.v4.concat(want.v6).every((w) => byPrefix(rs, w.prefix)) ? rs : undefined;
      },
      20_000,
      async () => `routes at ${kind}: ${JSON.stringify(await router.routes())}`,
    );
    const expectRoute = (prefix: string, nextHop: string, med: number, communities: string[], large: string[]): void => {
      const r = byPrefix(got, prefix)!;
      expect(r, prefix).toBeDefined();
      expect(r.nextHop, `${prefix} next hop`).toBe(nextHop);
      expect(r.med, `${prefix} MED`).toBe(med);
      expect([...r.communities].sort(), `${prefix} communities`).toEqual([...communities].sort());
      expect([...r.largeCommunities].sort(), `${prefix} large communities`).toEqual([...large].sort());
      expect(r.asPath, `${prefix} AS path`).toEqual([HERALD_AS]);
      expect(r.origin).toBe('igp');
    };
    expectRoute('198.51.100.53/32', p.aV4, 10, ['65011:53'], ['65011:1:53']);
    expectRoute('203.0.113.0/24', p.aV4, 20, ['65011:24', '65011:100'], ['65011:2:24']);
    expectRoute('2001:db8:53::53/128', p.aV6, 30, ['65011:128'], ['65011:6:128']);
    expectRoute('2001:db8:64::/64', p.aV6, 40, ['65011:64'], ['65011:6:64']);
  });

  it('withdraws what is no longer desired', async () => {
    const want = routesFor(p);
    await herald.setRoutes('r4', want.v4.slice(1));
    await herald.setRoutes('r6', want.v6.slice(1));
    await waitFor(
      async () => {
        const rs = await router.routes();
        return !byPrefix(rs, '198.51.100.53/32') && !byPrefix(rs, '2001:db8:53::53/128') && byPrefix(rs, '203.0.113.0/24') ? true : undefined;
      },
      20_000,
      async () => `routes at ${kind}: ${JSON.stringify(await router.routes())}`,
    );
  });

  it("holds the router's routes in herald's Adj-RIB-In", async () => {
    const r4 = await waitFor(
      async () => {
        const rs = (await herald.call('received', { peer: 'r4' })) as { prefix: string; med?: number; communities?: number[] }[];
        return rs.some((r) => r.prefix === '198.51.100.128/25') ? rs : undefined;
      },
      20_000,
      async () => `herald r4 received: ${JSON.stringify(await herald.call('received', { peer: 'r4' }))}`,
    );
    const r = r4.find((x) => x.prefix === '198.51.100.128/25')!;
    expect(r.med).toBe(77);
    // 65000:7 as a 32-bit community value.
    expect(r.communities).toContain(65000 * 65536 + 7);
    const r6 = await waitFor(
      async () => {
        const rs = (await herald.call('received', { peer: 'r6' })) as { prefix: string }[];
        return rs.some((x) => x.prefix === '2001:db8:77::/48') ? rs : undefined;
      },
      20_000,
      async () => `herald r6 received: ${JSON.stringify(await herald.call('received', { peer: 'r6' }))}`,
    );
    expect(r6.map((x) => x.prefix)).toContain('2001:db8:77::/48');
  });

  it('stops with Cease/Administrative Shutdown carrying the shutdown text, which the router logs', async () => {
    await herald.stop(SHUTDOWN_TEXT);
    // ExaBGP 4.2.21 cannot decode a received NOTIFICATION with its parser on
    // (see test/interop/lab/README.md), so it never logs the text; for it the
    // withdrawal of every herald route below is the evidence of the Cease.
    if (kind !== 'exabgp') {
    const log = await waitFor(
      async () => {
        const t = await router.logText();
        return t.includes(SHUTDOWN_TEXT) ? t : undefined;
      },
      15_000,
      async () => `${kind} log did not show the shutdown text; tail:\n${(await router.logText()).slice(-2000)}`,
    );
    expect(log).toContain(SHUTDOWN_TEXT);
    }
    const rs = await waitFor(
      async () => {
        const x = await router.routes();
        return x.every((r) => r.peer !== p.aV4 && r.peer !== p.aV6) ? x : undefined;
      },
      15_000,
      async () => `routes still at ${kind}: ${JSON.stringify(await router.routes())}`,
    );
    expect(rs.filter((r) => r.asPath[0] === HERALD_AS)).toEqual([]);
  });
});
