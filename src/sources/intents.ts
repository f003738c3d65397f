/**
 * Route sources from config: static routes and health-gated services turned
 * into reconciler intents (full snapshots, level-triggered).
 *
 * A service's state decides what it contributes:
 *   up           its prefixes with its attributes
 *   down         nothing (when_down: withdraw, the default), or the prefixes
 *                as a worse path (when_down: prepend / med / communities /
 *                graceful_shutdown) for primary/backup setups
 *   maintenance  nothing: administratively down (maintenance file present)
 * Draining (`routes drain`, SIGTERM) overrides all of these: first the
 * prefixes stay announced with GRACEFUL_SHUTDOWN (RFC 8326 §4: receivers
 * lower the route's preference so traffic moves before the withdraw), then
 * they are withdrawn.
 */
import type { ServiceConfig, StaticRoute } from '../config/index.js';
import type { Intent } from '../reconciler/index.js';

export type ServiceState = 'up' | 'down' | 'maintenance';
/** Drain phase of a service: announcing GRACEFUL_SHUTDOWN, then withdrawn. */
export type DrainPhase = 'graceful-shutdown' | 'withdrawn' | null;

const GSHUT = 'graceful-shutdown';

/** Turn static routes into intents. */
export function staticIntents(routes: readonly StaticRoute[]): Intent[] {
  return routes.map((r) => ({
    prefix: r.prefix,
    source: 'static',
    rank: 0,
    nextHop: r.nextHop,
    ...(r.med !== undefined ? { med: r.med } : {}),
    communities: r.communities,
    largeCommunities: r.largeCommunities,
    extendedCommunities: r.extendedCommunities,
    peers: r.peers,
  }));
}

/** Turn one service and its health state (and drain phase) into intents. */
export function serviceIntents(svc: ServiceConfig, state: ServiceState, drain: DrainPhase): Intent[] {
  const base = (extra: Partial<Intent>): Intent[] =>
    svc.prefixes.map((prefix) => ({
      prefix,
      source: `service:${svc.name}`,
      rank: 0,
      nextHop: svc.nextHop,
      ...(svc.med !== undefined ? { med: svc.med } : {}),
      communities: svc.communities,
      largeCommunities: svc.largeCommunities,
      extendedCommunities: svc.extendedCommunities,
      peers: svc.peers,
      ...extra,
    }));
  if (drain === 'withdrawn') return [];
  if (drain === 'graceful-shutdown') {
    if (state !== 'up') return [];
    return base({ communities: [...svc.communities, GSHUT] });
  }
  if (state === 'up') return base({});
  if (state === 'maintenance') return [];
  const wd = svc.whenDown;
  if (wd.action === 'withdraw') return [];
  return base({
    rank: 1,
    ...(wd.prepend ? { prepend: wd.prepend } : {}),
    ...(wd.med !== undefined ? { med: wd.med } : {}),
    communities: [...svc.communities, ...wd.communities, ...(wd.gracefulShutdown ? [GSHUT] : [])],
    largeCommunities: [...svc.largeCommunities, ...wd.largeCommunities],
  });
}
