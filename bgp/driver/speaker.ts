/**
 * The BGP speaker: the listener, the set of peers, and the public contract
 * src/ programs against (MetalLB's `Set(advertisements)` + `Close()` idea,
 * grown to what an operator needs).
 *
 * Owns: the listening socket (dual-stack `::` by default) with per-peer TCP
 * MD5 keys installed before any SYN can arrive; the mapping of an accepted
 * connection to its configured peer by remote address (an unknown address is
 * closed before any BGP is spoken and logged once); adding, changing and
 * removing peers without touching the others; and the graceful stop that
 * sends every peer Cease/Administrative Shutdown with an RFC 9003 message.
 */
import * as net from 'node:net';
import { Afi, CeaseSub, Safi } from '../wire/iana.js';
import { parseAddress } from '../wire/prefix.js';
import { resolveConfig, type SessionConfig, type SessionConfigInput } from '../session/index.js';
import type { RouteGroup, RouteSpec } from '../rib/route.js';
import { realClock, type Clock } from './clock.js';
import { Peer } from './peer.js';
import { applyListenerMd5, removeListenerMd5 } from './tcp-md5.js';
import { readMd5Counters } from './connect.js';
import { silentLogger, type Logger, type PeerConfig, type PeerSnapshot, type SpeakerEvent } from './types.js';

export interface SpeakerOptions {
  /** Our AS. */
  asn: number;
  /** Our BGP Identifier (dotted quad). */
  routerId: string;
  /** Where to accept connections; `false` to never listen (active-only). Default `::` port 179. */
  listen?: { address?: string; port?: number } | false;
  /** Advertise the FQDN capability with this host name. */
  hostname?: string;
  clock?: Clock;
  logger?: Logger;
  /** How often (ms) the kernel's TCP MD5 failure counters are read while a peer has a key; default 5000. */
  md5WatchMs?: number;
}

/** Fields whose change needs a new session (a new OPEN or a new TCP connection). */
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
  'nextHopSelf4',
  'nextHopSelf6',
  'enforceFirstAs',
];

/** How often the kernel's TCP MD5 failure counters are read while any peer has a key. */
const MD5_WATCH_MS = 5_000;

export class Speaker {
  readonly opts: SpeakerOptions;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly peers = new Map<string, Peer>();
  private readonly listeners = new Set<(e: SpeakerEvent) => void>();
  private server: net.Server | null = null;
  private readonly unknownLogged = new Set<string>();
  private md5Timer: NodeJS.Timeout | null = null;
  private md5Last = -1;
  private started = false;

  constructor(opts: SpeakerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? silentLogger;
  }

  /** Subscribe to typed events; returns an unsubscribe function. */
  on(fn: (e: SpeakerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit = (e: SpeakerEvent): void => {
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
    this.watchMd5();
  }

  private async listen(): Promise<void> {
    const l = this.opts.listen || {};
    const server = net.createServer({ noDelay: true }, (sock) => this.onConnection(sock));
    server.on('error', (err) => this.log.error({ err: err.message }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: l.address ?? '::', port: l.port ?? 179, ipv6Only: false }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.installKeys();
    const a = server.address();
    this.log.info({ address: a }, 'listening for BGP connections');
  }

  /** The address the listener is bound to (useful with port 0 in tests). */
  get listenAddress(): net.AddressInfo | null {
    const a = this.server?.address();
    return a && typeof a !== 'string' ? a : null;
  }

  private installKeys(): void {
    if (!this.server) return;
    const keyed = [...this.peers.values()].filter((p) => p.cfg.password !== undefined);
    if (keyed.length === 0) return;
    try {
      applyListenerMd5(
        this.server,
        keyed.map((p) => ({ address: p.cfg.address, key: p.cfg.password! })),
      );
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot install TCP MD5 keys on the listener');
    }
  }

  private onConnection(sock: net.Socket): void {
    const remote = normalise(sock.remoteAddress ?? '');
    const peer = this.findPeer(remote);
    if (!peer) {
      // Closed before any BGP is spoken; logged once per address so a scanner
      // or a misconfigured router cannot flood the log.
      if (!this.unknownLogged.has(remote)) {
        this.unknownLogged.add(remote);
        this.log.warn({ address: remote }, 'connection from an address that is no configured peer: closed');
        this.emit({ type: 'unknown-connection', address: remote });
      }
      sock.destroy();
      return;
    }
    peer.accept(sock);
  }

  private findPeer(address: string): Peer | undefined {
    for (const p of this.peers.values()) if (sameAddress(p.cfg.address, address)) return p;
    return undefined;
  }

  /** Watch the kernel's MD5 failure counters and report a rising count clearly. */
  private watchMd5(): void {
    if (this.md5Timer) return;
    this.md5Timer = setInterval(() => {
      if (![...this.peers.values()].some((p) => p.cfg.password !== undefined)) return;
      readMd5Counters().then(
        (c) => {
          const total = c.md5Failure + c.md5NotFound;
          if (this.md5Last >= 0 && total > this.md5Last) {
            const stuck = [...this.peers.values()].filter((p) => p.cfg.password !== undefined && p.state !== 'Established');
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
    }, this.opts.md5WatchMs ?? MD5_WATCH_MS);
    this.md5Timer.unref();
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
    });
    this.peers.set(cfg.name, peer);
    this.installKeys();
    if (this.started) peer.start();
  }

  /**
   * Change a peer's settings. Returns 'restarted' when a session-affecting
   * field changed (the session is reset with Cease/Other Configuration
   * Change), 'reconfigured' when only limits changed, 'unchanged' otherwise.
   */
  updatePeer(cfg: PeerConfig): 'unchanged' | 'reconfigured' | 'restarted' {
    const peer = this.peers.get(cfg.name);
    if (!peer) throw new Error(`no peer ${cfg.name}`);
    const old = peer.cfg;
    const sessionChanged = SESSION_KEYS.some((k) => JSON.stringify(old[k]) !== JSON.stringify(cfg[k]));
    const anyChanged = JSON.stringify(old) !== JSON.stringify(cfg);
    if (!anyChanged) return 'unchanged';
    if (old.password !== undefined && this.server && old.address !== cfg.address) {
      try {
        removeListenerMd5(this.server, old.address);
      } catch {
        /* the key may already be gone */
      }
    }
    peer.reconfigure(cfg, this.sessionConfig(cfg));
    if (!sessionChanged) return 'reconfigured';
    this.installKeys();
    peer.rebuild(this.sessionConfig(cfg));
    return 'restarted';
  }

  /** Remove a peer: Cease/Peer De-configured, then forget it. */
  async removePeer(name: string, text = 'peer removed from configuration'): Promise<void> {
    const peer = this.peers.get(name);
    if (!peer) return;
    await peer.stop(text, CeaseSub.PeerDeconfigured);
    this.peers.delete(name);
    if (peer.cfg.password !== undefined && this.server) {
      try {
        removeListenerMd5(this.server, peer.cfg.address);
      } catch {
        /* nothing to remove */
      }
    }
  }

  /**
   * Start a peer that is down and not restarting by itself: one a limit's
   * `disable` action took down (the operator's "enable"). False when the
   * peer is running or restarting already.
   */
  enablePeer(name: string): boolean {
    const p = this.peers.get(name);
    if (!p) throw new Error(`no peer ${name}`);
    return this.started && p.enable();
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

  /** Snapshot of every peer. */
  snapshot(): PeerSnapshot[] {
    return [...this.peers.values()].map((p) => p.snapshot());
  }

  /** The peer object (for RIB queries). */
  peer(name: string): Peer | undefined {
    return this.peers.get(name);
  }

  peerNames(): string[] {
    return [...this.peers.keys()];
  }

  /** Stop every session with Cease/Administrative Shutdown and `text`, then close the listener. */
  async stop(text = 'herald shutting down', timeoutMs = 3_000): Promise<void> {
    if (this.md5Timer) clearInterval(this.md5Timer);
    this.md5Timer = null;
    const all = Promise.all([...this.peers.values()].map((p) => p.stop(text)));
    let t: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
    for (const p of this.peers.values()) p.destroy();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    this.started = false;
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
      ...(cfg.gracefulRestartTime !== undefined ? { gracefulRestart: { restartTime: cfg.gracefulRestartTime } } : {}),
      ...(this.opts.hostname ? { hostname: { hostname: this.opts.hostname } } : {}),
      ...(cfg.connectRetryMs !== undefined ? { connectRetry: { initialMs: cfg.connectRetryMs } } : {}),
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
