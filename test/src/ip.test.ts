// src/ip.ts: the one parser of address and prefix text people and APIs hand
// in (config, `routes`, the API, LXD values). Canonical text, clear refusals,
// host bits refused or masked, containment and ranges.
import { describe, expect, it } from 'vitest';
import { inRange, parseInterfaceAddress, parseIpAddress, parseIpRange, parsePrefixText, prefixContains, type IpAddress, type IpPrefix } from '../../src/ip.js';

const addr = (t: string): IpAddress => {
  const a = parseIpAddress(t);
  if (typeof a === 'string') throw new Error(a);
  return a;
};
const pfx = (t: string, hostBits: 'refuse' | 'mask' = 'refuse'): IpPrefix => {
  const p = parsePrefixText(t, { hostBits });
  if (typeof p === 'string') throw new Error(p);
  return p;
};

describe('src/ip.ts', () => {
  it('gives canonical text (RFC 5952 §4 for IPv6) and the family', () => {
    expect(addr('192.0.2.1')).toMatchObject({ family: 'ipv4', text: '192.0.2.1', mapped: false });
    expect(addr('2001:DB8:0:0:0:0:0:53')).toMatchObject({ family: 'ipv6', text: '2001:db8::53' });
    expect(addr('::ffff:192.0.2.1').mapped).toBe(true);
    expect(pfx('2001:DB8::/32').text).toBe('2001:db8::/32');
    expect(pfx('198.51.100.53')).toMatchObject({ text: '198.51.100.53/32', len: 32, given: null });
    expect(pfx('2001:db8::53')).toMatchObject({ text: '2001:db8::53/128', len: 128 });
  });

  it('refuses what is not an address, saying why', () => {
    expect(parseIpAddress('192.0.2.256')).toMatch(/expected an IPv4 or IPv6 address, got "192.0.2.256"/);
    expect(parseIpAddress('192.0.2.01')).toMatch(/leading zero/);
    expect(parseIpAddress('fe80::1%eth0')).toMatch(/zone index \(%eth0\)/);
    expect(parseIpAddress(' 192.0.2.1')).toMatch(/spaces/);
    expect(parseIpAddress('192.0.2.0/24')).toMatch(/a prefix; give the address alone/);
    expect(parseIpAddress('2001:db8::1', { family: 'ipv4' })).toMatch(/expected an IPv4 address.*\(an IPv6 address\)/);
    expect(parseIpAddress('')).toMatch(/empty/);
  });

  it('refuses host bits past the length naming both readings, or masks them when asked', () => {
    expect(parsePrefixText('192.0.2.1/24')).toBe('"192.0.2.1/24" has host bits set past /24 (did you mean 192.0.2.0/24, or 192.0.2.1/32 for the one address?)');
    expect(pfx('192.0.2.1/24', 'mask')).toMatchObject({ text: '192.0.2.0/24', given: '192.0.2.1', len: 24 });
    expect(pfx('2001:db8::1/64', 'mask')).toMatchObject({ text: '2001:db8::/64', given: '2001:db8::1' });
    expect(parsePrefixText('192.0.2.0/33')).toMatch(/at most \/32/);
    expect(parsePrefixText('192.0.2.0/x')).toMatch(/must be a number/);
    expect(parsePrefixText('192.0.2.0', { bare: false })).toMatch(/no \/length/);
  });

  it('answers containment and ranges within one family only', () => {
    const net = pfx('192.0.2.0/24');
    expect(prefixContains(net, addr('192.0.2.77'))).toBe(true);
    expect(prefixContains(net, addr('198.51.100.1'))).toBe(false);
    expect(prefixContains(net, pfx('192.0.2.128/25'))).toBe(true);
    expect(prefixContains(pfx('192.0.2.128/25'), net)).toBe(false);
    expect(prefixContains(pfx('::/0'), addr('192.0.2.1'))).toBe(false);
    const r = parseIpRange('192.0.2.10-192.0.2.20');
    if (typeof r === 'string') throw new Error(r);
    expect(inRange(addr('192.0.2.15'), r)).toBe(true);
    expect(inRange(addr('192.0.2.21'), r)).toBe(false);
    expect(inRange(addr('2001:db8::15'), r)).toBe(false);
    expect(parseIpRange('192.0.2.10-2001:db8::1')).toMatch(/expected an IPv4 address/);
  });

  it('reads an interface address "ADDR/LEN" keeping the host part', () => {
    const a = parseInterfaceAddress('192.0.2.1/24');
    expect(typeof a === 'string' ? a : { a: a.address.text, len: a.len }).toEqual({ a: '192.0.2.1', len: 24 });
    expect(parseInterfaceAddress('192.0.2.1')).toMatch(/no \/length/);
  });
});
