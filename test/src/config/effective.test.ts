import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { effectiveConfig, parseConfig, toPeerConfig } from '../../../src/config/index.js';

const EXAMPLE = readFileSync(new URL('./fixtures/issue-example.yaml', import.meta.url), 'utf8');

describe('effectiveConfig', () => {
  const c = parseConfig(EXAMPLE, 'herald.yaml');
  const eff = effectiveConfig(c);

  it('fills every default', () => {
    expect(eff['api']).toEqual({ socket: '/run/herald/herald.sock', mode: '0660', group: null, readonly_socket: '/run/herald/herald-ro.sock', readonly_mode: '0666', operators: null });
    expect(eff['logging']).toEqual({ level: 'info', format: 'json' });
    expect(eff['drain']).toEqual({ period: '0s', message: 'herald shutting down' });
    expect(eff['metrics']).toBeNull();
    expect(eff['peer_defaults']).toEqual({ connect_retry: '1s', connect_retry_max: '30s', idle_hold: '5s', idle_hold_max: '5m', idle_hold_forgive: '2m' });
    expect(eff['graceful_restart']).toBeNull();
    const peers = eff['peers'] as Record<string, unknown>[];
    expect(peers[0]).toMatchObject({
      name: 'upstream1',
      port: 179,
      passive: false,
      hold_time: 9,
      connect_retry: '1s',
      connect_retry_max: '30s',
      idle_hold: '5s',
      idle_hold_max: '5m',
      idle_hold_forgive: '2m',
      graceful_restart: null,
      families: ['ipv4'],
      import: 'none',
      import_limits: { max_as_path: 1000, max_route_bytes: 65536, max_bytes: 67108864, action: 'block' },
      max_prefixes: null,
      extended_next_hop: false,
      shutdown: false,
    });
    expect(peers[1]).toMatchObject({ hold_time: 90, families: ['ipv4', 'ipv6'] });
    const services = eff['services'] as Record<string, unknown>[];
    expect(services[0]).toMatchObject({
      interval: '1s',
      fast_interval: '1s',
      timeout: '1s',
      jitter: '100ms',
      rise: 2,
      fall: 2,
      combine: 'all',
      when_down: { withdraw: true },
      next_hop: 'self',
      peers: 'all',
    });
    expect(services[0]!['checks']).toEqual([
      { dns: { server: '127.0.0.1', port: 53, protocol: 'udp', query: 'example.org', type: 'SOA', rcode: 'NOERROR', answer: null, timeout: '1s' } },
    ]);
    expect(services[1]).toMatchObject({ interval: '2s', timeout: '1s', jitter: '200ms', rise: 2, fall: 3 });
    expect(services[1]!['when_down']).toEqual({ prepend: 3, med: null, communities: [], large_communities: [], graceful_shutdown: false });
  });

  it('redacts the password in every rendering', () => {
    const peers = eff['peers'] as Record<string, unknown>[];
    expect(peers[2]!['password']).toBe('<redacted>');
    expect(peers[0]!['password']).toBeNull();
    expect(JSON.stringify(eff)).not.toContain('change-me');
    expect(stringify(eff)).not.toContain('change-me');
  });

  it('is plain data that round-trips through JSON', () => {
    expect(JSON.parse(JSON.stringify(eff))).toEqual(eff);
  });

  it('toPeerConfig hands the speaker the real key and the derived settings', () => {
    expect(toPeerConfig(c.peers[2]!)).toEqual({
      name: 'vultr',
      address: '169.254.169.254',
      port: 179,
      asn: 64515,
      localAddress: '192.0.2.11',
      passive: false,
      holdTime: 90,
      connectRetryMs: 1000,
      connectRetryMaxMs: 30_000,
      idleHoldMs: 5000,
      idleHoldMaxMs: 300_000,
      idleHoldForgiveMs: 120_000,
      password: 'change-me',
      multihop: 2,
      families: ['ipv4'],
      extendedNextHop: false,
      importNothing: true,
      receiveLimits: { maxAsPath: 1000, maxAttributeBytes: 65536, maxBytes: 64 * 1024 * 1024, action: { kind: 'block', restartAfterMs: 60_000 } },
    });
  });
});

describe('effectiveConfig: the settings issue 10 added', () => {
  const HEAD = `router_id: 192.0.2.11
asn: 65011
peers:
  - { name: up, address: 192.0.2.1, asn: 65000 }
`;

  it('prints the LXD section in full, every default filled in', () => {
    const eff = effectiveConfig(parseConfig(`${HEAD}lxd: {}\n`, 'herald.yaml'));
    expect(eff['lxd']).toEqual({
      socket: null,
      project: null,
      url: null,
      client_cert: null,
      client_key: null,
      server_cert: null,
      uplinks: [],
      announce_from: 'all-members',
      chassis_name: null,
      rules: { ovn_networks: true, routes_external: true, nic_addresses: false, forwards: true, load_balancers: true, bridge_subnets: false, user_routes: true },
      coalesce: '20ms',
      resync_interval: '1m',
      unreachable_withdraw_after: '10m',
      check_interval: '2s',
      check_timeout: '1s',
      check_rise: 2,
      check_fall: 2,
    });
  });

  it('listen: false, a list of listen addresses, and state_dir', () => {
    const off = effectiveConfig(parseConfig(`${HEAD}listen: false\n`, 'herald.yaml'));
    expect(off['listen']).toBe(false);
    expect(off['state_dir']).toBe('/var/lib/herald');
    const two = parseConfig(`${HEAD}listen: { address: [192.0.2.11, "2001:0db8::11"], port: 1179 }\nstate_dir: /srv/herald\n`, 'herald.yaml');
    expect(two.listen).toEqual({ addresses: ['192.0.2.11', '2001:db8::11'], port: 1179 });
    expect(effectiveConfig(two)['listen']).toEqual({ address: ['192.0.2.11', '2001:db8::11'], port: 1179 });
    expect(two.stateDir).toBe('/srv/herald');
    expect(() => parseConfig(`${HEAD}listen: true\n`, 'herald.yaml')).toThrow(/listen: expected false \(no listener\) or a mapping \{ address, port \}, got true/);
    expect(() => parseConfig(`${HEAD}listen: { address: [192.0.2.11, 192.0.2.11] }\n`, 'herald.yaml')).toThrow(/listen\.address\[1\]: duplicate listen address "192\.0\.2\.11"/);
  });

  it('host_addresses: a built-in check the service runs, shown where it was written', () => {
    const c = parseConfig(
      `${HEAD}services:
  - name: dns
    prefixes: [198.51.100.53/32]
    host_addresses: { mode: add }
    combine: any
    checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ]
`,
      'herald.yaml',
    );
    const s = c.services[0]!;
    expect(s.hostAddresses).toEqual({ mode: 'add', interface: 'lo', addresses: ['198.51.100.53/32'] });
    expect(s.checks.map((k) => k.kind)).toEqual(['tcp', 'host_address']);
    const eff = (effectiveConfig(c)['services'] as Record<string, unknown>[])[0]!;
    expect(eff['host_addresses']).toEqual({ mode: 'add', interface: 'lo' });
    expect(eff['checks']).toEqual([{ tcp: { address: '127.0.0.1', port: 53, timeout: '1s' } }]);
    expect(() =>
      parseConfig(
        `${HEAD}services:\n  - { name: net, prefixes: [198.51.100.0/24], host_addresses: { mode: verify }, checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ] }\n`,
        'herald.yaml',
      ),
    ).toThrow(/services\[0\]\.prefixes\[0\]: 198\.51\.100\.0\/24 is not a host route \(\/32 or \/128\)/);
  });
});
