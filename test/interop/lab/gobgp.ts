// GoBGP 3.10 controller: gobgpd with a TOML config, its gRPC API on
// 127.0.0.1:50051 inside the namespace (each namespace has its own loopback,
// so the port never clashes), routes read with `gobgp -j global rib` and
// originated with `gobgp global rib add ... origin igp` (GoBGP's default
// origin "incomplete" loses best-path selection). No RFC: test infrastructure.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseRouter, familyOf, normOrigin, sortRoutes } from './base.js';
import { nsRun, waitFor } from './process.js';
import type { Announcement, ReceivedRoute, SessionState } from './types.js';

const API = ['-u', '127.0.0.1', '-p', '50051'];

// apipb.PeerState.SessionState
const STATES: Record<number, SessionState> = { 1: 'Idle', 2: 'Connect', 3: 'Active', 4: 'OpenSent', 5: 'OpenConfirm', 6: 'Established' };
const STATE_NAMES: Record<string, SessionState> = {
  IDLE: 'Idle', CONNECT: 'Connect', ACTIVE: 'Active', OPENSENT: 'OpenSent', OPENCONFIRM: 'OpenConfirm', ESTABLISHED: 'Established',
};

export class GobgpRouter extends BaseRouter {
  readonly kind = 'gobgp' as const;

  /** Write gobgpd.toml, start gobgpd and wait for its API, then originate config routes. */
  async start(): Promise<void> {
    const dir = await this.ensureDir();
    const c = this.config;
    const t = ['[global.config]', `  as = ${c.asn}`, `  router-id = "${c.routerId}"`, '  port = 179', ''];
    for (const p of c.peers) {
      t.push('[[neighbors]]', '  [neighbors.config]', `    neighbor-address = "${p.address}"`, `    peer-as = ${p.asn}`);
      if (p.password !== undefined) t.push(`    auth-password = "${p.password}"`);
      t.push('  [neighbors.timers.config]', '    connect-retry = 1', '    idle-hold-time-after-reset = 1');
      if (p.holdTime !== undefined) t.push(`    hold-time = ${p.holdTime}`, `    keepalive-interval = ${Math.max(1, Math.floor(p.holdTime / 3))}`);
      if (p.passive === true || p.localAddress !== undefined) {
        t.push('  [neighbors.transport.config]');
        if (p.passive === true) t.push('    passive-mode = true');
        if (p.localAddress !== undefined) t.push(`    local-address = "${p.localAddress}"`);
      }
      if (p.multihop !== undefined) t.push('  [neighbors.ebgp-multihop.config]', '    enabled = true', `    multihop-ttl = ${p.multihop}`);
      for (const fam of p.families ?? ['ipv4', 'ipv6']) {
        t.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${fam}-unicast"`);
      }
      t.push('');
    }
    await writeFile(join(dir, 'gobgpd.toml'), t.join('\n'));
    const args = ['-f', join(dir, 'gobgpd.toml'), '-p', '--pprof-disable', '--api-hosts', '127.0.0.1:50051'];
    this.procs.push(this.lab.spawn(this.ns, 'gobgpd', 'gobgpd', args, { logFile: join(dir, 'gobgpd.log') }));
    await waitFor(
      async () => {
        await this.assertRunning();
        return (await this.gobgp(['global'], true)).code === 0 ? true : undefined;
      },
      10_000,
      () => `${this.name}: gobgpd API did not answer`,
    );
    if (c.announce !== undefined && c.announce.length > 0) await this.announce(c.announce);
  }

  /** Run the gobgp CLI against this instance. */
  gobgp(args: string[], allowFail = false): Promise<{ stdout: string; code: number; stderr: string }> {
    return nsRun(this.ns, 'gobgp', [...API, ...args], { allowFail });
  }

  async sessionState(peerAddr: string): Promise<SessionState> {
    const res = await this.gobgp(['-j', 'neighbor', peerAddr]);
    const j = JSON.parse(res.stdout) as { state?: { session_state?: number | string } };
    const s = j.state?.session_state;
    if (typeof s === 'number') return STATES[s] ?? 'Unknown';
    if (typeof s === 'string') return STATE_NAMES[s.toUpperCase()] ?? 'Unknown';
    return 'Idle';
  }

  async routes(): Promise<ReceivedRoute[]> {
    const out: ReceivedRoute[] = [];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const res = await this.gobgp(['-j', 'global', 'rib', '-a', fam]);
      const j = (res.stdout.trim() === '' ? {} : JSON.parse(res.stdout)) as Record<string, GobgpPath[]>;
      for (const [prefix, paths] of Object.entries(j)) {
        for (const p of paths) {
          const peer = p['neighbor-ip'];
          if (peer === undefined || peer === '') continue; // originated here
          out.push({ ...gobgpAttrs(p.attrs ?? []), prefix, peer, best: p.best === true });
        }
      }
    }
    return sortRoutes(out);
  }

  async announce(routes: Announcement[]): Promise<void> {
    for (const r of routes) {
      const args = ['global', 'rib', '-a', familyOf(r.prefix), 'add', r.prefix, 'origin', r.origin ?? 'igp'];
      if (r.nextHop !== undefined) args.push('nexthop', r.nextHop);
      if (r.med !== undefined) args.push('med', String(r.med));
      if (r.localPref !== undefined) args.push('local-pref', String(r.localPref));
      if (r.communities !== undefined && r.communities.length > 0) args.push('community', r.communities.join(','));
      if (r.largeCommunities !== undefined && r.largeCommunities.length > 0) args.push('large-community', r.largeCommunities.join(','));
      if (r.asPathPrepend !== undefined && r.asPathPrepend.length > 0) args.push('aspath', r.asPathPrepend.join(' '));
      await this.gobgp(args);
    }
  }

  async withdraw(prefixes: string[]): Promise<void> {
    for (const p of prefixes) await this.gobgp(['global', 'rib', '-a', familyOf(p), 'del', p]);
  }

  protected logFiles(): string[] {
    return [join(this.dir, 'gobgpd.log')];
  }
}

interface GobgpAttr {
  type: number;
  value?: unknown;
  nexthop?: string;
  metric?: number;
  as_paths?: { asns?: number[] }[];
  communities?: number[];
}

interface GobgpPath {
  attrs?: GobgpAttr[];
  best?: boolean;
  'neighbor-ip'?: string;
}

/** Normalise GoBGP's JSON path attributes (keyed by attribute type code). */
function gobgpAttrs(attrs: GobgpAttr[]): Omit<ReceivedRoute, 'prefix' | 'peer'> {
  const r: Omit<ReceivedRoute, 'prefix' | 'peer'> = { nextHop: '', asPath: [], communities: [], largeCommunities: [], origin: 'incomplete' };
  for (const a of attrs) {
    switch (a.type) {
      case 1:
        r.origin = normOrigin(a.value as number);
        break;
      case 2:
        r.asPath = (a.as_paths ?? []).flatMap((s) => s.asns ?? []);
        break;
      case 3:
      case 14:
        if (a.nexthop !== undefined) r.nextHop = a.nexthop;
        break;
      case 4:
        r.med = a.metric ?? 0;
        break;
      case 5:
        r.localPref = a.value as number;
        break;
      case 8:
        r.communities = (a.communities ?? []).map((n) => `${Math.floor(n / 65536)}:${n % 65536}`);
        break;
      case 32:
        r.largeCommunities = ((a.value ?? []) as { ASN: number; LocalData1: number; LocalData2: number }[]).map(
          (l) => `${l.ASN}:${l.LocalData1}:${l.LocalData2}`,
        );
        break;
    }
  }
  return r;
}
