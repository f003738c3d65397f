/**
 * One configured neighbor: the only place a BGP session meets a socket.
 *
 * Owns, for one peer: the TCP connection(s), the framer, the encoding of
 * outgoing messages with the negotiated CodecContext, the single timer armed
 * for the earliest FSM deadline, and the wiring between the pure FSM
 * (bgp/session), the Adj-RIB-Out (what to send) and the Adj-RIB-In (what was
 * received). Every decision belongs to those pure modules; this file only
 * turns their actions into I/O and I/O into their events (STYLE.md §8).
 *
 *   socket bytes -> Framer -> decodeMessage -> FsmEvent -> step() -> actions
 *   actions: connect | send | close | established | session-down | update-received ...
 *
 * Connection collision (RFC 4271 §6.8): while the session is being opened an
 * incoming connection may be tracked beside the primary one; after each step
 * `checkCollision` says which to dump, and the loser gets OpenCollisionDump.
 *
 * Backpressure (STYLE.md §9): UPDATEs are pulled from the Adj-RIB-Out only
 * while `socket.write()` accepts more; the 'drain' event resumes the pull.
 * Messages the FSM sends (KEEPALIVE, NOTIFICATION) are written at once.
 *
 * BFD (decision 0030): the speaker's BfdLink reports the peer's BFD session
 * through `bfdState`. A path failure takes the session down with Cease/BFD
 * Down (RFC 9384); an Established session holds its routes back until BFD
 * is Up, for at most `bfd.waitUpMs`; BFD Up lets a session that waits for a
 * retry deadline dial at once.
 */
import type * as net from 'node:net';
import { Framer } from '../wire/framer.js';
import { decodeMessage, encodeMessage } from '../wire/messages/index.js';
import { BgpError } from '../wire/errors.js';
import { DEFAULT_CONTEXT, maxMessageLen, type CodecContext } from '../wire/context.js';
import { Afi, CeaseSub, ErrCode, RefreshSubtype, Safi } from '../wire/iana.js';
import { familyKey } from '../wire/context.js';
import type { BgpMessage, NotificationMessage } from '../wire/types.js';
import {
  checkCollision,
  createSession,
  errorEvent,
  expiredTimers,
  incomingDisposition,
  messageEvent,
  nextDeadline,
  step,
  trackIncoming,
  type DownReason,
  type FsmAction,
  type FsmEvent,
  type Negotiated,
  type SessionConfig,
  type SessionState,
} from '../session/index.js';
import { AdjRibOut } from '../rib/adj-rib-out.js';
import { AdjRibIn, type AdjRibInOptions, type ReceiveLimit } from '../rib/adj-rib-in.js';
import type { RouteAttrs, RouteGroup, RouteSpec } from '../rib/route.js';
import type { PrefixList } from '../rib/prefix-list.js';
import { familyOfText } from '../wire/prefix.js';
import type { PeerExportContext } from '../rib/export.js';
import { after, type Clock } from './clock.js';
import { connectTcp } from './connect.js';
import { fdOf, resetTtl, setMinTtl, setTtl, socketFamily } from './sockopts.js';
import {
  BFD_WAIT_UP_MS,
  DEFAULT_MAX_PREFIXES_ACTION,
  DEFAULT_RECEIVE_LIMITS,
  zeroPeerCounters,
  type LimitAction,
  type PeerConfig,
  type SpeakerEvent,
  type Logger,
  type PeerCounters,
  type PeerSnapshot,
} from './types.js';
import { encodePathAttributes } from '../wire/attributes/index.js';

/** How long a NOTIFICATION gets to flush before the socket is destroyed. */
const CLOSE_FLUSH_MS = 1_000;
/** How long one outgoing connection attempt may take (SYN retries included). */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long before the ConnectRetry deadline an unanswered attempt gives up (see attemptTimeout). */
const CONNECT_TIMEOUT_MARGIN_MS = 25;

type Side = 'outgoing' | 'incoming';

const OPEN_STATES = new Set(['OpenSent', 'OpenConfirm', 'Established']);

/** One TCP connection and the FSM state that goes with it. */
interface Conn {
  side: Side;
  session: SessionState;
  socket: net.Socket | null;
  framer: Framer;
  ctx: CodecContext;
  /** Aborts an outgoing connect in progress. */
  connecting: AbortController | null;
  /** True while the socket refused more bytes and we wait for 'drain'. */
  blocked: boolean;
  closed: boolean;
}

export interface PeerDeps {
  clock: Clock;
  log: Logger;
  emit: (e: SpeakerEvent) => void;
  localAs: number;
  routerId: string;
  /** True while herald is in a graceful restart: new sessions set the RFC 4724 Restart State bit. */
  restarting?: () => boolean;
}

let peerInstances = 0;

/**
 * connect() errors that mean no packet left this host (no route, interface
 * down, local address gone): the FSM retries them without backing off.
 */
const LOCAL_CONNECT_ERRORS = new Set(['ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL']);

/** Drive one neighbor's session(s) with real sockets. */
export class Peer {
  cfg: PeerConfig;
  private sessionConfig: SessionConfig;
  private readonly deps: PeerDeps;
  private primary: Conn;
  private secondary: Conn | null = null;
  private cancelTimer: (() => void) | null = null;
  private timerAt: number | undefined;
  private seed: number;
  readonly ribOut: AdjRibOut;
  readonly ribIn: AdjRibIn;
  private lastState: string = 'Idle';
  private negotiated: Negotiated | null = null;
  private lastDown: (DownReason & { at: number }) | undefined;
  private connectError: string | undefined;
  readonly counters: PeerCounters = zeroPeerCounters();
  /** This object's number among every Peer created in this process (PeerSnapshot.instance). */
  readonly instance = ++peerInstances;
  /** The limit that applies now (blocking this session, or the reason the peer is down). */
  private receiveLimit: { limit: ReceiveLimit; action: LimitAction['kind']; at: number; message: string } | null = null;
  /** Logged once per session: families ignored, routes with our address as next hop. */
  private readonly ignoredFamilies = new Set<string>();
  private loggedOwnNextHop = false;
  private establishedAt: number | undefined;
  private stopWaiters: (() => void)[] = [];
  /** The latest hand-off given to this peer, and the latest one reported flushed. */
  private seqTarget = 0;
  private flushedSeq = 0;
  /** Taken down by the operator (`down`): no restart, connections refused, until `up`. */
  private adminDown: { at: number; message: string | null } | null = null;
  /** The peer's BFD session is Up (BfdLink reports it). */
  private bfdUp = false;
  /** The Established session's routes wait for BFD Up: since when (clock ms), and the wait_up timer. */
  private bfdHold: { since: number; cancel: () => void } | null = null;
  /** This session's routes went out because BFD was not Up within wait_up. */
  private bfdUnprotected = false;
  /** The session's last end was a Cease/BFD Down (sent or received): BFD Up restarts it at once. */
  private bfdTookDown = false;
  /** What BFD said, for the down reason of the session it takes down. */
  private bfdDownDetail: string | null = null;
  /** Set while a restart after BFD Up passes through Idle: that pass is not a session end. */
  private quiet = false;

  constructor(cfg: PeerConfig, sessionConfig: SessionConfig, deps: PeerDeps) {
    this.cfg = cfg;
    this.sessionConfig = sessionConfig;
    this.deps = deps;
    this.seed = (Math.random() * 0xffffffff) >>> 0 || 1;
    this.primary = this.newConn('outgoing', this.freshSession(sessionConfig));
    this.ribOut = new AdjRibOut({ encodeAttributes: encodePathAttributes });
    this.ribOut.setFamilies(...carried(cfg));
    this.ribIn = new AdjRibIn(ribInOptions(cfg));
  }

  private freshSession(sessionConfig: SessionConfig): SessionState {
    return createSession(sessionConfig, this.seed, { restarting: this.deps.restarting?.() ?? false });
  }

  private newConn(side: Side, session: SessionState): Conn {
    return {
      side,
      session,
      socket: null,
      framer: new Framer(),
      ctx: DEFAULT_CONTEXT,
      connecting: null,
      blocked: false,
      closed: false,
    };
  }

  get name(): string {
    return this.cfg.name;
  }

  /** The FSM state of the connection that represents this peer. */
  get state(): string {
    return this.primary.session.state;
  }

  // ------------------------------------------------------------ lifecycle

  /** Start the session (ManualStart, passive or active per config). */
  start(): void {
    this.feed(this.primary, { type: this.cfg.passive ? 'ManualStart_with_PassiveTcpEstablishment' : 'ManualStart' });
  }

  /**
   * Stop the session with Cease (default AdministrativeShutdown) and an RFC
   * 9003 shutdown communication; resolves once the connection is closed.
   * `graceful`: a planned restart — the FSM ends an Established session so
   * that the peer keeps our routes when Graceful Restart was negotiated.
   */
  stop(text?: string, subcode: number = CeaseSub.AdministrativeShutdown, opts: { graceful?: boolean } = {}): Promise<void> {
    const done = new Promise<void>((resolve) => this.stopWaiters.push(resolve));
    for (const c of [this.secondary, this.primary]) {
      if (c) this.feed(c, { type: 'ManualStop', subcode, ...(text !== undefined ? { text } : {}), ...(opts.graceful ? { graceful: true } : {}) });
    }
    this.checkStopped();
    return done;
  }

  /**
   * Reset the session after a session-affecting configuration change: Cease/
   * Other Configuration Change (RFC 4486) on the old connection, then a fresh
   * FSM with the new settings.
   */
  rebuild(sessionConfig: SessionConfig): void {
    this.restartWith(sessionConfig, CeaseSub.OtherConfigurationChange, 'configuration changed');
  }

  /**
   * Cease the connection(s) with `subcode` and `text`, then start a fresh
   * FSM with `sessionConfig` — unless the operator holds the peer down, in
   * which case the new FSM stays Idle (and refuses connections) until `up`.
   */
  private restartWith(sessionConfig: SessionConfig, subcode: number, text: string): void {
    for (const c of [this.secondary, this.primary]) {
      if (c) this.feed(c, { type: 'ManualStop', subcode, text });
      if (c) c.closed = true;
    }
    this.secondary = null;
    this.sessionConfig = sessionConfig;
    this.primary = this.newConn('outgoing', this.freshSession(sessionConfig));
    this.lastState = 'Idle';
    if (this.adminDown === null) this.start();
  }

  // ------------------------------------------------------------ operator actions

  /** True while the operator holds the peer down. */
  get administrativelyDown(): boolean {
    return this.adminDown !== null;
  }

  /**
   * The operator's `down`: Cease/Administrative Shutdown (RFC 4486 §4
   * subcode 2) with an optional RFC 9003 shutdown communication; the peer
   * then stays Idle — no reconnect, its connections refused (RFC 4271
   * §8.2.2 Idle "refuses all incoming BGP connections") — until `up`.
   * Resolves false at once when it is down already, else true once the
   * connection is closed.
   */
  async shutdown(text?: string): Promise<boolean> {
    if (this.adminDown !== null) return false;
    this.adminDown = { at: Date.now(), message: text === undefined || text === '' ? null : text };
    this.deps.log.info({ peer: this.name, message: this.adminDown.message }, 'peer administratively down (operator)');
    await this.stop(text, CeaseSub.AdministrativeShutdown);
    return true;
  }

  /**
   * The operator's `up`: start a peer that is Idle and not about to restart
   * by itself — administratively down, disabled by a limit's `disable`
   * action, or held down by IdleHold damping (ManualStart clears the
   * damping, RFC 4271 §8.1.1). False when the peer is running already.
   */
  up(): boolean {
    const wasDown = this.adminDown !== null;
    this.adminDown = null;
    const s = this.primary.session;
    if (s.state !== 'Idle' || (s.autoStart && s.timers.idleHold === undefined)) return wasDown;
    this.receiveLimit = null;
    this.deps.log.info({ peer: this.name }, 'peer started by the operator');
    this.start();
    return true;
  }

  /**
   * The operator's `reset`: Cease/Administrative Reset (RFC 4486 §4
   * subcode 4, with an optional RFC 9003 text) on the connection, then a new
   * session at once with the same settings. A peer that is not connected
   * dials now. With the RFC 8538 N bit exchanged the Cease goes out as it is,
   * so a Graceful Restart helper keeps our routes while we reconnect (RFC
   * 8538 §5 leaves Administrative Reset to the operator). Refused (false)
   * while the peer is administratively down.
   */
  reset(text?: string): boolean {
    if (this.adminDown !== null) return false;
    this.deps.log.info({ peer: this.name }, 'session reset by the operator');
    this.restartWith(this.sessionConfig, CeaseSub.AdministrativeReset, text ?? 'reset by the operator');
    return true;
  }

  /**
   * The operator's `refresh` (soft-out): re-advertise every route the peer
   * has, per negotiated family, without a session reset — the answer to a
   * ROUTE-REFRESH the peer could have sent (RFC 2918 §4: re-advertise the
   * Adj-RIB-Out; framed by BoRR/EoRR when RFC 7313 was negotiated, RFC 7313
   * §4 "a route refresh that is ... initiated locally"). False without an
   * Established session.
   */
  refreshOut(): boolean {
    const c = this.primary;
    const n = this.negotiated;
    if (c.session.state !== 'Established' || n === null) return false;
    for (const f of n.families) {
      const [afi, safi] = f.split('/').map(Number) as [number, number];
      this.ribOut.refresh(afi, safi, n.enhancedRouteRefresh);
    }
    this.deps.log.info({ peer: this.name, families: n.families }, 'routes re-sent to the peer (operator refresh)');
    this.pump(c);
    return true;
  }

  /**
   * Hold this peer's End-of-RIB back (true) until the desired set is known
   * complete, or release it (false) and send it (RFC 4724 §4.2: a peer keeping
   * our stale routes flushes those not re-announced at our End-of-RIB).
   */
  holdEndOfRib(hold: boolean): void {
    this.ribOut.holdEndOfRib(hold);
    if (!hold) this.pump(this.primary);
  }

  /** ms left of the damped IdleHold after a protocol error; null when the session is not held down that way. */
  get heldDownForMs(): number | null {
    const s = this.primary.session;
    const until = s.timers.idleHold;
    if (s.state !== 'Idle' || !s.autoStart || until === undefined) return null;
    return Math.max(0, Math.round(until - this.deps.clock.now()));
  }

  /** True when GR was negotiated on the current session (the peer would keep our routes through a planned restart). */
  get gracefulRestartNegotiated(): boolean {
    return this.primary.session.state === 'Established' && (this.negotiated?.gracefulRestart ?? false);
  }

  /** Drop every socket and timer at once (after stop() had its chance to say goodbye). */
  destroy(): void {
    for (const c of [this.secondary, this.primary]) {
      if (!c) continue;
      c.connecting?.abort();
      c.closed = true;
      this.dropSocket(c);
    }
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = undefined;
    this.bfdHold?.cancel();
    this.bfdHold = null;
  }

  /** Replace settings that do not need a session reset (routes policy, limits). */
  reconfigure(cfg: PeerConfig, sessionConfig: SessionConfig): void {
    this.cfg = cfg;
    this.ribOut.setFamilies(...carried(cfg));
    this.sessionConfig = sessionConfig;
    // What needs no new session (the reconnect and damping timers) applies to the running FSM states at once.
    for (const c of [this.primary, this.secondary]) if (c) c.session = { ...c.session, config: sessionConfig };
    this.ribIn.setOptions(ribInOptions(cfg));
  }

  /** Queue a route group change for this peer's Adj-RIB-Out (applied by `workSlice`); `seq` is the hand-off it belongs to. */
  setGroup(id: number, attrs: RouteAttrs, prefixes: PrefixList, seq: number): void {
    this.ribOut.setGroup(id, attrs, prefixes);
    this.seqTarget = seq;
  }

  /** Queue the removal of a route group. */
  dropGroup(id: number, seq: number): void {
    this.ribOut.removeGroup(id);
    this.seqTarget = seq;
  }

  /** Note a hand-off that changed nothing here, so `flushed` still reports it. */
  noteSeq(seq: number): void {
    this.seqTarget = seq;
  }

  /**
   * Apply up to `maxRecords` prefix records of queued group changes, then
   * send what became pending; returns true when work is left.
   */
  workSlice(maxRecords: number): boolean {
    const more = this.ribOut.work(maxRecords);
    this.pump(this.primary);
    if (!more) this.checkFlushed();
    return more;
  }

  /** Emit `flushed` once everything handed up to now is applied and written. */
  private checkFlushed(): void {
    if (this.seqTarget <= this.flushedSeq || this.ribOut.working) return;
    const c = this.primary;
    // While the routes wait for BFD the peer has none of ours, so nothing is owed.
    if (c.session.state === 'Established' && this.bfdHold === null) {
      if (this.ribOut.wantsToSend || c.blocked || (c.socket !== null && c.socket.writableLength > 0)) return;
    }
    this.flushedSeq = this.seqTarget;
    this.deps.emit({ type: 'flushed', peer: this.name, seq: this.flushedSeq });
  }

  /** Hand this peer its full desired route set (level-triggered). */
  setRoutes(routes: Iterable<RouteSpec>): void {
    this.ribOut.setDesired(routes);
    this.pump(this.primary);
  }

  /** Like setRoutes, as groups of prefixes sharing attributes (the compact form). */
  setRouteGroups(groups: readonly RouteGroup[]): void {
    this.ribOut.setDesiredGroups(groups);
    this.pump(this.primary);
  }

  private checkStopped(): void {
    const idle = this.primary.session.state === 'Idle' && !this.primary.socket && !this.secondary;
    if (!idle) return;
    const ws = this.stopWaiters;
    this.stopWaiters = [];
    for (const w of ws) w();
  }

  // ------------------------------------------------------------ incoming connections

  /**
   * Take an accepted connection from the listener. `listenerTtl`: the TTL the
   * socket inherited from a listener raised to 255 for GTSM peers (speaker.ts),
   * which this peer's own policy then replaces.
   */
  accept(socket: net.Socket, listenerTtl?: number): void {
    const disp = incomingDisposition(this.primary.session);
    if (disp === 'reject' || (disp === 'track' && this.secondary)) {
      this.deps.log.info({ peer: this.name, state: this.primary.session.state }, 'incoming connection refused in this state');
      socket.destroy();
      return;
    }
    this.applySocketOptions(socket, listenerTtl);
    if (disp === 'attach') {
      const c = this.primary;
      c.connecting?.abort();
      c.connecting = null;
      if (c.socket) this.dropSocket(c);
      c.side = 'incoming';
      this.attach(c, socket);
      this.feed(c, { type: 'TcpConnectionConfirmed' });
    } else {
      const c = this.newConn('incoming', trackIncoming(this.primary.session));
      this.secondary = c;
      this.attach(c, socket);
      this.feed(c, { type: 'TcpConnectionConfirmed' });
    }
  }

  private applySocketOptions(socket: net.Socket, listenerTtl?: number): void {
    const ttl = this.ttl();
    if (ttl === undefined && this.cfg.minTtl === undefined && listenerTtl === undefined) return;
    try {
      const fd = fdOf(socket);
      const fam = socketFamily(fd);
      if (ttl !== undefined) setTtl(fd, fam, ttl);
      else if (listenerTtl !== undefined) resetTtl(fd, fam);
      if (this.cfg.minTtl !== undefined) setMinTtl(fd, fam, this.cfg.minTtl);
    } catch (e) {
      this.deps.log.warn({ peer: this.name, err: (e as Error).message }, 'could not set TTL on accepted connection');
    }
  }

  /** TTL for our packets: explicit multihop, else 1 for eBGP (directly connected), else the OS default. */
  private ttl(): number | undefined {
    if (this.cfg.ttlSecurity) return 255;
    if (this.cfg.multihop !== undefined) return this.cfg.multihop;
    return this.sessionConfig.localAs !== this.sessionConfig.peerAs ? 1 : undefined;
  }

  // ------------------------------------------------------------ the FSM loop

  private feed(c: Conn, event: FsmEvent): void {
    if (c.closed) return;
    const now = this.deps.clock.now();
    const r = step(c.session, event, now);
    c.session = r.session;
    for (const a of r.actions) this.apply(c, a);
    this.afterStep();
  }

  /**
   * A tracked incoming connection that became the session takes the peer's
   * own passivity. It was tracked as a passive session (collision.ts
   * trackIncoming: the primary did the dialling meanwhile); kept passive, an
   * active peer would never dial again once that session ended, and would
   * wait for the router's next connection — FRR's ConnectRetry is 120 s by
   * default (the link-flap lab: FRR dials the moment its link is up and
   * wins the collision; test/bgp/driver/collision-dial.test.ts).
   */
  private promote(c: Conn): void {
    const passive = !!this.cfg.passive;
    if (c.session.passive !== passive) c.session = { ...c.session, passive };
  }

  private afterStep(): void {
    const sec = this.secondary;
    if (sec && !sec.closed && sec.session.state !== 'Idle' && !OPEN_STATES.has(this.primary.session.state) && OPEN_STATES.has(sec.session.state)) {
      // The primary connection ended (the peer dumped it in a collision, or it
      // failed) while the tracked one is opening: that one is the session now.
      this.deps.log.info({ peer: this.name, primary: this.primary.session.state }, 'tracked incoming connection takes over');
      const old = this.primary;
      old.connecting?.abort();
      old.closed = true;
      this.dropSocket(old);
      this.primary = sec;
      this.secondary = null;
      this.promote(sec);
    } else if (sec) {
      if (sec.closed || sec.session.state === 'Idle' || !sec.socket) {
        this.secondary = null;
      } else {
        const out = this.primary.side === 'outgoing' ? this.primary : sec;
        const inc = out === this.primary ? sec : this.primary;
        const d = checkCollision(out.session, inc.session);
        if (d) {
          const loser = d.dump === 'outgoing' ? out : inc;
          const winner = loser === out ? inc : out;
          this.deps.log.info({ peer: this.name, kept: d.keep }, 'connection collision resolved (RFC 4271 §6.8)');
          this.primary = winner;
          this.secondary = null;
          this.promote(winner);
          // The loser's state leaves us: Cease/Connection Collision Resolution, then close.
          this.feed(loser, { type: 'OpenCollisionDump' });
          loser.closed = true;
        }
      }
    }
    const st = this.primary.session.state;
    if (st !== this.lastState && !this.quiet) {
      this.deps.emit({ type: 'state', peer: this.name, from: this.lastState, to: st });
      this.lastState = st;
    }
    this.armTimer();
    this.checkStopped();
  }

  private armTimer(): void {
    let at = nextDeadline(this.primary.session);
    const s = this.secondary ? nextDeadline(this.secondary.session) : undefined;
    if (s !== undefined && (at === undefined || s < at)) at = s;
    if (at === this.timerAt) return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = at;
    if (at === undefined) return;
    this.cancelTimer = this.deps.clock.setTimer(at, () => {
      this.cancelTimer = null;
      this.timerAt = undefined;
      const now = this.deps.clock.now();
      for (const c of [this.primary, this.secondary]) {
        if (!c) continue;
        for (const ev of expiredTimers(c.session, now)) this.feed(c, ev);
      }
      this.armTimer();
    });
  }

  private apply(c: Conn, a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        this.connect(c);
        return;
      case 'send':
        this.send(c, a.message);
        return;
      case 'close':
        this.close(c);
        return;
      case 'established':
        this.onEstablished(c, a.negotiated);
        return;
      case 'session-down':
        this.onDown(c, a.reason, a.wasEstablished);
        return;
      case 'update-received':
        if (a.ignored) this.logIgnoredFamilies(a.ignored);
        this.onUpdate(c, a.message);
        return;
      case 'end-of-rib-received':
        this.deps.emit({ type: 'end-of-rib', peer: this.name, family: a.family });
        return;
      case 'route-refresh-received':
        if (c === this.primary) this.onRouteRefresh(c, a.afi, a.safi, a.subtype);
        return;
    }
  }

  // ------------------------------------------------------------ transport

  /**
   * Time one connect attempt may take: CONNECT_TIMEOUT_MS, but ending just
   * before the ConnectRetry deadline. When that deadline fires in Connect the
   * FSM drops the attempt and dials again; an attempt cut off that way would
   * never be reported, so a SYN nobody answers (a wrong TCP MD5 key, a
   * filter) went unreported until the backoff outgrew the timeout. Timing out
   * first reports it (connect-failed, lastConnectError) on every attempt.
   */
  private attemptTimeout(c: Conn): number {
    const retryAt = c.session.timers.connectRetry;
    if (retryAt === undefined) return CONNECT_TIMEOUT_MS;
    const left = retryAt - this.deps.clock.now() - CONNECT_TIMEOUT_MARGIN_MS;
    return Math.max(CONNECT_TIMEOUT_MARGIN_MS, Math.min(CONNECT_TIMEOUT_MS, left));
  }

  private connect(c: Conn): void {
    c.connecting?.abort();
    const ac = new AbortController();
    c.connecting = ac;
    const ttl = this.ttl();
    const timeoutMs = this.attemptTimeout(c);
    this.deps.log.debug({ peer: this.name, timeoutMs }, 'connecting');
    connectTcp({
      host: this.cfg.address,
      port: this.cfg.port ?? 179,
      timeoutMs,
      signal: ac.signal,
      clock: this.deps.clock,
      ...(this.cfg.localAddress !== undefined ? { localAddress: this.cfg.localAddress } : {}),
      ...(this.cfg.password !== undefined ? { md5Key: this.cfg.password } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      ...(this.cfg.minTtl !== undefined ? { minTtl: this.cfg.minTtl } : {}),
    }).then(
      (socket) => {
        if (ac.signal.aborted || c.connecting !== ac || c.closed) {
          socket.destroy();
          return;
        }
        c.connecting = null;
        this.connectError = undefined;
        this.attach(c, socket);
        this.feed(c, { type: 'Tcp_CR_Acked' });
      },
      (err: Error) => {
        if (ac.signal.aborted || c.connecting !== ac) return;
        c.connecting = null;
        this.counters.connectFailures++;
        const msg = err.message;
        this.deps.log.debug({ peer: this.name, err: msg }, 'connect attempt failed');
        if (msg !== this.connectError) {
          // Log a failure once until it changes, not on every retry.
          this.deps.log.warn({ peer: this.name, err: msg }, 'connect failed');
          this.deps.emit({ type: 'connect-failed', peer: this.name, error: msg });
        }
        this.connectError = msg;
        const code = (err as NodeJS.ErrnoException).code;
        this.feed(c, { type: 'TcpConnectionFails', ...(code !== undefined && LOCAL_CONNECT_ERRORS.has(code) ? { local: true } : {}) });
      },
    );
  }

  private attach(c: Conn, socket: net.Socket): void {
    c.socket = socket;
    c.framer = new Framer();
    c.ctx = DEFAULT_CONTEXT;
    c.blocked = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (c.socket !== socket) return;
      this.onData(c, chunk);
    });
    socket.on('drain', () => {
      if (c.socket !== socket) return;
      c.blocked = false;
      this.pump(c);
    });
    socket.on('error', (err) => {
      if (c.socket !== socket) return;
      this.deps.log.info({ peer: this.name, err: err.message }, 'connection error');
    });
    socket.on('close', () => {
      if (c.socket !== socket) return;
      c.socket = null;
      this.feed(c, { type: 'TcpConnectionFails' });
      if (c !== this.primary && c === this.secondary && c.session.state === 'Idle') this.secondary = null;
      this.checkStopped();
    });
  }

  private onData(c: Conn, chunk: Uint8Array): void {
    const f = c.framer;
    f.push(chunk);
    for (;;) {
      if (c.socket === null || c.closed) return;
      let frame: Uint8Array | null;
      try {
        frame = f.next();
      } catch (e) {
        this.feed(c, errorEvent(asBgpError(e)));
        return;
      }
      if (frame === null) return;
      let msg: BgpMessage;
      try {
        msg = decodeMessage(frame, c.ctx);
      } catch (e) {
        this.counters.messagesIn++;
        this.feed(c, errorEvent(asBgpError(e)));
        return;
      }
      this.counters.messagesIn++;
      if (msg.type === 'update') this.counters.updatesIn++;
      else if (msg.type === 'notification') this.counters.notificationsIn++;
      this.feed(c, messageEvent(msg));
    }
  }

  private send(c: Conn, msg: BgpMessage): void {
    const sock = c.socket;
    if (!sock || sock.destroyed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(msg, c.ctx);
    } catch (e) {
      this.deps.log.error({ peer: this.name, err: (e as Error).message, type: msg.type }, 'cannot encode message');
      return;
    }
    this.counters.messagesOut++;
    if (msg.type === 'update') this.counters.updatesOut++;
    if (msg.type === 'notification') {
      this.counters.notificationsOut++;
      this.deps.emit({ type: 'notification-sent', peer: this.name, code: msg.code, subcode: msg.subcode, text: msg.shutdownText });
    }
    const kind = msg.type;
    if (!sock.write(bytes, () => this.sent(c, sock, kind))) c.blocked = true;
  }

  private sent(c: Conn, sock: net.Socket, kind: BgpMessage['type']): void {
    if (c.socket !== sock || c.closed) return;
    this.feed(c, { type: 'MessageSent', kind });
  }

  /** Drop the TCP connection after flushing what was written (a NOTIFICATION, usually). */
  private close(c: Conn): void {
    c.connecting?.abort();
    c.connecting = null;
    const sock = c.socket;
    if (!sock) return;
    c.socket = null;
    sock.end();
    const cancel = after(this.deps.clock, CLOSE_FLUSH_MS, () => sock.destroy(), { unref: true });
    sock.once('close', () => {
      cancel();
      this.checkStopped();
    });
  }

  private dropSocket(c: Conn): void {
    const s = c.socket;
    c.socket = null;
    s?.destroy();
  }

  // ------------------------------------------------------------ session events

  /** Export every route again after an export-only change (next-hop-self): no session reset. */
  reexport(): void {
    const c = this.primary;
    if (c.session.state !== 'Established' || this.negotiated === null) return;
    this.ribOut.reexportAll(this.exportContext(c, this.negotiated));
    this.pump(c);
  }

  /** The session facts the exporter needs: ASNs, families, local addresses (next-hop-self overrides them). */
  private exportContext(c: Conn, n: Negotiated): PeerExportContext {
    const local = c.socket?.localAddress ?? '';
    const ctx: PeerExportContext = {
      localAs: this.sessionConfig.localAs,
      peerAs: n.peerAs,
      ibgp: this.sessionConfig.localAs === n.peerAs,
      families: new Set(n.families),
      extendedNextHopV4overV6: n.context.extendedNextHop.has('1/1'),
    };
    const v4 = this.cfg.nextHopSelf4 ?? (isV4(local) ? stripMapped(local) : undefined);
    const v6 = this.cfg.nextHopSelf6 ?? (!isV4(local) && local.includes(':') ? local : undefined);
    if (v4) ctx.localAddress4 = v4;
    if (v6) ctx.localAddress6 = v6;
    return ctx;
  }

  private onEstablished(c: Conn, n: Negotiated): void {
    c.ctx = n.context;
    c.framer.setMaxLength(maxMessageLen(n.context));
    this.negotiated = n;
    this.establishedAt = this.deps.clock.now();
    this.counters.establishedTransitions++;
    this.ribIn.clear();
    this.receiveLimit = null;
    this.ignoredFamilies.clear();
    this.loggedOwnNextHop = false;
    const local = c.socket?.localAddress ?? '';
    // The session's own address (not next_hop_self) is what a peer must not hand back as a next hop.
    this.ribIn.setLocalAddresses(local ? [stripMapped(local)] : []);
    this.ribOut.start(n.context, this.exportContext(c, n));
    this.deps.log.info(
      { peer: this.name, peerAs: n.peerAs, holdTime: n.holdTime, families: n.families, local: isV4(local) ? stripMapped(local) : local },
      'session established',
    );
    this.deps.emit({ type: 'established', peer: this.name, families: [...n.families], holdTime: n.holdTime });
    this.bfdTookDown = false;
    if (this.cfg.bfd !== undefined && !this.bfdUp) this.holdRoutes();
    this.pump(c);
  }

  private onDown(c: Conn, reason: DownReason, wasEstablished: boolean): void {
    if (c !== this.primary) {
      // A tracked incoming connection that ended is forgotten (it never restarts on its own).
      if (c === this.secondary) c.closed = true;
      return;
    }
    // The pass through Idle of a restart after BFD Up is not a session end.
    if (this.quiet) return;
    if (wasEstablished) {
      this.counters.flaps++;
      this.ribOut.reset();
      this.ribIn.clear();
      // A block ends with the session; restart/disable stay reported while the peer is held down.
      if (this.receiveLimit?.action === 'block') this.receiveLimit = null;
      this.negotiated = null;
      this.establishedAt = undefined;
      this.bfdHold?.cancel();
      this.bfdHold = null;
      this.bfdUnprotected = false;
    }
    if (this.bfdDownDetail !== null) reason = { ...reason, message: `${reason.message}: ${this.bfdDownDetail}` };
    // Cease/BFD Down either way: a path failure, which BFD Up will show is over.
    this.bfdTookDown = reason.code === ErrCode.Cease && reason.subcode === CeaseSub.BfdDown;
    this.lastDown = { ...reason, at: Date.now() };
    this.deps.log.warn({ peer: this.name, reason: reason.message, wasEstablished }, 'session down');
    this.deps.emit({ type: 'down', peer: this.name, reason, wasEstablished });
  }

  /**
   * A ROUTE-REFRESH the FSM accepted (family negotiated; BoRR/EoRR only with
   * Enhanced Route Refresh): a request re-advertises that family (RFC 2918
   * §4, framed by BoRR/EoRR per RFC 7313 §4 when negotiated); the peer's own
   * BoRR/EoRR mark and purge its stale routes in the Adj-RIB-In.
   */
  private onRouteRefresh(c: Conn, afi: number, safi: number, subtype: number): void {
    const family = familyKey(afi, safi);
    let purged: number | undefined;
    if (subtype === RefreshSubtype.Normal) {
      this.counters.refreshRequestsIn++;
      this.ribOut.refresh(afi, safi, this.negotiated?.enhancedRouteRefresh ?? false);
    } else if (subtype === RefreshSubtype.BoRR) {
      this.counters.refreshBorrIn++;
      this.ribIn.beginRefresh(afi, safi);
    } else if (subtype === RefreshSubtype.EoRR) {
      this.counters.refreshEorrIn++;
      purged = this.ribIn.endRefresh(afi, safi);
    }
    this.deps.log.info({ peer: this.name, family, subtype, ...(purged !== undefined ? { purged } : {}) }, 'ROUTE-REFRESH received');
    this.deps.emit({ type: 'route-refresh', peer: this.name, family, subtype, ...(purged !== undefined ? { purged } : {}) });
    if (subtype === RefreshSubtype.Normal) this.pump(c);
  }

  private onUpdate(c: Conn, msg: import('../wire/types.js').UpdateMessage): void {
    if (msg.errors?.length) {
      for (const e of msg.errors) {
        this.deps.log.warn({ peer: this.name, error: e.message, action: e.action }, 'malformed UPDATE handled per RFC 7606');
      }
    }
    const res = this.ribIn.apply(msg);
    this.counters.routesRejected += res.rejected;
    if (res.ownNextHop > 0 && !this.loggedOwnNextHop) {
      this.loggedOwnNextHop = true;
      this.deps.log.warn({ peer: this.name, routes: res.ownNextHop }, 'routes with our own address as next hop ignored (RFC 4271 §6.3)');
    }
    if (res.warning) {
      const max = this.ribIn.options.warnPrefixes ?? 0;
      this.deps.log.warn({ peer: this.name, count: res.count, warning: max, limit: this.cfg.maxPrefixes }, 'received prefixes above the warning threshold');
      this.deps.emit({ type: 'receive-limit', peer: this.name, limit: 'max-prefixes', action: 'warning', count: res.count, max });
    }
    if (res.limit !== null) this.onLimit(c, res.limit, msg);
  }

  /** Log once per family and session that MP attributes of a family not negotiated are ignored (update-check.ts). */
  private logIgnoredFamilies(fams: readonly string[]): void {
    for (const f of fams) {
      if (this.ignoredFamilies.has(f)) continue;
      this.ignoredFamilies.add(f);
      this.deps.log.warn({ peer: this.name, family: f }, 'MP_REACH/MP_UNREACH for a family not negotiated on this session ignored (RFC 4760 §7, RFC 7606 §7.11)');
    }
  }

  /**
   * A received route or the Adj-RIB-In reached a limit; the RIB stored
   * nothing past it. Apply the peer's action: block (keep the session, log
   * and emit once per limit and session), or restart / disable (Cease:
   * Maximum Number of Prefixes Reached with its RFC 4486 data for the prefix
   * limit, Out of Resources for the memory caps).
   */
  private onLimit(c: Conn, limit: ReceiveLimit, msg: import('../wire/types.js').UpdateMessage): void {
    const prefixes = limit === 'max-prefixes';
    const lim = this.ribIn.options;
    const max = (prefixes ? lim.maxPrefixes : limit === 'max-bytes' ? lim.maxBytes : limit === 'as-path' ? lim.maxAsPath : lim.maxAttrBytes) ?? 0;
    const action = prefixes
      ? (this.cfg.maxPrefixesAction ?? DEFAULT_MAX_PREFIXES_ACTION)
      : (this.cfg.receiveLimits?.action ?? DEFAULT_RECEIVE_LIMITS.action);
    if (action.kind === 'block' && this.receiveLimit?.limit === limit) return;
    const count = prefixes ? this.ribIn.count : limit === 'max-bytes' ? this.ribIn.bytes : max + 1;
    const what = prefixes ? `${max} prefixes` : limit === 'max-bytes' ? `${max} bytes held` : limit === 'as-path' ? `${max} AS numbers in an AS_PATH` : `${max} attribute bytes in a route`;
    const message = `${limit}: more than ${what}; ${action.kind === 'block' ? 'further routes dropped, session kept' : action.kind === 'restart' ? `session reset, restart in ${Math.round((action.restartAfterMs ?? 0) / 1000)} s` : 'session reset, peer disabled until enabled'}`;
    this.receiveLimit = { limit, action: action.kind, at: Date.now(), message };
    this.deps.log.warn({ peer: this.name, limit, max, count, action: action.kind }, `received-route limit reached: ${message}`);
    this.deps.emit({ type: 'receive-limit', peer: this.name, limit, action: action.kind, count, max });
    if (action.kind === 'block') return;
    const restartMs = action.kind === 'disable' ? null : (action.restartAfterMs ?? 0);
    if (prefixes) {
      // RFC 4486 §4: the data names the AFI/SAFI that crossed the limit.
      const afi = msg.attributes.mpReach?.afi ?? Afi.IPv4;
      this.feed(c, { type: 'MaxPrefixExceeded', afi, safi: Safi.Unicast, limit: max, restartMs });
    } else {
      this.feed(c, { type: 'ReceiveLimitExceeded', detail: message, restartMs });
    }
  }

  // ------------------------------------------------------------ BFD (RFC 5882 §3.2, RFC 9384; decision 0030)

  /** The local address of the current connection (IPv4-mapped form stripped); null without one. */
  get localAddress(): string | null {
    const a = this.primary.socket?.localAddress;
    return a === undefined ? null : stripMapped(a);
  }

  /** What BFD does to this session now, for the snapshot. */
  bfdGate(): { routesHeld: boolean; heldMs: number; unprotected: boolean } {
    const h = this.bfdHold;
    return { routesHeld: h !== null, heldMs: h === null ? 0 : this.deps.clock.now() - h.since, unprotected: this.bfdUnprotected };
  }

  /**
   * The peer's BFD session entered Up (`up`) or left it. Up releases routes
   * held for it and lets a session waiting for a retry deadline dial now.
   * Leaving Up because the path failed (`pathDown`; not a remote AdminDown,
   * RFC 5882 §3.2) takes the session down with Cease/BFD Down (RFC 9384),
   * whatever state past OpenSent it is in (as FRR does). `detail` says why,
   * for the down reason.
   */
  bfdState(up: boolean, pathDown: boolean, detail: string): void {
    this.bfdUp = up;
    if (up) {
      this.releaseRoutes('bfd-up');
      this.restartAfterBfd();
      return;
    }
    if (!pathDown) return;
    const live = [this.secondary, this.primary].filter(
      (c): c is Conn => c !== null && !c.closed && (c.session.state === 'OpenSent' || c.session.state === 'OpenConfirm' || c.session.state === 'Established'),
    );
    if (live.length === 0) return;
    this.deps.log.warn({ peer: this.name, bfd: detail }, 'BFD down: taking the BGP session down (Cease/BFD Down, RFC 9384)');
    this.bfdDownDetail = `BFD down (${detail})`;
    try {
      for (const c of live) this.feed(c, { type: 'AutomaticStop', subcode: CeaseSub.BfdDown });
    } finally {
      this.bfdDownDetail = null;
    }
  }

  /** The peer's BFD session was removed (configuration): routes held for it go out, nothing else changes. */
  bfdRemoved(): void {
    this.bfdUp = false;
    this.releaseRoutes('bfd-removed');
  }

  /** Established without BFD Up: hold the routes back for at most waitUpMs. */
  private holdRoutes(): void {
    const wait = this.cfg.bfd?.waitUpMs ?? BFD_WAIT_UP_MS;
    if (wait <= 0) return;
    const since = this.deps.clock.now();
    const cancel = this.deps.clock.setTimer(since + wait, () => {
      if (this.bfdHold?.since === since) this.releaseRoutes('wait-expired');
    });
    this.bfdHold = { since, cancel };
    this.deps.log.info({ peer: this.name, waitUpMs: wait }, 'routes wait for BFD Up');
    this.deps.emit({ type: 'bfd-routes', peer: this.name, held: true, unprotected: false, heldMs: 0 });
  }

  private releaseRoutes(why: 'bfd-up' | 'wait-expired' | 'bfd-removed'): void {
    const h = this.bfdHold;
    if (h === null) return;
    this.bfdHold = null;
    h.cancel();
    const heldMs = this.deps.clock.now() - h.since;
    this.bfdUnprotected = why === 'wait-expired';
    if (why === 'wait-expired') {
      this.deps.log.warn({ peer: this.name, heldMs }, 'BFD not Up within wait_up: routes sent without BFD protection');
    } else {
      this.deps.log.info({ peer: this.name, heldMs, why }, 'routes released to the peer');
    }
    this.deps.emit({ type: 'bfd-routes', peer: this.name, held: false, unprotected: this.bfdUnprotected, heldMs });
    this.pump(this.primary);
  }

  /**
   * BFD is Up, so the path works: a session a BFD Down ended, or one
   * waiting for its next connect attempt, dials now instead of at its
   * IdleHold or ConnectRetry deadline. A session damped after anything else
   * keeps waiting. The FSM has no "start now" event, so this is ManualStop
   * (in Idle it only clears the deadlines; the failure count stays) then
   * AutomaticStart; the pass through Idle is not reported as a session end.
   */
  private restartAfterBfd(): void {
    const s = this.primary.session;
    // The operator's down outranks BFD: the peer stays Idle until `up`.
    if (this.adminDown !== null || this.secondary !== null || !s.autoStart) return;
    const damped = s.state === 'Idle' && s.timers.idleHold !== undefined && this.bfdTookDown;
    const retrying = (s.state === 'Active' || s.state === 'Connect') && !s.passive && s.timers.connectRetry !== undefined;
    if (!damped && !retrying) return;
    this.deps.log.info({ peer: this.name, state: s.state }, 'BFD Up: connecting now instead of at the retry deadline');
    this.quiet = true;
    try {
      this.feed(this.primary, { type: 'ManualStop' });
    } finally {
      this.quiet = false;
    }
    this.feed(this.primary, { type: this.cfg.passive ? 'AutomaticStart_with_PassiveTcpEstablishment' : 'AutomaticStart' });
  }

  // ------------------------------------------------------------ sending routes

  /** Pull UPDATEs from the Adj-RIB-Out while the socket accepts them. */
  private pump(c: Conn): void {
    if (c !== this.primary || c.session.state !== 'Established') return;
    if (this.bfdHold !== null) {
      this.checkFlushed();
      return;
    }
    const sock = c.socket;
    if (!sock || sock.destroyed) return;
    const rib = this.ribOut;
    while (!c.blocked && rib.wantsToSend) {
      const u0 = rib.updatesPulled;
      const r0 = rib.refreshMessagesPulled;
      const chunk = rib.nextBytes();
      if (!chunk) break;
      // The RIB counts what it packed; the bytes are not walked again.
      const updates = rib.updatesPulled - u0;
      this.counters.updatesOut += updates;
      this.counters.messagesOut += updates + rib.refreshMessagesPulled - r0;
      // Each pull is a fresh buffer, so the socket may keep a view of it.
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (!sock.write(bytes, () => this.sent(c, sock, 'update'))) c.blocked = true;
    }
    // One per End-of-RIB or EoRR that completed an answer (AdjRibOut stats.refreshesAnswered).
    for (const family of this.ribOut.takeAnswered()) {
      this.counters.refreshesAnswered++;
      this.deps.emit({ type: 'route-refresh-answered', peer: this.name, family, enhanced: this.negotiated?.enhancedRouteRefresh ?? false });
    }
    this.checkFlushed();
  }

  // ------------------------------------------------------------ snapshot

  /** Describe this peer for the control API, CLI and metrics. */
  snapshot(): Omit<PeerSnapshot, 'bfd'> {
    const s = this.primary.session;
    const n = this.negotiated;
    const now = this.deps.clock.now();
    return {
      name: this.name,
      instance: this.instance,
      address: this.cfg.address,
      peerAs: this.cfg.asn,
      localAs: this.sessionConfig.localAs,
      state: s.state,
      uptimeMs: this.establishedAt !== undefined && s.state === 'Established' ? now - this.establishedAt : 0,
      passive: !!this.cfg.passive,
      localAddress: this.primary.socket?.localAddress ?? null,
      families: n ? [...n.families] : [],
      holdTime: n?.holdTime ?? null,
      keepaliveTime: n?.keepaliveTime ?? null,
      peerBgpId: n?.peerBgpId ?? null,
      peerHostname: n?.peerHostname?.hostname ?? null,
      lastDown: this.lastDown ?? null,
      lastConnectError: this.connectError ?? null,
      counters: { ...this.counters },
      prefixesAnnounced: this.ribOut.advertisedCount,
      prefixesPending: this.ribOut.pendingCount,
      prefixesReceived: this.ribIn.count,
      receivedBytes: this.ribIn.bytes,
      receiveLimit: this.receiveLimit ? { ...this.receiveLimit } : null,
      endOfRibReceived: Object.keys(s.eor.received),
      md5: this.cfg.password !== undefined,
      heldDownMs: this.adminDown === null ? this.heldDownForMs : null,
      adminDown: this.adminDown ? { ...this.adminDown } : null,
    };
  }
}

/** The families a peer carries: its configured ones, else its transport's. */
export function carried(cfg: PeerConfig): [boolean, boolean] {
  const fams = cfg.families ?? [familyOfText(cfg.address) === Afi.IPv6 ? 'ipv6' : 'ipv4'];
  return [fams.includes('ipv4'), fams.includes('ipv6')];
}

/** The Adj-RIB-In's limits from a peer's config, defaults filled in. */
function ribInOptions(cfg: PeerConfig): AdjRibInOptions {
  const r = cfg.receiveLimits ?? {};
  const max = cfg.maxPrefixes;
  const warn = cfg.maxPrefixesWarning ?? (max !== undefined ? Math.floor(max * 0.9) : undefined);
  return {
    importNothing: cfg.importNothing ?? false,
    ...(max !== undefined ? { maxPrefixes: max } : {}),
    ...(warn !== undefined ? { warnPrefixes: warn } : {}),
    maxAsPath: r.maxAsPath ?? DEFAULT_RECEIVE_LIMITS.maxAsPath,
    maxAttrBytes: r.maxAttributeBytes ?? DEFAULT_RECEIVE_LIMITS.maxAttributeBytes,
    maxBytes: r.maxBytes ?? DEFAULT_RECEIVE_LIMITS.maxBytes,
  };
}

function asBgpError(e: unknown): BgpError {
  if (e instanceof BgpError) return e;
  // A codec bug must still end the session cleanly: Cease/OutOfResources is
  // the least wrong code, and the message says it was ours.
  return new BgpError(6, CeaseSub.OutOfResources, `internal decode failure: ${(e as Error)?.message ?? String(e)}`);
}

function isV4(a: string): boolean {
  return /^(::ffff:)?\d+\.\d+\.\d+\.\d+$/i.test(a);
}

function stripMapped(a: string): string {
  return a.replace(/^::ffff:/i, '');
}

export type { NotificationMessage };
