// OpenBGPD 7.7 controller (/usr/sbin/bgpd, not FRR's bgpd): config with a
// private control socket, `fib-update no` (never touches the kernel table),
// `allow from/to any` (7.x enforces RFC 8212: no filter, no routes), file
// mode 0600 or bgpd refuses it; the chroot dir /run/openbgpd must exist.
// Routes are read with `bgpctl -j show rib detail` and originated with
// `bgpctl network add`. No RFC 8950 support in 7.7. No RFC: test infrastructure.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseRouter, normOrigin, normState, parseAsPath, sortRoutes } from './base.js';
import { run, waitFor } from './process.js';
import type { Announcement, ReceivedRoute, SessionState } from './types.js';

export class OpenbgpdRouter extends BaseRouter {
  readonly kind = 'openbgpd' as const;

  private get sock(): string {
    return join(this.dir, 'bgpd.sock');
  }

  /** Write bgpd.conf (0600), start bgpd in the foreground and wait for its socket, then originate config routes. */
  async start(): Promise<void> {
    const dir = await this.ensureDir();
    const c = this.config;
    const lines = [
      `AS ${c.asn}`,
      `router-id ${c.routerId}`,
      `socket "${join(dir, 'bgpd.sock')}"`,
      'listen on 0.0.0.0',
      'listen on ::',
      'fib-update no',
    ];
    for (const p of c.peers) {
      if (p.extendedNextHop === true) throw new Error('OpenBGPD 7.7 does not support extended next hop (RFC 8950)');
      const fams = p.families ?? ['ipv4', 'ipv6'];
      lines.push(`neighbor ${p.address} {`, `  remote-as ${p.asn}`);
      if (p.password !== undefined) lines.push(`  tcp md5sig password ${p.password}`);
      if (p.passive === true) lines.push('  passive');
      if (p.multihop !== undefined) lines.push(`  multihop ${p.multihop}`);
      if (p.localAddress !== undefined) lines.push(`  local-address ${p.localAddress}`);
      if (p.holdTime !== undefined) lines.push(`  holdtime ${p.holdTime}`);
      lines.push(`  announce IPv4 ${fams.includes('ipv4') ? 'unicast' : 'none'}`);
      lines.push(`  announce IPv6 ${fams.includes('ipv6') ? 'unicast' : 'none'}`);
      lines.push('}');
    }
    lines.push('allow from any', 'allow to any');
    await writeFile(join(dir, 'bgpd.conf'), lines.join('\n') + '\n', { mode: 0o600 });
    await mkdir('/run/openbgpd', { recursive: true });
    this.procs.push(this.lab.spawn(this.ns, 'openbgpd', '/usr/sbin/bgpd', ['-d', '-f', join(dir, 'bgpd.conf')], { logFile: join(dir, 'bgpd.log') }));
    await waitFor(
      async () => {
        await this.assertRunning();
        return (await this.bgpctl(['show', 'summary'], true)).code === 0 ? true : undefined;
      },
      10_000,
      () => `${this.name}: bgpctl socket did not answer`,
    );
    if (c.announce !== undefined && c.announce.length > 0) await this.announce(c.announce);
  }

  /** Run bgpctl against this instance's socket. */
  bgpctl(args: string[], allowFail = false): Promise<{ stdout: string; code: number }> {
    return run('bgpctl', ['-s', this.sock, ...args], { allowFail });
  }

  async sessionState(peerAddr: string): Promise<SessionState> {
    const res = await this.bgpctl(['-j', 'show', 'neighbor', peerAddr]);
    const j = JSON.parse(res.stdout) as { neighbors?: { remote_addr?: string; state?: string }[] };
    const n = (j.neighbors ?? []).find((x) => x.remote_addr === peerAddr) ?? j.neighbors?.[0];
    return normState(n?.state);
  }

  async routes(): Promise<ReceivedRoute[]> {
    const res = await this.bgpctl(['-j', 'show', 'rib', 'detail']);
    const j = JSON.parse(res.stdout) as { rib?: ObgpRoute[] };
    const out: ReceivedRoute[] = [];
    for (const r of j.rib ?? []) {
      const peer = r.neighbor?.remote_addr;
      if (peer === undefined || peer === '???' || r.neighbor?.description === 'LOCAL') continue;
      out.push({
        prefix: r.prefix,
        nextHop: r.exit_nexthop ?? '',
        asPath: parseAsPath(r.aspath ?? ''),
        ...(r.metric !== undefined ? { med: r.metric } : {}),
        ...(r.localpref !== undefined ? { localPref: r.localpref } : {}),
        communities: r.communities ?? [],
        largeCommunities: r.large_communities ?? [],
        origin: normOrigin(r.origin),
        peer,
        best: r.best === true,
      });
    }
    return sortRoutes(out);
  }

  async announce(routes: Announcement[]): Promise<void> {
    for (const r of routes) {
      if (r.asPathPrepend !== undefined && r.asPathPrepend.length > 0) throw new Error('OpenBGPD controller: asPathPrepend not supported');
      const args = ['network', 'add', r.prefix];
      if (r.med !== undefined) args.push('med', String(r.med));
      if (r.localPref !== undefined) args.push('localpref', String(r.localPref));
      for (const c of r.communities ?? []) args.push('community', c);
      for (const c of r.largeCommunities ?? []) args.push('large-community', c);
      if (r.origin !== undefined) args.push('origin', r.origin);
      if (r.nextHop !== undefined) args.push('nexthop', r.nextHop);
      await this.bgpctl(args);
    }
  }

  async withdraw(prefixes: string[]): Promise<void> {
    for (const p of prefixes) await this.bgpctl(['network', 'delete', p]);
  }

  protected logFiles(): string[] {
    return [join(this.dir, 'bgpd.log')];
  }
}

interface ObgpRoute {
  prefix: string;
  aspath?: string;
  exit_nexthop?: string;
  neighbor?: { remote_addr?: string; description?: string };
  origin?: string;
  metric?: number;
  localpref?: number;
  communities?: string[];
  large_communities?: string[];
  best?: boolean;
}
