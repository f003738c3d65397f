import { describe, expect, it } from 'vitest';
import { serviceIntents, staticIntents } from '../../src/sources/intents.js';
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

describe('serviceIntents', () => {
  it('announces every prefix while up', () => {
    const xs = serviceIntents(svc(), 'up', null);
    expect(xs.map((x) => x.prefix)).toEqual(['198.51.100.53/32', '2001:db8:53::53/128']);
    expect(xs.every((x) => x.rank === 0 && x.source === 'service:dns' && x.communities.join() === '65011:53')).toBe(true);
  });

  it('withdraws while down by default and in maintenance always', () => {
    expect(serviceIntents(svc(), 'down', null)).toEqual([]);
    const degrade: WhenDown = { action: 'degrade', prepend: 3, communities: [], largeCommunities: [], gracefulShutdown: false };
    expect(serviceIntents(svc(degrade), 'maintenance', null)).toEqual([]);
  });

  it('stays announced as a worse path when_down prepend/med/communities/graceful_shutdown', () => {
    const wd: WhenDown = { action: 'degrade', prepend: 3, med: 500, communities: ['65011:666'], largeCommunities: ['65011:0:1'], gracefulShutdown: true };
    const [x] = serviceIntents(svc(wd), 'down', null);
    expect(x).toMatchObject({ rank: 1, prepend: 3, med: 500, largeCommunities: ['65011:0:1'] });
    expect(x!.communities).toEqual(['65011:53', '65011:666', 'graceful-shutdown']);
  });

  it('drains: GRACEFUL_SHUTDOWN first, then nothing', () => {
    const [x] = serviceIntents(svc(), 'up', 'graceful-shutdown');
    expect(x!.communities).toContain('graceful-shutdown');
    expect(serviceIntents(svc(), 'up', 'withdrawn')).toEqual([]);
    expect(serviceIntents(svc(), 'down', 'graceful-shutdown')).toEqual([]);
  });
});

describe('staticIntents', () => {
  it('carries the configured attributes', () => {
    const [x] = staticIntents([
      { prefix: '203.0.113.0/24', nextHop: 'self', communities: ['65011:1'], largeCommunities: [], extendedCommunities: [], med: 5, peers: ['up1'] },
    ]);
    expect(x).toMatchObject({ prefix: '203.0.113.0/24', source: 'static', med: 5, peers: ['up1'], communities: ['65011:1'] });
  });
});
