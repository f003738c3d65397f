/**
 * The route model herald's daemon hands the speaker, and its validation.
 *
 * src/ describes what it wants announced as plain `RouteSpec` objects, one per
 * prefix per peer, or, for large snapshots, as `RouteGroup`s (one attribute
 * set and the list of prefix strings that share it). This module checks them once and turns the text into
 * numbers: the prefix into a canonical key plus address, the attribute fields
 * into an interned `ParsedAttrs` (equal fields give the very same object, so a
 * million routes sharing one attribute set cost one parse and, downstream, one
 * attribute encode). Peer-specific decisions (AS_PATH, next hop, LOCAL_PREF)
 * are export.ts's job, not this one's.
 *
 * Community text: RFC 1997 "asn:value" and the IANA well-known names (RFC 1997
 * §3, RFC 3765, RFC 7999, RFC 8326); RFC 8092 large "global:local1:local2";
 * RFC 4360 extended "rt:" / "soo:" (two-octet AS §3.1, IPv4 §3.2, RFC 5668
 * four-octet AS) or 16 hex digits.
 *
 * Invalid text never throws: every parser returns `{ ok: false, reason }` so
 * `routes explain` can show the operator what is wrong with which route.
 */
import { Afi, Origin } from '../wire/iana.js';
import { formatKey, KIND_V6, parseAddress, PrefixScanner } from '../wire/prefix.js';
import { parseCommunity } from '../wire/attributes/communities.js';
import { parseLargeCommunity } from '../wire/attributes/large-communities.js';
import { parseExtendedCommunity } from '../wire/attributes/extended-communities.js';

/** The attribute fields of a route: a RouteSpec without its prefix. */
export interface RouteAttrs {
  /** An address, or 'self' (the default): the session's local address of the prefix's family. */
  nextHop?: string | 'self';
  /** Default 'igp'. */
  origin?: 'igp' | 'egp' | 'incomplete';
  med?: number;
  /** Only sent on iBGP (RFC 4271 §5.1.5); default 100 there. */
  localPref?: number;
  /** Prepend our AS this many extra times (eBGP only; see export.ts). */
  prepend?: number;
  /** "65011:53" or a well-known name such as "graceful-shutdown", "no-export". */
  communities?: string[];
  /** "65011:1:2". */
  largeCommunities?: string[];
  /** "rt:65000:1", "soo:192.0.2.1:7", or 16 hex digits. */
  extendedCommunities?: string[];
}

/** What src/ asks the speaker to announce: one per prefix per peer. */
export interface RouteSpec extends RouteAttrs {
  /** "198.51.100.53/32", "2001:db8:53::53/128"; a bare address is a host route. */
  prefix: string;
}

/**
 * Many prefixes sharing one set of attribute fields: the compact hand-off for
 * large snapshots (one small string per prefix instead of one object, and the
 * attributes validated once per group rather than once per prefix).
 */
export interface RouteGroup {
  attrs: RouteAttrs;
  /** Prefix text as in `RouteSpec.prefix`. */
  prefixes: readonly string[];
}

/** A validation outcome: a value, or a reason an operator can act on. */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

// ---------------------------------------------------------------- prefixes

/**
 * A prefix as the RIB stores it. IPv4 addresses are kept as one unsigned
 * number rather than a 4-byte array: a million small typed arrays cost far
 * more to allocate than a million numbers.
 */
export interface RoutePrefix {
  /** Canonical text ("198.51.100.0/24", RFC 5952 IPv6): the RIB's key. */
  readonly key: string;
  readonly afi: Afi;
  readonly len: number;
  /** IPv4 address as an unsigned 32-bit number (0 for IPv6). */
  readonly v4: number;
  /** IPv6 address, 16 bytes, host bits zero (null for IPv4). */
  readonly v6: Uint8Array | null;
}

/** The scanner behind parseRoutePrefix (the wire's one prefix scanner). */
const scanner = new PrefixScanner();

/** Parse and validate a route's prefix text (host bits must be zero). */
export function parseRoutePrefix(text: string): Checked<RoutePrefix> {
  if (typeof text !== 'string') return fail('prefix is not a string');
  if (!scanner.scan(text)) {
    return fail(
      scanner.failure === 'host-bits'
        ? `prefix ${text}: host bits set past /${text.slice(text.indexOf('/') + 1)}`
        : `prefix ${JSON.stringify(text)} is not an IPv4 or IPv6 prefix`,
    );
  }
  const key = formatKey(scanner.kind, scanner.w0, scanner.w1, scanner.w2, scanner.w3);
  if (scanner.kind < KIND_V6) return { ok: true, value: { key, afi: Afi.IPv4, len: scanner.kind, v4: scanner.w0 >>> 0, v6: null } };
  return { ok: true, value: { key, afi: Afi.IPv6, len: scanner.kind - KIND_V6, v4: 0, v6: scanner.bytes() } };
}

// ---------------------------------------------------------------- communities

// The text forms live beside their wire codecs, each parser the inverse of
// its formatter (bgp/wire/attributes/*communities.ts).
export { COMMUNITY_NAMES, parseCommunity } from '../wire/attributes/communities.js';
export { parseLargeCommunity } from '../wire/attributes/large-communities.js';
export { parseExtendedCommunity } from '../wire/attributes/extended-communities.js';

// ---------------------------------------------------------------- attributes

/** A next hop as written in the spec, validated. */
export type SpecNextHop = { kind: 'self' } | { kind: 'address'; afi: Afi; text: string; bytes: Uint8Array };

/** The peer-independent attribute fields of a RouteSpec, validated and interned. */
export interface ParsedAttrs {
  /** Intern key: equal keys are the same object within one RouteParser. */
  readonly key: string;
  readonly nextHop: SpecNextHop;
  readonly origin: Origin;
  readonly med: number | undefined;
  readonly localPref: number | undefined;
  readonly prepend: number;
  /** Sorted, without duplicates: the order of communities carries no meaning. */
  readonly communities: readonly number[];
  readonly largeCommunities: readonly (readonly [number, number, number])[];
  readonly extendedCommunities: readonly Uint8Array[];
}

const ORIGINS: Record<string, Origin> = { igp: Origin.IGP, egp: Origin.EGP, incomplete: Origin.INCOMPLETE };
/** Prepending more than this is almost certainly a typo; the path would also bloat every UPDATE. */
export const MAX_PREPEND = 32;

const isU32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** Render one field for the intern key; length-prefixed so that no two specs share a key. */
function keyPart(v: unknown): string {
  if (typeof v === 'string') return `${v.length}:${v}`;
  if (typeof v === 'number') return `#${v}`;
  if (v === undefined) return '-';
  if (Array.isArray(v)) {
    let k = `[${v.length}`;
    for (const e of v as unknown[]) k += typeof e === 'string' ? `,${e.length}:${e}` : ',?';
    return k;
  }
  return `?${typeof v}`;
}

/**
 * Compute the intern key of a spec's attribute fields without parsing them.
 * The encoding is injective (strings carry their length), so an invalid spec
 * can never borrow the interned result of a valid one.
 */
function attrKeyOf(s: RouteAttrs): string {
  const nh = s.nextHop ?? 'self';
  if (s.origin === undefined && s.med === undefined && s.localPref === undefined && s.prepend === undefined &&
      s.communities === undefined && s.largeCommunities === undefined && s.extendedCommunities === undefined) {
    return keyPart(nh); // the common case, kept cheap
  }
  return (
    keyPart(nh) + keyPart(s.origin) + keyPart(s.med) + keyPart(s.localPref) + keyPart(s.prepend) +
    keyPart(s.communities) + keyPart(s.largeCommunities) + keyPart(s.extendedCommunities)
  );
}

/** Validate a spec's attribute fields (no interning). */
export function parseAttrs(s: RouteAttrs | RouteSpec, key = attrKeyOf(s)): Checked<ParsedAttrs> {
  let nextHop: SpecNextHop = { kind: 'self' };
  if (s.nextHop !== undefined && s.nextHop !== 'self') {
    const t = s.nextHop;
    const a = typeof t === 'string' ? parseAddress(t) : null;
    if (a) nextHop = { kind: 'address', afi: a.afi, text: t, bytes: a.addr };
    else return fail(`next hop ${JSON.stringify(t)} is not an address or "self"`);
  }
  const origin = ORIGINS[s.origin ?? 'igp'];
  if (origin === undefined) return fail(`origin ${JSON.stringify(s.origin)}: expected igp, egp or incomplete`);
  if (s.med !== undefined && !isU32(s.med)) return fail(`med ${String(s.med)}: expected an integer 0..4294967295`);
  if (s.localPref !== undefined && !isU32(s.localPref)) return fail(`localPref ${String(s.localPref)}: expected an integer 0..4294967295`);
  const prepend = s.prepend ?? 0;
  if (!Number.isInteger(prepend) || prepend < 0 || prepend > MAX_PREPEND) return fail(`prepend ${String(s.prepend)}: expected an integer 0..${MAX_PREPEND}`);

  for (const [field, list] of [
    ['communities', s.communities],
    ['largeCommunities', s.largeCommunities],
    ['extendedCommunities', s.extendedCommunities],
  ] as const) {
    if (list !== undefined && !Array.isArray(list)) return fail(`${field} must be a list of strings`);
  }
  const comms = new Set<number>();
  for (const c of s.communities ?? []) {
    const r = parseCommunity(c);
    if (!r.ok) return r;
    comms.add(r.value);
  }
  const large: [number, number, number][] = [];
  const seenLarge = new Set<string>();
  for (const c of s.largeCommunities ?? []) {
    const r = parseLargeCommunity(c);
    if (!r.ok) return r;
    const k = r.value.join(':');
    if (!seenLarge.has(k)) {
      seenLarge.add(k);
      large.push(r.value);
    }
  }
  large.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const ext: Uint8Array[] = [];
  for (const c of s.extendedCommunities ?? []) {
    const r = parseExtendedCommunity(c);
    if (!r.ok) return r;
    ext.push(r.value);
  }
  return {
    ok: true,
    value: {
      key,
      nextHop,
      origin,
      med: s.med,
      localPref: s.localPref,
      prepend,
      communities: [...comms].sort((a, b) => a - b),
      largeCommunities: large,
      extendedCommunities: ext,
    },
  };
}

/** A spec seen before (its attribute fields copied) and its interned result. */
interface Seen {
  readonly spec: RouteAttrs;
  readonly result: Checked<ParsedAttrs>;
}

/**
 * Validates RouteSpec attribute fields once and interns the result: every
 * spec with the same fields gets the same ParsedAttrs object (and the same
 * failure). One parser may be shared by the Adj-RIB-Outs of several peers.
 *
 * A snapshot names a million routes but only a handful of attribute sets, so
 * the lookup must not allocate: the previous spec is compared field by field
 * first (runs of equal routes), then specs seen before are found through a
 * numeric fingerprint of their fields and compared the same way. Only a spec
 * with new fields builds the string intern key.
 */
export class RouteParser {
  private readonly table = new Map<string, Checked<ParsedAttrs>>();
  private readonly seen = new Map<number, Seen[]>();
  /** The previous spec and its result: runs of routes with equal fields skip the key. */
  private lastSpec: RouteAttrs | null = null;
  private lastResult: Checked<ParsedAttrs> | null = null;

  /** Return the interned attributes of a spec (its prefix is ignored), or why they are invalid. */
  attrs(spec: RouteAttrs | RouteSpec): Checked<ParsedAttrs> {
    const last = this.lastSpec;
    if (last !== null && sameAttrFields(last, spec)) return this.lastResult!;
    const fp = fingerprint(spec);
    let list = this.seen.get(fp);
    if (list !== undefined) {
      for (const e of list) {
        if (sameAttrFields(e.spec, spec)) {
          this.lastSpec = e.spec;
          this.lastResult = e.result;
          return e.result;
        }
      }
    } else {
      list = [];
      this.seen.set(fp, list);
    }
    const key = attrKeyOf(spec);
    let r = this.table.get(key);
    if (r === undefined) {
      r = parseAttrs(spec, key);
      this.table.set(key, r);
    }
    // A copy: the caller may reuse and mutate its arrays between snapshots.
    const copy = (l: readonly string[] | undefined): string[] | undefined => (Array.isArray(l) ? [...(l as readonly string[])] : (l as string[] | undefined));
    const kept: RouteAttrs = {
      nextHop: spec.nextHop,
      origin: spec.origin,
      med: spec.med,
      localPref: spec.localPref,
      prepend: spec.prepend,
      communities: copy(spec.communities),
      largeCommunities: copy(spec.largeCommunities),
      extendedCommunities: copy(spec.extendedCommunities),
    };
    list.push({ spec: kept, result: r });
    this.lastSpec = kept;
    this.lastResult = r;
    return r;
  }

  /** Number of distinct attribute sets seen. */
  get size(): number {
    return this.table.size;
  }

  /** Forget interned sets no longer in use (call after a snapshot replaced many). */
  clear(): void {
    this.table.clear();
    this.seen.clear();
    this.lastSpec = null;
    this.lastResult = null;
  }
}

/** Fold a value of a spec field into a 32-bit hash (no allocation). */
function fold(h: number, v: unknown): number {
  if (typeof v === 'string') {
    h = Math.imul(h ^ v.length, 0x01000193);
    for (let i = 0; i < v.length; i++) h = Math.imul(h ^ v.charCodeAt(i), 0x01000193);
    return h;
  }
  if (typeof v === 'number') return Math.imul(h ^ (v | 0) ^ 0x5f3759df, 0x01000193);
  return Math.imul(h ^ (v === undefined ? 0x2545f491 : 0x3c6ef372), 0x01000193);
}

/** Fold a list field (its strings in order). */
function foldList(h: number, l: unknown): number {
  if (!Array.isArray(l)) return fold(h, l);
  h = Math.imul(h ^ (l.length + 0x9e37), 0x01000193);
  for (const v of l as unknown[]) h = fold(h, v);
  return h;
}

/** A hash of a spec's attribute fields: equal fields give equal fingerprints. */
function fingerprint(s: RouteAttrs): number {
  let h = fold(0x811c9dc5, s.nextHop ?? 'self');
  h = fold(h, s.origin);
  h = fold(h, s.med);
  h = fold(h, s.localPref);
  h = fold(h, s.prepend);
  h = foldList(h, s.communities);
  h = foldList(h, s.largeCommunities);
  h = foldList(h, s.extendedCommunities);
  return h;
}

/** True when two lists hold the same strings (same reference or element-wise). */
function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || !Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] || typeof a[i] !== 'string') return false;
  return true;
}

/** True when two specs have identical attribute fields (the prefix is not compared). */
function sameAttrFields(a: RouteAttrs, b: RouteAttrs): boolean {
  return (
    (a.nextHop ?? 'self') === (b.nextHop ?? 'self') &&
    a.origin === b.origin &&
    a.med === b.med &&
    a.localPref === b.localPref &&
    a.prepend === b.prepend &&
    sameList(a.communities, b.communities) &&
    sameList(a.largeCommunities, b.largeCommunities) &&
    sameList(a.extendedCommunities, b.extendedCommunities)
  );
}
