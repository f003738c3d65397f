// Issue 4, Must show 2 and 3: herald's LXD source against a real LXD 5.0 and
// a real router. Two "hypervisor" namespaces (hv1, hv2) each run LXD
// (LxdDaemon, bridge br1 = 203.0.113.193/26 without NAT, a busybox container
// c1 whose NIC has ipv4.routes.external=198.51.100.10/32) and `herald run`
// with an `lxd:` section on that LXD's unix socket. Both peer with FRR (with
// zebra, multipath) in a router namespace over bridge br0 (192.0.2.0/24).
// Checked in the router namespace's kernel table (what zebra installed from
// FRR's RIB), polled every 10 ms:
//   - starting c1 on hv1 installs the /32 via hv1 within 500 ms of the
//     `instance-started` lifecycle event (as received on our own events
//     websocket); stopping it removes it within 500 ms of `lxc stop` returning;
//   - killing LXD (SIGKILL, instances keep running) and starting it again
//     never removes the route (continuous sampling), though herald saw LXD
//     unreachable;
//   - LXD killed for longer than unreachable_withdraw_after withdraws the
//     route; it returns once LXD is back;
//   - anycast: c1 running on both hypervisors gives a 2-way multipath route
//     (hv1 and hv2 as next hops); stopping one leaves the other.
//   - HTTPS: hv2's LXD listens on core.https_address (192.0.2.12:8443); from
//     the router namespace (the test thread enters it with setns), herald's
//     LXD client with a client certificate made here is told it is untrusted
//     until `lxc config trust add`, then reads /1.0 and the instances, and an
//     LxdSource built from an `lxd: { url, client_cert, client_key,
//     server_cert }` config reads, derives and follows events over wss://.
//     herald's TLS options negotiate TLS 1.3; LXD refuses a TLS 1.2 client;
//     a wrong pinned certificate is refused with a message naming it.
// OVN (own lab, needs OVS/OVN): LXD + OvnStack + herald in one namespace, a
// physical uplink (veth to the router, 203.0.113.0/24, OVN routers from
// 203.0.113.10) and a separate BGP link (192.0.2.0/30). An OVN network with
// NAT off (198.51.100.0/25) is announced with the OVN router's uplink address
// (volatile.network.ipv4.address) as next hop, as is a container's
// routes.external on it; the router then reaches the container through it.
// Then announce_from: active-chassis against the real OVN chassis: LXD
// (standalone) reports /1.0/networks/net1/state → ovn.chassis = hv1, its
// server name; with chassis_name: hv2 (SIGHUP) both routes leave FRR, and
// the source's explain gives the chassis reason; without chassis_name they
// come back. (One chassis only: a multi-chassis OVN with gateway failover
// needs an LXD cluster, which this lab does not build.)
// What the operator sees, through the real control API (the `routes` CLI
// binary on herald's socket) and herald's /metrics: c1's route explains with
// its origin (project, network, instance, device, rule) while announced, and
// with "instance c1 ... is Stopped" once stopped; while LXD is killed the
// summary says unreachable with the routes kept, and `routes check` still
// passes; past the limit the summary, `routes lxd`, explain and
// herald_lxd_* say unreachable and withdrawn; in the OVN lab, explain gives
// the active-chassis reason from the running daemon.
// The measured figures are printed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import { join } from 'node:path';
import {
  Lab,
  LxdDaemon,
  OvnStack,
  bridgeTopology,
  inNamespace,
  makeCertificate,
  pointToPoint,
  waitFor,
  labReady,
  lxdReady,
  nsRun,
  sleep,
  startRouter,
  type BridgeTopology,
  type LxdEventStream,
} from './lab/index.js';
import type { FrrRouter } from './lab/frr.js';
import { DaemonProcess } from './support/daemon-process.js';
import { routesCli, routesJson } from './support/routes-cli.js';
import { loadConfig } from '../../src/config/index.js';
import { certFingerprint, LxdClient, lxdSourceFromConfig, lxdTlsOptions, type LxdSource } from '../../src/sources/lxd/index.js';
import type { ExplainState, LxdState, SummaryState } from '../../src/state/index.js';

const WHAT = 'herald LXD source end to end';
const ready = labReady(['frr'], WHAT) && lxdReady(WHAT);
const ovnReady = ready && lxdReady(`${WHAT} (OVN)`, { ovn: true });

const ROUTER_AS = 65000;
const HV_AS = [65021, 65022];
const ROUTE = '198.51.100.10/32';
const DEST = '198.51.100.10';
/** Announce / withdraw bound from issue 4. */
const BOUND_MS = 500;
/** Kernel polling period. */
const POLL_MS = 10;
/**
 * unreachable_withdraw_after: long enough that an LXD restart (about 1–2 s
 * on a quiet machine, 7.6 s seen on a busy one; printed) plus herald's
 * reconnect backoff fits inside it, short enough for the test.
 */
const WITHDRAW_AFTER_MS = 15_000;

/** herald's metrics listener, on each herald's own namespace's loopback. */
const METRICS_PORT = 9180;
const STOPPED_REASON = 'instance c1 (project default) is Stopped: only Running or Ready instances are announced';

/** Scrape herald's /metrics inside its namespace; the herald_lxd_* samples by name (and labels). */
async function lxdMetrics(ns: string): Promise<Record<string, number>> {
  const js = `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const text = (await nsRun(ns, process.execPath, ['-e', js])).stdout;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(herald_lxd_\w+(?:\{[^}]*\})?) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

function heraldConfig(dir: string, routerId: string, asn: number, routerV4: string, lxdSocket: string, extra = ''): string {
  return `# herald LXD end-to-end test
router_id: ${routerId}
asn: ${asn}
listen: { address: "::", port: 179 }
api: { socket: ${join(dir, 'herald.sock')} }
state_dir: ${join(dir, 'state')}
metrics: { address: 127.0.0.1, port: ${METRICS_PORT} }
peers:
  - { name: upstream, address: ${routerV4}, asn: ${ROUTER_AS}, hold_time: 9, connect_retry: 1s }
lxd:
  socket: ${lxdSocket}${extra}
  unreachable_withdraw_after: ${WITHDRAW_AFTER_MS}ms
`;
}

/** Open a TLS connection and report the protocol, or the error code. */
function tlsHandshake(opts: ConnectionOptions): Promise<{ protocol: string | null; authorized: boolean } | { error: string }> {
  return new Promise((resolve) => {
    const s = connect(opts, () => {
      resolve({ protocol: s.getProtocol(), authorized: s.authorized });
      s.destroy();
    });
    s.on('error', (e: Error & { code?: string }) => resolve({ error: `${e.code ?? ''} ${e.message}` }));
  });
}

/** Next hops of the router namespace's kernel route for DEST ([] when there is none). */
async function kernelVias(ns: string): Promise<string[]> {
  const res = await nsRun(ns, 'ip', ['-4', 'route', 'show', DEST]);
  return [...res.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
}

/** Poll the kernel every POLL_MS until done(vias); return Date.now() at that sample, or Infinity after boundMs. */
async function kernelUntil(ns: string, done: (vias: string[]) => boolean, boundMs: number): Promise<{ at: number; vias: string[] }> {
  const end = Date.now() + boundMs;
  let vias: string[] = [];
  while (Date.now() < end) {
    vias = await kernelVias(ns);
    if (done(vias)) return { at: Date.now(), vias };
    await sleep(POLL_MS);
  }
  return { at: Infinity, vias };
}

/** Sample the kernel route continuously until stopped; keep every sample. */
function sampleKernel(ns: string): { stop: () => Promise<{ t: number; vias: string[] }[]> } {
  const samples: { t: number; vias: string[] }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push({ t: Date.now(), vias: await kernelVias(ns) });
      await sleep(POLL_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

describe.skipIf(!ready)('herald LXD source: real LXD 5.0, herald run, FRR upstream', () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: FrrRouter;
  const hv: LxdDaemon[] = [];
  const herald: DaemonProcess[] = [];
  /** Each herald's control socket. */
  const sockets: string[] = [];
  let events: LxdEventStream | undefined;
  const figures: Record<string, number> = {};
  let hv1Addr = '';
  let hv2Addr = '';

  beforeAll(async () => {
    topo = await bridgeTopology(lab, 2, { roles: ['hv1', 'hv2'] });
    hv1Addr = topo.spokes[0]!.v4;
    hv2Addr = topo.spokes[1]!.v4;
    const [frrRouter, ...daemons] = await Promise.all([
      startRouter(lab, 'frr', {
        name: 'upstream',
        ns: topo.router,
        asn: ROUTER_AS,
        routerId: topo.routerV4,
        peers: topo.spokes.map((s, i) => ({ address: s.v4, asn: HV_AS[i]!, passive: true, families: ['ipv4' as const], holdTime: 9 })),
      }),
      ...topo.spokes.map((s, i) => LxdDaemon.start(lab, { ns: s.ns, hostname: `hv${i + 1}` })),
    ]);
    frr = frrRouter as FrrRouter;
    hv.push(...daemons);
    await Promise.all(
      hv.map(async (d) => {
        await d.createDirPool();
        await d.createBridge('br1');
        await d.createContainer('c1', { network: 'br1', ipv4Address: '203.0.113.200', ipv4RoutesExternal: [ROUTE] });
      }),
    );
    for (const [i, s] of topo.spokes.entries()) {
      const dir = await lab.tempDir(`lxd-herald${i + 1}`);
      const config = join(dir, 'herald.yaml');
      writeFileSync(config, heraldConfig(dir, s.v4, HV_AS[i]!, topo.routerV4, hv[i]!.socketPath));
      sockets.push(join(dir, 'herald.sock'));
      herald.push(new DaemonProcess(s.ns, config, { name: `herald-hv${i + 1}` }));
    }
    await Promise.all(herald.map((h) => h.start()));
    await Promise.all(topo.spokes.map((s) => frr.waitEstablished(s.v4, 30_000)));
    // Nothing runs yet, so nothing is announced.
    expect(await kernelVias(topo.router)).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await events?.close();
    for (const h of herald) h.kill();
    await Promise.all(hv.map((d) => d.stop()));
    await lab.close();
    console.log(`LXD end-to-end figures (ms): ${JSON.stringify(figures)}`);
  });

  it(`announces routes.external within ${BOUND_MS} ms of instance-started and withdraws it within ${BOUND_MS} ms of the stop`, async () => {
    const hv1 = hv[0]!;
    events = await hv1.openEvents(['lifecycle']);
    const seen = kernelUntil(topo.router, (v) => v.length === 1, 30_000);
    const t0 = Date.now();
    await hv1.startInstance('c1');
    const tStarted = Date.now();
    const started = await events.waitFor((e) => e.metadata.action === 'instance-started' && e.metadata.source === '/1.0/instances/c1');
    const up = await seen;
    figures.startCallMs = tStarted - t0;
    figures.announceAfterEventMs = up.at - started.receivedAt;
    figures.announceAfterStartReturnedMs = up.at - tStarted;
    console.log(`LXD: instance-started → kernel route ${figures.announceAfterEventMs} ms (after lxc start returned: ${figures.announceAfterStartReturnedMs} ms)`);
    expect(up.vias).toEqual([hv1Addr]);
    expect(figures.announceAfterEventMs).toBeLessThanOrEqual(BOUND_MS);
    // FRR got it from hv1 with hv1 (the bridge's host, `self`) as next hop.
    const r = (await frr.routes()).find((x) => x.prefix === ROUTE);
    expect(r?.peer).toBe(hv1Addr);
    expect(r?.nextHop).toBe(hv1Addr);
    // The operator's view: explain names the origin, the routes list its source.
    const x = await routesJson<ExplainState>(sockets[0]!, 'explain', ROUTE);
    expect(x).toMatchObject({ announced: true, reason: 'announced to upstream' });
    expect(x.sources).toEqual([
      {
        source: 'lxd:default/c1/eth0:routes.external',
        wants: true,
        reason: null,
        service: null,
        lxd: {
          origin: { source: 'lxd:default/c1/eth0:routes.external', project: 'default', rule: 'routes.external', network: 'br1', instance: 'c1', device: 'eth0', listen: null },
          nextHop: 'self',
          status: 'connected',
          unreachableSince: null,
        },
      },
    ]);
    expect((await routesCli(sockets[0]!, 'list')).stdout).toMatch(/upstream\s+198\.51\.100\.10\/32\s+announced\s+192\.0\.2\.\d+\s+lxd:default\/c1\/eth0:routes\.external/);

    const gone = kernelUntil(topo.router, (v) => v.length === 0, 30_000);
    const t1 = Date.now();
    await hv1.stopInstance('c1');
    const tStopped = Date.now();
    const stopped = await events.waitFor(
      (e) => (e.metadata.action === 'instance-stopped' || e.metadata.action === 'instance-shutdown') && e.metadata.source === '/1.0/instances/c1',
    );
    const down = await gone;
    figures.stopCallMs = tStopped - t1;
    figures.withdrawAfterEventMs = down.at - stopped.receivedAt;
    figures.withdrawAfterStopReturnedMs = down.at - tStopped;
    console.log(`LXD: instance-stopped → kernel route gone ${figures.withdrawAfterEventMs} ms (after lxc stop returned: ${figures.withdrawAfterStopReturnedMs} ms)`);
    expect(down.vias).toEqual([]);
    expect(figures.withdrawAfterEventMs).toBeLessThanOrEqual(BOUND_MS);
    expect(figures.withdrawAfterStopReturnedMs).toBeLessThanOrEqual(BOUND_MS);
    // Not announced, and explain says exactly why; `check` exits 1 with it.
    const skipped = await routesJson<ExplainState>(sockets[0]!, 'explain', ROUTE);
    expect(skipped).toMatchObject({ wanted: false, announced: false, reason: `lxd:default/c1/eth0:routes.external: ${STOPPED_REASON}` });
    expect(skipped.sources).toEqual([expect.objectContaining({ wants: false, reason: STOPPED_REASON, lxd: expect.objectContaining({ nextHop: null }) })]);
    const check = await routesCli(sockets[0]!, 'check', ROUTE);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(STOPPED_REASON);
  });

  it('keeps the route announced while LXD is killed and started again', async () => {
    const hv1 = hv[0]!;
    const h1 = herald[0]!;
    await hv1.startInstance('c1');
    expect((await kernelUntil(topo.router, (v) => v.length === 1, 10_000)).vias).toEqual([hv1Addr]);
    await events?.close();
    events = undefined;
    const mark = h1.mark();
    const sampler = sampleKernel(topo.router);
    await sleep(200);
    const t0 = Date.now();
    await hv1.kill();
    await h1.waitLog((l) => l.msg === 'LXD unreachable; keeping the last known routes', 10_000, mark);
    // While LXD is down: the summary says so, and the kept route still passes `routes check`.
    const [sum, check] = await Promise.all([routesJson<SummaryState>(sockets[0]!), routesCli(sockets[0]!, 'check', ROUTE)]);
    expect(sum.lxd).toMatchObject({ status: 'unreachable', reachable: false, withdrawnByLimit: false, routes: { derived: 1 } });
    expect(sum.lxd!.unreachableSince).not.toBeNull();
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^OK 198\.51\.100\.10\/32: announced to upstream \(LXD is unreachable since \S+ \(.*\): its last known routes are kept\)\n$/);
    await hv1.startDaemon();
    figures.lxdRestartMs = Date.now() - t0;
    await h1.waitLog((l) => l.msg === 'LXD reachable again', 15_000, mark);
    figures.heraldReconnectedAfterKillMs = Date.now() - t0;
    await sleep(500);
    const samples = await sampler.stop();
    console.log(`LXD: restart took ${figures.lxdRestartMs} ms, herald read it again after ${figures.heraldReconnectedAfterKillMs} ms; ${samples.length} kernel samples`);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((s) => s.vias.join() !== hv1Addr)).toEqual([]);
    expect(h1.find((l) => /withdrawing its routes/.test(l.msg), mark)).toEqual([]);
    expect(await hv1.instanceStatus('c1')).toBe('Running');
    expect((await routesJson<SummaryState>(sockets[0]!)).lxd).toMatchObject({ status: 'connected', reachable: true, unreachableSince: null });
  });

  it(`withdraws after LXD is down longer than unreachable_withdraw_after (${WITHDRAW_AFTER_MS} ms) and announces again when it is back`, async () => {
    const hv1 = hv[0]!;
    const h1 = herald[0]!;
    expect(await kernelVias(topo.router)).toEqual([hv1Addr]);
    const mark = h1.mark();
    const t0 = Date.now();
    await hv1.kill();
    const gone = await kernelUntil(topo.router, (v) => v.length === 0, WITHDRAW_AFTER_MS + 5_000);
    figures.withdrawAfterKillMs = gone.at - t0;
    expect(gone.vias).toEqual([]);
    // Not before the limit, and soon after it (the timer starts when herald's first read fails).
    expect(figures.withdrawAfterKillMs).toBeGreaterThanOrEqual(WITHDRAW_AFTER_MS);
    expect(figures.withdrawAfterKillMs).toBeLessThanOrEqual(WITHDRAW_AFTER_MS + 1_000);
    expect(h1.find((l) => /withdrawing its routes/.test(l.msg), mark)).toHaveLength(1);
    // Summary, explain, `routes lxd` and the metrics all say unreachable and withdrawn.
    const [sum, x, table, m] = await Promise.all([
      routesJson<SummaryState>(sockets[0]!),
      routesJson<ExplainState>(sockets[0]!, 'explain', ROUTE),
      routesCli(sockets[0]!, 'lxd'),
      lxdMetrics(topo.spokes[0]!.ns),
    ]);
    expect(sum.lxd).toMatchObject({ status: 'unreachable', withdrawnByLimit: true, routes: { derived: 0, skipped: 1 } });
    expect(x).toMatchObject({ announced: false });
    expect(x.reason).toMatch(
      new RegExp(`^lxd:default/c1/eth0:routes\\.external: LXD unreachable since \\S+ \\(.*\\), longer than unreachable_withdraw_after \\(${WITHDRAW_AFTER_MS / 1000} s\\): withdrawn until LXD answers again$`),
    );
    expect(table.stdout).toMatch(/^lxd {7}UNREACHABLE for \d+s \(.*\): routes withdrawn \(unreachable_withdraw_after\); 0 routes derived, 1 skipped, 1 instances$/m);
    expect(table.stdout).toMatch(/198\.51\.100\.10\/32 +skipped +- +lxd:default\/c1\/eth0:routes\.external +LXD unreachable since/);
    expect(m).toMatchObject({ herald_lxd_up: 0, herald_lxd_withdrawn_by_limit: 1, 'herald_lxd_routes{state="derived"}': 0, 'herald_lxd_routes{state="skipped"}': 1 });
    expect(m.herald_lxd_unreachable_seconds).toBeGreaterThanOrEqual(WITHDRAW_AFTER_MS / 1000);
    expect(m.herald_lxd_read_failures_total).toBeGreaterThan(0);

    const t1 = Date.now();
    await hv1.startDaemon();
    const back = await kernelUntil(topo.router, (v) => v.length === 1, 40_000);
    figures.reannounceAfterLxdStartMs = back.at - t1;
    console.log(`LXD: killed → withdrawn after ${figures.withdrawAfterKillMs} ms; started again → announced after ${figures.reannounceAfterLxdStartMs} ms`);
    expect(back.vias).toEqual([hv1Addr]);
    const after = await lxdMetrics(topo.spokes[0]!.ns);
    expect(after).toMatchObject({ herald_lxd_up: 1, herald_lxd_withdrawn_by_limit: 0, herald_lxd_unreachable_seconds: 0, 'herald_lxd_routes{state="derived"}': 1 });
    expect(after.herald_lxd_events_total).toBeGreaterThan(0);
  });

  it('anycast: the same routes.external on both hypervisors is a 2-way multipath route; stopping one leaves one next hop', async () => {
    const [hv1, hv2] = hv as [LxdDaemon, LxdDaemon];
    expect(await hv1.instanceStatus('c1')).toBe('Running');
    await hv2.startInstance('c1');
    const both = await kernelUntil(topo.router, (v) => v.length === 2, 10_000);
    expect(both.vias).toEqual([hv1Addr, hv2Addr].sort());
    const text = (await nsRun(topo.router, 'ip', ['-4', 'route', 'show', DEST])).stdout;
    console.log(`LXD anycast: kernel route\n${text.trim()}`);
    expect(text).toMatch(/^\s*nexthop via /m);
    expect(text).toMatch(/proto bgp/);

    await hv1.stopInstance('c1');
    const one = await kernelUntil(topo.router, (v) => v.length === 1, 10_000);
    expect(one.vias).toEqual([hv2Addr]);
    expect((await nsRun(topo.router, 'ip', ['-4', 'route', 'show', DEST])).stdout).not.toMatch(/nexthop via/);
  });

  it('HTTPS: a client certificate and the pinned server certificate over TLS 1.3 against the real LXD; a wrong pin is refused', async () => {
    const hv2 = hv[1]!;
    const t0 = Date.now();
    const dir = await lab.tempDir('lxd-https');
    const client = makeCertificate(dir, 'herald-client');
    const impostor = makeCertificate(dir, 'impostor');
    const { url, serverCert } = await hv2.enableHttps(`${hv2Addr}:8443`);
    const endpoint = { kind: 'https' as const, url, cert: client.cert, key: client.key, serverCert };
    const serverCertPath = join(dir, 'server.crt');
    writeFileSync(serverCertPath, serverCert);
    const configPath = join(dir, 'herald.yaml');
    writeFileSync(
      configPath,
      `router_id: ${topo.routerV4}\nasn: 65099\nlxd:\n  url: ${url}\n  client_cert: ${client.certPath}\n  client_key: ${client.keyPath}\n  server_cert: ${serverCertPath}\n  resync_interval: 0s\n`,
    );
    const config = await loadConfig(configPath);

    // From the router namespace: hv2's LXD is a remote server at 192.0.2.12.
    await inNamespace(topo.router, async () => {
      const c = new LxdClient(endpoint, { timeoutMs: 5_000 });
      // Not trusted yet: LXD answers /1.0 as "untrusted", and herald says what to do.
      expect((await c.server()).auth).toBe('untrusted');
      await expect(c.readView({ announceFrom: 'all-members', forwards: false, loadBalancers: false })).rejects.toThrow(
        `LXD ${url} does not trust herald's client certificate (SHA-256 ${certFingerprint(client.cert)}): add it with 'lxc config trust add'`,
      );
      await hv2.trustCertificate(client.certPath);

      const server = await c.server();
      expect(server).toMatchObject({ auth: 'trusted', environment: { server_name: 'hv2', server_version: '5.0.2' } });
      const instances = await c.instances();
      expect(instances.map((i) => `${i.name}:${i.status}:${i.location}`)).toEqual(['c1:Running:none']);
      expect(instances[0]!.expanded_devices['eth0']).toMatchObject({ 'ipv4.routes.external': ROUTE });

      // The whole source from the config file: reads, derives, and follows events over wss://.
      const published: string[][] = [];
      const src: LxdSource = lxdSourceFromConfig(config.lxd!, () => published.push(src.snapshot().intents.map((x) => `${x.prefix} via ${x.nextHop}`)));
      try {
        await src.start();
        expect(src.state()).toMatchObject({ status: 'connected', endpoint: url, serverName: 'hv2', lastError: null });
        expect(published.at(-1)).toEqual([`${ROUTE} via self`]);
        await waitFor(async () => (src.state().eventsConnected ? true : undefined), 5_000, () => `events over wss:// not connected: ${JSON.stringify(src.state())}`, 20);
      } finally {
        await src.stop();
      }

      // herald's own TLS options negotiate TLS 1.3 with LXD, and the pin holds.
      const { host, port } = { host: hv2Addr, port: 8443 };
      const ours = await tlsHandshake({ host, port, ...lxdTlsOptions(endpoint) });
      expect(ours).toEqual({ protocol: 'TLSv1.3', authorized: true });
      // LXD itself refuses a client that offers at most TLS 1.2.
      const old = await tlsHandshake({ host, port, cert: client.cert, key: client.key, maxVersion: 'TLSv1.2', rejectUnauthorized: false });
      expect(old).toMatchObject({ error: expect.stringMatching(/protocol version/) });

      // A wrong pinned certificate: refused before any request, and the message says so.
      const wrong = new LxdClient({ ...endpoint, serverCert: impostor.cert }, { timeoutMs: 5_000 });
      const err = await wrong.server().then(
        () => null,
        (e: unknown) => e as Error,
      );
      c.close();
      wrong.close();
      expect(err?.message).toBe(
        `LXD ${url} /1.0: the server's certificate is not the pinned server certificate (SHA-256 ${certFingerprint(impostor.cert)}): TLS verification failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`,
      );
    });
    figures.httpsTestMs = Date.now() - t0;
    console.log(`LXD over HTTPS (${url}): trust, reads, events over wss://, TLS 1.3 and the pin checked in ${figures.httpsTestMs} ms`);
  });
});

describe.skipIf(!ovnReady)('herald LXD source: OVN network with NAT off, real OVN, FRR upstream', () => {
  const lab = new Lab();
  let hvd: LxdDaemon | undefined;
  let h: DaemonProcess | undefined;
  const figures: Record<string, number> = {};
  /** Set by the first test, used by the active-chassis one. */
  let router = '';
  let heraldYaml = (_extra: string): string => '';
  let configPath = '';
  let heraldSocket = '';
  let frr: FrrRouter;

  afterAll(async () => {
    h?.kill();
    await hvd?.stop();
    await lab.close();
    console.log(`LXD + OVN end-to-end figures (ms): ${JSON.stringify(figures)}`);
  });

  it('announces the OVN subnet and an OVN NIC routes.external with the OVN router as next hop', async () => {
    router = await lab.addNamespace('upstream');
    const ns = await lab.addNamespace('hv');
    // Uplink L2 for OVN (the hypervisor end goes to OVS, no address) and a separate BGP link.
    await lab.veth({ ns, ifname: 'upl' }, { ns: router, ifname: 'rtr0', addresses: ['203.0.113.1/24'] });
    const p2p = await pointToPoint(lab, router, ns, { v4Net: '192.0.2' });
    frr = (await startRouter(lab, 'frr', {
      name: 'upstream',
      ns: router,
      asn: ROUTER_AS,
      routerId: p2p.aV4,
      peers: [{ address: p2p.bV4, asn: HV_AS[0]!, passive: true, families: ['ipv4'], holdTime: 9 }],
    })) as FrrRouter;
    let t = Date.now();
    const ovn = await OvnStack.start(lab, { ns, hostname: 'hv1' });
    hvd = await LxdDaemon.start(lab, { ovn });
    figures.ovnAndLxdReadyMs = Date.now() - t;
    const d = hvd;
    await d.createDirPool();
    await d.createUplink('UPLINK', 'upl', { ipv4Gateway: '203.0.113.1/24', ipv4OvnRanges: '203.0.113.10-203.0.113.20', ipv4Routes: '198.51.100.0/24' });
    t = Date.now();
    const ovnRouter = await d.createOvnNetwork('net1', 'UPLINK', { 'ipv4.address': '198.51.100.1/25', 'ipv4.nat': 'false', 'ipv6.address': 'none' });
    figures.ovnNetworkMs = Date.now() - t;
    expect(ovnRouter).toBe('203.0.113.10');
    await d.createContainer('c2', {
      network: 'net1',
      ipv4Address: '198.51.100.2',
      ipv4RoutesExternal: ['198.51.100.200/32'],
      initCommands: ['ip addr add 198.51.100.2/25 dev eth0', 'ip link set dev eth0 up', 'ip route add default via 198.51.100.1'],
    });

    const dir = await lab.tempDir('lxd-herald-ovn');
    configPath = join(dir, 'herald.yaml');
    heraldSocket = join(dir, 'herald.sock');
    heraldYaml = (extra) => heraldConfig(dir, p2p.bV4, HV_AS[0]!, p2p.aV4, d.socketPath, `\n  uplinks: [UPLINK]${extra}`);
    writeFileSync(configPath, heraldYaml(''));
    h = new DaemonProcess(ns, configPath, { name: 'herald-ovn' });
    await h.start();
    await frr.waitEstablished(p2p.bV4, 30_000);

    const vias = async (dest: string): Promise<string> => (await nsRun(router, 'ip', ['-4', 'route', 'show', dest])).stdout.trim();
    t = Date.now();
    const subnet = await waitFor(async () => ((await vias('198.51.100.0/25')).includes('via') ? vias('198.51.100.0/25') : undefined), 20_000, () => `no kernel route for the OVN subnet\n${h!.tail(10)}`, 20);
    figures.subnetInKernelMs = Date.now() - t;
    console.log(`LXD + OVN: ${subnet}`);
    expect(subnet).toMatch(/^198\.51\.100\.0\/25 (nhid \d+ )?via 203\.0\.113\.10 dev rtr0 proto bgp/);
    const fromFrr = (await frr.routes()).find((r) => r.prefix === '198.51.100.0/25');
    expect(fromFrr).toMatchObject({ peer: p2p.bV4, nextHop: '203.0.113.10' });

    await d.startInstance('c2');
    const ext = await waitFor(async () => ((await vias('198.51.100.200')).includes('via') ? vias('198.51.100.200') : undefined), 10_000, () => 'no kernel route for routes.external', 20);
    expect(ext).toMatch(/^198\.51\.100\.200 (nhid \d+ )?via 203\.0\.113\.10 dev rtr0 proto bgp/);
    // The announced route carries traffic: the router reaches the container through the OVN router.
    t = Date.now();
    const ping = await lab.exec(router, 'ping', ['-c', '1', '-w', '10', '198.51.100.2'], { allowFail: true });
    figures.firstPingMs = Date.now() - t;
    expect(ping.stdout).toContain('1 received');
  }, 90_000);

  it('announce_from: active-chassis follows ovn.chassis of the real OVN: announced by its host, withheld (with the reason) by another', async () => {
    const d = hvd!;
    const herald = h!;
    const OVN_ROUTES = ['198.51.100.0/25', '198.51.100.200/32'];
    const kernel = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const p of OVN_ROUTES) if ((await nsRun(router, 'ip', ['-4', 'route', 'show', p])).stdout.includes('via 203.0.113.10')) out.push(p);
      return out;
    };
    expect(await kernel()).toEqual(OVN_ROUTES);
    // What herald compares: the network's active chassis and LXD's server name (standalone: the host name).
    const unix = new LxdClient({ kind: 'unix', socket: d.socketPath });
    expect(await unix.networkState('default', 'net1')).toMatchObject({ ovn: { chassis: 'hv1' } });
    expect((await unix.server()).environment).toMatchObject({ server_name: 'hv1', server_clustered: false });
    unix.close();

    const reload = async (extra: string, want: string[]): Promise<number> => {
      writeFileSync(configPath, heraldYaml(extra));
      const mark = herald.mark();
      const t0 = Date.now();
      herald.signal('SIGHUP');
      await herald.waitLog((l) => l.msg === 'config reloaded', 10_000, mark);
      await waitFor(async () => ((await kernel()).join() === want.join() ? true : undefined), 10_000, () => `kernel has ${want.join() || 'nothing'}?\n${herald.tail(10)}`, 20);
      return Date.now() - t0;
    };
    // This host is told it is another chassis: both routes via the OVN router leave FRR and the kernel.
    figures.chassisOtherWithdrawMs = await reload('\n  announce_from: active-chassis\n  chassis_name: hv2', []);
    expect((await frr.routes()).filter((r) => OVN_ROUTES.includes(r.prefix))).toEqual([]);
    // The reason, from the source's explain over the same real LXD and the same config.
    const chassisReason = "OVN network net1's active chassis is hv1, not this host (hv2): the host of the active chassis announces it (announce_from: active-chassis)";
    const x = await routesJson<ExplainState>(heraldSocket, 'explain', '198.51.100.0/25');
    expect(x).toMatchObject({ wanted: false, announced: false, reason: `lxd:default/net1:ovn.subnet: ${chassisReason}` });
    const lx = await routesJson<LxdState>(heraldSocket, 'lxd');
    expect(lx.source).toMatchObject({ announceFrom: 'active-chassis', chassisName: 'hv2', serverName: 'hv1', routes: { derived: 0 } });
    expect(lx.routes.filter((r) => r.reason === chassisReason).map((r) => `${r.prefix} ${r.origin.source}`).sort()).toEqual([
      '198.51.100.0/25 lxd:default/net1:ovn.subnet',
      '198.51.100.200/32 lxd:default/c2/eth0:routes.external',
    ]);
    const config = await loadConfig(configPath);
    expect(config.lxd).toMatchObject({ announceFrom: 'active-chassis', chassisName: 'hv2' });
    const src = lxdSourceFromConfig(config.lxd!, () => {});
    try {
      await src.start();
      for (const [prefix, rule, at] of [
        ['198.51.100.0/25', 'ovn.subnet', { network: 'net1' }],
        ['198.51.100.200/32', 'routes.external', { instance: 'c2', device: 'eth0', network: 'net1' }],
      ] as const) {
        const x = src.explain(prefix);
        expect(x.announced).toEqual([]);
        expect(x.skipped).toEqual([
          {
            prefix,
            origin: { project: 'default', rule, ...at },
            reason: "OVN network net1's active chassis is hv1, not this host (hv2): the host of the active chassis announces it (announce_from: active-chassis)",
          },
        ]);
      }
    } finally {
      await src.stop();
    }
    // Without chassis_name this host is the LXD server name, hv1: the chassis host announces again.
    figures.chassisSelfAnnounceMs = await reload('\n  announce_from: active-chassis', OVN_ROUTES);
    expect((await frr.routes()).filter((r) => OVN_ROUTES.includes(r.prefix)).map((r) => `${r.prefix} ${r.nextHop}`).sort()).toEqual(
      OVN_ROUTES.map((p) => `${p} 203.0.113.10`),
    );
    console.log(`LXD + OVN active-chassis: other chassis → withdrawn in ${figures.chassisOtherWithdrawMs} ms after SIGHUP; own chassis → announced in ${figures.chassisSelfAnnounceMs} ms`);
  }, 60_000);
});
