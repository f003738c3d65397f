// src/metrics: the scraped text parses with an independent strict parser,
// every family is herald_*, typed and documented, counters end in _total;
// counters move (and never go backwards) as a session and a service flap,
// on a fake model with the daemon's shape; the listener is read-only.
// (daemon.test.ts does the same against a real Daemon in a namespace.)
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LatenessRecorder, zeroPeerCounters, type PeerSnapshot, type SpeakerEvent, type SpeakerStats, type TimerLateness } from '../../../bgp/index.js';
import { createMetrics, serveMetrics, startMetrics, type MetricsHandle, type MetricsModel } from '../../../src/metrics.js';
import type { Check, RoundEvent, ServiceSnapshot, Transition } from '../../../src/sources/health/index.js';
import type { LxdSourceState } from '../../../src/sources/lxd/index.js';
import type { ApiCounts } from '../../../src/state/index.js';
import { PromParseError, namingProblems, parseProm, sampleValue, type Family } from './prom-text.js';

// ------------------------------------------------------------ the parser itself

describe('prom-text parser', () => {
  it('accepts a well-formed exposition and rejects what the format forbids', () => {
    const good = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1\\"2"} 3\n';
    expect(sampleValue(parseProm(good), 'a_total', { x: '1"2' })).toBe(3);
    const bad = [
      'a_total 1\n', // no TYPE
      '# TYPE a counter\n# TYPE a counter\na 1\n', // TYPE twice
      '# TYPE a gauge\na{b="c} 1\n', // unterminated label value
      '# TYPE a gauge\na{b="\\q"} 1\n', // bad escape
      '# TYPE a gauge\na 1\na 2\n', // duplicate series
      '# TYPE a gauge\na one\n', // bad value
      '# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n', // family split
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // decreasing buckets
      '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 2\n', // +Inf != count
      '# TYPE c counter\nc_sum 1\n', // counter with a histogram suffix
      '# TYPE a gauge\na 1', // no final newline
    ];
    for (const t of bad) expect(() => parseProm(t), JSON.stringify(t)).toThrow(PromParseError);
  });
});

// ------------------------------------------------------------ a fake daemon

const counters = (): PeerSnapshot['counters'] => zeroPeerCounters();

function peerSnap(name: string, over: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return {
    name,
    instance: 0,
    address: '192.0.2.1',
    peerAs: 65001,
    localAs: 65000,
    state: 'Idle',
    uptimeMs: 0,
    passive: false,
    localAddress: null,
    families: ['ipv4'],
    holdTime: null,
    keepaliveTime: null,
    peerBgpId: null,
    peerHostname: null,
    lastDown: null,
    lastConnectError: null,
    counters: counters(),
    prefixesAnnounced: 0,
    prefixesPending: 0,
    prefixesReceived: 0,
    receivedBytes: 0,
    receiveLimit: null,
    endOfRibReceived: [],
    md5: false,
    heldDownMs: null,
    adminDown: null,
    bfd: null,
    ...over,
  };
}

/** The engine as the metrics see it: snapshots of mutable peers; re-adding a name makes a new instance. */
class FakeSpeaker {
  readonly peers = new Map<string, { snap: PeerSnapshot }>();
  private readonly fns = new Set<(e: SpeakerEvent) => void>();
  private instances = 0;
  timers: TimerLateness | null = null;
  lateness(): TimerLateness | null {
    return this.timers;
  }
  add(s: PeerSnapshot): PeerSnapshot {
    s.instance = ++this.instances;
    this.peers.set(s.name, { snap: s });
    return s;
  }
  on(fn: (e: SpeakerEvent) => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  emit(e: SpeakerEvent): void {
    for (const fn of this.fns) fn(e);
  }
  snapshot(): PeerSnapshot[] {
    return [...this.peers.values()].map((p) => structuredClone(p.snap));
  }
  unknown = { unknownConnections: 0, unknownAddresses: 0, unknownSuppressed: 0 };
  stats(): SpeakerStats {
    return { ...this.unknown };
  }
  listeners(): number {
    return this.fns.size;
  }
}

class FakeHealth {
  readonly states = new Map<string, ServiceSnapshot>();
  private readonly change = new Set<(t: Transition) => void>();
  private readonly round = new Set<(r: RoundEvent) => void>();
  snapshot(): Map<string, ServiceSnapshot> {
    return new Map(this.states);
  }
  on(event: 'change', fn: (t: Transition) => void): () => void;
  on(event: 'round', fn: (r: RoundEvent) => void): () => void;
  on(event: 'change' | 'round', fn: ((t: Transition) => void) | ((r: RoundEvent) => void)): () => void {
    const set = (event === 'change' ? this.change : this.round) as Set<typeof fn>;
    set.add(fn);
    return () => set.delete(fn);
  }
  /** Move a service to `to`, emitting the transition as ServiceHealth does. */
  flip(service: string, to: ServiceSnapshot['state']): void {
    const from = this.states.get(service)?.state ?? 'down';
    this.states.set(service, { state: to, since: 1_700_000_000_000, lastResults: [] });
    for (const fn of this.change) fn({ service, from, to, reason: 'test', results: [] });
  }
  probe(service: string, results: { ok: boolean; latencyMs: number; skipped?: boolean }[]): void {
    const reports = results.map((r, index) => ({
      index,
      check: `tcp 192.0.2.1:${index + 1}`,
      result: { ok: r.ok, detail: 'x', latencyMs: r.latencyMs },
      at: 0,
      ...(r.skipped ? { skipped: true } : {}),
    }));
    const state = this.states.get(service)?.state ?? 'down';
    for (const fn of this.round) fn({ service, ok: results.every((r) => r.ok), adminDown: false, state, pending: 0, nextInMs: 1000, reports });
  }
}

function fakeModel(): MetricsModel & { apiCounts: ApiCounts; engine: FakeSpeaker; health: FakeHealth; reconciler: { runs: number; changes: number; lastDurationMs: number }; reloads: { ok: number; failed: number } } {
  const dnsChecks: Check[] = [
    { kind: 'tcp', address: '192.0.2.1', port: 53, timeoutMs: 500 },
    { kind: 'http', url: 'http://192.0.2.1/', timeoutMs: 500 } as unknown as Check,
  ];
  return {
    engine: new FakeSpeaker(),
    health: new FakeHealth(),
    reconciler: { runs: 0, changes: 0, lastDurationMs: 0 },
    reloads: { ok: 0, failed: 0 },
    config: { metrics: null, services: [{ name: 'dns', checks: dnsChecks }] },
    apiCounts: { eventClients: 0, eventClientsMax: 64, eventClientsDropped: 0, eventClientsRefused: 0 },
  };
}

async function scrape(m: { render(): Promise<string> }): Promise<Map<string, Family>> {
  const fams = parseProm(await m.render());
  expect(namingProblems(fams)).toEqual([]);
  return fams;
}

describe('metrics on a fake daemon model', () => {
  it('renders every family typed, documented and herald_-named; peers, services, reconciler, reloads and build info', async () => {
    const model = fakeModel();
    model.engine.add(peerSnap('r1', { state: 'Established', uptimeMs: 12_500, prefixesAnnounced: 2, prefixesReceived: 7, prefixesPending: 1 }));
    model.engine.add(peerSnap('r2', { state: 'Active', address: '2001:db8::1' }));
    model.health.states.set('dns', { state: 'up', since: 1_700_000_000_000, lastResults: [] });
    model.reconciler.runs = 5;
    model.reconciler.changes = 2;
    model.reconciler.lastDurationMs = 3;
    model.reloads.ok = 1;
    model.reloads.failed = 2;
    const m = createMetrics(model);
    const f = await scrape(m);

    for (const name of [
      'herald_build_info',
      'herald_bgp_session_state',
      'herald_bgp_session_up',
      'herald_bgp_session_uptime_seconds',
      'herald_bgp_session_flaps_total',
      'herald_bgp_messages_received_total',
      'herald_bgp_updates_sent_total',
      'herald_bgp_prefixes_announced',
      'herald_service_up',
      'herald_service_transitions_total',
      'herald_check_duration_seconds',
      'herald_reconcile_runs_total',
      'herald_reconcile_last_duration_seconds',
      'herald_config_reloads_total',
      'herald_process_cpu_seconds_total',
    ]) {
      expect(f.has(name), name).toBe(true);
    }
    const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(sampleValue(f, 'herald_build_info', { version, node_version: process.version })).toBe(1);
    expect(f.get('herald_bgp_session_flaps_total')!.type).toBe('counter');
    expect(f.get('herald_check_duration_seconds')!.type).toBe('histogram');

    // Exactly one state is 1 per peer.
    for (const peer of ['r1', 'r2']) {
      const states = f.get('herald_bgp_session_state')!.samples.filter((s) => s.labels.peer === peer);
      expect(states).toHaveLength(6);
      expect(states.filter((s) => s.value === 1)).toHaveLength(1);
    }
    expect(sampleValue(f, 'herald_bgp_session_state', { peer: 'r1', state: 'Established' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_state', { peer: 'r2', state: 'Active' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r2' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_session_uptime_seconds', { peer: 'r1' })).toBe(12.5);
    expect(sampleValue(f, 'herald_bgp_prefixes_announced', { peer: 'r1' })).toBe(2);
    expect(sampleValue(f, 'herald_bgp_prefixes_received', { peer: 'r1' })).toBe(7);
    expect(sampleValue(f, 'herald_bgp_prefixes_pending', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_peer_info', { peer: 'r2', address: '2001:db8::1', peer_as: '65001', local_as: '65000' })).toBe(1);
    expect(sampleValue(f, 'herald_service_up', { service: 'dns' })).toBe(1);
    expect(sampleValue(f, 'herald_service_state', { service: 'dns', state: 'up' })).toBe(1);
    expect(sampleValue(f, 'herald_service_state', { service: 'dns', state: 'maintenance' })).toBe(0);
    expect(sampleValue(f, 'herald_service_state_since_timestamp_seconds', { service: 'dns' })).toBe(1_700_000_000);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' })).toBe(0);
    expect(sampleValue(f, 'herald_reconcile_runs_total')).toBe(5);
    expect(sampleValue(f, 'herald_reconcile_changes_total')).toBe(2);
    expect(sampleValue(f, 'herald_reconcile_last_duration_seconds')).toBe(0.003);
    expect(sampleValue(f, 'herald_config_reloads_total', { result: 'ok' })).toBe(1);
    expect(sampleValue(f, 'herald_config_reloads_total', { result: 'failed' })).toBe(2);
    m.detach();
  });

  it('moves the session counters as a session flaps, and never backwards when the peer object is re-created', async () => {
    const model = fakeModel();
    const r1 = model.engine.add(peerSnap('r1', { state: 'Established', uptimeMs: 1000 }));
    r1.counters.messagesIn = 10;
    r1.counters.updatesOut = 4;
    r1.counters.establishedTransitions = 1;
    const m = createMetrics(model, { defaultMetrics: false });
    let f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_messages_received_total', { peer: 'r1' })).toBe(10);

    // The session drops: Established -> Idle, one flap.
    r1.state = 'Idle';
    r1.uptimeMs = 0;
    r1.counters.flaps = 1;
    r1.counters.messagesIn = 11;
    r1.counters.notificationsIn = 1;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_session_uptime_seconds', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_notifications_received_total', { peer: 'r1' })).toBe(1);

    // It comes back.
    r1.state = 'Established';
    r1.counters.establishedTransitions = 2;
    r1.counters.messagesIn = 14;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_established_total', { peer: 'r1' })).toBe(2);
    expect(sampleValue(f, 'herald_bgp_messages_received_total', { peer: 'r1' })).toBe(14);

    // A reload re-creates the peer: its counters start again from zero, ours do not.
    const again = model.engine.add(peerSnap('r1', { state: 'Established' }));
    again.counters.messagesIn = 3;
    again.counters.flaps = 0;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_messages_received_total', { peer: 'r1' })).toBe(17);
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_updates_sent_total', { peer: 'r1' })).toBe(4);

    // Removed: its series go; re-added later: it resumes from its totals.
    model.engine.peers.delete('r1');
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r1' })).toBeUndefined();
    expect(sampleValue(f, 'herald_bgp_messages_received_total', { peer: 'r1' })).toBeUndefined();
    const third = model.engine.add(peerSnap('r1'));
    third.counters.messagesIn = 1;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_messages_received_total', { peer: 'r1' })).toBe(18);
    m.detach();
  });

  it('counts route refreshes received by kind and answered, and never backwards when the peer object is re-created', async () => {
    const model = fakeModel();
    const r1 = model.engine.add(peerSnap('r1', { state: 'Established' }));
    const m = createMetrics(model, { defaultMetrics: false });
    let f = await scrape(m);
    for (const kind of ['request', 'borr', 'eorr']) expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_route_refresh_answered_total', { peer: 'r1' })).toBe(0);

    // Two requests, one answered so far; the peer ran one enhanced refresh of its own.
    r1.counters.refreshRequestsIn = 2;
    r1.counters.refreshesAnswered = 1;
    r1.counters.refreshBorrIn = 1;
    r1.counters.refreshEorrIn = 1;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind: 'request' })).toBe(2);
    expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind: 'borr' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind: 'eorr' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_route_refresh_answered_total', { peer: 'r1' })).toBe(1);

    // A reload re-creates the peer: its counters restart at zero, the exported totals keep counting.
    const again = model.engine.add(peerSnap('r1', { state: 'Established' }));
    again.counters.refreshRequestsIn = 1;
    again.counters.refreshesAnswered = 1;
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind: 'request' })).toBe(3);
    expect(sampleValue(f, 'herald_bgp_route_refresh_received_total', { peer: 'r1', kind: 'borr' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_route_refresh_answered_total', { peer: 'r1' })).toBe(2);
    m.detach();
  });

  it('BFD: series only for peers with BFD; state, timers, routes held; counters never backwards when the BFD session is re-created', async () => {
    const model = fakeModel();
    const session = (discr: number, over: Partial<NonNullable<NonNullable<PeerSnapshot['bfd']>['session']>> = {}): NonNullable<NonNullable<PeerSnapshot['bfd']>['session']> => ({
      name: 'r1', peer: '192.0.2.1', local: null, multihop: false, minTtl: 255, passive: false, state: 'Up', remoteState: 'Up',
      localDiag: 0, localDiagName: 'NoDiagnostic', remoteDiag: 0, remoteDiagName: 'NoDiagnostic', localDiscriminator: discr, remoteDiscriminator: 9, sourcePort: 49200,
      desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3, remote: { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3, demand: false },
      txIntervalMs: 100, rxIntervalMs: 100, detectionTimeMs: 300, pollActive: false, uptimeMs: 1000, lastDown: null,
      counters: { packetsIn: 50, packetsOut: 52, discards: { ttl: 2, version: 1 } as never, upTransitions: 1, downTransitions: 0, pollsCompleted: 1, sendErrors: 0, txGapMaxMs: 0, rxGapMaxMs: 0, lateDetections: 0 },
      ...over,
    });
    const r1 = model.engine.add(peerSnap('r1', { state: 'Established', bfd: { session: session(7), error: null, routesHeld: false, heldMs: 0, unprotected: false, waitUpMs: 10_000 } }));
    model.engine.add(peerSnap('r2'));
    const m = createMetrics(model, { defaultMetrics: false });
    let f = await scrape(m);
    expect(sampleValue(f, 'herald_bfd_session_up', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bfd_session_up', { peer: 'r2' })).toBeUndefined();
    expect(sampleValue(f, 'herald_bfd_session_state', { peer: 'r1', state: 'Up' })).toBe(1);
    expect(sampleValue(f, 'herald_bfd_session_state', { peer: 'r1', state: 'Down' })).toBe(0);
    expect(sampleValue(f, 'herald_bfd_detection_time_seconds', { peer: 'r1' })).toBe(0.3);
    expect(sampleValue(f, 'herald_bfd_tx_interval_seconds', { peer: 'r1' })).toBe(0.1);
    expect(sampleValue(f, 'herald_bfd_routes_held', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bfd_packets_received_total', { peer: 'r1' })).toBe(50);
    expect(sampleValue(f, 'herald_bfd_packets_sent_total', { peer: 'r1' })).toBe(52);
    expect(sampleValue(f, 'herald_bfd_packets_discarded_total', { peer: 'r1' })).toBe(3);
    expect(sampleValue(f, 'herald_bfd_transitions_total', { peer: 'r1', to: 'up' })).toBe(1);
    expect(f.get('herald_bfd_transitions_total')!.type).toBe('counter');

    // Down, then a new BFD session (a config change): its counters start at zero, the totals keep counting.
    r1.bfd = { session: session(7, { state: 'Down', detectionTimeMs: null, counters: { ...session(7).counters, packetsIn: 60, downTransitions: 1 } }), error: null, routesHeld: true, heldMs: 5, unprotected: false, waitUpMs: 10_000 };
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bfd_session_up', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bfd_detection_time_seconds', { peer: 'r1' })).toBeUndefined();
    expect(sampleValue(f, 'herald_bfd_routes_held', { peer: 'r1' })).toBe(1);
    expect(sampleValue(f, 'herald_bfd_transitions_total', { peer: 'r1', to: 'down' })).toBe(1);
    r1.bfd = { session: session(8, { counters: { packetsIn: 4, packetsOut: 4, discards: {} as never, upTransitions: 1, downTransitions: 0, pollsCompleted: 0, sendErrors: 0, txGapMaxMs: 0, rxGapMaxMs: 0, lateDetections: 0 } }), error: null, routesHeld: false, heldMs: 0, unprotected: false, waitUpMs: 10_000 };
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bfd_packets_received_total', { peer: 'r1' })).toBe(64);
    expect(sampleValue(f, 'herald_bfd_transitions_total', { peer: 'r1', to: 'up' })).toBe(2);
    // Not running (waiting for a source address): no state series.
    r1.bfd = { session: null, error: 'waiting', routesHeld: false, heldMs: 0, unprotected: false, waitUpMs: 10_000 };
    f = await scrape(m);
    expect(sampleValue(f, 'herald_bfd_session_up', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bfd_session_state', { peer: 'r1', state: 'Up' })).toBeUndefined();
    m.detach();
  });

  it('counts connect failures from the peer counters, unknown connections from the speaker stats and TCP MD5 failures from events', async () => {
    const model = fakeModel();
    const r1 = model.engine.add(peerSnap('r1'));
    const r2 = model.engine.add(peerSnap('r2'));
    const m = createMetrics(model, { defaultMetrics: false });
    r1.counters.connectFailures = 2;
    r2.adminDown = { at: 1, message: 'maintenance' };
    model.engine.unknown = { unknownConnections: 5000, unknownAddresses: 1024, unknownSuppressed: 4990 };
    model.engine.emit({ type: 'md5-failure', peer: 'r1', count: 3 });
    model.apiCounts = { eventClients: 2, eventClientsMax: 64, eventClientsDropped: 1, eventClientsRefused: 3 };
    const f = await scrape(m);
    expect(sampleValue(f, 'herald_api_event_clients')).toBe(2);
    expect(sampleValue(f, 'herald_api_events_dropped_clients_total')).toBe(1);
    expect(sampleValue(f, 'herald_api_event_clients_refused_total')).toBe(3);
    expect(sampleValue(f, 'herald_bgp_connect_failures_total', { peer: 'r1' })).toBe(2);
    expect(sampleValue(f, 'herald_bgp_unknown_connections_total')).toBe(5000);
    expect(sampleValue(f, 'herald_bgp_unknown_connections_unlogged_total')).toBe(4990);
    expect(sampleValue(f, 'herald_bgp_unknown_addresses')).toBe(1024);
    expect(sampleValue(f, 'herald_bgp_peer_admin_down', { peer: 'r1' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_peer_admin_down', { peer: 'r2' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_md5_failures_total')).toBe(3);
    m.detach();
    expect(model.engine.listeners()).toBe(0);
  });

  it('moves service transitions and check latency as a service flaps', async () => {
    const model = fakeModel();
    model.health.states.set('dns', { state: 'down', since: 0, lastResults: [] });
    const m = createMetrics(model, { defaultMetrics: false });
    model.health.probe('dns', [
      { ok: true, latencyMs: 3 },
      { ok: true, latencyMs: 40 },
    ]);
    model.health.flip('dns', 'up');
    let f = await scrape(m);
    expect(sampleValue(f, 'herald_service_up', { service: 'dns' })).toBe(1);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'up' })).toBe(1);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' })).toBe(0);
    expect(sampleValue(f, 'herald_check_duration_seconds_count', { service: 'dns', check_kind: 'tcp' })).toBe(1);
    expect(sampleValue(f, 'herald_check_duration_seconds_bucket', { service: 'dns', check_kind: 'tcp', le: '0.005' })).toBe(1);
    expect(sampleValue(f, 'herald_check_duration_seconds_bucket', { service: 'dns', check_kind: 'http', le: '0.025' })).toBe(0);
    expect(sampleValue(f, 'herald_check_duration_seconds_bucket', { service: 'dns', check_kind: 'http', le: '0.05' })).toBe(1);
    expect(sampleValue(f, 'herald_check_duration_seconds_sum', { service: 'dns', check_kind: 'http' })).toBeCloseTo(0.04);

    // Fails: a failing round, a skipped probe (not timed), then down.
    model.health.probe('dns', [
      { ok: false, latencyMs: 500 },
      { ok: false, latencyMs: 0, skipped: true },
    ]);
    model.health.flip('dns', 'down');
    model.health.flip('dns', 'up');
    model.health.flip('dns', 'maintenance');
    f = await scrape(m);
    expect(sampleValue(f, 'herald_service_up', { service: 'dns' })).toBe(0);
    expect(sampleValue(f, 'herald_service_state', { service: 'dns', state: 'maintenance' })).toBe(1);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'up' })).toBe(2);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' })).toBe(1);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'maintenance' })).toBe(1);
    expect(sampleValue(f, 'herald_check_duration_seconds_count', { service: 'dns', check_kind: 'tcp' })).toBe(2);
    expect(sampleValue(f, 'herald_check_duration_seconds_count', { service: 'dns', check_kind: 'http' })).toBe(1);
    expect(sampleValue(f, 'herald_check_results_total', { service: 'dns', check_kind: 'tcp', result: 'fail' })).toBe(1);
    expect(sampleValue(f, 'herald_check_results_total', { service: 'dns', check_kind: 'http', result: 'skipped' })).toBe(1);
    m.detach();
  });

  it('exports the engine timer lateness histogram bucket for bucket, and its maximum; nothing before the engine reports', async () => {
    const model = fakeModel();
    const m = createMetrics(model, { defaultMetrics: false });
    let f = await scrape(m);
    expect(f.get('herald_engine_timer_lateness_seconds')?.samples ?? []).toEqual([]);
    expect(sampleValue(f, 'herald_engine_timer_lateness_max_seconds', {})).toBe(0);
    const r = new LatenessRecorder();
    for (const ms of [0.3, 0.8, 1.5, 40, 40, 700]) r.record(ms, 1_000);
    model.engine.timers = r.snapshot();
    f = await scrape(m);
    expect(f.get('herald_engine_timer_lateness_seconds')!.type).toBe('histogram');
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '0.001' })).toBe(2);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '0.002' })).toBe(3);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '0.05' })).toBe(5);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '0.5' })).toBe(5);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '1' })).toBe(6);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_bucket', { le: '+Inf' })).toBe(6);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_count', {})).toBe(6);
    expect(sampleValue(f, 'herald_engine_timer_lateness_seconds_sum', {})).toBeCloseTo(0.7826, 6);
    expect(sampleValue(f, 'herald_engine_timer_lateness_max_seconds', {})).toBe(0.7);
  });

  it('subscribes to a health source that appears after the metrics were built', async () => {
    const model = fakeModel();
    const late = { ...model, health: null as FakeHealth | null };
    const m = createMetrics(late, { defaultMetrics: false });
    expect(sampleValue(await scrape(m), 'herald_service_up', { service: 'dns' })).toBeUndefined();
    late.health = model.health;
    model.health.states.set('dns', { state: 'down', since: 0, lastResults: [] });
    await m.render(); // attaches
    model.health.flip('dns', 'up');
    expect(sampleValue(await scrape(m), 'herald_service_transitions_total', { service: 'dns', to: 'up' })).toBe(1);
    m.detach();
  });

  it('LXD source: no herald_lxd_* without an lxd section; up, unreachable, withdrawn, routes; counters survive a re-created source', async () => {
    const st = (over: Partial<LxdSourceState> = {}): LxdSourceState => ({
      status: 'connected', endpoint: '/var/snap/lxd/common/lxd/unix.socket', serverName: 'hv1', clustered: false, eventsConnected: true,
      reads: 5, failedReads: 1, events: 40, publishes: 2, lastReadAt: '2024-05-01T10:00:00.000Z', lastFullReadAt: '2024-05-01T09:00:00.000Z',
      lastReadMs: 250, fullReads: 3, resyncs: 2, instances: 7, chassisName: 'hv1', announceFrom: 'all-members', lastError: null,
      unreachableSince: null, withdrawn: false, routes: 4, skipped: [{ prefix: '198.51.100.11/32', reason: 'x', origin: { project: 'default', rule: 'routes.external' } }],
      ...over,
    });
    const base = fakeModel();
    let cur = st();
    const model = { ...base, config: { ...base.config!, lxd: null as object | null }, lxd: null as { state(): LxdSourceState } | null };
    const m = createMetrics(model, { defaultMetrics: false });
    expect([...(await scrape(m)).keys()].filter((n) => n.startsWith('herald_lxd'))).toEqual([]);

    // Configured, but the source could not start: down, nothing else moves.
    model.config.lxd = {};
    let f = await scrape(m);
    expect(sampleValue(f, 'herald_lxd_up')).toBe(0);
    expect(sampleValue(f, 'herald_lxd_routes', { state: 'derived' })).toBe(0);
    expect(sampleValue(f, 'herald_lxd_reads_total')).toBe(0);

    const src1 = { state: () => cur };
    model.lxd = src1;
    f = await scrape(m);
    for (const [name, type] of [
      ['herald_lxd_up', 'gauge'], ['herald_lxd_unreachable_seconds', 'gauge'], ['herald_lxd_withdrawn_by_limit', 'gauge'], ['herald_lxd_events_connected', 'gauge'],
      ['herald_lxd_instances', 'gauge'], ['herald_lxd_last_read_timestamp_seconds', 'gauge'], ['herald_lxd_last_full_read_timestamp_seconds', 'gauge'],
      ['herald_lxd_last_read_duration_seconds', 'gauge'], ['herald_lxd_routes', 'gauge'], ['herald_lxd_events_total', 'counter'], ['herald_lxd_resyncs_total', 'counter'],
      ['herald_lxd_full_reads_total', 'counter'], ['herald_lxd_reads_total', 'counter'], ['herald_lxd_read_failures_total', 'counter'],
    ] as const) {
      expect(f.get(name)?.type, name).toBe(type);
    }
    expect(sampleValue(f, 'herald_lxd_up')).toBe(1);
    expect(sampleValue(f, 'herald_lxd_unreachable_seconds')).toBe(0);
    expect(sampleValue(f, 'herald_lxd_routes', { state: 'derived' })).toBe(4);
    expect(sampleValue(f, 'herald_lxd_routes', { state: 'skipped' })).toBe(1);
    expect(sampleValue(f, 'herald_lxd_instances')).toBe(7);
    expect(sampleValue(f, 'herald_lxd_last_read_timestamp_seconds')).toBe(Date.parse('2024-05-01T10:00:00.000Z') / 1000);
    expect(sampleValue(f, 'herald_lxd_last_read_duration_seconds')).toBe(0.25);
    expect(sampleValue(f, 'herald_lxd_events_total')).toBe(40);
    expect(sampleValue(f, 'herald_lxd_resyncs_total')).toBe(2);
    expect(sampleValue(f, 'herald_lxd_read_failures_total')).toBe(1);

    // Unreachable for 30 s, then withdrawn by the limit.
    cur = st({ status: 'unreachable', unreachableSince: new Date(Date.now() - 30_000).toISOString(), failedReads: 3, reads: 7, eventsConnected: false });
    f = await scrape(m);
    expect(sampleValue(f, 'herald_lxd_up')).toBe(0);
    expect(sampleValue(f, 'herald_lxd_unreachable_seconds')).toBeGreaterThanOrEqual(30);
    expect(sampleValue(f, 'herald_lxd_unreachable_seconds')).toBeLessThan(35);
    expect(sampleValue(f, 'herald_lxd_withdrawn_by_limit')).toBe(0);
    expect(sampleValue(f, 'herald_lxd_events_connected')).toBe(0);
    cur = { ...cur, withdrawn: true, routes: 0 };
    f = await scrape(m);
    expect(sampleValue(f, 'herald_lxd_withdrawn_by_limit')).toBe(1);
    expect(sampleValue(f, 'herald_lxd_routes', { state: 'derived' })).toBe(0);
    expect(sampleValue(f, 'herald_lxd_read_failures_total')).toBe(3);

    // A reload re-creates the source: its counters start from zero, ours keep counting.
    cur = st({ reads: 1, failedReads: 0, events: 2, resyncs: 0, fullReads: 1 });
    model.lxd = { state: () => cur };
    f = await scrape(m);
    expect(sampleValue(f, 'herald_lxd_reads_total')).toBe(8);
    expect(sampleValue(f, 'herald_lxd_events_total')).toBe(42);
    expect(sampleValue(f, 'herald_lxd_read_failures_total')).toBe(3);

    // The lxd section removed: the series go away.
    model.config.lxd = null;
    model.lxd = null;
    expect([...(await scrape(m)).keys()].filter((n) => n.startsWith('herald_lxd'))).toEqual([]);
    m.detach();
  });
});

// ------------------------------------------------------------ the listener

describe('metrics listener', () => {
  let handle: MetricsHandle | null = null;
  afterEach(async () => {
    await handle?.close();
    handle = null;
  });

  it('serves <path> and /healthz read-only; other methods get 405, other paths 404', async () => {
    const model = fakeModel();
    model.engine.add(peerSnap('r1', { state: 'Established' }));
    model.engine.add(peerSnap('r2'));
    model.health.states.set('dns', { state: 'up', since: 0, lastResults: [] });
    const withCfg = { ...model, config: { ...model.config!, metrics: { address: '127.0.0.1', port: 0, path: '/prom' } } };
    handle = await startMetrics(withCfg, { defaultMetrics: false });
    const base = `http://127.0.0.1:${handle.server!.address().port}`;

    const r = await fetch(`${base}/prom?x=1`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const f = parseProm(await r.text());
    expect(namingProblems(f)).toEqual([]);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'r1' })).toBe(1);

    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok', sessions: { established: 1, total: 2 }, services: { up: 1, total: 1 } });

    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      for (const path of ['/prom', '/healthz', '/v1/reload', '/']) {
        const res = await fetch(`${base}${path}`, { method, body: method === 'DELETE' ? null : '{}' });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
    }
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/v1/peers`)).status).toBe(404);
    expect(model.reloads).toEqual({ ok: 0, failed: 0 });
  });

  it('refuses to start on a port already taken, naming the address', async () => {
    const model = fakeModel();
    const m = createMetrics(model, { defaultMetrics: false });
    const first = await serveMetrics(m, model, { address: '127.0.0.1', port: 0, path: '/metrics' });
    const port = first.address().port;
    const withCfg = { ...model, config: { ...model.config!, metrics: { address: '127.0.0.1', port, path: '/metrics' } } };
    await expect(startMetrics(withCfg, { defaultMetrics: false })).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port}`);
    await first.close();
    m.detach();
  });

  it('starts no listener when config has no metrics section', async () => {
    handle = await startMetrics(fakeModel(), { defaultMetrics: false });
    expect(handle.server).toBeNull();
    expect(await handle.metrics.render()).toContain('herald_build_info');
  });
});
