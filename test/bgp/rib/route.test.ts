import { describe, expect, it } from 'vitest';
import { Afi, WellKnownCommunity } from '../../../bgp/wire/iana.js';
import {
  parseCommunity,
  parseExtendedCommunity,
  parseLargeCommunity,
  parseRoutePrefix,
  RouteParser,
} from '../../../bgp/rib/route.js';

describe('parseRoutePrefix', () => {
  it.each([
    ['198.51.100.53/32', '198.51.100.53/32', Afi.IPv4, 32, 0xc6336435],
    ['198.51.100.53', '198.51.100.53/32', Afi.IPv4, 32, 0xc6336435],
    ['198.51.100.0/24', '198.51.100.0/24', Afi.IPv4, 24, 0xc6336400],
    ['0.0.0.0/0', '0.0.0.0/0', Afi.IPv4, 0, 0],
    ['198.51.100.0/024', '198.51.100.0/24', Afi.IPv4, 24, 0xc6336400],
    ['2001:db8:53::53/128', '2001:db8:53::53/128', Afi.IPv6, 128, 0],
    ['2001:DB8:53:0::53/128', '2001:db8:53::53/128', Afi.IPv6, 128, 0],
    ['2001:db8::', '2001:db8::/128', Afi.IPv6, 128, 0],
  ])('%s → %s', (text, key, afi, len, v4) => {
    const r = parseRoutePrefix(text);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.key).toBe(key);
    expect(r.value.afi).toBe(afi);
    expect(r.value.len).toBe(len);
    expect(r.value.v4).toBe(v4);
    expect(r.value.v6 === null).toBe(afi === Afi.IPv4);
  });

  it.each([
    ['198.51.100.53/24', /host bits/],
    ['2001:db8::1/64', /host bits/],
    ['198.51.100.256/32', /not an IPv4 or IPv6 prefix/],
    ['198.51.100.5/33', /not an IPv4 or IPv6 prefix/],
    ['198.51.100.05/32', /not an IPv4 or IPv6 prefix/],
    ['198.51.100/24', /not an IPv4 or IPv6 prefix/],
    ['', /not an IPv4 or IPv6 prefix/],
    ['example.com', /not an IPv4 or IPv6 prefix/],
  ])('rejects %s', (text, why) => {
    const r = parseRoutePrefix(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });

  it('rejects a non-string without throwing', () => {
    expect(parseRoutePrefix(42 as unknown as string).ok).toBe(false);
  });
});

describe('communities', () => {
  it.each([
    ['65011:53', 65011 * 65536 + 53],
    ['0:0', 0],
    ['65535:65535', 0xffffffff],
    ['graceful-shutdown', WellKnownCommunity.GRACEFUL_SHUTDOWN],
    ['GRACEFUL_SHUTDOWN', WellKnownCommunity.GRACEFUL_SHUTDOWN],
    ['no-export', WellKnownCommunity.NO_EXPORT],
    ['blackhole', WellKnownCommunity.BLACKHOLE],
  ])('parses %s', (text, v) => {
    expect(parseCommunity(text)).toEqual({ ok: true, value: v });
  });

  it.each(['65536:1', '1:65536', '1', '1:2:3', 'a:b', '-1:2', 'no-such-name', ''])('rejects community %s', (t) => {
    const r = parseCommunity(t);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(JSON.stringify(t));
  });

  it('parses large communities and rejects bad ones', () => {
    expect(parseLargeCommunity('65011:1:2')).toEqual({ ok: true, value: [65011, 1, 2] });
    expect(parseLargeCommunity('4294967295:0:4294967295')).toEqual({ ok: true, value: [0xffffffff, 0, 0xffffffff] });
    expect(parseLargeCommunity('4294967296:0:0').ok).toBe(false);
    expect(parseLargeCommunity('1:2').ok).toBe(false);
  });

  it.each([
    ['rt:65000:1', '0002fde800000001'],
    ['soo:65000:7', '0003fde800000007'],
    ['rt:192.0.2.1:5', '0102c00002010005'],
    ['rt:4200000000:5', '0202fa56ea000005'],
    ['0x0002fde800000001', '0002fde800000001'],
  ])('parses extended %s', (text, hex) => {
    const r = parseExtendedCommunity(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(Buffer.from(r.value).toString('hex')).toBe(hex);
  });

  it.each(['rt:65000', 'xx:1:2', 'rt:4200000000:70000', 'rt:192.0.2.1:70000', '0011'])('rejects extended %s', (t) => {
    expect(parseExtendedCommunity(t).ok).toBe(false);
  });
});

describe('RouteParser', () => {
  it('interns equal attribute fields to one object', () => {
    const p = new RouteParser();
    const a = p.attrs({ prefix: '198.51.100.1/32', communities: ['65011:53'], med: 10 });
    const b = p.attrs({ prefix: '198.51.100.2/32', communities: ['65011:53'], med: 10 });
    const c = p.attrs({ prefix: '198.51.100.3/32', communities: ['65011:54'], med: 10 });
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(a.value).toBe(b.value);
    expect(a.value).not.toBe(c.value);
    expect(p.size).toBe(2);
  });

  it('sorts and de-duplicates communities, applies defaults', () => {
    const r = new RouteParser().attrs({ prefix: 'x', communities: ['65011:2', '65011:1', '65011:2'] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.communities).toEqual([65011 * 65536 + 1, 65011 * 65536 + 2]);
    expect(r.value.origin).toBe(0);
    expect(r.value.prepend).toBe(0);
    expect(r.value.nextHop).toEqual({ kind: 'self' });
  });

  it('finds interleaved sets again without mixing them up, whatever arrays the caller passes', () => {
    const p = new RouteParser();
    const sets = [0, 1, 2, 3].map((k) => ({ communities: ['65011:53', `65011:${k}`], med: k % 2 }));
    const first = sets.map((f) => p.attrs({ prefix: 'x', ...f, communities: [...f.communities] }));
    for (let i = 0; i < 40; i++) {
      const f = sets[i % 4]!;
      const r = p.attrs({ prefix: 'x', ...f, communities: [...f.communities] });
      expect(r).toBe(first[i % 4]);
    }
    expect(new Set(first.map((r) => (r.ok ? r.value : null))).size).toBe(4);
    expect(p.size).toBe(4);
    // Mutating an array the parser saw does not change what it remembers.
    const mine = ['65011:7'];
    const a = p.attrs({ prefix: 'x', communities: mine });
    mine[0] = '65011:8';
    const b = p.attrs({ prefix: 'x', communities: mine });
    expect(a.ok && b.ok && a.value !== b.value).toBe(true);
    if (a.ok && b.ok) expect([a.value.communities, b.value.communities]).toEqual([[65011 * 65536 + 7], [65011 * 65536 + 8]]);
    // 'self' and no next hop are the same thing; invalid specs are remembered as invalid.
    expect(p.attrs({ prefix: 'x', nextHop: 'self' })).toBe(p.attrs({ prefix: 'y' }));
    expect(p.attrs({ prefix: 'x', communities: '65011:1' } as never).ok).toBe(false);
    expect(p.attrs({ prefix: 'x', communities: ['65011:1'] }).ok).toBe(true);
    expect(p.attrs({ prefix: 'x', communities: '65011:1' } as never).ok).toBe(false);
  });

  it('never lets an invalid spec borrow the interned result of a valid one', () => {
    const p = new RouteParser();
    expect(p.attrs({ prefix: 'x', communities: ['1:1', '2:2'] }).ok).toBe(true);
    // Would collide with the valid one under a naive join(',') key.
    expect(p.attrs({ prefix: 'x', communities: ['1:1,2:2'] }).ok).toBe(false);
    expect(p.attrs({ prefix: 'x', nextHop: '192.0.2.1', origin: 'egp' }).ok).toBe(true);
    expect(p.attrs({ prefix: 'x', nextHop: '192.0.2.1|oegp' } as never).ok).toBe(false);
  });

  it.each([
    [{ nextHop: 'nowhere' }, /next hop "nowhere"/],
    [{ origin: 'bgp' }, /origin "bgp"/],
    [{ med: -1 }, /med -1/],
    [{ med: 1.5 }, /med 1.5/],
    [{ localPref: 2 ** 32 }, /localPref/],
    [{ prepend: 33 }, /prepend 33/],
    [{ communities: ['65011:99999'] }, /community "65011:99999"/],
    [{ communities: '65011:1' }, /communities must be a list/],
    [{ largeCommunities: ['1:2'] }, /large community "1:2"/],
    [{ extendedCommunities: ['rt:1'] }, /extended community "rt:1"/],
  ])('reports %j clearly', (fields, why) => {
    const r = new RouteParser().attrs({ prefix: '198.51.100.1/32', ...(fields as object) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });

  it('does not reuse a result after the caller mutates its arrays', () => {
    const p = new RouteParser();
    const comms = ['65011:1'];
    const a = p.attrs({ prefix: 'x', communities: comms });
    comms[0] = '65011:2';
    const b = p.attrs({ prefix: 'y', communities: comms });
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) expect(b.value.communities).toEqual([65011 * 65536 + 2]);
    expect(p.attrs({ prefix: 'z', communities: 'abc' as never }).ok).toBe(false);
    expect(p.attrs({ prefix: 'z', communities: ['a', 'b', 'c'] }).ok).toBe(false);
    expect(p.attrs({ prefix: 'z', communities: ['65011:3'] }).ok).toBe(true);
  });
});
