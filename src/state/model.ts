/**
 * The state model's shapes and their builders (STYLE.md §10): the control API
 * serves them, the `routes` CLI prints them as tables or `--json`, and the
 * metrics read them. Everything here is plain JSON-able data with a
 * documented, stable shape (docs/api.md) and no secrets: a peer says whether
 * TCP MD5 is configured, never the key.
 *
 * Built on demand from the daemon's parts (config, session engine,
 * reconciler, health source, drains); nothing is cached, so what the operator
 * sees is what the daemon holds at that moment. Route lists are async
 * generators: a million announced routes are streamed group by group (one
 * request to the session engine per group and peer), never materialised as
 * one array.
 *
 * No RFC: this is herald's own operator-facing model. Route statuses follow
 * the Adj-RIB-Out's view (RFC 4271 §3.2: what was advertised to the peer).
 */
import { STANDING, formatPrefixRecord, nextPrefixRecord, type Engine, type GroupStanding, type PeerSnapshot, type ReceivedRoute, type TimerLateness } from '../../bgp/index.js';
import type { Config, ConfigWarning, ServiceConfig } from '../config/index.js';
import type { OutputGroup, Contribution } from '../reconciler/index.js';
import { serviceGroups, serviceSource, type DrainPhase } from '../sources/intents.js';
import type { CheckReport, ServiceSnapshot } from '../sources/health/types.js';
import type { LxdOrigin, LxdSkipped, LxdSourceState } from '../sources/lxd/index.js';
import { originText } from '../sources/lxd/derive.js';
import { attributeTexts, type AttributeTexts, familyName, familyOf, iso, plain, type Family } from './format.js';

/** Version of the shapes below; bumped only on an incompatible change. */
export const STATE_VERSION = 1;

// ---------------------------------------------------------------- inputs

/** What the model reads of the reconciler (src/reconciler Reconciler fits). */
export interface ReconcilerView {
  outputGroups(): Iterable<OutputGroup>;
  outputFor(prefix: string): OutputGroup | null;
  contributions(prefix: string): Contribution[];
}

/** What the model reads of the daemon (src/daemon.ts Daemon fits). */
export interface StateSource {
  readonly config: Config | null;
  /** The BGP session engine; null before start. Its timer lateness is optional (fakes in tests may lack it). */
  readonly engine: (Pick<Engine, 'snapshot' | 'standing' | 'groupStanding' | 'received' | 'lookupReceived'> & Partial<Pick<Engine, 'lateness'>>) | null;
  readonly reconciler: ReconcilerView;
  readonly health: { snapshot(): Map<string, ServiceSnapshot> } | null;
  readonly reloads: { ok: number; failed: number };
  readonly startedAt: number;
  /** The LXD source when it runs (null: not configured, or it could not start). */
  readonly lxd?: LxdStateSource | null;
  /** Why a configured LXD source could not start (e.g. no socket found). */
  readonly lxdStartError?: string | null;
  /** The config's warnings (src/config/warnings.ts), for explain and the multihop hint. */
  readonly warnings?: readonly ConfigWarning[];
  /** The control API's own counts (event clients); absent when no API runs. */
  readonly apiCounts?: ApiCounts | null;
  drainPhase(service: string): DrainPhase;
}

/** What the model reads of the LXD source (src/sources/lxd/source.ts LxdSource fits). */
export interface LxdStateSource {
  state(): LxdSourceState;
  snapshot(): { readonly intents: readonly { prefix: string; nextHop?: string }[]; readonly origins: readonly LxdOrigin[]; readonly skipped: readonly LxdSkipped[] };
  explain(prefix: string): { announced: { intent: { prefix: string; nextHop?: string }; origin: LxdOrigin }[]; skipped: LxdSkipped[] };
}

// ---------------------------------------------------------------- shapes

/** The control API's own counts (src/api/server.ts `ApiStats` fits): event stream clients. */
export interface ApiCounts {
  /** Clients following GET /v1/events now. */
  eventClients: number;
  /** Most event clients at once; more are answered 503. */
  eventClientsMax: number;
  /** Event clients disconnected because they fell behind (their buffer passed the cap). */
  eventClientsDropped: number;
  /** Event clients refused (503) because eventClientsMax were connected. */
  eventClientsRefused: number;
}

/** GET /v1/summary and `routes`. */
export interface SummaryState {
  version: number;
  asn: number;
  routerId: string;
  configFile: string;
  uptimeMs: number;
  /** `adminDown`: of the `down` ones, those the operator took down (`routes peer NAME down`). */
  peers: { total: number; established: number; down: number; adminDown: number };
  routes: { announced: number; pending: number; received: number };
  services: { total: number; up: number; down: number; maintenance: number; draining: number };
  reloads: { ok: number; failed: number };
  /** The LXD source; null when the config has no `lxd` section. */
  lxd: LxdSummaryState | null;
  /** The control API's event stream counts; null when not known. */
  api: ApiCounts | null;
  /**
   * The session engine thread: how late its timers (BGP keepalive, hold,
   * connect) ran after their deadlines (decision 0034); null before
   * the engine reported, or when it runs on a test clock.
   */
  engine: { timerLateness: TimerLateness | null };
}

/** The LXD source's state, counts only (summary.lxd, and the head of GET /v1/lxd). */
export interface LxdSummaryState {
  /** `not-started`: configured, but the source could not start (`lastError` says why). */
  status: LxdSourceState['status'] | 'not-started';
  /** The last read succeeded. */
  reachable: boolean;
  /** Socket path or URL; never a key. */
  endpoint: string;
  serverName: string | null;
  /** This host as `ovn.chassis` names it (`chassis_name`, else the server name). */
  chassisName: string | null;
  announceFrom: 'all-members' | 'active-chassis';
  clustered: boolean;
  eventsConnected: boolean;
  /** ISO time LXD stopped answering; null while reachable. */
  unreachableSince: string | null;
  /** The last known routes were withdrawn because LXD stayed unreachable longer than unreachable_withdraw_after. */
  withdrawnByLimit: boolean;
  lastReadAt: string | null;
  lastFullReadAt: string | null;
  lastReadMs: number;
  lastError: string | null;
  /** Instances in the last good read. */
  instances: number;
  routes: { derived: number; skipped: number };
  reads: number;
  failedReads: number;
  fullReads: number;
  resyncs: number;
  events: number;
  publishes: number;
}

/** Where an LXD route comes from; absent parts are null. */
export interface LxdOriginState {
  /** The intent's source text, e.g. "lxd:default/c1/eth0:routes.external". */
  source: string;
  project: string;
  rule: string;
  network: string | null;
  instance: string | null;
  device: string | null;
  /** The forward's or load balancer's listen address. */
  listen: string | null;
}

/** One route the LXD source derived (wants announced) or skipped (GET /v1/lxd). */
export interface LxdRouteState {
  prefix: string;
  family: Family;
  state: 'derived' | 'skipped';
  /** The next hop it is announced with ("self" = this host); null when skipped. */
  nextHop: string | null;
  origin: LxdOriginState;
  /** Why it is not announced; null when derived. */
  reason: string | null;
}

/** GET /v1/lxd, `routes lxd`: the source's state, then every route it derived or skipped. */
export interface LxdState {
  source: LxdSummaryState;
  routes: LxdRouteState[];
}

/** One peer (GET /v1/peers, `routes peers`): the speaker's snapshot plus config facts. */
export interface PeerState extends PeerSnapshot {
  established: boolean;
  description: string | null;
}

/** One check's last result. */
export interface CheckState {
  index: number;
  check: string;
  ok: boolean;
  detail: string;
  output: string | null;
  latencyMs: number;
  /** ISO time the result was recorded. */
  at: string;
  adminDown: boolean;
}

/** One service (GET /v1/services, `routes services`). */
export interface ServiceState {
  name: string;
  description: string | null;
  health: 'up' | 'down' | 'maintenance';
  /** ISO time of the last health change (or of start-up). */
  since: string;
  drain: 'graceful-shutdown' | 'withdrawn' | null;
  /** The service currently wants its prefixes announced (possibly as a worse path). */
  announcing: boolean;
  prefixes: string[];
  checks: CheckState[];
}

/** Where one announced route stands with one peer. */
export type RouteStatus = 'announced' | 'pending' | 'not-sendable' | 'no-session';

/** One route in a peer's desired set (GET /v1/routes, `routes list`). */
export interface RouteState {
  peer: string;
  prefix: string;
  family: Family;
  /** Who wants it: "static", "service:dns". */
  sources: string[];
  status: RouteStatus;
  /** The next hop as sent (resolved 'self'), else as configured. */
  nextHop: string;
  med: number | null;
  prepend: number;
  communities: string[];
  largeCommunities: string[];
  extendedCommunities: string[];
  /** Why it is not (yet) announced; null when announced. */
  reason: string | null;
}

/** One route received from a peer (GET /v1/received/:peer, `routes received`). */
export interface ReceivedState extends AttributeTexts {
  peer: string;
  prefix: string;
  family: Family;
  pathId: number | null;
  nextHops: string[];
}

// ---------------------------------------------------------------- builders

/** Build the summary; counts only, so it stays fast with a million routes. */
export function summary(d: StateSource): SummaryState {
  const c = d.config;
  const peers = d.engine?.snapshot() ?? [];
  const sv = services(d);
  let announced = 0;
  let pending = 0;
  let received = 0;
  for (const p of peers) {
    announced += p.prefixesAnnounced;
    pending += p.prefixesPending;
    received += p.prefixesReceived;
  }
  const established = peers.filter((p) => p.state === 'Established').length;
  return {
    version: STATE_VERSION,
    asn: c?.asn ?? 0,
    routerId: c?.routerId ?? '',
    configFile: c?.file ?? '',
    uptimeMs: Math.round(Date.now() - d.startedAt),
    peers: { total: peers.length, established, down: peers.length - established, adminDown: peers.filter((p) => p.adminDown !== null).length },
    routes: { announced, pending, received },
    services: {
      total: sv.length,
      up: sv.filter((s) => s.health === 'up').length,
      down: sv.filter((s) => s.health === 'down').length,
      maintenance: sv.filter((s) => s.health === 'maintenance').length,
      draining: sv.filter((s) => s.drain !== null).length,
    },
    reloads: { ...d.reloads },
    lxd: lxdSummary(d),
    api: d.apiCounts ? { ...d.apiCounts } : null,
    engine: { timerLateness: d.engine?.lateness?.() ?? null },
  };
}

/** Build the LXD source's counts; null when the config has no `lxd` section. */
export function lxdSummary(d: StateSource): LxdSummaryState | null {
  if (!d.config?.lxd) return null;
  if (!d.lxd) {
    const c = d.config.lxd;
    return {
      status: 'not-started',
      reachable: false,
      endpoint: c.https?.url ?? c.socket ?? '(default socket)',
      serverName: null,
      chassisName: c.chassisName,
      announceFrom: c.announceFrom,
      clustered: false,
      eventsConnected: false,
      unreachableSince: null,
      withdrawnByLimit: false,
      lastReadAt: null,
      lastFullReadAt: null,
      lastReadMs: 0,
      lastError: d.lxdStartError ?? null,
      instances: 0,
      routes: { derived: 0, skipped: 0 },
      reads: 0,
      failedReads: 0,
      fullReads: 0,
      resyncs: 0,
      events: 0,
      publishes: 0,
    };
  }
  return lxdSummaryOf(d.lxd.state());
}

/** Turn the LXD source's own state into its API shape (counts only). */
export function lxdSummaryOf(s: LxdSourceState): LxdSummaryState {
  return {
    status: s.status,
    reachable: s.status === 'connected',
    endpoint: s.endpoint,
    serverName: s.serverName,
    chassisName: s.chassisName,
    announceFrom: s.announceFrom,
    clustered: s.clustered,
    eventsConnected: s.eventsConnected,
    unreachableSince: s.unreachableSince,
    withdrawnByLimit: s.withdrawn,
    lastReadAt: s.lastReadAt,
    lastFullReadAt: s.lastFullReadAt,
    lastReadMs: Math.round(s.lastReadMs * 10) / 10,
    lastError: s.lastError,
    instances: s.instances,
    routes: { derived: s.routes, skipped: s.skipped.length },
    reads: s.reads,
    failedReads: s.failedReads,
    fullReads: s.fullReads,
    resyncs: s.resyncs,
    events: s.events,
    publishes: s.publishes,
  };
}

/** Turn an LXD origin into its API shape. */
export function lxdOriginState(o: LxdOrigin): LxdOriginState {
  return {
    source: originText(o),
    project: o.project,
    rule: o.rule,
    network: o.network ?? null,
    instance: o.instance ?? null,
    device: o.device ?? null,
    listen: o.listen ?? null,
  };
}

/** Build the LXD source's full state with every derived and skipped route; null when not configured. */
export function lxd(d: StateSource): LxdState | null {
  const head = lxdSummary(d);
  if (head === null) return null;
  const list: LxdRouteState[] = [];
  const snap = d.lxd?.snapshot();
  if (snap) {
    snap.intents.forEach((i, n) => {
      list.push({ prefix: i.prefix, family: familyOf(i.prefix), state: 'derived', nextHop: i.nextHop ?? 'self', origin: lxdOriginState(snap.origins[n]!), reason: null });
    });
    for (const k of snap.skipped) {
      list.push({ prefix: k.prefix, family: familyOf(k.prefix), state: 'skipped', nextHop: null, origin: lxdOriginState(k.origin), reason: k.reason });
    }
  }
  return { source: head, routes: list };
}

/** An IPv4 peer accepted on the dual-stack listener has an IPv4-mapped local address: show it as IPv4. */
export function plainAddress(a: string): string {
  return a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** The last connect error, with the config warning that explains it (EHOSTUNREACH to a peer that needs multihop). */
function connectError(p: PeerSnapshot, warnings: readonly ConfigWarning[]): string | null {
  const e = p.lastConnectError;
  if (!e || !/EHOSTUNREACH|ENETUNREACH/.test(e)) return e ?? null;
  const w = warnings.find((x) => x.code === 'needs-multihop' && x.peer === p.name);
  return w ? `${e}: ${w.message}` : e;
}

/**
 * Why a route queued for an Established peer is not on the wire yet: the
 * session holds its routes until BFD is Up (decision 0030), or it is simply
 * queued.
 */
export function queuedReason(p: Pick<PeerSnapshot, 'bfd'>): string {
  const b = p.bfd;
  if (!b?.routesHeld) return 'queued, not sent yet';
  return `held until BFD is Up (waiting ${Math.round(b.heldMs / 1000)}s of wait_up ${Math.round(b.waitUpMs / 1000)}s; BFD is ${b.session?.state ?? 'not running'})`;
}

/** Build every configured (not shut down) peer's state. */
export function peers(d: StateSource): PeerState[] {
  const desc = new Map((d.config?.peers ?? []).map((p) => [p.name, p.description ?? null]));
  return (d.engine?.snapshot() ?? []).map((p) => peerState(d, p, desc.get(p.name) ?? null));
}

/** Build one peer's state from its snapshot (`description` from the config, looked up when not given). */
export function peerState(d: Pick<StateSource, 'config' | 'warnings'>, p: PeerSnapshot, description = d.config?.peers.find((x) => x.name === p.name)?.description ?? null): PeerState {
  return {
    ...p,
    localAddress: p.localAddress === null ? null : plainAddress(p.localAddress),
    lastConnectError: connectError(p, d.warnings ?? []),
    uptimeMs: Math.round(p.uptimeMs),
    families: p.families.map(familyName),
    endOfRibReceived: p.endOfRibReceived.map(familyName),
    lastDown: p.lastDown ? plain(p.lastDown) : null,
    established: p.state === 'Established',
    description,
  };
}

/** Turn a check report into its API shape. */
export function checkState(r: CheckReport): CheckState {
  return {
    index: r.index,
    check: r.check,
    ok: r.result.ok,
    detail: r.result.detail,
    output: r.result.output ?? null,
    latencyMs: Math.round(r.result.latencyMs * 10) / 10,
    at: iso(r.at),
    adminDown: r.result.adminDown ?? false,
  };
}

/** Build every configured service's state: health, drain, last check results. */
export function services(d: StateSource): ServiceState[] {
  const snaps = d.health?.snapshot() ?? new Map<string, ServiceSnapshot>();
  return (d.config?.services ?? []).map((s) => {
    const snap = snaps.get(s.name);
    const drain = d.drainPhase(s.name);
    // The same rule the daemon feeds the reconciler with.
    const announcing = serviceGroups(s, snap?.state ?? 'down', drain).length > 0;
    return serviceState(s, snap, drain, announcing);
  });
}

/** Build one service's state. */
export function serviceState(s: ServiceConfig, snap: ServiceSnapshot | undefined, drain: DrainPhase, announcing: boolean): ServiceState {
  return {
    name: s.name,
    description: s.description ?? null,
    health: snap?.state ?? 'down',
    since: iso(snap?.since ?? Date.now()),
    drain,
    announcing,
    prefixes: [...s.prefixes],
    checks: (snap?.lastResults ?? []).map(checkState),
  };
}

/** Filter for routes(): all fields optional. */
export interface RouteFilter {
  peer?: string;
  service?: string;
  family?: Family;
}

/**
 * Yield each peer's routes with their status, group by group (streams a
 * million): one engine request per group and peer, in the group's order.
 */
export async function* routes(d: StateSource, f: RouteFilter = {}): AsyncGenerator<RouteState> {
  const engine = d.engine;
  if (!engine) return;
  const src = f.service === undefined ? null : serviceSource(f.service);
  const groups = [...d.reconciler.outputGroups()];
  for (const snap of engine.snapshot()) {
    const peer = snap.name;
    if (f.peer !== undefined && peer !== f.peer) continue;
    for (const g of groups) {
      if (g.peers !== null && !g.peers.includes(peer)) continue;
      if (src !== null && !g.sources.includes(src)) continue;
      const st = await engine.groupStanding(peer, g.id);
      if (st === null) continue;
      yield* groupRoutes(peer, g, st, f.family, noSessionReason(st.state, snap), queuedReason(snap));
    }
  }
}

const STATUS_OF: Record<number, RouteStatus> = {
  [STANDING.ANNOUNCED]: 'announced',
  [STANDING.PENDING]: 'pending',
  [STANDING.NOT_SENDABLE]: 'not-sendable',
  [STANDING.NO_SESSION]: 'no-session',
};

/**
 * Why a peer carries nothing now, for routes and explain alike: taken down
 * by the operator, held down after a protocol error, or simply not
 * Established (yet).
 */
export function noSessionReason(state: string, snap: Pick<PeerSnapshot, 'name' | 'heldDownMs' | 'adminDown'> | undefined): string {
  if (snap?.adminDown) {
    const m = snap.adminDown.message;
    return `peer is administratively down (routes peer ${snap.name} down${m ? `: "${m}"` : ''}); 'routes peer ${snap.name} up' brings it back`;
  }
  if (snap?.heldDownMs != null) return `session is ${state}, held down for ${Math.ceil(snap.heldDownMs / 1000)} s more after a protocol error (idle_hold damping)`;
  return `session is ${state}, not Established`;
}

/** One group's routes with one peer. */
function* groupRoutes(peer: string, g: OutputGroup, st: GroupStanding, family: Family | undefined, noSession: string, queued: string): Generator<RouteState> {
  const w = g.prefixes.words;
  const reasons = new Map(st.reasons);
  const a = g.attrs;
  for (let at = 0, i = 0; at < w.length; at = nextPrefixRecord(w, at), i++) {
    const code = st.codes[i]!;
    const status = STATUS_OF[code];
    if (status === undefined) continue; // another group owns it, or the peer does not carry its family
    const fam: Family = w[at]! >= 256 ? 'ipv6' : 'ipv4';
    if (family !== undefined && fam !== family) continue;
    const sent = st.sent[i]!;
    const reason =
      status === 'announced'
        ? null
        : status === 'pending'
          ? queued
          : status === 'no-session'
            ? noSession
            : (reasons.get(i) ?? 'not sendable');
    yield {
      peer,
      prefix: formatPrefixRecord(w, at),
      family: fam,
      sources: [...g.sources],
      status,
      nextHop: sent >= 0 ? st.nextHops[sent]! : (a.nextHop ?? 'self'),
      med: a.med ?? null,
      prepend: a.prepend ?? 0,
      communities: a.communities ?? [],
      largeCommunities: a.largeCommunities ?? [],
      extendedCommunities: a.extendedCommunities ?? [],
      reason,
    };
  }
}

/** Yield the routes received from one peer (optionally one prefix); null when there is no such peer. */
export function received(d: StateSource, peer: string, prefix?: string): AsyncIterable<ReceivedState> | null {
  const batches = d.engine?.received(peer, prefix) ?? null;
  if (batches === null) return null;
  return (async function* () {
    for await (const batch of batches) for (const r of batch) yield receivedState(peer, r);
  })();
}

/** Turn an Adj-RIB-In route into its API shape (attribute text from the wire's formatters). */
export function receivedState(peer: string, r: ReceivedRoute): ReceivedState {
  return {
    peer,
    prefix: r.prefix,
    family: familyOf(r.prefix),
    pathId: r.pathId ?? null,
    nextHops: [...r.nextHops],
    ...attributeTexts(r.attrs),
  };
}
