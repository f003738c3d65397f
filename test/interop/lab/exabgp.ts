// ExaBGP 4.2 controller. ExaBGP only connects out (passive is refused here).
// Two helper processes run under it: `recv.sh` appends every JSON message
// ExaBGP hands it (updates, neighbor state changes) to received.jsonl and
// keeps its stdout open (a helper that closes stdout is counted dead and
// ExaBGP exits after 5 respawns); `cmd.sh` execs `cat` on a FIFO opened
// read-write, so announce()/withdraw() write API commands into that FIFO.
// routes() replays received.jsonl. Note: ExaBGP 4.2.21 fails to decode a
// NOTIFICATION when `receive { notification; }` is on, so it is left off and a
// Cease shutdown communication does not show up in its logs.
// No RFC: this is test infrastructure.

import { open, readFile, writeFile, chmod } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { BaseRouter, familyOf, globalAddress, normOrigin, sortRoutes } from './base.js';
import { nsRun, run, waitFor } from './process.js';
import type { Announcement, ReceivedRoute, SessionState } from './types.js';

export class ExabgpRouter extends BaseRouter {
  readonly kind = 'exabgp' as const;

  private get fifo(): string {
    return join(this.dir, 'cmd.fifo');
  }

  private get received(): string {
    return join(this.dir, 'received.jsonl');
  }

  /** Write exabgp.conf and its helpers, start exabgp in the foreground, then originate config routes. */
  async start(): Promise<void> {
    const dir = await this.ensureDir();
    const c = this.config;
    await writeFile(this.received, '');
    await writeFile(join(dir, 'recv.sh'), `#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' "$line" >> '${this.received}'; done\n`);
    await writeFile(join(dir, 'cmd.sh'), `#!/bin/sh\nexec cat <> '${this.fifo}'\n`);
    await chmod(join(dir, 'recv.sh'), 0o755);
    await chmod(join(dir, 'cmd.sh'), 0o755);
    await run('mkfifo', [this.fifo]);
    const conf = [
      `process hr-recv { run ${join(dir, 'recv.sh')}; encoder json; }`,
      `process hr-cmd { run ${join(dir, 'cmd.sh')}; encoder json; }`,
    ];
    for (const p of c.peers) {
      if (p.passive === true) throw new Error('ExaBGP controller: ExaBGP only connects out (passive unsupported)');
      const local = p.localAddress ?? (await this.sourceAddressFor(p.address));
      const lines = [`neighbor ${p.address} {`, `  router-id ${c.routerId};`, `  local-address ${local};`, `  local-as ${c.asn};`, `  peer-as ${p.asn};`];
      if (p.password !== undefined) lines.push(`  md5-password "${p.password}";`);
      if (p.holdTime !== undefined) lines.push(`  hold-time ${p.holdTime};`);
      if (p.multihop !== undefined) lines.push(`  outgoing-ttl ${p.multihop};`);
      lines.push(`  family { ${(p.families ?? ['ipv4', 'ipv6']).map((f) => `${f} unicast;`).join(' ')} }`);
      if (p.extendedNextHop === true) lines.push('  capability { nexthop enable; }', '  nexthop { ipv4 unicast ipv6; }');
      lines.push('  api { processes [ hr-recv ]; receive { parsed; update; } neighbor-changes; }', '  api { processes [ hr-cmd ]; }', '}');
      conf.push(lines.join('\n'));
    }
    await writeFile(join(dir, 'exabgp.conf'), conf.join('\n') + '\n');
    const env = {
      ...process.env,
      'exabgp.daemon.user': 'root',
      'exabgp.daemon.daemonize': 'false',
      'exabgp.api.cli': 'false',
      'exabgp.api.ack': 'false',
      'exabgp.log.destination': join(dir, 'exabgp.log'),
    };
    this.procs.push(this.lab.spawn(this.ns, 'exabgp', 'exabgp', [join(dir, 'exabgp.conf')], { logFile: join(dir, 'exabgp.out'), env }));
    if (c.announce !== undefined && c.announce.length > 0) await this.announce(c.announce);
  }

  /** Find the address the namespace would use to reach addr (`ip route get`). */
  private async sourceAddressFor(addr: string): Promise<string> {
    const res = await nsRun(this.ns, 'ip', ['route', 'get', addr]);
    const m = /\bsrc (\S+)/.exec(res.stdout);
    if (m?.[1] === undefined) throw new Error(`${this.name}: no source address towards ${addr}; set localAddress`);
    return m[1];
  }

  /** Write API commands into the command FIFO once the helper reads it. */
  private async command(lines: string[]): Promise<void> {
    const text = lines.map((l) => `${l}\n`).join('');
    await waitFor(
      async () => {
        await this.assertRunning();
        // O_WRONLY|O_NONBLOCK on a FIFO fails (ENXIO) until a reader has it open: that is our readiness test.
        const fh = await open(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        try {
          await fh.write(text);
        } finally {
          await fh.close();
        }
        return true;
      },
      10_000,
      () => `${this.name}: exabgp command helper never opened ${this.fifo}`,
      100,
    );
  }

  async announce(routes: Announcement[]): Promise<void> {
    const cmds: string[] = [];
    for (const r of routes) {
      const fam = familyOf(r.prefix);
      const sessionFam = familyOf(this.config.peers[0]?.address ?? r.prefix);
      const nh = r.nextHop ?? (fam === sessionFam ? 'self' : await globalAddress(this.ns, fam));
      let cmd = `announce route ${r.prefix} next-hop ${nh} origin ${r.origin ?? 'igp'}`;
      if (r.med !== undefined) cmd += ` med ${r.med}`;
      if (r.localPref !== undefined) cmd += ` local-preference ${r.localPref}`;
      if (r.communities !== undefined && r.communities.length > 0) cmd += ` community [ ${r.communities.join(' ')} ]`;
      if (r.largeCommunities !== undefined && r.largeCommunities.length > 0) cmd += ` large-community [ ${r.largeCommunities.join(' ')} ]`;
      if (r.asPathPrepend !== undefined && r.asPathPrepend.length > 0) cmd += ` as-path [ ${r.asPathPrepend.join(' ')} ]`;
      cmds.push(cmd);
    }
    await this.command(cmds);
  }

  async withdraw(prefixes: string[]): Promise<void> {
    await this.command(prefixes.map((p) => `withdraw route ${p} next-hop self`));
  }

  private async replay(): Promise<{ states: Map<string, SessionState>; routes: Map<string, ReceivedRoute> }> {
    const states = new Map<string, SessionState>();
    const routes = new Map<string, ReceivedRoute>();
    const text = await readFile(this.received, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let msg: ExaMessage;
      try {
        msg = JSON.parse(line) as ExaMessage;
      } catch {
        continue; // a line being written right now
      }
      const peer = msg.neighbor?.address?.peer;
      if (peer === undefined) continue;
      if (msg.type === 'state') {
        const s = msg.neighbor?.state;
        states.set(peer, s === 'up' ? 'Established' : s === 'connected' ? 'OpenSent' : 'Idle');
        if (s === 'down') for (const k of [...routes.keys()]) if (k.startsWith(`${peer}|`)) routes.delete(k);
        continue;
      }
      const update = msg.neighbor?.message?.update;
      if (msg.type !== 'update' || update === undefined) continue;
      for (const nlris of Object.values(update.withdraw ?? {})) {
        for (const n of nlris) routes.delete(`${peer}|${nlriOf(n)}`);
      }
      const a = update.attribute ?? {};
      for (const byHop of Object.values(update.announce ?? {})) {
        // An IPv6 next hop may come as global + link-local: both keys list the same NLRI; let the global one win.
        const hops = Object.entries(byHop).sort(([a], [b]) => Number(!a.startsWith('fe80')) - Number(!b.startsWith('fe80')));
        for (const [nextHop, nlris] of hops) {
          for (const n of nlris) {
            const prefix = nlriOf(n);
            routes.set(`${peer}|${prefix}`, {
              prefix,
              nextHop,
              asPath: a['as-path'] ?? [],
              ...(a.med !== undefined ? { med: a.med } : {}),
              ...(a['local-preference'] !== undefined ? { localPref: a['local-preference'] } : {}),
              communities: (a.community ?? []).map((c) => c.join(':')),
              largeCommunities: (a['large-community'] ?? []).map((c) => c.join(':')),
              origin: normOrigin(a.origin),
              peer,
            });
          }
        }
      }
    }
    return { states, routes };
  }

  async sessionState(peerAddr: string): Promise<SessionState> {
    return (await this.replay()).states.get(peerAddr) ?? 'Active';
  }

  async routes(): Promise<ReceivedRoute[]> {
    return sortRoutes([...(await this.replay()).routes.values()]);
  }

  protected logFiles(): string[] {
    return ['exabgp.log', 'exabgp.out', 'received.jsonl'].map((f) => join(this.dir, f));
  }
}

function nlriOf(n: string | { nlri?: string }): string {
  return typeof n === 'string' ? n : (n.nlri ?? '');
}

interface ExaMessage {
  type?: string;
  neighbor?: {
    address?: { local?: string; peer?: string };
    state?: string;
    message?: {
      update?: {
        attribute?: {
          origin?: string;
          'as-path'?: number[];
          med?: number;
          'local-preference'?: number;
          community?: number[][];
          'large-community'?: number[][];
        };
        announce?: Record<string, Record<string, (string | { nlri?: string })[]>>;
        withdraw?: Record<string, (string | { nlri?: string })[]>;
      };
    };
  };
}
