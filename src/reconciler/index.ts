/**
 * The reconciler: from route sources' full snapshots to each peer's desired set.
 *
 * Level-triggered (STYLE.md §9): every source hands a complete snapshot of
 * what it wants announced (`Intent[]`), never deltas. `reconcile()` merges
 * all snapshots, applies per-peer family and peer filters, and hands each
 * peer its full desired set — but only when that set differs from the one it
 * handed last time, so a health check that keeps passing costs a string
 * comparison and sends nothing (the ExaBGP complaint: one UPDATE per check).
 *
 * Merging when several sources want the same prefix: the least degraded
 * intent wins (a healthy service beats one that stays announced as a backup
 * path); intents of the same rank merge their communities and large
 * communities (union) and take the lowest MED. Each output route keeps the
 * names of the sources that wanted it, for `routes explain`.
 */
import type { RouteSpec } from '../../bgp/index.js';

/** One prefix a source wants announced, with its attributes. */
export interface Intent {
  prefix: string;
  /** Who wants it, e.g. "service:dns" or "static". */
  source: string;
  /** 0 = normal; higher = announced only as a worse path (when_down: prepend). */
  rank: number;
  nextHop: string;
  med?: number;
  prepend?: number;
  communities: readonly string[];
  largeCommunities: readonly string[];
  extendedCommunities: readonly string[];
  /** Restrict to these peer names; null = every peer carrying the family. */
  peers: readonly string[] | null;
}

/** What the reconciler needs to know of a peer. */
export interface PeerView {
  name: string;
  families: readonly ('ipv4' | 'ipv6')[];
}

/** A route in a peer's desired set, with where it came from. */
export interface PlannedRoute {
  spec: RouteSpec;
  sources: string[];
}

/** Why a wanted prefix is not in a peer's set. */
export interface Exclusion {
  prefix: string;
  peer: string;
  reason: string;
}

export interface Plan {
  perPeer: Map<string, PlannedRoute[]>;
  excluded: Exclusion[];
}

const isV6 = (prefix: string): boolean => prefix.includes(':');

/** Merge intents into one route per prefix (pure). */
export function mergeIntents(intents: Iterable<Intent>): Map<string, { intent: Intent; sources: string[] }> {
  const out = new Map<string, { intent: Intent; sources: string[] }>();
  for (const it of intents) {
    const cur = out.get(it.prefix);
    if (!cur || it.rank < cur.intent.rank) {
      out.set(it.prefix, { intent: { ...it }, sources: [it.source] });
      continue;
    }
    if (it.rank > cur.intent.rank) continue;
    const m = cur.intent;
    cur.sources.push(it.source);
    m.communities = union(m.communities, it.communities);
    m.largeCommunities = union(m.largeCommunities, it.largeCommunities);
    m.extendedCommunities = union(m.extendedCommunities, it.extendedCommunities);
    if (it.med !== undefined && (m.med === undefined || it.med < m.med)) m.med = it.med;
    if (it.peers === null || m.peers === null) m.peers = null;
    else m.peers = union(m.peers, it.peers);
  }
  return out;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return [...a];
  return [...new Set([...a, ...b])];
}

/** Build each peer's desired set from merged intents (pure). */
export function plan(intents: Iterable<Intent>, peers: readonly PeerView[]): Plan {
  const merged = mergeIntents(intents);
  const perPeer = new Map<string, PlannedRoute[]>();
  const excluded: Exclusion[] = [];
  for (const p of peers) perPeer.set(p.name, []);
  for (const [prefix, { intent, sources }] of merged) {
    const fam = isV6(prefix) ? 'ipv6' : 'ipv4';
    const spec: RouteSpec = {
      prefix,
      nextHop: intent.nextHop,
      ...(intent.med !== undefined ? { med: intent.med } : {}),
      ...(intent.prepend ? { prepend: intent.prepend } : {}),
      ...(intent.communities.length ? { communities: [...intent.communities].sort() } : {}),
      ...(intent.largeCommunities.length ? { largeCommunities: [...intent.largeCommunities].sort() } : {}),
      ...(intent.extendedCommunities.length ? { extendedCommunities: [...intent.extendedCommunities].sort() } : {}),
    };
    for (const p of peers) {
      if (intent.peers !== null && !intent.peers.includes(p.name)) {
        excluded.push({ prefix, peer: p.name, reason: `peer filter: only announced to ${intent.peers.join(', ')}` });
        continue;
      }
      if (!p.families.includes(fam)) {
        excluded.push({ prefix, peer: p.name, reason: `peer does not carry ${fam}` });
        continue;
      }
      perPeer.get(p.name)!.push({ spec, sources });
    }
  }
  return { perPeer, excluded };
}

/** Where the reconciler hands each peer its set (the BGP speaker). */
export interface RouteSink {
  setRoutes(peer: string, routes: RouteSpec[]): void;
}

/**
 * Holds the sources' latest snapshots and pushes changed per-peer sets to
 * the sink. Cheap when nothing changed: one fingerprint comparison per peer.
 */
export class Reconciler {
  private readonly snapshots = new Map<string, readonly Intent[]>();
  private last = new Map<string, string>();
  private lastPlan: Plan = { perPeer: new Map(), excluded: [] };
  private peers: PeerView[] = [];
  /** Reconcile runs that changed at least one peer's set. */
  changes = 0;
  runs = 0;
  lastDurationMs = 0;

  constructor(private readonly sink: RouteSink) {}

  /** Replace one source's full snapshot. */
  setSnapshot(source: string, intents: readonly Intent[]): void {
    this.snapshots.set(source, intents);
  }

  /** Drop a source altogether. */
  removeSource(source: string): void {
    this.snapshots.delete(source);
  }

  /** Set the peers (after a reload); forgets sets of removed peers. */
  setPeers(peers: PeerView[]): void {
    this.peers = peers;
    const names = new Set(peers.map((p) => p.name));
    for (const k of this.last.keys()) if (!names.has(k)) this.last.delete(k);
  }

  /** Merge, plan, and hand changed sets to the sink; returns the peers that changed. */
  reconcile(): string[] {
    const t0 = performance.now();
    this.runs++;
    const all: Intent[] = [];
    for (const s of this.snapshots.values()) for (const i of s) all.push(i);
    const p = plan(all, this.peers);
    this.lastPlan = p;
    const changed: string[] = [];
    for (const [peer, routes] of p.perPeer) {
      const fp = fingerprint(routes);
      if (this.last.get(peer) === fp) continue;
      this.last.set(peer, fp);
      this.sink.setRoutes(
        peer,
        routes.map((r) => r.spec),
      );
      changed.push(peer);
    }
    if (changed.length) this.changes++;
    this.lastDurationMs = performance.now() - t0;
    return changed;
  }

  /** Forget what was handed to a peer so the next reconcile hands it again. */
  invalidate(peer: string): void {
    this.last.delete(peer);
  }

  /** The latest plan, for the control API and `routes explain`. */
  get current(): Plan {
    return this.lastPlan;
  }

  /** Every intent currently held, by source. */
  intents(): Intent[] {
    return [...this.snapshots.values()].flat();
  }
}

function fingerprint(routes: readonly PlannedRoute[]): string {
  const parts = routes.map((r) => JSON.stringify(r.spec));
  parts.sort();
  return parts.join('\n');
}
