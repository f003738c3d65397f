import { describe, expect, it } from 'vitest';
import { BgpError } from '../../../bgp/wire/errors.js';
import { Afi, ErrCode, UpdateSub } from '../../../bgp/wire/iana.js';
import { IPV4_UNICAST, IPV6_UNICAST, withContext } from '../../../bgp/wire/context.js';
import { parsePrefix, type Nlri } from '../../../bgp/wire/prefix.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';
import { AdjRibIn, attributeBytes } from '../../../bgp/rib/adj-rib-in.js';
import { AdjRibOut } from '../../../bgp/rib/adj-rib-out.js';
import { CTX, decode, split } from './helpers.js';

const n = (t: string, pathId?: number): Nlri => (pathId === undefined ? { prefix: parsePrefix(t)! } : { prefix: parsePrefix(t)!, pathId });
const ATTRS = { origin: 0 as const, asPath: [{ type: 2 as const, asns: [65000] }] };

const announce4 = (prefixes: string[], nextHop = '192.0.2.1'): UpdateMessage => ({
  type: 'update',
  withdrawn: [],
  attributes: { ...ATTRS, nextHop },
  nlri: prefixes.map((p) => n(p)),
});
const announce6 = (prefixes: string[]): UpdateMessage => ({
  type: 'update',
  withdrawn: [],
  attributes: { ...ATTRS, mpReach: { afi: Afi.IPv6, safi: 1, nextHops: ['2001:db8::1'], nlri: prefixes.map((p) => n(p)) } },
  nlri: [],
});
const withdraw = (v4: string[], v6: string[] = []): UpdateMessage => ({
  type: 'update',
  withdrawn: v4.map((p) => n(p)),
  attributes: v6.length ? { mpUnreach: { afi: Afi.IPv6, safi: 1, nlri: v6.map((p) => n(p)) } } : {},
  nlri: [],
});

describe('AdjRibIn', () => {
  it('applies announcements and withdrawals of both families', () => {
    const rib = new AdjRibIn();
    let r = rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24']));
    expect(r).toMatchObject({ announced: 2, withdrawn: 0, count: 2, treatAsWithdraw: false, limitExceeded: false });
    r = rib.apply(announce6(['2001:db8:1::/48']));
    expect(rib.count).toBe(3);
    expect(rib.countFor(Afi.IPv4)).toBe(2);
    expect(rib.countFor(Afi.IPv6)).toBe(1);
    expect(rib.get('198.51.100.0/24')).toMatchObject({ prefix: '198.51.100.0/24', nextHops: ['192.0.2.1'], attrs: { nextHop: '192.0.2.1' } });
    const six = rib.get('2001:DB8:1::/48')!;
    expect(six.nextHops).toEqual(['2001:db8::1']);
    expect(six.attrs.mpReach).toBeUndefined();
    // Replace one, withdraw others.
    rib.apply(announce4(['198.51.100.0/24'], '192.0.2.2'));
    expect(rib.get('198.51.100.0/24')!.nextHops).toEqual(['192.0.2.2']);
    expect(rib.count).toBe(3);
    r = rib.apply(withdraw(['203.0.113.0/24', '192.0.2.0/24'], ['2001:db8:1::/48']));
    expect(r.withdrawn).toBe(3);
    expect(rib.count).toBe(1);
    expect(rib.countFor(Afi.IPv6)).toBe(0);
    expect([...rib].map((x) => x.prefix)).toEqual(['198.51.100.0/24']);
    rib.clear();
    expect(rib.count).toBe(0);
  });

  it('RFC 7606 treat-as-withdraw: every NLRI of the UPDATE is withdrawn', () => {
    const rib = new AdjRibIn();
    rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24']));
    rib.apply(announce6(['2001:db8:1::/48']));
    const bad = announce4(['198.51.100.0/24']);
    bad.attributes.mpReach = { afi: Afi.IPv6, safi: 1, nextHops: ['2001:db8::1'], nlri: [n('2001:db8:1::/48')] };
    bad.errors = [new BgpError(ErrCode.UpdateMessage, UpdateSub.MissingWellKnownAttribute, 'ORIGIN missing', Uint8Array.of(1), 'treat-as-withdraw')];
    const r = rib.apply(bad);
    expect(r.treatAsWithdraw).toBe(true);
    expect(r.announced).toBe(0);
    expect(rib.has('198.51.100.0/24')).toBe(false);
    expect(rib.has('2001:db8:1::/48')).toBe(false);
    expect(rib.has('203.0.113.0/24')).toBe(true);
  });

  it('an attribute-discard error does not withdraw', () => {
    const rib = new AdjRibIn();
    const m = announce4(['198.51.100.0/24']);
    m.errors = [new BgpError(ErrCode.UpdateMessage, UpdateSub.OptionalAttributeError, 'x', new Uint8Array(0), 'attribute-discard')];
    expect(rib.apply(m).treatAsWithdraw).toBe(false);
    expect(rib.has('198.51.100.0/24')).toBe(true);
  });

  it('keys ADD-PATH routes by prefix and path id', () => {
    const rib = new AdjRibIn();
    const m = announce4([]);
    m.nlri = [n('198.51.100.0/24', 1), n('198.51.100.0/24', 2)];
    rib.apply(m);
    expect(rib.count).toBe(2);
    expect(rib.get('198.51.100.0/24', 2)!.pathId).toBe(2);
    expect(rib.get('198.51.100.0/24')).toBeUndefined();
    rib.apply({ ...withdraw([]), withdrawn: [n('198.51.100.0/24', 1)] });
    expect(rib.count).toBe(1);
    expect(rib.has('198.51.100.0/24', 2)).toBe(true);
  });

  it('maxPrefixes: holds at most the limit, reports the first prefix past it (RFC 4486 Cease subcode 1), warns once per crossing', () => {
    const rib = new AdjRibIn({ maxPrefixes: 3, warnPrefixes: 2 });
    let r = rib.apply(announce4(['198.51.100.0/24', '198.51.101.0/24']));
    expect(r).toMatchObject({ limitExceeded: false, limit: null, warning: false, count: 2 });
    r = rib.apply(announce4(['198.51.102.0/24']));
    expect(r).toMatchObject({ limitExceeded: false, warning: true, count: 3 });
    r = rib.apply(announce4(['198.51.102.0/24'])); // same prefix again: a replacement, still 3
    expect(r).toMatchObject({ limitExceeded: false, warning: false, announced: 1 });
    r = rib.apply(announce4(['198.51.103.0/24', '198.51.100.0/24']));
    // The new prefix is not stored; the held one is still replaced.
    expect(r).toMatchObject({ limitExceeded: true, limit: 'max-prefixes', rejected: 1, announced: 1, warning: false, count: 3 });
    expect(rib.has('198.51.103.0/24')).toBe(false);
    // Warning re-arms after the count falls back below the threshold; room again for new prefixes.
    rib.apply(withdraw(['198.51.100.0/24', '198.51.101.0/24', '198.51.102.0/24']));
    r = rib.apply(announce4(['198.51.110.0/24', '198.51.111.0/24', '198.51.112.0/24']));
    expect(r).toMatchObject({ warning: true, limitExceeded: false, count: 3 });
  });

  it('importNothing keeps counts and the limit but no routes', () => {
    const rib = new AdjRibIn({ importNothing: true, maxPrefixes: 1 });
    const r = rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24']));
    expect(r).toMatchObject({ announced: 1, rejected: 1, count: 1, limitExceeded: true, limit: 'max-prefixes' });
    expect(rib.count).toBe(1);
    expect(rib.countFor(Afi.IPv4)).toBe(1);
    expect(rib.get('198.51.100.0/24')).toBeUndefined();
    expect(rib.has('198.51.100.0/24')).toBe(true);
    expect([...rib]).toEqual([]);
    rib.apply(withdraw(['198.51.100.0/24']));
    expect(rib.count).toBe(0);
    expect(rib.bytes).toBe(0);
  });

  it('maxAsPath: a route with a longer AS_PATH is not stored and its older version is withdrawn', () => {
    const rib = new AdjRibIn({ maxAsPath: 10 });
    rib.apply(announce4(['198.51.100.0/24']));
    expect(rib.count).toBe(1);
    const long: UpdateMessage = { ...announce4(['198.51.100.0/24', '203.0.113.0/24']), attributes: { ...ATTRS, nextHop: '192.0.2.1', asPath: [{ type: 2, asns: Array.from({ length: 11 }, (_, i) => 64500 + i) }] } };
    const r = rib.apply(long);
    expect(r).toMatchObject({ limitExceeded: true, limit: 'as-path', rejected: 2, announced: 0, withdrawn: 0, count: 0 });
    expect(rib.has('198.51.100.0/24')).toBe(false);
    // Ten AS numbers are fine (the limit is inclusive), in any number of segments.
    const ten: UpdateMessage = { ...long, attributes: { ...long.attributes, asPath: [{ type: 2, asns: [1, 2, 3, 4, 5] }, { type: 1, asns: [6, 7, 8, 9, 10] }] } };
    expect(rib.apply(ten)).toMatchObject({ limitExceeded: false, announced: 2, count: 2 });
  });

  it('maxAttrBytes: a route whose attributes are estimated bigger is not stored', () => {
    const small = attributeBytes({ ...ATTRS, nextHop: '192.0.2.1' }, []);
    const rib = new AdjRibIn({ maxAttrBytes: small + 100 });
    expect(rib.apply(announce4(['198.51.100.0/24'])).limitExceeded).toBe(false);
    const big: UpdateMessage = { ...announce4(['203.0.113.0/24']), attributes: { ...ATTRS, nextHop: '192.0.2.1', communities: Array.from({ length: 20 }, (_, i) => i) } };
    expect(rib.apply(big)).toMatchObject({ limitExceeded: true, limit: 'attribute-bytes', rejected: 1, count: 1 });
  });

  it('bytes: keys and shared attribute sets are counted once while held, released when the last prefix goes', () => {
    const keyOnly = new AdjRibIn({ importNothing: true });
    keyOnly.apply(announce4(['198.51.100.0/24', '203.0.113.0/24']));
    // 64 + 2 x length a key-only entry.
    expect(keyOnly.bytes).toBe(64 * 2 + 2 * ('198.51.100.0/24'.length + '203.0.113.0/24'.length));

    const rib = new AdjRibIn();
    const attrs = attributeBytes({ ...ATTRS, nextHop: '192.0.2.1' }, ['192.0.2.1']);
    rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24']));
    const keys = keyOnly.bytes;
    expect(rib.bytes).toBe(keys + attrs);
    // Replacing one prefix with a new attribute set: both sets held.
    rib.apply(announce4(['198.51.100.0/24'], '192.0.2.2'));
    expect(rib.bytes).toBe(keys + 2 * attrs);
    // The last prefix of the first set goes: its bytes are released.
    rib.apply(withdraw(['203.0.113.0/24']));
    expect(rib.bytes).toBe(keys - (64 + 2 * '203.0.113.0/24'.length) + attrs);
    rib.apply(withdraw(['198.51.100.0/24']));
    expect(rib.bytes).toBe(0);
  });

  it('maxBytes: a new prefix past the cap is not stored; withdrawals and replacements still are', () => {
    const one = 64 + 2 * '198.51.100.0/24'.length;
    const rib = new AdjRibIn({ importNothing: true, maxBytes: one * 2 });
    let r = rib.apply(announce4(['198.51.100.0/24', '198.51.101.0/24', '198.51.102.0/24']));
    expect(r).toMatchObject({ announced: 2, rejected: 1, limitExceeded: true, limit: 'max-bytes', count: 2 });
    expect(rib.bytes).toBeLessThanOrEqual(one * 2);
    r = rib.apply(announce4(['198.51.100.0/24']));
    expect(r).toMatchObject({ announced: 1, limitExceeded: false });
    rib.apply(withdraw(['198.51.100.0/24']));
    expect(rib.apply(announce4(['198.51.102.0/24']))).toMatchObject({ announced: 1, limitExceeded: false, count: 2 });
    // An EoRR purge releases bytes too.
    rib.beginRefresh(1, 1);
    expect(rib.endRefresh(1, 1)).toBe(2);
    expect(rib.bytes).toBe(0);
  });

  it('RFC 4271 §6.3: a route whose next hop is our own address is ignored (and its older version withdrawn)', () => {
    const rib = new AdjRibIn();
    rib.setLocalAddresses(['192.0.2.1', '2001:db8::99']);
    rib.apply(announce4(['198.51.100.0/24'], '192.0.2.9'));
    expect(rib.count).toBe(1);
    let r = rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24'], '192.0.2.1'));
    expect(r).toMatchObject({ ownNextHop: 2, announced: 0, withdrawn: 0, count: 0 });
    // MP_REACH next hop, any spelling of the address.
    const six: UpdateMessage = { ...announce6(['2001:db8:1::/48']), attributes: { ...ATTRS, mpReach: { afi: Afi.IPv6, safi: 1, nextHops: ['2001:DB8:0::99'], nlri: [n('2001:db8:1::/48')] } } };
    r = rib.apply(six);
    expect(r).toMatchObject({ ownNextHop: 1, count: 0 });
    expect(rib.apply(announce6(['2001:db8:1::/48']))).toMatchObject({ ownNextHop: 0, announced: 1 });
  });

  it('holds exactly what an AdjRibOut advertised, through the wire codec', () => {
    const ctx = withContext(CTX, { addPathSend: new Set(), addPathReceive: new Set() });
    const out = new AdjRibOut();
    const specs = Array.from({ length: 2500 }, (_, i) => ({ prefix: `240.0.${i >> 8}.${i & 255}/32`, med: i % 2 }));
    specs.push({ prefix: '2001:db8:53::53/128', med: 0 });
    out.setDesired(specs);
    out.start(ctx, { localAs: 65011, peerAs: 65000, ibgp: false, localAddress4: '192.0.2.11', localAddress6: '2001:db8::11', families: [IPV4_UNICAST, IPV6_UNICAST] });
    const rin = new AdjRibIn();
    const pump = (): void => {
      for (let b = out.nextBytes(); b !== null; b = out.nextBytes()) for (const m of split(b)) rin.apply(decode(m, ctx));
    };
    pump();
    expect(rin.count).toBe(2501);
    expect(rin.get('240.0.9.3/32')!.attrs.med).toBe(1);
    out.setDesired(specs.filter((_, i) => i % 5 !== 0));
    pump();
    expect(rin.count).toBe(out.advertisedCount);
    expect([...rin].map((r) => r.prefix).sort()).toEqual([...out.advertised()].map((r) => r.prefix).sort());
  });
});

describe('AdjRibIn: Enhanced Route Refresh from the peer (RFC 7313 §4)', () => {
  it('BoRR marks the family stale, a re-advertised route is kept, EoRR purges the rest', () => {
    const rib = new AdjRibIn();
    rib.apply(announce4(['198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/25']));
    rib.apply(announce6(['2001:db8:1::/48']));
    rib.beginRefresh(Afi.IPv4, 1);
    expect(rib.refreshing(Afi.IPv4)).toBe(true);
    rib.apply(announce4(['198.51.100.0/24'], '192.0.2.9')); // re-advertised, new next hop
    rib.apply(withdraw(['192.0.2.0/25'])); // withdrawn during the refresh
    rib.apply(announce4(['198.18.0.0/15'])); // new during the refresh
    expect(rib.endRefresh(Afi.IPv4, 1)).toBe(1); // 203.0.113.0/24 was not re-advertised
    expect([...rib].map((r) => r.prefix).sort()).toEqual(['198.18.0.0/15', '198.51.100.0/24', '2001:db8:1::/48']);
    expect(rib.get('198.51.100.0/24')!.nextHops).toEqual(['192.0.2.9']);
    expect(rib.countFor(Afi.IPv4)).toBe(2);
    expect(rib.countFor(Afi.IPv6)).toBe(1); // the other family is untouched
    expect(rib.refreshing(Afi.IPv4)).toBe(false);
  });

  it('an EoRR without a BoRR removes nothing; a second BoRR marks afresh; clear() ends a refresh', () => {
    const rib = new AdjRibIn({ importNothing: true });
    rib.apply(announce6(['2001:db8:1::/48', '2001:db8:2::/48']));
    expect(rib.endRefresh(Afi.IPv6, 1)).toBe(0);
    rib.beginRefresh(Afi.IPv6, 1);
    rib.apply(announce6(['2001:db8:1::/48']));
    rib.beginRefresh(Afi.IPv6, 1); // the peer started over: /1 is stale again
    rib.apply(announce6(['2001:db8:2::/48']));
    expect(rib.endRefresh(Afi.IPv6, 1)).toBe(1);
    expect(rib.has('2001:db8:2::/48')).toBe(true);
    expect(rib.has('2001:db8:1::/48')).toBe(false);
    rib.beginRefresh(Afi.IPv6, 1);
    rib.clear();
    expect(rib.refreshing(Afi.IPv6)).toBe(false);
    // A BoRR for a SAFI herald does not store marks nothing.
    rib.apply(announce6(['2001:db8:3::/48']));
    rib.beginRefresh(Afi.IPv6, 2);
    expect(rib.endRefresh(Afi.IPv6, 2)).toBe(0);
    expect(rib.count).toBe(1);
  });
});
