/**
 * The one state model of a running herald (STYLE.md §10): the control API
 * serves it, the `routes` CLI prints it as tables or `--json`, and metrics
 * read it. Everything here is plain JSON-able data with a documented, stable
 * shape (docs/api.md) and no secrets: a peer says whether TCP MD5 is
 * configured, never the key.
 *
 * Built on demand from the daemon's parts (config, speaker, reconciler,
 * health source, drains); nothing is cached, so what the operator sees is
 * what the daemon holds at that moment. Route lists are generators so a
 * million announced routes are streamed, never materialised as one array.
 *
 * No RFC: this is herald's own operator-facing model. Route statuses follow
 * the Adj-RIB-Out's view (RFC 4271 §3.2: what was advertised to the peer).
 */
import type { PeerSnapshot, RouteAttrs, SpeakerEvent } from '../bgp/index.js';
import { formatPrefix, parsePrefix } from '../bgp/index.js';
import type { Config, ServiceConfig } from './config/index.js';
import type { Plan, Intent } from './reconciler/index.js';
import { serviceIntents, type DrainPhase } from './sources/intents.js';
import type { CheckReport, ServiceSnapshot, Transition } from './sources/health/types.js';
import type { LxdOrigin, LxdSkipped, LxdSourceState, LxdStatusChange } from './sources/lxd/index.js';
import { originText } from './sources/lxd/derive.js';

/** Version of the shapes below; bumped only on an incompatible change. */
export const STATE_VERSION = 1;

export type Family = 'ipv4' | 'ipv6';

// ---------------------------------------------------------------- inputs

/** What the model needs of one speaker peer (bgp/driver/peer.ts Peer fits). */
export interface PeerSource {
  readonly state: string;
  /** ms left of a damped hold-down after a protocol error (bgp/driver/peer.ts); null when none. */
  readonly heldDownForMs?: number | null;
  readonly ribOut: {
    explain(prefix: string): { desired: boolean; sent: { nextHop: string } | null; pending: boolean; reason: string | null };
  };
  readonly ribIn: Iterable<ReceivedRouteSource> & { get(prefix: string): ReceivedRouteSource | undefined };
}

/** A received route as the Adj-RIB-In holds it (bgp/rib/adj-rib-in.ts ReceivedRoute fits). */
export interface ReceivedRouteSource {
  readonly prefix: string;
  readonly pathId: number | undefined;
  readonly nextHops: readonly string[];
  readonly attrs: Readonly<{
    origin?: number;
    asPath?: { type: number; asns: number[] }[];
    med?: number;
    localPref?: number;
    communities?: number[];
    largeCommunities?: [number, number, number][];
    extendedCommunities?: Uint8Array[];
  }>;
}

/** What the model reads of the daemon (src/daemon.ts Daemon fits). */
export interface StateSource {
  readonly config: Config | null;
  readonly speaker: { snapshot(): PeerSnapshot[]; peer(name: string): PeerSource | undefined } | null;
  readonly reconciler: { readonly current: Plan; intents(): Intent[] };
  readonly health: { snapshot(): Map<string, ServiceSnapshot> } | null;
  readonly reloads: { ok: number; failed: number };
  readonly startedAt: number;
  /** The LXD source when it runs (null: not configured, or it could not start). */
  readonly lxd?: LxdStateSource | null;
  /** Why a configured LXD source could not start (e.g. no socket found). */
  readonly lxdStartError?: string | null;
  drainPhase(service: string): DrainPhase;
}

/** What the model reads of the LXD source (src/sources/lxd/source.ts LxdSource fits). */
export interface LxdStateSource {
  state(): LxdSourceState;
  snapshot(): { readonly intents: readonly { prefix: string; nextHop?: string }[]; readonly origins: readonly LxdOrigin[]; readonly skipped: readonly LxdSkipped[] };
  explain(prefix: string): { announced: { intent: { prefix: string; nextHop?: string }; origin: LxdOrigin }[]; skipped: LxdSkipped[] };
}

// ---------------------------------------------------------------- shapes

/** GET /v1/summary and `routes`. */
export interface SummaryState {
  version: number;
  asn: number;
  routerId: string;
  configFile: string;
  uptimeMs: number;
  peers: { total: number; established: number; down: number };
  routes: { announced: number; pending: number; received: number };
  services: { total: number; up: number; down: number; maintenance: number; draining: number };
  reloads: { ok: number; failed: number };
  /** The LXD source; null when the config has no `lxd` section. */
  lxd: LxdSummaryState | null;
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
export interface ReceivedState {
  peer: string;
  prefix: string;
  family: Family;
  pathId: number | null;
  nextHops: string[];
  asPath: string;
  origin: 'igp' | 'egp' | 'incomplete' | null;
  med: number | null;
  localPref: number | null;
  communities: string[];
  largeCommunities: string[];
  extendedCommunities: string[];
}

/** A source that wants (or is configured to want) a prefix. */
export interface ExplainSource {
  /** "static" or "service:NAME". */
  source: string;
  /** It currently contributes the prefix to the reconciler. */
  wants: boolean;
  /** Why it does not (service down/drained/maintenance); null when it wants it. */
  reason: string | null;
  /** The service's state and checks (services only). */
  service: ServiceState | null;
  /** The LXD origin and the source's reachability (LXD routes only). */
  lxd: ExplainLxd | null;
}

/** The LXD part of an explained source. */
export interface ExplainLxd {
  origin: LxdOriginState;
  /** The next hop the LXD source gives it; null when skipped. */
  nextHop: string | null;
  /** The LXD source's status: while `unreachable`, the last known routes are kept (until the limit). */
  status: LxdSummaryState['status'];
  unreachableSince: string | null;
}

/** The prefix with one peer. */
export interface ExplainPeer {
  peer: string;
  state: string;
  established: boolean;
  /** Whether this peer should carry the prefix (not excluded by family or peer filter). */
  shouldCarry: boolean;
  status: RouteStatus | 'excluded' | 'not-wanted';
  nextHop: string | null;
  reason: string | null;
}

/** GET /v1/explain/:prefix, `routes explain`, `routes check`. */
export interface ExplainState {
  prefix: string;
  family: Family;
  /** Some source wants it announced now. */
  wanted: boolean;
  sources: ExplainSource[];
  peers: ExplainPeer[];
  /** Announced to every established peer that should carry it, and to at least one. */
  announced: boolean;
  /** One line: why it is or is not announced. */
  reason: string;
}

/** One server-sent event (GET /v1/events, `routes watch`). */
export type StateEvent =
  | { type: 'peer'; at: string; event: SpeakerEvent }
  | { type: 'service'; at: string; service: string; from: string; to: string; reason: string; checks: CheckState[] }
  | { type: 'reload'; at: string; ok: boolean; errors: string[] }
  | { type: 'drain'; at: string; services: string[]; phase: 'graceful-shutdown' | 'withdrawn' }
  | { type: 'undrain'; at: string; services: string[] }
  | { type: 'lxd'; at: string; change: LxdStatusChange; lxd: LxdSummaryState };

// ---------------------------------------------------------------- builders

const iso = (ms: number): string => new Date(ms).toISOString();
const familyOf = (prefix: string): Family => (prefix.includes(':') ? 'ipv6' : 'ipv4');

/** Return the canonical text of a prefix or host address, or null when it is not one. */
export function canonicalPrefix(text: string): string | null {
  const p = parsePrefix(text, { strict: false });
  return p === null ? null : formatPrefix(p);
}

/** Build the summary; counts only, so it stays fast with a million routes. */
export function summary(d: StateSource): SummaryState {
  const c = d.config;
  const peers = d.speaker?.snapshot() ?? [];
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
    peers: { total: peers.length, established, down: peers.length - established },
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

/** Build every configured (not shut down) peer's state. */
export function peers(d: StateSource): PeerState[] {
  const desc = new Map((d.config?.peers ?? []).map((p) => [p.name, p.description ?? null]));
  return (d.speaker?.snapshot() ?? []).map((p) => ({
    ...p,
    uptimeMs: Math.round(p.uptimeMs),
    families: p.families.map(familyName),
    endOfRibReceived: p.endOfRibReceived.map(familyName),
    lastDown: p.lastDown ? plain(p.lastDown) : null,
    established: p.state === 'Established',
    description: desc.get(p.name) ?? null,
  }));
}

const FAMILY_NAMES: Record<string, string> = { '1/1': 'ipv4', '2/1': 'ipv6' };

/** Name an AFI/SAFI key ("1/1") as the config does ("ipv4"); other families keep their key. */
export function familyName(key: string): string {
  return FAMILY_NAMES[key] ?? key;
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
    // The same rule the daemon feeds the reconciler with; cheap, unlike scanning every intent.
    const announcing = serviceIntents(s, snap?.state ?? 'down', drain).length > 0;
    return serviceState(s, snap, drain, announcing);
  });
}

function serviceState(s: ServiceConfig, snap: ServiceSnapshot | undefined, drain: DrainPhase, announcing: boolean): ServiceState {
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

/** Yield each peer's desired routes with their status, one at a time (streams a million). */
export function* routes(d: StateSource, f: RouteFilter = {}): Generator<RouteState> {
  const plan = d.reconciler.current;
  const src = f.service === undefined ? null : `service:${f.service}`;
  for (const [peer, groups] of plan.perPeer) {
    if (f.peer !== undefined && peer !== f.peer) continue;
    const sp = d.speaker?.peer(peer);
    for (const g of groups) {
      for (let i = 0; i < g.prefixes.length; i++) {
        const sources = g.sources[i]!;
        if (src !== null && !sources.includes(src)) continue;
        const prefix = g.prefixes[i]!;
        if (f.family !== undefined && familyOf(prefix) !== f.family) continue;
        yield routeState(peer, prefix, g.attrs, sources, sp);
      }
    }
  }
}

function routeState(peer: string, prefix: string, s: RouteAttrs, sources: readonly string[], sp: PeerSource | undefined): RouteState {
  const st = statusOf(sp, prefix);
  return {
    peer,
    prefix,
    family: familyOf(prefix),
    sources: [...sources],
    status: st.status,
    nextHop: st.nextHop ?? s.nextHop ?? 'self',
    med: s.med ?? null,
    prepend: s.prepend ?? 0,
    communities: s.communities ?? [],
    largeCommunities: s.largeCommunities ?? [],
    extendedCommunities: s.extendedCommunities ?? [],
    reason: st.reason,
  };
}

function statusOf(sp: PeerSource | undefined, prefix: string): { status: RouteStatus; nextHop: string | null; reason: string | null } {
  if (!sp) return { status: 'no-session', nextHop: null, reason: 'peer is not running' };
  const x = sp.ribOut.explain(prefix);
  if (x.sent && !x.pending) return { status: 'announced', nextHop: x.sent.nextHop, reason: null };
  if (sp.state !== 'Established') {
    const held = sp.heldDownForMs;
    const why =
      held !== undefined && held !== null
        ? `session is ${sp.state}, held down for ${Math.ceil(held / 1000)} s more after a protocol error (idle_hold damping)`
        : `session is ${sp.state}, not Established`;
    return { status: 'no-session', nextHop: null, reason: why };
  }
  if (x.reason) return { status: 'not-sendable', nextHop: null, reason: x.reason };
  return { status: 'pending', nextHop: x.sent?.nextHop ?? null, reason: 'queued, not sent yet' };
}

/** Yield the routes received from one peer (optionally one prefix); null when there is no such peer. */
export function received(d: StateSource, peer: string, prefix?: string): Iterable<ReceivedState> | null {
  const sp = d.speaker?.peer(peer);
  if (!sp) return null;
  if (prefix !== undefined) {
    const r = sp.ribIn.get(prefix);
    return r ? [receivedState(peer, r)] : [];
  }
  return (function* () {
    for (const r of sp.ribIn) yield receivedState(peer, r);
  })();
}

const ORIGINS = ['igp', 'egp', 'incomplete'] as const;

/** Turn an Adj-RIB-In route into its API shape. */
export function receivedState(peer: string, r: ReceivedRouteSource): ReceivedState {
  const a = r.attrs;
  return {
    peer,
    prefix: r.prefix,
    family: familyOf(r.prefix),
    pathId: r.pathId ?? null,
    nextHops: [...r.nextHops],
    asPath: (a.asPath ?? []).map((s) => (s.type === 1 ? `{${s.asns.join(',')}}` : s.asns.join(' '))).join(' '),
    origin: a.origin === undefined ? null : (ORIGINS[a.origin] ?? null),
    med: a.med ?? null,
    localPref: a.localPref ?? null,
    communities: (a.communities ?? []).map((c) => `${c >>> 16}:${c & 0xffff}`),
    largeCommunities: (a.largeCommunities ?? []).map((l) => l.join(':')),
    extendedCommunities: (a.extendedCommunities ?? []).map((b) => Buffer.from(b).toString('hex')),
  };
}

/** Explain one prefix: who wants it, its checks, each peer's status, or exactly why it is not announced. */
export function explain(d: StateSource, prefixText: string): ExplainState | null {
  const prefix = canonicalPrefix(prefixText);
  if (prefix === null) return null;
  const fam = familyOf(prefix);
  const c = d.config;
  const intents = d.reconciler.intents().filter((i) => i.prefix === prefix);
  const wantedBy = new Set(intents.map((i) => i.source));
  const snaps = d.health?.snapshot() ?? new Map<string, ServiceSnapshot>();

  const sources: ExplainSource[] = [];
  if (c?.static.some((s) => s.prefix === prefix)) sources.push({ source: 'static', wants: wantedBy.has('static'), reason: null, service: null, lxd: null });
  for (const s of c?.services ?? []) {
    if (!s.prefixes.includes(prefix)) continue;
    const name = `service:${s.name}`;
    const st = serviceState(s, snaps.get(s.name), d.drainPhase(s.name), wantedBy.has(name));
    sources.push({ source: name, wants: wantedBy.has(name), reason: wantedBy.has(name) ? null : whyServiceSilent(st), service: st, lxd: null });
  }
  const lx = lxdSummary(d);
  if (lx && d.lxd) sources.push(...lxdSources(d.lxd, prefix, lx, wantedBy));
  for (const src of wantedBy) if (!sources.some((s) => s.source === src)) sources.push({ source: src, wants: true, reason: null, service: null, lxd: null });

  const plan = d.reconciler.current;
  const snapshots = new Map((d.speaker?.snapshot() ?? []).map((p) => [p.name, p]));
  const peersOut: ExplainPeer[] = [];
  for (const [peer, groups] of plan.perPeer) {
    const snap = snapshots.get(peer);
    const state = snap?.state ?? 'Idle';
    const established = state === 'Established';
    const base = { peer, state, established };
    if (intents.length === 0) {
      peersOut.push({ ...base, shouldCarry: false, status: 'not-wanted', nextHop: null, reason: 'no source wants this prefix' });
      continue;
    }
    const planned = groups.some((g) => g.prefixes.includes(prefix));
    if (!planned) {
      const ex = plan.excluded.find((e) => e.peer === peer && e.prefixes.includes(prefix));
      peersOut.push({ ...base, shouldCarry: false, status: 'excluded', nextHop: null, reason: ex?.reason ?? 'not in this peer’s set' });
      continue;
    }
    const st = statusOf(d.speaker?.peer(peer), prefix);
    peersOut.push({ ...base, shouldCarry: true, status: st.status, nextHop: st.nextHop, reason: st.reason });
  }
  const verdict = judge(prefix, fam, intents.length > 0, sources, peersOut, lx);
  return { prefix, family: fam, wanted: intents.length > 0, sources, peers: peersOut, ...verdict };
}

/** The LXD source's routes for one prefix: each origin that derived it (wants it) or skipped it (with the reason). */
function lxdSources(src: LxdStateSource, prefix: string, lx: LxdSummaryState, wantedBy: ReadonlySet<string>): ExplainSource[] {
  const x = src.explain(prefix);
  const detail = (o: LxdOrigin, nextHop: string | null): ExplainLxd => ({
    origin: lxdOriginState(o),
    nextHop,
    status: lx.status,
    unreachableSince: lx.unreachableSince,
  });
  const out: ExplainSource[] = [];
  for (const a of x.announced) {
    const name = originText(a.origin);
    // Derived but not (yet) handed to the reconciler: only between a read and its publish.
    const wants = wantedBy.has(name);
    out.push({ source: name, wants, reason: wants ? null : 'derived by the LXD source, not yet published', service: null, lxd: detail(a.origin, a.intent.nextHop ?? 'self') });
  }
  for (const k of x.skipped) out.push({ source: originText(k.origin), wants: false, reason: k.reason, service: null, lxd: detail(k.origin, null) });
  return out;
}

/** Say what an unreachable LXD source means for the routes it gave. */
function lxdCaveat(lx: LxdSummaryState): string | null {
  if (lx.status === 'not-started') return `the LXD source is not running${lx.lastError ? `: ${lx.lastError}` : ''}`;
  if (lx.status !== 'unreachable') return null;
  return `LXD is unreachable since ${lx.unreachableSince}${lx.lastError ? ` (${lx.lastError})` : ''}${lx.withdrawnByLimit ? ' and its routes were withdrawn (unreachable_withdraw_after)' : ': its last known routes are kept'}`;
}

function whyServiceSilent(s: ServiceState): string {
  if (s.drain === 'withdrawn') return `service ${s.name} is drained (withdrawn); run 'routes undrain ${s.name}' to announce it again`;
  if (s.drain === 'graceful-shutdown') return `service ${s.name} is draining and not up`;
  if (s.health === 'maintenance') {
    const m = s.checks.find((c) => c.adminDown);
    return `service ${s.name} is in maintenance${m ? `: ${m.detail}` : ''}`;
  }
  const failing = s.checks.filter((c) => !c.ok);
  const what = failing.length ? failing.map((c) => `check ${c.index + 1} (${c.check}) failed: ${c.detail}`).join('; ') : 'no check has passed yet';
  return `service ${s.name} is ${s.health}: ${what}`;
}

function judge(
  prefix: string,
  fam: Family,
  wanted: boolean,
  sources: ExplainSource[],
  peersOut: ExplainPeer[],
  lx: LxdSummaryState | null,
): { announced: boolean; reason: string } {
  const caveat = lx ? lxdCaveat(lx) : null;
  if (!wanted) {
    if (sources.length === 0) {
      if (!lx) return { announced: false, reason: `no static route or service is configured for ${prefix}` };
      return { announced: false, reason: `no static route, service or LXD route gives ${prefix}${caveat ? ` (${caveat})` : ''}` };
    }
    // LXD reasons name the origin: several instances may skip the same prefix, each for its own reason.
    return { announced: false, reason: sources.map((s) => (s.lxd ? `${s.source}: ${s.reason}` : (s.reason ?? `${s.source} does not want it`))).join('; ') };
  }
  const v = judgeWanted(fam, peersOut);
  if (caveat && sources.some((s) => s.wants && s.lxd)) return { ...v, reason: `${v.reason} (${caveat})` };
  return v;
}

function judgeWanted(fam: Family, peersOut: ExplainPeer[]): { announced: boolean; reason: string } {
  const carrying = peersOut.filter((p) => p.shouldCarry);
  if (carrying.length === 0) {
    const why = peersOut.map((p) => `${p.peer}: ${p.reason}`).join('; ');
    return { announced: false, reason: `no peer should carry it${why ? ` (${why})` : ' (no peers configured)'}` };
  }
  const est = carrying.filter((p) => p.established);
  if (est.length === 0) {
    return { announced: false, reason: `no established ${fam} session: ${carrying.map((p) => `${p.peer} is ${p.state}`).join(', ')}` };
  }
  const missing = est.filter((p) => p.status !== 'announced');
  if (missing.length) return { announced: false, reason: missing.map((p) => `${p.peer}: ${p.reason}`).join('; ') };
  const down = carrying.length - est.length;
  return {
    announced: true,
    reason: `announced to ${est.map((p) => p.peer).join(', ')}${down ? ` (${down} peer${down > 1 ? 's' : ''} not established)` : ''}`,
  };
}

/** Turn a health transition into its event shape. */
export function serviceEvent(t: Transition): StateEvent {
  return { type: 'service', at: iso(Date.now()), service: t.service, from: t.from, to: t.to, reason: t.reason, checks: t.results.map(checkState) };
}

/** Turn an LXD reachability change into its event shape. */
export function lxdEvent(change: LxdStatusChange, s: LxdSourceState): StateEvent {
  return { type: 'lxd', at: iso(Date.now()), change, lxd: lxdSummaryOf(s) };
}

/** Turn a speaker event into its event shape. */
export function peerEvent(e: SpeakerEvent): StateEvent {
  return { type: 'peer', at: iso(Date.now()), event: plain(e) };
}

/** Deep-copy to plain JSON data: byte arrays become hex text, everything else as JSON would. */
export function plain<T>(v: T): T {
  return JSON.parse(JSON.stringify(v, jsonReplacer)) as T;
}

/** JSON.stringify replacer for the API: Uint8Array/Buffer as hex, bigint as text. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return Buffer.from((v as { data: number[] }).data).toString('hex');
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}
