/**
 * The Adj-RIB-In of one peer: the routes it sent us, unprocessed (RFC 4271
 * §3.2, §9), with RFC 7606 treat-as-withdraw, RFC 7911 path identifiers and
 * the RFC 4486 maximum-prefix check.
 *
 * herald originates routes and uses none it learns, so the RIB-In is for
 * looking at (`routes received`), and `importNothing` (the daemon's default,
 * `import: none`) keeps only the prefix keys: counts and the prefix limit
 * stay exact while the attributes, most of the memory, are dropped.
 *
 * Limits (issue 12: one peer's UPDATEs with 16,340-ASN AS_PATHs cost ~180 KB
 * of heap a route and ran herald out of memory). The RIB-In never holds more
 * than its limits allow, whatever the driver then does about it:
 *   maxAsPath, maxAttrBytes  a route whose AS_PATH has more AS numbers, or
 *                            whose attributes are estimated bigger, is not
 *                            stored: its prefix is withdrawn (a stale older
 *                            version must not stay) and counted as rejected;
 *   maxPrefixes, maxBytes    a new prefix that would pass the count, or the
 *                            estimated bytes, is not stored (rejected); a
 *                            replacement or withdrawal of a held one is.
 * `limit` in the result names the first limit hit by the UPDATE, so the
 * driver can apply the peer's action (block, restart, disable).
 * The byte figure is an estimate of the V8 heap the entries hold (measured:
 * ~90 bytes a key-only entry, ~11 bytes an AS number of a stored path), not
 * an exact count; `bytes` reports it.
 *
 * One decoded UpdateMessage is applied at a time:
 *   withdrawn  = Withdrawn Routes (IPv4) + MP_UNREACH_NLRI
 *   announced  = body NLRI (IPv4, NEXT_HOP) + MP_REACH_NLRI (its next hops)
 * and when the decoder recorded an error whose action is treat-as-withdraw,
 * every prefix of the message counts as withdrawn (RFC 7606 §2).
 * Only unicast SAFI is kept; NLRI of other SAFIs are counted as ignored.
 *
 * Enhanced Route Refresh (RFC 7313 §4): `beginRefresh(afi)` on the peer's
 * BoRR marks every route of the family stale; a route announced or withdrawn
 * afterwards is no longer stale; `endRefresh(afi)` on the EoRR purges the
 * routes still stale, the ones the peer did not re-advertise. Only unicast
 * is stored, so only unicast families have anything to mark.
 *
 * Memory: a full table is a million routes, so a route costs one key string
 * and one Map entry. What the prefixes of one UPDATE share (family, next hops,
 * attributes) is one object referenced by all of them; the `ReceivedRoute`
 * view is built when someone asks (`get`, iteration).
 */
import { Afi, Safi } from '../wire/iana.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefix, type Nlri, type Prefix } from '../wire/prefix.js';
import type { PathAttributes, UpdateMessage } from '../wire/types.js';

/** A route as received; `attrs` is shared by every prefix of the UPDATE that carried it. */
export interface ReceivedRoute {
  /** Canonical prefix text. */
  readonly prefix: string;
  readonly afi: Afi;
  /** RFC 7911 path identifier, when ADD-PATH receive is negotiated for the family. */
  readonly pathId: number | undefined;
  /** Next hop(s): NEXT_HOP for body NLRI, MP_REACH next hops otherwise. */
  readonly nextHops: readonly string[];
  /** Path attributes without MP_REACH_NLRI / MP_UNREACH_NLRI. */
  readonly attrs: Readonly<PathAttributes>;
}

export interface AdjRibInOptions {
  /** Keep prefix keys only (no attributes): counts and the limits still work. */
  importNothing?: boolean;
  /** RFC 4486: hold at most this many prefixes; one more is a `max-prefixes` limit hit. */
  maxPrefixes?: number;
  /** Warn once when the count rises above this (no action). */
  warnPrefixes?: number;
  /** Hold at most this many bytes (estimate); more is a `max-bytes` limit hit. */
  maxBytes?: number;
  /** Store no route whose AS_PATH holds more AS numbers than this (`as-path` limit hit). */
  maxAsPath?: number;
  /** Store no route whose attributes are estimated bigger than this (`attribute-bytes` limit hit). */
  maxAttrBytes?: number;
}

/** Which limit an UPDATE ran into. */
export type ReceiveLimit = 'max-prefixes' | 'max-bytes' | 'as-path' | 'attribute-bytes';

/** What applying one UPDATE did. */
export interface ApplyResult {
  announced: number;
  withdrawn: number;
  /** NLRI of a SAFI other than unicast, not stored. */
  ignored: number;
  /** RFC 7606: the UPDATE's NLRI were all handled as withdrawals. */
  treatAsWithdraw: boolean;
  /** Some announced route was not stored because of a limit (`limit` says which, first one hit). */
  limitExceeded: boolean;
  limit: ReceiveLimit | null;
  /** Announced routes not stored because of a limit. */
  rejected: number;
  /** Announced routes ignored because their next hop is one of our addresses (RFC 4271 §6.3). */
  ownNextHop: number;
  /** The count rose above `warnPrefixes` with this UPDATE (reported once per crossing). */
  warning: boolean;
  /** Prefixes held after this UPDATE. */
  count: number;
}

/** Stored in place of a route under `importNothing`. */
const KEPT_KEY_ONLY = null;

/** What every prefix of one UPDATE of one family shares. */
interface Shared {
  readonly afi: Afi;
  readonly nextHops: readonly string[];
  readonly attrs: Readonly<PathAttributes>;
  /** Estimated heap bytes of this object, counted once while any prefix holds it. */
  readonly bytes: number;
  /** Prefixes holding it. */
  refs: number;
}

/** Estimated heap bytes of a key-only entry: a Map entry and a short string (measured ~90 for "a.b.c.d/nn"). */
const keyBytes = (key: string): number => 64 + 2 * key.length;

/** Number of AS numbers in an AS_PATH. */
function asPathLength(a: Readonly<PathAttributes>): number {
  let n = 0;
  for (const seg of a.asPath ?? []) n += seg.asns.length;
  return n;
}

/**
 * Estimate the heap an attribute set takes once decoded (V8, 64-bit, no
 * pointer compression): ~300 bytes of objects, 11 per AS number, 12 per
 * community, 48 per extended or large community, 40 per address string, the
 * value of every unknown attribute. Measured on Node 20; a bound, not a count.
 */
export function attributeBytes(a: Readonly<PathAttributes>, nextHops: readonly string[]): number {
  let n = 300 + 40 * nextHops.length + 11 * asPathLength(a) + 24 * (a.asPath?.length ?? 0);
  n += 12 * (a.communities?.length ?? 0) + 48 * (a.extendedCommunities?.length ?? 0) + 48 * (a.largeCommunities?.length ?? 0);
  n += 40 * (a.clusterList?.length ?? 0);
  for (const s of a.as4Path ?? []) n += 24 + 11 * s.asns.length;
  for (const u of a.unknown ?? []) n += 64 + u.value.length;
  return n;
}

/** Canonical text of an address (any spelling in), for comparing next hops with our own addresses. */
function canonical(a: string): string {
  const p = parseAddress(a);
  return p === null ? a : formatAddress(p.afi, p.addr);
}

/** Return the RIB-In key of a prefix and optional path id: canonical text, "#id" with ADD-PATH. */
function keyOf(p: Prefix, pathId: number | undefined): string {
  const t = formatPrefix(p);
  return pathId === undefined ? t : `${t}#${pathId}`;
}

/** Build the public view of a stored route. */
function view(key: string, s: Shared): ReceivedRoute {
  const hash = key.indexOf('#');
  return hash < 0
    ? { prefix: key, afi: s.afi, pathId: undefined, nextHops: s.nextHops, attrs: s.attrs }
    : { prefix: key.slice(0, hash), afi: s.afi, pathId: Number(key.slice(hash + 1)), nextHops: s.nextHops, attrs: s.attrs };
}

export class AdjRibIn {
  private opts: AdjRibInOptions;
  private readonly routes = new Map<string, Shared | typeof KEPT_KEY_ONLY>();
  private readonly perAfi = new Map<Afi, number>();
  private aboveWarn = false;
  private heldBytes = 0;
  private own = new Set<string>();
  /** Keys marked stale by a BoRR, per family, until re-advertised, withdrawn or purged by the EoRR. */
  private readonly stale = new Map<Afi, Set<string>>();

  constructor(opts: AdjRibInOptions = {}) {
    this.opts = opts;
  }

  /**
   * Change the limits. A new maximum applies from the next UPDATE on; turning
   * importNothing on or off takes effect for routes received from then on
   * (a route refresh from the peer fills in attributes that were not kept).
   */
  setOptions(opts: AdjRibInOptions): void {
    this.opts = opts;
  }

  /** The limits in force. */
  get options(): Readonly<AdjRibInOptions> {
    return this.opts;
  }

  /** Apply one decoded UPDATE. */
  apply(msg: UpdateMessage): ApplyResult {
    const res: ApplyResult = {
      announced: 0,
      withdrawn: 0,
      ignored: 0,
      treatAsWithdraw: false,
      limitExceeded: false,
      limit: null,
      rejected: 0,
      ownNextHop: 0,
      warning: false,
      count: 0,
    };
    // RFC 7606 §2: "treat-as-withdraw: In this approach, the UPDATE message
    // containing the path attribute in question MUST be treated as though all
    // contained routes had been withdrawn just as if they had been listed in
    // the WITHDRAWN ROUTES field (or in the MP_UNREACH_NLRI attribute if
    // appropriate) of the UPDATE message".
    const taw = msg.errors?.some((e) => e.action === 'treat-as-withdraw') ?? false;
    res.treatAsWithdraw = taw;
    const a = msg.attributes;

    for (const n of msg.withdrawn) this.withdraw(n, res);
    if (a.mpUnreach !== undefined) {
      if (a.mpUnreach.safi === Safi.Unicast) for (const n of a.mpUnreach.nlri) this.withdraw(n, res);
      else res.ignored += a.mpUnreach.nlri.length;
    }

    const mp = a.mpReach;
    // A route over a per-route limit is not stored; its prefix is withdrawn
    // like a treat-as-withdraw one, so an older version does not linger.
    const routeLimit = taw ? null : this.routeLimit(a, mp?.nextHops ?? []);
    if (taw || routeLimit !== null) {
      const before = res.withdrawn;
      for (const n of msg.nlri) this.withdraw(n, res);
      if (mp !== undefined) {
        if (mp.safi === Safi.Unicast) for (const n of mp.nlri) this.withdraw(n, res);
        else res.ignored += mp.nlri.length;
      }
      if (routeLimit !== null) {
        res.rejected += res.withdrawn - before;
        res.withdrawn = before;
        if (res.rejected > 0) this.hit(res, routeLimit);
      }
    } else {
      let base: PathAttributes | null = null;
      const rest = (): PathAttributes => {
        if (base === null) {
          const { mpReach: _r, mpUnreach: _u, ...others } = a;
          base = others;
        }
        return base;
      };
      const keep = !this.opts.importNothing;
      if (msg.nlri.length > 0) {
        const nh = a.nextHop !== undefined ? [a.nextHop] : [];
        if (this.isOwn(nh)) this.ignoreOwn(msg.nlri, res);
        else {
          const shared = keep ? this.shared(Afi.IPv4, nh, rest()) : KEPT_KEY_ONLY;
          for (const n of msg.nlri) this.announce(n, shared, res);
        }
      }
      if (mp !== undefined) {
        if (mp.safi !== Safi.Unicast) res.ignored += mp.nlri.length;
        else if (this.isOwn(mp.nextHops)) this.ignoreOwn(mp.nlri, res);
        else {
          const shared = keep ? this.shared(mp.afi, mp.nextHops, rest()) : KEPT_KEY_ONLY;
          for (const n of mp.nlri) this.announce(n, shared, res);
        }
      }
    }

    const count = this.routes.size;
    res.count = count;
    if (this.opts.warnPrefixes !== undefined) {
      const above = count > this.opts.warnPrefixes;
      res.warning = above && !this.aboveWarn;
      this.aboveWarn = above;
    }
    return res;
  }

  /**
   * RFC 4271 §6.3: the NEXT_HOP is semantically incorrect when it is "the IP
   * address of the receiving speaker"; then "the error SHALL be logged, and
   * the route SHOULD be ignored. In this case, a NOTIFICATION message SHOULD
   * NOT be sent". Ignoring it withdraws any older version (treat-as-withdraw,
   * decision 0005); the driver logs from `ownNextHop`.
   */
  private isOwn(nextHops: readonly string[]): boolean {
    return this.own.size > 0 && nextHops.length > 0 && this.own.has(canonical(nextHops[0]!));
  }

  private ignoreOwn(nlri: readonly Nlri[], res: ApplyResult): void {
    const before = res.withdrawn;
    for (const n of nlri) this.withdraw(n, res);
    res.ownNextHop += res.withdrawn - before;
    res.withdrawn = before;
  }

  /** Our own addresses on this session (the driver sets them on Established); routes with one as next hop are ignored. */
  setLocalAddresses(addrs: readonly string[]): void {
    this.own = new Set(addrs.map(canonical));
  }

  private shared(afi: Afi, nextHops: readonly string[], attrs: PathAttributes): Shared {
    return { afi, nextHops, attrs, bytes: attributeBytes(attrs, nextHops), refs: 0 };
  }

  /** The per-route limit these attributes break, if any. */
  private routeLimit(a: Readonly<PathAttributes>, mpNextHops: readonly string[]): ReceiveLimit | null {
    const o = this.opts;
    if (o.maxAsPath !== undefined && asPathLength(a) > o.maxAsPath) return 'as-path';
    if (o.maxAttrBytes !== undefined && attributeBytes(a, mpNextHops) > o.maxAttrBytes) return 'attribute-bytes';
    return null;
  }

  private hit(res: ApplyResult, limit: ReceiveLimit): void {
    res.limitExceeded = true;
    if (res.limit === null) res.limit = limit;
  }

  private announce(n: Nlri, shared: Shared | null, res: ApplyResult): void {
    const key = keyOf(n.prefix, n.pathId);
    const old = this.routes.get(key);
    const isNew = old === undefined && !this.routes.has(key);
    const o = this.opts;
    if (isNew && o.maxPrefixes !== undefined && this.routes.size >= o.maxPrefixes) {
      res.rejected++;
      this.hit(res, 'max-prefixes');
      return;
    }
    const add = (isNew ? keyBytes(key) : 0) + (shared !== null && shared.refs === 0 && shared !== old ? shared.bytes : 0);
    const free = old != null && old !== shared && old.refs === 1 ? old.bytes : 0;
    if (o.maxBytes !== undefined && add - free > 0 && this.heldBytes + add - free > o.maxBytes) {
      res.rejected++;
      this.hit(res, 'max-bytes');
      return;
    }
    if (this.stale.size !== 0) this.stale.get(n.prefix.afi)?.delete(key);
    if (old != null) old.refs--;
    if (shared !== null) shared.refs++;
    this.heldBytes += add - free;
    this.routes.set(key, shared);
    if (isNew) this.perAfi.set(n.prefix.afi, (this.perAfi.get(n.prefix.afi) ?? 0) + 1);
    res.announced++;
  }

  private withdraw(n: Nlri, res: ApplyResult): void {
    const key = keyOf(n.prefix, n.pathId);
    if (this.stale.size !== 0) this.stale.get(n.prefix.afi)?.delete(key);
    if (this.remove(key)) this.perAfi.set(n.prefix.afi, (this.perAfi.get(n.prefix.afi) ?? 1) - 1);
    res.withdrawn++;
  }

  /** Delete a key, releasing its bytes; true when it was held. */
  private remove(key: string): boolean {
    const old = this.routes.get(key);
    if (old === undefined && !this.routes.has(key)) return false;
    this.routes.delete(key);
    this.heldBytes -= keyBytes(key);
    if (old != null && --old.refs === 0) this.heldBytes -= old.bytes;
    return true;
  }

  /** Look up a received route by prefix text (any spelling) and path id; null under importNothing. */
  get(prefix: string | Prefix, pathId?: number): ReceivedRoute | undefined {
    const p = typeof prefix === 'string' ? parsePrefix(prefix, { strict: false }) : prefix;
    if (p === null) return undefined;
    const key = keyOf(p, pathId);
    const s = this.routes.get(key);
    return s == null ? undefined : view(key, s);
  }

  /** True when the prefix (and path id) is held, also under importNothing. */
  has(prefix: string | Prefix, pathId?: number): boolean {
    const p = typeof prefix === 'string' ? parsePrefix(prefix, { strict: false }) : prefix;
    return p !== null && this.routes.has(keyOf(p, pathId));
  }

  /** Iterate the stored routes (nothing under importNothing). */
  *[Symbol.iterator](): IterableIterator<ReceivedRoute> {
    for (const [key, s] of this.routes) if (s !== null) yield view(key, s);
  }

  /** Prefixes held (with ADD-PATH: paths held). */
  get count(): number {
    return this.routes.size;
  }

  /** Estimated heap bytes held: keys, and attribute sets while a prefix holds them. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Prefixes held for one address family. */
  countFor(afi: Afi): number {
    return this.perAfi.get(afi) ?? 0;
  }

  /**
   * The peer's BoRR for a family (RFC 7313 §4): "the receiving speaker MUST
   * mark all the routes with the given <AFI, SAFI> from the peer as stale".
   * Only unicast is stored; a BoRR for another SAFI marks nothing. A second
   * BoRR before the EoRR marks the family afresh.
   */
  beginRefresh(afi: number, safi: number): void {
    if (safi !== Safi.Unicast || (afi !== Afi.IPv4 && afi !== Afi.IPv6)) return;
    const marked = new Set<string>();
    const v6 = afi === Afi.IPv6;
    // Keys are canonical prefix text: an IPv6 one holds ':', an IPv4 one never does.
    for (const key of this.routes.keys()) if (key.includes(':') === v6) marked.add(key);
    this.stale.set(afi, marked);
  }

  /**
   * The peer's EoRR for a family (RFC 7313 §4): "the receiving speaker MUST
   * remove all the routes with the given <AFI, SAFI> that are still marked
   * as stale". Returns how many were removed; an EoRR with no BoRR before it
   * removes nothing.
   */
  endRefresh(afi: number, safi: number): number {
    if (safi !== Safi.Unicast) return 0;
    const marked = this.stale.get(afi as Afi);
    if (marked === undefined) return 0;
    this.stale.delete(afi as Afi);
    let n = 0;
    for (const key of marked) if (this.remove(key)) n++;
    if (n > 0) this.perAfi.set(afi as Afi, (this.perAfi.get(afi as Afi) ?? n) - n);
    return n;
  }

  /** True between the peer's BoRR and EoRR for a family. */
  refreshing(afi: number): boolean {
    return this.stale.has(afi as Afi);
  }

  /** Forget everything (session down: RFC 4271 §8 deletes routes learned on the session). */
  clear(): void {
    this.routes.clear();
    this.perAfi.clear();
    this.stale.clear();
    this.aboveWarn = false;
    this.heldBytes = 0;
  }
}
