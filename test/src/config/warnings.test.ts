// Config warnings (issue 10 item 3): settings that load but cannot do what
// they seem to. Host facts are injected (the host the examples are written
// for: 192.0.2.11/24 and 2001:db8::11/64 on eth0), so these run anywhere;
// test/interop/ops.test.ts runs `herald check` against a real kernel.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configWarnings, formatWarning, parseConfig, parseConfigWithLocator, type ConfigWarning } from '../../../src/config/index.js';
import type { HostFacts } from '../../../src/host/interfaces.js';

const read = (rel: string): string => readFileSync(new URL(rel, import.meta.url), 'utf8');

/** The host docs/examples are written for. */
const HOST: HostFacts = {
  addresses: [
    { interface: 'lo', address: '127.0.0.1', prefixLen: 8, family: 'ipv4' },
    { interface: 'lo', address: '::1', prefixLen: 128, family: 'ipv6' },
    { interface: 'eth0', address: '192.0.2.11', prefixLen: 24, family: 'ipv4' },
    { interface: 'eth0', address: '2001:db8::11', prefixLen: 64, family: 'ipv6' },
  ],
  onLink: ['192.0.2.0/24', '2001:db8::/64'],
  onLinkFrom: 'routes',
};

const HEAD = `router_id: 192.0.2.11
asn: 65011
`;

function warn(yaml: string, host: HostFacts | null = HOST): ConfigWarning[] {
  return configWarnings(parseConfig(HEAD + yaml, 'herald.yaml'), host);
}

const codes = (ws: ConfigWarning[]): string[] => ws.map((w) => w.code);

describe('the shipped examples', () => {
  it("catches the issue #3 example's IPv4-less IPv6 session, at its families line", () => {
    const text = read('./fixtures/issue-example.yaml');
    const { config, locate } = parseConfigWithLocator(text, 'herald.yaml');
    const ws = configWarnings(config, HOST);
    expect(codes(ws)).toEqual(['no-next-hop']);
    expect(ws[0]!.peer).toBe('upstream2');
    expect(ws[0]!.prefixes).toEqual(['198.51.100.53/32', '198.51.100.80/32', '203.0.113.0/24']);
    expect(formatWarning('herald.yaml', ws[0]!, locate)).toMatch(
      /^herald\.yaml:13:15: peers\[1\]\.families: warning: upstream2 carries ipv4 over an IPv6 session but has no IPv4 next hop for 'self' routes: .* set next_hop_self\.ipv4/,
    );
    // Config-only: found without host facts too.
    expect(codes(configWarnings(config, null))).toEqual(['no-next-hop']);
  });

  it('docs/examples/*.yaml are warning-free on the host they are written for', () => {
    for (const f of ['herald.yaml', 'herald-full.yaml']) {
      const c = parseConfig(read(`../../../docs/examples/${f}`), f);
      expect(configWarnings(c, HOST), f).toEqual([]);
      expect(configWarnings(c, null), f).toEqual([]);
    }
  });

  it('the same examples on a host without those addresses warn about local_address and multihop', () => {
    const bare: HostFacts = { addresses: HOST.addresses.slice(0, 2), onLink: [], onLinkFrom: 'routes' };
    const c = parseConfig(read('../../../docs/examples/herald.yaml'), 'herald.yaml');
    expect(codes(configWarnings(c, bare)).sort()).toEqual(['local-address-missing', 'needs-multihop', 'needs-multihop']);
  });
});

describe('each warning', () => {
  it('next_hop_self of a family the peer does not carry', () => {
    const ws = warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000, next_hop_self: { ipv6: "2001:db8::11" } }
`);
    expect(codes(ws)).toEqual(['next-hop-self-unused']);
    expect(ws[0]!.path).toEqual(['peers', 0, 'next_hop_self', 'ipv6']);
  });

  it('an IPv6 route over an IPv4 session with no IPv6 next hop, and a service no peer can be sent', () => {
    const ws = warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000, families: [ipv4, ipv6] }
services:
  - name: dns
    prefixes: ["2001:db8:53::53/128"]
    checks: [ { tcp: { address: "::1", port: 53 } } ]
`);
    expect(codes(ws)).toEqual(['no-next-hop', 'never-sent']);
    expect(ws[0]!.message).toContain('no IPv6 next hop');
    expect(ws[1]).toMatchObject({ service: 'dns', path: ['services', 0, 'prefixes'], prefixes: ['2001:db8:53::53/128'] });
    expect(ws[1]!.message).toBe('service dns: 2001:db8:53::53/128 is sent to no peer (up: no IPv6 next hop)');
  });

  it('an explicit IPv6 next hop for IPv4 routes reaches only the peers with extended_next_hop', () => {
    const ws = warn(`peers:
  - { name: a, address: "2001:db8::1", asn: 65000, families: [ipv4, ipv6], extended_next_hop: true }
  - { name: b, address: "2001:db8::2", asn: 65000, families: [ipv4, ipv6], next_hop_self: { ipv4: 192.0.2.11 } }
static:
  - { prefix: 203.0.113.0/24, next_hop: "2001:db8::11" }
`);
    expect(codes(ws)).toEqual(['no-next-hop']);
    expect(ws[0]).toMatchObject({ peer: 'b', path: ['static', 0, 'next_hop'] });
  });

  it('every peer that carries a route shut down', () => {
    const ws = warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000, shutdown: true }
static:
  - prefix: 203.0.113.0/24
`);
    expect(codes(ws)).toEqual(['never-sent']);
    expect(ws[0]!.message).toContain('every peer that carries it is shut down (up)');
  });

  it('a passive peer without a listener', () => {
    expect(codes(warn(`listen: false
peers:
  - { name: up, address: 192.0.2.1, asn: 65000, passive: true }
`))).toEqual(['passive-without-listener']);
  });

  it('a check that probes another host, but not one on loopback, this host, or the service\'s own added address', () => {
    const ws = warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000 }
services:
  - name: web
    prefixes: [198.51.100.80/32]
    host_addresses: { mode: add }
    checks:
      - tcp: { address: 203.0.113.9, port: 80 }
      - http: { url: "http://192.0.2.11/" }
      - http: { url: "http://localhost/" }
      - dns: { server: 198.51.100.80, query: example.org }
      - https: { url: "https://[2001:db8::99]/health" }
`);
    expect(codes(ws)).toEqual(['check-not-local', 'check-not-local']);
    expect(ws.map((w) => w.path)).toEqual([
      ['services', 0, 'checks', 0, 'tcp', 'address'],
      ['services', 0, 'checks', 4, 'https', 'url'],
    ]);
    expect(ws[0]!.message).toBe("203.0.113.9 is not an address of this host: the check probes another machine, so this host would announce web on that machine's health");
  });

  it('eBGP to a peer off every connected network needs multihop; iBGP, multihop, a hop count or a neighbour on this host do not', () => {
    const ws = warn(`peers:
  - { name: far, address: 203.0.113.1, asn: 65000 }
  - { name: gtsm, address: 203.0.113.2, asn: 65000, ttl_security: true }
  - { name: ibgp, address: 203.0.113.3, asn: 65011 }
  - { name: hop, address: 203.0.113.4, asn: 65000, multihop: 3 }
  - { name: gtsm3, address: 203.0.113.5, asn: 65000, ttl_security: 3 }
  - { name: near, address: 192.0.2.1, asn: 65000 }
  - { name: beside, address: 127.0.0.2, asn: 65000 }
`);
    expect(ws.map((w) => [w.code, w.peer])).toEqual([
      ['needs-multihop', 'far'],
      ['needs-multihop', 'gtsm'],
    ]);
    expect(ws[0]!.message).toContain('set multihop: 2');
    expect(ws[1]!.message).toContain('set ttl_security to the number of hops');
  });

  it('a local_address or listen address this host does not have', () => {
    const ws = warn(`listen: { address: [192.0.2.11, 192.0.2.99] }
peers:
  - { name: up, address: 192.0.2.1, asn: 65000, local_address: 192.0.2.12 }
`);
    expect(ws.map((w) => [w.code, w.path])).toEqual([
      ['local-address-missing', ['peers', 0, 'local_address']],
      ['listen-address-missing', ['listen', 'address', 1]],
    ]);
  });

  it('host_addresses: verify with the address not on the interface', () => {
    const ws = warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000 }
services:
  - name: dns
    prefixes: [198.51.100.53/32]
    host_addresses: { mode: verify }
    checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ]
`);
    expect(codes(ws)).toEqual(['host-address-missing']);
    expect(ws[0]!.message).toBe('198.51.100.53/32 is not on lo: dns stays down until it is added (or use mode: add)');
    const withIt: HostFacts = { ...HOST, addresses: [...HOST.addresses, { interface: 'lo', address: '198.51.100.53', prefixLen: 32, family: 'ipv4' }] };
    expect(warn(`peers:
  - { name: up, address: 192.0.2.1, asn: 65000 }
services:
  - name: dns
    prefixes: [198.51.100.53/32]
    host_addresses: { mode: verify }
    checks: [ { tcp: { address: 127.0.0.1, port: 53 } } ]
`, withIt)).toEqual([]);
  });

  it('offline (no host facts) reports only what the config alone decides', () => {
    expect(warn(`peers:
  - { name: far, address: 203.0.113.1, asn: 65000, local_address: 203.0.113.99 }
`, null)).toEqual([]);
  });
});
