import { describe, expect, it } from 'vitest';
import { Reconciler, mergeIntents, plan, type Intent } from '../../src/reconciler/index.js';
import type { RouteSpec } from '../../bgp/index.js';

const intent = (prefix: string, source: string, over: Partial<Intent> = {}): Intent => ({
  prefix,
  source,
  rank: 0,
  nextHop: 'self',
  communities: [],
  largeCommunities: [],
  extendedCommunities: [],
  peers: null,
  ...over,
});

describe('mergeIntents', () => {
  it('unions communities and takes the lowest MED among intents of the same rank', () => {
    const m = mergeIntents([
      intent('198.51.100.53/32', 'service:a', { communities: ['65011:1'], med: 20 }),
      intent('198.51.100.53/32', 'service:b', { communities: ['65011:2', '65011:1'], med: 10 }),
    ]);
    const r = m.get('198.51.100.53/32')!;
    expect(r.sources).toEqual(['service:a', 'service:b']);
    expect([...r.intent.communities].sort()).toEqual(['65011:1', '65011:2']);
    expect(r.intent.med).toBe(10);
  });

  it('lets a healthy intent win over a degraded one, whatever the order', () => {
    for (const order of [0, 1]) {
      const xs = [
        intent('198.51.100.53/32', 'service:backup', { rank: 1, prepend: 3 }),
        intent('198.51.100.53/32', 'service:primary'),
      ];
      if (order) xs.reverse();
      const r = mergeIntents(xs).get('198.51.100.53/32')!;
      expect(r.sources).toEqual(['service:primary']);
      expect(r.intent.prepend).toBeUndefined();
    }
  });
});

describe('plan', () => {
  const peers = [
    { name: 'v4only', families: ['ipv4'] as const },
    { name: 'both', families: ['ipv4', 'ipv6'] as const },
  ];

  it('applies per-peer families and peer filters, and says why a prefix is left out', () => {
    const p = plan(
      [
        intent('198.51.100.53/32', 'static'),
        intent('2001:db8:53::53/128', 'static'),
        intent('203.0.113.0/24', 'static', { peers: ['both'] }),
      ],
      peers.map((x) => ({ name: x.name, families: [...x.families] })),
    );
    expect(p.perPeer.get('v4only')!.map((r) => r.spec.prefix)).toEqual(['198.51.100.53/32']);
    expect(
      p.perPeer
        .get('both')!
        .map((r) => r.spec.prefix)
        .sort(),
    ).toEqual(['198.51.100.53/32', '2001:db8:53::53/128', '203.0.113.0/24']);
    expect(p.excluded).toContainEqual({ prefix: '2001:db8:53::53/128', peer: 'v4only', reason: 'peer does not carry ipv6' });
    expect(p.excluded).toContainEqual({ prefix: '203.0.113.0/24', peer: 'v4only', reason: 'peer filter: only announced to both' });
  });
});

describe('Reconciler', () => {
  it('hands a peer its set only when the set changed', () => {
    const calls: [string, RouteSpec[]][] = [];
    const r = new Reconciler({ setRoutes: (peer, routes) => calls.push([peer, routes]) });
    r.setPeers([{ name: 'p', families: ['ipv4'] }]);
    r.setSnapshot('static', [intent('198.51.100.53/32', 'static', { communities: ['65011:53'] })]);
    expect(r.reconcile()).toEqual(['p']);
    // The same snapshot again, as a new array with new objects: nothing is sent.
    r.setSnapshot('static', [intent('198.51.100.53/32', 'static', { communities: ['65011:53'] })]);
    expect(r.reconcile()).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(calls[0]![1]).toEqual([{ prefix: '198.51.100.53/32', nextHop: 'self', communities: ['65011:53'] }]);
    r.setSnapshot('static', []);
    expect(r.reconcile()).toEqual(['p']);
    expect(calls[1]![1]).toEqual([]);
  });

  it('hands the set again after invalidate (a session re-established)', () => {
    let n = 0;
    const r = new Reconciler({ setRoutes: () => n++ });
    r.setPeers([{ name: 'p', families: ['ipv4'] }]);
    r.setSnapshot('static', [intent('198.51.100.53/32', 'static')]);
    r.reconcile();
    r.reconcile();
    expect(n).toBe(1);
    r.invalidate('p');
    r.reconcile();
    expect(n).toBe(2);
  });
});
