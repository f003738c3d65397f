// The state model's cheap paths: the summary and the services list must not
// walk the route sets (they answer fast with a million routes), and the
// shapes hold no secret.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/index.js';
import { parseCommunity, parseExtendedCommunity, zeroPeerCounters } from '../../../bgp/index.js';
import { canonicalPrefix, familyName, jsonReplacer, peers, receivedState, routes, services, summary, type RouteState, type StateSource } from '../../../src/state/index.js';
import { Reconciler, groupIntents } from '../../../src/reconciler/index.js';
import { fakeEngine, peerSnapshot } from './fake-engine.js';

const boom = (): never => {
  throw new Error('walked the route set');
};

function source(): StateSource {
  const config = {
    file: 'f.yaml',
    asn: 65011,
    routerId: '192.0.2.11',
    peers: [{ name: 'up1', description: 'transit', password: 'hunter2-secret' }],
    static: [],
    services: [
      { name: 'dns', prefixes: ['198.51.100.53/32'], whenDown: { action: 'withdraw' }, communities: [], largeCommunities: [], extendedCommunities: [], peers: null, nextHop: 'self' },
      { name: 'pb', prefixes: ['198.51.100.54/32'], whenDown: { action: 'degrade', prepend: 3, communities: [], largeCommunities: [], gracefulShutdown: false }, communities: [], largeCommunities: [], extendedCommunities: [], peers: null, nextHop: 'self' },
    ],
  } as unknown as Config;
  return {
    config,
    engine: {
      snapshot: () => [
        {
          name: 'up1', instance: 1, address: '192.0.2.1', peerAs: 65000, localAs: 65011, state: 'Established', uptimeMs: 12.7, passive: false, localAddress: null,
          families: ['1/1', '2/1'], holdTime: 90, keepaliveTime: 30, peerBgpId: null, peerHostname: null,
          lastDown: { kind: 'received-notification', message: 'x', at: 1, data: new Uint8Array([1, 2]) } as never,
          lastConnectError: null,
          counters: zeroPeerCounters(),
          prefixesAnnounced: 1_000_000, prefixesPending: 3, prefixesReceived: 9, receivedBytes: 900, receiveLimit: null, endOfRibReceived: ['1/1'], md5: true, heldDownMs: null, bfd: null,
        },
      ],
      standing: boom,
      groupStanding: boom,
      received: boom,
    },
    reconciler: { outputGroups: boom, outputFor: boom, contributions: boom },
    health: { snapshot: () => new Map([['dns', { state: 'down' as const, since: 0, lastResults: [] }], ['pb', { state: 'down' as const, since: 0, lastResults: [] }]]) },
    reloads: { ok: 1, failed: 0 },
    startedAt: Date.now() - 5000,
    drainPhase: (s) => (s === 'dns' ? 'withdrawn' : null),
  };
}

describe('state model', () => {
  it('summary and services never walk the route sets', () => {
    const d = source();
    const s = summary(d);
    expect(s.routes).toEqual({ announced: 1_000_000, pending: 3, received: 9 });
    expect(s.services).toEqual({ total: 2, up: 0, down: 2, maintenance: 0, draining: 1 });
    expect(s.uptimeMs).toBeGreaterThanOrEqual(5000);
    const sv = services(d);
    expect(sv.map((x) => [x.name, x.drain, x.announcing])).toEqual([
      ['dns', 'withdrawn', false],
      ['pb', null, true], // down but kept as a worse path (when_down: prepend)
    ]);
  });

  it('peers: family names, rounded uptime, config description, byte fields as hex, no password', () => {
    const [p] = peers(source());
    expect(p).toMatchObject({ families: ['ipv4', 'ipv6'], endOfRibReceived: ['ipv4'], uptimeMs: 13, description: 'transit', established: true, md5: true });
    expect((p!.lastDown as unknown as { data: string }).data).toBe('0102');
    expect(JSON.stringify(p)).not.toContain('hunter2');
  });

  it('received routes: attribute text from the wire formatters (AS_SET, confederations, community names, rt:)', () => {
    const r = receivedState('up1', {
      prefix: '203.0.113.0/24',
      afi: 1,
      pathId: 7,
      nextHops: ['192.0.2.1'],
      attrs: {
        origin: 2,
        asPath: [{ type: 3, asns: [65100] }, { type: 2, asns: [65000, 65001] }, { type: 1, asns: [65002, 65003] }],
        communities: [(65000 << 16) | 7, 0xffffff01],
        largeCommunities: [[65000, 1, 2]],
        extendedCommunities: [new Uint8Array([0, 2, 0xfd, 0xe8, 0, 0, 0, 1]), new Uint8Array([0x80, 6, 0, 0, 0, 0, 0, 0])],
      },
    });
    expect(r).toEqual({
      peer: 'up1', prefix: '203.0.113.0/24', family: 'ipv4', pathId: 7, nextHops: ['192.0.2.1'], asPath: '(65100) 65000 65001 {65002,65003}', origin: 'incomplete',
      med: null, localPref: null, communities: ['65000:7', 'no-export'], largeCommunities: ['65000:1:2'], extendedCommunities: ['rt:65000:1', '0x8006000000000000'],
    });
    // The text parses back to the same values (one inverse pair per attribute, bgp/wire/attributes).
    expect(parseExtendedCommunity(r.extendedCommunities[0]!)).toEqual({ ok: true, value: new Uint8Array([0, 2, 0xfd, 0xe8, 0, 0, 0, 1]) });
    expect(parseExtendedCommunity(r.extendedCommunities[1]!)).toEqual({ ok: true, value: new Uint8Array([0x80, 6, 0, 0, 0, 0, 0, 0]) });
    expect(parseCommunity(r.communities[1]!)).toEqual({ ok: true, value: 0xffffff01 });
  });

  it('routes: a peer held down after a protocol error says so and for how long; one retrying after a link failure does not', async () => {
    const d = source();
    const rec = new Reconciler({ applyGroups() {} });
    rec.setSnapshot('service:dns', groupIntents([{ prefix: '198.51.100.53/32', source: 'service:dns', rank: 0, nextHop: 'self', communities: [], largeCommunities: [], extendedCommunities: [], peers: null }]).groups);
    rec.reconcile();
    for (const [snap, want] of [
      [peerSnapshot('up1', 'Idle', { heldDownMs: 4200 }), 'session is Idle, held down for 5 s more after a protocol error (idle_hold damping)'],
      [peerSnapshot('up1', 'Active', { heldDownMs: null }), 'session is Active, not Established'],
    ] as const) {
      const src: StateSource = { ...d, reconciler: rec, engine: fakeEngine(() => [snap], rec) };
      const got: RouteState[] = [];
      for await (const r of routes(src)) got.push(r);
      expect(got[0]).toMatchObject({ peer: 'up1', prefix: '198.51.100.53/32', status: 'no-session', reason: want });
    }
  });

  it('helpers', () => {
    expect(canonicalPrefix('198.51.100.53')).toBe('198.51.100.53/32');
    expect(canonicalPrefix('2001:DB8::53/128')).toBe('2001:db8::53/128');
    expect(canonicalPrefix('nope')).toBeNull();
    expect(familyName('2/1')).toBe('ipv6');
    expect(JSON.stringify({ b: Buffer.from([255]) }, jsonReplacer)).toBe('{"b":"ff"}');
  });
});

describe('peers as the operator reads them (issue 10 item 9)', () => {
  it('an IPv4 local address accepted on the dual-stack listener shows as IPv4, and EHOSTUNREACH names multihop', () => {
    const d = source();
    const snap = d.engine!.snapshot()[0]!;
    const d2: StateSource = {
      ...d,
      engine: { ...d.engine!, snapshot: () => [{ ...snap, localAddress: '::ffff:192.0.2.11', lastConnectError: 'connect EHOSTUNREACH 203.0.113.2:179' }] },
      warnings: [
        { code: 'needs-multihop', path: ['peers', 0, 'address'], message: '203.0.113.2 is not on a connected network …; set multihop: 2', prefixes: [], peer: 'up1', service: null },
      ],
    };
    const [p] = peers(d2);
    expect(p!.localAddress).toBe('192.0.2.11');
    expect(p!.lastConnectError).toBe('connect EHOSTUNREACH 203.0.113.2:179: 203.0.113.2 is not on a connected network …; set multihop: 2');
    // IPv6 stays as it is; without the warning (a connected peer that is down) there is no multihop hint.
    const [q] = peers({ ...d2, warnings: [], engine: { ...d.engine!, snapshot: () => [{ ...snap, localAddress: '2001:db8::11', lastConnectError: 'connect EHOSTUNREACH 192.0.2.1:179' }] } });
    expect([q!.localAddress, q!.lastConnectError]).toEqual(['2001:db8::11', 'connect EHOSTUNREACH 192.0.2.1:179']);
  });
});
