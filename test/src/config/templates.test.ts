// Peer templates and YAML merge keys (issue 10 item 5, decision 0028): a
// peer takes every key it does not set from its template; `<<: *anchor`
// merges mappings the YAML way; errors in a template's value point at the
// template, once; `herald check` shows the peers expanded.
import { describe, expect, it } from 'vitest';
import { ConfigError, effectiveConfig, parseConfig } from '../../../src/config/index.js';

const HEAD = `router_id: 192.0.2.11
asn: 65011
`;

function issues(text: string): { line: number; column: number; path: string; message: string }[] {
  try {
    parseConfig(text, 'herald.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(({ line, column, path, message }) => ({ line, column, path, message }));
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('templates', () => {
  const text = `${HEAD}templates:
  tor:
    asn: 65000
    hold_time: 9
    families: [ipv4, ipv6]
    next_hop_self: { ipv4: 192.0.2.11 }
    password: "tor-secret"
peers:
  - { name: tor1, address: "2001:db8::1", template: tor }
  - { name: tor2, address: "2001:db8::2", template: tor, hold_time: 30 }
  - { name: other, address: 192.0.2.9, asn: 65009 }
`;

  it('fill the keys a peer does not set; the peer’s own keys win', () => {
    const c = parseConfig(text, 'herald.yaml');
    const [tor1, tor2, other] = c.peers;
    expect(tor1).toMatchObject({ asn: 65000, holdTime: 9, families: ['ipv4', 'ipv6'], nextHopSelf: { ipv4: '192.0.2.11' }, template: 'tor' });
    expect(tor1!.password?.reveal()).toBe('tor-secret');
    expect(tor2).toMatchObject({ asn: 65000, holdTime: 30, template: 'tor' });
    expect(other!.template).toBeUndefined();
    expect(other!.holdTime).toBe(90);
  });

  it('herald check prints each peer expanded, with the template it used and no secret', () => {
    const eff = effectiveConfig(parseConfig(text, 'herald.yaml'));
    const peers = eff['peers'] as Record<string, unknown>[];
    expect(peers[0]).toMatchObject({ name: 'tor1', template: 'tor', asn: 65000, hold_time: 9, families: ['ipv4', 'ipv6'], next_hop_self: { ipv4: '192.0.2.11', ipv6: null }, password: '<redacted>' });
    expect(peers[1]).toMatchObject({ name: 'tor2', template: 'tor', hold_time: 30 });
    expect(peers[2]).toMatchObject({ name: 'other', template: null });
    expect(JSON.stringify(eff)).not.toContain('tor-secret');
    expect(eff).not.toHaveProperty('templates');
  });

  it('an unknown template name is an error that suggests the closest', () => {
    expect(issues(`${HEAD}templates:\n  tor: { asn: 65000 }\npeers:\n  - { name: a, address: 192.0.2.1, template: tro }\n`)).toEqual([
      { line: 6, column: 46, path: 'peers[0].template', message: "unknown template 'tro' — did you mean 'tor'?" },
    ]);
    expect(issues(`${HEAD}peers:\n  - { name: a, address: 192.0.2.1, template: tor }\n`)[0]!.message).toBe("unknown template 'tor' (there is no templates section)");
  });

  it('a bad value in a template is reported once, at the template', () => {
    expect(
      issues(`${HEAD}templates:
  tor:
    asn: 65000
    hold_time: 2
peers:
  - { name: a, address: 192.0.2.1, template: tor }
  - { name: b, address: 192.0.2.2, template: tor }
`),
    ).toEqual([{ line: 6, column: 16, path: 'templates.tor.hold_time', message: 'expected 0 or at least 3 seconds, got 2 (RFC 4271 §4.2)' }]);
  });

  it('a template may not name a peer, nor use a template itself; unknown keys are refused', () => {
    const got = issues(`${HEAD}templates:
  tor: { address: 192.0.2.1, template: x, hold_tme: 9 }
peers: []
`);
    expect(got.map((i) => i.path).sort()).toEqual(['templates.tor.address', 'templates.tor.hold_tme', 'templates.tor.template']);
    expect(got.find((i) => i.path === 'templates.tor.hold_tme')!.message).toBe("unknown key 'hold_tme' — did you mean 'hold_time'?");
  });

  it('a cross-field error caused by a template value points at the template and says so', () => {
    const got = issues(`${HEAD}templates:
  tor: { asn: 65000, keepalive: 30 }
peers:
  - { name: a, address: 192.0.2.1, template: tor, hold_time: 9 }
`);
    expect(got).toEqual([{ line: 4, column: 33, path: 'peers[0].keepalive', message: 'keepalive 30s must be shorter than hold_time 9s (from template tor)' }]);
  });
});

describe('YAML merge keys', () => {
  it('`<<: *anchor` merges a mapping (one, or a list of them); explicit keys win', () => {
    const c = parseConfig(
      `${HEAD}templates:
  tor: &tor { asn: 65000, hold_time: 9 }
  md5: &md5 { password: "x-secret", connect_retry: 3s }
peers:
  - <<: *tor
    name: tor1
    address: 192.0.2.1
  - <<: [*tor, *md5]
    name: tor2
    address: 192.0.2.2
    hold_time: 30
`,
      'herald.yaml',
    );
    expect(c.peers.map((p) => [p.name, p.asn, p.holdTime, p.reconnect.connectRetryMs, p.password !== undefined])).toEqual([
      ['tor1', 65000, 9, 1000, false],
      ['tor2', 65000, 30, 3000, true],
    ]);
  });

  it('an error in a merged value points at the anchored mapping that holds it', () => {
    const got = issues(`${HEAD}peers:
  - &tor
    name: tor1
    address: 192.0.2.1
    asn: 65000
    hold_time: 2
  - <<: *tor
    name: tor2
    address: 192.0.2.2
`);
    const msg = 'expected 0 or at least 3 seconds, got 2 (RFC 4271 §4.2)';
    expect(got).toEqual([
      { line: 8, column: 16, path: 'peers[0].hold_time', message: msg },
      { line: 8, column: 16, path: 'peers[1].hold_time', message: msg },
    ]);
  });
});
