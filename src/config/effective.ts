/**
 * The effective config: what herald will actually run with, every default
 * filled in, in the file's own snake_case shape so `herald check` can print
 * it as YAML or JSON. Unset optional keys print as null. Peers print with
 * their template's settings merged in (the `templates` section itself is
 * not repeated: every peer that uses one shows what it took).
 * Durations print as text ("2s"); passwords print as "<redacted>".
 */
import { formatDuration } from './duration.js';
import { REDACTED } from './secret.js';
import type { BfdSettings, Check, Config, LimitActionSettings, LxdConfig, PeerSettings, ReconnectConfig, RouteAttrs, ServiceConfig, StaticRoute, WhenDown } from './types.js';

/** A plain-data value (what JSON.stringify and YAML.stringify print). */
export type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

/** Render a config as a plain snake_case object with all defaults filled and secrets redacted. */
export function effectiveConfig(c: Config): { [key: string]: Plain } {
  return {
    router_id: c.routerId,
    asn: c.asn,
    listen: c.listen === false ? false : { address: [...c.listen.addresses], port: c.listen.port },
    api: { socket: c.api.socket, mode: `0${c.api.mode.toString(8)}`, group: c.api.group },
    state_dir: c.stateDir,
    peers: c.peers.map(peer),
    services: c.services.map(service),
    static: c.static.map(staticRoute),
    logging: { level: c.logging.level, format: c.logging.format },
    drain: { period: formatDuration(c.drain.periodMs), message: c.drain.message },
    peer_defaults: reconnect(c.peerDefaults),
    graceful_restart: c.gracefulRestart
      ? { restart_time: c.gracefulRestart.restartTime, on_stop: c.gracefulRestart.onStop, notification: c.gracefulRestart.notification }
      : null,
    bfd: c.bfd ? bfd(c.bfd) : null,
    metrics: c.metrics ? { address: c.metrics.address, port: c.metrics.port, path: c.metrics.path } : null,
    lxd: c.lxd ? lxd(c.lxd) : null,
  };
}

/** The LXD section in full: every key of the schema, defaults filled in. */
function lxd(l: LxdConfig): { [key: string]: Plain } {
  const r = l.rules;
  return {
    socket: l.socket,
    project: l.project,
    url: l.https?.url ?? null,
    client_cert: l.https?.clientCert ?? null,
    client_key: l.https?.clientKey ?? null,
    server_cert: l.https?.serverCert ?? null,
    uplinks: [...l.uplinks],
    announce_from: l.announceFrom,
    chassis_name: l.chassisName,
    rules: {
      ovn_networks: r.ovnNetworks,
      routes_external: r.routesExternal,
      nic_addresses: r.nicAddresses,
      forwards: r.forwards,
      load_balancers: r.loadBalancers,
      bridge_subnets: r.bridgeSubnets,
      user_routes: r.userRoutes,
    },
    coalesce: formatDuration(l.coalesceMs),
    resync_interval: formatDuration(l.resyncMs),
    unreachable_withdraw_after: formatDuration(l.unreachableWithdrawAfterMs),
    check_interval: formatDuration(l.checkIntervalMs),
    check_timeout: formatDuration(l.checkTimeoutMs),
    check_rise: l.checkRise,
    check_fall: l.checkFall,
  };
}

function peer(p: PeerSettings): { [key: string]: Plain } {
  return {
    name: p.name,
    address: p.address,
    template: p.template ?? null,
    asn: p.asn,
    port: p.port,
    local_address: p.localAddress ?? null,
    local_asn: p.localAsn ?? null,
    passive: p.passive,
    hold_time: p.holdTime,
    keepalive: p.keepalive ?? 'a third of the negotiated hold time',
    ...reconnect(p.reconnect),
    password: p.password ? REDACTED : null,
    multihop: p.multihop ?? null,
    ttl_security: p.ttlSecurity ? p.ttlSecurity.hops : false,
    families: [...p.families],
    extended_next_hop: p.extendedNextHop,
    max_prefixes: p.maxPrefixes ? { limit: p.maxPrefixes.limit, warning: p.maxPrefixes.warning, ...action(p.maxPrefixes.action) } : null,
    import: p.import,
    enforce_first_as: p.enforceFirstAs,
    import_limits: {
      max_as_path: p.importLimits.maxAsPath,
      max_route_bytes: p.importLimits.maxRouteBytes,
      max_bytes: p.importLimits.maxBytes,
      ...action(p.importLimits.action),
    },
    next_hop_self: { ipv4: p.nextHopSelf.ipv4 ?? null, ipv6: p.nextHopSelf.ipv6 ?? null },
    graceful_restart: p.gracefulRestartTime ?? null,
    bfd: p.bfd ? { ...bfd(p.bfd), multihop: p.bfd.multihop, max_hops: p.bfd.maxHops ?? null } : false,
    description: p.description ?? null,
    shutdown: p.shutdown,
  };
}

function reconnect(r: ReconnectConfig): { [key: string]: Plain } {
  return {
    connect_retry: formatDuration(r.connectRetryMs),
    connect_retry_max: formatDuration(r.connectRetryMaxMs),
    idle_hold: formatDuration(r.idleHoldMs),
    idle_hold_max: formatDuration(r.idleHoldMaxMs),
    idle_hold_forgive: formatDuration(r.idleHoldForgiveMs),
  };
}

function action(a: LimitActionSettings): { [key: string]: Plain } {
  return a.kind === 'restart' ? { action: a.kind, restart_after: formatDuration(a.restartAfterMs) } : { action: a.kind };
}

function bfd(b: BfdSettings): { [key: string]: Plain } {
  return {
    min_tx: formatDuration(b.minTxMs),
    min_rx: formatDuration(b.minRxMs),
    multiplier: b.multiplier,
    passive: b.passive,
    wait_up: formatDuration(b.waitUpMs),
  };
}

function route(r: RouteAttrs): { [key: string]: Plain } {
  return {
    next_hop: r.nextHop,
    communities: [...r.communities],
    large_communities: [...r.largeCommunities],
    extended_communities: [...r.extendedCommunities],
    med: r.med ?? null,
    peers: r.peers ? [...r.peers] : 'all',
  };
}

function service(s: ServiceConfig): { [key: string]: Plain } {
  return {
    name: s.name,
    prefixes: [...s.prefixes],
    // The built-in host address check is shown as host_addresses, where it was written.
    checks: s.checks.flatMap((c) => (c.kind === 'host_address' ? [] : [check(c)])),
    combine: s.combine,
    interval: formatDuration(s.intervalMs),
    fast_interval: formatDuration(s.fastIntervalMs),
    timeout: formatDuration(s.timeoutMs),
    rise: s.rise,
    fall: s.fall,
    jitter: formatDuration(s.jitterMs),
    when_down: whenDown(s.whenDown),
    host_addresses: s.hostAddresses ? { mode: s.hostAddresses.mode, interface: s.hostAddresses.interface } : null,
    ...route(s),
    description: s.description ?? null,
  };
}

function whenDown(w: WhenDown): { [key: string]: Plain } {
  if (w.action === 'withdraw') return { withdraw: true };
  return {
    prepend: w.prepend,
    med: w.med ?? null,
    communities: [...w.communities],
    large_communities: [...w.largeCommunities],
    graceful_shutdown: w.gracefulShutdown,
  };
}

function check(c: Check): { [key: string]: Plain } {
  switch (c.kind) {
    case 'tcp':
      return { tcp: { address: c.address, port: c.port, timeout: formatDuration(c.timeoutMs) } };
    case 'http':
    case 'https':
      return {
        [c.kind]: {
          url: c.url,
          method: c.method,
          status: [...c.status],
          body: c.body ?? null,
          body_regex: c.bodyRegex ?? null,
          host: c.host ?? null,
          headers: { ...c.headers },
          ...(c.kind === 'https' ? { sni: c.sni ?? null, verify_tls: c.verifyTls } : {}),
          timeout: formatDuration(c.timeoutMs),
        },
      };
    case 'dns':
      return {
        dns: {
          server: c.server,
          port: c.port,
          protocol: c.protocol,
          query: c.query,
          type: c.type,
          rcode: c.rcode,
          answer: c.answer ?? null,
          timeout: formatDuration(c.timeoutMs),
        },
      };
    case 'exec':
      return { exec: { command: [...c.argv], env: { ...c.env }, cwd: c.cwd ?? null, timeout: formatDuration(c.timeoutMs) } };
    case 'maintenance_file':
      return { maintenance_file: c.path };
    case 'host_address':
      return { host_address: { interface: c.interface, addresses: [...c.addresses] } };
  }
}

function staticRoute(s: StaticRoute): { [key: string]: Plain } {
  return { prefix: s.prefix, ...route(s), description: s.description ?? null };
}
