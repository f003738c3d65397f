// The common contract every router controller in the interop lab implements,
// and the normalised route shape read back from each daemon. herald's
// interop tests talk only to these types, never to a daemon's own CLI.
// No RFC: this is test infrastructure.

export type RouterKind = 'frr' | 'bird' | 'gobgp' | 'openbgpd' | 'exabgp';
export type Family = 'ipv4' | 'ipv6';
export type Origin = 'igp' | 'egp' | 'incomplete';

/** One BGP neighbor as the router under control sees it. */
export interface RouterPeerConfig {
  /** The neighbor's address (IPv4 or IPv6). */
  address: string;
  asn: number;
  /** Wait for the neighbor to connect (ExaBGP cannot). */
  passive?: boolean;
  /** TCP MD5 (RFC 2385) key. */
  password?: string;
  /** eBGP multihop TTL. */
  multihop?: number;
  /** GTSM (RFC 5082): the neighbour is at most this many hops away; its packets must arrive with TTL ≥ 256 − hops (FRR only). */
  ttlSecurityHops?: number;
  /** Source address of the session (update-source / local address). */
  localAddress?: string;
  /** Families to negotiate; default both. */
  families?: Family[];
  /** Carry IPv4 NLRI with IPv6 next hops over an IPv6 session (RFC 8950). */
  extendedNextHop?: boolean;
  /** Hold time in seconds (keepalive = hold / 3); default the daemon's. */
  holdTime?: number;
  /**
   * BGP with BFD (FRR and BIRD only): FRR `neighbor X bfd` with a bfdd
   * profile holding these timers (set `localAddress` too: FRR 8.4 without
   * `update-source` resets the session once at its first Established);
   * BIRD `bfd on`, timers in its `protocol bfd`.
   */
  bfd?: { minTxMs?: number; minRxMs?: number; multiplier?: number };
}

/** A route a router originates (from config at start, or announce() later). */
export interface Announcement {
  prefix: string;
  /** Next hop to set; default: the daemon's "self". */
  nextHop?: string;
  med?: number;
  localPref?: number;
  /** "65000:1" */
  communities?: string[];
  /** "65000:1:2" */
  largeCommunities?: string[];
  /** ASNs to prepend after the router's own (eBGP) ASN. */
  asPathPrepend?: number[];
  origin?: Origin;
}

/** A route as received from a peer, normalised across daemons. */
export interface ReceivedRoute {
  prefix: string;
  nextHop: string;
  asPath: number[];
  med?: number;
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  origin: Origin;
  /** Address of the peer the route came from. */
  peer: string;
  /** The daemon picked this path as best (when it says). */
  best?: boolean;
}

/**
 * One BFD session a router runs: FRR writes a bfdd `peer` (bfdd is started
 * only when the list is non-empty); BIRD a `protocol bfd` neighbor, whose
 * timers come from the first single-hop and the first multihop entry (BIRD
 * sets them per interface pattern and for all multihop sessions).
 */
export interface RouterBfdPeer {
  address: string;
  /** Our source address; required for multihop. */
  localAddress?: string;
  multihop?: boolean;
  /** Desired min TX / required min RX interval in ms, and the detect multiplier. */
  minTxMs?: number;
  minRxMs?: number;
  multiplier?: number;
  /** Wait for the other side's first packet (RFC 5880 §6.1). */
  passive?: boolean;
}

export interface RouterConfig {
  /** Label used in messages and temp-dir names. */
  name: string;
  /** Namespace to run in (one router per namespace: each binds port 179). */
  ns: string;
  asn: number;
  routerId: string;
  peers: RouterPeerConfig[];
  /** Routes originated as soon as the daemon is up. */
  announce?: Announcement[];
  /** Directory for config, sockets and logs (default: a lab temp dir). */
  dir?: string;
  /** BFD sessions (FRR and BIRD only). */
  bfd?: RouterBfdPeer[];
}

/** Normalised session states (RFC 4271 §8 names). */
export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established' | 'Unknown';

export interface Router {
  readonly name: string;
  readonly ns: string;
  readonly kind: RouterKind;
  /** Directory holding this router's config, sockets and logs. */
  readonly dir: string;
  start(): Promise<void>;
  /** Stop the daemon: kills only the pids this controller started. */
  stop(): Promise<void>;
  sessionState(peerAddr: string): Promise<SessionState>;
  waitEstablished(peerAddr: string, timeoutMs: number): Promise<void>;
  /** Routes received from peers (locally originated ones are left out). */
  routes(): Promise<ReceivedRoute[]>;
  announce(routes: Announcement[]): Promise<void>;
  withdraw(prefixes: string[]): Promise<void>;
  /** Everything the daemon logged, for checking e.g. a Cease shutdown communication. */
  logText(): Promise<string>;
  /** The namespace's kernel routes installed by BGP (FRR with zebra only). */
  kernelRoutes?(family: Family): Promise<string>;
}
