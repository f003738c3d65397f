/**
 * Address and prefix text where people and APIs hand it in: the config
 * file, `routes` arguments, the control API, LXD values, the host's own
 * addresses. Validation, normalisation and containment go through
 * ip-address here; the hot path (bgp/wire/prefix.ts `PrefixScanner`, the
 * prefix lists the sources build) keeps its one binary scanner and only ever
 * sees the canonical text made here.
 *
 * Canonical text: IPv4 dotted quad, IPv6 as RFC 5952 §4 (lower case, the
 * longest run of zero groups compressed); a prefix as "network/length".
 *
 * Refused, with a reason that says what was wrong:
 *   - anything but the address itself: spaces, a zone index ("%eth0": a
 *     route or a peer is never link-scoped here), a "/len" where an address
 *     is wanted;
 *   - IPv4 octets with leading zeros (octal to some parsers, RFC 6943 §3.1.1);
 *   - a prefix length past the family's width;
 *   - host bits set past the length (192.0.2.1/24), unless the caller asks
 *     for them to be masked. Config, `routes` and the API refuse them and
 *     name both readings (192.0.2.0/24, or 192.0.2.1/32 for the one
 *     address): a person who typed it meant one of them and herald cannot
 *     tell which. LXD values are masked (see src/sources/lxd/derive.ts):
 *     LXD itself accepts them, and an OVN network's "ipv4.address" is
 *     written that way on purpose (the router's address and its subnet).
 *
 * ip-address costs ~10 µs a value; callers with bulk data (the LXD source)
 * keep a memo by text. No RFC of herald's own.
 */
import { Address4, Address6 } from 'ip-address';

export type Family = 'ipv4' | 'ipv6';

type Ip = Address4 | Address6;

/** An address, validated. */
export interface IpAddress {
  readonly family: Family;
  /** Canonical text. */
  readonly text: string;
  /** An IPv4-mapped IPv6 address (::ffff:0:0/96): never a next hop or a route of its own. */
  readonly mapped: boolean;
  readonly ip: Ip;
}

/** A prefix, validated (and with `hostBits: 'mask'`, masked). */
export interface IpPrefix {
  readonly family: Family;
  /** Canonical "network/length". */
  readonly text: string;
  readonly len: number;
  /** The address part as written, canonical, when it had host bits set (masked); null otherwise. */
  readonly given: string | null;
  /** The network (host bits zero). */
  readonly ip: Ip;
}

const V = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/** Show a value in a message: quoted, shortened. */
function show(s: string): string {
  return s.length > 60 ? `${JSON.stringify(s.slice(0, 57))}…` : JSON.stringify(s);
}

/** Why `s` (no "/") is not an address; null when it is one. */
function addressProblem(s: string): string | null {
  if (s === '') return 'it is empty';
  if (/\s/.test(s)) return 'it has spaces in it';
  if (s.includes('%')) return `a zone index (${s.slice(s.indexOf('%'))}) is not allowed here`;
  if (/^[0-9.]+$/.test(s) && /(^|\.)0[0-9]/.test(s)) return 'an IPv4 octet has a leading zero';
  return null;
}

/** Parse address text without "/len" into an ip-address object, or say why not. */
function parseBare(s: string): Ip | string {
  const why = addressProblem(s);
  if (why !== null) return why;
  try {
    if (!s.includes(':')) return new Address4(s);
    return new Address6(s);
  } catch {
    return 'not an address';
  }
}

/** An IPv4-mapped IPv6 address as its IPv4 address (how a dual-stack socket names an IPv4 peer); any other address as it is. */
export function unmapped(a: IpAddress): IpAddress {
  return a.mapped && a.ip instanceof Address6 ? addressOf(a.ip.to4()) : a;
}

function addressOf(ip: Ip): IpAddress {
  if (ip instanceof Address4) return { family: 'ipv4', text: ip.correctForm(), mapped: false, ip };
  return { family: 'ipv6', text: ip.correctForm(), mapped: ip.isMapped4(), ip };
}

/**
 * Validate address text (no "/len"); `family` restricts it to one family.
 * Returns the address, or the reason it is not one (a sentence that names
 * the text).
 */
export function parseIpAddress(text: string, opts: { family?: Family } = {}): IpAddress | string {
  const want = opts.family ? `an ${V[opts.family]} address` : 'an IPv4 or IPv6 address';
  if (typeof text !== 'string') return `expected ${want}, got ${typeof text}`;
  if (text.includes('/')) return `expected ${want}, got ${show(text)} (a prefix; give the address alone)`;
  const ip = parseBare(text);
  if (typeof ip === 'string') return ip === 'not an address' ? `expected ${want}, got ${show(text)}` : `expected ${want}, got ${show(text)}: ${ip}`;
  const a = addressOf(ip);
  if (opts.family && a.family !== opts.family) return `expected ${want}, got ${show(text)} (an ${V[a.family]} address)`;
  return a;
}

/**
 * Validate prefix text "address/length"; a bare address is a host route
 * (/32, /128) unless `bare: false`. Host bits set are refused, naming both
 * readings, unless `hostBits: 'mask'` (then `given` keeps what was written).
 */
export function parsePrefixText(text: string, opts: { family?: Family; hostBits?: 'refuse' | 'mask'; bare?: boolean } = {}): IpPrefix | string {
  const want = opts.family ? `an ${V[opts.family]} prefix` : 'a prefix like 198.51.100.0/24 or 2001:db8::/48';
  if (typeof text !== 'string') return `expected ${want}, got ${typeof text}`;
  const slash = text.indexOf('/');
  if (slash < 0 && opts.bare === false) return `expected ${want}, got ${show(text)} (no /length)`;
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseBare(addrText);
  if (typeof ip === 'string') return ip === 'not an address' ? `expected ${want}, got ${show(text)}` : `expected ${want}, got ${show(text)}: ${ip}`;
  const family: Family = ip instanceof Address4 ? 'ipv4' : 'ipv6';
  if (opts.family && family !== opts.family) return `expected ${want}, got ${show(text)} (an ${V[family]} prefix)`;
  const max = family === 'ipv4' ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(l)) return `expected ${want}, got ${show(text)}: the length after "/" must be a number 0..${max}`;
    len = Number(l);
    if (len > max) return `expected ${want}, got ${show(text)}: /${len} is longer than an ${V[family]} address (at most /${max})`;
  }
  const given = ip.correctForm();
  // A host route (the common case: /32, /128) is its own network.
  if (len === max) return { family, text: `${given}/${len}`, len, given: null, ip };
  const n = ip.bigInt();
  const shift = BigInt(max - len);
  const net = (n >> shift) << shift;
  const netText = (family === 'ipv4' ? Address4.fromBigInt(net) : Address6.fromBigInt(net)).correctForm();
  if (net !== n && opts.hostBits !== 'mask') {
    return `${show(text)} has host bits set past /${len} (did you mean ${netText}/${len}, or ${given}/${max} for the one address?)`;
  }
  const network = family === 'ipv4' ? new Address4(`${netText}/${len}`) : new Address6(`${netText}/${len}`);
  return { family, text: `${netText}/${len}`, len, given: net !== n ? given : null, ip: network };
}

/** The family of address or prefix text; null when it is neither. */
export function ipFamily(text: string): Family | null {
  const p = parsePrefixText(text, { hostBits: 'mask' });
  return typeof p === 'string' ? null : p.family;
}

/** True when `inner` (an address, or a prefix no wider than `outer`) lies inside `outer`; never across families. */
export function prefixContains(outer: IpPrefix, inner: IpPrefix | IpAddress): boolean {
  if (outer.family !== inner.family) return false;
  if ('len' in inner && inner.len < outer.len) return false;
  return inner.ip.isInSubnet(outer.ip as Address4 & Address6);
}

/** An address range "first-last" as LXD writes `ipv4.ovn.ranges`, validated; or the reason it is not one. */
export function parseIpRange(text: string): { first: IpAddress; last: IpAddress } | string {
  const dash = text.indexOf('-');
  if (dash < 0) return `expected a range FIRST-LAST, got ${show(text)}`;
  const first = parseIpAddress(text.slice(0, dash).trim());
  if (typeof first === 'string') return first;
  const last = parseIpAddress(text.slice(dash + 1).trim(), { family: first.family });
  if (typeof last === 'string') return last;
  return { first, last };
}

/** True when `a` lies within the range (same family, first ≤ a ≤ last). */
export function inRange(a: IpAddress, r: { first: IpAddress; last: IpAddress }): boolean {
  if (a.family !== r.first.family) return false;
  const n = a.ip.bigInt();
  return n >= r.first.ip.bigInt() && n <= r.last.ip.bigInt();
}

/** "ADDR/LEN" as an interface carries it (the host bits are the address): the address and the length; or the reason. */
export function parseInterfaceAddress(text: string): { address: IpAddress; len: number } | string {
  const p = parsePrefixText(text, { hostBits: 'mask', bare: false });
  if (typeof p === 'string') return p;
  const a = parseIpAddress(p.given ?? p.text.slice(0, p.text.indexOf('/')));
  return typeof a === 'string' ? a : { address: a, len: p.len };
}
