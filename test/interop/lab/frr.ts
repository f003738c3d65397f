// FRR 8.4 controller: zebra + bgpd in the foreground inside a namespace with
// private sockets (--vty_socket, -z), config written to the router's dir,
// routes read with `show bgp <afi> unicast json detail` (8.4 has no
// `... detail json`; `json detail` is the order that works and carries
// communities and large communities). Originated routes are `network`
// statements with a per-prefix route-map, added at runtime through vtysh.
// With `bfd` peers configured, or BGP peers with `bfd`, bfdd runs too (its
// own config file, vty and control socket in the router's dir) and
// `bfdPeers()` reads `show bfd peers json`; a BGP peer's `bfd` becomes
// `neighbor X bfd` with a bfdd profile `hrpN` holding its timers.
// `pidOf(daemon)` gives a daemon's pid (to freeze bfdd in a test).
// No RFC: this is test infrastructure.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseRouter, familyOf, normOrigin, normState, sortRoutes } from './base.js';
import { nsRun, run, waitFor } from './process.js';
import type { Announcement, Family, ReceivedRoute, RouterBfdPeer, SessionState } from './types.js';

const FRR_BIN = '/usr/lib/frr';

/** Turn a prefix into a route-map name. */
function mapName(prefix: string): string {
  return `HR-${prefix.replace(/[^0-9a-fA-F]/g, '-')}`;
}

/** The bfdd command that opens a peer's node: `peer A [multihop] local-address B`. */
export function frrBfdPeerLine(p: RouterBfdPeer): string {
  return `peer ${p.address}${p.multihop === true ? ' multihop' : ''}${p.localAddress !== undefined ? ` local-address ${p.localAddress}` : ''}`;
}

/** One entry of FRR 8.4's `show bfd peers json` (intervals in ms). */
export interface FrrBfdPeer {
  multihop: boolean;
  peer: string;
  local?: string;
  id: number;
  'remote-id': number;
  'passive-mode': boolean;
  status: 'up' | 'down' | 'init' | 'shutdown' | 'unknown';
  diagnostic: string;
  'remote-diagnostic': string;
  'receive-interval': number;
  'transmit-interval': number;
  'detect-multiplier': number;
  'remote-receive-interval': number;
  'remote-transmit-interval': number;
  'remote-detect-multiplier': number;
}

export class FrrRouter extends BaseRouter {
  readonly kind = 'frr' as const;
  private readonly announced = new Set<string>();

  /** Write zebra.conf and bgpd.conf, start zebra then bgpd, wait for vtysh to answer, originate config routes. */
  async start(): Promise<void> {
    const dir = await this.ensureDir();
    const c = this.config;
    await writeFile(join(dir, 'zebra.conf'), `hostname ${c.name}\n`);
    const lines = [
      'frr defaults traditional',
      `hostname ${c.name}`,
      `router bgp ${c.asn}`,
      ` bgp router-id ${c.routerId}`,
      ' no bgp ebgp-requires-policy',
      ' no bgp default ipv4-unicast',
      ' no bgp network import-check',
      ' bgp bestpath as-path multipath-relax',
      ' bgp log-neighbor-changes',
    ];
    for (const p of c.peers) {
      const n = ` neighbor ${p.address}`;
      lines.push(`${n} remote-as ${p.asn}`);
      lines.push(`${n} timers connect 1`);
      if (p.holdTime !== undefined) lines.push(`${n} timers ${Math.max(1, Math.floor(p.holdTime / 3))} ${p.holdTime}`);
      if (p.password !== undefined) lines.push(`${n} password ${p.password}`);
      if (p.multihop !== undefined) lines.push(`${n} ebgp-multihop ${p.multihop}`);
      if (p.ttlSecurityHops !== undefined) lines.push(`${n} ttl-security hops ${p.ttlSecurityHops}`);
      if (p.localAddress !== undefined) lines.push(`${n} update-source ${p.localAddress}`);
      if (p.passive === true) lines.push(`${n} passive`);
      if (p.extendedNextHop === true) lines.push(`${n} capability extended-nexthop`);
      if (p.bfd !== undefined) lines.push(`${n} bfd`, `${n} bfd profile hrp${c.peers.indexOf(p)}`);
    }
    for (const fam of ['ipv4', 'ipv6'] as const) {
      lines.push(` address-family ${fam} unicast`);
      for (const p of c.peers) {
        if ((p.families ?? ['ipv4', 'ipv6']).includes(fam)) lines.push(`  neighbor ${p.address} activate`);
      }
      lines.push(' exit-address-family');
    }
    await writeFile(join(dir, 'bgpd.conf'), lines.join('\n') + '\n');
    const bfd = c.bfd ?? [];
    const bgpBfd = c.peers.filter((p) => p.bfd !== undefined);
    const runBfdd = bfd.length > 0 || bgpBfd.length > 0;
    if (runBfdd) {
      const b = ['bfd'];
      for (const p of bgpBfd) {
        const t = p.bfd!;
        b.push(` profile hrp${c.peers.indexOf(p)}`);
        if (t.minRxMs !== undefined) b.push(`  receive-interval ${t.minRxMs}`);
        if (t.minTxMs !== undefined) b.push(`  transmit-interval ${t.minTxMs}`);
        if (t.multiplier !== undefined) b.push(`  detect-multiplier ${t.multiplier}`);
        b.push(' exit');
      }
      for (const p of bfd) {
        b.push(` ${frrBfdPeerLine(p)}`);
        if (p.minRxMs !== undefined) b.push(`  receive-interval ${p.minRxMs}`);
        if (p.minTxMs !== undefined) b.push(`  transmit-interval ${p.minTxMs}`);
        if (p.multiplier !== undefined) b.push(`  detect-multiplier ${p.multiplier}`);
        if (p.passive === true) b.push('  passive-mode');
        b.push(' exit');
      }
      await writeFile(join(dir, 'bfdd.conf'), b.join('\n') + '\n');
    }
    await run('chown', ['-R', 'frr:frr', dir]);
    for (const daemon of runBfdd ? ['zebra', 'bfdd', 'bgpd'] : ['zebra', 'bgpd']) {
      const args = ['-u', 'frr', '-g', 'frr', '-f', join(dir, `${daemon}.conf`), '-i', join(dir, `${daemon}.pid`)];
      args.push('-z', join(dir, 'zserv.api'), '--vty_socket', dir, '-P', '0', '--log', `file:${join(dir, `${daemon}.log`)}`);
      // bfdd's control socket defaults to /var/run/frr/bfdd.sock, shared by every instance.
      if (daemon === 'bfdd') args.push('--bfdctl', join(dir, 'bfdd.sock'));
      this.procs.push(this.lab.spawn(this.ns, `frr-${daemon}`, join(FRR_BIN, daemon), args, { logFile: join(dir, `${daemon}.out`) }));
      if (daemon === 'zebra') {
        await waitFor(async () => ((await this.vtysh(['show zebra client summary'], true)).code === 0 ? true : undefined), 10_000, () => 'zebra vty');
      }
      if (daemon === 'bfdd') {
        await waitFor(async () => ((await this.vtysh(['show bfd peers json'], true)).code === 0 ? true : undefined), 10_000, () => 'bfdd vty');
      }
    }
    await waitFor(
      async () => {
        await this.assertRunning();
        return (await this.vtysh(['show bgp summary json'], true)).code === 0 ? true : undefined;
      },
      10_000,
      () => `${this.name}: bgpd vty did not answer`,
    );
    if (c.announce !== undefined && c.announce.length > 0) await this.announce(c.announce);
  }

  /** The pid of one of this instance's daemons (zebra, bfdd, bgpd). */
  pidOf(daemon: 'zebra' | 'bfdd' | 'bgpd'): number {
    const p = this.procs.find((x) => x.name === `frr-${daemon}`);
    if (p === undefined) throw new Error(`${this.name}: no ${daemon} running`);
    return p.pid;
  }

  /** Read bfdd's sessions (`show bfd peers json`). */
  async bfdPeers(): Promise<FrrBfdPeer[]> {
    const out = await this.vtysh(['show bfd peers json']);
    return JSON.parse(out.stdout) as FrrBfdPeer[];
  }

  /** Run vtysh commands against this instance's sockets. */
  vtysh(commands: string[], allowFail = false): Promise<{ stdout: string; code: number; stderr: string }> {
    return run('vtysh', ['--vty_socket', this.dir, ...commands.flatMap((cmd) => ['-c', cmd])], { allowFail });
  }

  async sessionState(peerAddr: string): Promise<SessionState> {
    const out = await this.vtysh([`show bgp neighbors ${peerAddr} json`]);
    const j = JSON.parse(out.stdout) as Record<string, { bgpState?: string }>;
    return normState(j[peerAddr]?.bgpState);
  }

  async routes(): Promise<ReceivedRoute[]> {
    const out: ReceivedRoute[] = [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const res = await this.vtysh([`show bgp ${fam} unicast json detail`]);
      const j = JSON.parse(res.stdout) as { routes?: Record<string, FrrPath[]> };
      for (const [prefix, entries] of Object.entries(j.routes ?? {})) {
        for (const p of entries) {
          if (p.aspath === undefined && p.nexthops === undefined) continue; // the per-prefix header entry
          const peer = p.peer?.peerId;
          if (p.sourced === true || p.local === true || peer === undefined || peer === '0.0.0.0' || peer === '::') continue;
          const hops = p.nexthops ?? [];
          const hop = hops.find((h) => h.scope === 'global') ?? hops[0];
          out.push({
            prefix,
            nextHop: hop?.ip ?? '',
            asPath: (p.aspath?.segments ?? []).flatMap((s) => s.list ?? []),
            ...(p.metric !== undefined ? { med: p.metric } : {}),
            ...(localPrefOf(p) !== undefined ? { localPref: localPrefOf(p) } : {}),
            communities: p.community?.list ?? [],
            largeCommunities: p.largeCommunity?.list ?? [],
            origin: normOrigin(p.origin),
            peer,
            best: p.bestpath?.overall === true,
          });
        }
      }
    }
    return sortRoutes(out);
  }

  async announce(routes: Announcement[]): Promise<void> {
    const stale = routes.filter((r) => this.announced.has(r.prefix)).map((r) => r.prefix);
    if (stale.length > 0) await this.withdraw(stale);
    const cmds = ['configure terminal'];
    for (const r of routes) {
      const rm = mapName(r.prefix);
      cmds.push(`route-map ${rm} permit 10`);
      if (r.med !== undefined) cmds.push(`set metric ${r.med}`);
      if (r.localPref !== undefined) cmds.push(`set local-preference ${r.localPref}`);
      if (r.communities !== undefined && r.communities.length > 0) cmds.push(`set community ${r.communities.join(' ')}`);
      if (r.largeCommunities !== undefined && r.largeCommunities.length > 0) cmds.push(`set large-community ${r.largeCommunities.join(' ')}`);
      if (r.asPathPrepend !== undefined && r.asPathPrepend.length > 0) cmds.push(`set as-path prepend ${r.asPathPrepend.join(' ')}`);
      if (r.origin !== undefined) cmds.push(`set origin ${r.origin}`);
      if (r.nextHop !== undefined) cmds.push(familyOf(r.nextHop) === 'ipv4' ? `set ip next-hop ${r.nextHop}` : `set ipv6 next-hop global ${r.nextHop}`);
      cmds.push('exit');
      cmds.push(`router bgp ${this.config.asn}`, `address-family ${familyOf(r.prefix)} unicast`, `network ${r.prefix} route-map ${rm}`, 'exit-address-family', 'exit');
      this.announced.add(r.prefix);
    }
    await this.vtysh(cmds);
  }

  async withdraw(prefixes: string[]): Promise<void> {
    const cmds = ['configure terminal'];
    for (const p of prefixes) {
      cmds.push(`router bgp ${this.config.asn}`, `address-family ${familyOf(p)} unicast`, `no network ${p}`, 'exit-address-family', 'exit');
      cmds.push(`no route-map ${mapName(p)}`);
      this.announced.delete(p);
    }
    await this.vtysh(cmds);
  }

  /** Show the kernel routes zebra installed (`ip [-6] route show proto bgp` in the namespace). */
  async kernelRoutes(family: Family): Promise<string> {
    const res = await nsRun(this.ns, 'ip', [family === 'ipv6' ? '-6' : '-4', 'route', 'show', 'proto', 'bgp']);
    return res.stdout;
  }

  protected logFiles(): string[] {
    return ['bgpd.log', 'bgpd.out', 'zebra.log', 'zebra.out', 'bfdd.log', 'bfdd.out'].map((f) => join(this.dir, f));
  }
}

function localPrefOf(p: FrrPath): number | undefined {
  return p.locPrf ?? p.localpref ?? p.localPref;
}

interface FrrPath {
  aspath?: { segments?: { list?: number[] }[] };
  origin?: string;
  metric?: number;
  locPrf?: number;
  localpref?: number;
  localPref?: number;
  community?: { list?: string[] };
  largeCommunity?: { list?: string[] };
  nexthops?: { ip?: string; scope?: string }[];
  peer?: { peerId?: string };
  sourced?: boolean;
  local?: boolean;
  bestpath?: { overall?: boolean };
}
