// BIRD 2.0 controller: one `protocol bgp` per peer (named hrp<N>), two static
// protocols holding originated routes (blackhole), per-prefix attributes set
// in the export filter (BIRD drops a static route's MED on eBGP export, but
// honours one set by the export filter). announce()/withdraw() rewrite the
// config and run `birdc configure`. Routes are read by parsing
// `birdc show route all`. No `protocol kernel`: BIRD never touches a FIB.
// With `bfd` peers configured, a `protocol bfd` holds them as neighbors and
// `bfdSessions()` parses `birdc show bfd sessions`. A BGP peer with `bfd`
// gets `bfd on`; without `bfd` entries the `protocol bfd` then takes its
// interface timers from the first such peer.
// No RFC: this is test infrastructure.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BaseRouter, familyOf, normOrigin, normState, parseAsPath, sortRoutes, splitCommunity } from './base.js';
import { run, waitFor } from './process.js';
import type { Announcement, ReceivedRoute, RouterBfdPeer, SessionState } from './types.js';

/** One line of `birdc show bfd sessions` (intervals in ms). */
export interface BirdBfdSession {
  address: string;
  iface: string;
  state: 'AdminDown' | 'Down' | 'Init' | 'Up';
  /** Negotiated transmit interval, 0 before the first packet went out. */
  intervalMs: number;
  /** Detection Time. */
  timeoutMs: number;
}

/** Render BIRD's per-kind session options from a BFD peer. */
function birdBfdOptions(p: RouterBfdPeer): string {
  const o: string[] = [];
  if (p.minRxMs !== undefined) o.push(`min rx interval ${p.minRxMs} ms;`);
  if (p.minTxMs !== undefined) o.push(`min tx interval ${p.minTxMs} ms;`);
  if (p.multiplier !== undefined) o.push(`multiplier ${p.multiplier};`);
  if (p.passive === true) o.push('passive yes;');
  return o.join(' ');
}

export class BirdRouter extends BaseRouter {
  readonly kind = 'bird' as const;
  private readonly originated = new Map<string, Announcement>();

  private get ctl(): string {
    return join(this.dir, 'bird.ctl');
  }

  private protoName(peerAddr: string): string {
    const i = this.config.peers.findIndex((p) => p.address === peerAddr);
    if (i < 0) throw new Error(`${this.name}: no peer ${peerAddr} configured`);
    return `hrp${i}`;
  }

  /** Write bird.conf, start bird in the foreground and wait for its control socket. */
  async start(): Promise<void> {
    const dir = await this.ensureDir();
    for (const r of this.config.announce ?? []) this.originated.set(r.prefix, r);
    await this.writeConfig();
    this.procs.push(
      this.lab.spawn(this.ns, 'bird', 'bird', ['-f', '-c', join(dir, 'bird.conf'), '-s', this.ctl, '-P', join(dir, 'bird.pid')], {
        logFile: join(dir, 'bird.out'),
      }),
    );
    await waitFor(
      async () => {
        await this.assertRunning();
        return (await this.birdc(['show', 'status'], true)).code === 0 ? true : undefined;
      },
      10_000,
      () => `${this.name}: bird control socket did not answer`,
    );
  }

  /** Run a birdc command against this instance. */
  birdc(args: string[], allowFail = false): Promise<{ stdout: string; code: number }> {
    return run('birdc', ['-s', this.ctl, ...args], { allowFail });
  }

  private async writeConfig(): Promise<void> {
    const c = this.config;
    const out = [
      `log "${join(this.dir, 'bird.log')}" all;`,
      `router id ${c.routerId};`,
      'protocol device {}',
    ];
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const routes = [...this.originated.values()].filter((r) => familyOf(r.prefix) === fam);
      out.push(`protocol static hr_static_${fam} { ${fam}; ${routes.map((r) => `route ${r.prefix} blackhole;`).join(' ')} }`);
      out.push(`filter hr_export_${fam} {`);
      for (const r of routes) out.push(`  if net = ${r.prefix} then { ${attrStatements(r).join(' ')} }`);
      out.push('  accept;', '}');
    }
    const bgpBfd = c.peers.find((p) => p.bfd !== undefined)?.bfd;
    const bfd = c.bfd ?? [];
    if (bfd.length === 0 && bgpBfd !== undefined) {
      // BGP's `bfd on` asks protocol bfd for sessions; its timers come from the interface block.
      out.push(`protocol bfd hrbfd {\n  interface "*" { ${birdBfdOptions({ address: '', ...bgpBfd })} };\n}`);
    }
    if (bfd.length > 0) {
      // BIRD sets timers per interface pattern and once for all multihop sessions.
      const single = bfd.find((p) => p.multihop !== true);
      const multi = bfd.find((p) => p.multihop === true);
      const lines = ['protocol bfd hrbfd {'];
      if (single) lines.push(`  interface "*" { ${birdBfdOptions(single)} };`);
      if (multi) lines.push(`  multihop { ${birdBfdOptions(multi)} };`);
      for (const p of bfd) {
        lines.push(`  neighbor ${p.address}${p.localAddress !== undefined ? ` local ${p.localAddress}` : ''}${p.multihop === true ? ' multihop yes' : ''};`);
      }
      lines.push('}');
      out.push(lines.join('\n'));
    }
    c.peers.forEach((p, i) => {
      const lines = [`protocol bgp hrp${i} {`];
      lines.push(`  local ${p.localAddress ?? ''} as ${c.asn};`);
      lines.push(`  neighbor ${p.address} as ${p.asn};`);
      lines.push('  connect delay time 1; connect retry time 2; error wait time 1, 5;');
      if (p.holdTime !== undefined) lines.push(`  hold time ${p.holdTime}; keepalive time ${Math.max(1, Math.floor(p.holdTime / 3))};`);
      if (p.password !== undefined) lines.push(`  password "${p.password}";`);
      if (p.multihop !== undefined) lines.push(`  multihop ${p.multihop};`);
      if (p.passive === true) lines.push('  passive on;');
      if (p.bfd !== undefined) lines.push('  bfd on;');
      for (const fam of p.families ?? ['ipv4', 'ipv6']) {
        const enh = fam === 'ipv4' && p.extendedNextHop === true ? ' extended next hop on;' : '';
        lines.push(`  ${fam} { import all; export filter hr_export_${fam};${enh} };`);
      }
      lines.push('}');
      out.push(lines.join('\n'));
    });
    await writeFile(join(this.dir, 'bird.conf'), out.join('\n') + '\n');
  }

  private async reconfigure(): Promise<void> {
    await this.writeConfig();
    const res = await this.birdc(['configure']);
    if (!/Reconfigur|Nothing to do/i.test(res.stdout)) throw new Error(`${this.name}: birdc configure failed:\n${res.stdout}`);
  }

  async announce(routes: Announcement[]): Promise<void> {
    for (const r of routes) this.originated.set(r.prefix, r);
    await this.reconfigure();
  }

  async withdraw(prefixes: string[]): Promise<void> {
    for (const p of prefixes) this.originated.delete(p);
    await this.reconfigure();
  }

  /** Replace the BFD neighbors and their timers, and apply them with `birdc configure` (a Poll Sequence for changed timers). */
  async setBfd(bfd: RouterBfdPeer[]): Promise<void> {
    this.config.bfd = bfd;
    await this.reconfigure();
  }

  /** Parse `birdc show bfd sessions`. */
  async bfdSessions(): Promise<BirdBfdSession[]> {
    const res = await this.birdc(['show', 'bfd', 'sessions']);
    const out: BirdBfdSession[] = [];
    // "192.0.2.1   eth0   Up   12:00:01.123   0.100   0.300" (times in seconds)
    const line = /^(\S+)\s+(\S+)\s+(AdminDown|Down|Init|Up)\s+\S+(?:\s+\S+)?\s+([\d.]+)\s+([\d.]+)\s*$/;
    for (const l of res.stdout.split('\n')) {
      const m = line.exec(l.trim());
      if (m === null) continue;
      out.push({
        address: m[1]!,
        iface: m[2]!,
        state: m[3] as BirdBfdSession['state'],
        intervalMs: Math.round(Number(m[4]) * 1000),
        timeoutMs: Math.round(Number(m[5]) * 1000),
      });
    }
    return out;
  }

  async sessionState(peerAddr: string): Promise<SessionState> {
    const res = await this.birdc(['show', 'protocols', 'all', this.protoName(peerAddr)]);
    const m = /BGP state:\s+(\S+)/.exec(res.stdout);
    return normState(m?.[1]);
  }

  async routes(): Promise<ReceivedRoute[]> {
    const res = await this.birdc(['show', 'route', 'all']);
    const peerByProto = new Map(this.config.peers.map((p, i) => [`hrp${i}`, p.address]));
    return sortRoutes(parseBirdRoutes(res.stdout).flatMap((r) => {
      const peer = peerByProto.get(r.proto);
      return peer === undefined ? [] : [{ ...r.route, peer }];
    }));
  }

  protected logFiles(): string[] {
    return [join(this.dir, 'bird.log'), join(this.dir, 'bird.out')];
  }
}

/** Render an announcement's attributes as BIRD filter statements. */
function attrStatements(r: Announcement): string[] {
  const s: string[] = [];
  if (r.med !== undefined) s.push(`bgp_med = ${r.med};`);
  if (r.localPref !== undefined) s.push(`bgp_local_pref = ${r.localPref};`);
  for (const c of r.communities ?? []) s.push(`bgp_community.add((${splitCommunity(c, 2).join(',')}));`);
  for (const c of r.largeCommunities ?? []) s.push(`bgp_large_community.add((${splitCommunity(c, 3).join(',')}));`);
  // bgp_path.prepend puts an ASN in front; go backwards so the list reads left to right after our own ASN.
  for (const asn of [...(r.asPathPrepend ?? [])].reverse()) s.push(`bgp_path.prepend(${asn});`);
  if (r.origin !== undefined) s.push(`bgp_origin = ORIGIN_${r.origin.toUpperCase()};`);
  if (r.nextHop !== undefined) s.push(`bgp_next_hop = ${r.nextHop};`);
  return s;
}

/** Parse `birdc show route all` text into routes tagged with the protocol that supplied them. */
export function parseBirdRoutes(text: string): { proto: string; route: Omit<ReceivedRoute, 'peer'> }[] {
  const out: { proto: string; route: Omit<ReceivedRoute, 'peer'> }[] = [];
  let prefix = '';
  let cur: { proto: string; route: Omit<ReceivedRoute, 'peer'> } | undefined;
  const routeLine = /^(\S+)?\s+(?:unicast|blackhole|unreachable|prohibit)\s+\[(\S+)\s.*?\](\s\*)?/;
  for (const line of text.split('\n')) {
    if (line.startsWith('Table ') || line.startsWith('BIRD ')) continue;
    const m = routeLine.exec(line);
    if (m !== null) {
      if (m[1] !== undefined) prefix = m[1];
      cur = {
        proto: m[2] ?? '',
        route: { prefix, nextHop: '', asPath: [], communities: [], largeCommunities: [], origin: 'incomplete', best: m[3] !== undefined },
      };
      out.push(cur);
      continue;
    }
    const a = /^\s+BGP\.(\w+):\s*(.*)$/.exec(line);
    if (a === null || cur === undefined) continue;
    const [, key, value = ''] = a;
    const r = cur.route;
    switch (key) {
      case 'origin':
        r.origin = normOrigin(value.trim());
        break;
      case 'as_path':
        r.asPath = parseAsPath(value);
        break;
      case 'next_hop':
        r.nextHop = value.trim().split(/\s+/)[0] ?? '';
        break;
      case 'med':
        r.med = Number(value);
        break;
      case 'local_pref':
        r.localPref = Number(value);
        break;
      case 'community':
        r.communities = [...value.matchAll(/\((\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}`);
        break;
      case 'large_community':
        r.largeCommunities = [...value.matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}:${x[3]}`);
        break;
    }
  }
  return out;
}

