import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { effectiveConfig, parseConfig, toPeerConfig } from '../../../src/config/index.js';

const EXAMPLE = readFileSync(new URL('./fixtures/issue-example.yaml', import.meta.url), 'utf8');

describe('effectiveConfig', () => {
  const c = parseConfig(EXAMPLE, 'herald.yaml');
  const eff = effectiveConfig(c);

  it('fills every default', () => {
    expect(eff['api']).toEqual({ socket: '/run/herald/herald.sock', mode: '0660', group: null });
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
      import: 'all',
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
      importNothing: false,
    });
  });
});
