/**
 * From the validated file (snake_case, schema.ts) to the typed `Config`:
 * fills the defaults that depend on other fields and checks what no single
 * field can know: duplicate names and addresses, references to unknown peers,
 * prefixes of a family no peer carries, timeouts longer than intervals.
 *
 * Family rule: a peer carries the family of its transport address unless
 * `families` lists others (then exactly those), as the speaker negotiates.
 */
import { bfdMultihop } from '../../bgp/config-values.js';
import { parsePrefixText } from '../ip.js';
import { readonlySocketFor } from '../api/paths.js';
import { suggest, type PathSegment } from './errors.js';
import { formatDuration, parseDuration } from './duration.js';
import { Secret } from './secret.js';
import { BYTE_SIZE, bfdSchema, type RawBfd, type RawCheck, type RawConfig, type RawPeer, type RawService, type RawStatic } from './schema.js';
import type {
  BfdSettings,
  Check,
  Config,
  Family,
  GracefulRestartConfig,
  HostAddresses,
  LxdConfig,
  PeerBfdSettings,
  PeerSettings,
  PrefixLimitSettings,
  ReconnectConfig,
  RouteAttrs,
  ServiceConfig,
  StaticRoute,
  WhenDown,
} from './types.js';

/** A problem found while building, located by key path. */
export interface BuildIssue {
  path: PathSegment[];
  message: string;
}

const MIN_INTERVAL_MS = 100;

/** Milliseconds of a duration the schema already accepted. */
function ms(v: string | number): number {
  const r = parseDuration(v);
  if (!r.ok) throw new Error(`unvalidated duration ${String(v)}`); // schema.ts guarantees this cannot happen
  return r.ms;
}

/** The family and canonical text of an address or prefix the schema accepted (src/ip.ts). */
function ip(text: string): { family: Family; text: string; len: number } {
  const p = parsePrefixText(text);
  if (typeof p === 'string') throw new Error(`unvalidated address or prefix ${text}`); // schema.ts guarantees this cannot happen
  return p;
}
const familyOf = (text: string): Family => ip(text).family;
/** Canonical text of an address the schema accepted. */
const canonicalAddress = (text: string): string => {
  const p = ip(text);
  return p.text.slice(0, p.text.lastIndexOf('/'));
};
/** Canonical text of a prefix the schema accepted. */
const canonicalPrefix = (text: string): string => ip(text).text;

/** Build the typed config; returns the issues found instead when there are any. */
export function buildConfig(raw: RawConfig, file: string): { config: Config; issues: [] } | { config: null; issues: BuildIssue[] } {
  const issues: BuildIssue[] = [];
  const add = (path: PathSegment[], message: string): void => {
    issues.push({ path, message });
  };

  const peerDefaults = buildReconnect(raw.peer_defaults, undefined, ['peer_defaults'], add);
  const gr = raw.graceful_restart
    ? { restartTime: ms(raw.graceful_restart.restart_time) / 1000, onStop: raw.graceful_restart.on_stop, notification: raw.graceful_restart.notification }
    : null;
  const bfd = raw.bfd ? bfdSettings(raw.bfd) : null;
  const peers = raw.peers.map((p, i) => buildPeer(p, ['peers', i], add, peerDefaults, gr, bfd));
  checkDuplicates(raw.peers.map((p) => p.name), 'peers', 'name', 'peer name', add);
  checkDuplicates(raw.peers.map((p) => canonicalAddress(p.address)), 'peers', 'address', 'peer address', add);
  checkDuplicates(raw.services.map((s) => s.name), 'services', 'name', 'service name', add);
  checkDuplicates(raw.static.map((s) => canonicalPrefix(s.prefix)), 'static', 'prefix', 'static prefix', add);

  const services = raw.services.map((s, i) => buildService(s, ['services', i], peers, add));
  const statics = raw.static.map((s, i) => buildStatic(s, ['static', i], peers, add));
  const lxd = raw.lxd ? buildLxd(raw.lxd, ['lxd'], add) : null;
  const listen = buildListen(raw.listen, add);

  if (issues.length > 0) return { config: null, issues };
  const config: Config = {
    file,
    routerId: raw.router_id,
    asn: raw.asn,
    listen,
    stateDir: raw.state_dir,
    api: {
      socket: raw.api.socket,
      mode: parseInt(raw.api.mode, 8),
      group: raw.api.group ?? null,
      readonlySocket: raw.api.readonly_socket === false ? null : (raw.api.readonly_socket ?? readonlySocketFor(raw.api.socket)),
      readonlyMode: parseInt(raw.api.readonly_mode, 8),
      operators: raw.api.operators ? { users: raw.api.operators.users, groups: raw.api.operators.groups } : null,
    },
    peers,
    services,
    static: statics,
    logging: { level: raw.logging.level, format: raw.logging.format },
    drain: { periodMs: ms(raw.drain.period), message: raw.drain.message },
    peerDefaults,
    gracefulRestart: gr,
    bfd,
    metrics: raw.metrics ? { address: canonicalAddress(raw.metrics.address), port: raw.metrics.port, path: raw.metrics.path } : null,
    lxd,
  };
  return { config, issues: [] };
}

type Add = (path: PathSegment[], message: string) => void;

/** `listen: false`, or the addresses to bind (canonical, each once). */
function buildListen(l: RawConfig['listen'], add: Add): Config['listen'] {
  if (l === false) return false;
  const list = typeof l.address === 'string' ? [l.address] : l.address;
  const addresses = list.map(canonicalAddress);
  checkDuplicates(addresses, 'listen', 'address', 'listen address', (path, m) => add(typeof l.address === 'string' ? path : ['listen', 'address', path[1]!], m));
  return { addresses: [...new Set(addresses)], port: l.port };
}

function checkDuplicates(values: string[], section: string, key: string, what: string, add: Add): void {
  const first = new Map<string, number>();
  values.forEach((v, i) => {
    const j = first.get(v);
    if (j === undefined) first.set(v, i);
    else add([section, i, key], `duplicate ${what} ${JSON.stringify(v)} (first used at ${section}[${j}])`);
  });
}

/** The top-level `bfd` section (every key has a default). */
function bfdSettings(b: RawBfd): BfdSettings {
  return { minTxMs: ms(b.min_tx), minRxMs: ms(b.min_rx), multiplier: b.multiplier, passive: b.passive, waitUpMs: ms(b.wait_up) };
}

/**
 * A peer's BFD: `bfd: false` is off; `true` takes the top-level section (or
 * the defaults); a mapping overrides the top-level keys it names; absent
 * follows the top-level section. Multihop follows the BGP session unless set.
 */
function buildPeerBfd(p: RawPeer, hops: number | undefined, at: PathSegment[], add: Add, top: BfdSettings | null): PeerBfdSettings | undefined {
  const v = p.bfd;
  if (v === false || (v === undefined && top === null)) return undefined;
  const base: BfdSettings = top ?? bfdSettings(bfdSchema.parse({}));
  const o = typeof v === 'object' ? v : {};
  const multihop = bfdMultihop({
    ...(p.multihop !== undefined ? { multihop: p.multihop } : {}),
    ...(hops !== undefined ? { ttlSecurity: true, minTtl: 256 - hops } : {}),
    ...(o.multihop !== undefined ? { bfd: { multihop: o.multihop } } : {}),
  });
  if (o.max_hops !== undefined && !multihop) add([...at, 'bfd', 'max_hops'], 'max_hops applies to multihop BFD only (set bfd.multihop: true, or multihop on the peer)');
  return {
    minTxMs: o.min_tx !== undefined ? ms(o.min_tx) : base.minTxMs,
    minRxMs: o.min_rx !== undefined ? ms(o.min_rx) : base.minRxMs,
    multiplier: o.multiplier ?? base.multiplier,
    passive: o.passive ?? base.passive,
    waitUpMs: o.wait_up !== undefined ? ms(o.wait_up) : base.waitUpMs,
    multihop,
    ...(o.max_hops !== undefined ? { maxHops: o.max_hops } : {}),
  };
}

type RawReconnect = Partial<Record<'connect_retry' | 'connect_retry_max' | 'idle_hold' | 'idle_hold_max' | 'idle_hold_forgive', string | number>>;

/** Resolve reconnect timers: the given keys, else the defaults; a ceiling below its first delay is an error. */
function buildReconnect(r: RawReconnect, base: ReconnectConfig | undefined, at: PathSegment[], add: Add): ReconnectConfig {
  const pick = (k: keyof RawReconnect, fallback: number | undefined): number => {
    const v = r[k];
    return v !== undefined ? ms(v) : fallback!;
  };
  const out: ReconnectConfig = {
    connectRetryMs: pick('connect_retry', base?.connectRetryMs),
    connectRetryMaxMs: pick('connect_retry_max', base?.connectRetryMaxMs),
    idleHoldMs: pick('idle_hold', base?.idleHoldMs),
    idleHoldMaxMs: pick('idle_hold_max', base?.idleHoldMaxMs),
    idleHoldForgiveMs: pick('idle_hold_forgive', base?.idleHoldForgiveMs),
  };
  // A ceiling below its first delay: reported once, where it was written (for
  // a peer, only when the peer set one of the two; peer_defaults reports its own).
  const check = (first: keyof RawReconnect, max: keyof RawReconnect, firstMs: number, maxMs: number): void => {
    if (maxMs >= firstMs) return;
    if (base !== undefined && r[first] === undefined && r[max] === undefined) return;
    const key = base === undefined ? first : r[max] !== undefined ? max : first;
    add([...at, key], `${max} ${formatDuration(maxMs)} is shorter than ${first} ${formatDuration(firstMs)}`);
  };
  check('connect_retry', 'connect_retry_max', out.connectRetryMs, out.connectRetryMaxMs);
  check('idle_hold', 'idle_hold_max', out.idleHoldMs, out.idleHoldMaxMs);
  return out;
}

function buildPeer(p: RawPeer, at: PathSegment[], add: Add, defaults: ReconnectConfig, gr: GracefulRestartConfig | null, bfd: BfdSettings | null): PeerSettings {
  const transport = familyOf(p.address);
  if (p.local_address !== undefined && familyOf(p.local_address) !== transport)
    add([...at, 'local_address'], `local_address ${p.local_address} is ${familyOf(p.local_address)} but address ${p.address} is ${transport}`);
  if (p.multihop !== undefined && p.ttl_security !== undefined && p.ttl_security !== false)
    add([...at, 'ttl_security'], 'ttl_security and multihop cannot both be set: GTSM sends TTL 255 (RFC 5082 §3)');
  const holdTime = ms(p.hold_time) / 1000;
  const keepalive = p.keepalive === undefined ? undefined : ms(p.keepalive) / 1000;
  if (keepalive !== undefined && holdTime === 0)
    add([...at, 'keepalive'], 'keepalive has no effect with hold_time 0 (no keepalives are sent)');
  else if (keepalive !== undefined && keepalive >= holdTime)
    add([...at, 'keepalive'], `keepalive ${keepalive}s must be shorter than hold_time ${holdTime}s`);
  const families = p.families ? [...new Set(p.families)] : [transport];
  if (p.families && families.length !== p.families.length) add([...at, 'families'], 'a family is listed twice');
  const hops = p.ttl_security === true ? 1 : typeof p.ttl_security === 'number' ? p.ttl_security : undefined;
  // Per peer: a restart time, or false; absent: the top-level section's, if any.
  const grTime = p.graceful_restart === false ? undefined : p.graceful_restart !== undefined ? ms(p.graceful_restart) / 1000 : gr?.restartTime;
  const peerBfd = buildPeerBfd(p, hops, at, add, bfd);
  return {
    name: p.name,
    address: canonicalAddress(p.address),
    transport,
    asn: p.asn,
    port: p.port,
    ...(p.local_address !== undefined ? { localAddress: canonicalAddress(p.local_address) } : {}),
    ...(p.local_asn !== undefined ? { localAsn: p.local_asn } : {}),
    passive: p.passive,
    holdTime,
    ...(keepalive !== undefined ? { keepalive } : {}),
    reconnect: buildReconnect(p, defaults, at, add),
    ...(p.password !== undefined ? { password: new Secret(p.password) } : {}),
    ...(p.multihop !== undefined ? { multihop: p.multihop } : {}),
    ...(hops !== undefined ? { ttlSecurity: { hops, minTtl: 256 - hops } } : {}),
    families,
    extendedNextHop: p.extended_next_hop,
    ...(p.max_prefixes !== undefined ? { maxPrefixes: prefixLimit(p.max_prefixes, [...at, 'max_prefixes'], add) } : {}),
    import: p.import,
    enforceFirstAs: p.enforce_first_as,
    importLimits: {
      maxAsPath: p.import_limits.max_as_path,
      maxRouteBytes: bytes(p.import_limits.max_route_bytes),
      maxBytes: bytes(p.import_limits.max_bytes),
      action: { kind: p.import_limits.action, restartAfterMs: ms(p.import_limits.restart_after) },
    },
    nextHopSelf: {
      ...(p.next_hop_self?.ipv4 !== undefined ? { ipv4: canonicalAddress(p.next_hop_self.ipv4) } : {}),
      ...(p.next_hop_self?.ipv6 !== undefined ? { ipv6: canonicalAddress(p.next_hop_self.ipv6) } : {}),
    },
    ...(grTime !== undefined ? { gracefulRestartTime: grTime } : {}),
    gracefulNotification: grTime !== undefined && (gr?.notification ?? false),
    ...(peerBfd !== undefined ? { bfd: peerBfd } : {}),
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.template !== undefined ? { template: p.template } : {}),
    shutdown: p.shutdown,
  };
}

/** A size from the config: bytes, or a number with B, KiB, MiB or GiB (the schema checked the form). */
function bytes(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = BYTE_SIZE.exec(v)!;
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[m[2] ?? 'B'] ?? 1;
  return Number(m[1]) * unit;
}

/** max_prefixes as a count or a mapping; the warning must be below the limit. */
function prefixLimit(v: RawPeer['max_prefixes'] & {}, at: PathSegment[], add: Add): PrefixLimitSettings {
  if (typeof v === 'number') return { limit: v, warning: Math.floor(v * 0.9), action: { kind: 'restart', restartAfterMs: 60_000 } };
  if (v.warning !== undefined && v.warning >= v.limit) add([...at, 'warning'], `warning ${v.warning} must be below limit ${v.limit}`);
  return { limit: v.limit, warning: v.warning ?? Math.floor(v.limit * 0.9), action: { kind: v.action, restartAfterMs: ms(v.restart_after) } };
}

/** Attributes shared by services and static routes, with peer and family checks. */
function buildRoute(
  r: RawService | RawStatic,
  at: PathSegment[],
  prefixes: { text: string; path: PathSegment[] }[],
  peers: PeerSettings[],
  add: Add,
): RouteAttrs {
  let targets = peers;
  let unknown = false;
  if (r.peers) {
    const byName = new Map(peers.map((p) => [p.name, p]));
    targets = [];
    r.peers.forEach((n, i) => {
      const p = byName.get(n);
      if (p) targets.push(p);
      else {
        unknown = true;
        const near = suggest(n, [...byName.keys()]);
        add([...at, 'peers', i], `unknown peer ${JSON.stringify(n)}${near ? ` — did you mean '${near}'?` : ''}`);
      }
    });
  }
  const scope = r.peers ? 'none of the peers in its peers list' : 'no peer';
  // With a misspelt peer name the family check would only add noise.
  for (const { text, path } of unknown ? [] : prefixes) {
    const fam = familyOf(text);
    if (!targets.some((p) => p.families.includes(fam))) {
      const carried = targets.map((p) => `${p.name}: ${p.families.join('+')}`).join(', ');
      add(
        path,
        `${text} is ${fam === 'ipv4' ? 'IPv4' : 'IPv6'} but ${scope} carries ${fam}` +
          ` (${carried || 'no peers configured'}); add ${fam} to a peer's families`,
      );
    }
    if (r.next_hop !== 'self') {
      const nh = familyOf(r.next_hop);
      if (nh === 'ipv4' && fam === 'ipv6') add([...at, 'next_hop'], `next_hop ${r.next_hop} is IPv4 but ${text} is IPv6`);
      if (nh === 'ipv6' && fam === 'ipv4' && !targets.some((p) => p.extendedNextHop))
        add([...at, 'next_hop'], `next_hop ${r.next_hop} is IPv6 but ${text} is IPv4 and no peer has extended_next_hop (RFC 8950)`);
    }
  }
  return {
    nextHop: r.next_hop === 'self' ? 'self' : canonicalAddress(r.next_hop),
    communities: r.communities,
    largeCommunities: r.large_communities,
    extendedCommunities: r.extended_communities,
    ...(r.med !== undefined ? { med: r.med } : {}),
    peers: r.peers ?? null,
  };
}

function buildService(s: RawService, at: PathSegment[], peers: PeerSettings[], add: Add): ServiceConfig {
  const intervalMs = ms(s.interval);
  if (intervalMs < MIN_INTERVAL_MS) add([...at, 'interval'], `interval ${formatDuration(intervalMs)} is too short (at least ${MIN_INTERVAL_MS}ms)`);
  const fastIntervalMs = s.fast_interval === undefined ? intervalMs : ms(s.fast_interval);
  if (s.fast_interval !== undefined && fastIntervalMs < MIN_INTERVAL_MS)
    add([...at, 'fast_interval'], `fast_interval ${formatDuration(fastIntervalMs)} is too short (at least ${MIN_INTERVAL_MS}ms)`);
  if (fastIntervalMs > intervalMs) add([...at, 'fast_interval'], `fast_interval ${formatDuration(fastIntervalMs)} is longer than interval ${formatDuration(intervalMs)}`);
  const timeoutMs = s.timeout === undefined ? Math.min(1000, intervalMs) : ms(s.timeout);
  if (s.timeout !== undefined && timeoutMs === 0) add([...at, 'timeout'], 'timeout must be longer than 0s');
  if (timeoutMs > intervalMs) add([...at, 'timeout'], `timeout ${formatDuration(timeoutMs)} is longer than interval ${formatDuration(intervalMs)}`);
  const jitterMs = s.jitter === undefined ? Math.floor(intervalMs / 10) : ms(s.jitter);
  if (jitterMs >= intervalMs && intervalMs > 0)
    add([...at, 'jitter'], `jitter ${formatDuration(jitterMs)} must be shorter than interval ${formatDuration(intervalMs)}`);

  const seen = new Map<string, number>();
  const prefixes: { text: string; path: PathSegment[] }[] = [];
  s.prefixes.forEach((t, i) => {
    const canon = canonicalPrefix(t);
    const j = seen.get(canon);
    if (j !== undefined) add([...at, 'prefixes', i], `${t} is listed twice (also prefixes[${j}])`);
    else seen.set(canon, i);
    prefixes.push({ text: canon, path: [...at, 'prefixes', i] });
  });
  const route = buildRoute(s, at, prefixes, peers, add);
  const checks: Check[] = s.checks.map((c, i) => buildCheck(c, [...at, 'checks', i], timeoutMs, intervalMs, add));
  const hostAddresses = buildHostAddresses(s, prefixes, [...at, 'host_addresses'], add);
  if (hostAddresses) checks.push({ kind: 'host_address', interface: hostAddresses.interface, addresses: hostAddresses.addresses });
  return {
    name: s.name,
    prefixes: prefixes.filter((_, i) => seen.get(prefixes[i]!.text) === i).map((p) => p.text),
    checks,
    combine: s.combine,
    intervalMs,
    fastIntervalMs,
    timeoutMs,
    rise: s.rise,
    fall: s.fall,
    jitterMs,
    whenDown: buildWhenDown(s.when_down),
    hostAddresses,
    ...route,
    ...(s.description !== undefined ? { description: s.description } : {}),
  };
}

/** A service's host addresses: its prefixes, each of which must be a host route (/32, /128). */
function buildHostAddresses(s: RawService, prefixes: { text: string; path: PathSegment[] }[], at: PathSegment[], add: Add): HostAddresses | null {
  const h = s.host_addresses;
  if (!h) return null;
  for (const p of prefixes) {
    const { len, family } = ip(p.text);
    if (len !== (family === 'ipv6' ? 128 : 32))
      add(p.path, `${p.text} is not a host route (/32 or /128): host_addresses puts each prefix's address on ${h.interface}, so every prefix of this service must be one address`);
  }
  return { mode: h.mode, interface: h.interface, addresses: [...new Set(prefixes.map((p) => p.text))] };
}

function buildWhenDown(w: RawService['when_down']): WhenDown {
  if (w.withdraw === true) return { action: 'withdraw' };
  return {
    action: 'degrade',
    prepend: w.prepend ?? 0,
    ...(w.med !== undefined ? { med: w.med } : {}),
    communities: w.communities ?? [],
    largeCommunities: w.large_communities ?? [],
    gracefulShutdown: w.graceful_shutdown ?? false,
  };
}

function buildCheck(c: RawCheck, at: PathSegment[], defaultTimeout: number, intervalMs: number, add: Add): Check {
  const timeout = (t: string | number | undefined, kind: string): number => {
    if (t === undefined) return defaultTimeout;
    const v = ms(t);
    if (v === 0) add([...at, kind, 'timeout'], 'timeout must be longer than 0s');
    if (v > intervalMs) add([...at, kind, 'timeout'], `timeout ${formatDuration(v)} is longer than the service interval ${formatDuration(intervalMs)}`);
    return v;
  };
  if (c.tcp) return { kind: 'tcp', address: canonicalAddress(c.tcp.address), port: c.tcp.port, timeoutMs: timeout(c.tcp.timeout, 'tcp') };
  if (c.http || c.https) {
    const kind = c.http ? 'http' : 'https';
    const h = (c.http ?? c.https)!;
    const tls = c.https;
    return {
      kind,
      url: h.url,
      method: h.method,
      status: typeof h.status === 'number' ? [h.status] : h.status,
      ...(h.body !== undefined ? { body: h.body } : {}),
      ...(h.body_regex !== undefined ? { bodyRegex: h.body_regex } : {}),
      ...(h.host !== undefined ? { host: h.host } : {}),
      headers: h.headers,
      ...(tls?.sni !== undefined ? { sni: tls.sni } : {}),
      verifyTls: tls ? tls.verify_tls : false,
      timeoutMs: timeout(h.timeout, kind),
    };
  }
  if (c.dns) {
    const d = c.dns;
    return {
      kind: 'dns',
      server: canonicalAddress(d.server),
      port: d.port,
      protocol: d.protocol,
      query: d.query,
      type: d.type,
      rcode: d.rcode,
      ...(d.answer !== undefined ? { answer: d.answer } : {}),
      timeoutMs: timeout(d.timeout, 'dns'),
    };
  }
  if (c.exec) {
    const e = c.exec;
    return {
      kind: 'exec',
      argv: typeof e.command === 'string' ? ['/bin/sh', '-c', e.command] : e.command,
      env: e.env,
      ...(e.cwd !== undefined ? { cwd: e.cwd } : {}),
      timeoutMs: timeout(e.timeout, 'exec'),
    };
  }
  return { kind: 'maintenance_file', path: c.maintenance_file! };
}

function buildStatic(s: RawStatic, at: PathSegment[], peers: PeerSettings[], add: Add): StaticRoute {
  const canon = canonicalPrefix(s.prefix);
  const route = buildRoute(s, at, [{ text: canon, path: [...at, 'prefix'] }], peers, add);
  return { prefix: canon, ...route, ...(s.description !== undefined ? { description: s.description } : {}) };
}

function buildLxd(l: NonNullable<RawConfig['lxd']>, at: PathSegment[], add: Add): LxdConfig {
  const r = l.rules;
  const checkIntervalMs = ms(l.check_interval);
  if (checkIntervalMs < MIN_INTERVAL_MS) add([...at, 'check_interval'], `check_interval ${formatDuration(checkIntervalMs)} is too short (at least ${MIN_INTERVAL_MS}ms)`);
  const checkTimeoutMs = l.check_timeout === undefined ? Math.min(1000, checkIntervalMs) : ms(l.check_timeout);
  if (l.check_timeout !== undefined && checkTimeoutMs === 0) add([...at, 'check_timeout'], 'check_timeout must be longer than 0s');
  if (checkTimeoutMs > checkIntervalMs)
    add([...at, 'check_timeout'], `check_timeout ${formatDuration(checkTimeoutMs)} is longer than check_interval ${formatDuration(checkIntervalMs)}`);
  return {
    socket: l.url ? null : (l.socket ?? null),
    project: l.project ?? null,
    https: l.url ? { url: l.url, clientCert: l.client_cert!, clientKey: l.client_key!, serverCert: l.server_cert! } : null,
    uplinks: l.uplinks,
    announceFrom: l.announce_from,
    chassisName: l.chassis_name ?? null,
    ovnSb: l.ovn_sb ?? null,
    rules: {
      ovnNetworks: r.ovn_networks,
      routesExternal: r.routes_external,
      nicAddresses: r.nic_addresses,
      forwards: r.forwards,
      loadBalancers: r.load_balancers,
      bridgeSubnets: r.bridge_subnets,
      userRoutes: r.user_routes,
    },
    coalesceMs: ms(l.coalesce),
    resyncMs: ms(l.resync_interval),
    unreachableWithdrawAfterMs: ms(l.unreachable_withdraw_after),
    checkIntervalMs,
    checkTimeoutMs,
    checkRise: l.check_rise,
    checkFall: l.check_fall,
  };
}
