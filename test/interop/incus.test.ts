// Issue 13, part 4: herald's LXD source against a real Incus (Debian 12
// backports, incus-base 6.0), the LXD fork with the same REST API. One
// hypervisor namespace runs incusd (LxdDaemon with INCUS_FLAVOR: own
// INCUS_DIR, hostname inc1, a dir pool, a NAT-free bridge, a busybox
// container c1 with ipv4.routes.external 198.51.100.10/32) and `herald run`
// with `lxd: { socket: <incus socket> }`; FRR in the router namespace.
// Shown: /1.0 says incus; starting c1 announces the route with this host as
// next hop, `routes explain` names the origin, stopping withdraws it with the
// reason, all driven by Incus's events websocket (lifecycle and operation).
// The figures are printed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INCUS_FLAVOR, Lab, LxdDaemon, bridgeTopology, incusReady, labReady, nsRun, sleep, startRouter, type BridgeTopology } from './lab/index.js';
import type { FrrRouter } from './lab/frr.js';
import { DaemonProcess } from './support/daemon-process.js';
import { routesJson } from './support/routes-cli.js';
import type { ExplainState, LxdState } from '../../src/state/index.js';

const WHAT = 'herald LXD source against a real Incus';
const ready = labReady(['frr'], WHAT) && incusReady(WHAT);
const ROUTE = '198.51.100.10/32';
const BOUND_MS = 1500;

describe.skipIf(!ready)(WHAT, () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: FrrRouter;
  let incus: LxdDaemon | undefined;
  let herald: DaemonProcess | undefined;
  let socket = '';
  const figures: Record<string, number> = {};

  const vias = async (): Promise<string[]> => [...(await nsRun(topo.router, 'ip', ['-4', 'route', 'show', '198.51.100.10'])).stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!);
  async function until(want: string[], boundMs: number): Promise<number> {
    const end = Date.now() + boundMs;
    for (;;) {
      const v = await vias();
      if (v.join() === want.join()) return Date.now();
      if (Date.now() > end) throw new Error(`kernel route ${ROUTE} via ${v.join() || 'nothing'}, wanted ${want.join() || 'nothing'}`);
      await sleep(10);
    }
  }

  beforeAll(async () => {
    const t0 = Date.now();
    topo = await bridgeTopology(lab, 1, { roles: ['inc1'] });
    const spoke = topo.spokes[0]!;
    const [router, daemon] = await Promise.all([
      startRouter(lab, 'frr', { name: 'upstream', ns: topo.router, asn: 65000, routerId: topo.routerV4, peers: [{ address: spoke.v4, asn: 65041, passive: true, families: ['ipv4'], holdTime: 9 }] }),
      LxdDaemon.start(lab, { ns: spoke.ns, hostname: 'inc1', flavor: INCUS_FLAVOR }),
    ]);
    frr = router as FrrRouter;
    incus = daemon;
    await incus.createDirPool();
    await incus.createBridge('br1');
    await incus.createContainer('c1', { network: 'br1', ipv4Address: '203.0.113.200', ipv4RoutesExternal: [ROUTE] });
    const dir = await lab.tempDir('incus-herald');
    socket = join(dir, 'herald.sock');
    writeFileSync(
      join(dir, 'herald.yaml'),
      `router_id: ${spoke.v4}\nasn: 65041\napi: { socket: ${socket} }\npeers:\n  - { name: upstream, address: ${topo.routerV4}, asn: 65000, hold_time: 9, connect_retry: 1s }\nlxd:\n  socket: ${incus.socketPath}\n`,
    );
    herald = new DaemonProcess(spoke.ns, join(dir, 'herald.yaml'), { name: 'herald-incus' });
    await herald.start();
    await frr.waitEstablished(spoke.v4, 30_000);
    figures.setupMs = Date.now() - t0;
  }, 120_000);

  afterAll(async () => {
    herald?.kill();
    await incus?.stop();
    await lab.close();
    console.log(`Incus figures (ms): ${JSON.stringify(figures)}`);
  });

  it('reads Incus (server "incus"), announces a running container\'s routes.external and withdraws it when stopped', async () => {
    const d = incus!;
    const server = await d.get<{ environment: { server: string; server_version: string; server_name: string } }>('/1.0');
    expect(server.environment).toMatchObject({ server: 'incus', server_name: 'inc1' });
    console.log(`Incus ${server.environment.server_version} at ${d.socketPath}`);
    const lx = await routesJson<LxdState>(socket, 'lxd');
    expect(lx.source).toMatchObject({ status: 'connected', serverName: 'inc1', clustered: false, eventsConnected: true });

    const events = await d.openEvents(['lifecycle']);
    const t0 = Date.now();
    await d.startInstance('c1');
    const started = await events.waitFor((e) => e.metadata.action === 'instance-started');
    const tUp = await until([topo.spokes[0]!.v4], 30_000);
    figures.announceAfterEventMs = tUp - started.receivedAt;
    figures.announceAfterStartMs = tUp - t0;
    console.log(`Incus: instance-started → kernel route ${figures.announceAfterEventMs} ms`);
    expect(figures.announceAfterEventMs).toBeLessThanOrEqual(BOUND_MS);
    const x = await routesJson<ExplainState>(socket, 'explain', ROUTE);
    expect(x).toMatchObject({ announced: true });
    expect(x.sources[0]).toMatchObject({ source: 'lxd:default/c1/eth0:routes.external', wants: true, lxd: { nextHop: 'self', origin: { instance: 'c1', network: 'br1', rule: 'routes.external' } } });

    const t1 = Date.now();
    await d.stopInstance('c1');
    const tStopped = Date.now();
    const tGone = await until([], 30_000);
    figures.withdrawAfterStopReturnedMs = tGone - tStopped;
    console.log(`Incus: lxc stop took ${tStopped - t1} ms; kernel route gone ${figures.withdrawAfterStopReturnedMs} ms after it returned`);
    expect(figures.withdrawAfterStopReturnedMs).toBeLessThanOrEqual(BOUND_MS);
    const y = await routesJson<ExplainState>(socket, 'explain', ROUTE);
    expect(y).toMatchObject({ announced: false, reason: 'lxd:default/c1/eth0:routes.external: instance c1 (project default) is Stopped: only Running or Ready instances are announced' });
    await events.close();
  });
});
