/**
 * A large LXD deployment for the fake API (fake-lxd.ts), built from LXD's
 * documented response shapes and the real LXD 5.0 responses in
 * ../shared/lab/lxd-samples: `projects` projects with their own networks
 * (features.networks), `netsPerProject` OVN networks each (NAT off, subnet
 * announced) on one physical uplink UPLINK in the default project, and
 * `instancesPerProject` running containers each, one NIC with one
 * `ipv4.routes.external` /32. Each instance carries the fields a recursion=1
 * listing carries (config with volatile keys, devices, profiles, dates, ...)
 * at about the size of the sample's, so reading them costs what a real
 * listing costs.
 *
 * Route data uses 240.0.0.0/4 (reserved, never installed anywhere) and
 * 2001:db8::/32; next hops 203.0.113.0/24 and 2001:db8:ffff::/48.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import type { LxdInstance, LxdNetwork, LxdProject } from '../../../../src/sources/lxd/types.js';

export interface WorldSize {
  projects: number;
  netsPerProject: number;
  instancesPerProject: number;
}

export const FULL_WORLD: WorldSize = { projects: 50, netsPerProject: 4, instancesPerProject: 200 };

export interface World {
  projects: LxdProject[];
  networks: LxdNetwork[];
  instances: LxdInstance[];
  /** The routes.external /32 of instance `i` of project `p`. */
  route(p: number, i: number): string;
  /** The OVN router address (next hop) of network `n` of project `p`. */
  nextHop(p: number, n: number): string;
  /** Routes the world announces: one per instance, two per network (IPv4 and IPv6 subnets). */
  expected: number;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

/** Build the deployment. */
export function world(size: WorldSize = FULL_WORLD): World {
  const { projects: P, netsPerProject: N, instancesPerProject: I } = size;
  const projects: LxdProject[] = [{ name: 'default', config: { 'features.images': 'true', 'features.profiles': 'true', 'features.storage.volumes': 'true' } }];
  const networks: LxdNetwork[] = [
    {
      name: 'UPLINK',
      type: 'physical',
      managed: true,
      project: 'default',
      status: 'Created',
      locations: ['none'],
      config: {
        'dns.nameservers': '203.0.113.1',
        'ipv4.gateway': '203.0.113.1/24',
        'ipv4.ovn.ranges': '203.0.113.10-203.0.113.250',
        'ipv4.routes': '240.0.0.0/4',
        'ipv6.gateway': '2001:db8:ffff::1/64',
        'ipv6.routes': '2001:db8::/32',
        parent: 'upl0',
        'volatile.last_state.created': 'false',
      },
    },
  ];
  const instances: LxdInstance[] = [];
  const route = (p: number, i: number): string => `240.${p}.${i >> 8}.${i & 255}/32`;
  const nextHop = (p: number, n: number): string => `203.0.113.${((p * N + n) % 240) + 10}`;
  for (let p = 0; p < P; p++) {
    const project = `p${p}`;
    projects.push({ name: project, config: { 'features.images': 'false', 'features.networks': 'true', 'features.profiles': 'true', 'features.storage.volumes': 'true' } });
    for (let n = 0; n < N; n++) {
      const k = p * N + n;
      networks.push({
        name: `net${n}`,
        type: 'ovn',
        managed: true,
        project,
        status: 'Created',
        locations: ['none'],
        config: {
          'bridge.mtu': '1442',
          network: 'UPLINK',
          'ipv4.address': `241.${p}.${n}.1/24`,
          'ipv4.nat': 'false',
          'ipv6.address': `2001:db8:${hex(p, 1)}:${hex(n, 1)}::1/64`,
          'ipv6.nat': 'false',
          'volatile.network.ipv4.address': nextHop(p, n),
          'volatile.network.ipv6.address': `2001:db8:ffff::${hex(k + 10, 1)}`,
        },
      });
    }
    for (let i = 0; i < I; i++) {
      const uuid = `${hex(p, 8)}-${hex(i, 4)}-4466-a994-${hex(p * I + i, 12)}`;
      const config = {
        'image.architecture': 'amd64',
        'image.description': 'Debian bookworm amd64 (20240601_05:24)',
        'image.os': 'Debian',
        'image.release': 'bookworm',
        'image.serial': '20240601_05:24',
        'image.type': 'squashfs',
        'image.variant': 'default',
        'volatile.base_image': 'a4f2b3c1d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80',
        'volatile.cloud-init.instance-id': uuid,
        'volatile.eth0.host_name': `veth${hex(p * I + i, 8)}`,
        'volatile.eth0.hwaddr': `00:16:3e:${hex(p, 2)}:${hex(i >> 8, 2)}:${hex(i & 255, 2)}`,
        'volatile.eth0.name': 'eth0',
        'volatile.idmap.base': '0',
        'volatile.idmap.current': '[{"Isuid":true,"Isgid":false,"Hostid":1000000,"Nsid":0,"Maprange":1000000000}]',
        'volatile.idmap.next': '[{"Isuid":true,"Isgid":false,"Hostid":1000000,"Nsid":0,"Maprange":1000000000}]',
        'volatile.last_state.idmap': '[]',
        'volatile.last_state.power': 'RUNNING',
        'volatile.uuid': uuid,
        'volatile.uuid.generation': uuid,
      };
      const nic = { type: 'nic', network: `net${i % N}`, 'ipv4.routes.external': route(p, i) };
      instances.push({
        architecture: 'x86_64',
        config,
        devices: { eth0: nic },
        ephemeral: false,
        profiles: ['default'],
        stateful: false,
        description: '',
        created_at: '2024-06-01T10:00:00.000000000Z',
        expanded_config: config,
        expanded_devices: { eth0: nic, root: { path: '/', pool: 'default', type: 'disk' } },
        name: `c${i}`,
        status: 'Running',
        status_code: 103,
        last_used_at: '2024-06-01T10:01:00.000000000Z',
        location: 'none',
        type: 'container',
        project,
        backups: null,
        snapshots: null,
      } as LxdInstance);
    }
  }
  return { projects, networks, instances, route, nextHop, expected: P * I + P * N * 2 };
}
