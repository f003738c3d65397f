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

/**
 * The one prefix scanner (text → the binary key the RIB uses). Every parser of
 * address or prefix text in herald ends here: `parseIPv4`, `parseIPv6`,
 * `parseAddress` and `parsePrefix` below, the Adj-RIB-Out's prefix table and
 * the prefix lists src/ builds at its edges. It reads the text once, by
 * hand, and leaves the result in number fields, so scanning a million
 * prefixes allocates nothing.
 *
 * Key encoding (shared with rib/prefix-table.ts and rib/prefix-list.ts):
 *   kind  IPv4: the length 0..32; IPv6: 256 + the length 0..128
 *   w0    IPv4: the address; IPv6: address bits 0..31      (big-endian words,
 *   w1-3  IPv6: address bits 32..127; 0 for IPv4            as signed int32)
 *
 * Accepted text: dotted-quad IPv4 (1–3 digits an octet, no leading zero,
 * RFC 4632 §3.1 prefixes); IPv6 as RFC 4291 §2.2 (1–4 hex digits a group, at
 * most one "::", an optional dotted-quad tail); an optional "/len" of 1–3
 * digits. Nothing else: no whitespace, no zone index.
 */
export class PrefixScanner {
  /** IPv4: the length; IPv6: KIND_V6 + the length (of the last successful scan). */
  kind = 0;
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  /** Why the last scan failed: 'syntax', or 'host-bits' (valid except for bits set past the length). */
  failure: 'syntax' | 'host-bits' = 'syntax';
  private readonly g = new Int32Array(8);

  /**
   * Scan `s`. mode 'prefix' (default): "addr[/len]", host bits must be zero;
   * 'loose': host bits are masked; 'address': no "/len" allowed.
   * Returns false when the text is not of that form.
   */
  scan(s: string, mode: 'prefix' | 'loose' | 'address' = 'prefix'): boolean {
    this.failure = 'syntax';
    if (typeof s !== 'string') return false;
    const n = s.length;
    if (n === 0 || n > 49) return false;
    let end = s.indexOf('/');
    if (end < 0) end = n;
    else if (mode === 'address') return false;
    let v6: boolean;
    if (this.scan4(s, 0, end)) v6 = false;
    else if (this.scan6(s, end)) v6 = true;
    else return false;
    const max = v6 ? 128 : 32;
    let len = max;
    if (end < n) {
      const digits = n - end - 1;
      if (digits < 1 || digits > 3) return false;
      len = 0;
      for (let i = end + 1; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c < 48 || c > 57) return false;
        len = len * 10 + (c - 48);
      }
      if (len > max) return false;
    }
    if (!this.mask(len, v6 ? 4 : 1, mode === 'loose')) {
      this.failure = 'host-bits';
      return false;
    }
    this.kind = v6 ? KIND_V6 + len : len;
    return true;
  }

  /** Dotted quad in s[from, end) into w0 (w1..w3 = 0). */
  private scan4(s: string, from: number, end: number): boolean {
    const v = this.quad(s, from, end);
    if (v === null) return false;
    this.w0 = v;
    this.w1 = this.w2 = this.w3 = 0;
    return true;
  }

  /** Read a dotted quad filling s[from, end) exactly; the address as int32, or null. */
  private quad(s: string, from: number, end: number): number | null {
    let addr = 0;
    let octet = 0;
    let digits = 0;
    let dots = 0;
    for (let i = from; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        if (digits > 0 && octet === 0) return null; // leading zero
        octet = octet * 10 + (c - 48);
        if (++digits > 3 || octet > 255) return null;
      } else if (c === 46) {
        if (digits === 0 || ++dots > 3) return null;
        addr = (addr << 8) | octet;
        octet = 0;
        digits = 0;
      } else return null;
    }
    if (dots !== 3 || digits === 0) return null;
    return (addr << 8) | octet;
  }

  /** IPv6 text in s[0, end) into w0..w3. */
  private scan6(s: string, end: number): boolean {
    const g = this.g;
    let i = 0;
    let ng = 0;
    let gap = -1; // group index where "::" stands
    if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
      gap = 0;
      i = 2;
    }
    if (i < end) {
      for (;;) {
        const start = i;
        let v = 0;
        let d = 0;
        for (; i < end; i++) {
          const c = s.charCodeAt(i);
          let h: number;
          if (c >= 48 && c <= 57) h = c - 48;
          else if (c >= 97 && c <= 102) h = c - 87;
          else if (c >= 65 && c <= 70) h = c - 55;
          else break;
          if (++d > 4) return false;
          v = (v << 4) | h;
        }
        if (i < end && s.charCodeAt(i) === 46) {
          // An IPv4 tail (RFC 4291 §2.2 form 3): the last 32 bits, nothing after it.
          if (ng > 6) return false;
          const q = this.quad(s, start, end);
          if (q === null) return false;
          g[ng++] = q >>> 16;
          g[ng++] = q & 0xffff;
          i = end;
          break;
        }
        if (d === 0 || ng === 8) return false;
        g[ng++] = v;
        if (i === end) break;
        if (s.charCodeAt(i) !== 58) return false;
        i++;
        if (i < end && s.charCodeAt(i) === 58) {
          if (gap >= 0) return false;
          gap = ng;
          i++;
          if (i === end) break;
        } else if (i === end) return false; // a trailing single ':'
      }
    } else if (gap < 0) return false;
    if (gap < 0 ? ng !== 8 : ng > 7) return false;
    if (gap >= 0) {
      const shift = 8 - ng;
      for (let k = ng - 1; k >= gap; k--) g[k + shift] = g[k]!;
      for (let k = gap; k < gap + shift; k++) g[k] = 0;
    }
    this.w0 = (g[0]! << 16) | g[1]!;
    this.w1 = (g[2]! << 16) | g[3]!;
    this.w2 = (g[4]! << 16) | g[5]!;
    this.w3 = (g[6]! << 16) | g[7]!;
    return true;
  }

  /** Check (or, when `clear`, zero) the bits past `len` of the first `words` words; false when set and not cleared. */
  private mask(len: number, words: number, clear: boolean): boolean {
    const m0 = hostMask(len);
    const m1 = hostMask(len - 32);
    const m2 = hostMask(len - 64);
    const m3 = hostMask(len - 96);
    const set = (this.w0 & m0) | (words > 1 ? (this.w1 & m1) | (this.w2 & m2) | (this.w3 & m3) : 0);
    if (set === 0) return true;
    if (!clear) return false;
    this.w0 &= ~m0;
    if (words > 1) {
      this.w1 &= ~m1;
      this.w2 &= ~m2;
      this.w3 &= ~m3;
    }
    return true;
  }

  /** The scanned address as 4 or 16 bytes. */
  bytes(): Uint8Array {
    const v6 = this.kind >= KIND_V6;
    const out = new Uint8Array(v6 ? 16 : 4);
    putWord(out, 0, this.w0);
    if (v6) {
      putWord(out, 4, this.w1);
      putWord(out, 8, this.w2);
      putWord(out, 12, this.w3);
    }
    return out;
  }
}

/** Added to the length in a key's kind for IPv6. */
export const KIND_V6 = 256;

/** The host bits of one word for a prefix of `len` bits counted from the word's start (len may fall outside 0..32). */
function hostMask(len: number): number {
  return len >= 32 ? 0 : len <= 0 ? -1 : -1 >>> len;
}

function putWord(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** The scanner behind the one-off parse functions below (single-threaded, never re-entered). */
const scanner = new PrefixScanner();

/** Parse dotted-quad IPv4 text into 4 bytes, or null. */
export function parseIPv4(s: string): Uint8Array | null {
  return scanner.scan(s, 'address') && scanner.kind < KIND_V6 ? scanner.bytes() : null;
}

/** Parse IPv6 text (with :: and an optional embedded IPv4 tail) into 16 bytes, or null. */
export function parseIPv6(s: string): Uint8Array | null {
  return scanner.scan(s, 'address') && scanner.kind >= KIND_V6 ? scanner.bytes() : null;
}

/** Parse an address of either family. */
export function parseAddress(s: string): { afi: Afi; addr: Uint8Array } | null {
  if (!scanner.scan(s, 'address')) return null;
  return { afi: scanner.kind >= KIND_V6 ? Afi.IPv6 : Afi.IPv4, addr: scanner.bytes() };
}

/** The address family of address or prefix text, or null when it is neither (the one family test). */
export function familyOfText(s: string): Afi | null {
  return scanner.scan(s, 'loose') ? (scanner.kind >= KIND_V6 ? Afi.IPv6 : Afi.IPv4) : null;
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

/** Format a key in the scanner's encoding (kind, four words) as canonical prefix text. */
export function formatKey(kind: number, w0: number, w1: number, w2: number, w3: number): string {
  if (kind < KIND_V6) return `${w0 >>> 24}.${(w0 >>> 16) & 0xff}.${(w0 >>> 8) & 0xff}.${w0 & 0xff}/${kind}`;
  const b = keyBytes;
  putWord(b, 0, w0);
  putWord(b, 4, w1);
  putWord(b, 8, w2);
  putWord(b, 12, w3);
  return `${formatIPv6(b)}/${kind - KIND_V6}`;
}
const keyBytes = new Uint8Array(16);

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
  if (!scanner.scan(s, opts.strict === false ? 'loose' : 'prefix')) return null;
  const v6 = scanner.kind >= KIND_V6;
  return { afi: v6 ? Afi.IPv6 : Afi.IPv4, len: v6 ? scanner.kind - KIND_V6 : scanner.kind, addr: scanner.bytes() };
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
