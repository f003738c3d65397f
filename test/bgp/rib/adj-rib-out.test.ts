import { describe, expect, it } from 'vitest';
import { withContext, IPV4_UNICAST, IPV6_UNICAST } from '../../../bgp/wire/context.js';
import { AttrType } from '../../../bgp/wire/iana.js';
import { AdjRibOut } from '../../../bgp/rib/adj-rib-out.js';
import type { RouteGroup, RouteSpec } from '../../../bgp/rib/route.js';
import { formatPrefix } from '../../../bgp/wire/prefix.js';
import { CTX, PEER, decode, drain, refreshMarker, split, v4, v6, type Drained } from './helpers.js';

const hosts = (n: number, f: (i: number) => string, extra: Partial<RouteSpec> = {}): RouteSpec[] =>
  Array.from({ length: n }, (_, i) => ({ prefix: f(i), ...extra }));

function started(routes: RouteSpec[] = [], peer = PEER, ctx = CTX): AdjRibOut {
  const rib = new AdjRibOut();
  rib.setDesired(routes);
  rib.start(ctx, peer);
  return rib;
}

describe('AdjRibOut: initial sync and End-of-RIB', () => {
  it('announces the desired set, then End-of-RIB once per negotiated family', () => {
    const rib = started([{ prefix: '198.51.100.53/32' }, { prefix: '2001:db8:53::53/128', med: 5 }]);
    const d = drain(rib);
    expect([...d.announced.keys()].sort()).toEqual(['198.51.100.53/32', '2001:db8:53::53/128']);
    expect(d.eor).toEqual(['1/1', '2/1']);
    // End-of-RIB comes after every announcement.
    expect(d.updates.slice(-2).every((u) => u.nlri.length === 0 && (u.attributes.mpReach === undefined))).toBe(true);
    const u4 = d.announced.get('198.51.100.53/32')!;
    expect(u4.attributes.nextHop).toBe('192.0.2.11');
    expect(u4.attributes.asPath).toEqual([{ type: 2, asns: [65011] }]);
    const u6 = d.announced.get('2001:db8:53::53/128')!;
    expect(u6.attributes.mpReach?.nextHops).toEqual(['2001:db8::11']);
    expect(u6.attributes.med).toBe(5);
    expect(u6.attributes.nextHop).toBeUndefined();
    expect(rib.stats.endOfRib).toBe(2);
    expect(rib.wantsToSend).toBe(false);
    expect(rib.nextBytes()).toBeNull();
    // Later changes never repeat End-of-RIB.
    rib.setDesired([{ prefix: '198.51.100.54/32' }]);
    const d2 = drain(rib);
    expect(d2.eor).toEqual([]);
    expect([...d2.announced.keys()]).toEqual(['198.51.100.54/32']);
    expect(d2.withdrawn.sort()).toEqual(['198.51.100.53/32', '2001:db8:53::53/128']);
  });

  it('sends End-of-RIB even with nothing to announce', () => {
    const d = drain(started([]));
    expect(d.eor).toEqual(['1/1', '2/1']);
    expect(d.messages.map((m) => m.length)).toEqual([23, 29]);
  });

  it('does not send before start(), and reset() makes start() re-send everything', () => {
    const rib = new AdjRibOut();
    rib.setDesired(hosts(10, v4));
    expect(rib.nextBytes()).toBeNull();
    expect(rib.wantsToSend).toBe(false);
    rib.start(CTX, PEER);
    expect(drain(rib).announced.size).toBe(10);
    expect(rib.advertisedCount).toBe(10);
    rib.reset();
    expect(rib.advertisedCount).toBe(0);
    expect(rib.nextBytes()).toBeNull();
    rib.setDesired(hosts(12, v4)); // snapshots while down are kept
    rib.start(CTX, PEER);
    const d = drain(rib);
    expect(d.announced.size).toBe(12);
    expect(d.withdrawn).toEqual([]);
    expect(d.eor).toEqual(['1/1', '2/1']);
  });
});

describe('AdjRibOut: End-of-RIB held back (graceful restart, RFC 4724 §4.2)', () => {
  it('routes flow while held; End-of-RIB follows the release, once, after the last change', () => {
    const rib = new AdjRibOut();
    rib.holdEndOfRib(true);
    rib.setDesired([{ prefix: '198.51.100.53/32' }]);
    rib.start(CTX, PEER);
    const d1 = drain(rib);
    expect([...d1.announced.keys()]).toEqual(['198.51.100.53/32']);
    expect(d1.eor).toEqual([]);
    expect(rib.wantsToSend).toBe(false);
    expect(rib.endOfRibHeld).toBe(true);
    // The first health checks finish: one service up, one down (never announced).
    rib.setDesired([{ prefix: '198.51.100.53/32' }, { prefix: '198.51.100.80/32' }]);
    const d2 = drain(rib);
    expect([...d2.announced.keys()]).toEqual(['198.51.100.80/32']);
    expect(d2.eor).toEqual([]);
    rib.holdEndOfRib(false);
    expect(rib.wantsToSend).toBe(true);
    const d3 = drain(rib);
    expect(d3.announced.size).toBe(0);
    expect(d3.eor).toEqual(['1/1', '2/1']);
    expect(rib.stats.endOfRib).toBe(2);
    expect(drain(rib).eor).toEqual([]);
  });

  it('an empty desired set held then released sends only the markers', () => {
    const rib = new AdjRibOut();
    rib.holdEndOfRib(true);
    rib.start(CTX, PEER);
    expect(rib.wantsToSend).toBe(false);
    expect(rib.nextBytes()).toBeNull();
    rib.holdEndOfRib(false);
    expect(drain(rib).messages.map((m) => m.length)).toEqual([23, 29]);
  });

  it('the hold outlives a session reset: the next session holds too until released', () => {
    const rib = new AdjRibOut();
    rib.holdEndOfRib(true);
    rib.setDesired(hosts(3, v4));
    rib.start(CTX, PEER);
    expect(drain(rib).eor).toEqual([]);
    rib.reset();
    rib.start(CTX, PEER);
    const d = drain(rib);
    expect(d.announced.size).toBe(3);
    expect(d.eor).toEqual([]);
    rib.holdEndOfRib(false);
    expect(drain(rib).eor).toEqual(['1/1', '2/1']);
  });

  it('a refresh answer with Enhanced Route Refresh (EoRR) is not held', () => {
    const rib = new AdjRibOut();
    rib.holdEndOfRib(true);
    rib.setDesired(hosts(2, v4));
    rib.start(CTX, PEER);
    drain(rib);
    rib.refresh(1, 1, true);
    const d = drain(rib);
    expect(d.messages.map(refreshMarker).filter((x) => x !== null)).toEqual(['borr 1/1', 'eorr 1/1']);
    expect(d.eor).toEqual([]);
  });
});

describe('AdjRibOut: diffs', () => {
  it('sends nothing for the same snapshot twice', () => {
    const routes = hosts(50, v4, { communities: ['65011:53'] });
    const rib = started(routes);
    drain(rib);
    const before = rib.stats;
    rib.setDesired(routes.map((r) => ({ ...r, communities: [...r.communities!] }))); // equal, not identical
    expect(rib.pendingCount).toBe(0);
    expect(rib.nextBytes()).toBeNull();
    expect(rib.stats).toEqual(before);
  });

  it('announces a changed route again and withdraws a removed one', () => {
    const rib = started([{ prefix: '198.51.100.1/32' }, { prefix: '198.51.100.2/32' }, { prefix: '2001:db8::2/128' }]);
    drain(rib);
    rib.setDesired([{ prefix: '198.51.100.1/32', communities: ['graceful-shutdown'] }]);
    expect(rib.pendingCount).toBe(3);
    const d = drain(rib);
    expect([...d.announced.keys()]).toEqual(['198.51.100.1/32']);
    expect(d.announced.get('198.51.100.1/32')!.attributes.communities).toEqual([0xffff0000]);
    expect(d.withdrawn).toEqual(['198.51.100.2/32', '2001:db8::2/128']);
    // Withdrawals come first: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI.
    expect(d.updates[0]!.withdrawn.length).toBe(1);
    expect(d.updates[1]!.attributes.mpUnreach?.nlri.length).toBe(1);
    expect([...rib.advertised()].map((r) => r.prefix)).toEqual(['198.51.100.1/32']);
  });

  it('announce-then-withdraw before sending sends nothing', () => {
    const rib = started([{ prefix: '198.51.100.1/32' }]);
    drain(rib);
    rib.setDesired([{ prefix: '198.51.100.1/32' }, { prefix: '198.51.100.2/32' }]);
    rib.setDesired([{ prefix: '198.51.100.1/32' }]);
    expect(rib.pendingCount).toBe(0);
    expect(rib.nextBytes()).toBeNull();
  });

  it('withdraw-then-restore before sending sends nothing', () => {
    const rib = started([{ prefix: '198.51.100.1/32', med: 1 }]);
    drain(rib);
    rib.setDesired([]);
    rib.setDesired([{ prefix: '198.51.100.1/32', med: 1 }]);
    expect(rib.nextBytes()).toBeNull();
  });

  it('a later change supersedes a pending one', () => {
    const rib = started([{ prefix: '198.51.100.1/32', med: 1 }]);
    drain(rib);
    rib.setDesired([{ prefix: '198.51.100.1/32', med: 2 }]);
    rib.setDesired([{ prefix: '198.51.100.1/32', med: 3 }]);
    const d = drain(rib);
    expect(d.updates.length).toBe(1);
    expect(d.updates[0]!.attributes.med).toBe(3);
  });

  it('treats different spellings of one prefix as one route (last wins)', () => {
    const rib = started([{ prefix: '2001:DB8:0::1/128', med: 1 }, { prefix: '2001:db8::1', med: 2 }]);
    const d = drain(rib);
    expect(d.announced.size).toBe(1);
    expect(d.announced.get('2001:db8::1/128')!.attributes.med).toBe(2);
    rib.setDesired([{ prefix: '2001:db8::1/128', med: 2 }]);
    expect(rib.nextBytes()).toBeNull();
  });

  it('accepts a Map snapshot', () => {
    const rib = started();
    drain(rib);
    rib.setDesired(new Map([['a', { prefix: '198.51.100.9/32' }]]));
    expect([...drain(rib).announced.keys()]).toEqual(['198.51.100.9/32']);
  });

  it('is correct when the snapshot changes mid-drain', () => {
    const rib = started(hosts(3000, v4));
    const first = rib.nextBytes(1); // one UPDATE only
    const sentFirst = new Set(split(first!).flatMap((m) => decode(m).nlri.map((n) => n.prefix)).map((p) => `${p.addr.join('.')}/32`));
    expect(sentFirst.size).toBeGreaterThan(100);
    expect(sentFirst.size).toBeLessThan(3000);
    // Drop every odd route: sent odd ones are withdrawn, unsent ones never go out.
    const keep = hosts(3000, v4).filter((_, i) => i % 2 === 0);
    rib.setDesired(keep);
    const d = drain(rib);
    const sentOdd = [...sentFirst].filter((p) => Number(p.split('.')[3]!.split('/')[0]) % 2 === 1);
    expect(d.withdrawn.sort()).toEqual(sentOdd.sort());
    const everAnnounced = new Set([...sentFirst, ...d.announced.keys()]);
    const stillThere = new Set([...everAnnounced].filter((p) => !d.withdrawn.includes(p)));
    expect([...stillThere].sort()).toEqual(keep.map((r) => r.prefix).sort());
    expect(d.eor).toEqual(['1/1', '2/1']);
    expect(rib.advertisedCount).toBe(1500);
  });
});

describe('AdjRibOut: packing', () => {
  it.each([
    ['IPv4 /32, 4096', 5000, v4, false],
    ['IPv6 /128, 4096', 2000, v6, false],
    ['IPv4 /32, RFC 8654', 30000, v4, true],
    ['IPv6 /128, RFC 8654', 9000, v6, true],
  ])('%s: ceil(N / perMessage) full UPDATEs that all decode', (_name, n, f, ext) => {
    const ctx = withContext(CTX, { extendedMessage: ext });
    const limit = ext ? 65535 : 4096;
    const rib = started(hosts(n, f, { communities: ['65011:53'] }), PEER, ctx);
    const d = drain(rib, ctx);
    const updates = d.messages.slice(0, -2); // End-of-RIB last
    const per = (u: (typeof d.updates)[number]): number => u.nlri.length + (u.attributes.mpReach?.nlri.length ?? 0);
    const perMessage = per(d.updates[0]!);
    const entry = f === v4 ? 5 : 17;
    // Full: one more NLRI would have passed the limit.
    expect(updates[0]!.length + entry).toBeGreaterThan(limit);
    expect(updates.length).toBe(Math.ceil(n / perMessage));
    for (const m of updates) expect(m.length).toBeLessThanOrEqual(limit);
    expect(d.announced.size).toBe(n);
    for (const u of d.updates.slice(0, -2)) expect(u.attributes.communities).toEqual([65011 * 65536 + 53]);
    expect(rib.stats.prefixesAnnounced).toBe(n);
  });

  it('groups by attribute set: one bucket never mixes with another', () => {
    const routes = hosts(600, v4).map((r, i) => ({ ...r, med: i % 3 }));
    const d = drain(started(routes));
    const announcing = d.updates.filter((u) => u.nlri.length > 0);
    expect(announcing.length).toBe(3); // 200 per set fit in one UPDATE each
    expect(announcing.map((u) => u.attributes.med).sort()).toEqual([0, 1, 2]);
    for (const u of announcing) expect(u.nlri.length).toBe(200);
  });

  it('packs withdrawals to the limit too', () => {
    const rib = started(hosts(3000, v4));
    drain(rib);
    rib.setDesired([]);
    const d = drain(rib);
    expect(d.withdrawn.length).toBe(3000);
    expect(d.messages.length).toBe(Math.ceil(3000 / Math.floor((4096 - 23) / 5)));
    expect(rib.stats.prefixesWithdrawn).toBe(3000);
  });

  it('stops a pull near the byte budget', () => {
    const rib = started(hosts(10000, v4));
    const b = rib.nextBytes(10000)!;
    expect(b.length).toBeGreaterThanOrEqual(10000);
    expect(b.length).toBeLessThan(10000 + 4096);
    expect(split(rib.nextBytes(0)!).length).toBe(1);
    const msgs = rib.nextUpdates(1);
    expect(msgs.length).toBe(1);
    expect(decode(msgs[0]!).nlri.length).toBeGreaterThan(0);
  });
});

describe('AdjRibOut: session variants', () => {
  it('iBGP: LOCAL_PREF and an empty AS_PATH', () => {
    const d = drain(started([{ prefix: '198.51.100.1/32' }], { ...PEER, peerAs: 65011, ibgp: true }, withContext(CTX, { ibgp: true })), withContext(CTX, { ibgp: true }));
    const u = d.announced.get('198.51.100.1/32')!;
    expect(u.attributes.localPref).toBe(100);
    expect(u.attributes.asPath).toEqual([]);
  });

  it('RFC 8950: IPv4 NLRI in MP_REACH_NLRI with an IPv6 next hop', () => {
    const ctx = withContext(CTX, { extendedNextHop: new Set([IPV4_UNICAST]) });
    const peer = { ...PEER, localAddress4: undefined, extendedNextHopV4overV6: undefined };
    const rib = started([{ prefix: '198.51.100.1/32' }], peer, ctx);
    const d = drain(rib, ctx);
    const u = d.announced.get('198.51.100.1/32')!;
    expect(u.nlri).toEqual([]);
    expect(u.attributes.mpReach).toMatchObject({ afi: 1, safi: 1, nextHops: ['2001:db8::11'] });
    expect(u.attributes.nextHop).toBeUndefined();
    // Withdrawn in the Withdrawn Routes field, which is valid for IPv4 unicast.
    rib.setDesired([]);
    expect(drain(rib, ctx).withdrawn).toEqual(['198.51.100.1/32']);
  });

  it('ADD-PATH send: NLRI carry path id 1, withdrawals too', () => {
    const ctx = withContext(CTX, { addPathSend: new Set([IPV4_UNICAST, IPV6_UNICAST]) });
    const rx = withContext(CTX, { addPathReceive: new Set([IPV4_UNICAST, IPV6_UNICAST]) });
    const rib = started([{ prefix: '198.51.100.1/32' }, { prefix: '2001:db8::1/128' }], PEER, ctx);
    const d = drain(rib, rx);
    expect(d.announced.get('198.51.100.1/32')!.nlri[0]!.pathId).toBe(1);
    expect(d.announced.get('2001:db8::1/128')!.attributes.mpReach!.nlri[0]!.pathId).toBe(1);
    rib.setDesired([]);
    const w = drain(rib, rx);
    expect(w.updates[0]!.withdrawn[0]!.pathId).toBe(1);
    expect(w.updates[1]!.attributes.mpUnreach!.nlri[0]!.pathId).toBe(1);
  });

  it('puts MP_REACH_NLRI first (RFC 7606 §5.1)', () => {
    const d = drain(started([{ prefix: '2001:db8::1/128' }]));
    const m = d.messages[0]!;
    const wr = (m[19]! << 8) | m[20]!;
    expect(m[19 + 2 + wr + 2 + 1]).toBe(AttrType.MP_REACH_NLRI);
  });
});

describe('AdjRibOut: unsendable and explain', () => {
  it('reports invalid and unexportable routes with reasons and withdraws them if sent', () => {
    const peer = { ...PEER, localAddress6: undefined };
    const rib = started([{ prefix: '198.51.100.1/32' }, { prefix: '198.51.100.2/32' }, { prefix: '2001:db8::1/128' }, { prefix: 'bogus' }], peer);
    const d = drain(rib);
    expect([...d.announced.keys()].sort()).toEqual(['198.51.100.1/32', '198.51.100.2/32']);
    const un = rib.unsendable();
    expect(un.map((u) => u.prefix).sort()).toEqual(['2001:db8::1/128', 'bogus']);
    expect(un.find((u) => u.prefix === '2001:db8::1/128')!.reason).toMatch(/IPv6 next hop/);
    expect(rib.explain('2001:db8::1').reason).toMatch(/IPv6 next hop/);
    expect(rib.explain('198.51.100.1/32')).toMatchObject({ desired: true, pending: false, reason: null });
    // A route turning invalid is withdrawn, not left stale.
    rib.setDesired([{ prefix: '198.51.100.1/32' }, { prefix: '198.51.100.2/32', communities: ['nope'] }]);
    const d2 = drain(rib);
    expect(d2.withdrawn).toEqual(['198.51.100.2/32']);
    expect(rib.unsendable()).toEqual([{ prefix: '198.51.100.2/32', reason: expect.stringMatching(/community "nope"/) as unknown as string }]);
  });

  it('refuses an attribute set too large for one UPDATE', () => {
    const big = Array.from({ length: 1100 }, (_, i) => `65011:${i}`);
    const rib = started([{ prefix: '198.51.100.1/32', communities: big }, { prefix: '198.51.100.2/32' }]);
    const d = drain(rib);
    expect([...d.announced.keys()]).toEqual(['198.51.100.2/32']);
    expect(rib.unsendable()[0]!.reason).toMatch(/too large/);
    // With RFC 8654 it fits.
    const ctx = withContext(CTX, { extendedMessage: true });
    const rib2 = started([{ prefix: '198.51.100.1/32', communities: big }], PEER, ctx);
    expect(drain(rib2, ctx).announced.get('198.51.100.1/32')!.attributes.communities!.length).toBe(1100);
  });
});

describe('AdjRibOut: against a model', () => {
  it('after any run of snapshots, partial pulls, route refreshes and reconnects, the peer holds exactly the desired set', () => {
    // A deterministic pseudo-random sequence (xorshift), so a failure repeats.
    let seed = 0x2545f491;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pool = [
      ...Array.from({ length: 150 }, (_, i) => `198.51.${100 + (i >> 7)}.${(i * 2) & 255}/32`),
      ...Array.from({ length: 60 }, (_, i) => `2001:db8:${(i + 1).toString(16)}::/48`),
      '203.0.113.0/24',
      '0.0.0.0/0',
    ];
    const spell = (p: string): string => (p.includes(':') && rnd(3) === 0 ? p.toUpperCase().replace('::/', ':0::/') : p);
    const rib = new AdjRibOut();
    const peerHas = new Map<string, number | undefined>(); // prefix → med, as decoded from the wire
    // The peer acts on messages in order, as an RFC 7313 receiver: BoRR marks
    // the family's routes stale, an UPDATE refreshes or removes a route, EoRR
    // purges what is still stale. A re-advertisement that left out a route
    // the peer should keep, or a lost withdrawal, shows up as a difference.
    const stale = new Map<string, Set<string>>(); // "1/1" | "2/1" → stale prefixes
    const famOf = (p: string): string => (p.includes(':') ? '2/1' : '1/1');
    const applyMessage = (m: Uint8Array): void => {
      const marker = refreshMarker(m);
      if (marker !== null) {
        const [kind, fam] = marker.split(' ') as [string, string];
        if (kind === 'borr') stale.set(fam, new Set([...peerHas.keys()].filter((p) => famOf(p) === fam)));
        else {
          for (const p of stale.get(fam) ?? []) peerHas.delete(p);
          stale.delete(fam);
        }
        return;
      }
      const u = decode(m);
      const touch = (p: string): void => void stale.get(famOf(p))?.delete(p);
      for (const n of [...u.withdrawn, ...(u.attributes.mpUnreach?.nlri ?? [])]) {
        const p = formatPrefix(n.prefix);
        peerHas.delete(p);
        touch(p);
      }
      for (const n of [...u.nlri, ...(u.attributes.mpReach?.nlri ?? [])]) {
        const p = formatPrefix(n.prefix);
        peerHas.set(p, u.attributes.med);
        touch(p);
      }
    };
    const apply = (d: Drained): void => d.messages.forEach(applyMessage);
    let refreshes = 0;
    let want = new Map<string, number | undefined>();
    let up = false;
    for (let round = 0; round < 300; round++) {
      const op = rnd(10);
      if (op < 6) {
        const specs: RouteSpec[] = [];
        want = new Map();
        for (const p of pool) {
          if (rnd(3) === 0) continue;
          const med = rnd(4) === 0 ? undefined : rnd(3);
          if (rnd(40) === 0) {
            specs.push({ prefix: spell(p), communities: ['bad'] }); // invalid: not desired
            continue;
          }
          specs.push({ prefix: spell(p), med });
          want.set(p, med);
        }
        if (rnd(20) === 0) specs.push({ prefix: '198.51.100.1/24' }); // host bits: invalid
        // Half the snapshots go as route groups (one per attribute set): same result.
        if (rnd(2) === 0) rib.setDesired(specs);
        else rib.setDesiredGroups(toGroups(specs));
        expect(rib.desiredCount).toBe(want.size);
      } else if (op < 8) {
        if (up) {
          const b = rib.nextBytes(rnd(2) === 0 ? 1 : 5000);
          if (b !== null) split(b).forEach(applyMessage);
        }
        // A ROUTE-REFRESH between any two pulls: plain or enhanced, either family.
        if (up && rnd(2) === 0) {
          rib.refresh(rnd(2) === 0 ? 1 : 2, 1, rnd(2) === 0);
          refreshes++;
        }
      } else if (op === 8) {
        if (up) {
          rib.reset();
          peerHas.clear();
          stale.clear();
        }
        rib.start(CTX, PEER);
        up = true;
      } else if (up) {
        apply(drain(rib));
        expect(stale.size).toBe(0); // every BoRR was closed by its EoRR
        expect(new Map([...peerHas].sort())).toEqual(new Map([...want].sort()));
        expect(rib.advertisedCount).toBe(want.size);
        expect(rib.pendingCount).toBe(0);
        expect(new Set([...rib.advertised()].map((r) => r.prefix))).toEqual(new Set(want.keys()));
      }
    }
    expect(refreshes).toBeGreaterThan(10);
    if (!up) rib.start(CTX, PEER);
    apply(drain(rib));
    expect(new Map([...peerHas].sort())).toEqual(new Map([...want].sort()));
    for (const p of pool) expect(rib.explain(p).desired).toBe(want.has(p));
    // Withdraw everything: nothing is left behind.
    rib.setDesired([]);
    apply(drain(rib));
    expect(peerHas.size).toBe(0);
    expect(rib.advertisedCount).toBe(0);
    expect([...rib.advertised()]).toEqual([]);
  });
});

/** Group RouteSpecs by their attribute fields, keeping the order of prefixes. */
function toGroups(specs: RouteSpec[]): RouteGroup[] {
  const groups = new Map<string, RouteGroup & { prefixes: string[] }>();
  for (const { prefix, ...attrs } of specs) {
    const k = JSON.stringify(attrs);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { attrs, prefixes: [] }));
    g.prefixes.push(prefix);
  }
  return [...groups.values()];
}
