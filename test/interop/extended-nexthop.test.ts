// RFC 8950 (IPv4 NLRI with an IPv6 next hop) between herald and FRR / BIRD,
// each router in its own namespace joined to herald's by two veth pairs.
// Three sessions per router, each with IPv4 and IPv6 unicast:
//   enh    IPv6 transport, extended next hop on both sides: an IPv4 /32 with
//          next hop "self" arrives with herald's IPv6 address as next hop;
//   noenh  IPv6 transport, herald offers extended next hop, the router does
//          not: the IPv4 /32 is NOT sent (no IPv4 address to use, and never an
//          IPv4-mapped IPv6 one); herald reports it unsendable with the reason;
//   v4     IPv4 transport, herald listening on `::` (its local address is
//          IPv4-mapped): IPv6 routes are never sent with an IPv4-mapped next
//          hop, neither "self" nor an explicit ::ffff:a.b.c.d; both unsendable.
// Each negative case has a positive route on the same session, so the session
// demonstrably carries routes and the missing one was refused, not delayed.
// RFC 8950 §4: a speaker "MUST NOT" send IPv4 NLRI with an IPv6 next hop to a
// peer that did not advertise the Extended Next Hop capability for them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labReady, pointToPoint, sleep, startRouter, waitFor, type PointToPoint, type ReceivedRoute, type Router } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { PeerConfig } from '../../bgp/index.js';

const KINDS = ['frr', 'bird'] as const;
const ready = labReady([...KINDS], 'extended next hop interop');

const HERALD_AS = 65011;
const ROUTER_AS = 65000;

interface Site {
  kind: (typeof KINDS)[number];
  /** Link 1: the enh session over IPv6, the v4 session over IPv4. */
  p1: PointToPoint;
  /** Link 2: the noenh session over IPv6. */
  p2: PointToPoint;
  router: Router;
}

const peerName = (kind: string, s: 'enh' | 'noenh' | 'v4'): string => `${kind}-${s}`;

function find(rs: ReceivedRoute[], prefix: string, peer: string): ReceivedRoute | undefined {
  return rs.find((r) => r.prefix === prefix && r.peer === peer);
}

describe.skipIf(!ready)('RFC 8950 extended next hop with FRR and BIRD', () => {
  const lab = new Lab();
  let herald: HeraldProcess;
  const sites: Site[] = [];

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const links = await Promise.all(
      KINDS.map(async (kind, i) => {
        const rns = await lab.addNamespace(kind);
        const p1 = await pointToPoint(lab, hns, rns, { index: 2 * i, ifA: `eth${2 * i}`, ifB: 'eth0' });
        const p2 = await pointToPoint(lab, hns, rns, { index: 2 * i + 1, ifA: `eth${2 * i + 1}`, ifB: 'eth1' });
        return { kind, rns, p1, p2 };
      }),
    );
    const both: ('ipv4' | 'ipv6')[] = ['ipv4', 'ipv6'];
    const peers: PeerConfig[] = links.flatMap((l) => [
      { name: peerName(l.kind, 'enh'), address: l.p1.bV6, asn: ROUTER_AS, families: both, extendedNextHop: true, connectRetryMs: 500 },
      { name: peerName(l.kind, 'noenh'), address: l.p2.bV6, asn: ROUTER_AS, families: both, extendedNextHop: true, connectRetryMs: 500 },
      { name: peerName(l.kind, 'v4'), address: l.p1.bV4, asn: ROUTER_AS, families: both, passive: true },
    ]);
    herald = new HeraldProcess(hns, { asn: HERALD_AS, routerId: links[0]!.p1.aV4, listen: { address: '::', port: 179 } }, peers);
    await herald.start();
    await Promise.all(
      links.map(async (l) => {
        const router = await startRouter(lab, l.kind, {
          name: l.kind,
          ns: l.rns,
          asn: ROUTER_AS,
          routerId: l.p1.bV4,
          peers: [
            { address: l.p1.aV6, asn: HERALD_AS, families: both, extendedNextHop: true, passive: true },
            { address: l.p2.aV6, asn: HERALD_AS, families: both, passive: true },
            { address: l.p1.aV4, asn: HERALD_AS, families: both, passive: false },
          ],
        });
        sites.push({ kind: l.kind, p1: l.p1, p2: l.p2, router });
      }),
    );
    try {
      await Promise.all(peers.map((p) => herald.waitEstablished(p.name, 30_000)));
    } catch (e) {
      const snap = await herald.snapshot();
      throw new Error(
        `${(e as Error).message}\nherald peers: ${JSON.stringify(snap.map((x) => [x.name, x.state, x.lastDown, x.lastConnectError]))}` +
          `\nherald log tail:\n${herald.stderr.slice(-20).join('\n')}`,
      );
    }
    for (const s of sites) {
      const { kind, p1 } = s;
      await herald.setRoutes(peerName(kind, 'enh'), [{ prefix: '198.51.100.53/32', med: 53 }, { prefix: '2001:db8:53::53/128' }]);
      await herald.setRoutes(peerName(kind, 'noenh'), [{ prefix: '198.51.100.54/32' }, { prefix: '2001:db8:54::54/128' }]);
      await herald.setRoutes(peerName(kind, 'v4'), [
        { prefix: '198.51.100.55/32' },
        { prefix: '2001:db8:55::55/128' },
        { prefix: '2001:db8:56::56/128', nextHop: `::ffff:${p1.aV4}` },
      ]);
    }
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it.each(KINDS)('%s: all three sessions negotiate IPv4 and IPv6 unicast', async (kind) => {
    const s = sites.find((x) => x.kind === kind)!;
    for (const a of [s.p1.aV6, s.p2.aV6, s.p1.aV4]) await s.router.waitEstablished(a, 20_000);
    const snap = await herald.snapshot();
    for (const n of ['enh', 'noenh', 'v4'] as const) {
      const ps = snap.find((x) => x.name === peerName(kind, n))!;
      expect(ps.state, n).toBe('Established');
      expect([...ps.families].sort(), n).toEqual(['1/1', '2/1']);
    }
  });

  it.each(KINDS)("%s: an IPv4 /32 arrives over the IPv6 session with herald's IPv6 address as next hop", async (kind) => {
    const s = sites.find((x) => x.kind === kind)!;
    const rs = await waitFor(
      async () => {
        const x = await s.router.routes();
        return find(x, '198.51.100.53/32', s.p1.aV6) && find(x, '2001:db8:53::53/128', s.p1.aV6) ? x : undefined;
      },
      20_000,
      async () => `routes at ${kind}: ${JSON.stringify(await s.router.routes())}`,
    );
    const r = find(rs, '198.51.100.53/32', s.p1.aV6)!;
    expect(r.nextHop).toBe(s.p1.aV6);
    expect(r.med).toBe(53);
    expect(r.asPath).toEqual([HERALD_AS]);
    expect(find(rs, '2001:db8:53::53/128', s.p1.aV6)!.nextHop).toBe(s.p1.aV6);
    expect(await herald.unsendable(peerName(kind, 'enh'))).toEqual([]);
  });

  it.each(KINDS)('%s: without extended next hop negotiated the IPv4 /32 is not sent, and is reported unsendable', async (kind) => {
    const s = sites.find((x) => x.kind === kind)!;
    // The IPv6 route on the same session arrives: the session carries routes.
    await waitFor(
      async () => (find(await s.router.routes(), '2001:db8:54::54/128', s.p2.aV6) ? true : undefined),
      20_000,
      async () => `routes at ${kind}: ${JSON.stringify(await s.router.routes())}`,
    );
    const un = await herald.unsendable(peerName(kind, 'noenh'));
    expect(un.map((u) => u.prefix)).toEqual(['198.51.100.54/32']);
    expect(un[0]!.reason).toMatch(/extended next hop was not negotiated/);
    // herald's own count: only the IPv6 route went out on this session.
    expect((await herald.snapshot()).find((x) => x.name === peerName(kind, 'noenh'))!.prefixesAnnounced).toBe(1);
    // herald hands every route of a snapshot to one pump; give a stray one time to land anyway.
    await sleep(1000);
    const rs = await s.router.routes();
    expect(rs.filter((r) => r.prefix === '198.51.100.54/32'), 'IPv4 route on the non-RFC 8950 session').toEqual([]);
    // Nothing this session delivered carries an IPv4-mapped next hop.
    expect(rs.filter((r) => /^::ffff:/i.test(r.nextHop))).toEqual([]);
  });

  it.each(KINDS)('%s: IPv6 routes are never sent with an IPv4-mapped next hop (IPv4 session, herald listening on ::)', async (kind) => {
    const s = sites.find((x) => x.kind === kind)!;
    await waitFor(
      async () => (find(await s.router.routes(), '198.51.100.55/32', s.p1.aV4) ? true : undefined),
      20_000,
      async () => `routes at ${kind}: ${JSON.stringify(await s.router.routes())}`,
    );
    const snap = await herald.snapshot();
    // The dual-stack listener reports its local address IPv4-mapped: the trap this guards against.
    expect(snap.find((x) => x.name === peerName(kind, 'v4'))!.localAddress).toBe(`::ffff:${s.p1.aV4}`);
    const un = (await herald.unsendable(peerName(kind, 'v4'))).sort((a, b) => a.prefix.localeCompare(b.prefix));
    expect(un.map((u) => u.prefix)).toEqual(['2001:db8:55::55/128', '2001:db8:56::56/128']);
    expect(un[0]!.reason).toMatch(/never sent with an IPv4-mapped/);
    expect(un[1]!.reason).toMatch(/IPv4-mapped/);
    expect(snap.find((x) => x.name === peerName(kind, 'v4'))!.prefixesAnnounced).toBe(1);
    await sleep(1000);
    const rs = await s.router.routes();
    expect(find(rs, '198.51.100.55/32', s.p1.aV4)!.nextHop).toBe(s.p1.aV4);
    expect(rs.filter((r) => r.prefix === '2001:db8:55::55/128' || r.prefix === '2001:db8:56::56/128')).toEqual([]);
    expect(rs.filter((r) => /^::ffff:/i.test(r.nextHop))).toEqual([]);
  });
});
