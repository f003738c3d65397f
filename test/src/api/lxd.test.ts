// The LXD source in the one state model (issue 4: "routes explain says
// why", "every derived route carries its origin"; issue 5: one model for
// CLI, API and metrics): summary.lxd, GET /v1/lxd, explain's LXD sources and
// reasons, the routes list's source, and the `lxd` event, with a stubbed
// source whose snapshot comes from the real derivation (deriveLxd).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiResponseError } from '../../../src/api/client.js';
import { startApiServer, type ApiDaemon, type ApiServer } from '../../../src/api/server.js';
import type { Config } from '../../../src/config/index.js';
import { Reconciler, groupIntents } from '../../../src/reconciler/index.js';
import { fakeEngine, peerSnapshot } from './fake-engine.js';
import { deriveLxd, type LxdDerived, type LxdSkipped } from '../../../src/sources/lxd/derive.js';
import type { LxdSourceState } from '../../../src/sources/lxd/source.js';
import type { LxdInstance, LxdView } from '../../../src/sources/lxd/types.js';
import {
  explain,
  lxd,
  lxdEvent,
  routes,
  summary,
  type ExplainState,
  type LxdState,
  type LxdStateSource,
  type StateEvent,
  type SummaryState,
  type RouteState,
} from '../../../src/state/index.js';

const RUNNING = '198.51.100.10/32';
const STOPPED = '198.51.100.11/32';
const ANYCAST = '198.51.100.12/32';
const NOTHING = '198.51.100.99/32';

function inst(name: string, route: string, status: string): LxdInstance {
  return {
    name,
    project: 'default',
    location: 'none',
    status,
    expanded_config: {},
    expanded_devices: { eth0: { type: 'nic', network: 'br1', 'ipv4.routes.external': route } },
  };
}

function view(): LxdView {
  return {
    serverName: 'hv1',
    clustered: false,
    memberStatus: null,
    projects: [{ name: 'default', config: {} }],
    instances: [inst('c1', RUNNING, 'Running'), inst('c2', STOPPED, 'Stopped'), inst('c3', ANYCAST, 'Running'), inst('c4', ANYCAST, 'Frozen')],
    networks: [{ name: 'br1', type: 'bridge', managed: true, config: {}, locations: ['none'], project: 'default' }],
    states: new Map(),
    forwards: new Map(),
    loadBalancers: new Map(),
  };
}

/** A stub of LxdSource: the real derivation, a settable state. */
class StubLxd implements LxdStateSource {
  derived: LxdDerived = deriveLxd(view());
  st: LxdSourceState = {
    status: 'connected',
    endpoint: '/var/snap/lxd/common/lxd/unix.socket',
    serverName: 'hv1',
    clustered: false,
    eventsConnected: true,
    reads: 4,
    failedReads: 0,
    events: 9,
    publishes: 2,
    lastReadAt: '2024-05-01T10:00:00.000Z',
    lastFullReadAt: '2024-05-01T09:59:00.000Z',
    lastReadMs: 3.14159,
    fullReads: 2,
    resyncs: 1,
    instances: 4,
    chassisName: 'hv1',
    announceFrom: 'all-members',
    lastError: null,
    unreachableSince: null,
    withdrawn: false,
    routes: 0,
    skipped: [],
  };
  state(): LxdSourceState {
    return { ...this.st, routes: this.derived.intents.length, skipped: this.derived.skipped };
  }
  snapshot(): LxdDerived {
    return this.derived;
  }
  explain(prefix: string): { announced: { intent: LxdDerived['intents'][number]; origin: LxdDerived['origins'][number] }[]; skipped: LxdSkipped[] } {
    const announced = this.derived.intents.flatMap((intent, i) => (intent.prefix === prefix ? [{ intent, origin: this.derived.origins[i]! }] : []));
    return { announced, skipped: this.derived.skipped.filter((k) => k.prefix === prefix) };
  }
}

function daemon(withLxd: boolean): ApiDaemon & { lxd: StubLxd | null; lxdStartError: string | null } {
  const src = new StubLxd();
  const intents = withLxd ? src.derived.intents : [];
  const rec = new Reconciler({ applyGroups() {} });
  rec.setSnapshot('lxd', groupIntents(intents).groups);
  rec.reconcile();
  const config = {
    file: 'f.yaml',
    asn: 65011,
    routerId: '192.0.2.11',
    peers: [{ name: 'up1' }],
    static: [],
    services: [],
    drain: { periodMs: 0, message: 'x' },
    lxd: withLxd
      ? {
          socket: null,
          https: { url: 'https://192.0.2.5:8443', clientCert: '/etc/herald/lxd.crt', clientKey: '/etc/herald/lxd.key', serverCert: '/etc/herald/server.crt' },
          announceFrom: 'all-members',
          chassisName: null,
        }
      : null,
  } as unknown as Config;
  return {
    config,
    engine: fakeEngine(() => [peerSnapshot('up1', 'Established')], rec),
    reconciler: rec,
    waitFlushed: async () => true,
    health: { snapshot: () => new Map() },
    reloads: { ok: 0, failed: 0 },
    startedAt: Date.now(),
    lxd: withLxd ? src : null,
    lxdStartError: null,
    drainPhase: () => null,
    drain: async () => {},
    undrain: () => {},
    reload: async () => ({ ok: true as const }),
    onEvent: (_fn: (e: StateEvent) => void) => () => {},
    plannedRestart: () => {},
  };
}

describe('LXD source in the state model', () => {
  it('summary.lxd: reachability and counts; null without an lxd section', () => {
    const d = daemon(true);
    expect(summary(d).lxd).toEqual({
      status: 'connected',
      reachable: true,
      endpoint: '/var/snap/lxd/common/lxd/unix.socket',
      serverName: 'hv1',
      chassisName: 'hv1',
      announceFrom: 'all-members',
      clustered: false,
      eventsConnected: true,
      unreachableSince: null,
      withdrawnByLimit: false,
      lastReadAt: '2024-05-01T10:00:00.000Z',
      lastFullReadAt: '2024-05-01T09:59:00.000Z',
      lastReadMs: 3.1,
      lastError: null,
      instances: 4,
      routes: { derived: 2, skipped: 2 },
      reads: 4,
      failedReads: 0,
      fullReads: 2,
      resyncs: 1,
      events: 9,
      publishes: 2,
    });
    expect(summary(daemon(false)).lxd).toBeNull();
    expect(lxd(daemon(false))).toBeNull();
  });

  it('configured but not started: the start error; client key paths may show, key contents never', async () => {
    const d = daemon(true);
    d.lxd = null;
    d.lxdStartError = "ENOENT: no such file or directory, open '/etc/herald/lxd.key'";
    expect(summary(d).lxd).toMatchObject({ status: 'not-started', reachable: false, endpoint: 'https://192.0.2.5:8443', lastError: d.lxdStartError });
    const x = (await explain(d, NOTHING))!;
    expect(x.reason).toBe(`no static route, service or LXD route gives ${NOTHING} (the LXD source is not running: ${d.lxdStartError})`);
  });

  it('lxd(): every derived route with its origin and next hop, every skipped one with its reason', () => {
    const x = lxd(daemon(true))!;
    expect(x.source.routes).toEqual({ derived: 2, skipped: 2 });
    expect(x.routes.map((r) => `${r.state} ${r.prefix} ${r.nextHop ?? '-'} ${r.origin.source} ${r.reason ?? ''}`.trim())).toEqual([
      `derived ${RUNNING} self lxd:default/c1/eth0:routes.external`,
      `derived ${ANYCAST} self lxd:default/c3/eth0:routes.external`,
      `skipped ${STOPPED} - lxd:default/c2/eth0:routes.external instance c2 (project default) is Stopped: only Running or Ready instances are announced`,
      `skipped ${ANYCAST} - lxd:default/c4/eth0:routes.external instance c4 (project default) is Frozen: only Running or Ready instances are announced`,
    ]);
    expect(x.routes[0]!.origin).toEqual({
      source: 'lxd:default/c1/eth0:routes.external',
      project: 'default',
      rule: 'routes.external',
      network: 'br1',
      instance: 'c1',
      device: 'eth0',
      listen: null,
    });
  });

  it('explain: an announced LXD route names its origin; a skipped one says exactly why; an unknown one says LXD has nothing', async () => {
    const d = daemon(true);
    const a = (await explain(d, RUNNING))!;
    expect(a).toMatchObject({ wanted: true, announced: true, reason: 'announced to up1' });
    expect(a.sources).toEqual([
      {
        source: 'lxd:default/c1/eth0:routes.external',
        wants: true,
        reason: null,
        service: null,
        lxd: {
          origin: { source: 'lxd:default/c1/eth0:routes.external', project: 'default', rule: 'routes.external', network: 'br1', instance: 'c1', device: 'eth0', listen: null },
          nextHop: 'self',
          status: 'connected',
          unreachableSince: null,
        },
      },
    ]);

    const s = (await explain(d, STOPPED))!;
    expect(s).toMatchObject({ wanted: false, announced: false });
    expect(s.reason).toBe('lxd:default/c2/eth0:routes.external: instance c2 (project default) is Stopped: only Running or Ready instances are announced');
    expect(s.sources).toHaveLength(1);
    expect(s.sources[0]).toMatchObject({ wants: false, lxd: { nextHop: null, origin: { instance: 'c2' } } });
    expect(s.peers).toEqual([expect.objectContaining({ peer: 'up1', status: 'not-wanted' })]);

    // One instance announces it, another (frozen) skips it: both are listed.
    const both = (await explain(d, ANYCAST))!;
    expect(both.announced).toBe(true);
    expect(both.sources.map((x) => `${x.source} ${x.wants}`)).toEqual(['lxd:default/c3/eth0:routes.external true', 'lxd:default/c4/eth0:routes.external false']);

    expect((await explain(d, NOTHING))!.reason).toBe(`no static route, service or LXD route gives ${NOTHING}`);
    // Without an lxd section the wording is the one it always was.
    expect((await explain(daemon(false), NOTHING))!.reason).toBe(`no static route or service is configured for ${NOTHING}`);
    expect((await explain(daemon(false), NOTHING))!.sources).toEqual([]);
  });

  it('explain while LXD is unreachable: the kept route says so; after the limit the reason is the limit', async () => {
    const d = daemon(true);
    const src = d.lxd!;
    src.st = { ...src.st, status: 'unreachable', unreachableSince: '2024-05-01T10:01:00.000Z', lastError: 'connect ENOENT /var/snap/lxd/common/lxd/unix.socket' };
    const k = (await explain(d, RUNNING))!;
    expect(k.announced).toBe(true);
    expect(k.reason).toBe(
      'announced to up1 (LXD is unreachable since 2024-05-01T10:01:00.000Z (connect ENOENT /var/snap/lxd/common/lxd/unix.socket): its last known routes are kept)',
    );
    expect(k.sources[0]!.lxd).toMatchObject({ status: 'unreachable', unreachableSince: '2024-05-01T10:01:00.000Z' });
    expect(summary(d).lxd).toMatchObject({ status: 'unreachable', reachable: false, withdrawnByLimit: false });

    // The limit withdrew them (LxdSource turns its routes into skipped ones with this reason).
    const why = 'LXD unreachable since 2024-05-01T10:01:00.000Z (connect ENOENT), longer than unreachable_withdraw_after (600 s): withdrawn until LXD answers again';
    const d2 = daemon(false);
    const src2 = new StubLxd();
    src2.st = { ...src.st, withdrawn: true };
    src2.derived = { intents: [], origins: [], skipped: src.derived.intents.map((i, n) => ({ prefix: i.prefix, reason: why, origin: src.derived.origins[n]! })) };
    const w = (await explain({ ...d2, config: d.config, lxd: src2 }, RUNNING))!;
    expect(w).toMatchObject({ wanted: false, announced: false });
    expect(w.reason).toBe(`lxd:default/c1/eth0:routes.external: ${why}`);
    expect(summary({ ...d2, config: d.config, lxd: src2 }).lxd).toMatchObject({ withdrawnByLimit: true, routes: { derived: 0, skipped: 2 } });
  });

  it('routes(): an LXD route carries its origin as its source', async () => {
    const r: RouteState[] = [];
    for await (const x of routes(daemon(true))) r.push(x);
    expect(r.map((x) => `${x.prefix} ${x.sources.join(',')} ${x.status}`)).toEqual([
      `${RUNNING} lxd:default/c1/eth0:routes.external announced`,
      `${ANYCAST} lxd:default/c3/eth0:routes.external announced`,
    ]);
  });

  it('the lxd event carries the change and the summary shape', async () => {
    const src = new StubLxd();
    const e = lxdEvent('withdrawn', { ...src.state(), status: 'unreachable', withdrawn: true });
    expect(e).toMatchObject({ type: 'lxd', change: 'withdrawn', lxd: { status: 'unreachable', reachable: false, withdrawnByLimit: true, routes: { derived: 2, skipped: 2 } } });
  });
});

describe('GET /v1/lxd, /v1/summary and /v1/explain over the socket', () => {
  let dir = '';
  let server: ApiServer;
  let bare: ApiServer;
  let api: ApiClient;
  let apiBare: ApiClient;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-api-lxd-'));
    server = await startApiServer(daemon(true), { socket: path.join(dir, 'a.sock'), mode: 0o600 });
    bare = await startApiServer(daemon(false), { socket: path.join(dir, 'b.sock'), mode: 0o600 });
    api = new ApiClient(path.join(dir, 'a.sock'));
    apiBare = new ApiClient(path.join(dir, 'b.sock'));
  });
  afterAll(async () => {
    await server?.close();
    await bare?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the LXD state, and 404 not-configured without an lxd section', async () => {
    const x = await api.get<LxdState>('/v1/lxd');
    expect(x.source).toMatchObject({ status: 'connected', routes: { derived: 2, skipped: 2 } });
    expect(x.routes).toHaveLength(4);
    expect((await api.get<SummaryState>('/v1/summary')).lxd).toMatchObject({ reachable: true });
    expect((await api.get<ExplainState>(`/v1/explain/${encodeURIComponent(STOPPED)}`)).reason).toMatch(/is Stopped/);
    const err = await apiBare.get('/v1/lxd').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiResponseError);
    expect((err as ApiResponseError).status).toBe(404);
    expect((err as ApiResponseError).code).toBe('not-configured');
    expect((await apiBare.get<SummaryState>('/v1/summary')).lxd).toBeNull();
  });
});
