/**
 * The typed, camelCase config the daemon's code reads. The YAML file is
 * snake_case (schema.ts); build.ts maps one to the other and fills every
 * default, so nothing downstream guesses. Durations are whole milliseconds
 * (`…Ms`), except the BGP timers that RFC 4271 counts in seconds (holdTime,
 * keepalive, gracefulRestartTime).
 */
import type { Secret } from './secret.js';

export type Family = 'ipv4' | 'ipv6';

export interface Config {
  /** File the config came from, as given to loadConfig/parseConfig. */
  readonly file: string;
  readonly routerId: string;
  readonly asn: number;
  /** Where to accept BGP connections; false: no listener (active sessions only). */
  readonly listen: ListenConfig | false;
  readonly api: ApiConfig;
  /** Directory of state kept across restarts (drains, added addresses). */
  readonly stateDir: string;
  readonly peers: readonly PeerSettings[];
  readonly services: readonly ServiceConfig[];
  readonly static: readonly StaticRoute[];
  readonly logging: LoggingConfig;
  readonly drain: DrainConfig;
  /** Reconnect and damping settings of peers that set none of their own. */
  readonly peerDefaults: ReconnectConfig;
  /** The top-level graceful_restart section; null when absent. */
  readonly gracefulRestart: GracefulRestartConfig | null;
  /** The top-level `bfd` section: BFD with every peer that does not say `bfd: false`; null when absent. */
  readonly bfd: BfdSettings | null;
  /** The Prometheus listener; null when the `metrics` section is absent. */
  readonly metrics: MetricsConfig | null;
  /** The LXD route source (src/sources/lxd); null when absent. */
  readonly lxd: LxdConfig | null;
}

export interface ListenConfig {
  /** One listener per address (canonical text), in the file's order. */
  readonly addresses: readonly string[];
  /** 0 binds any free port (tests). */
  readonly port: number;
}

export interface ApiConfig {
  readonly socket: string;
  /** File mode of the socket, e.g. 0o660. */
  readonly mode: number;
  /** Group that owns the socket: a name (resolved when the API starts) or a numeric gid; null = herald's own group. */
  readonly group: string | number | null;
}

/** What a peer reaching a limit gets (bgp LimitAction): block, restart after a delay, or disable. */
export interface LimitActionSettings {
  readonly kind: 'block' | 'restart' | 'disable';
  readonly restartAfterMs: number;
}

export interface PrefixLimitSettings {
  readonly limit: number;
  /** Warning threshold (default 90 % of limit). */
  readonly warning: number;
  readonly action: LimitActionSettings;
}

/** Caps on received routes (issue 12); bytes are heap estimates. */
export interface ImportLimitSettings {
  readonly maxAsPath: number;
  readonly maxRouteBytes: number;
  readonly maxBytes: number;
  readonly action: LimitActionSettings;
}

export interface PeerSettings {
  readonly name: string;
  readonly address: string;
  /** The transport's family (that of `address`). */
  readonly transport: Family;
  readonly asn: number;
  readonly port: number;
  readonly localAddress?: string;
  readonly localAsn?: number;
  readonly passive: boolean;
  /** Seconds; 0 or 3..65535. */
  readonly holdTime: number;
  /** Seconds; absent = a third of the negotiated hold time (RFC 4271 §10). */
  readonly keepalive?: number;
  /** Reconnect and damping timers, the peer's own or peer_defaults'. */
  readonly reconnect: ReconnectConfig;
  /** TCP MD5 key (RFC 2385); prints as "<redacted>". */
  readonly password?: Secret;
  /** eBGP multihop TTL. */
  readonly multihop?: number;
  /** GTSM (RFC 5082): neighbour at most this many hops away (minimum TTL 256 - hops). */
  readonly ttlSecurity?: { readonly hops: number; readonly minTtl: number };
  readonly families: readonly Family[];
  readonly extendedNextHop: boolean;
  readonly maxPrefixes?: PrefixLimitSettings;
  readonly import: 'all' | 'none';
  readonly importLimits: ImportLimitSettings;
  readonly enforceFirstAs: boolean;
  readonly nextHopSelf: { readonly ipv4?: string; readonly ipv6?: string };
  /** The template the peer took settings from (decision 0028); absent: none. */
  readonly template?: string;
  /** Graceful Restart restart time, seconds (RFC 4724); absent = capability off. */
  readonly gracefulRestartTime?: number;
  /** With gracefulRestartTime: offer the RFC 8538 N bit (the top-level graceful_restart.notification). */
  readonly gracefulNotification: boolean;
  /** BFD with this peer (docs/bfd.md); absent = off. */
  readonly bfd?: PeerBfdSettings;
  readonly description?: string;
  /** Administratively down: configured but never connected. */
  readonly shutdown: boolean;
}

/** BFD timers and role (RFC 5880), the top-level section's or a peer's. */
export interface BfdSettings {
  readonly minTxMs: number;
  readonly minRxMs: number;
  readonly multiplier: number;
  readonly passive: boolean;
  /** How long an Established session holds its routes while BFD is not Up; 0 = no wait. */
  readonly waitUpMs: number;
}

/** One peer's BFD: the shared settings, single hop or multihop (RFC 5883) and its hop limit. */
export interface PeerBfdSettings extends BfdSettings {
  readonly multihop: boolean;
  /** Multihop: accept TTL >= 256 - maxHops; absent = no check. */
  readonly maxHops?: number;
}

export type Check = TcpCheck | HttpCheck | DnsCheck | ExecCheck | MaintenanceFileCheck | HostAddressCheck;

export interface TcpCheck {
  readonly kind: 'tcp';
  readonly address: string;
  readonly port: number;
  readonly timeoutMs: number;
}

export interface HttpCheck {
  readonly kind: 'http' | 'https';
  readonly url: string;
  readonly method: 'GET' | 'HEAD';
  /** Any of these status codes is healthy. */
  readonly status: readonly number[];
  /** Substring the body must contain. */
  readonly body?: string;
  /** Regular expression (JavaScript syntax) the body must match. */
  readonly bodyRegex?: string;
  /** Host header to send instead of the URL's host. */
  readonly host?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** TLS server name (https only); default the Host header or URL host. */
  readonly sni?: string;
  /** Verify the server certificate (https only; always false for http). */
  readonly verifyTls: boolean;
  readonly timeoutMs: number;
}

export interface DnsCheck {
  readonly kind: 'dns';
  readonly server: string;
  readonly port: number;
  readonly protocol: 'udp' | 'tcp';
  readonly query: string;
  readonly type: DnsType;
  readonly rcode: DnsRcode;
  /** Text that must appear in one answer record's data. */
  readonly answer?: string;
  readonly timeoutMs: number;
}

export interface ExecCheck {
  readonly kind: 'exec';
  /** argv; a string command in the file becomes ['/bin/sh', '-c', command]. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeoutMs: number;
}

export interface MaintenanceFileCheck {
  readonly kind: 'maintenance_file';
  /** Present = administratively down (no flap counting). */
  readonly path: string;
}

/**
 * Built in, never written under `checks`: a service with `host_addresses`
 * gets one, which fails while an address is missing from the interface —
 * whatever `combine` says (a service cannot answer on an address the host
 * does not have).
 */
export interface HostAddressCheck {
  readonly kind: 'host_address';
  readonly interface: string;
  readonly addresses: readonly string[];
}

export const DNS_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT', 'CAA'] as const;
export type DnsType = (typeof DNS_TYPES)[number];
export const DNS_RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;
export type DnsRcode = (typeof DNS_RCODES)[number];

/** What to announce while a service is down. */
export type WhenDown =
  | { readonly action: 'withdraw' }
  | {
      /** Stay announced as a worse path (primary/backup setups). */
      readonly action: 'degrade';
      readonly prepend: number;
      readonly med?: number;
      readonly communities: readonly string[];
      readonly largeCommunities: readonly string[];
      /** Add GRACEFUL_SHUTDOWN 65535:0 (RFC 8326). */
      readonly gracefulShutdown: boolean;
    };

/** Route attributes shared by services and static routes. */
export interface RouteAttrs {
  /** 'self' or an address. */
  readonly nextHop: string;
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly extendedCommunities: readonly string[];
  readonly med?: number;
  /** Peer names to announce to; null = every peer carrying the family. */
  readonly peers: readonly string[] | null;
}

export interface ServiceConfig extends RouteAttrs {
  readonly name: string;
  /** Canonical prefix text ("198.51.100.53/32", RFC 5952 IPv6). */
  readonly prefixes: readonly string[];
  readonly checks: readonly Check[];
  readonly combine: 'all' | 'any';
  readonly intervalMs: number;
  /** Probe interval while a rise/fall count is in progress. */
  readonly fastIntervalMs: number;
  /** Default per-check timeout. */
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** Each probe is delayed by a random 0..jitterMs. */
  readonly jitterMs: number;
  readonly whenDown: WhenDown;
  /** The service's addresses on this host (decision 0029); null: herald leaves them alone. */
  readonly hostAddresses?: HostAddresses | null;
  readonly description?: string;
}

/** A service's host addresses: added at start and removed at stop, or only verified. */
export interface HostAddresses {
  readonly mode: 'add' | 'verify';
  readonly interface: string;
  /** "198.51.100.53/32", "2001:db8:53::53/128": the service's host routes. */
  readonly addresses: readonly string[];
}

export interface StaticRoute extends RouteAttrs {
  readonly prefix: string;
  readonly description?: string;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

export interface LoggingConfig {
  readonly level: (typeof LOG_LEVELS)[number];
  readonly format: 'json' | 'pretty';
}

/** How a session comes back after it ends (bgp/session/fsm.ts, decision 0025). */
export interface ReconnectConfig {
  readonly connectRetryMs: number;
  readonly connectRetryMaxMs: number;
  readonly idleHoldMs: number;
  readonly idleHoldMaxMs: number;
  readonly idleHoldForgiveMs: number;
}

export interface GracefulRestartConfig {
  /** RFC 4724 Restart Time, whole seconds 1..4095. */
  readonly restartTime: number;
  /** What SIGTERM does: drain (withdraw, Cease) or restart (stop keeping routes at routers). */
  readonly onStop: 'drain' | 'restart';
  /** Offer the RFC 8538 N bit. */
  readonly notification: boolean;
}

export interface DrainConfig {
  /** On SIGTERM/`routes drain`: how long to announce GRACEFUL_SHUTDOWN before withdrawing. */
  readonly periodMs: number;
  /** RFC 9003 shutdown communication sent with Cease/Administrative Shutdown. */
  readonly message: string;
}

export interface MetricsConfig {
  readonly address: string;
  readonly port: number;
  readonly path: string;
}

export interface LxdConfig {
  /** API socket; null = probe the snap, Debian and Incus default paths. Null when `https` is set. */
  readonly socket: string | null;
  /** Only this project; null = all projects. */
  readonly project: string | null;
  /** Remote LXD over HTTPS with a client certificate and a pinned server certificate (paths). */
  readonly https: { readonly url: string; readonly clientCert: string; readonly clientKey: string; readonly serverCert: string } | null;
  readonly uplinks: readonly string[];
  readonly announceFrom: 'all-members' | 'active-chassis';
  /** This host's OVN chassis name for active-chassis; null = the LXD server name. */
  readonly chassisName: string | null;
  /** OVN southbound database (OVSDB connection methods) whose gateway moves trigger a read; null = none. */
  readonly ovnSb: string | null;
  readonly rules: {
    readonly ovnNetworks: boolean;
    readonly routesExternal: boolean;
    readonly nicAddresses: boolean;
    readonly forwards: boolean;
    readonly loadBalancers: boolean;
    readonly bridgeSubnets: boolean;
    readonly userRoutes: boolean;
  };
  readonly coalesceMs: number;
  readonly resyncMs: number;
  /** 0 = never withdraw. */
  readonly unreachableWithdrawAfterMs: number;
  /** `user.herald.check` probes: interval, timeout, rise and fall. */
  readonly checkIntervalMs: number;
  readonly checkTimeoutMs: number;
  readonly checkRise: number;
  readonly checkFall: number;
}
