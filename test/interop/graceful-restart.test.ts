// Issue 8, Must show 4: a planned restart of a single herald host (no
// survivors to fail over to) loses nothing. One host namespace runs nginx
// (answering on the anycast 198.51.100.80 and on 127.0.0.1) and `herald run`
// with `graceful_restart: { on_stop: restart }`, behind FRR (bgpd + zebra,
// GR helper by default) in a router namespace; a client namespace sends 25
// HTTP requests a second, each on a new connection, to the anycast address.
// Each case is one planned restart (`plannedRestart()`; a case with BFD can be
// added as one more `it` with its own peer settings):
//   - SIGTERM without the RFC 8538 N bit: the session closes with no
//     NOTIFICATION; FRR marks the route stale and keeps it in the kernel; the
//     new process sends the Restart State bit, re-announces after the first
//     check and releases End-of-RIB; the kernel route is never missing and no
//     request fails;
//   - SIGUSR2 with the N bit exchanged: Cease/Administrative Reset "herald
//     restarting" (not a Hard Reset) keeps the route the same way; herald
//     exits 75 (for systemd's RestartForceExitStatus);
//   - `routes restart` (the CLI, through the control API) with nginx gone
//     while herald restarts: the first check fails, nothing is re-announced,
//     and FRR flushes the stale route at End-of-RIB.
// Figures printed: requests sent and lost, herald's down time, time to
// End-of-RIB, and the withdrawal delay after End-of-RIB.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, bridgeTopology, labReady, nsRun, pointToPoint, sleep, startRouter, type BridgeTopology, type LabProcess } from './lab/index.js';
import type { FrrRouter } from './lab/frr.js';
import { DaemonProcess, type LogLine } from './support/daemon-process.js';
import { nextHops, waitHops, watchRoute } from './support/route-watch.js';
import { CLIENT_JS, DEMO, nginxConf, parseClient } from '../../src/demo/lab-files.js';

const WHAT = 'planned restart (graceful restart) behind FRR';

function nginxReady(): boolean {
  try {
    accessSync('/usr/sbin/nginx', constants.X_OK);
    return true;
  } catch {
    const msg = `${WHAT}: cannot run: /usr/sbin/nginx missing: apt-get install nginx-light`;
    if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: a missing daemon is a failure, not a skip)`);
    console.warn(`\n*** SKIPPING ${msg} ***\n`);
    return false;
  }
}

const ready = labReady(['frr'], WHAT) && nginxReady();
const ROUTES_BIN = fileURLToPath(new URL('../../src/bin/routes.cjs', import.meta.url));

const ROUTER_AS = 65000;
const HOST_AS = 65011;
const VIP = DEMO.anycast;
const RATE = 25;
const RESTART_TIME = 30;

interface HostConfig {
  /** RFC 8538 N bit. */
  notification: boolean;
  /** Extra keys for the router peer, e.g. a BFD setting in a later case. */
  peerExtra?: string;
}

function heraldYaml(dir: string, routerV4: string, routerId: string, c: HostConfig): string {
  return `# herald planned-restart test host
router_id: ${routerId}
asn: ${HOST_AS}
listen: { address: "::", port: 179 }
api: { socket: ${dir}/herald.sock }
graceful_restart: { restart_time: ${RESTART_TIME}s, on_stop: restart, notification: ${c.notification} }
peers:
  - { name: router, address: ${routerV4}, asn: ${ROUTER_AS}, families: [ipv4], hold_time: 9${c.peerExtra ? `, ${c.peerExtra}` : ''} }
services:
  - name: www
    prefixes: [${VIP}/32]
    checks:
      - http: { url: "http://127.0.0.1/", status: 200, body: "hello from" }
    interval: 500ms
    rise: 2
    fall: 2
    jitter: 0s
drain: { period: 0s, message: "graceful restart test done" }
`;
}

const isLine = (msg: string) => (l: LogLine) => l.msg === msg;

describe.skipIf(!ready)('planned restart of a single host: routers keep its routes, a client loses nothing', () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: FrrRouter;
  let client = '';
  let hostNs = '';
  let hostV4 = '';
  let dir = '';
  let configPath = '';
  let nginx: LabProcess | null = null;
  let herald: DaemonProcess;
  let generation = 0;

  const startNginx = (): LabProcess =>
    lab.spawn(hostNs, 'nginx', '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { logFile: join(dir, 'nginx.out') });
  const newHerald = (): DaemonProcess => new DaemonProcess(hostNs, configPath, { name: `herald#${++generation}` });
  const routeOn = (): Promise<string[]> => nextHops(topo.router, VIP);
  /** FRR's view of the host's path: stale (kept by Graceful Restart) or not; null when it has none. */
  const frrStale = async (): Promise<boolean | null> => {
    const j = JSON.parse((await frr.vtysh([`show bgp ipv4 unicast ${VIP}/32 json`])).stdout) as { paths?: { stale?: boolean }[] };
    const p = j.paths?.[0];
    return p ? p.stale === true : null;
  };
  const frrGr = async (): Promise<{ rBit?: boolean; nBit?: boolean }> => {
    const j = JSON.parse((await frr.vtysh([`show bgp neighbors ${hostV4} json`])).stdout) as Record<string, { gracefulRestartInfo?: { rBit?: boolean; nBit?: boolean } }>;
    return j[hostV4]?.gracefulRestartInfo ?? {};
  };

  beforeAll(async () => {
    topo = await bridgeTopology(lab, 1, { roles: ['host1'] });
    await lab.enableForwarding(topo.router);
    client = await lab.addNamespace('client');
    const link = await pointToPoint(lab, topo.router, client, { index: 0, ifA: 'cl0', ifB: 'eth0', v4Net: '203.0.113' });
    await lab.ip(client, ['-4', 'route', 'add', 'default', 'via', link.aV4]);
    const s = topo.spokes[0]!;
    hostNs = s.ns;
    hostV4 = s.v4;
    await lab.addAddress(hostNs, 'lo', `${VIP}/32`);
    await lab.ip(hostNs, ['-4', 'route', 'add', 'default', 'via', topo.routerV4]);
    frr = (await startRouter(lab, 'frr', {
      name: 'gr-upstream',
      ns: topo.router,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      // BFD configured from the start: FRR acts only on a session that was Up,
      // so the cases before the BFD case run as without it.
      peers: [{ address: hostV4, asn: HOST_AS, passive: true, families: ['ipv4'], holdTime: 9, localAddress: topo.routerV4, bfd: { minTxMs: 100, minRxMs: 100, multiplier: 3 } }],
    })) as FrrRouter;
    dir = await lab.tempDir('gr-host1');
    chmodSync(dir, 0o755); // nginx workers run as nobody
    mkdirSync(join(dir, 'tmp'));
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, 'host1'));
    nginx = startNginx();
    configPath = join(dir, 'herald.yaml');
    writeFileSync(configPath, heraldYaml(dir, topo.routerV4, hostV4, { notification: false }));
    herald = newHerald();
    await herald.start();
    await waitHops(topo.router, VIP, (h) => h.includes(hostV4), Date.now(), 20_000);
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  /**
   * One planned restart while the client runs: stop herald with `signal`,
   * optionally change the world while it is down (`whileDown`), start the next
   * process, wait for its End-of-RIB; return the client's results and timings.
   */
  async function plannedRestart(trigger: 'SIGTERM' | 'SIGUSR2' | 'routes restart', opts: { whileDown?: () => Promise<void>; withClient?: boolean } = {}) {
    const cdir = await lab.tempDir(`gr-client-${generation}`);
    writeFileSync(join(cdir, 'client.mjs'), CLIENT_JS);
    const out = join(cdir, 'client.jsonl');
    const loop =
      opts.withClient === false
        ? null
        : lab.spawn(client, 'gr-client', process.execPath, [join(cdir, 'client.mjs'), JSON.stringify({ url: `http://${VIP}/`, count: 0, gapMs: 1000 / RATE, timeoutMs: 1000 })], { logFile: out });
    await sleep(1000);
    const watch = watchRoute(topo.router, VIP, hostV4);
    const old = herald;
    const tStop = Date.now();
    let cli: string | null = null;
    if (trigger === 'routes restart') cli = (await nsRun(hostNs, process.execPath, [ROUTES_BIN, '--socket', join(dir, 'herald.sock'), 'restart'])).stdout;
    else old.signal(trigger);
    const exit = await old.exited;
    const tExit = Date.now();
    const staleWhileDown = await frrStale();
    const kernelWhileDown = await routeOn();
    await opts.whileDown?.();
    herald = newHerald();
    await herald.start();
    const tStarted = Date.now();
    const afterRestart = herald.lines.find(isLine('starting after a planned restart'));
    const eor = await herald.waitLog(isLine('routes complete: End-of-RIB released'), 15_000);
    await sleep(1000);
    await loop?.stop();
    const route = await watch.stop();
    const results = loop ? parseClient(readFileSync(out, 'utf8')) : [];
    return {
      exit,
      cli,
      staleWhileDown,
      kernelWhileDown,
      afterRestart,
      eor,
      route,
      results,
      ms: { down: tStarted - tStop, exit: tExit - tStop, eor: eor.readAt - tStop, window: Date.now() - tStop },
    };
  }

  it('SIGTERM (on_stop: restart), no N bit: closed without NOTIFICATION, FRR keeps the route stale, 0 requests lost', async () => {
    const before = await frrGr();
    const notesBefore = ((await frr.logText()).match(/NOTIFICATION: received from neighbor/g) ?? []).length;
    const r = await plannedRestart('SIGTERM');
    const lost = r.results.filter((x) => !x.ok);
    console.log(
      `graceful restart (SIGTERM, no N bit): ${r.results.length} requests sent at ${RATE}/s, ${lost.length} lost; ` +
        `herald exited after ${r.ms.exit} ms, next process up after ${r.ms.down} ms, End-of-RIB ${r.ms.eor} ms after the stop ` +
        `(${r.eor.ms as number} ms after its start); kernel route missing ${r.route.gaps.length} times in ${r.route.samples} samples`,
    );
    expect(r.exit).toEqual({ code: 0, signal: null });
    expect(before.rBit).toBe(false);
    expect(r.staleWhileDown).toBe(true);
    expect(r.kernelWhileDown).toEqual([hostV4]);
    expect(r.afterRestart).toBeDefined();
    expect(r.eor.restarting).toBe(true);
    expect(r.route.gaps).toEqual([]);
    expect(r.route.samples).toBeGreaterThan(20);
    expect(r.results.length).toBeGreaterThanOrEqual(Math.floor((r.ms.window / 1000) * RATE * 0.7));
    expect(lost).toEqual([]);
    // The new session carries the Restart State bit, and no NOTIFICATION reached FRR.
    expect((await frrGr()).rBit).toBe(true);
    expect(((await frr.logText()).match(/NOTIFICATION: received from neighbor/g) ?? []).length).toBe(notesBefore);
    expect(await frrStale()).toBe(false);
  });

  it('SIGUSR2 with the RFC 8538 N bit: Cease/Administrative Reset (not a Hard Reset) keeps the route, exit 75, 0 requests lost', async () => {
    // Offer the N bit: the reload resets the session (a GR capability change), which flushes once.
    writeFileSync(configPath, heraldYaml(dir, topo.routerV4, hostV4, { notification: true }));
    const mark = herald.mark();
    herald.signal('SIGHUP');
    await herald.waitLog(isLine('config reloaded'), 10_000, mark);
    await herald.waitLog((l) => l.msg === 'session established' && l.index >= mark, 20_000, mark);
    await waitHops(topo.router, VIP, (h) => h.includes(hostV4), Date.now(), 20_000);
    expect((await frrGr()).nBit).toBe(true);
    const r = await plannedRestart('SIGUSR2');
    const lost = r.results.filter((x) => !x.ok);
    console.log(
      `graceful restart (SIGUSR2, N bit): ${r.results.length} requests sent at ${RATE}/s, ${lost.length} lost; ` +
        `exit code ${r.exit.code}, next process up after ${r.ms.down} ms, End-of-RIB ${r.ms.eor} ms after the stop`,
    );
    expect(r.exit).toEqual({ code: 75, signal: null });
    expect(r.staleWhileDown).toBe(true);
    expect(r.route.gaps).toEqual([]);
    expect(lost).toEqual([]);
    expect(r.results.length).toBeGreaterThanOrEqual(Math.floor((r.ms.window / 1000) * RATE * 0.7));
    const log = await frr.logText();
    expect(log).toMatch(/NOTIFICATION: received from neighbor \S+ 6\/4 \(Cease\/Administrative Reset\) "herald restarting"/);
    expect(log).not.toMatch(/NOTIFICATION\(Hard Reset\): received/);
  });

  it('routes restart, the service down after the restart: nothing re-announced, FRR flushes the stale route at End-of-RIB', async () => {
    const r = await plannedRestart('routes restart', {
      withClient: false,
      whileDown: async () => {
        await nginx?.stop();
        nginx = null;
      },
    });
    const tEor = r.eor.readAt;
    const goneAfterEor = await waitHops(topo.router, VIP, (h) => !h.includes(hostV4), tEor, 5_000);
    const firstCheck = herald.lines.find((l) => l.msg === 'service health changed' && l.service === 'www');
    console.log(
      `graceful restart, service down afterwards: the route stayed (stale) until End-of-RIB ${r.ms.eor} ms after the stop, ` +
        `then left FRR's kernel table ${goneAfterEor} ms after herald released End-of-RIB`,
    );
    expect(r.exit).toEqual({ code: 75, signal: null });
    expect(r.cli).toContain('herald is restarting');
    expect(r.cli).toContain('peers that keep its routes meanwhile (Graceful Restart): router');
    expect(r.staleWhileDown).toBe(true);
    expect(r.kernelWhileDown).toEqual([hostV4]);
    // The first round failed: no state change (it starts down), so nothing was ever re-announced.
    expect(firstCheck).toBeUndefined();
    expect(goneAfterEor).toBeLessThan(3_000);
    expect(await frrStale()).toBeNull();
    // Bring the service back: an ordinary rise announces it again.
    nginx = startNginx();
    await waitHops(topo.router, VIP, (h) => h.includes(hostV4), Date.now(), 10_000);
  });

  it('with BFD (100 ms × 3 at both ends): SIGTERM (on_stop: restart) closes BGP, then says BFD AdminDown (RFC 5882 §3.2) rather than falling silent; FRR keeps the route, 0 requests lost', async () => {
    writeFileSync(configPath, heraldYaml(dir, topo.routerV4, hostV4, { notification: true, peerExtra: 'bfd: { min_tx: 100ms, min_rx: 100ms, multiplier: 3 }' }));
    const mark = herald.mark();
    herald.signal('SIGHUP');
    await herald.waitLog(isLine('config reloaded'), 10_000, mark);
    const bfdUp = async (): Promise<boolean> => (await frr.bfdPeers()).some((p) => p.peer === hostV4 && p.status === 'up');
    const t0 = Date.now();
    while (!(await bfdUp())) {
      if (Date.now() - t0 > 15_000) throw new Error(`FRR's BFD session with herald not up: ${JSON.stringify(await frr.bfdPeers())}`);
      await sleep(100);
    }
    await waitHops(topo.router, VIP, (h) => h.includes(hostV4), Date.now(), 20_000);
    const r = await plannedRestart('SIGTERM');
    const lost = r.results.filter((x) => !x.ok);
    const after = (await frr.bfdPeers()).find((p) => p.peer === hostV4);
    console.log(
      `graceful restart with BFD: ${r.results.length} requests sent at ${RATE}/s, ${lost.length} lost; next process up after ${r.ms.down} ms, ` +
        `End-of-RIB ${r.ms.eor} ms after the stop; kernel route missing ${r.route.gaps.length} times in ${r.route.samples} samples; FRR's BFD session now ${after?.status}`,
    );
    expect(r.exit.code).toBe(0);
    expect(r.staleWhileDown).toBe(true);
    expect(r.kernelWhileDown).toEqual([hostV4]);
    expect(r.route.gaps).toEqual([]);
    expect(lost).toEqual([]);
    expect(r.results.length).toBeGreaterThanOrEqual(Math.floor((r.ms.window / 1000) * RATE * 0.7));
    // FRR heard AdminDown from the stopping herald (its log names the remote diagnostic), not a Detection Time expiry.
    expect(await frr.logText()).not.toMatch(/BFD.*(control detection time expired|detection timeout)/i);
  });

  it('SIGINT still drains; with the N bit its Cease goes as a Hard Reset (RFC 8538), which FRR honours by flushing', async () => {
    const t0 = Date.now();
    herald.signal('SIGINT');
    expect(await herald.exited).toEqual({ code: 0, signal: null });
    const gone = await waitHops(topo.router, VIP, (h) => !h.includes(hostV4), t0, 5_000);
    const log = await frr.logText();
    console.log(`graceful restart test: SIGINT drain → route gone after ${gone} ms`);
    expect(log).toMatch(/NOTIFICATION\(Hard Reset\): received from neighbor \S+ 6\/2 \(Cease\/Administrative Shutdown\)/);
    expect(await frrStale()).toBeNull();
  });
});
