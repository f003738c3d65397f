// Proves the interop lab without herald: BIRD on a bridge hub peers with FRR,
// GoBGP, OpenBGPD (TCP MD5) and ExaBGP on four spokes. Routes and attributes
// originated on each side are read back, normalised, from the other side;
// a withdraw propagates; a Cease shutdown communication shows in the peers'
// logs; FRR's zebra installs the route in its namespace's kernel table; and
// close() leaves no namespace or process behind.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import {
  Lab,
  bridgeTopology,
  pointToPoint,
  labReady,
  run,
  startRouter,
  waitFor,
  registeredPids,
  type BirdRouter,
  type BridgeTopology,
  type ReceivedRoute,
  type Router,
  type RouterKind,
} from './lab/index.js';

// OpenBGPD 7.7 puts next hop ::1 on IPv6 NLRI sent over an IPv4 session, so it gets a second, IPv6 session.
const SPOKES: { kind: RouterKind; asn: number; v4: string; v6: string; password?: string; v6Session?: boolean }[] = [
  { kind: 'frr', asn: 65002, v4: '203.0.113.0/26', v6: '2001:db8:202::/48', password: 'frr-md5' },
  { kind: 'gobgp', asn: 65003, v4: '203.0.113.64/26', v6: '2001:db8:203::/48' },
  { kind: 'openbgpd', asn: 65004, v4: '203.0.113.128/26', v6: '2001:db8:204::/48', password: 'obgp-md5', v6Session: true },
  { kind: 'exabgp', asn: 65005, v4: '203.0.113.192/26', v6: '2001:db8:205::/48' },
];

const ready = labReady(['bird', ...SPOKES.map((s) => s.kind)], 'lab selftest');

describe.skipIf(!ready)('interop lab selftest', () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let hub: BirdRouter;
  const spokes: Router[] = [];

  beforeAll(async () => {
    topo = await bridgeTopology(lab, SPOKES.length, { roles: SPOKES.map((s) => s.kind) });
    hub = (await startRouter(lab, 'bird', {
      name: 'hub',
      ns: topo.router,
      asn: 65001,
      routerId: topo.routerV4,
      peers: [
        ...SPOKES.map((s, i) => ({
          address: topo.spokes[i]!.v4,
          asn: s.asn,
          ...(s.password !== undefined ? { password: s.password } : {}),
          ...(s.kind === 'exabgp' ? { passive: true } : {}),
          ...(s.v6Session === true ? { families: ['ipv4' as const] } : {}),
        })),
        ...SPOKES.flatMap((s, i) => (s.v6Session === true ? [{ address: topo.spokes[i]!.v6, asn: s.asn, families: ['ipv6' as const] }] : [])),
      ],
      announce: [
        { prefix: '198.51.100.0/24', med: 50, communities: ['65000:1'], largeCommunities: ['65000:1:2'] },
        { prefix: '2001:db8:100::/48', communities: ['65000:1', '65000:6'], largeCommunities: ['65000:1:2'] },
      ],
    })) as BirdRouter;
    const started = await Promise.all(
      SPOKES.map((s, i) =>
        startRouter(lab, s.kind, {
          name: s.kind,
          ns: topo.spokes[i]!.ns,
          asn: s.asn,
          routerId: topo.spokes[i]!.v4,
          peers:
            s.v6Session === true
              ? [
                  { address: topo.routerV4, asn: 65001, families: ['ipv4' as const], ...(s.password !== undefined ? { password: s.password } : {}) },
                  { address: topo.routerV6, asn: 65001, families: ['ipv6' as const] },
                ]
              : [{ address: topo.routerV4, asn: 65001, ...(s.password !== undefined ? { password: s.password } : {}) }],
          announce: [
            { prefix: s.v4, med: 7, communities: [`${s.asn}:4`], largeCommunities: [`${s.asn}:4:4`] },
            { prefix: s.v6, communities: [`${s.asn}:6`], ...(s.kind === 'gobgp' ? { nextHop: topo.spokes[i]!.v6 } : {}) },
          ],
        }),
      ),
    );
    spokes.push(...started);
  });

  afterAll(async () => {
    await lab.close();
  });

  it('brings every session to Established, two of them with TCP MD5', async () => {
    await Promise.all(spokes.map((r) => r.waitEstablished(topo.routerV4, 20_000)));
    await spokes[2]!.waitEstablished(topo.routerV6, 20_000);
    await Promise.all(topo.spokes.map((s) => hub.waitEstablished(s.v4, 5_000)));
    await hub.waitEstablished(topo.spokes[2]!.v6, 5_000);
    expect(await hub.sessionState(topo.spokes[2]!.v4)).toBe('Established'); // OpenBGPD, MD5
  });

  it('reads the hub routes back normalised from each daemon', async () => {
    for (const [i, r] of spokes.entries()) {
      const got = await waitFor(
        async () => {
          const routes = await r.routes();
          const v4 = routes.find((x) => x.prefix === '198.51.100.0/24');
          const v6 = routes.find((x) => x.prefix === '2001:db8:100::/48');
          return v4 !== undefined && v6 !== undefined ? { v4, v6 } : undefined;
        },
        10_000,
        async () => `${r.kind} routes: ${JSON.stringify(await r.routes())}`,
      );
      expect(got.v4, r.kind).toMatchObject<Partial<ReceivedRoute>>({
        nextHop: topo.routerV4,
        asPath: [65001],
        med: 50,
        communities: ['65000:1'],
        largeCommunities: ['65000:1:2'],
        origin: 'igp',
        peer: topo.routerV4,
      });
      expect(got.v6, r.kind).toMatchObject<Partial<ReceivedRoute>>({
        nextHop: topo.routerV6,
        asPath: [65001],
        communities: ['65000:1', '65000:6'],
        largeCommunities: ['65000:1:2'],
        origin: 'igp',
        peer: SPOKES[i]!.v6Session === true ? topo.routerV6 : topo.routerV4,
      });
    }
  });

  it('reads every spoke route back normalised from BIRD', async () => {
    const routes = await waitFor(
      async () => {
        const all = await hub.routes();
        return SPOKES.every((s) => all.some((x) => x.prefix === s.v4) && all.some((x) => x.prefix === s.v6)) ? all : undefined;
      },
      10_000,
      async () => `hub routes: ${JSON.stringify(await hub.routes())}`,
    );
    SPOKES.forEach((s, i) => {
      const v4 = routes.find((x) => x.prefix === s.v4);
      expect(v4, s.kind).toMatchObject<Partial<ReceivedRoute>>({
        nextHop: topo.spokes[i]!.v4,
        asPath: [s.asn],
        med: 7,
        communities: [`${s.asn}:4`],
        largeCommunities: [`${s.asn}:4:4`],
        origin: 'igp',
        peer: topo.spokes[i]!.v4,
      });
      const v6 = routes.find((x) => x.prefix === s.v6);
      expect(v6, s.kind).toMatchObject<Partial<ReceivedRoute>>({
        nextHop: topo.spokes[i]!.v6,
        asPath: [s.asn],
        communities: [`${s.asn}:6`],
        peer: s.v6Session === true ? topo.spokes[i]!.v6 : topo.spokes[i]!.v4,
      });
    });
    // Routes originated by the hub itself are not "received".
    expect(routes.some((x) => x.prefix === '198.51.100.0/24')).toBe(false);
  });

  it('lets FRR install the hub route into its namespace kernel table', async () => {
    const frr = spokes[0]!;
    const table = await waitFor(
      async () => {
        const t = await frr.kernelRoutes!('ipv4');
        return t.includes('198.51.100.0/24') ? t : undefined;
      },
      5_000,
      () => 'no 198.51.100.0/24 in the FRR namespace kernel table',
    );
    expect(table).toContain(`via ${topo.routerV4}`);
  });

  it('propagates a withdraw from BIRD to every spoke', async () => {
    await hub.withdraw(['198.51.100.0/24']);
    for (const r of spokes) {
      await waitFor(
        async () => ((await r.routes()).some((x) => x.prefix === '198.51.100.0/24') ? undefined : true),
        10_000,
        () => `${r.kind} still has 198.51.100.0/24`,
      );
    }
    // The other route is still there.
    expect((await spokes[1]!.routes()).some((x) => x.prefix === '2001:db8:100::/48')).toBe(true);
  });

  it('shows the Cease shutdown communication in FRR, GoBGP and OpenBGPD logs', async () => {
    for (let i = 0; i < 3; i++) {
      await hub.birdc(['disable', `hrp${i}`, `"lab-selftest bye ${SPOKES[i]!.kind}"`]);
    }
    for (let i = 0; i < 3; i++) {
      const r = spokes[i]!;
      await waitFor(
        async () => ((await r.logText()).includes(`lab-selftest bye ${r.kind}`) ? true : undefined),
        5_000,
        async () => `${r.kind} log lacks the shutdown communication:\n${(await r.logText()).slice(-2000)}`,
      );
      expect(await r.sessionState(topo.routerV4)).not.toBe('Established');
    }
  });

  it('close() deletes the namespaces and kills the daemons it started', async () => {
    const pids = registeredPids();
    expect(pids.length).toBeGreaterThanOrEqual(6); // bird, zebra, bgpd, gobgpd, openbgpd, exabgp
    await lab.close();
    const listed = (await run('ip', ['netns', 'list'])).stdout;
    for (const ns of lab.namespaces) expect(listed).not.toContain(ns.name);
    const alive = new Set(readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number));
    expect(pids.filter((p) => alive.has(p))).toEqual([]);
  });
});

describe.skipIf(!labReady(['frr', 'bird'], 'lab selftest (RFC 8950)'))('interop lab: IPv4 over an IPv6 session (RFC 8950)', () => {
  const lab = new Lab();
  afterAll(async () => {
    await lab.close();
  });

  it('carries an IPv4 route with an IPv6 next hop from BIRD to a passive FRR', async () => {
    const a = await lab.addNamespace('bird');
    const b = await lab.addNamespace('frr');
    const link = await pointToPoint(lab, a, b, { index: 5 });
    const bird = await startRouter(lab, 'bird', {
      name: 'enh-bird',
      ns: a,
      asn: 65010,
      routerId: link.aV4,
      peers: [{ address: link.bV6, asn: 65011, extendedNextHop: true, holdTime: 9, localAddress: link.aV6 }],
      announce: [{ prefix: '198.51.100.128/25', communities: ['65010:1'], asPathPrepend: [65099] }],
    });
    const frr = await startRouter(lab, 'frr', {
      name: 'enh-frr',
      ns: b,
      asn: 65011,
      routerId: link.bV4,
      peers: [{ address: link.aV6, asn: 65010, extendedNextHop: true, passive: true, holdTime: 9 }],
    });
    await frr.waitEstablished(link.aV6, 20_000);
    const route = await waitFor(
      async () => (await frr.routes()).find((r) => r.prefix === '198.51.100.128/25'),
      10_000,
      async () => `FRR routes: ${JSON.stringify(await frr.routes())}`,
    );
    expect(route).toMatchObject<Partial<ReceivedRoute>>({ nextHop: link.aV6, asPath: [65010, 65099], communities: ['65010:1'], peer: link.aV6 });
    expect(await bird.sessionState(link.bV6)).toBe('Established');
  });
});
