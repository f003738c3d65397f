import { describe, expect, it } from 'vitest';
import { DEFAULT_LXD_RULES, deriveLxd, originText, parseHeraldCheck, type LxdRules } from '../../../../src/sources/lxd/derive.js';
import type { LxdInstance, LxdNetwork, LxdView } from '../../../../src/sources/lxd/types.js';
import { sample } from './helpers.js';


function view(over: Partial<LxdView> = {}): LxdView {
  return {
    serverName: 'none',
    clustered: false,
    memberStatus: null,
    projects: [{ name: 'default', config: {} }],
    instances: [],
    networks: [],
    states: new Map(),
    forwards: new Map(),
    loadBalancers: new Map(),
    ...over,
  };
}
const rules = (r: Partial<LxdRules> = {}): LxdRules => ({ ...DEFAULT_LXD_RULES, ...r });
const routes = (v: LxdView, r?: Partial<LxdRules>) =>
  deriveLxd(v, rules(r)).intents.map((i) => `${i.prefix} via ${i.nextHop} (${i.source})`).sort();

function inst(name: string, devices: Record<string, Record<string, string>>, over: Partial<LxdInstance> = {}): LxdInstance {
  return { name, project: 'default', location: 'none', status: 'Running', expanded_config: {}, expanded_devices: devices, ...over };
}
function ovnNet(name: string, config: Record<string, string>, over: Partial<LxdNetwork> = {}): LxdNetwork {
  return { name, type: 'ovn', managed: true, config: { network: 'UPLINK', ...config }, locations: ['none'], ...over };
}
const bridge = (name: string, config: Record<string, string> = {}): LxdNetwork => ({ name, type: 'bridge', managed: true, config, locations: ['none'] });

describe('deriveLxd over the real LXD 5.0 samples', () => {
  const ovnNets = sample<LxdNetwork[]>('networks-recursion1-ovn.json');
  const ovnInst = sample<LxdInstance[]>('instances-recursion2-ovn.json');
  const brNets = sample<LxdNetwork[]>('networks-recursion1-bridge.json');
  const brInst = sample<LxdInstance[]>('instances-recursion2-bridge.json');

  it('OVN net1 (NAT off) announces its subnet and the running instance routes via the OVN router', () => {
    const d = deriveLxd(view({ networks: ovnNets, instances: ovnInst }));
    expect(d.intents.map((i) => `${i.prefix} via ${i.nextHop} (${i.source})`).sort()).toEqual([
      '198.51.100.0/25 via 203.0.113.10 (lxd:default/net1:ovn.subnet)',
      '198.51.100.200/32 via 203.0.113.10 (lxd:default/c1/eth0:routes.external)',
    ]);
    expect(d.origins.find((o) => o.rule === 'routes.external')).toEqual({
      project: 'default',
      instance: 'c1',
      device: 'eth0',
      network: 'net1',
      rule: 'routes.external',
    });
    // ipv6.address is "none": nothing IPv6, and nothing skipped.
    expect(d.skipped).toEqual([]);
  });

  it('the stopped bridge instances announce nothing; running, both share one /32 via self', () => {
    expect(routes(view({ networks: brNets, instances: brInst }))).toEqual([]);
    const running = brInst.map((i) => ({ ...i, status: 'Running' }));
    expect(routes(view({ networks: brNets, instances: running }))).toEqual([
      '198.51.100.10/32 via self (lxd:default/c1/eth0:routes.external)',
      '198.51.100.10/32 via self (lxd:default/c2/eth0:routes.external)',
    ]);
  });

  it('nic.address and bridge.subnet are opt-in; bridge subnets follow NAT', () => {
    const running = brInst.map((i) => ({ ...i, status: 'Running' }));
    const r = routes(view({ networks: brNets, instances: running }), { nicAddresses: true, bridgeSubnets: true });
    expect(r).toContain('192.0.2.50/32 via self (lxd:default/c1/eth0:nic.address)');
    expect(r).toContain('192.0.2.51/32 via self (lxd:default/c2/eth0:nic.address)');
    expect(r).toContain('192.0.2.0/24 via self (lxd:default/lxdbr0:bridge.subnet)');
    expect(r).toContain('2001:db8:1::/64 via self (lxd:default/lxdbr0:bridge.subnet)');
    const nat = brNets.map((n) => (n.name === 'lxdbr0' ? { ...n, config: { ...n.config, 'ipv4.nat': 'true' } } : n));
    const r2 = routes(view({ networks: nat, instances: running }), { bridgeSubnets: true });
    expect(r2.filter((x) => x.includes('bridge.subnet'))).toEqual(['2001:db8:1::/64 via self (lxd:default/lxdbr0:bridge.subnet)']);
  });
});

describe('deriveLxd rules', () => {
  const dual = ovnNet('n6', {
    'ipv4.address': '198.51.100.1/25',
    'ipv4.nat': 'false',
    'ipv6.address': '2001:db8:5::1/64',
    'ipv6.nat': 'false',
    'volatile.network.ipv4.address': '203.0.113.10',
    'volatile.network.ipv6.address': '2001:db8:ff::10',
  });

  it('NAT on announces the NAT address as a host route instead of the subnet', () => {
    const n = ovnNet('natnet', {
      'ipv4.address': '198.51.100.129/25',
      'ipv4.nat': 'true',
      'ipv4.nat.address': '203.0.113.15',
      'ipv6.address': '2001:db8:7::1/64',
      'ipv6.nat': 'true',
      'ipv6.nat.address': '2001:db8:ff::15',
      'volatile.network.ipv4.address': '203.0.113.15',
      'volatile.network.ipv6.address': '2001:db8:ff::15',
    });
    expect(routes(view({ networks: [n] }))).toEqual([
      '2001:db8:ff::15/128 via 2001:db8:ff::15 (lxd:default/natnet:ovn.nat)',
      '203.0.113.15/32 via 203.0.113.15 (lxd:default/natnet:ovn.nat)',
    ]);
    // NAT on without a nat.address: nothing.
    const bare = ovnNet('b', { 'ipv4.address': '198.51.100.129/25', 'ipv4.nat': 'true', 'volatile.network.ipv4.address': '203.0.113.15' });
    expect(routes(view({ networks: [bare] }))).toEqual([]);
  });

  it('IPv6 prefixes need an IPv6 next hop: missing volatile ipv6 address is skipped with a reason, never IPv4-mapped', () => {
    const n = ovnNet('v4only', {
      'ipv4.address': '198.51.100.1/25',
      'ipv6.address': '2001:db8:5::1/64',
      'volatile.network.ipv4.address': '203.0.113.10',
    });
    const d = deriveLxd(view({ networks: [n], instances: [inst('c', { eth0: { type: 'nic', network: 'v4only', 'ipv6.routes.external': '2001:db8:6::/48' } })] }));
    expect(d.intents.map((i) => i.prefix)).toEqual(['198.51.100.0/25']);
    expect(d.skipped.map((s) => s.prefix).sort()).toEqual(['2001:db8:5::/64', '2001:db8:6::/48']);
    expect(d.skipped[0]!.reason).toMatch(/no volatile\.network\.ipv6\.address/);
    const mapped = ovnNet('m', { 'ipv6.address': '2001:db8:5::1/64', 'volatile.network.ipv6.address': '::ffff:203.0.113.10' });
    const d2 = deriveLxd(view({ networks: [mapped] }));
    expect(d2.intents).toEqual([]);
    expect(d2.skipped[0]!.reason).toMatch(/next-hop family must match/);
    for (const i of deriveLxd(view({ networks: [dual] })).intents) expect(i.nextHop.includes(':')).toBe(i.prefix.includes(':'));
  });

  it('missing volatile IPv4 address: the subnet is skipped with a reason', () => {
    const n = ovnNet('nov', { 'ipv4.address': '198.51.100.1/25' });
    const d = deriveLxd(view({ networks: [n] }));
    expect(d.intents).toEqual([]);
    expect(d.skipped).toEqual([
      { prefix: '198.51.100.0/25', reason: expect.stringMatching(/no volatile\.network\.ipv4\.address/), origin: { project: 'default', network: 'nov', rule: 'ovn.subnet' } },
    ]);
  });

  it('IPv6-only OVN network announces only its IPv6 subnet', () => {
    const n = ovnNet('v6', { 'ipv4.address': 'none', 'ipv6.address': '2001:db8:5::1/64', 'volatile.network.ipv6.address': '2001:db8:ff::10' });
    expect(routes(view({ networks: [n] }))).toEqual(['2001:db8:5::/64 via 2001:db8:ff::10 (lxd:default/v6:ovn.subnet)']);
  });

  it('status: Running and Ready announce; Stopped, Frozen, Error do not', () => {
    const dev = { eth0: { type: 'nic', network: 'n6', 'ipv4.routes.external': '198.51.100.200/32' } };
    const by = (status: string) => routes(view({ networks: [dual], instances: [inst('c', dev, { status })] }), { ovnNetworks: false });
    expect(by('Running')).toEqual(['198.51.100.200/32 via 203.0.113.10 (lxd:default/c/eth0:routes.external)']);
    expect(by('Ready')).toHaveLength(1);
    expect(by('Frozen')).toEqual([]);
    expect(by('Stopped')).toEqual([]);
    expect(by('Error')).toEqual([]);
  });

  it('an instance that is not running, and an evacuated member, list the routes they withhold in skipped with the reason (no check started)', () => {
    const dev = { eth0: { type: 'nic', network: 'br', 'ipv4.routes.external': '198.51.100.10/32' } };
    const stopped = deriveLxd(
      view({ networks: [bridge('br')], instances: [inst('c1', dev, { status: 'Stopped', expanded_config: { 'user.herald.check': 'tcp:192.0.2.5:80', 'user.herald.routes': '198.51.100.11/32' } })] }),
    );
    expect(stopped.intents).toEqual([]);
    expect(stopped.checks).toBeUndefined();
    expect(stopped.skipped.map((k) => `${k.prefix} ${originText(k.origin)}: ${k.reason}`)).toEqual([
      '198.51.100.10/32 lxd:default/c1/eth0:routes.external: instance c1 (project default) is Stopped: only Running or Ready instances are announced',
      '198.51.100.11/32 lxd:default/c1:user.herald.routes: instance c1 (project default) is Stopped: only Running or Ready instances are announced',
    ]);
    // Another member's stopped instance is not ours to explain.
    const cluster = view({ serverName: 'hv1', clustered: true, memberStatus: 'Online', networks: [bridge('br')], instances: [inst('c1', dev, { status: 'Stopped', location: 'hv2' })] });
    expect(deriveLxd(cluster).skipped).toEqual([]);
    const ev = deriveLxd({ ...cluster, memberStatus: 'Evacuated', instances: [inst('c1', dev, { location: 'hv1' })] });
    expect(ev.intents).toEqual([]);
    expect(ev.skipped.map((k) => k.reason)).toEqual(['this member (hv1) is evacuated: instance routes are withdrawn until it is restored']);
  });

  it('forwards and load balancers announce their listen addresses via the OVN router', () => {
    const v = view({
      networks: [dual],
      forwards: new Map([['default/n6', [{ listen_address: '203.0.113.17' }, { listen_address: '2001:db8:ff::17' }]]]),
      loadBalancers: new Map([['default/n6', [{ listen_address: '203.0.113.18' }]]]),
    });
    expect(routes(v, { ovnNetworks: false })).toEqual([
      '2001:db8:ff::17/128 via 2001:db8:ff::10 (lxd:default/n6/2001:db8:ff::17:forward)',
      '203.0.113.17/32 via 203.0.113.10 (lxd:default/n6/203.0.113.17:forward)',
      '203.0.113.18/32 via 203.0.113.10 (lxd:default/n6/203.0.113.18:load-balancer)',
    ]);
    expect(routes(v, { ovnNetworks: false, forwards: false, loadBalancers: false })).toEqual([]);
  });

  it('projects: instances use their own project networks with features.networks, else the default project\'s', () => {
    const own = { ...ovnNet('n', { 'ipv4.address': '198.51.100.129/25', 'volatile.network.ipv4.address': '203.0.113.11' }), project: 'tenant' };
    const def = ovnNet('n', { 'ipv4.address': '198.51.100.1/25', 'volatile.network.ipv4.address': '203.0.113.10' });
    const dev = { eth0: { type: 'nic', network: 'n', 'ipv4.routes.external': '192.0.2.7/32' } };
    const v = view({
      projects: [
        { name: 'default', config: {} },
        { name: 'tenant', config: { 'features.networks': 'true' } },
        { name: 'shared', config: { 'features.networks': 'false' } },
      ],
      networks: [def, own],
      instances: [inst('a', dev, { project: 'tenant' }), inst('b', { eth0: { ...dev.eth0, 'ipv4.routes.external': '192.0.2.8/32' } }, { project: 'shared' })],
    });
    const r = routes(v, { ovnNetworks: false });
    expect(r).toEqual(['192.0.2.7/32 via 203.0.113.11 (lxd:tenant/a/eth0:routes.external)', '192.0.2.8/32 via 203.0.113.10 (lxd:shared/b/eth0:routes.external)']);
    expect(routes(v, { ovnNetworks: false, projects: ['shared'] })).toEqual(['192.0.2.8/32 via 203.0.113.10 (lxd:shared/b/eth0:routes.external)']);
  });

  it('cluster: only instances located on this member; evacuated withdraws instance routes but not network routes', () => {
    const dev = (p: string) => ({ eth0: { type: 'nic', network: 'br', 'ipv4.routes.external': p } });
    const v = view({
      serverName: 'hv1',
      clustered: true,
      memberStatus: 'Online',
      networks: [{ ...bridge('br'), locations: ['hv1', 'hv2'] }, dual],
      instances: [inst('a', dev('198.51.100.10/32'), { location: 'hv1' }), inst('b', dev('198.51.100.11/32'), { location: 'hv2' }), inst('c', dev('198.51.100.12/32'), { location: 'none' })],
    });
    expect(routes(v, { ovnNetworks: false })).toEqual(['198.51.100.10/32 via self (lxd:default/a/eth0:routes.external)']);
    const ev = routes({ ...v, memberStatus: 'Evacuated' });
    expect(ev.some((x) => x.includes('routes.external'))).toBe(false);
    expect(ev).toContain('198.51.100.0/25 via 203.0.113.10 (lxd:default/n6:ovn.subnet)');
  });

  it('uplink filter and active-chassis mode', () => {
    const other = { ...dual, name: 'o', config: { ...dual.config, network: 'UPLINK2', 'ipv4.address': '192.0.2.1/24', 'ipv6.address': 'none' } };
    const v = view({ serverName: 'hv1', clustered: true, memberStatus: 'Online', networks: [dual, other] });
    expect(routes(v, { uplinks: ['UPLINK2'] })).toEqual(['192.0.2.0/24 via 203.0.113.10 (lxd:default/o:ovn.subnet)']);
    const states = new Map([['default/n6', { ovn: { chassis: 'hv1' } }], ['default/o', { ovn: { chassis: 'hv2' } }]]);
    const r = routes({ ...v, states }, { announceFrom: 'active-chassis' });
    expect(r).toEqual(['198.51.100.0/25 via 203.0.113.10 (lxd:default/n6:ovn.subnet)', '2001:db8:5::/64 via 2001:db8:ff::10 (lxd:default/n6:ovn.subnet)']);
    const unknown = deriveLxd({ ...v, states: new Map() }, rules({ announceFrom: 'active-chassis' }));
    expect(unknown.intents).toEqual([]);
    expect(unknown.skipped[0]!.reason).toMatch(/active chassis .* unknown/);
  });

  it('active-chassis: the host of the chassis announces, the others list each route in skipped with the chassis that announces it', () => {
    const ovnNets = sample<LxdNetwork[]>('networks-recursion1-ovn.json');
    const ovnInst = sample<LxdInstance[]>('instances-recursion2-ovn.json');
    // Standalone (as the real LXD 5.0 in the lab): server_name is the host name, ovn.chassis too.
    const states = new Map([['default/net1', { ovn: { chassis: 'hv1' } }]]);
    const v = view({ serverName: 'hv1', networks: ovnNets.map((n) => ({ ...n, project: 'default' })), instances: ovnInst, states });
    const both = ['198.51.100.0/25 via 203.0.113.10 (lxd:default/net1:ovn.subnet)', '198.51.100.200/32 via 203.0.113.10 (lxd:default/c1/eth0:routes.external)'];
    expect(routes(v, { announceFrom: 'active-chassis' })).toEqual(both);
    expect(routes(v, { announceFrom: 'active-chassis', chassisName: 'hv1' })).toEqual(both);
    // chassis_name says this host is another chassis: nothing via the OVN router, each route skipped with the reason.
    const other = deriveLxd(v, rules({ announceFrom: 'active-chassis', chassisName: 'hv2' }));
    expect(other.intents).toEqual([]);
    expect(other.skipped.map((x) => `${x.prefix} ${originText(x.origin)}: ${x.reason}`).sort()).toEqual([
      "198.51.100.0/25 lxd:default/net1:ovn.subnet: OVN network net1's active chassis is hv1, not this host (hv2): the host of the active chassis announces it (announce_from: active-chassis)",
      "198.51.100.200/32 lxd:default/c1/eth0:routes.external: OVN network net1's active chassis is hv1, not this host (hv2): the host of the active chassis announces it (announce_from: active-chassis)",
    ]);
    // all-members ignores the chassis.
    expect(routes(v, { chassisName: 'hv2' })).toEqual(both);
    // A server name that is not the chassis name (OVS hostname an FQDN, say) needs chassis_name.
    const fqdn = view({ ...v, states: new Map([['default/net1', { ovn: { chassis: 'hv1.example.org' } }]]) });
    expect(routes(fqdn, { announceFrom: 'active-chassis' })).toEqual([]);
    expect(routes(fqdn, { announceFrom: 'active-chassis', chassisName: 'hv1.example.org' })).toEqual(both);
  });

  it('active-chassis in a cluster: OVN instance routes follow the chassis, bridge routes stay with the instance', () => {
    const net = ovnNet('n', { 'ipv4.address': '198.51.100.1/25', 'ipv4.nat': 'false', 'ipv6.address': 'none', 'volatile.network.ipv4.address': '203.0.113.10' });
    const br = bridge('br');
    const onHv2 = inst('web', { eth0: { type: 'nic', network: 'n', 'ipv4.routes.external': '198.51.100.200/32' }, eth1: { type: 'nic', network: 'br', 'ipv4.routes.external': '203.0.113.77/32' } }, { location: 'hv2' });
    const states = new Map([['default/n', { ovn: { chassis: 'hv1' } }]]);
    const cluster = (me: string) => view({ serverName: me, clustered: true, memberStatus: 'Online', networks: [net, br], instances: [onHv2], states });
    expect(routes(cluster('hv1'), { announceFrom: 'active-chassis' })).toEqual([
      '198.51.100.0/25 via 203.0.113.10 (lxd:default/n:ovn.subnet)',
      '198.51.100.200/32 via 203.0.113.10 (lxd:default/web/eth0:routes.external)',
    ]);
    expect(routes(cluster('hv2'), { announceFrom: 'active-chassis' })).toEqual(['203.0.113.77/32 via self (lxd:default/web/eth1:routes.external)']);
    expect(deriveLxd(cluster('hv2'), rules({ announceFrom: 'active-chassis' })).skipped.map((x) => x.prefix).sort()).toEqual(['198.51.100.0/25', '198.51.100.200/32']);
  });

  it('user.herald.routes adds prefixes via the first NIC of the same family; malformed entries are skipped', () => {
    const i = inst('c', { eth0: { type: 'nic', network: 'br' } }, { expanded_config: { 'user.herald.routes': '198.51.100.64/26, 2001:db8:9::/48 bogus' } });
    const d = deriveLxd(view({ networks: [bridge('br')], instances: [i] }));
    expect(d.intents.map((x) => `${x.prefix} ${x.nextHop} ${x.source}`)).toEqual([
      '198.51.100.64/26 self lxd:default/c:user.herald.routes',
      '2001:db8:9::/48 self lxd:default/c:user.herald.routes',
    ]);
    expect(d.skipped.map((s) => s.prefix)).toEqual(['bogus']);
  });

  it('malformed routes.external entries and wrong families are skipped with reasons', () => {
    const i = inst('c', { eth0: { type: 'nic', network: 'br', 'ipv4.routes.external': '198.51.100.10/32,2001:db8::/64,nope' } });
    const d = deriveLxd(view({ networks: [bridge('br')], instances: [i] }));
    expect(d.intents.map((x) => x.prefix)).toEqual(['198.51.100.10/32']);
    expect(d.skipped.map((s) => s.prefix)).toEqual(['2001:db8::/64', 'nope']);
  });

  it('formats origins as source text', () => {
    expect(originText({ project: 'p', instance: 'i', device: 'eth0', rule: 'routes.external' })).toBe('lxd:p/i/eth0:routes.external');
    expect(originText({ project: 'p', network: 'n', rule: 'ovn.subnet' })).toBe('lxd:p/n:ovn.subnet');
  });
});

describe('parseHeraldCheck (user.herald.check)', () => {
  it('parses tcp:ADDRESS:PORT (IPv4, bracketed or bare IPv6) and http(s) URLs', () => {
    expect(parseHeraldCheck('tcp:192.0.2.5:53')).toEqual({ kind: 'tcp', address: '192.0.2.5', port: 53, timeoutMs: 1000 });
    expect(parseHeraldCheck(' tcp:[2001:db8::5]:443 ')).toMatchObject({ kind: 'tcp', address: '2001:db8::5', port: 443 });
    expect(parseHeraldCheck('tcp:2001:db8::5:443')).toMatchObject({ kind: 'tcp', address: '2001:db8::5', port: 443 });
    expect(parseHeraldCheck('https://192.0.2.5:8443/ready')).toEqual({
      kind: 'https', url: 'https://192.0.2.5:8443/ready', method: 'GET', status: [200], headers: {}, verifyTls: false, timeoutMs: 1000,
    });
  });
  it('refuses exec, unknown kinds, bad addresses and ports, with the reason', () => {
    expect(parseHeraldCheck('exec:reboot')).toMatch(/^user\.herald\.check: cannot parse "exec:reboot": exec checks are not allowed/);
    expect(parseHeraldCheck('udp:192.0.2.5:53')).toMatch(/cannot parse .*unknown kind/);
    expect(parseHeraldCheck('tcp:host.example:80')).toMatch(/is not an IP address/);
    expect(parseHeraldCheck('tcp:192.0.2.5:70000')).toMatch(/port 70000 out of range/);
    expect(parseHeraldCheck('tcp:192.0.2.5')).toMatch(/no :PORT/);
    expect(parseHeraldCheck('http://[bad')).toMatch(/not a URL/);
  });
});
