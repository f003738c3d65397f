/**
 * From the `lxd` config section to an LxdSource: rules, endpoint (reading
 * the certificate files for HTTPS) and timings. The daemon calls
 * `lxdSourceFromConfig(config.lxd, publish, log)`.
 */
import { readFileSync } from 'node:fs';
import type { LxdConfig } from '../../config/types.js';
import type { SourceGroup } from '../../reconciler/index.js';
import { DEFAULT_LXD_RULES, type LxdRules } from './derive.js';
import { findSocket, LxdClient, type LxdEndpoint } from './client.js';
import { LxdSource, type LxdLog, type LxdSourceOptions } from './source.js';
import { OvnSbMonitor } from './ovn-sb.js';
import { parseOvsdbRemote } from './ovsdb.js';

/** Turn the config's rules into derivation rules. */
export function lxdRulesFromConfig(c: LxdConfig): LxdRules {
  return {
    ...DEFAULT_LXD_RULES,
    ...c.rules,
    projects: c.project === null ? [] : [c.project],
    uplinks: c.uplinks,
    announceFrom: c.announceFrom,
    chassisName: c.chassisName,
    checkTimeoutMs: c.checkTimeoutMs,
  };
}

/** Resolve the endpoint: HTTPS (reads the PEM files), the configured socket, or the first default socket. */
export function lxdEndpointFromConfig(c: LxdConfig): LxdEndpoint {
  if (c.https) {
    return {
      kind: 'https',
      url: c.https.url,
      cert: readFileSync(c.https.clientCert, 'utf8'),
      key: readFileSync(c.https.clientKey, 'utf8'),
      serverCert: readFileSync(c.https.serverCert, 'utf8'),
    };
  }
  const socket = c.socket ?? findSocket();
  if (!socket) throw new Error('no LXD socket found (tried the snap, Debian and Incus default paths); set lxd.socket');
  return { kind: 'unix', socket };
}

/** Make the LXD source for a config section; `publish` receives each full snapshot of route groups; `over` sets the checks' clock and prober (tests), the reachability listener and the `patch` hand-over of changed groups only. */
export function lxdSourceFromConfig(
  c: LxdConfig,
  publish: (groups: readonly SourceGroup[]) => void,
  log?: LxdLog,
  over: Pick<LxdSourceOptions, 'clock' | 'prober' | 'onStatus' | 'patch'> = {},
): LxdSource {
  let ovnSb: OvnSbMonitor | undefined;
  if (c.ovnSb !== null) {
    const endpoints = parseOvsdbRemote(c.ovnSb);
    if (typeof endpoints === 'string') throw new Error(`lxd.ovn_sb: ${endpoints}`);
    ovnSb = new OvnSbMonitor({ endpoints, endpointText: c.ovnSb, ...(log ? { log } : {}), ...(over.clock ? { clock: over.clock } : {}) });
  }
  return new LxdSource({
    ...(ovnSb ? { ovnSb } : {}),
    ...over,
    client: new LxdClient(lxdEndpointFromConfig(c)),
    publish,
    rules: lxdRulesFromConfig(c),
    ...(log ? { log } : {}),
    coalesceMs: c.coalesceMs,
    resyncMs: c.resyncMs,
    unreachableWithdrawAfterMs: c.unreachableWithdrawAfterMs,
    checkIntervalMs: c.checkIntervalMs,
    checkRise: c.checkRise,
    checkFall: c.checkFall,
  });
}
