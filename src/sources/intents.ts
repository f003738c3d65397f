/**
 * Route sources from config: static routes and health-gated services turned
 * into reconciler source groups (full snapshots, level-triggered).
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
 *
 * Each service is a source of its own ("service:NAME") with at most one
 * group, so a health change re-plans that service and nothing else. Prefix
 * text from the config is parsed into a PrefixList once per loaded config
 * (cached by the config object) and handed down as is.
 */
import { PrefixListBuilder, type PrefixList } from '../../bgp/index.js';
import type { ServiceConfig, StaticRoute } from '../config/index.js';
import type { SourceGroup } from '../reconciler/index.js';

export type ServiceState = 'up' | 'down' | 'maintenance';
/** Drain phase of a service: announcing GRACEFUL_SHUTDOWN, then withdrawn. */
export type DrainPhase = 'graceful-shutdown' | 'withdrawn' | null;

const GSHUT = 'graceful-shutdown';

/** A service's prefixes as a list, built once per config object (config validated the text). */
const lists = new WeakMap<object, PrefixList>();
function listOf(owner: object, texts: readonly string[]): PrefixList {
  let l = lists.get(owner);
  if (l === undefined) {
    const b = new PrefixListBuilder(texts.length);
    for (const t of texts) b.add(t);
    l = b.finish();
    lists.set(owner, l);
  }
  return l;
}

/** The reconciler source name of a service. */
export const serviceSource = (name: string): string => `service:${name}`;

/** Turn static routes into source groups: one per distinct attribute set and peer filter. */
export function staticGroups(routes: readonly StaticRoute[]): SourceGroup[] {
  const byKey = new Map<string, { r: StaticRoute; texts: string[] }>();
  for (const r of routes) {
    const k = JSON.stringify([r.nextHop, r.med ?? null, r.communities, r.largeCommunities, r.extendedCommunities, r.peers]);
    let e = byKey.get(k);
    if (e === undefined) byKey.set(k, (e = { r, texts: [] }));
    e.texts.push(r.prefix);
  }
  return [...byKey].map(([k, { r, texts }]) => ({
    key: `static ${k}`,
    source: 'static',
    rank: 0,
    nextHop: r.nextHop ?? 'self',
    ...(r.med !== undefined ? { med: r.med } : {}),
    communities: r.communities ?? [],
    largeCommunities: r.largeCommunities ?? [],
    extendedCommunities: r.extendedCommunities ?? [],
    peers: r.peers ?? null,
    prefixes: listOf(texts, texts),
  }));
}

/** Turn one service and its health state (and drain phase) into its source groups (none or one). */
export function serviceGroups(svc: ServiceConfig, state: ServiceState, drain: DrainPhase): SourceGroup[] {
  const prefixes = listOf(svc, svc.prefixes);
  const base = (extra: Partial<SourceGroup>): SourceGroup[] => [
    {
      key: serviceSource(svc.name),
      source: serviceSource(svc.name),
      rank: 0,
      nextHop: svc.nextHop ?? 'self',
      ...(svc.med !== undefined ? { med: svc.med } : {}),
      communities: svc.communities ?? [],
      largeCommunities: svc.largeCommunities ?? [],
      extendedCommunities: svc.extendedCommunities ?? [],
      peers: svc.peers ?? null,
      prefixes,
      ...extra,
    },
  ];
  if (drain === 'withdrawn') return [];
  if (drain === 'graceful-shutdown') {
    if (state !== 'up') return [];
    return base({ communities: [...(svc.communities ?? []), GSHUT] });
  }
  if (state === 'up') return base({});
  if (state === 'maintenance') return [];
  const wd = svc.whenDown;
  if (wd.action === 'withdraw') return [];
  return base({
    rank: 1,
    ...(wd.prepend ? { prepend: wd.prepend } : {}),
    ...(wd.med !== undefined ? { med: wd.med } : {}),
    communities: [...(svc.communities ?? []), ...wd.communities, ...(wd.gracefulShutdown ? [GSHUT] : [])],
    largeCommunities: [...(svc.largeCommunities ?? []), ...wd.largeCommunities],
  });
}
