/**
 * Prometheus metrics: the daemon's live model rendered as text exposition
 * (one model, several renderings — STYLE.md §10).
 *
 * Owns:
 * - the `herald_*` metric families (docs/metrics.md lists every one);
 * - the optional read-only TCP listener from config `metrics: {address,
 *   port, path}`, serving `GET <path>` and `GET /healthz` and nothing else.
 *   No request on it can change state (issue 5: only the unix socket can).
 *
 * Values are read from the model at scrape time (collect callbacks), not
 * copied on every change: peer snapshots from the speaker, service states
 * from the health source, counters from the reconciler and the daemon.
 * Only what the model does not keep is counted here from events: service
 * transitions, check latencies (histogram) and TCP MD5 failures. Unknown
 * connections come from the speaker's stats, the event-stream counts from
 * the control API's (summary.api).
 *
 * BFD (`herald_bfd_*`) has series only for peers with BFD; its counters
 * come from the BFD session in the peer's snapshot and are kept monotonic
 * the same way, a new BFD session (new discriminator) counting from zero.
 *
 * The LXD source (`herald_lxd_*`, only when the config has an `lxd`
 * section) is read from its `state()` like the peers; a reload that changes
 * the `lxd` section replaces the source object, so its counters are kept
 * the same way as a re-created peer's.
 *
 * Counters never go backwards. A peer's counters live in its Peer object,
 * which a reload replaces (remove + add); per peer name we keep the last
 * values seen and a running total, and add the difference on each scrape
 * (a new Peer object, or a value below the last one, counts from zero).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { PEER_COUNTER_KEYS, zeroPeerCounters, type PeerCounterKey, type PeerSnapshot, type SpeakerEvent, type SpeakerStats, type TimerLateness } from '../bgp/index.js';
import type { MetricsConfig, ServiceConfig } from './config/index.js';
import type { RoundEvent, ServiceSnapshot, Transition } from './sources/health/index.js';
import type { LxdSourceState } from './sources/lxd/index.js';
import type { ApiCounts } from './state/index.js';

/** The RFC 4271 §8.2.2 states, as the speaker's snapshots name them. */
export const SESSION_STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const;
/** The health states a service can be in. */
export const SERVICE_STATES = ['up', 'down', 'maintenance'] as const;

/** Check-latency histogram buckets, seconds: 1 ms to the longest sensible timeout. */
export const CHECK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the metrics read of the BGP session engine (bgp `Engine`). */
export interface MetricsSpeaker {
  snapshot(): PeerSnapshot[];
  /** Speaker-wide counts (unknown connections). */
  stats(): SpeakerStats;
  on(fn: (e: SpeakerEvent) => void): () => void;
  /** How late the engine's timers ran (decision 0034); absent or null: no figures. */
  lateness?(): TimerLateness | null;
}

/** What the metrics read of the health source (src/sources/health `HealthSource`). */
export interface MetricsHealth {
  snapshot(): ReadonlyMap<string, ServiceSnapshot>;
  on(event: 'change', fn: (t: Transition) => void): () => void;
  on(event: 'round', fn: (r: RoundEvent) => void): () => void;
}

/** The daemon fields the metrics read (src/daemon.ts `Daemon` has this shape). */
export interface MetricsModel {
  readonly engine: MetricsSpeaker | null;
  readonly health: MetricsHealth | null;
  readonly reconciler: { readonly runs: number; readonly changes: number; readonly lastDurationMs: number };
  readonly reloads: { readonly ok: number; readonly failed: number };
  readonly config: {
    readonly metrics: MetricsConfig | null;
    readonly services: readonly Pick<ServiceConfig, 'name' | 'checks'>[];
    /** Non-null when an LXD source is configured (its settings are not read here). */
    readonly lxd?: object | null;
  } | null;
  /** The LXD source when it runs (src/sources/lxd `LxdSource`); null when not configured or it could not start. */
  readonly lxd?: { state(): LxdSourceState } | null;
  /** The control API's counts (src/api/server.ts `ApiStats`, the state model's summary.api). */
  readonly apiCounts?: ApiCounts | null;
}

/** The LXD source's counters that the metrics keep monotonic. */
const LXD_COUNTER_KEYS = ['reads', 'failedReads', 'events', 'resyncs', 'fullReads'] as const satisfies readonly (keyof LxdSourceState)[];
type LxdCounterKey = (typeof LXD_COUNTER_KEYS)[number];
const zeroLxd = (): Record<LxdCounterKey, number> => ({ reads: 0, failedReads: 0, events: 0, resyncs: 0, fullReads: 0 });

export interface MetricsOptions {
  /** Also export prom-client's process and Node.js metrics, prefixed `herald_`; default true. */
  defaultMetrics?: boolean;
  /**
   * When given, a listener that cannot bind is logged here and the daemon
   * runs on without it (BGP matters more than metrics); otherwise it throws.
   */
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** A built registry bound to one model. */
export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** Render every metric as Prometheus text exposition. */
  render(): Promise<string>;
  /** Unsubscribe from the model's events. */
  detach(): void;
}

/** A running metrics listener. */
export interface MetricsServer {
  readonly metrics: Metrics;
  /** The bound address (the port is the real one when config said 0). */
  address(): AddressInfo;
  close(): Promise<void>;
}

/** The running daemon's metrics; `server` is null when config has no `metrics` section. */
export interface MetricsHandle {
  readonly metrics: Metrics;
  readonly server: MetricsServer | null;
  close(): Promise<void>;
}

/** Every peer counter, exported as a `_total` family (see the counters section below). */
const COUNTER_KEYS = PEER_COUNTER_KEYS;
type CounterKey = PeerCounterKey;
const zeroCounters = zeroPeerCounters;

/** `kind` label of herald_bgp_route_refresh_received_total: the ROUTE-REFRESH subtype received. */
const REFRESH_KINDS = [
  ['request', 'refreshRequestsIn'],
  ['borr', 'refreshBorrIn'],
  ['eorr', 'refreshEorrIn'],
] as const satisfies readonly (readonly [string, CounterKey])[];

/**
 * Fold a source's monotonic counters into totals that survive the source
 * being replaced: a new object (`fresh`, e.g. a peer re-created by a reload)
 * or a counter that went backwards starts again from zero, so the exported
 * `_total` never decreases.
 */
function accumulate<K extends string>(
  t: { last: Record<K, number>; total: Record<K, number> },
  keys: readonly K[],
  now: Readonly<Record<K, number>>,
  fresh: boolean,
): void {
  for (const k of keys) {
    const cur = now[k];
    const base = fresh || cur < t.last[k] ? 0 : t.last[k];
    t.total[k] += cur - base;
    t.last[k] = cur;
  }
}

/** Per peer name: the last counters seen, on which object, and the monotonic totals. */
interface PeerTally {
  /** The peer instance the last values came from (PeerSnapshot.instance); 0 = none. */
  ref: number;
  last: Record<CounterKey, number>;
  total: Record<CounterKey, number>;
}

/** A BFD session's counters exported as `_total` families (from BfdSessionSnapshot.counters). */
const BFD_COUNTER_KEYS = ['packetsIn', 'packetsOut', 'discarded', 'upTransitions', 'downTransitions'] as const;
type BfdCounterKey = (typeof BFD_COUNTER_KEYS)[number];
const zeroBfd = (): Record<BfdCounterKey, number> => ({ packetsIn: 0, packetsOut: 0, discarded: 0, upTransitions: 0, downTransitions: 0 });
/** RFC 5880 §4.1 session states, as the BFD snapshot names them. */
export const BFD_STATES = ['AdminDown', 'Down', 'Init', 'Up'] as const;

/** prom-client default gauges whose names end in `_total` (see createMetrics). */
const MISNAMED_DEFAULTS = ['nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total'];

const VERSION = readVersion();

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Build a registry whose metrics read `model` at scrape time. */
export function createMetrics(model: MetricsModel, opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'herald_' });
    // prom-client also names three gauges `*_total`, which Prometheus reserves
    // for counters; drop them (herald_nodejs_active_resources{type} stays).
    for (const n of MISNAMED_DEFAULTS) registry.removeSingleMetric(`herald_${n}`);
  }

  // ------------------------------------------------------------ event-fed state
  const tallies = new Map<string, PeerTally>();
  /** Per peer name: BFD counter totals; `ref` is the session's local discriminator (a new session counts from zero). */
  const bfdTallies = new Map<string, { ref: number; last: Record<BfdCounterKey, number>; total: Record<BfdCounterKey, number> }>();
  const transitions = new Map<string, Map<string, number>>();
  let md5Failures = 0;

  let speakerBound: MetricsSpeaker | null = null;
  let healthBound: MetricsHealth | null = null;
  const unsubscribe: (() => void)[] = [];

  // Probe outcomes and durations are tallied here as plain numbers, a
  // thousand times a second with a thousand services, and handed to
  // prom-client at scrape time: no label hashing, no label object and no
  // prom-client call per probe.
  const checkTally = new Map<string, Map<string, CheckTally>>();
  new Counter({
    name: 'herald_check_results_total',
    help: 'Health check probes by outcome (ok, fail, or skipped because the previous probe was still running).',
    labelNames: ['service', 'check_kind', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, kinds] of checkTally) {
        for (const [kind, t] of kinds) {
          if (t.ok > 0) this.inc({ service, check_kind: kind, result: 'ok' }, t.ok);
          if (t.fail > 0) this.inc({ service, check_kind: kind, result: 'fail' }, t.fail);
          if (t.skipped > 0) this.inc({ service, check_kind: kind, result: 'skipped' }, t.skipped);
        }
      }
    },
  });
  registry.registerMetric(
    histogramMetric('herald_check_duration_seconds', 'How long each completed health check probe took, by service and check kind.', function* () {
      for (const [service, kinds] of checkTally) {
        for (const [kind, t] of kinds) {
          if (t.count === 0) continue;
          let cumulative = 0;
          yield { labels: { service, check_kind: kind }, buckets: CHECK_BUCKETS.map((le, b) => ({ le, count: (cumulative += t.buckets[b]!) })), count: t.count, sum: t.sumS };
        }
      }
    }),
  );

  /** Each service's check kinds by index, looked up once per config (not a search of the service list per probe). */
  let kindsFor: { config: MetricsModel['config']; byService: Map<string, readonly string[]> } = { config: null, byService: new Map() };
  const kindOf = (service: string, index: number, label: string): string => {
    const config = model.config;
    if (kindsFor.config !== config) kindsFor = { config, byService: new Map(config?.services.map((x) => [x.name, x.checks.map((c) => c.kind)]) ?? []) };
    return kindsFor.byService.get(service)?.[index] ?? label.split(' ', 1)[0] ?? 'unknown';
  };

  const onRound = (r: RoundEvent): void => {
    let kinds = checkTally.get(r.service);
    if (!kinds) checkTally.set(r.service, (kinds = new Map()));
    for (const rep of r.reports) {
      const kind = kindOf(r.service, rep.index, rep.check);
      let t = kinds.get(kind);
      if (!t) kinds.set(kind, (t = newCheckTally()));
      if (rep.skipped) {
        t.skipped++;
        continue;
      }
      if (rep.result.ok) t.ok++;
      else t.fail++;
      const seconds = Math.max(0, rep.result.latencyMs) / 1000;
      t.count++;
      t.sumS += seconds;
      // The first bucket whose bound holds it (none: only +Inf, i.e. count).
      let b = 0;
      while (b < CHECK_BUCKETS.length && seconds > CHECK_BUCKETS[b]!) b++;
      if (b < CHECK_BUCKETS.length) t.buckets[b]!++;
    }
  };
  const onChange = (t: Transition): void => {
    let m = transitions.get(t.service);
    if (!m) transitions.set(t.service, (m = new Map()));
    m.set(t.to, (m.get(t.to) ?? 0) + 1);
  };
  const onSpeaker = (e: SpeakerEvent): void => {
    if (e.type === 'md5-failure') md5Failures += e.count;
  };

  /** Subscribe to the speaker and health source the model holds now (they appear during start()). */
  const attach = (): void => {
    if (model.engine && model.engine !== speakerBound) {
      speakerBound = model.engine;
      unsubscribe.push(speakerBound.on(onSpeaker));
    }
    if (model.health && model.health !== healthBound) {
      healthBound = model.health;
      unsubscribe.push(healthBound.on('change', onChange), healthBound.on('round', onRound));
    }
  };
  attach();

  // ------------------------------------------------------------ scrape-time reads
  // One snapshot per scrape (taken by render()), shared by every family's collect().
  let peers: PeerSnapshot[] = [];
  let speakerStats: SpeakerStats = { unknownConnections: 0, unknownAddresses: 0, unknownSuppressed: 0 };
  let services: ReadonlyMap<string, ServiceSnapshot> = new Map();
  /** The LXD source's state this scrape; `configured` false: no series at all. */
  let lxd: { configured: boolean; state: LxdSourceState | null } = { configured: false, state: null };
  const lxdMetrics: (Gauge | Counter)[] = [];
  let lxdRegistered = false;
  const lxdTally: { ref: object | null; last: Record<LxdCounterKey, number>; total: Record<LxdCounterKey, number> } = {
    ref: null,
    last: zeroLxd(),
    total: zeroLxd(),
  };

  const refresh = (): void => {
    attach();
    peers = model.engine?.snapshot() ?? [];
    speakerStats = model.engine?.stats() ?? speakerStats;
    services = model.health?.snapshot() ?? new Map();
    for (const p of peers) {
      const ref = p.instance;
      let t = tallies.get(p.name);
      if (!t) tallies.set(p.name, (t = { ref, last: zeroCounters(), total: zeroCounters() }));
      accumulate(t, COUNTER_KEYS, p.counters, ref !== t.ref);
      t.ref = ref;
    }
    for (const p of peers) {
      const s = p.bfd?.session;
      if (!s) continue;
      const c = s.counters;
      const now = { packetsIn: c.packetsIn, packetsOut: c.packetsOut, discarded: Object.values(c.discards).reduce((a, n) => a + n, 0), upTransitions: c.upTransitions, downTransitions: c.downTransitions };
      let t = bfdTallies.get(p.name);
      if (!t) bfdTallies.set(p.name, (t = { ref: s.localDiscriminator, last: zeroBfd(), total: zeroBfd() }));
      accumulate(t, BFD_COUNTER_KEYS, now, s.localDiscriminator !== t.ref);
      t.ref = s.localDiscriminator;
    }
    // A removed peer keeps its totals; if it comes back, its new object counts from zero.
    const present = new Set(peers.map((p) => p.name));
    for (const [name, t] of tallies) {
      if (present.has(name)) continue;
      t.ref = 0;
      t.last = zeroCounters();
    }
    const src = model.lxd ?? null;
    lxd = { configured: Boolean(model.config?.lxd), state: src?.state() ?? null };
    if (lxd.configured !== lxdRegistered) {
      for (const m of lxdMetrics) {
        if (lxd.configured) registry.registerMetric(m);
        else registry.removeSingleMetric((m as unknown as { name: string }).name);
      }
      lxdRegistered = lxd.configured;
    }
    if (src && lxd.state) {
      accumulate(lxdTally, LXD_COUNTER_KEYS, lxd.state, src !== lxdTally.ref);
      lxdTally.ref = src;
    } else {
      lxdTally.ref = null;
      lxdTally.last = zeroLxd();
    }
  };

  new Gauge({
    name: 'herald_build_info',
    help: 'Always 1; the labels say which herald and Node.js versions are running.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ version: VERSION, node_version: process.version }, 1);
    },
  });

  /** One gauge with a series per peer; a peer whose value is null has no series. */
  const perPeerGauge = (name: string, help: string, value: (p: PeerSnapshot) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of peers) {
          const v = value(p);
          if (v !== null) this.set({ peer: p.name }, v);
        }
      },
    });
  };
  const perPeerCounter = (name: string, help: string, key: CounterKey): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const p of peers) this.inc({ peer: p.name }, tallies.get(p.name)?.total[key] ?? 0);
      },
    });
  };

  new Gauge({
    name: 'herald_bgp_peer_info',
    help: 'Always 1 per configured peer; the labels give its address and AS numbers.',
    labelNames: ['peer', 'address', 'peer_as', 'local_as'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers) this.set({ peer: p.name, address: p.address, peer_as: String(p.peerAs), local_as: String(p.localAs) }, 1);
    },
  });
  new Gauge({
    name: 'herald_bgp_session_state',
    help: 'BGP session FSM state (RFC 4271 §8.2.2): 1 for the state the session is in, 0 for the others.',
    labelNames: ['peer', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers) for (const s of SESSION_STATES) this.set({ peer: p.name, state: s }, p.state === s ? 1 : 0);
    },
  });
  perPeerGauge('herald_bgp_session_up', 'Whether the BGP session is Established (1) or not (0).', (p) => (p.state === 'Established' ? 1 : 0));
  perPeerGauge(
    'herald_bgp_peer_admin_down',
    "Whether the operator took the peer down (routes peer NAME down: Cease/Administrative Shutdown, stays down until up) (1) or not (0).",
    (p) => (p.adminDown ? 1 : 0),
  );
  perPeerGauge('herald_bgp_session_uptime_seconds', 'Seconds since the session reached Established; 0 when it is not.', (p) => p.uptimeMs / 1000);
  perPeerCounter('herald_bgp_session_flaps_total', 'Transitions out of Established.', 'flaps');
  perPeerCounter('herald_bgp_session_established_total', 'Transitions into Established.', 'establishedTransitions');
  perPeerCounter('herald_bgp_messages_received_total', 'BGP messages received, of every type.', 'messagesIn');
  perPeerCounter('herald_bgp_messages_sent_total', 'BGP messages sent, of every type.', 'messagesOut');
  perPeerCounter('herald_bgp_updates_received_total', 'UPDATE messages received.', 'updatesIn');
  perPeerCounter('herald_bgp_updates_sent_total', 'UPDATE messages sent.', 'updatesOut');
  perPeerCounter('herald_bgp_notifications_received_total', 'NOTIFICATION messages received.', 'notificationsIn');
  perPeerCounter('herald_bgp_notifications_sent_total', 'NOTIFICATION messages sent.', 'notificationsOut');
  new Counter({
    name: 'herald_bgp_route_refresh_received_total',
    help: 'ROUTE-REFRESH messages received, by kind: request (re-advertise a family, RFC 2918), borr or eorr (the peer\'s own re-advertisement begins or ends, RFC 7313).',
    labelNames: ['peer', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers) {
        const total = tallies.get(p.name)?.total;
        for (const [kind, key] of REFRESH_KINDS) this.inc({ peer: p.name, kind }, total?.[key] ?? 0);
      }
    },
  });
  perPeerCounter(
    'herald_bgp_route_refresh_answered_total',
    'Route refresh requests answered: the family was re-advertised and End-of-RIB (or, with Enhanced Route Refresh, EoRR) sent.',
    'refreshesAnswered',
  );
  perPeerGauge('herald_bgp_prefixes_announced', 'Prefixes announced to the peer (in its Adj-RIB-Out and sent).', (p) => p.prefixesAnnounced);
  perPeerGauge('herald_bgp_prefixes_pending', 'Prefix announcements or withdrawals waiting to be sent to the peer.', (p) => p.prefixesPending);
  perPeerGauge('herald_bgp_prefixes_received', 'Prefixes received from the peer (counted even with import nothing).', (p) => p.prefixesReceived);
  perPeerGauge('herald_bgp_received_bytes', "Estimated heap bytes of the peer's Adj-RIB-In (keys, and attributes with import all).", (p) => p.receivedBytes);
  perPeerCounter('herald_bgp_routes_rejected_total', 'Received routes not stored because of a limit (max_prefixes block, import_limits).', 'routesRejected');

  // ------------------------------------------------------------ BFD (peers with bfd only)
  const perBfdGauge = (name: string, help: string, value: (b: NonNullable<PeerSnapshot['bfd']>) => number | null): void =>
    perPeerGauge(name, help, (p) => (p.bfd ? value(p.bfd) : null));
  perBfdGauge('herald_bfd_session_up', "Whether the peer's BFD session is Up (1) or not (0).", (b) => (b.session?.state === 'Up' ? 1 : 0));
  new Gauge({
    name: 'herald_bfd_session_state',
    help: 'BFD session state (RFC 5880 §4.1): 1 for the state the session is in, 0 for the others; no series while the session is not running.',
    labelNames: ['peer', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of peers) {
        const st = p.bfd?.session?.state;
        if (st !== undefined) for (const s of BFD_STATES) this.set({ peer: p.name, state: s }, st === s ? 1 : 0);
      }
    },
  });
  perBfdGauge('herald_bfd_detection_time_seconds', 'Negotiated BFD Detection Time: the peer is declared down after this long without a packet (absent before its first packet).', (b) =>
    b.session?.detectionTimeMs != null ? b.session.detectionTimeMs / 1000 : null,
  );
  perBfdGauge('herald_bfd_tx_interval_seconds', 'Negotiated interval between our BFD packets.', (b) => (b.session ? b.session.txIntervalMs / 1000 : null));
  perBfdGauge('herald_bfd_tx_gap_max_seconds', 'Largest time between two BFD packets herald sent since the session came Up; near the peer\'s Detection Time means herald was too busy to keep its deadlines.', (b) =>
    b.session ? b.session.counters.txGapMaxMs / 1000 : null,
  );
  perBfdGauge('herald_bfd_rx_gap_max_seconds', 'Largest time between two BFD packets accepted from the peer since the session came Up.', (b) => (b.session ? b.session.counters.rxGapMaxMs / 1000 : null));
  perBfdGauge('herald_bfd_routes_held', 'Whether the Established BGP session holds its routes back until BFD is Up (1) or not (0).', (b) => (b.routesHeld ? 1 : 0));
  const bfdCounter = (name: string, help: string, key: BfdCounterKey): void => {
    new Counter({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [peer, t] of bfdTallies) this.inc({ peer }, t.total[key]);
      },
    });
  };
  new Counter({
    name: 'herald_bfd_transitions_total',
    help: 'BFD session transitions into Up (to="up") and out of Up (to="down").',
    labelNames: ['peer', 'to'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, t] of bfdTallies) {
        this.inc({ peer, to: 'up' }, t.total.upTransitions);
        this.inc({ peer, to: 'down' }, t.total.downTransitions);
      }
    },
  });
  bfdCounter('herald_bfd_packets_received_total', 'BFD Control packets accepted from the peer.', 'packetsIn');
  bfdCounter('herald_bfd_packets_sent_total', 'BFD Control packets sent to the peer.', 'packetsOut');
  bfdCounter('herald_bfd_packets_discarded_total', "BFD packets from the peer's address that were discarded (TTL, syntax, discriminator; docs/bfd.md lists the reasons).", 'discarded');

  new Counter({
    name: 'herald_bgp_connect_failures_total',
    help: 'Outgoing TCP connection attempts to the peer that failed.',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, t] of tallies) this.inc({ peer }, t.total.connectFailures);
    },
  });
  new Counter({
    name: 'herald_bgp_unknown_connections_total',
    help: 'Incoming TCP connections from addresses that are not configured peers (closed before any BGP).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(speakerStats.unknownConnections);
    },
  });
  new Counter({
    name: 'herald_bgp_unknown_connections_unlogged_total',
    help: 'Unknown connections from new addresses that got no log line of their own (rate limit: 10 a minute), counted in a summary line instead.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(speakerStats.unknownSuppressed);
    },
  });
  new Gauge({
    name: 'herald_bgp_unknown_addresses',
    help: 'Addresses of unknown connections herald remembers as already logged (bounded: at most 1024, least recently seen evicted first).',
    registers: [registry],
    collect() {
      this.set(speakerStats.unknownAddresses);
    },
  });
  new Counter({
    name: 'herald_bgp_md5_failures_total',
    help: 'TCP segments the kernel dropped for a wrong or missing TCP MD5 signature (RFC 2385), seen while a peer has a key.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(md5Failures);
    },
  });

  // ------------------------------------------------------------ services
  new Gauge({
    name: 'herald_service_up',
    help: 'Whether the service\'s health state is up (1) or not (0); a drained service can still be up.',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, s] of services) this.set({ service }, s.state === 'up' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'herald_service_state',
    help: 'Service health state: 1 for the state the service is in (up, down, maintenance), 0 for the others.',
    labelNames: ['service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, s] of services) for (const st of SERVICE_STATES) this.set({ service, state: st }, s.state === st ? 1 : 0);
    },
  });
  new Gauge({
    name: 'herald_service_state_since_timestamp_seconds',
    help: 'Unix time of the service\'s last state change (or of start-up).',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, s] of services) this.set({ service }, s.since / 1000);
    },
  });
  new Counter({
    name: 'herald_service_transitions_total',
    help: 'Service health state changes, by the state entered.',
    labelNames: ['service', 'to'],
    registers: [registry],
    collect() {
      this.reset();
      const names = new Set([...services.keys(), ...transitions.keys()]);
      for (const service of names) {
        const m = transitions.get(service);
        for (const to of SERVICE_STATES) this.inc({ service, to }, m?.get(to) ?? 0);
      }
    },
  });

  // ------------------------------------------------------------ LXD source
  // Registered only while the config has an `lxd` section (see refresh()):
  // an unlabelled prom-client metric always has a sample, and
  // `herald_lxd_up 0` on a host without LXD would page someone.
  const lxdGauge = (name: string, help: string, value: (s: LxdSourceState | null) => number): void => {
    lxdMetrics.push(
      new Gauge({
        name,
        help,
        registers: [],
        collect() {
          this.set(value(lxd.state));
        },
      }),
    );
  };
  lxdGauge('herald_lxd_up', 'Whether the last read of the LXD API succeeded (1) or not (0; also when the source could not start).', (s) => (s?.status === 'connected' ? 1 : 0));
  lxdGauge(
    'herald_lxd_unreachable_seconds',
    'How long LXD has been unreachable; 0 while it answers. The last known routes stay announced until unreachable_withdraw_after.',
    (s) => (s?.unreachableSince ? Math.max(0, (Date.now() - Date.parse(s.unreachableSince)) / 1000) : 0),
  );
  lxdGauge('herald_lxd_withdrawn_by_limit', 'Whether the LXD routes are withdrawn because LXD stayed unreachable longer than unreachable_withdraw_after (1) or not (0).', (s) =>
    s?.withdrawn ? 1 : 0,
  );
  lxdGauge('herald_lxd_events_connected', 'Whether the LXD lifecycle events websocket is connected (1) or not (0).', (s) => (s?.eventsConnected ? 1 : 0));
  lxdGauge('herald_lxd_instances', 'Instances in the last good read of the LXD API (every project read, every member).', (s) => s?.instances ?? 0);
  lxdGauge('herald_lxd_last_read_timestamp_seconds', 'Unix time of the last good read of the LXD API (0: none yet).', (s) => (s?.lastReadAt ? Date.parse(s.lastReadAt) / 1000 : 0));
  lxdGauge('herald_lxd_last_full_read_timestamp_seconds', 'Unix time of the last good read of everything (networks, projects, instances; 0: none yet).', (s) =>
    s?.lastFullReadAt ? Date.parse(s.lastFullReadAt) / 1000 : 0,
  );
  lxdGauge('herald_lxd_last_read_duration_seconds', 'How long the last good read of the LXD API and the derivation took.', (s) => (s?.lastReadMs ?? 0) / 1000);
  lxdMetrics.push(
    new Gauge({
      name: 'herald_lxd_routes',
      help: 'Routes the LXD source derived (handed to the reconciler) or skipped (not announced, with a reason in GET /v1/lxd).',
      labelNames: ['state'],
      registers: [],
      collect() {
        this.set({ state: 'derived' }, lxd.state?.routes ?? 0);
        this.set({ state: 'skipped' }, lxd.state?.skipped.length ?? 0);
      },
    }),
  );
  const lxdCounter = (name: string, help: string, value: (t: Record<LxdCounterKey, number>) => number): void => {
    lxdMetrics.push(
      new Counter({
        name,
        help,
        registers: [],
        collect() {
          this.reset();
          this.inc(value(lxdTally.total));
        },
      }),
    );
  };
  lxdCounter('herald_lxd_events_total', 'LXD lifecycle events received on the events websocket (relevant or not).', (t) => t.events);
  lxdCounter('herald_lxd_resyncs_total', 'Periodic full re-reads of the LXD API started by the resync timer (lxd.resync_interval).', (t) => t.resyncs);
  lxdCounter('herald_lxd_full_reads_total', 'Good reads of the whole LXD API (start, network events, reconnects, resyncs).', (t) => t.fullReads);
  lxdCounter('herald_lxd_reads_total', 'Reads of the LXD API started (a whole read, or the instances only after an instance event).', (t) => t.reads);
  lxdCounter('herald_lxd_read_failures_total', 'Reads of the LXD API that failed (LXD unreachable, or an error answer); the previous routes were kept.', (t) => t.failedReads);

  // ------------------------------------------------------------ control API
  new Gauge({
    name: 'herald_api_event_clients',
    help: 'Clients following GET /v1/events (routes watch) now.',
    registers: [registry],
    collect() {
      this.set(model.apiCounts?.eventClients ?? 0);
    },
  });
  new Counter({
    name: 'herald_api_events_dropped_clients_total',
    help: 'Event clients disconnected because they fell behind: more unsent bytes than the per-client cap (1 MiB).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(model.apiCounts?.eventClientsDropped ?? 0);
    },
  });
  new Counter({
    name: 'herald_api_event_clients_refused_total',
    help: 'Event clients refused with 503 because the most clients at once (64) were connected.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(model.apiCounts?.eventClientsRefused ?? 0);
    },
  });

  // ------------------------------------------------------------ reconciler and config
  new Counter({
    name: 'herald_reconcile_runs_total',
    help: 'Reconcile runs (merge every source\'s snapshot and plan each peer\'s set).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(model.reconciler.runs);
    },
  });
  new Counter({
    name: 'herald_reconcile_changes_total',
    help: 'Reconcile runs that changed at least one peer\'s desired route set.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(model.reconciler.changes);
    },
  });
  new Gauge({
    name: 'herald_reconcile_last_duration_seconds',
    help: 'How long the most recent reconcile run took.',
    registers: [registry],
    collect() {
      this.set(model.reconciler.lastDurationMs / 1000);
    },
  });
  new Counter({
    name: 'herald_config_reloads_total',
    help: 'Configuration reloads (SIGHUP or routes reload), by result: ok, or failed (the previous config stays in force).',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ result: 'ok' }, model.reloads.ok);
      this.inc({ result: 'failed' }, model.reloads.failed);
    },
  });

  // ------------------------------------------------------------ session engine
  // The engine thread keeps its own histogram (bgp/driver/lateness.ts) and
  // pushes it with the peer snapshots; it is exported as it is, bucket for
  // bucket, rather than re-observed here.
  registry.registerMetric(
    histogramMetric(
      'herald_engine_timer_lateness_seconds',
      'How long after its deadline each session engine timer (BGP keepalive, hold, connect; BFD) ran, on the engine thread.',
      function* () {
        const t = model.engine?.lateness?.() ?? null;
        if (t) yield { labels: {}, buckets: t.buckets.map((b) => ({ le: b.leMs / 1000, count: b.count })), count: t.count, sum: t.sumMs / 1000 };
      },
    ),
  );
  new Gauge({
    name: 'herald_engine_timer_lateness_max_seconds',
    help: 'The worst lateness of a session engine timer since start: how long after its deadline a keepalive, hold, connect or BFD timer ran.',
    registers: [registry],
    collect() {
      this.set((model.engine?.lateness?.()?.maxMs ?? 0) / 1000);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    render: () => {
      refresh();
      return registry.metrics();
    },
    detach() {
      for (const u of unsubscribe.splice(0)) u();
      speakerBound = null;
      healthBound = null;
    },
  };
}

/** One histogram series: labels, cumulative bucket counts by upper bound, count and sum. */
interface HistogramSeries {
  labels: Record<string, string>;
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

/**
 * A histogram as a prom-client metric object whose series are read at
 * scrape time from counts kept elsewhere (prom-client's Histogram can only
 * observe single values, each with a label lookup): the engine's timer
 * lateness (kept in the engine thread) and the check durations (kept as
 * plain numbers per probe). A series appears once `read` yields it.
 */
function histogramMetric(name: string, help: string, read: () => Iterable<HistogramSeries>): Parameters<Registry['registerMetric']>[0] {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const s of read()) {
        for (const b of s.buckets) values.push({ labels: { ...s.labels, le: b.le }, value: b.count, metricName: `${name}_bucket` });
        values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
        values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
        values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
    },
  };
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}

/** One service's probes of one check kind, as plain numbers (scraped into the metrics above). */
interface CheckTally {
  ok: number;
  fail: number;
  skipped: number;
  /** Durations per CHECK_BUCKETS bucket, not cumulative; above the last bound only in `count`. */
  buckets: number[];
  count: number;
  sumS: number;
}

const newCheckTally = (): CheckTally => ({ ok: 0, fail: 0, skipped: 0, buckets: CHECK_BUCKETS.map(() => 0), count: 0, sumS: 0 });

/** Healthz body: read-only counts from the same model. */
export function healthSummary(model: MetricsModel): { status: 'ok'; sessions: { established: number; total: number }; services: { up: number; total: number } } {
  const peers = model.engine?.snapshot() ?? [];
  const services = [...(model.health?.snapshot().values() ?? [])];
  return {
    status: 'ok',
    sessions: { established: peers.filter((p) => p.state === 'Established').length, total: peers.length },
    services: { up: services.filter((s) => s.state === 'up').length, total: services.length },
  };
}

/**
 * Serve `GET <path>` (metrics) and `GET /healthz` on `cfg.address:cfg.port`.
 * Only GET and HEAD are accepted (405 otherwise); nothing here changes state.
 */
export async function serveMetrics(metrics: Metrics, model: MetricsModel, cfg: MetricsConfig): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const head = req.method === 'HEAD';
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
      res.end(head ? undefined : body);
    };
    if (req.method !== 'GET' && !head) {
      send(405, 'text/plain; charset=utf-8', 'method not allowed: this listener is read-only\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (path === cfg.path) {
      metrics.render().then(
        (text) => send(200, metrics.contentType, text),
        (err: unknown) => send(500, 'text/plain; charset=utf-8', `cannot collect metrics: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      send(200, 'application/json', `${JSON.stringify(healthSummary(model))}\n`);
      return;
    }
    send(404, 'text/plain; charset=utf-8', `not found: try ${cfg.path} or /healthz\n`);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: cfg.address, port: cfg.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    metrics,
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Build the daemon's metrics and, when its config has a `metrics` section, start the listener (read at start; a reload does not move it). */
export async function startMetrics(model: MetricsModel, opts: MetricsOptions = {}): Promise<MetricsHandle> {
  const metrics = createMetrics(model, opts);
  const cfg = model.config?.metrics ?? null;
  let server: MetricsServer | null = null;
  if (cfg) {
    try {
      server = await serveMetrics(metrics, model, cfg);
      const a = server.address();
      opts.log?.info({ address: a.address, port: a.port, path: cfg.path }, 'metrics listening');
    } catch (e) {
      const msg = `cannot serve metrics on ${cfg.address}:${cfg.port}: ${(e as Error).message}`;
      if (!opts.log) {
        metrics.detach();
        throw new Error(msg);
      }
      opts.log.error({ address: cfg.address, port: cfg.port, err: (e as Error).message }, `${msg}; running without the metrics listener`);
    }
  }
  return {
    metrics,
    server,
    async close() {
      metrics.detach();
      await server?.close();
    },
  };
}
