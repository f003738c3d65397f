// A real LXD 5.0 cluster for herald's cluster tests: N LxdDaemons in N lab
// namespaces (one LXD_DIR, UTS hostname and address each) formed into one
// cluster through the REST API, the way `lxc cluster add` / `lxd init` do it:
//   1. the first member listens on core.https_address and turns clustering on
//      (`PUT /1.0/cluster` {server_name, enabled});
//   2. for each joiner it asks for a join token (`POST /1.0/cluster/members`
//      {server_name}: an operation whose metadata holds the secret, the
//      cluster certificate's fingerprint and the members' addresses; the
//      token is that JSON in base64, as the lxc client builds it);
//   3. the joiner `PUT /1.0/cluster` {server_name, server_address,
//      cluster_address, cluster_certificate, cluster_token, member_config,
//      enabled} and waits for the operation.
// Storage pools and networks are then made the cluster way: once per member
// with `--target` (member-specific keys: the dir pool's source, the uplink's
// parent), then once without to create them everywhere. With OVN each member
// has its own OvnStack (OVS + ovn-controller, geneve over br-phy) and one
// OvnCentral holds NB/SB/northd.
// No RFC: this is test infrastructure.

import { Buffer } from 'node:buffer';
import type { Lab } from './netns.js';
import { sleep } from './process.js';
import { LxdDaemon, type LxdResponse, type OvnCentral, type OvnStack } from './lxd.js';

export interface ClusterMemberSpec {
  /** Member name = UTS hostname = `server_name` = OVN chassis hostname. */
  name: string;
  /** Namespace (already made, with `address` on an interface). */
  ns: string;
  /** The member's cluster address (no port); :8443 is used. */
  address: string;
  /** This member's OVS + ovn-controller, in `ns`. */
  ovn?: OvnStack;
}

interface Operation {
  id: string;
  status: string;
  err: string;
  metadata: Record<string, unknown> | null;
}

/** A formed LXD cluster; members[i] is the daemon of specs[i]. */
export class LxdCluster {
  /** Milliseconds from the first daemon's start to the last member joined. */
  formMs = 0;

  private constructor(
    readonly members: LxdDaemon[],
    readonly names: string[],
    readonly central: OvnCentral | undefined,
  ) {}

  /** Start one LXD per spec and form the cluster; the first spec bootstraps it. */
  static async form(lab: Lab, specs: readonly ClusterMemberSpec[], opts: { central?: OvnCentral } = {}): Promise<LxdCluster> {
    const t0 = Date.now();
    if (specs.length === 0) throw new Error('LxdCluster.form: no members');
    const members = await Promise.all(
      specs.map((s) =>
        LxdDaemon.start(lab, { ns: s.ns, hostname: s.name, ...(s.ovn !== undefined ? { ovn: s.ovn, setOvnConnection: false } : {}) }),
      ),
    );
    const cluster = new LxdCluster(members, specs.map((s) => s.name), opts.central);
    const first = members[0]!;
    const addr = (i: number): string => `${specs[i]!.address}:8443`;
    await first.lxc(['config', 'set', 'core.https_address', addr(0)]);
    await cluster.wait(first, await first.request('PUT', '/1.0/cluster', { server_name: specs[0]!.name, enabled: true }), 'enable clustering');
    const certificate = (await first.get<{ environment: { certificate: string } }>('/1.0')).environment.certificate;
    for (let i = 1; i < specs.length; i++) {
      const spec = specs[i]!;
      const op = await cluster.wait(first, await first.request('POST', '/1.0/cluster/members', { server_name: spec.name }), `join token for ${spec.name}`, false);
      const token = joinToken(op.metadata ?? {});
      const joiner = members[i]!;
      const r = await joiner.request('PUT', '/1.0/cluster', {
        server_name: spec.name,
        enabled: true,
        server_address: addr(i),
        cluster_address: addr(0),
        cluster_certificate: certificate,
        cluster_token: token,
        // LXD 5.0.2 sets up the trust only from `cluster_password`, and
        // decodes it as a join token: with `cluster_token` alone the join
        // fails with "Failed to update cluster trust: Failed getting
        // existing certificate: not authorized", with the bare secret as
        // password "Failed to add server cert to cluster: not authorized".
        cluster_password: token,
        member_config: [],
      });
      await cluster.wait(joiner, r, `${spec.name} joining`);
    }
    const listed = await first.get<{ server_name: string; status: string }[]>('/1.0/cluster/members?recursion=1');
    const online = listed.filter((m) => m.status === 'Online').map((m) => m.server_name).sort();
    if (online.join() !== [...cluster.names].sort().join()) throw new Error(`cluster members online: ${online.join(', ')}; expected ${cluster.names.join(', ')}`);
    // Set once the cluster exists, so every member hears of it: set on the
    // first member before the joins, the joiners kept LXD's default
    // (unix:/var/run/ovn/ovnnb_db.sock) and creating an OVN network failed
    // on them ("failed to notify peer ...: Failed getting port group UUID").
    const nb = specs.find((s) => s.ovn !== undefined)?.ovn?.nbConnection;
    if (nb !== undefined) await first.lxc(['config', 'set', 'network.ovn.northbound_connection', nb]);
    cluster.formMs = Date.now() - t0;
    return cluster;
  }

  /** The daemon of member `name`. */
  member(name: string): LxdDaemon {
    const i = this.names.indexOf(name);
    if (i < 0) throw new Error(`no cluster member ${name}`);
    return this.members[i]!;
  }

  /** Wait for an async response's operation (on daemon d); return it, throw on failure. */
  private async wait(d: LxdDaemon, r: LxdResponse<unknown>, what: string, untilDone = true): Promise<Operation> {
    if (r.type === 'error') throw new Error(`LXD cluster: ${what}: ${r.error_code} ${r.error}`);
    if (r.type === 'sync') return { id: '', status: 'Success', err: '', metadata: r.metadata as Record<string, unknown> };
    const id = (r.metadata as Operation).id;
    if (!untilDone) return r.metadata as Operation;
    const w = await d.request<Operation>('GET', `/1.0/operations/${id}/wait?timeout=120`, undefined, 130_000);
    if (w.type === 'error') throw new Error(`LXD cluster: ${what}: ${w.error}`);
    if (w.metadata.status !== 'Success') throw new Error(`LXD cluster: ${what}: ${w.metadata.status}: ${w.metadata.err}${d.logTail(10)}`);
    return w.metadata;
  }

  /** Create a `dir` pool on every member (a lab temp dir each as `source`), then cluster-wide. */
  async createDirPool(lab: Lab, name = 'default'): Promise<void> {
    const first = this.members[0]!;
    for (const [i, m] of this.members.entries()) {
      const source = await lab.tempDir('lxdpool');
      await first.lxc(['storage', 'create', name, 'dir', `source=${source}`, '--target', this.names[i]!]);
      m.registerPool(name, source);
    }
    await first.lxc(['storage', 'create', name, 'dir']);
  }

  /** Create a `physical` OVN uplink: `parent` on each member (pending), then the cluster-wide config. */
  async createUplink(name: string, parent: string, config: Record<string, string>): Promise<void> {
    const first = this.members[0]!;
    for (const member of this.names) await first.lxc(['network', 'create', name, '--type=physical', `parent=${parent}`, '--target', member]);
    await first.lxc(['network', 'create', name, '--type=physical', ...Object.entries(config).map(([k, v]) => `${k}=${v}`)]);
  }

  /**
   * Create an OVN network (cluster-wide), switch every member's uplink OVS
   * bridge to the userspace datapath, and return the router's uplink address
   * (`volatile.network.ipv4.address`).
   */
  async createOvnNetwork(name: string, uplink: string, config: Record<string, string>): Promise<string> {
    const first = this.members[0]!;
    await first.lxc(['network', 'create', name, '--type=ovn', `network=${uplink}`, ...Object.entries(config).map(([k, v]) => `${k}=${v}`)]);
    for (const m of this.members) await m.ovn?.useNetdevDatapath();
    const net = await first.get<{ config: Record<string, string> }>(`/1.0/networks/${encodeURIComponent(name)}`);
    const addr = net.config['volatile.network.ipv4.address'];
    if (addr === undefined) throw new Error(`OVN network ${name} has no volatile.network.ipv4.address`);
    return addr;
  }

  /** `lxc cluster evacuate NAME --force` (through member `via`, default the first). */
  async evacuate(name: string, via = this.names[0]!): Promise<void> {
    await this.member(via).lxc(['cluster', 'evacuate', name, '--force']);
  }

  /** `lxc cluster restore NAME --force`. */
  async restore(name: string, via = this.names[0]!): Promise<void> {
    await this.member(via).lxc(['cluster', 'restore', name, '--force']);
  }

  /** `status` of a member (Online, Evacuated, Offline, ...) as `via` sees it. */
  async memberStatus(name: string, via = this.names[0]!): Promise<string> {
    return (await this.member(via).get<{ status: string }>(`/1.0/cluster/members/${encodeURIComponent(name)}`)).status;
  }

  /**
   * Stop every member: instances first (while the cluster still has quorum),
   * then each daemon (`lxd shutdown`, pids, strays) in reverse join order.
   */
  async stop(): Promise<void> {
    // Each running member stops its own instances: asking one member to stop
    // an instance on a dead member waits for a connection that never comes.
    await Promise.all(
      this.members.map(async (m, i) => {
        if (m.pid === undefined) return;
        const list = await m.get<{ name: string; project: string; status: string; location: string }[]>('/1.0/instances?recursion=1&all-projects=true').catch(() => []);
        await Promise.all(
          list
            .filter((x) => x.location === this.names[i] && x.status !== 'Stopped')
            .map((x) => m.lxc(['stop', x.name, '--project', x.project, '--force'], { allowFail: true, timeoutMs: 20_000 })),
        );
      }),
    );
    for (const m of [...this.members].reverse()) {
      await m.stop({ instances: false }).catch(() => undefined);
      await sleep(10);
    }
  }
}

/** Build the join token the way the lxc client does: base64 of the operation's metadata as JSON. */
export function joinToken(md: Record<string, unknown>): string {
  const token = {
    server_name: md['serverName'],
    fingerprint: md['fingerprint'],
    addresses: md['addresses'],
    secret: md['secret'],
    ...(md['expiresAt'] !== undefined ? { expires_at: md['expiresAt'] } : {}),
  };
  for (const k of ['server_name', 'fingerprint', 'addresses', 'secret'] as const) {
    if (token[k] === undefined) throw new Error(`join token operation metadata lacks ${k}: ${JSON.stringify(md)}`);
  }
  return Buffer.from(JSON.stringify(token)).toString('base64');
}
