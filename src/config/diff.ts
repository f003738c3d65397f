/**
 * What changed between two configs, for reload (SIGHUP, `routes reload`):
 * which peers need a new BGP session and which only need their routes
 * recomputed. A session is reset only when something carried in the TCP
 * connection or the OPEN changed; everything else is applied in place.
 *
 * Field names are the file's snake_case names, so they can go straight into
 * the reload log line.
 */
import { Secret } from './secret.js';
import type { Config, PeerSettings } from './types.js';

/** Peer fields whose change needs a new session (TCP connection or OPEN). */
export const SESSION_FIELDS = [
  'address',
  'port',
  'asn',
  'local_asn',
  'local_address',
  'passive',
  'hold_time',
  'keepalive',
  'password',
  'multihop',
  'ttl_security',
  'families',
  'extended_next_hop',
  'graceful_restart',
  'graceful_restart.notification',
  'enforce_first_as',
] as const;

/** Peer fields that change what is announced or kept, not the session. */
export const ROUTE_FIELDS = ['next_hop_self', 'import', 'max_prefixes', 'import_limits'] as const;

/** Peer fields applied without touching the BGP session or its routes (bfd: a Poll Sequence or a new BFD session). */
export const OTHER_FIELDS = ['connect_retry', 'connect_retry_max', 'idle_hold', 'idle_hold_max', 'idle_hold_forgive', 'bfd', 'description', 'shutdown'] as const;

export interface PeerChange {
  readonly name: string;
  /** True when the session must be torn down and re-established. */
  readonly resetSession: boolean;
  /** Session-affecting fields that changed; 'router_id' / 'asn (global)' when a global setting changes the OPEN. */
  readonly session: readonly string[];
  readonly routes: readonly string[];
  readonly other: readonly string[];
}

export interface ConfigDiff {
  readonly peers: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
    /** Peers with any change (including ones only needing a route recompute). */
    readonly changed: readonly PeerChange[];
    readonly unchanged: readonly string[];
  };
  readonly services: { readonly added: readonly string[]; readonly removed: readonly string[]; readonly changed: readonly string[] };
  readonly staticChanged: boolean;
  /** Sections other than peers/services/static whose settings changed: listen, api, logging, drain, metrics, lxd, peer_defaults, graceful_restart. */
  readonly sections: readonly string[];
}

/** Compare two configs: which peers need a new session, which only new routes, what else changed. */
export function diffConfig(oldC: Config, newC: Config): ConfigDiff {
  const oldPeers = new Map(oldC.peers.map((p) => [p.name, p]));
  const newPeers = new Map(newC.peers.map((p) => [p.name, p]));
  const added = newC.peers.filter((p) => !oldPeers.has(p.name)).map((p) => p.name);
  const removed = oldC.peers.filter((p) => !newPeers.has(p.name)).map((p) => p.name);
  const changed: PeerChange[] = [];
  const unchanged: string[] = [];
  for (const np of newC.peers) {
    const op = oldPeers.get(np.name);
    if (!op) continue;
    const fields = peerFieldChanges(op, np);
    const session: string[] = SESSION_FIELDS.filter((f) => fields.has(f));
    if (oldC.routerId !== newC.routerId) session.push('router_id');
    // The global asn is this session's local AS unless local_asn overrides it.
    if (oldC.asn !== newC.asn && (op.localAsn === undefined || np.localAsn === undefined)) session.push('asn (global)');
    const routes = ROUTE_FIELDS.filter((f) => fields.has(f));
    const other = OTHER_FIELDS.filter((f) => fields.has(f));
    if (session.length + routes.length + other.length === 0) unchanged.push(np.name);
    else changed.push({ name: np.name, resetSession: session.length > 0, session, routes, other });
  }

  const oldSvc = new Map(oldC.services.map((s) => [s.name, s]));
  const newSvc = new Map(newC.services.map((s) => [s.name, s]));
  const services = {
    added: newC.services.filter((s) => !oldSvc.has(s.name)).map((s) => s.name),
    removed: oldC.services.filter((s) => !newSvc.has(s.name)).map((s) => s.name),
    changed: newC.services.filter((s) => oldSvc.has(s.name) && !deepEqual(oldSvc.get(s.name), s)).map((s) => s.name),
  };
  const sections = (['listen', 'api', 'logging', 'drain', 'metrics', 'lxd', 'peerDefaults', 'gracefulRestart'] as const)
    .filter((k) => !deepEqual(oldC[k], newC[k]))
    .map((k) => (k === 'peerDefaults' ? 'peer_defaults' : k === 'gracefulRestart' ? 'graceful_restart' : k));
  return {
    peers: { added, removed, changed, unchanged },
    services,
    staticChanged: !deepEqual(oldC.static, newC.static),
    sections,
  };
}

/** The snake_case names of the peer fields that differ. */
function peerFieldChanges(a: PeerSettings, b: PeerSettings): Set<string> {
  const pairs: [string, unknown, unknown][] = [
    ['address', a.address, b.address],
    ['port', a.port, b.port],
    ['asn', a.asn, b.asn],
    ['local_asn', a.localAsn, b.localAsn],
    ['local_address', a.localAddress, b.localAddress],
    ['passive', a.passive, b.passive],
    ['hold_time', a.holdTime, b.holdTime],
    ['keepalive', a.keepalive, b.keepalive],
    ['multihop', a.multihop, b.multihop],
    ['ttl_security', a.ttlSecurity, b.ttlSecurity],
    ['families', [...a.families].sort(), [...b.families].sort()],
    ['extended_next_hop', a.extendedNextHop, b.extendedNextHop],
    ['graceful_restart', a.gracefulRestartTime, b.gracefulRestartTime],
    ['graceful_restart.notification', a.gracefulNotification, b.gracefulNotification],
    ['next_hop_self', a.nextHopSelf, b.nextHopSelf],
    ['import', a.import, b.import],
    ['max_prefixes', a.maxPrefixes, b.maxPrefixes],
    ['connect_retry', a.reconnect.connectRetryMs, b.reconnect.connectRetryMs],
    ['connect_retry_max', a.reconnect.connectRetryMaxMs, b.reconnect.connectRetryMaxMs],
    ['idle_hold', a.reconnect.idleHoldMs, b.reconnect.idleHoldMs],
    ['idle_hold_max', a.reconnect.idleHoldMaxMs, b.reconnect.idleHoldMaxMs],
    ['idle_hold_forgive', a.reconnect.idleHoldForgiveMs, b.reconnect.idleHoldForgiveMs],
    ['import_limits', a.importLimits, b.importLimits],
    ['enforce_first_as', a.enforceFirstAs, b.enforceFirstAs],
    ['bfd', a.bfd, b.bfd],
    ['description', a.description, b.description],
    ['shutdown', a.shutdown, b.shutdown],
  ];
  const out = new Set(pairs.filter(([, x, y]) => !deepEqual(x, y)).map(([k]) => k));
  if (!Secret.same(a.password, b.password)) out.add('password');
  return out;
}

/** Structural equality of plain config data (Secrets compared by value). */
function deepEqual(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (x instanceof Secret || y instanceof Secret)
    return x instanceof Secret && y instanceof Secret && Secret.same(x, y);
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x).filter((k) => (x as Record<string, unknown>)[k] !== undefined);
  const ky = Object.keys(y).filter((k) => (y as Record<string, unknown>)[k] !== undefined);
  if (kx.length !== ky.length) return false;
  return kx.every((k) => deepEqual((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]));
}
