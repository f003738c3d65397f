/**
 * AdjRibOut.setDesiredGroups: the compact hand-off (one attribute set, many
 * prefix strings) must give exactly the diff and the UPDATE bytes that
 * setDesired gives for the same routes as one RouteSpec each.
 */
import { describe, expect, it } from 'vitest';
import { withContext, IPV4_UNICAST } from '../../../bgp/wire/context.js';
import { AdjRibOut, STANDING } from '../../../bgp/rib/adj-rib-out.js';
import type { RouteGroup, RouteSpec } from '../../../bgp/rib/route.js';
import { prefixListOf, prefixTexts } from '../../../bgp/rib/prefix-list.js';
import { CTX, PEER, drain, v4, v6 } from './helpers.js';

const range = (from: number, n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(from + i));

/** The same routes as one RouteSpec per prefix, in group order. */
const flatten = (groups: RouteGroup[]): RouteSpec[] => groups.flatMap((g) => g.prefixes.map((prefix) => ({ ...g.attrs, prefix })));

/** A mixed snapshot: several attribute sets, both families, an explicit next hop, one invalid group. */
function mixed(): RouteGroup[] {
  return [
    { attrs: {}, prefixes: range(0, 700, v4) },
    { attrs: { med: 10, communities: ['65011:53', 'no-export'] }, prefixes: [...range(700, 300, v4), ...range(0, 200, v6)] },
    { attrs: { nextHop: '192.0.2.99', largeCommunities: ['65011:1:2'], origin: 'incomplete' }, prefixes: range(1000, 50, v4) },
    { attrs: { nextHop: '2001:db8::99', prepend: 2 }, prefixes: range(200, 60, v6) },
    { attrs: { communities: ['not-a-community'] }, prefixes: range(2000, 5, v4) },
    { attrs: { med: 1 }, prefixes: [] },
  ];
}

/** Two RIBs, one fed per route, one per group, started alike. */
function pair(): { specs: AdjRibOut; groups: AdjRibOut } {
  return { specs: new AdjRibOut(), groups: new AdjRibOut() };
}

/** Pull everything from both and require byte-identical output. */
function sameBytes(a: AdjRibOut, b: AdjRibOut): number {
  let n = 0;
  for (;;) {
    const x = a.nextBytes();
    const y = b.nextBytes();
    expect(y === null ? null : Buffer.from(y).toString('hex')).toBe(x === null ? null : Buffer.from(x).toString('hex'));
    if (x === null) return n;
    n += x.length;
  }
}

describe('AdjRibOut.setDesiredGroups: same as setDesired', () => {
  it('gives the same UPDATE bytes, unsendable list and counts, through a change and a withdrawal', () => {
    const { specs, groups } = pair();
    const g1 = mixed();
    specs.setDesired(flatten(g1));
    groups.setDesiredGroups(g1);
    specs.start(CTX, PEER);
    groups.start(CTX, PEER);
    expect(sameBytes(specs, groups)).toBeGreaterThan(1000);
    expect(groups.unsendable()).toEqual(specs.unsendable());
    expect(groups.unsendable()).toHaveLength(5);
    expect(groups.desiredCount).toBe(specs.desiredCount);
    expect(groups.advertisedCount).toBe(1310);

    // Change one group's attributes, drop one, move prefixes around.
    const g2: RouteGroup[] = [
      { attrs: { med: 11, communities: ['65011:53', 'no-export'] }, prefixes: [...range(700, 300, v4), ...range(0, 200, v6)] },
      { attrs: {}, prefixes: range(0, 650, v4) },
      { attrs: { nextHop: '192.0.2.99', largeCommunities: ['65011:1:2'], origin: 'incomplete' }, prefixes: range(650, 100, v4) },
    ];
    specs.setDesired(flatten(g2));
    groups.setDesiredGroups(g2);
    expect(sameBytes(specs, groups)).toBeGreaterThan(0);
    expect(groups.stats).toEqual(specs.stats);

    specs.setDesired([]);
    groups.setDesiredGroups([]);
    expect(sameBytes(specs, groups)).toBeGreaterThan(0);
    expect(groups.advertisedCount).toBe(0);
    expect(groups.stats).toEqual(specs.stats);
  });

  it('gives the same bytes for a group handed before start() and one handed while established', () => {
    const { specs, groups } = pair();
    specs.start(CTX, PEER);
    groups.start(CTX, PEER);
    sameBytes(specs, groups); // End-of-RIB
    const g = mixed();
    specs.setDesired(flatten(g));
    groups.setDesiredGroups(g);
    expect(sameBytes(specs, groups)).toBeGreaterThan(1000);
  });
});

describe('AdjRibOut.setDesiredGroups: diffs', () => {
  it('re-announces only the prefixes of a group whose attributes changed', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([
      { attrs: { med: 1 }, prefixes: range(0, 10, v4) },
      { attrs: { med: 2 }, prefixes: range(10, 10, v4) },
    ]);
    rib.start(CTX, PEER);
    drain(rib);
    rib.setDesiredGroups([
      { attrs: { med: 5 }, prefixes: range(0, 10, v4) },
      { attrs: { med: 2 }, prefixes: range(10, 10, v4) },
    ]);
    const d = drain(rib);
    expect([...d.announced.keys()].sort()).toEqual(range(0, 10, v4).sort());
    expect(d.withdrawn).toEqual([]);
    for (const u of d.announced.values()) expect(u.attributes.med).toBe(5);
    // The same groups again: nothing at all.
    rib.setDesiredGroups([
      { attrs: { med: 5 }, prefixes: range(0, 10, v4) },
      { attrs: { med: 2 }, prefixes: range(10, 10, v4) },
    ]);
    expect(rib.nextBytes()).toBeNull();
  });

  it('re-announces a prefix that moves to another group with that group’s attributes, and nothing else', () => {
    const rib = new AdjRibOut();
    const moved = v4(3);
    rib.setDesiredGroups([
      { attrs: { communities: ['65011:1'] }, prefixes: range(0, 5, v4) },
      { attrs: { communities: ['65011:2'] }, prefixes: range(5, 5, v4) },
    ]);
    rib.start(CTX, PEER);
    drain(rib);
    rib.setDesiredGroups([
      { attrs: { communities: ['65011:1'] }, prefixes: range(0, 5, v4).filter((p) => p !== moved) },
      { attrs: { communities: ['65011:2'] }, prefixes: [...range(5, 5, v4), moved] },
    ]);
    const d = drain(rib);
    expect([...d.announced.keys()]).toEqual([moved]);
    expect(d.announced.get(moved)!.attributes.communities).toEqual([65011 * 65536 + 2]);
    expect(d.withdrawn).toEqual([]);
  });

  it('a prefix named in two groups: the last valid one wins; an invalid later one is reported and does not remove it', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([
      { attrs: { med: 1 }, prefixes: ['198.51.100.1/32', '198.51.100.2/32'] },
      { attrs: { med: 2 }, prefixes: ['198.51.100.1'] }, // another spelling of the same prefix
      { attrs: { med: 'x' as unknown as number }, prefixes: ['198.51.100.2/32'] },
    ]);
    rib.start(CTX, PEER);
    const d = drain(rib);
    expect(d.announced.get('198.51.100.1/32')!.attributes.med).toBe(2);
    expect(d.announced.get('198.51.100.2/32')!.attributes.med).toBe(1);
    expect(rib.desiredCount).toBe(2);
    expect(rib.unsendable()).toEqual([{ prefix: '198.51.100.2/32', reason: expect.stringMatching(/med x/) as unknown as string }]);
  });

  it('empty groups and an empty list withdraw everything', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([{ attrs: {}, prefixes: range(0, 3, v4) }]);
    rib.start(CTX, PEER);
    drain(rib);
    rib.setDesiredGroups([{ attrs: {}, prefixes: [] }, { attrs: { med: 3 }, prefixes: [] }]);
    expect(drain(rib).withdrawn.sort()).toEqual(range(0, 3, v4).sort());
    expect(rib.desiredCount).toBe(0);
    rib.setDesiredGroups([{ attrs: {}, prefixes: range(0, 3, v4) }]);
    drain(rib);
    rib.setDesiredGroups([]);
    expect(drain(rib).withdrawn.sort()).toEqual(range(0, 3, v4).sort());
    expect(rib.advertisedCount).toBe(0);
  });

  it('reports invalid prefixes of a valid group by name, and sends the rest', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([{ attrs: {}, prefixes: ['198.51.100.1/32', 'bogus', '198.51.100.1/24'] }]);
    rib.start(CTX, PEER);
    expect([...drain(rib).announced.keys()]).toEqual(['198.51.100.1/32']);
    expect(rib.unsendable().map((u) => u.prefix).sort()).toEqual(['198.51.100.1/24', 'bogus']);
    expect(rib.unsendable().find((u) => u.prefix === '198.51.100.1/24')!.reason).toMatch(/host bits/);
  });
});

describe('AdjRibOut.setDesiredGroups: next-hop rules per prefix family', () => {
  it('one group of both families with next hop self: IPv4 NEXT_HOP in the body, IPv6 in MP_REACH_NLRI', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([{ attrs: { med: 7 }, prefixes: ['198.51.100.1/32', '2001:db8:53::1/128'] }]);
    rib.start(CTX, PEER);
    const d = drain(rib);
    expect(d.announced.get('198.51.100.1/32')!.attributes.nextHop).toBe('192.0.2.11');
    expect(d.announced.get('2001:db8:53::1/128')!.attributes.mpReach!.nextHops).toEqual(['2001:db8::11']);
    expect(d.announced.get('2001:db8:53::1/128')!.attributes.nextHop).toBeUndefined();
  });

  it('never sends an IPv6 prefix with an IPv4 or IPv4-mapped next hop, whatever its group', () => {
    const rib = new AdjRibOut();
    rib.setDesiredGroups([
      { attrs: { nextHop: '192.0.2.99' }, prefixes: ['198.51.100.1/32', '2001:db8:53::1/128'] },
      { attrs: { nextHop: '::ffff:192.0.2.99' }, prefixes: ['2001:db8:53::2/128'] },
    ]);
    rib.start(CTX, { ...PEER, localAddress6: undefined });
    const d = drain(rib);
    expect([...d.announced.keys()]).toEqual(['198.51.100.1/32']);
    const why = new Map(rib.unsendable().map((u) => [u.prefix, u.reason]));
    expect(why.get('2001:db8:53::1/128')).toMatch(/IPv6 prefix with IPv4 next hop/);
    expect(why.get('2001:db8:53::2/128')).toMatch(/IPv4-mapped/);
  });

  it('RFC 8950: an IPv4 prefix of a group with an IPv6 next hop goes only where extended next hop was negotiated', () => {
    const g: RouteGroup[] = [{ attrs: { nextHop: '2001:db8::99' }, prefixes: ['198.51.100.1/32'] }];
    const plain = new AdjRibOut();
    plain.setDesiredGroups(g);
    plain.start(CTX, PEER);
    expect(drain(plain).announced.size).toBe(0);
    expect(plain.unsendable()[0]!.reason).toMatch(/extended next hop/);
    const ctx = withContext(CTX, { extendedNextHop: new Set([IPV4_UNICAST]) });
    const enh = new AdjRibOut();
    enh.setDesiredGroups(g);
    enh.start(ctx, { ...PEER, extendedNextHopV4overV6: undefined });
    const u = drain(enh, ctx).announced.get('198.51.100.1/32')!;
    expect(u.attributes.mpReach).toMatchObject({ afi: 1, nextHops: ['2001:db8::99'] });
  });
});

describe('AdjRibOut.setGroup / removeGroup: incremental groups, applied in slices', () => {
  it('a group change touches only that group; a prefix moved to another group is re-announced, not withdrawn', () => {
    const rib = new AdjRibOut();
    rib.setGroup(1, { med: 1 }, prefixListOf(range(0, 100, v4)));
    rib.setGroup(2, { med: 2 }, prefixListOf(range(100, 50, v4)));
    rib.work();
    rib.start(CTX, PEER);
    expect(drain(rib).announced.size).toBe(150);
    // Move 10 prefixes from group 1 to group 2 (group 2 first: ownership is the latest naming).
    rib.setGroup(2, { med: 2 }, prefixListOf(range(90, 60, v4)));
    rib.setGroup(1, { med: 1 }, prefixListOf(range(0, 90, v4)));
    rib.work();
    const d = drain(rib);
    expect(d.withdrawn).toEqual([]);
    expect([...d.announced.keys()].sort()).toEqual(range(90, 10, v4).sort());
    for (const u of d.announced.values()) expect(u.attributes.med).toBe(2);
    rib.removeGroup(2);
    rib.work();
    const gone = drain(rib);
    expect(gone.withdrawn.sort()).toEqual(range(90, 60, v4).sort());
    expect(rib.desiredCount).toBe(90);
  });

  it('an unchanged list costs no UPDATE; End-of-RIB waits until queued group work is applied', () => {
    const rib = new AdjRibOut();
    const list = prefixListOf(range(0, 5000, v4));
    rib.start(CTX, PEER);
    rib.setGroup(7, {}, list);
    expect(rib.working).toBe(true);
    rib.work(1000);
    const first = drain(rib);
    expect(first.eor).toEqual([]); // 4000 records left: no End-of-RIB yet
    expect(first.announced.size).toBe(1000);
    while (rib.work(1000)) drain(rib);
    const rest = drain(rib);
    expect(rest.eor).toEqual(['1/1', '2/1']);
    rib.setGroup(7, {}, list);
    rib.work();
    expect(rib.nextBytes()).toBeNull();
  });

  it('after any run of group changes applied in random slices with pulls between, the peer holds exactly what the groups say', () => {
    let seed = 0x1b873593;
    const rnd = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const pool = prefixTexts(prefixListOf([...range(0, 120, v4), ...range(0, 40, v6)])); // canonical, as decoded
    const rib = new AdjRibOut();
    rib.start(CTX, PEER);
    // The model: each prefix is owned by the group that named it last; a group's
    // new list releases what it owned and no longer names.
    const lists = new Map<number, string[]>();
    const meds = new Map<number, number>();
    const owner = new Map<string, number>();
    const peerHas = new Map<string, number | undefined>();
    let checks = 0;
    for (let round = 0; round < 400; round++) {
      const id = 1 + rnd(6);
      if (rnd(8) === 0) {
        for (const p of lists.get(id) ?? []) if (owner.get(p) === id) owner.delete(p);
        lists.delete(id);
        rib.removeGroup(id);
      } else {
        const list = pool.filter(() => rnd(4) === 0);
        const med = rnd(3);
        for (const p of list) owner.set(p, id);
        for (const p of lists.get(id) ?? []) if (owner.get(p) === id && !list.includes(p)) owner.delete(p);
        lists.set(id, list);
        meds.set(id, med);
        rib.setGroup(id, { med }, prefixListOf(list));
      }
      // Apply some of the queued work, and let the peer read some of the output.
      rib.work(1 + rnd(80));
      if (rnd(2) === 0) {
        const d = drain(rib, CTX, 1 + rnd(300));
        for (const p of d.withdrawn) peerHas.delete(p);
        for (const [p, u] of d.announced) peerHas.set(p, u.attributes.med);
      }
      if (rnd(10) === 0) {
        rib.work();
        const d = drain(rib);
        for (const p of d.withdrawn) peerHas.delete(p);
        for (const [p, u] of d.announced) peerHas.set(p, u.attributes.med);
        const want = new Map([...owner].map(([p, g]) => [p, meds.get(g)]));
        expect(new Map([...peerHas].sort())).toEqual(new Map([...want].sort()));
        expect(rib.desiredCount).toBe(owner.size);
        checks++;
      }
    }
    expect(checks).toBeGreaterThan(20);
  });
});

describe('AdjRibOut.groupStanding', () => {
  it('reports a group handed but not yet applied (queued work) as pending, and a removed one as gone', () => {
    const rib = new AdjRibOut();
    rib.setFamilies(true, false);
    rib.setGroup(3, {}, prefixListOf(['198.51.100.1/32', '2001:db8::1/128']));
    const q = rib.groupStanding(3)!;
    expect([...q.codes]).toEqual([STANDING.PENDING, STANDING.FAMILY]);
    rib.work();
    expect([...rib.groupStanding(3)!.codes]).toEqual([STANDING.NO_SESSION, STANDING.FAMILY]);
    rib.start(CTX, PEER);
    expect([...rib.groupStanding(3)!.codes]).toEqual([STANDING.PENDING, STANDING.FAMILY]);
    drain(rib);
    const a = rib.groupStanding(3)!;
    expect([...a.codes]).toEqual([STANDING.ANNOUNCED, STANDING.FAMILY]);
    expect(a.sets[a.sent[0]!]!.nextHop).toBe('192.0.2.11');
    rib.removeGroup(3);
    expect(rib.groupStanding(3)).toBeNull();
  });
});
