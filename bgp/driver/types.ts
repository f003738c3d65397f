/**
 * The speaker's public shapes: peer configuration, events, snapshots.
 *
 * These are what src/ sees of the BGP speaker (re-exported by bgp/index.ts).
 * One snapshot model feeds the control API, the CLI and the metrics
 * (STYLE.md §10), so it is plain JSON-able data with no secrets in it.
 */
import type { DownReason } from '../session/index.js';
import type { RouteAttrs } from '../rib/route.js';
import type { PrefixList } from '../rib/prefix-list.js';
import type { BfdSessionSnapshot } from '../bfd/driver.js';

/**
 * One change to the routes the speaker announces: group `id` becomes this
 * attribute set for these prefixes, for the named peers (null: every peer),
 * or the group goes away. Ids are the caller's and stable for a group's
 * life; a prefix should be in one group only.
 */
export type GroupOp =
  | { id: number; attrs: RouteAttrs; prefixes: PrefixList; peers: readonly string[] | null; remove?: undefined }
  | { id: number; remove: true };

/** One neighbor as the daemon configures it. */
export interface PeerConfig {
  /** Unique name, used in logs, the API and metrics. */
  name: string;
  /** The neighbor's IP address (IPv4 or IPv6). */
  address: string;
  /** TCP port to connect to; default 179. */
  port?: number;
  /** The neighbor's AS. */
  asn: number;
  /** Our AS on this session when it differs from the speaker's. */
  localAs?: number;
  /** Source address for outgoing connections (and the default next hop of that family). */
  localAddress?: string;
  /** Never connect; wait for the neighbor. */
  passive?: boolean;
  /** Proposed hold time, seconds (0 or >= 3); default 90. */
  holdTime?: number;
  /** Keepalive interval, seconds; default a third of the negotiated hold time. */
  keepalive?: number;
  /** First ConnectRetry delay in ms after a failed connection attempt (doubles per failure, jittered); default 1000. */
  connectRetryMs?: number;
  /** Ceiling of the ConnectRetry backoff, ms; default 120000. */
  connectRetryMaxMs?: number;
  /** IdleHold after a session ends with a protocol error, ms (doubles per unforgiven error); default 5000. */
  idleHoldMs?: number;
  /** Ceiling of the IdleHold damping, ms; default 300000. */
  idleHoldMaxMs?: number;
  /** Established uptime that forgives one protocol error, ms; default 120000. */
  idleHoldForgiveMs?: number;
  /** TCP MD5 signature key (RFC 2385). Never logged or reported. */
  password?: string;
  /** eBGP multihop: TTL of our packets. Directly connected eBGP uses 1. */
  multihop?: number;
  /** GTSM (RFC 5082): send TTL 255 and require at least `minTtl` on received packets. */
  ttlSecurity?: boolean;
  minTtl?: number;
  /** Families to negotiate; default: the transport's family. */
  families?: ('ipv4' | 'ipv6')[];
  /** RFC 8950: offer IPv4 unicast with an IPv6 next hop (for IPv6-only sessions). */
  extendedNextHop?: boolean;
  /** Hold at most this many received prefixes (RFC 4486); what happens then is `maxPrefixesAction`. */
  maxPrefixes?: number;
  /** Log and emit `receive-limit` (warning) once when more than this many are held; default 90 % of maxPrefixes. */
  maxPrefixesWarning?: number;
  /** What reaching maxPrefixes does; default restart after 60 s (Cease/Maximum Number of Prefixes Reached). */
  maxPrefixesAction?: LimitAction;
  /** Caps on what the neighbor can make herald hold; absent fields take DEFAULT_RECEIVE_LIMITS. */
  receiveLimits?: ReceiveLimits;
  /** Keep no received routes (still counted). */
  importNothing?: boolean;
  /** RFC 4271 §6.3 first-AS check on an eBGP peer's routes; default true, false for route servers. */
  enforceFirstAs?: boolean;
  /** Next hop used for 'self' routes instead of the session's local address. */
  nextHopSelf4?: string;
  nextHopSelf6?: string;
  /**
   * Graceful Restart (RFC 4724) restart time in seconds; off when absent.
   * The capability lists every family of the session with the F bit set.
   */
  gracefulRestartTime?: number;
  /** With gracefulRestartTime: also set the RFC 8538 "N" bit (graceful NOTIFICATION, Hard Reset). */
  gracefulNotification?: boolean;
  /** BFD with this neighbor (docs/bfd.md, decision 0030); off when absent. */
  bfd?: PeerBfdConfig;
}

/**
 * BFD for one peer. The speaker runs one BFD session with the peer's
 * address; a BFD Down takes the BGP session down (Cease/BFD Down, RFC 9384)
 * and an Established session sends no routes until BFD is Up, for at most
 * `waitUpMs` (decision 0030).
 */
export interface PeerBfdConfig {
  /** bfd.DesiredMinTxInterval once Up, ms (10..60000; default 300). */
  desiredMinTxMs?: number;
  /** bfd.RequiredMinRxInterval, ms (10..60000; default 300). */
  requiredMinRxMs?: number;
  /** bfd.DetectMult (1..255; default 3). */
  detectMult?: number;
  /** RFC 5883 multihop; default: the BGP session is multihop (`bfdMultihop`). */
  multihop?: boolean;
  /** Multihop only: accept packets that crossed at most this many hops (TTL >= 256 - maxHops); default no check. */
  maxHops?: number;
  /** RFC 5880 §6.1 Passive role: send nothing until the peer's first packet. */
  passive?: boolean;
  /** How long an Established session holds its routes back while BFD is not Up, ms; 0 = it does not wait. Default 10000. */
  waitUpMs?: number;
  /** Destination UDP port (default 3784 / 4784; tests). */
  port?: number;
}

/** How long an Established session waits for BFD Up before it sends its routes anyway, by default (ms). */
export const BFD_WAIT_UP_MS = 10_000;

/**
 * Whether a peer's BFD is multihop when its config does not say: when the
 * BGP session is (eBGP multihop with a TTL above 1, or GTSM allowing more
 * than one hop), as FRR decides for `neighbor X bfd`.
 */
export function bfdMultihop(cfg: Pick<PeerConfig, 'multihop' | 'ttlSecurity' | 'minTtl' | 'bfd'>): boolean {
  if (cfg.bfd?.multihop !== undefined) return cfg.bfd.multihop;
  if (cfg.multihop !== undefined && cfg.multihop > 1) return true;
  return cfg.ttlSecurity === true && cfg.minTtl !== undefined && cfg.minTtl < 255;
}

/**
 * What a peer that reaches a limit gets (BIRD's `receive limit ... action`):
 * - block: routes over the limit are not stored; the session stays up;
 * - restart: Cease NOTIFICATION, then a new session after `restartAfterMs`;
 * - disable: Cease NOTIFICATION, then down until an operator enables it
 *   (`Speaker.enablePeer`, or a restart of herald).
 */
export interface LimitAction {
  kind: 'block' | 'restart' | 'disable';
  /** For restart: how long to stay down first. */
  restartAfterMs?: number;
}

/** Caps on received routes (see bgp/rib/adj-rib-in.ts for how each is counted). */
export interface ReceiveLimits {
  /** AS numbers in one route's AS_PATH. */
  maxAsPath?: number;
  /** Estimated heap bytes of one route's attributes. */
  maxAttributeBytes?: number;
  /** Estimated heap bytes of the whole Adj-RIB-In of this peer. */
  maxBytes?: number;
  /** What breaking any of them does; default block. Caps never let the RIB grow past them, whatever the action. */
  action?: LimitAction;
}

/**
 * Defaults that keep one peer from exhausting the heap (issue 12: 16,340-ASN
 * AS_PATHs, ~180 KB of heap a route, killed herald after ~29k routes): no
 * real path comes near 1,000 AS numbers, a 4096-octet UPDATE cannot carry
 * attributes much past 16 KiB of heap, and 64 MiB holds ~700k key-only
 * prefixes or ~150k routes with typical attributes.
 */
export const DEFAULT_RECEIVE_LIMITS = {
  maxAsPath: 1_000,
  maxAttributeBytes: 65_536,
  maxBytes: 64 * 1024 * 1024,
  action: { kind: 'block' },
} as const satisfies Required<ReceiveLimits>;

/** The default action at maxPrefixes: RFC 4486 Cease, back after a minute. */
export const DEFAULT_MAX_PREFIXES_ACTION: LimitAction = { kind: 'restart', restartAfterMs: 60_000 };

/** Minimal structured logger (pino-compatible). */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Typed events the speaker emits. */
export type SpeakerEvent =
  | { type: 'state'; peer: string; from: string; to: string }
  | { type: 'established'; peer: string; families: string[]; holdTime: number }
  | { type: 'down'; peer: string; reason: DownReason; wasEstablished: boolean }
  | { type: 'end-of-rib'; peer: string; family: string }
  | { type: 'notification-sent'; peer: string; code: number; subcode: number; text: string | undefined }
  | { type: 'connect-failed'; peer: string; error: string }
  | { type: 'unknown-connection'; address: string }
  | { type: 'md5-failure'; peer: string | null; count: number }
  /**
   * The peer's BFD session changed state (RFC 5880 §6.8.6). `pathDown`: it
   * left Up because the path failed, which takes the BGP session down; a
   * remote AdminDown does not (RFC 5882 §3.2).
   */
  | { type: 'bfd'; peer: string; from: string; to: string; diag: string; remoteState: string; pathDown: boolean }
  /**
   * The Established session's routes wait for BFD Up (`held`), or go out:
   * BFD came Up, or `waitUpMs` passed without it (`unprotected`).
   */
  | { type: 'bfd-routes'; peer: string; held: boolean; unprotected: boolean; heldMs: number }
  /**
   * A ROUTE-REFRESH from the peer for `family`: subtype 0 asks us to
   * re-advertise it (RFC 2918); 1 (BoRR) and 2 (EoRR) frame the peer's own
   * re-advertisement (RFC 7313), `purged` counting the stale routes the EoRR
   * removed from the Adj-RIB-In.
   */
  | { type: 'route-refresh'; peer: string; family: string; subtype: number; purged?: number }
  /** Our re-advertisement of `family` in answer to a request is complete (End-of-RIB or EoRR sent). */
  | { type: 'route-refresh-answered'; peer: string; family: string; enhanced: boolean }
  /**
   * A received-route limit was reached (`action` applied; once per limit and
   * session for block), or the max_prefixes warning threshold was crossed
   * (`action: 'warning'`, once per crossing). `count` is what is held, `max` the limit.
   */
  | { type: 'receive-limit'; peer: string; limit: 'max-prefixes' | 'max-bytes' | 'as-path' | 'attribute-bytes'; action: 'warning' | LimitAction['kind']; count: number; max: number }
  /**
   * Every group change up to `seq` (the value `applyGroups` returned) is
   * applied to the peer's Adj-RIB-Out and, while Established, written to the
   * socket in full: nothing is pending for it.
   */
  | { type: 'flushed'; peer: string; seq: number };

/**
 * A peer's counters, the one list of them: the driver counts, the snapshot
 * carries them, the API shows them and the metrics export each as a
 * `_total` (src/metrics.ts reads this list).
 *
 *   messagesIn / messagesOut          every BGP message
 *   updatesIn / updatesOut            UPDATE messages (End-of-RIB included)
 *   notificationsIn / notificationsOut
 *   flaps                             transitions out of Established
 *   establishedTransitions
 *   refreshRequestsIn                 ROUTE-REFRESH requests (subtype 0, RFC 2918 §4) the FSM accepted
 *   refreshBorrIn / refreshEorrIn     BoRR / EoRR framing the peer's re-advertisement (RFC 7313 §4)
 *   refreshesAnswered                 our re-advertisements completed (End-of-RIB, or EoRR when enhanced)
 *   connectFailures                   outgoing connection attempts that failed
 *   md5Failures                       kernel TCP MD5 drops seen while this keyed peer was not Established
 *   routesRejected                    received routes not stored because of a limit (max_prefixes, import caps)
 */
export const PEER_COUNTER_KEYS = [
  'messagesIn',
  'messagesOut',
  'updatesIn',
  'updatesOut',
  'notificationsIn',
  'notificationsOut',
  'flaps',
  'establishedTransitions',
  'refreshRequestsIn',
  'refreshBorrIn',
  'refreshEorrIn',
  'refreshesAnswered',
  'connectFailures',
  'md5Failures',
  'routesRejected',
] as const;

export type PeerCounterKey = (typeof PEER_COUNTER_KEYS)[number];
export type PeerCounters = Record<PeerCounterKey, number>;

/** A fresh set of counters, all zero. */
export function zeroPeerCounters(): PeerCounters {
  return Object.fromEntries(PEER_COUNTER_KEYS.map((k) => [k, 0])) as PeerCounters;
}

/** One peer as the control API, CLI and metrics see it. */
export interface PeerSnapshot {
  name: string;
  /** Tells this peer's counters apart from an earlier peer of the same name (a peer re-added counts from zero). */
  instance: number;
  address: string;
  peerAs: number;
  localAs: number;
  state: string;
  uptimeMs: number;
  passive: boolean;
  localAddress: string | null;
  families: string[];
  holdTime: number | null;
  keepaliveTime: number | null;
  peerBgpId: string | null;
  peerHostname: string | null;
  lastDown: (DownReason & { at: number }) | null;
  lastConnectError: string | null;
  counters: PeerCounters;
  prefixesAnnounced: number;
  prefixesPending: number;
  prefixesReceived: number;
  /** Estimated heap bytes the Adj-RIB-In holds for this peer (keys, and attributes with import all). */
  receivedBytes: number;
  /** The last received-route limit reached, while it applies (blocking, or the peer down for it); null otherwise. */
  receiveLimit: { limit: string; action: string; at: number; message: string } | null;
  endOfRibReceived: string[];
  /** Whether TCP MD5 is configured (the key itself is never exposed). */
  md5: boolean;
  /**
   * ms left of the IdleHold hold-down after a protocol error (RFC 4271
   * §8.1.1 DampPeerOscillations): the session restarts, and connections from
   * the peer are taken again, when it ends. null when not held down.
   */
  heldDownMs: number | null;
  /** BFD with this peer; null when not configured. */
  bfd: PeerBfdSnapshot | null;
}

/** A peer's BFD: the session (one model with bgp/bfd's snapshot) and what it does to the BGP session's routes. */
export interface PeerBfdSnapshot {
  /** The BFD session; null while it is not running (see `error`). */
  session: BfdSessionSnapshot | null;
  /** Why the session is not running (waiting for a local address, a socket error); null when it runs. */
  error: string | null;
  /** The Established session's routes wait for BFD Up. */
  routesHeld: boolean;
  /** How long they have waited, ms (0 when not held). */
  heldMs: number;
  /** BFD was not Up within `waitUpMs` of Established: the routes went out without BFD protection. */
  unprotected: boolean;
  /** The configured wait, ms. */
  waitUpMs: number;
}
