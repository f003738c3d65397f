/**
 * A daemon for control-API tests: the real state model over a real
 * Reconciler and the fake engine (fake-engine.ts), with the daemon's own
 * actions (drain, reload, peer actions, restart) recorded instead of done.
 */
import type { PeerAction, PeerActionResult, ReceivedRoute } from '../../../bgp/index.js';
import type { ApiDaemon } from '../../../src/api/server.js';
import type { Config } from '../../../src/config/index.js';
import { Reconciler, groupIntents, type Intent } from '../../../src/reconciler/index.js';
import type { DrainPhase } from '../../../src/sources/intents.js';
import type { StateEvent } from '../../../src/state/index.js';
import { fakeEngine, peerSnapshot } from './fake-engine.js';

export type FakeDaemon = ApiDaemon & {
  drained: string[][];
  reloadOk: boolean;
  restarts: string[];
  actions: [string, PeerAction, string | undefined][];
  emit(e: StateEvent): void;
};

export function intent(prefix: string, source: string, peers: string[] | null = null): Intent {
  return { prefix, source, rank: 0, nextHop: 'self', communities: [], largeCommunities: [], extendedCommunities: [], peers };
}

/** A daemon with peer up1 (Established, everything sent), a service "dns" that is up and `n` static routes. */
export function fakeDaemon(N = 0, received: ReceivedRoute[] = []): FakeDaemon {
  const intents = [intent('198.51.100.53/32', 'service:dns')];
  for (let i = 0; i < N; i++) intents.push(intent(`240.${(i >> 8) & 255}.${i & 255}.0/24`, 'static'));
  const rec = new Reconciler({ applyGroups() {} });
  const byService = new Map<string, Intent[]>();
  for (const i of intents) byService.set(i.source, [...(byService.get(i.source) ?? []), i]);
  for (const [src, xs] of byService) rec.setSnapshot(src, groupIntents(xs).groups);
  rec.reconcile();
  const snaps = [peerSnapshot('up1', 'Established', { prefixesAnnounced: N + 1 })];
  const config = {
    file: '/etc/herald/herald.yaml',
    asn: 65011,
    routerId: '192.0.2.11',
    peers: [{ name: 'up1', gracefulRestartTime: 60 }, { name: 'rs' }, { name: 'off', shutdown: true }],
    static: [],
    services: [{ name: 'dns', prefixes: ['198.51.100.53/32'] }],
    drain: { periodMs: 0, message: 'x' },
  } as unknown as Config;
  const listeners = new Set<(e: StateEvent) => void>();
  const d = {
    config,
    engine: fakeEngine(() => snaps, rec, '192.0.2.11', received),
    reconciler: rec,
    waitFlushed: async () => true,
    health: { snapshot: () => new Map([['dns', { state: 'up' as const, since: Date.now(), lastResults: [] }]]) },
    reloads: { ok: 0, failed: 0 },
    startedAt: Date.now(),
    drained: [] as string[][],
    reloadOk: true,
    drainPhase: (): DrainPhase => null,
    drain: async (names: string[] = []) => {
      d.drained.push(names);
      for (const l of listeners) l({ type: 'drain', at: new Date().toISOString(), services: names, phase: 'withdrawn' });
    },
    undrain: () => {},
    reload: async () => (d.reloadOk ? { ok: true as const } : { ok: false as const, errors: ['f.yaml:1:1: asn: bad'] }),
    restarts: [] as string[],
    plannedRestart: (reason: string) => {
      d.restarts.push(reason);
    },
    onEvent: (fn: (e: StateEvent) => void) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    emit: (e: StateEvent) => {
      for (const l of listeners) l(e);
    },
    actions: [] as [string, PeerAction, string | undefined][],
    peerAction: async (name: string, action: PeerAction, message?: string): Promise<PeerActionResult> => {
      d.actions.push([name, action, message]);
      const snap = snaps.find((p) => p.name === name)!;
      if (action === 'refresh' && snap.state !== 'Established') {
        return { peer: name, action, changed: false, refused: { code: 'no-session', message: `${name} has no Established session` }, detail: '', snapshot: snap };
      }
      return { peer: name, action, changed: true, refused: null, detail: `${name}: ${action} done`, snapshot: snap };
    },
  };
  return d;
}

