/**
 * A stand-in for the session engine in control-API tests (MetalLB's pattern:
 * the controller tested against a fake speaker). It answers the Engine
 * contract's read side from fixed peer snapshots and a real Reconciler's
 * output groups: every prefix announced to every peer with one next hop.
 */
import { STANDING, zeroPeerCounters, type Engine, type GroupStanding, type PeerSnapshot, type PrefixStanding, type ReceivedRoute } from '../../../bgp/index.js';
import type { Reconciler } from '../../../src/reconciler/index.js';

export type ReadEngine = Pick<Engine, 'snapshot' | 'standing' | 'groupStanding' | 'received'>;

/** A peer snapshot with plausible values; `over` changes any field. */
export function peerSnapshot(name: string, state: string, over: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return {
    name,
    instance: 1,
    address: '192.0.2.1',
    peerAs: 65000,
    localAs: 65011,
    state,
    uptimeMs: 1000,
    passive: false,
    localAddress: null,
    families: ['1/1'],
    holdTime: 90,
    keepaliveTime: 30,
    peerBgpId: null,
    peerHostname: null,
    lastDown: null,
    lastConnectError: null,
    counters: zeroPeerCounters(),
    prefixesAnnounced: 0,
    prefixesPending: 0,
    prefixesReceived: 0,
    receivedBytes: 0,
    receiveLimit: null,
    endOfRibReceived: ['1/1'],
    md5: false,
    heldDownMs: null,
    bfd: null,
    ...over,
  };
}

/** An engine whose peers have every route of the reconciler's groups, sent with `nextHop`. */
export function fakeEngine(peers: () => PeerSnapshot[], rec: Reconciler, nextHop = '192.0.2.11', receivedRoutes: ReceivedRoute[] = []): ReadEngine {
  return {
    snapshot: peers,
    async standing(prefix: string): Promise<PrefixStanding[]> {
      const g = rec.outputFor(prefix);
      return peers().map((p) => ({
        peer: p.name,
        state: p.state,
        desired: g !== null,
        group: g?.id ?? null,
        sentNextHop: g !== null && p.state === 'Established' ? nextHop : null,
        pending: false,
        reason: null,
      }));
    },
    async groupStanding(peer: string, id: number): Promise<GroupStanding | null> {
      const p = peers().find((x) => x.name === peer);
      const g = [...rec.outputGroups()].find((x) => x.id === id);
      if (!p || !g) return null;
      const n = g.prefixes.count;
      const up = p.state === 'Established';
      return {
        peer,
        state: p.state,
        codes: new Uint8Array(n).fill(up ? STANDING.ANNOUNCED : STANDING.NO_SESSION),
        sent: new Int32Array(n).fill(up ? 0 : -1),
        nextHops: [nextHop],
        reasons: [],
      };
    },
    received(peer: string, prefix?: string): AsyncIterable<ReceivedRoute[]> | null {
      if (!peers().some((p) => p.name === peer)) return null;
      const list = receivedRoutes.filter((r) => prefix === undefined || r.prefix === prefix);
      return (async function* () {
        if (list.length) yield list;
      })();
    },
  };
}
