/**
 * Export policy: a validated route plus one peer's session facts → the path
 * attributes that peer is sent (or the reason it cannot be sent).
 *
 * Owns, per RFC 4271 §5.1 and §9.1.3, the peer-specific rewriting herald does
 * to the routes it originates:
 *   - AS_PATH (§5.1.2): eBGP gets our AS once plus `prepend` extra copies;
 *     iBGP gets an empty AS_PATH. `prepend` is ignored on iBGP: our own AS in
 *     a path learned inside our AS would look like a loop to every other
 *     router of the AS, and the border router prepends on its own export.
 *   - NEXT_HOP (§5.1.3, RFC 4760 §3, RFC 8950): 'self' becomes the session's
 *     local address of the prefix's family. IPv4 NLRI with an IPv4 next hop
 *     travel in the UPDATE body with NEXT_HOP; IPv4 NLRI with an IPv6 next hop
 *     go in MP_REACH_NLRI only if RFC 8950 extended next hop was negotiated;
 *     IPv6 NLRI always go in MP_REACH_NLRI and never with an IPv4-mapped or
 *     IPv4 next hop (a route with nowhere sane to point is refused, with a
 *     reason, rather than announced into a black hole).
 *   - LOCAL_PREF (§5.1.5): sent to internal peers only (default 100).
 *
 * Results are interned per exporter: every route whose attributes and family
 * resolve the same way shares one `AttrSet`, which the update builder encodes
 * once and reuses for every UPDATE of that bucket (BIRD's "bucket" idea).
 */
import { Afi, AsPathSegType, type Origin } from '../wire/iana.js';
import { IPV4_UNICAST, IPV6_UNICAST, type FamilyKey } from '../wire/context.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/prefix.js';
import type { PathAttributes } from '../wire/types.js';
import { parseRoutePrefix, RouteParser, type Checked, type ParsedAttrs, type RoutePrefix, type RouteSpec } from './route.js';

/** What export policy needs to know about one established session. */
export interface PeerExportContext {
  localAs: number;
  peerAs: number;
  /** True when peerAs === localAs. */
  ibgp: boolean;
  /** Our IPv4 address on this session, if any (an IPv4-mapped IPv6 text is accepted). */
  localAddress4?: string;
  /** Our global IPv6 address on this session, if any. */
  localAddress6?: string;
  /**
   * Negotiated families ("1/1", "2/1"), e.g. `Negotiated.families`; routes of
   * other families are not sendable. End-of-RIB goes out in this order.
   */
  families: ReadonlySet<FamilyKey> | readonly FamilyKey[];
  /**
   * RFC 8950: IPv4 unicast NLRI may carry an IPv6 next hop on this session.
   * AdjRibOut.start() defaults it from `ctx.extendedNextHop` when omitted.
   */
  extendedNextHopV4overV6?: boolean;
}

/** How a bucket's NLRI travel: IPv4 in the UPDATE body, or inside MP_REACH_NLRI. */
export type NlriCarrier = 'body' | 'mp';

/** One exported attribute set: everything an UPDATE needs besides the NLRI. */
export interface AttrSet {
  /** Small sequential id, unique within the exporter (for logs and tests). */
  readonly id: number;
  /** Intern key; equal keys are the same object within one exporter. */
  readonly key: string;
  /** Family of the NLRI this set is used with (SAFI is always unicast). */
  readonly afi: Afi;
  readonly family: FamilyKey;
  readonly carrier: NlriCarrier;
  /** Resolved next hop as text. */
  readonly nextHop: string;
  /** 4 bytes (body carrier, NEXT_HOP attribute) or 16 bytes (MP_REACH next hop). */
  readonly nextHopBytes: Uint8Array;
  /** The attributes besides MP_REACH; `nextHop` set only for the body carrier. */
  readonly attrs: PathAttributes;
  /** Encoded attribute block, filled by the update builder on first use. */
  encoded: Uint8Array | null;
}

/** RFC 4271 §5.1.5 leaves the value to the operator; 100 is the universal default. */
export const DEFAULT_LOCAL_PREF = 100;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Resolved local addresses: IPv4-mapped IPv6 text counts as IPv4, never as IPv6. */
interface LocalAddresses {
  v4: Uint8Array | null;
  v6: Uint8Array | null;
  v6Problem: string | null;
}

const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
const isUnspecified = (b: Uint8Array): boolean => b.every((x) => x === 0);
const isLinkLocal6 = (b: Uint8Array): boolean => b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;

function localAddresses(peer: PeerExportContext): LocalAddresses {
  let v4: Uint8Array | null = null;
  let v6: Uint8Array | null = null;
  let v6Problem: string | null = null;
  const take4 = (t: string): void => {
    const a = parseIPv4(t);
    if (a) v4 ??= a;
    else {
      const m = parseIPv6(t);
      if (m && isMapped(m)) v4 ??= m.slice(12);
    }
  };
  if (peer.localAddress4 !== undefined) take4(peer.localAddress4);
  if (peer.localAddress6 !== undefined) {
    const a = parseIPv6(peer.localAddress6);
    if (a === null) take4(peer.localAddress6);
    else if (isMapped(a)) {
      v4 ??= a.slice(12);
      v6Problem = `the session's local address ${peer.localAddress6} is IPv4-mapped`;
    } else if (isLinkLocal6(a)) v6Problem = `the session's local IPv6 address ${peer.localAddress6} is link-local`;
    else if (isUnspecified(a)) v6Problem = 'the session has no local IPv6 address';
    else v6 = a;
  }
  return { v4, v6, v6Problem };
}

/**
 * Turns validated routes into one peer's AttrSets. Create one per session
 * (on Established): the results depend on the session's addresses and
 * families, and the AttrSets cache their encoding for that session.
 */
export class Exporter {
  readonly peer: PeerExportContext;
  private readonly local: LocalAddresses;
  private readonly families: ReadonlySet<FamilyKey>;
  private readonly byKey = new Map<string, AttrSet>();
  private readonly cache4 = new Map<ParsedAttrs, Checked<AttrSet>>();
  private readonly cache6 = new Map<ParsedAttrs, Checked<AttrSet>>();
  private nextId = 1;

  constructor(peer: PeerExportContext) {
    this.peer = peer;
    this.local = localAddresses(peer);
    this.families = new Set(peer.families);
  }

  /** Number of distinct attribute sets handed out. */
  get size(): number {
    return this.byKey.size;
  }

  /** Export validated attributes for a prefix of family `afi` (cached per ParsedAttrs). */
  export(pa: ParsedAttrs, afi: Afi): Checked<AttrSet> {
    const cache = afi === Afi.IPv4 ? this.cache4 : this.cache6;
    let r = cache.get(pa);
    if (r === undefined) {
      r = this.compute(pa, afi);
      cache.set(pa, r);
    }
    return r;
  }

  private compute(pa: ParsedAttrs, afi: Afi): Checked<AttrSet> {
    const peer = this.peer;
    const family = afi === Afi.IPv4 ? IPV4_UNICAST : IPV6_UNICAST;
    if (!this.families.has(family)) {
      return fail(`${afi === Afi.IPv4 ? 'IPv4' : 'IPv6'} unicast was not negotiated with this peer`);
    }
    const nh = this.resolveNextHop(pa, afi);
    if (!nh.ok) return nh;
    const { carrier, bytes } = nh.value;
    const nextHop = bytes.length === 4 ? formatIPv4(bytes) : formatIPv6(bytes);

    const attrs: PathAttributes = { origin: pa.origin as Origin };
    // RFC 4271 §5.1.2: "When a given BGP speaker advertises the route to an
    // internal peer, the advertising speaker SHALL NOT modify the AS_PATH";
    // a route we originate starts with an empty AS_PATH. To an external peer
    // the speaker "shall prepend its own AS number as the last element".
    if (peer.ibgp) attrs.asPath = [];
    else attrs.asPath = [{ type: AsPathSegType.AS_SEQUENCE, asns: new Array<number>(1 + pa.prepend).fill(peer.localAs) }];
    if (carrier === 'body') attrs.nextHop = nextHop;
    if (pa.med !== undefined) attrs.med = pa.med;
    // RFC 4271 §5.1.5: "A BGP speaker MUST NOT include this attribute in
    // UPDATE messages it sends to external peers".
    if (peer.ibgp) attrs.localPref = pa.localPref ?? DEFAULT_LOCAL_PREF;
    if (pa.communities.length > 0) attrs.communities = [...pa.communities];
    if (pa.extendedCommunities.length > 0) attrs.extendedCommunities = pa.extendedCommunities.map((c) => c.slice());
    if (pa.largeCommunities.length > 0) attrs.largeCommunities = pa.largeCommunities.map((c) => [c[0], c[1], c[2]]);

    const key = [
      family,
      carrier,
      nextHop,
      attrs.origin,
      attrs.asPath.map((s) => s.asns.length).join(','),
      attrs.med ?? '-',
      attrs.localPref ?? '-',
      pa.communities.join(','),
      pa.largeCommunities.map((c) => c.join(':')).join(','),
      pa.extendedCommunities.map((c) => Buffer.from(c).toString('hex')).join(','),
    ].join('|');
    let set = this.byKey.get(key);
    if (set === undefined) {
      set = { id: this.nextId++, key, afi, family, carrier, nextHop, nextHopBytes: bytes, attrs, encoded: null };
      this.byKey.set(key, set);
    }
    return { ok: true, value: set };
  }

  private resolveNextHop(pa: ParsedAttrs, afi: Afi): Checked<{ carrier: NlriCarrier; bytes: Uint8Array }> {
    const peer = this.peer;
    const local = this.local;
    const v6ok = (bytes: Uint8Array, what: string): Checked<{ carrier: NlriCarrier; bytes: Uint8Array }> => {
      if (isMapped(bytes)) return fail(`${what} is IPv4-mapped; refusing to announce with it`);
      if (isUnspecified(bytes)) return fail(`${what} is the unspecified address`);
      if (isLinkLocal6(bytes)) return fail(`${what} is link-local; a global next hop is required`);
      return { ok: true, value: { carrier: 'mp', bytes } };
    };
    if (afi === Afi.IPv6) {
      if (pa.nextHop.kind === 'address') {
        // No IPv4 or IPv4-mapped next hop for an IPv6 prefix: the receiver would
        // install a route through an address it cannot reach over IPv6.
        if (pa.nextHop.afi === Afi.IPv4) return fail(`IPv6 prefix with IPv4 next hop ${pa.nextHop.text}; an IPv6 next hop is required`);
        return v6ok(pa.nextHop.bytes, `next hop ${pa.nextHop.text}`);
      }
      if (local.v6 === null) {
        return fail(`next hop self: ${local.v6Problem ?? 'the session has no local IPv6 address'}; an IPv6 prefix needs an IPv6 next hop and is never sent with an IPv4-mapped one`);
      }
      return { ok: true, value: { carrier: 'mp', bytes: local.v6 } };
    }
    // IPv4 prefix.
    const viaV6 = (bytes: Uint8Array, what: string): Checked<{ carrier: NlriCarrier; bytes: Uint8Array }> => {
      // RFC 8950 §4: an IPv6 next hop for IPv4 NLRI only if the peer advertised
      // the Extended Next Hop capability for IPv4 unicast.
      if (peer.extendedNextHopV4overV6 !== true) return fail(`${what} is IPv6 and RFC 8950 extended next hop was not negotiated`);
      return v6ok(bytes, what);
    };
    if (pa.nextHop.kind === 'address') {
      const b = pa.nextHop.bytes;
      if (pa.nextHop.afi === Afi.IPv4) {
        if (isUnspecified(b)) return fail(`next hop ${pa.nextHop.text} is the unspecified address`);
        return { ok: true, value: { carrier: 'body', bytes: b } };
      }
      if (isMapped(b)) return { ok: true, value: { carrier: 'body', bytes: b.slice(12) } };
      return viaV6(b, `next hop ${pa.nextHop.text}`);
    }
    if (local.v4 !== null) return { ok: true, value: { carrier: 'body', bytes: local.v4 } };
    if (local.v6 !== null) return viaV6(local.v6, `next hop self (${formatIPv6(local.v6)})`);
    return fail('next hop self: the session has neither an IPv4 nor a usable IPv6 local address');
  }
}

/** Validate and export one spec for one peer (convenience for tests and `routes explain`). */
export function exportRoute(
  spec: RouteSpec,
  peer: PeerExportContext | Exporter,
  parser: RouteParser = new RouteParser(),
): Checked<{ prefix: RoutePrefix; attrs: AttrSet }> {
  const p = parseRoutePrefix(spec.prefix);
  if (!p.ok) return p;
  const a = parser.attrs(spec);
  if (!a.ok) return a;
  const ex = peer instanceof Exporter ? peer : new Exporter(peer);
  const r = ex.export(a.value, p.value.afi);
  if (!r.ok) return r;
  return { ok: true, value: { prefix: p.value, attrs: r.value } };
}
