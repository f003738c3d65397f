import { describe, expect, it } from 'vitest';
import { serviceGroups, staticGroups } from '../../src/sources/intents.js';
import { groupPrefixes } from '../../src/reconciler/index.js';
import type { ServiceConfig, WhenDown } from '../../src/config/index.js';

function svc(whenDown: WhenDown = { action: 'withdraw' }): ServiceConfig {
  return {
    name: 'dns',
    prefixes: ['198.51.100.53/32', '2001:db8:53::53/128'],
    checks: [],
    combine: 'all',
    intervalMs: 1000,
    fastIntervalMs: 250,
    timeoutMs: 1000,
    rise: 2,
    fall: 2,
    jitterMs: 0,
    whenDown,
    nextHop: 'self',
    communities: ['65011:53'],
    largeCommunities: [],
    extendedCommunities: [],
    peers: null,
  };
}

describe('serviceGroups', () => {
  it('announces every prefix while up, as one group keyed by the service, its list parsed once', () => {
    const s = svc();
    const xs = serviceGroups(s, 'up', null);
    expect(xs).toHaveLength(1);
    expect(groupPrefixes(xs[0]!.prefixes)).toEqual(['198.51.100.53/32', '2001:db8:53::53/128']);
    expect(xs[0]).toMatchObject({ key: 'service:dns', source: 'service:dns', rank: 0, communities: ['65011:53'] });
    expect(serviceGroups(s, 'up', null)[0]!.prefixes).toBe(xs[0]!.prefixes);
  });

  it('withdraws while down by default and in maintenance always', () => {
    expect(serviceGroups(svc(), 'down', null)).toEqual([]);
    const degrade: WhenDown = { action: 'degrade', prepend: 3, communities: [], largeCommunities: [], gracefulShutdown: false };
    expect(serviceGroups(svc(degrade), 'maintenance', null)).toEqual([]);
  });

  it('stays announced as a worse path when_down prepend/med/communities/graceful_shutdown', () => {
    const wd: WhenDown = { action: 'degrade', prepend: 3, med: 500, communities: ['65011:666'], largeCommunities: ['65011:0:1'], gracefulShutdown: true };
    const [x] = serviceGroups(svc(wd), 'down', null);
    expect(x).toMatchObject({ rank: 1, prepend: 3, med: 500, largeCommunities: ['65011:0:1'] });
    expect(x!.communities).toEqual(['65011:53', '65011:666', 'graceful-shutdown']);
  });

  it('drains: GRACEFUL_SHUTDOWN first, then nothing', () => {
    const [x] = serviceGroups(svc(), 'up', 'graceful-shutdown');
    expect(x!.communities).toContain('graceful-shutdown');
    expect(serviceGroups(svc(), 'up', 'withdrawn')).toEqual([]);
    expect(serviceGroups(svc(), 'down', 'graceful-shutdown')).toEqual([]);
  });
});

describe('staticGroups', () => {
  it('carries the configured attributes, one group per attribute set', () => {
    const base = { nextHop: 'self', communities: ['65011:1'], largeCommunities: [], extendedCommunities: [], med: 5, peers: ['up1'] };
    const gs = staticGroups([
      { prefix: '203.0.113.0/24', ...base },
      { prefix: '198.51.100.0/24', ...base, med: 6 },
      { prefix: '192.0.2.0/24', ...base },
    ]);
    expect(gs).toHaveLength(2);
    expect(gs[0]).toMatchObject({ source: 'static', med: 5, peers: ['up1'], communities: ['65011:1'] });
    expect(groupPrefixes(gs[0]!.prefixes)).toEqual(['203.0.113.0/24', '192.0.2.0/24']);
    expect(groupPrefixes(gs[1]!.prefixes)).toEqual(['198.51.100.0/24']);
  });
});
