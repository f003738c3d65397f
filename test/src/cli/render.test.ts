// Table and text rendering of the routes CLI: widths fit the terminal, no
// colour unless asked, the shapes each renderer prints.
import { zeroPeerCounters } from '../../../bgp/index.js';
import { describe, expect, it } from 'vitest';
import {
  columnWidths,
  duration,
  renderEvent,
  renderExplain,
  renderLxd,
  renderPeers,
  renderServices,
  renderSummary,
  renderTable,
  routeRow,
  truncate,
} from '../../../src/cli/render.js';
import type { ExplainState, LxdSummaryState, PeerState, RouteState, ServiceState, SummaryState } from '../../../src/state/index.js';

const plain = { width: null, colour: false } as const;
const ESC = '\x1b[';

describe('renderTable', () => {
  const rows = [
    ['up1', '192.0.2.1', 'Established'],
    ['a-very-long-peer-name-indeed', '2001:db8::1', 'Active'],
  ];

  it('aligns columns to the widest cell without trailing spaces', () => {
    const t = renderTable(['PEER', 'ADDRESS', 'STATE'], rows, plain);
    const lines = t.trimEnd().split('\n');
    expect(lines[0]).toBe('PEER                          ADDRESS      STATE');
    expect(lines[1]).toBe('up1                           192.0.2.1    Established');
    expect(lines.every((l) => l === l.trimEnd())).toBe(true);
    expect(t).not.toContain(ESC);
  });

  it('shrinks the rightmost columns first, with an ellipsis, to fit the terminal', () => {
    const t = renderTable(['PEER', 'ADDRESS', 'STATE'], rows, { width: 44, colour: false });
    for (const l of t.trimEnd().split('\n')) expect(l.length).toBeLessThanOrEqual(44);
    expect(t).toContain('a-very-long-peer-name-indeed');
    expect(t).toContain('Estab…');
    expect(columnWidths(['A', 'B', 'C'], [['x'.repeat(30), 'y'.repeat(30), 'z'.repeat(30)]], 40)).toEqual([24, 6, 6]); // 24 + 6 + 6 + two gaps of 2
  });

  it('does not shrink when the width is unknown (piped output)', () => {
    expect(columnWidths(['A'], [['x'.repeat(500)]], null)).toEqual([500]);
  });

  it('colours only when asked', () => {
    const t = renderTable(['S'], [[{ text: 'up', colour: 'green' }]], { width: 80, colour: true });
    expect(t).toContain(`${ESC}32mup${ESC}0m`);
    expect(renderTable(['S'], [[{ text: 'up', colour: 'green' }]], plain)).toBe('S\nup\n');
  });

  it('truncate and duration', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(duration(12_400)).toBe('12s');
    expect(duration(5 * 60_000 + 2_000)).toBe('5m02s');
    expect(duration(2 * 3600_000 + 13 * 60_000)).toBe('2h13m');
    expect(duration(3 * 86400_000 + 4 * 3600_000)).toBe('3d04h');
  });
});

const summary: SummaryState = {
  version: 1,
  asn: 65011,
  routerId: '192.0.2.11',
  configFile: '/etc/herald/herald.yaml',
  uptimeMs: 3_600_000,
  peers: { total: 3, established: 2, down: 1, adminDown: 0 },
  routes: { announced: 4, pending: 1, received: 7 },
  services: { total: 2, up: 1, down: 1, maintenance: 0, draining: 0 },
  reloads: { ok: 2, failed: 1 },
  lxd: null,
  api: null,
  engine: {
    timerLateness: {
      count: 1234,
      sumMs: 987.5,
      maxMs: 12.25,
      recentMaxMs: 3.5,
      p99Ms: 5,
      buckets: [1, 2, 5, 10, 25].map((leMs, i) => ({ leMs, count: [1000, 1200, 1230, 1233, 1234][i]! })),
    },
  },
};

function peer(name: string, state: string): PeerState {
  return {
    name,
    instance: 1,
    address: '192.0.2.1',
    peerAs: 65000,
    localAs: 65011,
    state,
    uptimeMs: 61_000,
    passive: false,
    localAddress: null,
    families: ['ipv4'],
    holdTime: 90,
    keepaliveTime: 30,
    peerBgpId: null,
    peerHostname: null,
    lastDown: state === 'Established' ? null : { kind: 'tcp-failed', message: 'connection refused', at: 0 } as PeerState['lastDown'],
    lastConnectError: null,
    counters: zeroPeerCounters(),
    prefixesAnnounced: 3,
    prefixesPending: 0,
    prefixesReceived: 5,
    receivedBytes: 500,
    receiveLimit: null,
    endOfRibReceived: [],
    md5: true,
    heldDownMs: null,
    adminDown: null,
    bfd: null,
    established: state === 'Established',
    description: null,
  };
}

describe('renderers', () => {
  it('summary names every count', () => {
    const t = renderSummary(summary, plain);
    expect(t).toContain('herald AS65011 router-id 192.0.2.11, up 1h00m');
    expect(t).toContain('sessions  2 established, 1 not established (3 peers)');
    expect(t).toContain('routes    4 announced, 1 pending, 7 received');
    expect(t).toContain('services  1 up, 1 down, 0 maintenance, 0 draining (2 services)');
    expect(t).toContain('reloads   2 ok, 1 refused');
    expect(t).toContain('engine    timers late by at most 12 ms (last minutes 3.5 ms, p99 ≤ 5.0 ms, 1234 timers)');
    expect(renderSummary({ ...summary, engine: { timerLateness: null } }, plain)).not.toContain('engine');
  });

  it('peers: uptime only when established, the last error otherwise', () => {
    const t = renderPeers([peer('up1', 'Established'), peer('up2', 'Active')], plain);
    expect(t).toMatch(/^PEER +ADDRESS +AS +STATE +UP +SENT +PENDING +RCVD +RCVD MEM +FAMILIES +LAST ERROR\n/);
    expect(t).toMatch(/\nup1 +192\.0\.2\.1 +65000 +Established +1m01s +3 +0 +5 +1K +ipv4\n/);
    expect(t).toMatch(/\nup2 .* Active +- .* connection refused\n/);
    expect(renderPeers([], plain)).toBe('no peers configured\n');
  });

  it('peers with BFD: a BFD column (state, tx/detection), the routes-held note, and one BFD line per peer', () => {
    const session = {
      name: 'up1', peer: '192.0.2.1', local: null, multihop: false, minTtl: 255, passive: false, state: 'Up' as const, remoteState: 'Up' as const,
      localDiag: 0, localDiagName: 'NoDiagnostic', remoteDiag: 0, remoteDiagName: 'NoDiagnostic', localDiscriminator: 7, remoteDiscriminator: 9, sourcePort: 49200,
      desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3, remote: { desiredMinTxMs: 100, requiredMinRxMs: 100, detectMult: 3, demand: false },
      txIntervalMs: 100, rxIntervalMs: 100, detectionTimeMs: 300, pollActive: false, uptimeMs: 65_000,
      lastDown: { at: Date.now() - 120_000, diag: 1, diagName: 'ControlDetectionTimeExpired', remoteState: 'Up' as const, pathDown: true },
      counters: { packetsIn: 650, packetsOut: 652, discards: { ttl: 1 } as never, upTransitions: 2, downTransitions: 1, pollsCompleted: 2, sendErrors: 0, txGapMaxMs: 0, rxGapMaxMs: 0, lateDetections: 0 },
    };
    const up: PeerState = { ...peer('up1', 'Established'), bfd: { session, error: null, routesHeld: false, heldMs: 0, unprotected: false, waitUpMs: 10_000 } };
    const held: PeerState = {
      ...peer('up2', 'Established'),
      bfd: { session: { ...session, state: 'Down', remote: null, detectionTimeMs: null, rxIntervalMs: null, txIntervalMs: 1000, lastDown: null }, error: null, routesHeld: true, heldMs: 3_000, unprotected: false, waitUpMs: 10_000 },
    };
    const none: PeerState = peer('up3', 'Active');
    const t = renderPeers([up, held, none], plain);
    expect(t).toMatch(/^PEER +ADDRESS +AS +STATE +BFD +UP +SENT/);
    expect(t).toMatch(/\nup1 +192\.0\.2\.1 +65000 +Established +Up 100\/300ms +1m01s /);
    expect(t).toMatch(/\nup2 .* Established +Down +1m01s .* routes wait for BFD Up \(3s of wait_up 10s\)\n/);
    expect(t).toMatch(/\nup3 .* Active +- +- /);
    expect(t).toContain(
      'bfd up1: Up for 1m05s, single hop; ours 100/100ms ×3, peer Up 100/100ms ×3; tx every 100ms, detect in 300ms; packets 650 in, 652 out, 1 discarded; largest gap out 0ms, in 0ms; up 2, down 1; last down 2m00s ago: ControlDetectionTimeExpired\n',
    );
    expect(t).toContain('bfd up2: Down, single hop; ours 100/100ms ×3, nothing heard from the peer; tx every 1000ms; packets');
    expect(t).not.toContain('bfd up3');
  });

  it('services: the first failing check detail', () => {
    const s: ServiceState = {
      name: 'web',
      description: null,
      health: 'down',
      since: new Date().toISOString(),
      drain: null,
      announcing: false,
      prefixes: ['198.51.100.80/32'],
      checks: [
        { index: 0, check: 'tcp 127.0.0.1:80', ok: true, detail: 'connected', output: null, latencyMs: 1, at: new Date().toISOString(), adminDown: false },
        { index: 1, check: 'http http://127.0.0.1/', ok: false, detail: 'HTTP 503', output: null, latencyMs: 2, at: new Date().toISOString(), adminDown: false },
      ],
    };
    expect(renderServices([s], plain)).toMatch(/\nweb +down +0s +- +no +198\.51\.100\.80\/32 +1\/2 ok: HTTP 503\n/);
  });

  it('route rows: communities, med and prepend together', () => {
    const r: RouteState = {
      peer: 'up1',
      prefix: '198.51.100.53/32',
      family: 'ipv4',
      sources: ['service:dns'],
      status: 'announced',
      nextHop: '192.0.2.11',
      med: 10,
      prepend: 2,
      communities: ['65011:53'],
      largeCommunities: ['65011:1:2'],
      extendedCommunities: [],
      reason: null,
    };
    const cells = routeRow(r).map((c) => (typeof c === 'string' ? c : c.text));
    expect(cells).toEqual(['up1', '198.51.100.53/32', 'announced', '192.0.2.11', 'service:dns', '65011:53 65011:1:2 med 10 prepend 2', '']);
  });

  it('explain prints the verdict, check output and peer table', () => {
    const x: ExplainState = {
      prefix: '198.51.100.80/32',
      family: 'ipv4',
      wanted: false,
      announced: false,
      reason: 'service web is down: check 1 (exec /bin/false) failed: exited 1',
      sources: [
        {
          source: 'service:web',
          wants: false,
          reason: 'service web is down',
          service: {
            name: 'web',
            description: null,
            health: 'down',
            since: new Date().toISOString(),
            drain: null,
            announcing: false,
            prefixes: ['198.51.100.80/32'],
            checks: [{ index: 0, check: 'exec /bin/false', ok: false, detail: 'exited 1', output: 'line one\nline two\n', latencyMs: 3, at: new Date().toISOString(), adminDown: false }],
          },
          lxd: null,
        },
      ],
      peers: [{ peer: 'up1', state: 'Established', established: true, shouldCarry: false, status: 'not-wanted', nextHop: null, reason: 'no source wants this prefix' }],
      warnings: [{ code: 'check-not-local', path: 'services[0].checks[0].tcp.address', message: '203.0.113.9 is not an address of this host' }],
    };
    const t = renderExplain(x, plain);
    expect(t).toContain('config warnings:\n  warning services[0].checks[0].tcp.address: 203.0.113.9 is not an address of this host');
    expect(t.split('\n')[0]).toBe('198.51.100.80/32 (ipv4): NOT announced');
    expect(t).toContain('  service:web: does not want it — service web is down');
    expect(t).toContain('    check 1 exec /bin/false: FAIL — exited 1');
    expect(t).toContain('      | line one\n      | line two');
    expect(t).toMatch(/ {2}up1 +Established +no +not-wanted +- +no source wants this prefix/);
  });

  it('LXD: summary line, explain origin and the routes lxd table', () => {
    const lx: LxdSummaryState = {
      status: 'unreachable', reachable: false, endpoint: '/var/snap/lxd/common/lxd/unix.socket', serverName: 'hv1', chassisName: 'hv1',
      announceFrom: 'all-members', clustered: false, eventsConnected: false, unreachableSince: new Date(Date.now() - 65_000).toISOString(),
      withdrawnByLimit: false, lastReadAt: new Date().toISOString(), lastFullReadAt: new Date().toISOString(), lastReadMs: 12.5,
      lastError: 'connect ECONNREFUSED', instances: 3, routes: { derived: 1, skipped: 1 }, reads: 9, failedReads: 2, fullReads: 4, resyncs: 1, events: 17, publishes: 3,
    };
    expect(renderSummary({ ...summary, lxd: lx }, plain).split('\n')).toContain(
      'lxd       UNREACHABLE for 1m05s (connect ECONNREFUSED): last known routes kept; 1 routes derived, 1 skipped, 3 instances',
    );
    expect(renderSummary({ ...summary, lxd: { ...lx, status: 'connected', reachable: true, unreachableSince: null, eventsConnected: true } }, plain)).toContain(
      'lxd       reachable (hv1), 1 routes derived, 1 skipped, 3 instances\n',
    );
    expect(renderSummary(summary, plain)).not.toContain('lxd');
    const origin = { source: 'lxd:default/c1/eth0:routes.external', project: 'default', rule: 'routes.external', network: 'br1', instance: 'c1', device: 'eth0', listen: null };
    const x: ExplainState = {
      prefix: '198.51.100.10/32', family: 'ipv4', wanted: false, announced: false,
      reason: 'lxd:default/c1/eth0:routes.external: instance c1 (project default) is Stopped: only Running or Ready instances are announced',
      sources: [{ source: origin.source, wants: false, reason: 'instance c1 (project default) is Stopped: only Running or Ready instances are announced', service: null, lxd: { origin, nextHop: null, status: 'connected', unreachableSince: null } }],
      peers: [],
      warnings: [],
    };
    const t = renderExplain(x, plain);
    expect(t).toContain('  lxd:default/c1/eth0:routes.external: does not want it — instance c1 (project default) is Stopped');
    expect(t).toContain('    lxd project default, network br1, instance c1, device eth0, rule routes.external\n');
    const table = renderLxd(
      {
        source: { ...lx, status: 'connected', reachable: true, unreachableSince: null },
        routes: [
          { prefix: '198.51.100.11/32', family: 'ipv4', state: 'derived', nextHop: 'self', origin: { ...origin, source: 'lxd:default/c2/eth0:routes.external', instance: 'c2' }, reason: null },
          { prefix: '198.51.100.10/32', family: 'ipv4', state: 'skipped', nextHop: null, origin, reason: 'instance c1 (project default) is Stopped' },
        ],
      },
      plain,
    ).split('\n');
    expect(table[0]).toMatch(/^lxd {7}reachable \(hv1, events not connected\)/);
    expect(table[2]).toMatch(/^reads {5}9 \(2 failed, 4 full, 1 resyncs\), 17 events; last 0s ago in 12.5 ms, last full 0s ago$/);
    expect(table.slice(4, 7)).toEqual([
      'PREFIX            STATE    NEXT HOP  ORIGIN                               REASON',
      '198.51.100.11/32  derived  self      lxd:default/c2/eth0:routes.external',
      '198.51.100.10/32  skipped  -         lxd:default/c1/eth0:routes.external  instance c1 (project default) is Stopped',
    ]);
    expect(renderEvent({ type: 'lxd', at: '2024-01-01T10:11:12.000Z', change: 'withdrawn', lxd: { ...lx, withdrawnByLimit: true, unreachableSince: null } }, plain)).toBe(
      '10:11:12 lxd withdrawn: UNREACHABLE (connect ECONNREFUSED): routes withdrawn (unreachable_withdraw_after); 1 routes derived, 1 skipped, 3 instances',
    );
  });

  it('watch lines', () => {
    expect(renderEvent({ type: 'peer', at: '2024-01-01T10:11:12.000Z', event: { type: 'state', peer: 'up1', from: 'Active', to: 'Connect' } }, plain)).toBe(
      '10:11:12 peer up1: Active → Connect',
    );
    expect(renderEvent({ type: 'reload', at: '2024-01-01T10:11:12.000Z', ok: false, errors: ['a.yaml:3:1: asn: bad'] }, plain)).toBe(
      '10:11:12 reload refused: a.yaml:3:1: asn: bad',
    );
    const at = '2024-01-01T10:11:12.000Z';
    const bfd = (pathDown: boolean, remoteState: string) =>
      renderEvent({ type: 'peer', at, event: { type: 'bfd', peer: 'up1', from: 'Up', to: 'Down', diag: pathDown ? 'ControlDetectionTimeExpired' : 'NeighborSignaledSessionDown', remoteState, pathDown } }, plain);
    expect(bfd(true, 'Up')).toBe('10:11:12 peer up1: BFD Up → Down — ControlDetectionTimeExpired, peer Up: path down, BGP session taken down');
    expect(bfd(false, 'AdminDown')).toBe('10:11:12 peer up1: BFD Up → Down — NeighborSignaledSessionDown, peer AdminDown: not a path failure, BGP session kept');
    expect(renderEvent({ type: 'peer', at, event: { type: 'bfd', peer: 'up1', from: 'Init', to: 'Up', diag: 'NoDiagnostic', remoteState: 'Up', pathDown: false } }, plain)).toBe('10:11:12 peer up1: BFD Init → Up');
    expect(renderEvent({ type: 'peer', at, event: { type: 'bfd-routes', peer: 'up1', held: true, unprotected: false, heldMs: 0 } }, plain)).toBe('10:11:12 peer up1: routes wait for BFD Up');
    expect(renderEvent({ type: 'peer', at, event: { type: 'bfd-routes', peer: 'up1', held: false, unprotected: true, heldMs: 10_000 } }, plain)).toBe(
      '10:11:12 peer up1: BFD not Up within wait_up: routes sent without BFD protection after 10s',
    );
  });
});
