// Route refresh between herald and FRR (RFC 2918, RFC 7313), both of which
// advertise Enhanced Route Refresh. In FRR's namespace:
//   - `clear bgp ipv4 unicast <herald> soft in` makes FRR send herald a
//     ROUTE-REFRESH; herald answers BoRR, its routes of the family, EoRR, and
//     FRR is left with exactly herald's desired routes — also when a
//     withdrawal is queued as the request arrives; the peer snapshot (API,
//     CLI, metrics) counts the request and its answer;
// Not covered here: herald's handling of a peer's BoRR/EoRR (unit-tested in
// test/bgp/rib/adj-rib-in.test.ts). FRR sends them only in answer to a
// ROUTE-REFRESH, and herald never sends one; `soft out` re-sends without them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrrRouter, Lab, labReady, pointToPoint, startRouter, waitFor, type PointToPoint } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { SpeakerEvent } from '../../bgp/index.js';

const ready = labReady(['frr'], 'route refresh interop');

const HERALD_AS = 65011;
const ROUTER_AS = 65000;
const A = '198.51.100.53/32';
const B = '203.0.113.0/24';

describe.skipIf(!ready)('route refresh: herald ↔ FRR', () => {
  const lab = new Lab();
  let p: PointToPoint;
  let frr: FrrRouter;
  let herald: HeraldProcess;

  /** Prefixes FRR holds from herald. */
  const atFrr = async (): Promise<string[]> =>
    (await frr.routes())
      .filter((r) => r.peer === p.aV4)
      .map((r) => r.prefix)
      .sort();

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const rns = await lab.addNamespace('frr');
    p = await pointToPoint(lab, hns, rns, { v4Net: '192.0.2' });
    frr = (await startRouter(lab, 'frr', {
      name: 'frr',
      ns: rns,
      asn: ROUTER_AS,
      routerId: p.bV4,
      peers: [{ address: p.aV4, asn: HERALD_AS, passive: true, families: ['ipv4'], holdTime: 9 }],
    })) as FrrRouter;
    herald = new HeraldProcess(hns, { asn: HERALD_AS, routerId: p.aV4, listen: { address: '::', port: 179 } }, [
      { name: 'frr', address: p.bV4, asn: ROUTER_AS, families: ['ipv4'], connectRetryMs: 1000 },
    ]);
    await herald.start();
    await herald.waitEstablished('frr', 60_000);
    await frr.waitEstablished(p.aV4, 30_000);
    await herald.setRoutes('frr', [{ prefix: A, med: 10 }, { prefix: B, med: 20 }]);
    await waitFor(async () => ((await atFrr()).length === 2 ? true : undefined), 20_000, async () => `at FRR: ${JSON.stringify(await atFrr())}`);
  }, 90_000);

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it('negotiates Enhanced Route Refresh with FRR', async () => {
    const n = JSON.parse((await frr.vtysh([`show bgp neighbors ${p.aV4} json`])).stdout)[p.aV4];
    const caps = n.neighborCapabilities as Record<string, unknown>;
    expect(JSON.stringify(caps)).toMatch(/enhancedRouteRefresh/i);
  });

  it('answers FRR\'s ROUTE-REFRESH with BoRR, the routes and EoRR; FRR keeps exactly herald\'s routes', async () => {
    const from = herald.events.length;
    const c0 = (await herald.snapshot())[0]!.counters;
    const before = c0.messagesOut;
    await frr.vtysh([`clear bgp ipv4 unicast ${p.aV4} soft in`]);
    const req = (await herald.waitEventFrom(from, (e) => e.type === 'route-refresh' && e.peer === 'frr', 20_000)) as Extract<SpeakerEvent, { type: 'route-refresh' }>;
    expect(req).toMatchObject({ family: '1/1', subtype: 0 });
    const done = await herald.waitEventFrom(from, (e) => e.type === 'route-refresh-answered', 20_000);
    expect(done).toMatchObject({ peer: 'frr', family: '1/1', enhanced: true });
    // BoRR, at least one UPDATE, EoRR.
    const c1 = (await herald.snapshot())[0]!.counters;
    expect(c1.messagesOut - before).toBeGreaterThanOrEqual(3);
    // The snapshot (API, CLI, metrics) counts the request and its answer; FRR sent no BoRR/EoRR of its own.
    expect(c1.refreshRequestsIn - c0.refreshRequestsIn).toBe(1);
    expect(c1.refreshesAnswered - c0.refreshesAnswered).toBe(1);
    expect([c1.refreshBorrIn - c0.refreshBorrIn, c1.refreshEorrIn - c0.refreshEorrIn]).toEqual([0, 0]);
    await new Promise((r) => setTimeout(r, 1000)); // let FRR process the EoRR
    expect(await atFrr()).toEqual([A, B].sort());
  });

  it('a withdrawal queued as the request arrives still reaches FRR', async () => {
    const from = herald.events.length;
    // Drop A and ask for a refresh at once: whichever comes first, FRR ends with B alone.
    await Promise.all([herald.setRoutes('frr', [{ prefix: B, med: 20 }]), frr.vtysh([`clear bgp ipv4 unicast ${p.aV4} soft in`])]);
    await herald.waitEventFrom(from, (e) => e.type === 'route-refresh-answered', 20_000);
    await waitFor(async () => ((await atFrr()).join() === B ? true : undefined), 20_000, async () => `at FRR: ${JSON.stringify(await atFrr())}`);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await atFrr()).toEqual([B]);
  });
});
