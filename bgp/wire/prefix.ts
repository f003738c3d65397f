/**
 * IP prefixes and their NLRI encoding (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3).
 *
 *   +---------------------------+
 *   |   Length (1 octet, bits)  |
 *   +---------------------------+
 *   |   Prefix (ceil(len/8))    |
 *   +---------------------------+
 *
 * With ADD-PATH negotiated for the family, a 4-octet Path Identifier precedes
 * each entry. A Prefix keeps the full 4- or 16-byte address with host bits
 * zeroed, so equal prefixes compare equal byte for byte and as text.
 */
import { Afi } from './iana.js';
import { BgpError } from './errors.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface Prefix {
  readonly afi: Afi;
  /** Prefix length in bits: 0..32 for IPv4, 0..128 for IPv6. */
  readonly len: number;
  /** Full-width address (4 or 16 bytes), bits past `len` are zero. */
  readonly addr: Uint8Array;
}

/** An NLRI entry as received: a prefix and, with ADD-PATH, its path id. */
export interface Nlri {
  prefix: Prefix;
  pathId?: number;
}

export const addrLen = (afi: Afi): number => (afi === Afi.IPv4 ? 4 : 16);
export const maxLen = (afi: Afi): number => (afi === Afi.IPv4 ? 32 : 128);

/** Parse dotted-quad IPv4 text into 4 bytes, or null. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255 || (p.length > 1 && p[0] === '0')) return null;
    out[i] = v;
  }
  return out;
}

/** Parse IPv6 text (with :: and an optional embedded IPv4 tail) into 16 bytes, or null. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length === 0 || s.length > 45) return null;
  const out = new Uint8Array(16);
  let tail4: Uint8Array | null = null;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > 0) {
    tail4 = parseIPv4(s.slice(lastColon + 1));
    if (!tail4) return null;
    body = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = body.indexOf('::');
  if (dbl !== body.lastIndexOf('::')) return null;
  const parseGroups = (t: string): number[] | null => {
    if (t === '') return [];
    const gs = t.split(':');
    const res: number[] = [];
    for (const g of gs) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      res.push(parseInt(g, 16));
    }
    return res;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(body.slice(0, dbl));
    const tail = parseGroups(body.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const g = parseGroups(body);
    if (!g || g.length !== 8) return null;
    groups = g;
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parse an address of either family. */
export function parseAddress(s: string): { afi: Afi; addr: Uint8Array } | null {
  if (s.includes(':')) {
    const a = parseIPv6(s);
    return a ? { afi: Afi.IPv6, addr: a } : null;
  }
  const a = parseIPv4(s);
  return a ? { afi: Afi.IPv4, addr: a } : null;
}

/** Format 4 bytes as dotted quad. */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Format 16 bytes as RFC 5952 canonical IPv6 text. */
export function formatIPv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + i * 2]! << 8) | b[off + i * 2 + 1]!);
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero groups, the first if tied.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** Format an address of the given family. */
export function formatAddress(afi: Afi, b: Uint8Array, off = 0): string {
  return afi === Afi.IPv4 ? formatIPv4(b, off) : formatIPv6(b, off);
}

/** Zero the bits of `addr` past `len` in place. */
function maskInPlace(addr: Uint8Array, len: number): void {
  const full = len >> 3;
  const rem = len & 7;
  if (rem) addr[full] = addr[full]! & (0xff << (8 - rem));
  addr.fill(0, rem ? full + 1 : full);
}

/** Make a prefix, masking host bits. */
export function makePrefix(afi: Afi, addr: Uint8Array, len: number): Prefix {
  const a = new Uint8Array(addrLen(afi));
  a.set(addr.subarray(0, a.length));
  maskInPlace(a, len);
  return { afi, len, addr: a };
}

/**
 * Parse "198.51.100.0/24" or "2001:db8::/32". A bare address is a host route.
 * Returns null for malformed text or set host bits (strict), so that config
 * errors are caught; use `{ strict: false }` to mask instead.
 */
export function parsePrefix(s: string, opts: { strict?: boolean } = {}): Prefix | null {
  const slash = s.indexOf('/');
  const addrText = slash >= 0 ? s.slice(0, slash) : s;
  const a = parseAddress(addrText);
  if (!a) return null;
  const max = maxLen(a.afi);
  let len = max;
  if (slash >= 0) {
    const lt = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lt)) return null;
    len = Number(lt);
    if (len > max) return null;
  }
  const p = makePrefix(a.afi, a.addr, len);
  if (opts.strict !== false) {
    for (let i = 0; i < p.addr.length; i++) if (p.addr[i] !== a.addr[i]) return null;
  }
  return p;
}

/** Format a prefix as "addr/len". */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.afi, p.addr)}/${p.len}`;
}

/** True when two prefixes are the same. */
export function prefixEqual(a: Prefix, b: Prefix): boolean {
  if (a.afi !== b.afi || a.len !== b.len) return false;
  for (let i = 0; i < a.addr.length; i++) if (a.addr[i] !== b.addr[i]) return false;
  return true;
}

/**
 * Decode one NLRI entry. RFC 4271 §4.3: trailing bits past the length are
 * irrelevant; they are zeroed here (a real collector capture has them set).
 * A length past the family maximum is a malformed NLRI; `action` picks how the
 * caller's context treats it (session reset for IPv4 NLRI in the UPDATE body,
 * per RFC 7606 §5.3 the family's NLRI in MP attributes).
 */
export function decodeNlriEntry(r: Reader, afi: Afi, addPath: boolean): Nlri {
  const pathId = addPath ? r.u32('path identifier') : undefined;
  const len = r.u8('prefix length');
  const max = maxLen(afi);
  if (len > max) {
    const s = r.onShort;
    throw new BgpError(s.code, s.subcode, `prefix length ${len} > ${max}`, s.data ?? new Uint8Array(0), s.action ?? 'session-reset');
  }
  const n = (len + 7) >> 3;
  const raw = r.bytes(n, 'prefix');
  const addr = new Uint8Array(addrLen(afi));
  addr.set(raw);
  maskInPlace(addr, len);
  const prefix: Prefix = { afi, len, addr };
  return pathId === undefined ? { prefix } : { prefix, pathId };
}

/** Decode NLRI entries until the reader's window ends. */
export function decodeNlriList(r: Reader, afi: Afi, addPath: boolean): Nlri[] {
  const out: Nlri[] = [];
  while (!r.atEnd) out.push(decodeNlriEntry(r, afi, addPath));
  return out;
}

/** Bytes one prefix takes as NLRI (without a path id). */
export function nlriSize(p: Prefix): number {
  return 1 + ((p.len + 7) >> 3);
}

/** Encode one NLRI entry. */
export function encodeNlri(w: Writer, p: Prefix, pathId?: number): void {
  if (pathId !== undefined) w.u32(pathId);
  w.u8(p.len);
  w.bytes(p.addr.subarray(0, (p.len + 7) >> 3));
}
