/**
 * The BGP speaker: the listener, the set of peers, and the public contract
 * src/ programs against (MetalLB's `Set(advertisements)` + `Close()` idea,
 * grown to what an operator needs).
 *
 * Owns: the listening sockets (one dual-stack `::` by default, one per
 * configured address, or none) with per-peer TCP MD5 keys installed before
 * any SYN can arrive; the mapping of an accepted
 * connection to its configured peer by remote address (an unknown address is
 * closed before any BGP is spoken and logged once); adding, changing and
 * removing peers without touching the others; the graceful stop that
 * sends every peer Cease/Administrative Shutdown with an RFC 9003 message,
 * and the planned-restart stop that leaves every peer with Graceful Restart
 * keeping our routes (RFC 4724 §4.2); the restart side of RFC 4724 §4.1
 * (Restart State bit, End-of-RIB held until `routesComplete()`).
 *
 * GTSM on accepted connections (RFC 5082 §3, decision 0026): the kernel
 * answers a SYN with a SYN-ACK built from the *listening* socket, before
 * herald sees the connection, so the listener's own TTL must be 255 for a
 * GTSM peer to accept that SYN-ACK. The listener therefore sends TTL 255 as
 * long as any peer has `ttlSecurity`; every accepted socket then gets its
 * peer's own TTL right after accept (peer.ts).
 *
 * BFD for the peers that have it lives beside them (bfd-link.ts, one
 * BfdDriver on the speaker's Clock and Logger; decisions 0020, 0030).
 */
import * as net from 'node:net';
import { Afi, CeaseSub, Safi } from '../wire/iana.js';
import { formatPrefix, makePrefix, parseAddress } from '../wire/prefix.js';
import { resolveConfig, type SessionConfig, type SessionConfigInput } from '../session/index.js';
import type { RouteAttrs, RouteGroup, RouteSpec } from '../rib/route.js';
import type { PrefixList } from '../rib/prefix-list.js';
import { after, createRealClock, every, type Clock } from './clock.js';
import { LatenessRecorder, type TimerLateness } from './lateness.js';
import { Peer } from './peer.js';
import { BfdLink, type BfdLinkDriverOptions } from './bfd-link.js';
import type { Engine, GroupStanding, PeerChange, PrefixStanding } from './engine.js';
import type { ReceivedRoute } from '../rib/adj-rib-in.js';
import { applyListenerMd5, listenerFamily, removeListenerMd5, setListenerTtl } from './tcp-md5.js';
import { readMd5Counters } from './connect.js';
import { UnknownSources } from './unknown-sources.js';
import {
  silentLogger,
  type GroupOp,
  type Logger,
  type PeerAction,
  type PeerActionResult,
  type PeerConfig,
  type PeerSnapshot,
  type ReceivedMatch,
  type SpeakerEvent,
  type SpeakerStats,
} from './types.js';

export interface SpeakerOptions {
  /** Our AS. */
  asn: number;
  /** Our BGP Identifier (dotted quad). */
  routerId: string;
  /**
   * Where to accept connections: one listener per address (default `::`,
   * which takes IPv4 too, unless an IPv4 address is also listed); `false` to
   * never listen (active sessions only). Default port 179.
   */
  listen?: { address?: string | readonly string[]; port?: number } | false;
  /** Advertise the FQDN capability with this host name. */
  hostname?: string;
  clock?: Clock;
  logger?: Logger;
  /** How often (ms) the kernel's TCP MD5 failure counters are read while a peer has a key; default 5000. */
  md5WatchMs?: number;
  /**
   * This process is a graceful restart (RFC 4724 §4.1): OPENs carry the
   * Restart State bit until `routesComplete()`.
   */
  restarting?: boolean;
  /**
   * Hold every peer's End-of-RIB until `routesComplete()`, so that a peer
   * keeping our stale routes flushes only those we did not re-announce.
   */
  deferEndOfRib?: boolean;
  /** BFD driver options: listening ports and randomness (tests); the BFD thread's script (the session engine, decision 0040). */
  bfd?: BfdLinkDriverOptions;
}

/**
 * Fields whose change needs a new session (a new OPEN or a new TCP
 * connection). This list is the one place that decides "reset or not";
 * src/config/diff.ts reports changes for logs only and asks nothing here.
 */
const SESSION_KEYS: (keyof PeerConfig)[] = [
  'address',
  'port',
  'asn',
  'localAs',
  'localAddress',
  'passive',
  'holdTime',
  'keepalive',
  'password',
  'multihop',
  'ttlSecurity',
  'minTtl',
  'families',
  'extendedNextHop',
  'gracefulRestartTime',
  'gracefulNotification',
  'enforceFirstAs',
];

/** Fields whose change the running session takes by exporting every route again (no reset). */
const EXPORT_KEYS: (keyof PeerConfig)[] = ['nextHopSelf4', 'nextHopSelf6'];

/** How often the kernel's TCP MD5 failure counters are read while any peer has a key. */
const MD5_WATCH_MS = 5_000;
/**
 * Route group changes are applied in slices: at most this many prefix
 * records per peer per round, and rounds until SLICE_MS has passed, then the
 * event loop gets its turn (timers, sockets) before the next slice. A slice
 * of 16k records takes a few milliseconds (decision 0020).
 */
const SLICE_RECORDS = 16_384;
const SLICE_MS = 8;

/** A route group as the speaker holds it (to hand to peers added later). */
interface HeldGroup {
  attrs: RouteAttrs;
  prefixes: PrefixList;
  peers: readonly string[] | null;
}

/** True when a group with this peer filter is for `peer`. */
const isFor = (peers: readonly string[] | null, peer: string): boolean => peers === null || peers.includes(peer);

export class Speaker implements Engine {
  readonly opts: SpeakerOptions;
  private readonly clock: Clock;
  /** How late this speaker's timers ran; null when the caller gave its own clock. */
  private readonly latenessRecorder: LatenessRecorder | null;
  private readonly log: Logger;
  private readonly peers = new Map<string, Peer>();
  private readonly listeners = new Set<(e: SpeakerEvent) => void>();
  /** One listening socket per configured listen address. */
  private servers: net.Server[] = [];
  /** Connections from unconfigured addresses: a bounded memory and a rate-limited log (issue 12). */
  private readonly unknown: UnknownSources;
  private md5Timer: (() => void) | null = null;
  private md5Last = -1;
  private started = false;
  /** Route groups handed by applyGroups, by id. */
  private readonly groups = new Map<number, HeldGroup>();
  /** Hand-offs so far (applyGroups calls). */
  private seq = 0;
  private workScheduled = false;
  private restarting: boolean;
  private eorDeferred: boolean;
  /** The TTL the listener sends with (its SYN-ACKs): 255 while a peer has ttlSecurity, else the OS default. */
  private listenerTtl: 255 | 'default' = 'default';
  /** BFD sessions of the peers that have `bfd`. */
  private readonly bfd: BfdLink;

  constructor(opts: SpeakerOptions) {
    this.opts = opts;
    this.latenessRecorder = opts.clock ? null : new LatenessRecorder();
    this.clock = opts.clock ?? createRealClock(this.latenessRecorder!);
    this.log = opts.logger ?? silentLogger;
    this.restarting = opts.restarting ?? false;
    this.eorDeferred = opts.deferEndOfRib ?? false;
    this.unknown = new UnknownSources({ clock: this.clock, log: this.log });
    this.bfd = new BfdLink({
      clock: this.clock,
      log: this.log,
      emit: this.emit,
      peer: (name) => this.peers.get(name),
      ...(opts.bfd ? { driver: opts.bfd } : {}),
    });
  }

  /** Subscribe to typed events; returns an unsubscribe function. */
  on(fn: (e: SpeakerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit = (e: SpeakerEvent): void => {
    if (e.type === 'established') this.bfd.established(e.peer);
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'speaker event listener threw');
      }
    }
  };

  /** Start listening (unless disabled) and start every peer. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.opts.listen !== false) await this.listen();
    for (const p of this.peers.values()) p.start();
    for (const p of this.peers.values()) if (p.cfg.bfd) void this.bfd.sync(p.name);
    this.watchMd5();
  }

  private async listen(): Promise<void> {
    const l = this.opts.listen || {};
    const addresses = l.address === undefined ? ['::'] : typeof l.address === 'string' ? [l.address] : [...l.address];
    // "::" takes IPv4 too (dual stack) unless an IPv4 address has its own listener, which it would collide with.
    const ipv6Only = addresses.some((a) => parseAddress(a)?.afi === Afi.IPv4);
    try {
      for (const host of addresses) {
        const server = net.createServer({ noDelay: true }, (sock) => this.onConnection(sock));
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port: l.port ?? 179, ipv6Only }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', (err) => this.log.error({ err: err.message }, 'listener error'));
        this.servers.push(server);
        this.log.info({ address: server.address() }, 'listening for BGP connections');
      }
    } catch (e) {
      for (const s of this.servers) s.close();
      this.servers = [];
      throw e;
    }
    this.installKeys();
    this.applyListenerTtl();
  }

  /** The address the (first) listener is bound to (useful with port 0 in tests). */
  get listenAddress(): net.AddressInfo | null {
    const a = this.servers[0]?.address();
    return a && typeof a !== 'string' ? a : null;
  }

  /** Install the keyed peers' MD5 keys on every listener that can accept them (an IPv4 listener takes IPv4 peers only). */
  private installKeys(): void {
    const keyed = [...this.peers.values()].filter((p) => p.cfg.password !== undefined);
    if (keyed.length === 0) return;
    for (const server of this.servers) {
      try {
        const v4 = listenerFamily(server) === 4;
        applyListenerMd5(
          server,
          keyed.filter((p) => !v4 || parseAddress(p.cfg.address)?.afi === Afi.IPv4).map((p) => ({ address: p.cfg.address, key: p.cfg.password! })),
        );
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'cannot install TCP MD5 keys on the listener');
      }
    }
  }

  /** Remove a peer's MD5 key from every listener. */
  private removeKey(address: string): void {
    for (const server of this.servers) {
      try {
        removeListenerMd5(server, address);
      } catch {
        /* the key may already be gone, or never fitted this listener's family */
      }
    }
  }

  /**
   * Send the listener's SYN-ACKs with TTL 255 while any peer uses GTSM (RFC
   * 5082 §3: "sets the TTL ... to 255" on every packet, and the SYN-ACK comes
   * from the listening socket), back to the OS default once none does.
   */
  private applyListenerTtl(): void {
    if (this.servers.length === 0) return;
    const want = [...this.peers.values()].some((p) => p.cfg.ttlSecurity) ? 255 : 'default';
    if (want === this.listenerTtl) return;
    try {
      for (const server of this.servers) setListenerTtl(server, { ttl: want });
      this.listenerTtl = want;
      this.log.info({ ttl: want }, 'listener TTL set for GTSM peers (RFC 5082)');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not set the listener TTL: SYN-ACKs to GTSM peers leave with the OS default TTL');
    }
  }

  private onConnection(sock: net.Socket): void {
    const remote = normalise(sock.remoteAddress ?? '');
    const peer = this.findPeer(remote);
    if (!peer) {
      // Closed before any BGP is spoken. A new address gets a line and an
      // event, within a rate limit, so a scanner or a misconfigured router
      // can neither flood the log nor grow the heap (unknown-sources.ts).
      if (this.unknown.note(remote)) {
        this.log.warn({ address: remote }, 'connection from an address that is no configured peer: closed');
        this.emit({ type: 'unknown-connection', address: remote });
      }
      sock.destroy();
      return;
    }
    peer.accept(sock, this.listenerTtl === 255 ? 255 : undefined);
  }

  private findPeer(address: string): Peer | undefined {
    for (const p of this.peers.values()) if (sameAddress(p.cfg.address, address)) return p;
    return undefined;
  }

  /** Watch the kernel's MD5 failure counters and report a rising count clearly. */
  private watchMd5(): void {
    if (this.md5Timer) return;
    this.md5Timer = every(this.clock, this.opts.md5WatchMs ?? MD5_WATCH_MS, () => {
      if (![...this.peers.values()].some((p) => p.cfg.password !== undefined)) return;
      readMd5Counters().then(
        (c) => {
          const total = c.md5Failure + c.md5NotFound;
          if (this.md5Last >= 0 && total > this.md5Last) {
            const stuck = [...this.peers.values()].filter((p) => p.cfg.password !== undefined && p.state !== 'Established');
            for (const p of stuck) p.counters.md5Failures += total - this.md5Last;
            const names = stuck.map((p) => p.name);
            this.log.error(
              { failures: c.md5Failure, unsigned: c.md5NotFound, peers: names },
              'TCP MD5: the kernel dropped segments with a wrong or missing signature — check the password on both sides',
            );
            this.emit({ type: 'md5-failure', peer: names.length === 1 ? names[0]! : null, count: total - this.md5Last });
          }
          this.md5Last = total;
        },
        () => {},
      );
    }, { unref: true });
  }

  // ------------------------------------------------------------ peers

  /** Add a peer; it starts at once when the speaker is running. */
  addPeer(cfg: PeerConfig): void {
    if (this.peers.has(cfg.name)) throw new Error(`peer ${cfg.name} already exists`);
    if (this.findPeer(cfg.address)) throw new Error(`another peer already has address ${cfg.address}`);
    const peer = new Peer(cfg, this.sessionConfig(cfg), {
      clock: this.clock,
      log: this.log,
      emit: this.emit,
      localAs: cfg.localAs ?? this.opts.asn,
      routerId: this.opts.routerId,
      restarting: () => this.restarting,
    });
    if (this.eorDeferred) peer.holdEndOfRib(true);
    this.peers.set(cfg.name, peer);
    this.installKeys();
    this.giveGroups(peer);
    this.applyListenerTtl();
    if (this.started) {
      peer.start();
      if (cfg.bfd) void this.bfd.sync(cfg.name);
    }
  }

  /** Queue every held group that is for `peer` on it (a new peer, or its families changed). */
  private giveGroups(peer: Peer): void {
    for (const [id, g] of this.groups) if (isFor(g.peers, peer.name)) peer.setGroup(id, g.attrs, g.prefixes, this.seq);
    peer.noteSeq(this.seq);
    this.scheduleWork();
  }

  /**
   * Apply route group changes (the daemon's hand-off, level-triggered per
   * group): each peer the group is for gets it, each peer it no longer is for
   * drops it. The work is done in bounded slices between socket events; the
   * returned sequence number comes back in each peer's `flushed` event once
   * the peer has applied and sent everything up to it.
   */
  applyGroups(ops: readonly GroupOp[]): number {
    const seq = ++this.seq;
    for (const op of ops) {
      const prev = this.groups.get(op.id);
      if (op.remove) {
        if (prev === undefined) continue;
        this.groups.delete(op.id);
        for (const p of this.peers.values()) if (isFor(prev.peers, p.name)) p.dropGroup(op.id, seq);
        continue;
      }
      this.groups.set(op.id, { attrs: op.attrs, prefixes: op.prefixes, peers: op.peers });
      for (const p of this.peers.values()) {
        if (isFor(op.peers, p.name)) p.setGroup(op.id, op.attrs, op.prefixes, seq);
        else if (prev !== undefined && isFor(prev.peers, p.name)) p.dropGroup(op.id, seq);
      }
    }
    for (const p of this.peers.values()) p.noteSeq(seq);
    this.scheduleWork();
    return seq;
  }

  /** Apply every queued group change now, in one go (tests, benchmarks). */
  flushWork(): void {
    for (const p of this.peers.values()) while (p.workSlice(Infinity));
  }

  private scheduleWork(): void {
    if (this.workScheduled) return;
    this.workScheduled = true;
    setImmediate(() => this.runWork());
  }

  /** One slice of group work: round-robin over the peers until SLICE_MS is used, then yield. */
  private runWork(): void {
    this.workScheduled = false;
    const until = performance.now() + SLICE_MS;
    let more = true;
    while (more && performance.now() < until) {
      more = false;
      for (const p of this.peers.values()) if (p.workSlice(SLICE_RECORDS)) more = true;
    }
    if (more) this.scheduleWork();
  }

  /**
   * The desired route sets handed so far are complete (after a restart: every
   * service has had its first check): release every held End-of-RIB (RFC 4724
   * §4.1) and stop setting the Restart State bit.
   */
  routesComplete(): void {
    this.restarting = false;
    if (!this.eorDeferred) return;
    this.eorDeferred = false;
    for (const p of this.peers.values()) p.holdEndOfRib(false);
  }

  /** True until routesComplete() when End-of-RIB is being held. */
  get endOfRibDeferred(): boolean {
    return this.eorDeferred;
  }

  /**
   * Change a peer's settings. Returns 'restarted' when a session-affecting
   * field changed (the session is reset with Cease/Other Configuration
   * Change), 're-exported' when the running session only needs its routes
   * exported again (next-hop-self), 'reconfigured' when only limits
   * changed, 'unchanged' otherwise.
   */
  async updatePeer(cfg: PeerConfig): Promise<PeerChange> {
    return this.updatePeerNow(cfg);
  }

  /** updatePeer, in this thread. */
  updatePeerNow(cfg: PeerConfig): PeerChange {
    const peer = this.peers.get(cfg.name);
    if (!peer) throw new Error(`no peer ${cfg.name}`);
    const old = peer.cfg;
    const changed = (k: keyof PeerConfig): boolean => JSON.stringify(old[k]) !== JSON.stringify(cfg[k]);
    const sessionChanged = SESSION_KEYS.some(changed);
    const exportChanged = EXPORT_KEYS.some(changed);
    const anyChanged = JSON.stringify(old) !== JSON.stringify(cfg);
    if (!anyChanged) return 'unchanged';
    if (old.password !== undefined && old.address !== cfg.address) this.removeKey(old.address);
    peer.reconfigure(cfg, this.sessionConfig(cfg));
    if (JSON.stringify(old.families) !== JSON.stringify(cfg.families)) this.giveGroups(peer);
    // BFD follows the new settings without touching the BGP session (a Poll Sequence, or a new BFD session).
    if (this.started && (old.bfd !== undefined || cfg.bfd !== undefined)) void this.bfd.sync(cfg.name);
    if (!sessionChanged) {
      if (!exportChanged) return 'reconfigured';
      peer.reexport();
      return 're-exported';
    }
    this.installKeys();
    this.applyListenerTtl();
    peer.rebuild(this.sessionConfig(cfg));
    return 'restarted';
  }

  /** Remove a peer: Cease/Peer De-configured, then forget it. */
  async removePeer(name: string, text = 'peer removed from configuration'): Promise<void> {
    const peer = this.peers.get(name);
    if (!peer) return;
    await peer.stop(text, CeaseSub.PeerDeconfigured);
    this.peers.delete(name);
    this.applyListenerTtl();
    if (peer.cfg.bfd) await this.bfd.remove(name);
    if (peer.cfg.password !== undefined) this.removeKey(peer.cfg.address);
  }

  /**
   * Start a peer that is down and not restarting by itself: one a limit's
   * `disable` action or the operator took down (the operator's "enable").
   * False when the peer is running or restarting already.
   */
  enablePeer(name: string): boolean {
    const p = this.peers.get(name);
    if (!p) throw new Error(`no peer ${name}`);
    return this.started && p.up();
  }

  /**
   * Carry out an operator's action on one peer (Peer.shutdown, up, reset,
   * refreshOut say what each does). `message` is the RFC 9003 shutdown
   * communication of down and reset. `down` resolves once the connection is
   * closed, or after `timeoutMs` (default 3 s) if the peer is slow to go.
   */
  async peerAction(name: string, action: PeerAction, opts: { message?: string; timeoutMs?: number } = {}): Promise<PeerActionResult> {
    const p = this.peers.get(name);
    if (!p) throw Object.assign(new Error(`no peer ${name}`), { code: 'ENOPEER' });
    const result = (changed: boolean, detail: string, refused: PeerActionResult['refused'] = null): PeerActionResult => {
      if (refused === null && changed) this.emit({ type: 'peer-action', peer: name, action, message: opts.message ?? null });
      return { peer: name, action, changed, refused, detail, snapshot: this.snapshotOf(p) };
    };
    switch (action) {
      case 'down': {
        if (p.administrativelyDown) return result(false, `${name} is administratively down already`);
        let cancel = (): void => {};
        const closed = p.shutdown(opts.message);
        const late = new Promise<void>((r) => (cancel = this.clock.setTimer(this.clock.now() + (opts.timeoutMs ?? 3_000), r)));
        await Promise.race([closed, late]);
        cancel();
        return result(true, `${name}: Cease/Administrative Shutdown sent; stays down, its connections refused, until 'routes peer ${name} up'`);
      }
      case 'up': {
        if (!this.started) return result(false, `the speaker is not running`);
        const wasDown = p.administrativelyDown;
        if (!p.up()) return result(false, `${name} is running already (${p.state})`);
        return result(true, wasDown ? `${name} is up again: connecting` : `${name} started: connecting now`);
      }
      case 'reset':
        if (!p.reset(opts.message)) {
          return result(false, '', { code: 'peer-down', message: `${name} is administratively down; 'routes peer ${name} up' brings it back (a reset would not)` });
        }
        return result(true, `${name}: Cease/Administrative Reset sent; reconnecting`);
      case 'refresh':
        if (!p.refreshOut()) {
          return result(false, '', { code: 'no-session', message: `${name} has no Established session (it is ${p.state}${p.administrativelyDown ? ', administratively down' : ''}): nothing to re-send` });
        }
        return result(true, `${name}: every route queued again for the peer (soft-out), the session kept`);
    }
  }

  /** Hand one peer its full desired route set (level-triggered). */
  setRoutes(peerName: string, routes: Iterable<RouteSpec>): void {
    const p = this.peers.get(peerName);
    if (!p) throw new Error(`no peer ${peerName}`);
    p.setRoutes(routes);
  }

  /** Hand every peer the same desired route set. */
  setRoutesAll(routes: readonly RouteSpec[]): void {
    for (const p of this.peers.values()) p.setRoutes(routes);
  }

  /**
   * Hand one peer its full desired route set as groups of prefixes sharing
   * attributes: the same result as setRoutes with one RouteSpec per prefix,
   * without an object per prefix (for snapshots of a million routes).
   */
  setRouteGroups(peerName: string, groups: readonly RouteGroup[]): void {
    const p = this.peers.get(peerName);
    if (!p) throw new Error(`no peer ${peerName}`);
    p.setRouteGroups(groups);
  }

  /** Hand every peer the same route groups. */
  setRouteGroupsAll(groups: readonly RouteGroup[]): void {
    for (const p of this.peers.values()) p.setRouteGroups(groups);
  }

  /** How one prefix stands with every peer. */
  async standing(prefix: string): Promise<PrefixStanding[]> {
    return this.standingNow(prefix);
  }

  /** standing(), in this thread. */
  standingNow(prefix: string): PrefixStanding[] {
    return [...this.peers.values()].map((p) => {
      const x = p.ribOut.explain(prefix);
      return {
        peer: p.name,
        state: p.state,
        desired: x.desired,
        group: p.ribOut.ownerOf(prefix),
        sentNextHop: x.sent?.nextHop ?? null,
        pending: x.pending,
        reason: x.reason,
      };
    });
  }

  /** How a group's prefixes stand with one peer. */
  async groupStanding(peer: string, group: number): Promise<GroupStanding | null> {
    return this.groupStandingNow(peer, group);
  }

  /** groupStanding(), in this thread. */
  groupStandingNow(peer: string, group: number): GroupStanding | null {
    const p = this.peers.get(peer);
    const g = p?.ribOut.groupStanding(group);
    if (!p || !g) return null;
    return { peer, state: p.state, codes: g.codes, sent: g.sent, nextHops: g.sets.map((s) => s.nextHop), reasons: g.reasons };
  }

  /**
   * For every peer, the longest prefix in its Adj-RIB-In that contains
   * `address` (ADD-PATH paths are not told apart: path id none is asked).
   */
  async lookupReceived(address: string): Promise<ReceivedMatch[]> {
    return this.lookupReceivedNow(address);
  }

  /** lookupReceived(), in this thread. */
  lookupReceivedNow(address: string): ReceivedMatch[] {
    const a = parseAddress(address);
    if (!a) throw new Error(`not an address: ${address}`);
    const out: ReceivedMatch[] = [];
    for (const p of this.peers.values()) {
      if (p.ribIn.count === 0) continue;
      for (let len = a.afi === Afi.IPv4 ? 32 : 128; len >= 0; len--) {
        const prefix = makePrefix(a.afi, a.addr, len);
        if (!p.ribIn.has(prefix)) continue;
        out.push({ peer: p.name, prefix: formatPrefix(prefix), route: p.ribIn.get(prefix) ?? null });
        break;
      }
    }
    return out;
  }

  /** Speaker-wide counts (unknown connections). */
  stats(): SpeakerStats {
    const u = this.unknown.stats();
    return { unknownConnections: u.connections, unknownAddresses: u.addresses, unknownSuppressed: u.suppressed };
  }

  /** The routes a peer sent, in batches of up to 1,000; null when there is no such peer. */
  received(peer: string, prefix?: string): AsyncIterable<ReceivedRoute[]> | null {
    const p = this.peers.get(peer);
    if (!p) return null;
    const rib = p.ribIn;
    return (async function* () {
      if (prefix !== undefined) {
        const r = rib.get(prefix);
        if (r) yield [r];
        return;
      }
      let batch: ReceivedRoute[] = [];
      for (const r of rib) {
        batch.push(r);
        if (batch.length === 1000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    })();
  }

  /** How late the timers on this speaker's clock ran (null with a caller's clock, e.g. ManualClock). */
  lateness(): TimerLateness | null {
    return this.latenessRecorder?.snapshot() ?? null;
  }

  /** Snapshot of every peer. */
  snapshot(): PeerSnapshot[] {
    return [...this.peers.values()].map((p) => this.snapshotOf(p));
  }

  /** One peer's snapshot with its BFD (kept beside the peer, bfd-link.ts). */
  private snapshotOf(p: Peer): PeerSnapshot {
    return { ...p.snapshot(), bfd: this.bfd.snapshot(p) };
  }

  /** The peer object (for RIB queries). */
  peer(name: string): Peer | undefined {
    return this.peers.get(name);
  }

  peerNames(): string[] {
    return [...this.peers.keys()];
  }

  /**
   * Stop every session with Cease/Administrative Shutdown and `text`, then
   * close the listener. `graceful` (a planned restart): each peer with
   * Graceful Restart negotiated is left keeping our routes for the restart
   * time — the connection closes without a NOTIFICATION, or with Cease /
   * Administrative Reset when the RFC 8538 N bit was exchanged; the others
   * get that Cease too and flush. Returns the peers that keep our routes.
   */
  async stop(text = 'herald shutting down', opts: { graceful?: boolean; timeoutMs?: number } = {}): Promise<string[]> {
    const timeoutMs = opts.timeoutMs ?? 3_000;
    this.unknown.close();
    this.md5Timer?.();
    this.md5Timer = null;
    const keeping = opts.graceful ? [...this.peers.values()].filter((p) => p.gracefulRestartNegotiated).map((p) => p.name) : [];
    const stopOne = (p: Peer): Promise<void> =>
      opts.graceful ? p.stop(text, CeaseSub.AdministrativeReset, { graceful: true }) : p.stop(text);
    const all = Promise.all([...this.peers.values()].map(stopOne));
    let cancel: (() => void) | undefined;
    await Promise.race([all, new Promise<void>((r) => (cancel = after(this.clock, timeoutMs, r)))]);
    cancel?.();
    for (const p of this.peers.values()) p.destroy();
    // BFD goes AdminDown after the BGP sessions ended, so no router reads it as a failure of a live session.
    await this.bfd.close();
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.started = false;
    return keeping;
  }

  /** Build the FSM's session config from a peer's config. */
  private sessionConfig(cfg: PeerConfig): SessionConfig {
    const transport = parseAddress(cfg.address);
    if (!transport) throw new Error(`peer ${cfg.name}: bad address ${cfg.address}`);
    const fams = cfg.families ?? [transport.afi === Afi.IPv4 ? 'ipv4' : 'ipv6'];
    const input: SessionConfigInput = {
      localAs: cfg.localAs ?? this.opts.asn,
      peerAs: cfg.asn,
      routerId: this.opts.routerId,
      passive: cfg.passive ?? false,
      families: fams.map((f) => ({ afi: f === 'ipv4' ? Afi.IPv4 : Afi.IPv6, safi: Safi.Unicast })),
      ...(cfg.holdTime !== undefined ? { holdTime: cfg.holdTime } : {}),
      ...(cfg.keepalive !== undefined ? { keepaliveTime: cfg.keepalive } : {}),
      ...(cfg.extendedNextHop ? { extendedNextHop: [{ afi: Afi.IPv4, safi: Safi.Unicast, nextHopAfi: Afi.IPv6 }] } : {}),
      ...(cfg.gracefulRestartTime !== undefined
        ? { gracefulRestart: { restartTime: cfg.gracefulRestartTime, notification: cfg.gracefulNotification ?? false } }
        : {}),
      ...(this.opts.hostname ? { hostname: { hostname: this.opts.hostname } } : {}),
      connectRetry: {
        ...(cfg.connectRetryMs !== undefined ? { initialMs: cfg.connectRetryMs } : {}),
        ...(cfg.connectRetryMaxMs !== undefined ? { maxMs: cfg.connectRetryMaxMs } : {}),
      },
      idleHold: {
        ...(cfg.idleHoldMs !== undefined ? { initialMs: cfg.idleHoldMs } : {}),
        ...(cfg.idleHoldMaxMs !== undefined ? { maxMs: cfg.idleHoldMaxMs } : {}),
        ...(cfg.idleHoldForgiveMs !== undefined ? { stableMs: cfg.idleHoldForgiveMs } : {}),
      },
      ...(cfg.enforceFirstAs === false ? { enforceFirstAs: false } : {}),
    };
    return resolveConfig(input);
  }
}

/** Strip the IPv4-mapped prefix a dual-stack socket reports. */
function normalise(a: string): string {
  return a.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

function sameAddress(a: string, b: string): boolean {
  const x = parseAddress(normalise(a));
  const y = parseAddress(normalise(b));
  if (!x || !y || x.afi !== y.afi) return false;
  for (let i = 0; i < x.addr.length; i++) if (x.addr[i] !== y.addr[i]) return false;
  return true;
}
