// Issue 13: herald on a real three-member LXD 5.0 cluster with OVN, FRR
// upstream. The lab (test/interop/lab/lxd-cluster.ts, README "LXD cluster"):
//   - router namespace: FRR (zebra, multipath) on br0 192.0.2.1/24 where the
//     members are .11-.13 (cluster addresses and BGP); the OVN uplink L2 brU
//     (203.0.113.1/25, OVN routers from .10); brT, the geneve underlay
//     (members 198.51.100.193-195 on their br-phy); a client at
//     203.0.113.130/30;
//   - OVN central (NB, SB, northd) in its own namespace; each member runs OVS
//     (userspace datapath) + ovn-controller + LXD, formed into one cluster
//     through the API (join tokens);
//   - uplink UPLINK (physical, ovn.ingress_mode=routed, ipv4.routes
//     198.51.100.0/25, ipv4.routes.anycast=true); net1..net3 (NAT'd, all
//     203.0.113.192/27) with dns1..dns3 on member1..member3, each with NIC
//     ipv4.address 203.0.113.194 and ipv4.routes.external 198.51.100.53/32
//     (the anycast service, busybox httpd answering its member's name); netg
//     (198.51.100.96/28, NAT off) for the gateway move. netN's gateway chassis
//     is pinned to memberN (HA chassis priority), as an anycast site would be;
//   - herald (`herald run`, lxd source on its member's socket) on each member.
// Shown, with the figures printed:
//   1. FRR's kernel has 198.51.100.53/32 with 3 next hops, the OVN routers'
//      uplink addresses of net1..net3; the client gets answers from the members;
//   2. `lxc cluster evacuate member2` (instances cluster.evacuate=stop):
//      member2's next hop leaves; timed against the API reporting the member
//      Evacuated (LXD 5.0.2 sends no lifecycle event for it); `lxc cluster
//      restore` brings it back;
//   3. dns3 stopped: only its next hop leaves;
//   4. announce_from: active-chassis + ovn_sb (SIGHUP): netg's subnet comes
//      only from its active chassis' member; the gateway moved by HA chassis
//      priority → the announcing member changes within 1 s of the southbound
//      database saying so (timed by ovsdb-client monitor, OVS's own client);
//   5. member3 dies (its link cut, then herald and LXD SIGKILLed): its route
//      leaves FRR within the BFD bound (BFD 100 ms × 3 with FRR bfdd).
// At each step `routes explain` and `routes lxd` on every member (the real CLI
// on herald's socket) say what is announced and why the rest is not.

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Lab,
  LxdCluster,
  OvnCentral,
  OvnStack,
  bridgeTopology,
  labReady,
  lxdReady,
  nsRun,
  pointToPoint,
  sleep,
  startRouter,
  waitFor,
  type BridgeTopology,
} from './lab/index.js';
import type { FrrRouter } from './lab/frr.js';
import { DaemonProcess } from './support/daemon-process.js';
import { routesJson } from './support/routes-cli.js';
import type { ExplainState, LxdState } from '../../src/state/index.js';

const WHAT = 'herald on a three-member LXD cluster with OVN';
const ready = labReady(['frr'], WHAT) && lxdReady(WHAT, { ovn: true });

const ROUTER_AS = 65000;
const MEMBERS = ['member1', 'member2', 'member3'] as const;
const AS = [65031, 65032, 65033];
const ANYCAST = '198.51.100.53/32';
const ANYCAST_IP = '198.51.100.53';
const NETG = '198.51.100.96/28';
/** BGP hold time between each herald and FRR (keepalive 1 s). */
const HOLD_S = 3;
/** BFD between each herald and FRR (issue 8): a Detection Time of 300 ms. */
const BFD = { minTxMs: 100, minRxMs: 100, multiplier: 3 };
/**
 * Bound for a member's death, from its link going down: no FIN or RST
 * arrives and only BFD tells FRR (300 ms Detection Time; issue 8's target
 * 0.35 s to the kernel route). Generous: this lab runs three LXD daemons and
 * OVN on two cores, and the member's LXD is killed meanwhile (measured here
 * 0.6–1.0 s from the start of the kill sequence). Without BFD it would be
 * the hold time plus FRR's 1 s timer granularity.
 */
const DEATH_BOUND_MS = 1_500;
/** The issue's target for evacuation and gateway moves (printed with each figure). */
const MOVE_TARGET_MS = 1000;
/**
 * What the test asserts: a generous multiple of the target (docs/testing.md),
 * as this 2-core machine is shared with other test runs; the figures printed
 * are the measurement.
 */
const MOVE_BOUND_MS = 3 * MOVE_TARGET_MS;
const POLL_MS = 10;

function heraldYaml(dir: string, i: number, routerV4: string, memberV4: string, socket: string, extra = ''): string {
  return `# herald on ${MEMBERS[i]} (LXD cluster test)
router_id: ${memberV4}
asn: ${AS[i]}
listen: { address: "::", port: 179 }
api: { socket: ${join(dir, 'herald.sock')} }
peers:
  - { name: upstream, address: ${routerV4}, asn: ${ROUTER_AS}, hold_time: ${HOLD_S}, connect_retry: 1s, bfd: { min_tx: ${BFD.minTxMs}ms, min_rx: ${BFD.minRxMs}ms, multiplier: ${BFD.multiplier} } }
lxd:
  socket: ${socket}
  uplinks: [UPLINK]
  resync_interval: 0s${extra}
`;
}

describe.skipIf(!ready)(WHAT, () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let client = '';
  let frr: FrrRouter;
  let central: OvnCentral;
  let cluster: LxdCluster | undefined;
  const herald: DaemonProcess[] = [];
  const sockets: string[] = [];
  const configs: string[] = [];
  const dirs: string[] = [];
  /** OVN router uplink address of net1..net3 and netg. */
  const router: Record<string, string> = {};
  let sbMonitor: ChildProcess | undefined;
  const figures: Record<string, number> = {};
  const t0 = Date.now();

  const memberV4 = (i: number): string => topo.spokes[i]!.v4;

  /** Next hops of the router namespace's kernel route for the anycast address, sorted. */
  async function vias(): Promise<string[]> {
    const r = await nsRun(topo.router, 'ip', ['-4', 'route', 'show', ANYCAST_IP]);
    return [...r.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
  }
  async function viasUntil(want: string[], boundMs: number): Promise<number> {
    const end = Date.now() + boundMs;
    const w = [...want].sort().join();
    for (;;) {
      const v = await vias();
      if (v.join() === w) return Date.now();
      if (Date.now() > end) throw new Error(`kernel route ${ANYCAST} via ${v.join(', ') || 'nothing'}, wanted ${w || 'nothing'}`);
      await sleep(POLL_MS);
    }
  }
  /** The members (by BGP peer) FRR has a path for `prefix` from. */
  async function frrPeers(prefix: string): Promise<string[]> {
    const r = await frr.vtysh([`show bgp ipv4 unicast ${prefix} json`], true);
    const j = JSON.parse(r.stdout || '{}') as { paths?: { peer?: { peerId?: string } }[] };
    return (j.paths ?? []).map((p) => MEMBERS[topo.spokes.findIndex((s) => s.v4 === p.peer?.peerId)] ?? `?${p.peer?.peerId}`).sort();
  }
  async function explain(i: number, prefix: string): Promise<ExplainState> {
    return routesJson<ExplainState>(sockets[i]!, 'explain', prefix);
  }
  async function lxdState(i: number): Promise<LxdState> {
    return routesJson<LxdState>(sockets[i]!, 'lxd');
  }
  /** What member i's herald says about the anycast route: announced via which next hop, or the reason it is not. */
  async function anycastStory(i: number): Promise<string> {
    const x = await explain(i, ANYCAST);
    const src = x.sources.find((s) => s.source === `lxd:default/dns${i + 1}/eth0:routes.external`);
    if (src === undefined) return `no origin (${x.reason ?? ''})`;
    return src.wants ? `announced via ${src.lxd?.nextHop ?? '?'}` : `skipped: ${src.reason ?? ''}`;
  }
  async function client200(): Promise<string | null> {
    const r = await nsRun(client, 'curl', ['-s', '--max-time', '3', `http://${ANYCAST_IP}/`], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : null;
  }
  /** Reload every live herald with `extra` lxd keys (SIGHUP) and wait for each to say so. */
  async function reloadAll(extra: string, members: number[]): Promise<void> {
    await Promise.all(
      members.map(async (i) => {
        writeFileSync(configs[i]!, heraldYaml(dirs[i]!, i, topo.routerV4, memberV4(i), cluster!.members[i]!.socketPath, extra));
        const mark = herald[i]!.mark();
        herald[i]!.signal('SIGHUP');
        await herald[i]!.waitLog((l) => l.msg === 'config reloaded', 10_000, mark);
      }),
    );
  }

  beforeAll(async () => {
    topo = await bridgeTopology(lab, 3, { roles: [...MEMBERS] });
    const R = topo.router;
    await lab.enableForwarding(R);
    for (const [br, addr] of [
      ['brU', '203.0.113.1/25'],
      ['brT', null],
    ] as const) {
      await lab.ip(R, ['link', 'add', br, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
      if (addr !== null) await lab.addAddress(R, br, addr);
      await lab.ip(R, ['link', 'set', 'dev', br, 'up']);
    }
    for (const [i, s] of topo.spokes.entries()) {
      await lab.veth({ ns: s.ns, ifname: 'upl' }, { ns: R, ifname: `u${i + 1}` });
      await lab.ip(R, ['link', 'set', 'dev', `u${i + 1}`, 'master', 'brU']);
      await lab.veth({ ns: s.ns, ifname: 'tun' }, { ns: R, ifname: `t${i + 1}` });
      await lab.ip(R, ['link', 'set', 'dev', `t${i + 1}`, 'master', 'brT']);
    }
    client = await lab.addNamespace('client');
    const p2p = await pointToPoint(lab, R, client, { index: 32, v4Net: '203.0.113', ifA: 'cl0', ifB: 'eth0' });
    await lab.ip(client, ['route', 'add', 'default', 'via', p2p.aV4]);
    await nsRun(client, 'ethtool', ['-K', 'eth0', 'tx', 'off']);

    let t = Date.now();
    central = await OvnCentral.start(lab);
    const ovn = await Promise.all(
      topo.spokes.map((s, i) => OvnStack.start(lab, { ns: s.ns, hostname: MEMBERS[i], central, encap: { ifname: 'tun', cidr: `198.51.100.${193 + i}/26` } })),
    );
    figures.ovnReadyMs = Date.now() - t;
    t = Date.now();
    cluster = await LxdCluster.form(
      lab,
      topo.spokes.map((s, i) => ({ name: MEMBERS[i]!, ns: s.ns, address: s.v4, ovn: ovn[i]! })),
      { central },
    );
    figures.clusterFormMs = Date.now() - t;
    const c = cluster;
    t = Date.now();
    await c.createDirPool(lab);
    await c.createUplink('UPLINK', 'upl', {
      'ipv4.gateway': '203.0.113.1/25',
      'ipv4.ovn.ranges': '203.0.113.10-203.0.113.20',
      'ipv4.routes': '198.51.100.0/25',
      // Routed ingress with anycast: LXD lets the same routes.external live on
      // several NICs (otherwise "External subnet ... overlaps with another
      // OVN network or NIC") and leaves routing them to the upstream router.
      'ovn.ingress_mode': 'routed',
      'ipv4.routes.anycast': 'true',
      'dns.nameservers': '203.0.113.1',
    });
    for (const n of ['net1', 'net2', 'net3']) router[n] = await c.createOvnNetwork(n, 'UPLINK', { 'ipv4.address': '203.0.113.193/27', 'ipv4.nat': 'true', 'ipv6.address': 'none' });
    router['netg'] = await c.createOvnNetwork('netg', 'UPLINK', { 'ipv4.address': '198.51.100.97/28', 'ipv4.nat': 'false', 'ipv6.address': 'none' });
    figures.networksMs = Date.now() - t;
    // Pin netN's gateway to memberN, as an operator runs one anycast site per host.
    for (const [i, n] of (['net1', 'net2', 'net3'] as const).entries()) {
      await central.nbctl(['ha-chassis-group-add-chassis', await haGroupOf(central, router[n]!), MEMBERS[i]!, '32000']);
    }
    t = Date.now();
    await Promise.all(
      c.members.map(async (m, i) => {
        const name = `dns${i + 1}`;
        await m.createContainer(name, {
          target: MEMBERS[i],
          network: `net${i + 1}`,
          ipv4Address: '203.0.113.194',
          ipv4RoutesExternal: [ANYCAST],
          config: { 'cluster.evacuate': 'stop' },
          initCommands: [
            'ip addr add 203.0.113.194/27 dev eth0',
            'ip link set dev eth0 up',
            'ip route add default via 203.0.113.193',
            `ip addr add ${ANYCAST_IP}/32 dev lo`,
            'mkdir -p /www',
            `echo ${MEMBERS[i]} > /www/index.html`,
            'busybox httpd -p 80 -h /www',
          ],
        });
        await m.startInstance(name);
        await m.txChecksumOff(name);
      }),
    );
    figures.instancesMs = Date.now() - t;

    frr = (await startRouter(lab, 'frr', {
      name: 'upstream',
      ns: R,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      peers: topo.spokes.map((s, i) => ({ address: s.v4, asn: AS[i]!, passive: true, families: ['ipv4' as const], holdTime: HOLD_S, localAddress: topo.routerV4, bfd: BFD })),
    })) as FrrRouter;
    for (const [i, s] of topo.spokes.entries()) {
      const dir = await lab.tempDir(`lxdc-herald${i + 1}`);
      dirs.push(dir);
      configs.push(join(dir, 'herald.yaml'));
      sockets.push(join(dir, 'herald.sock'));
      writeFileSync(configs[i]!, heraldYaml(dir, i, topo.routerV4, s.v4, c.members[i]!.socketPath));
      herald.push(new DaemonProcess(s.ns, configs[i]!, { name: `herald-${MEMBERS[i]}` }));
    }
    await Promise.all(herald.map((h) => h.start()));
    await Promise.all(topo.spokes.map((s) => frr.waitEstablished(s.v4, 30_000)));
    figures.setupMs = Date.now() - t0;
  }, 240_000);

  afterAll(async () => {
    if (sbMonitor?.pid !== undefined && sbMonitor.exitCode === null) sbMonitor.kill('SIGKILL');
    for (const h of herald) h.kill();
    await cluster?.stop();
    await lab.close();
    figures.totalMs = Date.now() - t0;
    console.log(`LXD cluster figures (ms): ${JSON.stringify(figures)}`);
  }, 180_000);

  it('anycast: the same routes.external on three members is a 3-way multipath route via the OVN routers; the client gets answers', async () => {
    const nets = [router['net1']!, router['net2']!, router['net3']!];
    expect(new Set(nets).size).toBe(3);
    await viasUntil(nets, 20_000);
    const text = (await nsRun(topo.router, 'ip', ['-4', 'route', 'show', ANYCAST_IP])).stdout;
    console.log(`LXD cluster anycast: kernel route\n${text.trim()}`);
    expect(text).toMatch(/proto bgp/);
    expect((await frrPeers(ANYCAST)).join()).toBe(MEMBERS.join());
    // Each member announces its own instance via its own network's router.
    for (const i of [0, 1, 2]) {
      expect(await anycastStory(i)).toBe(`announced via ${nets[i]}`);
      const lx = await lxdState(i);
      expect(lx.source).toMatchObject({ status: 'connected', serverName: MEMBERS[i], clustered: true, announceFrom: 'all-members' });
      // Another member's instance is not this member's to announce: not even listed.
      expect(lx.routes.filter((r) => r.prefix === ANYCAST).map((r) => r.origin.instance)).toEqual([`dns${i + 1}`]);
    }
    // The client, through the router's L4-hashed multipath, reaches the service on several members.
    const answers: string[] = [];
    for (let k = 0; k < 12; k++) answers.push((await client200()) ?? 'no answer');
    console.log(`LXD cluster anycast: 12 requests answered by ${answers.join(', ')}`);
    expect(answers.every((a) => (MEMBERS as readonly string[]).includes(a))).toBe(true);
    expect(new Set(answers).size).toBeGreaterThanOrEqual(2);
  });

  it(`lxc cluster evacuate member2: its next hop leaves FRR within ${MOVE_TARGET_MS} ms of LXD reporting it (asserted: ${MOVE_BOUND_MS} ms); restore brings it back`, async () => {
    const c = cluster!;
    const nets = [router['net1']!, router['net2']!, router['net3']!];
    // LXD 5.0.2 has no lifecycle event for evacuate or restore (its actions
    // are cluster-member-added/removed/renamed/updated only): "LXD reports
    // it" is the member's status in the API, polled here, and the operation
    // ending.
    const statusAt = (want: string): Promise<number> =>
      waitFor(async () => ((await c.memberStatus('member2').catch(() => '')) === want ? Date.now() : undefined), 60_000, () => `member2 never ${want}`, 10);
    const ev = await c.members[1]!.openEvents(['lifecycle', 'operation']);
    const gone = viasUntil([nets[0]!, nets[2]!], 60_000);
    const flipped = statusAt('Evacuated');
    const tCall = Date.now();
    await c.evacuate('member2');
    const tReturned = Date.now();
    const [tGone, tStatus] = await Promise.all([gone, flipped]);
    figures.evacuateCallMs = tReturned - tCall;
    figures.evacuateWithdrawAfterStatusMs = tGone - tStatus;
    figures.evacuateWithdrawAfterCallReturnedMs = tGone - tReturned;
    console.log(
      `LXD cluster evacuate member2: next hop gone ${figures.evacuateWithdrawAfterStatusMs} ms (target ${MOVE_TARGET_MS}) after the API said Evacuated, ` +
        `${figures.evacuateWithdrawAfterCallReturnedMs} ms after lxc cluster evacuate returned (the call took ${figures.evacuateCallMs} ms)`,
    );
    const src2 = (await lxdState(1)).source;
    const timeline = `load ${(await import('node:os')).loadavg().join(' ')}; member2 herald: reads ${src2.reads}, last read ${src2.lastReadMs} ms at ${Date.parse(src2.lastReadAt ?? '') - tCall}\n` + ev.events.map((e) => `${e.receivedAt - tCall} ${e.type} ${e.metadata.action ?? ''}${String(e.metadata['description'] ?? '')} ${String(e.metadata['status'] ?? '')}`).join('\n');
    await ev.close();
    expect(figures.evacuateWithdrawAfterStatusMs, `status at ${tStatus - tCall}, gone at ${tGone - tCall}\n${timeline}\n${herald[1]!.tail(60).split('\n').map((l) => l.replace(/"time":"([^"]+)"/, (_m, t: string) => `"t":${Date.parse(t) - tCall}`)).join('\n')}`).toBeLessThanOrEqual(MOVE_BOUND_MS);
    expect(figures.evacuateWithdrawAfterCallReturnedMs).toBeLessThanOrEqual(MOVE_BOUND_MS);
    expect(await c.members[1]!.instanceStatus('dns2')).toBe('Stopped');
    expect((await frrPeers(ANYCAST)).join()).toBe('member1,member3');
    // member2's herald says why; the others still announce theirs.
    expect(await anycastStory(1)).toBe('skipped: this member (member2) is evacuated: instance routes are withdrawn until it is restored');
    expect(await anycastStory(0)).toBe(`announced via ${nets[0]}`);
    expect(await anycastStory(2)).toBe(`announced via ${nets[2]}`);
    expect(await explain(1, ANYCAST)).toMatchObject({ wanted: false, announced: false });

    const back = viasUntil(nets, 60_000);
    const online = statusAt('Online');
    const tRestore = Date.now();
    await c.restore('member2');
    const tRestored = Date.now();
    const [tBack, tOnline] = await Promise.all([
      back.catch(async (e: Error) => {
        const cfg = await c.members[1]!.get<{ status: string; config: Record<string, string> }>('/1.0/instances/dns2');
        throw new Error(`${e.message}; dns2 is ${cfg.status}, volatile: ${JSON.stringify(Object.fromEntries(Object.entries(cfg.config).filter(([k]) => k.startsWith('volatile.'))))}`);
      }),
      online,
    ]);
    figures.restoreCallMs = tRestored - tRestore;
    figures.restoreAnnounceAfterStatusMs = tBack - tOnline;
    console.log(`LXD cluster restore member2: next hop back ${figures.restoreAnnounceAfterStatusMs} ms after the API said Online (the call took ${figures.restoreCallMs} ms)`);
    expect(await anycastStory(1)).toBe(`announced via ${nets[1]}`);
    await c.members[1]!.txChecksumOff('dns2');
  });

  it('an instance stopped on member3: only its next hop leaves', async () => {
    const c = cluster!;
    const nets = [router['net1']!, router['net2']!, router['net3']!];
    const gone = viasUntil([nets[0]!, nets[1]!], 30_000);
    const tStop = Date.now();
    await c.members[2]!.stopInstance('dns3');
    const tReturned = Date.now();
    const tGone = await gone;
    figures.stopWithdrawAfterReturnMs = tGone - tReturned;
    console.log(`LXD cluster: dns3 stopped → its next hop gone ${tGone - tStop} ms after lxc stop started (${figures.stopWithdrawAfterReturnMs} ms after it returned)`);
    expect(await anycastStory(2)).toBe('skipped: instance dns3 (project default) is Stopped: only Running or Ready instances are announced');
    expect(await anycastStory(0)).toBe(`announced via ${nets[0]}`);
    expect(await anycastStory(1)).toBe(`announced via ${nets[1]}`);
    expect(await client200()).toMatch(/^member[12]$/);
    await c.members[2]!.startInstance('dns3');
    await c.members[2]!.txChecksumOff('dns3');
    await viasUntil(nets, 30_000);
    expect(await anycastStory(2)).toBe(`announced via ${nets[2]}`);
  });

  it(`announce_from: active-chassis with ovn_sb: an OVN gateway moved by chassis priority moves the announcing member within ${MOVE_TARGET_MS} ms (asserted: ${MOVE_BOUND_MS} ms)`, async () => {
    const c = cluster!;
    await reloadAll(`\n  announce_from: active-chassis\n  ovn_sb: ${central.sbConnection}`, [0, 1, 2]);
    const group = await haGroupOf(central, router['netg']!);
    const port = `cr-${group}-lr-lrp-ext`;
    const chassisOf = async (): Promise<string> => {
      const uuid = (await central.sbctl(['--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port=${port}`])).stdout.trim();
      return uuid === '' ? '' : (await central.sbctl(['--bare', '--columns=hostname', 'list', 'Chassis', uuid])).stdout.trim();
    };
    const from = await chassisOf();
    expect(MEMBERS).toContain(from);
    // What LXD reports is what the southbound database says.
    expect((await c.members[0]!.get<{ ovn?: { chassis?: string } }>('/1.0/networks/netg/state')).ovn?.chassis).toBe(from);
    await waitFor(async () => ((await frrPeers(NETG)).join() === from ? true : undefined), 20_000, () => `${NETG} not from ${from} alone`, 20);
    for (const [i, m] of MEMBERS.entries()) {
      const st = await lxdState(i);
      expect(st.source).toMatchObject({ announceFrom: 'active-chassis', chassisName: m });
      const r = st.routes.find((x) => x.prefix === NETG)!;
      if (m === from) expect(r).toMatchObject({ state: 'derived', nextHop: router['netg'], origin: { rule: 'ovn.subnet', network: 'netg' } });
      else
        expect(r).toMatchObject({
          state: 'skipped',
          reason: `OVN network netg's active chassis is ${from}, not this host (${m}): the host of the active chassis announces it (announce_from: active-chassis)`,
        });
    }
    // The anycast sites keep their pinned gateways: still 3-way, each from its own member.
    expect((await frrPeers(ANYCAST)).join()).toBe(MEMBERS.join());

    // OVS's own client watches the southbound database and timestamps each update.
    const to = MEMBERS.find((m) => m !== from)!;
    const seen: { at: number; port: string; chassis: string }[] = [];
    sbMonitor = spawn('ovsdb-client', ['monitor', central.sbConnection, 'OVN_Southbound', 'Port_Binding', 'logical_port,chassis', '--format=json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    readline.createInterface({ input: sbMonitor.stdout! }).on('line', (line) => {
      const at = Date.now();
      const j = JSON.parse(line) as { data: unknown[][] };
      for (const row of j.data) {
        if (row[1] === 'old') continue;
        const ch = row[3] as [string, unknown];
        seen.push({ at, port: String(row[2]), chassis: ch[0] === 'uuid' ? String(ch[1]) : '' });
      }
    });
    await waitFor(async () => (seen.length > 0 ? true : undefined), 10_000, () => 'ovsdb-client monitor printed nothing', 20);
    const toUuid = (await central.sbctl(['--bare', '--columns=_uuid', 'find', 'Chassis', `hostname=${to}`])).stdout.trim();

    const tMove = Date.now();
    await central.nbctl(['ha-chassis-group-add-chassis', group, to, '32767']);
    const moved = await waitFor(async () => seen.find((s) => s.at >= tMove && s.port === port && s.chassis === toUuid), 10_000, () => `${port} never claimed by ${to}`, 5);
    let tFrr = 0;
    let lastPeers: string[] = [];
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      lastPeers = await frrPeers(NETG);
      if (lastPeers.join() === to) {
        tFrr = Date.now();
        break;
      }
      await sleep(POLL_MS);
    }
    expect(lastPeers.join(), `${NETG} in FRR from ${lastPeers.join() || 'nobody'}`).toBe(to);
    figures.gatewayMoveInOvnMs = moved.at - tMove;
    figures.gatewayMoveAnnouncerMs = tFrr - moved.at;
    console.log(
      `LXD cluster gateway move ${from} → ${to}: OVN claimed the port ${figures.gatewayMoveInOvnMs} ms after the priority change; ` +
        `FRR had ${NETG} from ${to} alone ${figures.gatewayMoveAnnouncerMs} ms (target ${MOVE_TARGET_MS}) after the southbound database said so`,
    );
    expect(figures.gatewayMoveAnnouncerMs).toBeLessThanOrEqual(MOVE_BOUND_MS);
    // Each member's story follows: the new host announces, the old one says who does.
    const fi = MEMBERS.indexOf(from as (typeof MEMBERS)[number]);
    const ti = MEMBERS.indexOf(to);
    expect(await explain(ti, NETG)).toMatchObject({ wanted: true, announced: true });
    expect((await explain(fi, NETG)).reason).toBe(
      `lxd:default/netg:ovn.subnet: OVN network netg's active chassis is ${to}, not this host (${from}): the host of the active chassis announces it (announce_from: active-chassis)`,
    );
    expect((await lxdState(ti)).routes.find((r) => r.prefix === NETG)).toMatchObject({ state: 'derived', nextHop: router['netg'] });
  });

  it(`member3 dies (link cut, herald and LXD killed): its next hop leaves FRR within the BFD bound (${DEATH_BOUND_MS} ms; hold time ${HOLD_S} s)`, async () => {
    const c = cluster!;
    const nets = [router['net1']!, router['net2']!, router['net3']!];
    // Cut first so no FIN or RST reaches FRR: a host that dies says nothing.
    await lab.ip(topo.spokes[2]!.ns, ['link', 'set', 'dev', 'eth0', 'down']);
    const t = Date.now();
    herald[2]!.kill();
    await c.members[2]!.kill('SIGKILL');
    const tGone = await viasUntil([nets[0]!, nets[1]!], DEATH_BOUND_MS + 5000);
    figures.memberDeathWithdrawMs = tGone - t;
    console.log(`LXD cluster: member3 dead → its next hop gone after ${figures.memberDeathWithdrawMs} ms (BFD ${BFD.minTxMs} ms × ${BFD.multiplier}, bound ${DEATH_BOUND_MS} ms; hold time ${HOLD_S} s)`);
    expect(figures.memberDeathWithdrawMs).toBeLessThanOrEqual(DEATH_BOUND_MS);
    expect((await frrPeers(ANYCAST)).join()).toBe('member1,member2');
    expect(await client200()).toMatch(/^member[12]$/);
    // The survivors' stories are unchanged.
    expect(await anycastStory(0)).toBe(`announced via ${nets[0]}`);
    expect(await anycastStory(1)).toBe(`announced via ${nets[1]}`);
  });
});

/** The HA chassis group (`lxd-netN`) of the LXD OVN network whose router has uplink address `routerAddr`. */
async function haGroupOf(central: OvnCentral, routerAddr: string): Promise<string> {
  const out = (await central.nbctl(['--format=csv', '--no-headings', '--data=bare', '--columns=name,networks', 'list', 'Logical_Router_Port'])).stdout;
  for (const line of out.trim().split('\n')) {
    const [name, networks] = line.split(',');
    if (name !== undefined && networks?.split(' ').some((n) => n.startsWith(`${routerAddr}/`)) && name.endsWith('-lr-lrp-ext')) return name.slice(0, -'-lr-lrp-ext'.length);
  }
  throw new Error(`no OVN router port with ${routerAddr}:\n${out}`);
}
