/**
 * The reconciler: from route sources' full snapshots to each peer's desired set.
 *
 * Level-triggered (STYLE.md §9): every source hands a complete snapshot of
 * what it wants announced (`Intent[]`), never deltas. `reconcile()` merges
 * all snapshots, applies per-peer family and peer filters, and hands each
 * peer its full desired set — but only when that set differs from the one it
 * handed last time, so a health check that keeps passing costs one pass over
 * the prefixes and sends nothing (the ExaBGP complaint: one UPDATE per check).
 *
 * Merging when several sources want the same prefix: the least degraded
 * intent wins (a healthy service beats one that stays announced as a backup
 * path); intents of the same rank merge their communities and large
 * communities (union) and take the lowest MED. Each output route keeps the
 * names of the sources that wanted it, for `routes explain`.
 *
 * A peer's set is a list of route groups (bgp/rib/route.ts `RouteGroup`, as
 * BIRD buckets its outgoing routes by attribute set): the prefixes whose
 * attributes are identical share one attrs object and one prefixes array, so
 * a million routes cost a million strings in arrays, not a million objects
 * (docs/decisions/0019). The attrs key is built once per distinct attribute
 * set met in a run of intents, not once per prefix. Whether a peer's set
 * changed is decided exactly: same group keys, and each group's prefixes
 * equal, in order, to the ones handed last time. A source that reorders an
 * unchanged snapshot costs one more hand-off (the Adj-RIB-Out's own diff
 * then sends nothing), never a missed change.
 */
import type { RouteAttrs, RouteGroup, RouteSpec } from '../../bgp/index.js';

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

/** The prefixes of one peer's set that share one attribute set, with who wants each. */
export interface PlannedGroup extends RouteGroup {
  /** Exact text of the attributes (equal keys ⇔ equal attrs). */
  readonly key: string;
  readonly attrs: RouteAttrs;
  readonly prefixes: string[];
  /** `sources[i]` names the sources that want `prefixes[i]` (arrays shared between routes: read only). */
  readonly sources: (readonly string[])[];
}

/** One route of a peer's set, spelled out (see `expandGroups`). */
export interface PlannedRoute {
  spec: RouteSpec;
  sources: readonly string[];
}

/** Prefixes left out of one peer's set for one reason. */
export interface ExcludedGroup {
  peer: string;
  reason: string;
  prefixes: string[];
}

/** Why a wanted prefix is not in a peer's set (one row of an ExcludedGroup). */
export interface Exclusion {
  prefix: string;
  peer: string;
  reason: string;
}

export interface Plan {
  /** Each peer's desired set, in peer order. */
  perPeer: Map<string, PlannedGroup[]>;
  excluded: ExcludedGroup[];
}

const isV6 = (prefix: string): boolean => prefix.includes(':');

/** Several same-rank intents for one prefix, merged (a copy; the sources' intents stay untouched). */
class Merged {
  constructor(
    readonly intent: Intent,
    readonly sources: string[],
  ) {}
}

/**
 * Merge intents by prefix. A prefix wanted once maps to its own intent (no
 * copy, no allocation per prefix); only contested prefixes get a `Merged`.
 * Map order is the order prefixes first appear.
 */
function mergeLists(lists: readonly (readonly Intent[])[]): Map<string, Intent | Merged> {
  const out = new Map<string, Intent | Merged>();
  for (const list of lists) {
    for (let k = 0; k < list.length; k++) {
      const it = list[k]!;
      const cur = out.get(it.prefix);
      if (cur === undefined) {
        out.set(it.prefix, it);
        continue;
      }
      const curIntent = cur instanceof Merged ? cur.intent : cur;
      if (it.rank < curIntent.rank) {
        out.set(it.prefix, it);
        continue;
      }
      if (it.rank > curIntent.rank) continue;
      let m: Merged;
      if (cur instanceof Merged) m = cur;
      else {
        m = new Merged({ ...cur }, [cur.source]);
        out.set(it.prefix, m);
      }
      const mi = m.intent;
      m.sources.push(it.source);
      mi.communities = union(mi.communities, it.communities);
      mi.largeCommunities = union(mi.largeCommunities, it.largeCommunities);
      mi.extendedCommunities = union(mi.extendedCommunities, it.extendedCommunities);
      if (it.med !== undefined && (mi.med === undefined || it.med < mi.med)) mi.med = it.med;
      if (it.peers === null || mi.peers === null) mi.peers = null;
      else mi.peers = union(mi.peers, it.peers);
    }
  }
  return out;
}

/** Merge intents into one route per prefix (pure). */
export function mergeIntents(intents: Iterable<Intent>): Map<string, { intent: Intent; sources: string[] }> {
  const out = new Map<string, { intent: Intent; sources: string[] }>();
  for (const [prefix, v] of mergeLists([[...intents]])) {
    out.set(prefix, v instanceof Merged ? { intent: v.intent, sources: v.sources } : { intent: { ...v }, sources: [v.source] });
  }
  return out;
}

function union(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return [...a];
  return [...new Set([...a, ...b])];
}

/** String lists as attrs-key text, cached by array identity (sources share their arrays). */
class ListTexts {
  private readonly sortedCache = new WeakMap<readonly string[], { sorted: string[]; json: string }>();
  private readonly asIsCache = new WeakMap<readonly string[], string>();
  private static readonly EMPTY = { sorted: [] as string[], json: '[]' };

  /** The list sorted, and that as JSON (communities: their order does not matter). */
  sorted(a: readonly string[]): { sorted: string[]; json: string } {
    if (a.length === 0) return ListTexts.EMPTY;
    let t = this.sortedCache.get(a);
    if (t === undefined) {
      const sorted = [...a].sort();
      t = { sorted, json: JSON.stringify(sorted) };
      this.sortedCache.set(a, t);
    }
    return t;
  }

  /** The list as given, as JSON (a peer filter: its order shows in the exclusion reason). */
  asIs(a: readonly string[]): string {
    let t = this.asIsCache.get(a);
    if (t === undefined) {
      t = JSON.stringify(a);
      this.asIsCache.set(a, t);
    }
    return t;
  }
}

/** Where the prefixes of one (attribute set, family, peer filter) go, peer by peer. */
interface Target {
  /** The peer's group for this attribute set, or null when excluded. */
  readonly groups: (PlannedGroup | null)[];
  /** Where an excluded prefix is listed, or null when carried. */
  readonly excluded: (ExcludedGroup | null)[];
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a === b || (a.length === 0 && b.length === 0);

/** Build each peer's desired set, as route groups, from the sources' intent lists (pure). */
export function planLists(lists: readonly (readonly Intent[])[], peers: readonly PeerView[]): Plan {
  const merged = mergeLists(lists);
  const texts = new ListTexts();
  const perPeer = new Map<string, PlannedGroup[]>();
  const groupsByKey = peers.map(() => new Map<string, PlannedGroup>());
  const excludedByKey = new Map<string, ExcludedGroup>();
  const excluded: ExcludedGroup[] = [];
  for (const p of peers) perPeer.set(p.name, []);
  const targets = new Map<string, Target>();
  const singleSources = new Map<string, readonly string[]>();

  const exclusion = (peer: string, reason: string): ExcludedGroup => {
    const k = `${peer}\n${reason}`;
    let e = excludedByKey.get(k);
    if (e === undefined) {
      e = { peer, reason, prefixes: [] };
      excludedByKey.set(k, e);
      excluded.push(e);
    }
    return e;
  };

  /** The target for an intent's attributes in one family; builds the attrs key only on a cache miss. */
  const targetOf = (intent: Intent, fam: 'ipv4' | 'ipv6'): Target => {
    const c = texts.sorted(intent.communities);
    const l = texts.sorted(intent.largeCommunities);
    const x = texts.sorted(intent.extendedCommunities);
    const attrsKey = `[${JSON.stringify(intent.nextHop)},${intent.med ?? null},${intent.prepend || 0},${c.json},${l.json},${x.json}]`;
    const peersKey = intent.peers === null ? 'null' : texts.asIs(intent.peers);
    const tk = `${fam} ${peersKey} ${attrsKey}`;
    let t = targets.get(tk);
    if (t !== undefined) return t;
    const attrs: RouteAttrs = {
      nextHop: intent.nextHop,
      ...(intent.med !== undefined ? { med: intent.med } : {}),
      ...(intent.prepend ? { prepend: intent.prepend } : {}),
      ...(c.sorted.length ? { communities: [...c.sorted] } : {}),
      ...(l.sorted.length ? { largeCommunities: [...l.sorted] } : {}),
      ...(x.sorted.length ? { extendedCommunities: [...x.sorted] } : {}),
    };
    t = { groups: [], excluded: [] };
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i]!;
      let why: string | null = null;
      if (intent.peers !== null && !intent.peers.includes(p.name)) why = `peer filter: only announced to ${intent.peers.join(', ')}`;
      else if (!p.families.includes(fam)) why = `peer does not carry ${fam}`;
      if (why !== null) {
        t.groups.push(null);
        t.excluded.push(exclusion(p.name, why));
        continue;
      }
      let g = groupsByKey[i]!.get(attrsKey);
      if (g === undefined) {
        g = { key: attrsKey, attrs, prefixes: [], sources: [] };
        groupsByKey[i]!.set(attrsKey, g);
        perPeer.get(p.name)!.push(g);
      }
      t.groups.push(g);
      t.excluded.push(null);
    }
    targets.set(tk, t);
    return t;
  };

  // A one-entry cache: consecutive intents of one service or network share their fields.
  let lastIntent: Intent | null = null;
  let lastFam: 'ipv4' | 'ipv6' = 'ipv4';
  let lastTarget: Target | null = null;
  let lastSource = '';
  let lastSources: readonly string[] = [];
  const n = peers.length;
  for (const [prefix, v] of merged) {
    const intent = v instanceof Merged ? v.intent : v;
    let sources: readonly string[];
    if (v instanceof Merged) sources = v.sources;
    else if (v.source === lastSource && lastSources.length) sources = lastSources;
    else {
      let s = singleSources.get(v.source);
      if (s === undefined) singleSources.set(v.source, (s = [v.source]));
      lastSource = v.source;
      lastSources = s;
      sources = s;
    }
    const fam = isV6(prefix) ? 'ipv6' : 'ipv4';
    let t: Target;
    if (
      lastTarget !== null &&
      lastIntent !== null &&
      fam === lastFam &&
      intent.nextHop === lastIntent.nextHop &&
      intent.med === lastIntent.med &&
      (intent.prepend || 0) === (lastIntent.prepend || 0) &&
      sameList(intent.communities, lastIntent.communities) &&
      sameList(intent.largeCommunities, lastIntent.largeCommunities) &&
      sameList(intent.extendedCommunities, lastIntent.extendedCommunities) &&
      intent.peers === lastIntent.peers
    ) {
      t = lastTarget;
    } else {
      t = targetOf(intent, fam);
      lastTarget = t;
      lastIntent = intent;
      lastFam = fam;
    }
    for (let i = 0; i < n; i++) {
      const g = t.groups[i];
      if (g) {
        g.prefixes.push(prefix);
        g.sources.push(sources);
      } else t.excluded[i]!.prefixes.push(prefix);
    }
  }
  return { perPeer, excluded };
}

/** Build each peer's desired set from merged intents (pure). */
export function plan(intents: Iterable<Intent>, peers: readonly PeerView[]): Plan {
  return planLists([Array.isArray(intents) ? (intents as Intent[]) : [...intents]], peers);
}

/** Spell a peer's groups out as one RouteSpec per prefix (for small sets and tests). */
export function expandGroups(groups: readonly PlannedGroup[]): PlannedRoute[] {
  const out: PlannedRoute[] = [];
  for (const g of groups) for (let i = 0; i < g.prefixes.length; i++) out.push({ spec: { prefix: g.prefixes[i]!, ...g.attrs }, sources: g.sources[i]! });
  return out;
}

/** Spell the excluded groups out as one row per prefix and peer (for small sets and tests). */
export function expandExcluded(groups: readonly ExcludedGroup[]): Exclusion[] {
  return groups.flatMap((e) => e.prefixes.map((prefix) => ({ prefix, peer: e.peer, reason: e.reason })));
}

/** Where the reconciler hands each peer its set (the BGP speaker's setRouteGroups). */
export interface RouteSink {
  setRouteGroups(peer: string, groups: RouteGroup[]): void;
}

/** Whether a peer's new groups are exactly the ones handed last time (same keys, same prefixes in order). */
function sameGroups(last: ReadonlyMap<string, readonly string[]> | undefined, groups: readonly PlannedGroup[]): boolean {
  if (last === undefined || last.size !== groups.length) return false;
  for (const g of groups) {
    const before = last.get(g.key);
    if (before === undefined) return false;
    const now = g.prefixes;
    if (before === now) continue;
    if (before.length !== now.length) return false;
    for (let i = 0; i < now.length; i++) if (before[i] !== now[i]) return false;
  }
  return true;
}

/**
 * Holds the sources' latest snapshots and pushes changed per-peer sets to
 * the sink. Cheap when nothing changed: one exact comparison per peer.
 */
export class Reconciler {
  private readonly snapshots = new Map<string, readonly Intent[]>();
  /** Per peer: what was handed last, attrs key → prefixes. */
  private last = new Map<string, Map<string, readonly string[]>>();
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
    const p = planLists([...this.snapshots.values()], this.peers);
    this.lastPlan = p;
    const changed: string[] = [];
    for (const [peer, groups] of p.perPeer) {
      const same = sameGroups(this.last.get(peer), groups);
      // Even when equal: remember the new arrays, so the old snapshot's strings can go.
      this.last.set(peer, new Map(groups.map((g) => [g.key, g.prefixes])));
      if (same) continue;
      this.sink.setRouteGroups(
        peer,
        groups.map((g) => ({ attrs: g.attrs, prefixes: g.prefixes })),
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
