// Public face of the interop lab: namespaces and topologies, one controller
// per routing daemon behind the common `Router` interface, and the
// skip-or-fail check for missing daemons. herald's interop tests import from
// here only. No RFC: this is test infrastructure.

import type { Lab } from './netns.js';
import type { Router, RouterConfig, RouterKind } from './types.js';
import { FrrRouter } from './frr.js';
import { BirdRouter } from './bird.js';
import { GobgpRouter } from './gobgp.js';
import { OpenbgpdRouter } from './openbgpd.js';
import { ExabgpRouter } from './exabgp.js';

export * from './types.js';
export { Lab, bridgeTopology, pointToPoint, uniqueNsName, isRoot, checkDocAddress } from './netns.js';
export type { Ns, LinkEnd, Spoke, BridgeTopology, BridgeOptions, PointToPoint } from './netns.js';
export { DAEMONS, missingReason, labReady } from './daemons.js';
export { run, nsRun, waitFor, sleep, descendants, registeredPids } from './process.js';
export type { RunResult, RunOptions, LabProcess } from './process.js';
export { FrrRouter, frrBfdPeerLine, type FrrBfdPeer } from './frr.js';
export { BirdRouter, parseBirdRoutes, type BirdBfdSession } from './bird.js';
export { GobgpRouter } from './gobgp.js';
export { OpenbgpdRouter } from './openbgpd.js';
export { ExabgpRouter } from './exabgp.js';
export * from './lxd.js';
export * from './lxd-cluster.js';

/** Build the controller for a daemon kind (not started yet). */
export function createRouter(lab: Lab, kind: RouterKind, config: RouterConfig): Router {
  switch (kind) {
    case 'frr':
      return new FrrRouter(lab, config);
    case 'bird':
      return new BirdRouter(lab, config);
    case 'gobgp':
      return new GobgpRouter(lab, config);
    case 'openbgpd':
      return new OpenbgpdRouter(lab, config);
    case 'exabgp':
      return new ExabgpRouter(lab, config);
  }
}

/** Build a controller and start it. */
export async function startRouter(lab: Lab, kind: RouterKind, config: RouterConfig): Promise<Router> {
  const r = createRouter(lab, kind, config);
  await r.start();
  return r;
}
