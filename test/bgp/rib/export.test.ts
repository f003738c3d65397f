import { describe, expect, it } from 'vitest';
import { AsPathSegType } from '../../../bgp/wire/iana.js';
import { IPV4_UNICAST, IPV6_UNICAST } from '../../../bgp/wire/context.js';
import { Exporter, exportRoute, type PeerExportContext } from '../../../bgp/rib/export.js';
import { RouteParser, type RouteSpec } from '../../../bgp/rib/route.js';

const ebgp: PeerExportContext = {
  localAs: 65011,
  peerAs: 65000,
  ibgp: false,
  localAddress4: '192.0.2.11',
  localAddress6: '2001:db8::11',
  families: new Set([IPV4_UNICAST, IPV6_UNICAST]),
  extendedNextHopV4overV6: false,
};
const ibgp: PeerExportContext = { ...ebgp, peerAs: 65011, ibgp: true };
const v6only: PeerExportContext = { ...ebgp, localAddress4: undefined };
const v6only8950: PeerExportContext = { ...v6only, extendedNextHopV4overV6: true };
const v4only: PeerExportContext = { ...ebgp, localAddress6: undefined };

type Want = { carrier: 'body' | 'mp'; nextHop: string; asPath?: number[]; localPref?: number } | RegExp;

const cases: [string, RouteSpec, PeerExportContext, Want][] = [
  ['eBGP v4 self', { prefix: '198.51.100.53/32' }, ebgp, { carrier: 'body', nextHop: '192.0.2.11', asPath: [65011] }],
  ['eBGP v6 self', { prefix: '2001:db8:53::53/128' }, ebgp, { carrier: 'mp', nextHop: '2001:db8::11', asPath: [65011] }],
  ['eBGP prepend 2', { prefix: '198.51.100.53/32', prepend: 2 }, ebgp, { carrier: 'body', nextHop: '192.0.2.11', asPath: [65011, 65011, 65011] }],
  ['iBGP empty path, default LOCAL_PREF', { prefix: '198.51.100.53/32' }, ibgp, { carrier: 'body', nextHop: '192.0.2.11', asPath: [], localPref: 100 }],
  ['iBGP ignores prepend', { prefix: '198.51.100.53/32', prepend: 3, localPref: 200 }, ibgp, { carrier: 'body', nextHop: '192.0.2.11', asPath: [], localPref: 200 }],
  ['explicit v4 next hop', { prefix: '198.51.100.53/32', nextHop: '192.0.2.99' }, ebgp, { carrier: 'body', nextHop: '192.0.2.99' }],
  ['explicit v6 next hop for v6', { prefix: '2001:db8:53::/48', nextHop: '2001:db8::99' }, v4only, { carrier: 'mp', nextHop: '2001:db8::99' }],
  ['RFC 8950: v4 over v6-only session', { prefix: '198.51.100.53/32' }, v6only8950, { carrier: 'mp', nextHop: '2001:db8::11' }],
  ['RFC 8950 not negotiated', { prefix: '198.51.100.53/32' }, v6only, /RFC 8950 extended next hop was not negotiated/],
  ['explicit v6 next hop for v4 without RFC 8950', { prefix: '198.51.100.53/32', nextHop: '2001:db8::99' }, ebgp, /RFC 8950/],
  ['v6 prefix, no v6 local address', { prefix: '2001:db8:53::53/128' }, v4only, /never sent with an IPv4-mapped/],
  ['v6 prefix, mapped local address', { prefix: '2001:db8:53::53/128' }, { ...v4only, localAddress6: '::ffff:192.0.2.11' }, /IPv4-mapped/],
  ['v6 prefix, explicit v4 next hop', { prefix: '2001:db8:53::53/128', nextHop: '192.0.2.1' }, ebgp, /IPv4 next hop/],
  ['v6 prefix, explicit mapped next hop', { prefix: '2001:db8:53::53/128', nextHop: '::ffff:192.0.2.1' }, ebgp, /IPv4-mapped/],
  ['v6 prefix, link-local self', { prefix: '2001:db8:53::53/128' }, { ...v4only, localAddress6: 'fe80::1' }, /link-local/],
  ['mapped local address counts as IPv4', { prefix: '198.51.100.53/32' }, { ...v6only, localAddress6: '::ffff:192.0.2.7' }, { carrier: 'body', nextHop: '192.0.2.7' }],
  ['v6 family not negotiated', { prefix: '2001:db8:53::53/128' }, { ...ebgp, families: new Set([IPV4_UNICAST]) }, /IPv6 unicast was not negotiated/],
  ['v4 family not negotiated', { prefix: '198.51.100.53/32' }, { ...ebgp, families: [IPV6_UNICAST] }, /IPv4 unicast was not negotiated/],
  ['bad prefix', { prefix: '198.51.100.300/32' }, ebgp, /not an IPv4 or IPv6 prefix/],
  ['bad community', { prefix: '198.51.100.53/32', communities: ['65011:x'] }, ebgp, /community "65011:x"/],
];

describe('exportRoute', () => {
  it.each(cases)('%s', (_name, spec, peer, want) => {
    const r = exportRoute(spec, peer);
    if (want instanceof RegExp) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(want);
      return;
    }
    expect(r.ok, r.ok ? '' : r.reason).toBe(true);
    if (!r.ok) return;
    const set = r.value.attrs;
    expect(set.carrier).toBe(want.carrier);
    expect(set.nextHop).toBe(want.nextHop);
    expect(set.attrs.nextHop).toBe(want.carrier === 'body' ? want.nextHop : undefined);
    if (want.asPath !== undefined) {
      expect(set.attrs.asPath).toEqual(want.asPath.length ? [{ type: AsPathSegType.AS_SEQUENCE, asns: want.asPath }] : []);
    }
    expect(set.attrs.localPref).toBe(want.localPref);
  });

  it('never sends LOCAL_PREF to an external peer', () => {
    const r = exportRoute({ prefix: '198.51.100.53/32', localPref: 300, med: 7 }, ebgp);
    expect(r.ok && r.value.attrs.attrs.localPref).toBe(undefined);
    expect(r.ok && r.value.attrs.attrs.med).toBe(7);
  });

  it('carries communities, large and extended communities', () => {
    const r = exportRoute(
      {
        prefix: '198.51.100.53/32',
        communities: ['graceful-shutdown', '65011:53'],
        largeCommunities: ['65011:1:2'],
        extendedCommunities: ['rt:65000:1'],
        origin: 'incomplete',
      },
      ebgp,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const a = r.value.attrs.attrs;
    expect(a.communities).toEqual([65011 * 65536 + 53, 0xffff0000]);
    expect(a.largeCommunities).toEqual([[65011, 1, 2]]);
    expect(a.extendedCommunities?.map((c) => Buffer.from(c).toString('hex'))).toEqual(['0002fde800000001']);
    expect(a.origin).toBe(2);
  });

  it('interns: same attributes → same AttrSet; the family or the next hop splits them', () => {
    const parser = new RouteParser();
    const ex = new Exporter(ebgp);
    const get = (s: RouteSpec) => {
      const r = exportRoute(s, ex, parser);
      if (!r.ok) throw new Error(r.reason);
      return r.value.attrs;
    };
    const a = get({ prefix: '198.51.100.1/32', communities: ['65011:1', '65011:2'] });
    const b = get({ prefix: '198.51.100.2/32', communities: ['65011:2', '65011:1'] });
    const c = get({ prefix: '2001:db8::1/128', communities: ['65011:1', '65011:2'] });
    const d = get({ prefix: '198.51.100.3/32', nextHop: '192.0.2.11', communities: ['65011:1', '65011:2'] });
    expect(b).toBe(a); // different order, one set
    expect(c).not.toBe(a);
    expect(d).toBe(a); // explicit next hop equal to self resolves the same
    expect(ex.size).toBe(2);
  });
});
