/**
 * The BFD driver: UDP sockets, one Clock timer, and the glue between them
 * and the pure session machines (RFC 5881 single hop, RFC 5883 multihop).
 *
 * Owns: every BFD socket, the session table and its demultiplexing, the one
 * timer for the earliest deadline of all sessions, per-session counters and
 * snapshots, and the events other code subscribes to. It makes no protocol
 * decision: session.ts decides, wire.ts checks syntax; this file moves bytes
 * and deadlines (STYLE.md §1, §8). It runs wherever it is constructed - the
 * session-engine worker thread in herald (decision 0020) - so it keeps no
 * process-global state and writes only through the injected Logger.
 *
 * Sockets
 * -------
 * - Receive: one socket per (family, hop kind), opened with the first
 *   session that needs it, bound to the wildcard address on UDP 3784
 *   (single hop, RFC 5881 §4) or 4784 (multihop, RFC 5883 §2); IPv6 sockets
 *   are IPv6-only, so each IPv4 packet has one home. A BPF filter does the
 *   TTL check in the kernel (ttl-filter.ts, decision 0021): single hop
 *   accepts only 255 (RFC 5881 §5); multihop accepts 256 - maxHops and up
 *   from each session's peer (one rule per session with a `maxHops`; none
 *   by default, RFC 5883 sets no value and BIRD 2 sends with TTL 64).
 *   Datagrams that fail arrive as empty payloads and are counted as `ttl`
 *   discards of the session with that source address.
 * - Transmit: one socket per session, bound to the session's local address
 *   (or the wildcard) and a random source port in 49152-65535 that it keeps
 *   for its whole life. RFC 5881 §4: "The source port MUST be in the range
 *   49152 through 65535. The same UDP source port number MUST be used for
 *   all BFD Control packets associated with a particular session. The
 *   source port number SHOULD be unique among all BFD sessions on the
 *   system." TTL / Hop Limit 255 on every packet (RFC 5881 §5; RFC 5883 §2
 *   does not relax it), so a multihop receiver can count the hops.
 *
 * Demultiplexing (RFC 5880 §6.8.6)
 * --------------------------------
 * "If the Your Discriminator field is nonzero, it MUST be used to select the
 * session with which this BFD packet is associated. If no session is found,
 * the packet MUST be discarded." herald also discards (reason `address`) a
 * packet whose discriminator names a session with another peer address or
 * hop kind. With Your Discriminator zero the session is the one for (hop
 * kind, source address). Node's dgram does not report a packet's
 * destination address, so the local address cannot take part: herald allows
 * one session per (peer address, hop kind) and refuses a second at
 * addSession.
 *
 * Bounds: the tables hold configured sessions only. A packet nobody owns is
 * counted (driver counters, by reason) and logged once per source address,
 * with at most `unknownLogLimit` (256) addresses remembered, oldest forgotten
 * first, and at most UNKNOWN_LOG_BURST such lines a minute (the rest are
 * counted and reported with the next line), so a flood from many addresses
 * costs neither memory nor a flooded log.
 */
import * as dgram from 'node:dgram';
import { realClock, type Clock } from '../driver/clock.js';
import { attachSocketFilter, dgramFd, drainDatagrams, parseIp, readDatagrams, type IpFamily, type WaitingDatagram } from '../driver/sockopts.js';
import { silentLogger, type Logger } from '../driver/types.js';
import { formatIPv4, formatIPv6 } from '../wire/prefix.js';
import {
  BFD_SOURCE_PORT_MAX,
  BFD_SOURCE_PORT_MIN,
  BFD_TTL,
  BfdDiag,
  BfdPort,
  BfdState,
  diagName,
  stateName,
  type BfdStateName,
} from './iana.js';
import {
  createBfdSession,
  detectionTimeUs,
  expiredTimers,
  nextDeadline,
  rxIntervalUs,
  step,
  stepAll,
  txIntervalUs,
  type BfdAction,
  type BfdEvent,
  type BfdSession,
  type BfdSessionConfig,
} from './session.js';
import { maxMultihopRules, minTtlForHops, multihopFilter, singleHopFilter, type TtlRule } from './ttl-filter.js';
import { BfdError, DISCARD_REASONS, decodeControl, encodeControl, type DiscardReason } from './wire.js';

import { BFD_DEFAULTS, BFD_MAX_INTERVAL_MS, BFD_MIN_INTERVAL_MS } from './limits.js';

export { BFD_DEFAULTS, BFD_MAX_INTERVAL_MS, BFD_MIN_INTERVAL_MS };
/** How late (ms) a Detection Time expiry must be noticed to be looked at again after the receive path ran (runTimers). */
const LATE_MS = 2;
/**
 * How long after a late expiry it is looked at again (ms): time for the
 * loop to poll and read what waits in the sockets. One millisecond was
 * not always enough on a loaded machine (a false Down in 1 of 3 runs of
 * the stall test with two CPU spinners); a real silence noticed late is
 * declared this much later still.
 */
const LOOK_AGAIN_MS = 20;
/** Datagrams read from one receive socket at a late expiry, at most (a flood cannot hold the thread). */
const READ_AT_LATE_EXPIRY_MAX = 1024;

/**
 * Default multihop limit: none (any TTL). RFC 5883 sets no value, and BIRD 2
 * sends multihop packets with the system default TTL (64); FRR and herald
 * send 255, so `maxHops` can be set for them.
 */
export const BFD_DEFAULT_MAX_HOPS = 255;
/** Source addresses of unknown packets remembered for log suppression, by default. */
const UNKNOWN_LOG_MAX = 256;
/** Unknown-source log lines allowed per UNKNOWN_LOG_WINDOW_MS. */
const UNKNOWN_LOG_BURST = 20;
const UNKNOWN_LOG_WINDOW_MS = 60_000;
/** Attempts to find a free source port for a session. */
const PORT_ATTEMPTS = 32;

/** One BFD session as the caller configures it. */
export interface BfdSessionOptions {
  /** Unique name (herald uses the BGP peer's name). */
  name: string;
  /** The remote system's address. */
  peer: string;
  /** Source address of our packets; required for multihop (the remote keys its session by it). */
  local?: string;
  /** RFC 5883 multihop on UDP 4784; `maxHops` (default 255: no check) sets the lowest TTL accepted, 256 - maxHops. */
  multihop?: boolean | { maxHops?: number };
  /** bfd.DesiredMinTxInterval once Up, ms (10..60000; default 300). */
  desiredMinTxMs?: number;
  /** bfd.RequiredMinRxInterval, ms (10..60000; default 300). */
  requiredMinRxMs?: number;
  /** bfd.DetectMult (1..255; default 3). */
  detectMult?: number;
  /** RFC 5880 §6.1 Passive role: send nothing until the remote's first packet. */
  passive?: boolean;
  /** Destination UDP port; default 3784 / 4784 (tests run two drivers in one namespace). */
  port?: number;
}

/** What `updateSession` may change at runtime (a Poll Sequence when Up). */
export type BfdSessionUpdate = Partial<Pick<BfdSessionOptions, 'desiredMinTxMs' | 'requiredMinRxMs' | 'detectMult' | 'passive'>>;

export interface BfdDriverOptions {
  clock?: Clock;
  logger?: Logger;
  /** Random numbers in [0, 1) for discriminators, jitter seeds and source ports; default Math.random. */
  random?: () => number;
  /** Listening ports; default 3784 and 4784 (tests override them). */
  ports?: { singleHop?: number; multihop?: number };
  /** Source addresses of unknown packets remembered for log suppression; default 256. */
  unknownLogLimit?: number;
}

/** Typed events the driver emits. */
export type BfdDriverEvent =
  | {
      type: 'state';
      session: string;
      peer: string;
      from: BfdStateName;
      to: BfdStateName;
      /** bfd.LocalDiag after the change, and its name. */
      diag: number;
      diagName: string;
      /** What the remote last said; AdminDown means RFC 5882 §3.2: clients keep their sessions. */
      remoteState: BfdStateName;
      /** True only for Up -> Down because the path failed (RFC 5882 §3.2); clients act on this. */
      pathDown: boolean;
    }
  /** A Poll Sequence ended: the new intervals are in force. */
  | { type: 'poll-done'; session: string; txIntervalMs: number; detectionTimeMs: number }
  /** A socket failed (send or receive); the session keeps running. */
  | { type: 'error'; session: string | null; error: string };

export interface BfdCounters {
  /** Packets accepted by this session. */
  packetsIn: number;
  packetsOut: number;
  /** Packets from this session's peer that were discarded, by reason. */
  discards: Record<DiscardReason, number>;
  /** Transitions into Up, and out of Up. */
  upTransitions: number;
  downTransitions: number;
  pollsCompleted: number;
  sendErrors: number;
  /**
   * Largest time between two packets sent, and between two packets
   * accepted, since the session last came Up (ms; 0 until two packets).
   * A transmit gap near the remote's Detection Time means herald itself
   * was too busy to keep its deadlines; a receive gap near ours means the
   * path or the remote was.
   */
  txGapMaxMs: number;
  rxGapMaxMs: number;
  /** Detection Time expiries looked at again after the receive path ran because herald noticed them late (see runTimers). */
  lateDetections: number;
}

/** One session as the API, CLI and metrics see it. */
export interface BfdSessionSnapshot {
  name: string;
  peer: string;
  local: string | null;
  multihop: boolean;
  /** Lowest TTL accepted (255 for single hop). */
  minTtl: number;
  passive: boolean;
  state: BfdStateName;
  remoteState: BfdStateName;
  localDiag: number;
  localDiagName: string;
  remoteDiag: number;
  remoteDiagName: string;
  localDiscriminator: number;
  remoteDiscriminator: number;
  sourcePort: number;
  /** Configured values, ms. */
  desiredMinTxMs: number;
  requiredMinRxMs: number;
  detectMult: number;
  /** What the remote last advertised (null before its first packet). */
  remote: { desiredMinTxMs: number; requiredMinRxMs: number; detectMult: number; demand: boolean } | null;
  /** Negotiated: our transmit interval, the remote's agreed transmit interval, and the Detection Time (null while unknown), ms. */
  txIntervalMs: number;
  rxIntervalMs: number | null;
  detectionTimeMs: number | null;
  pollActive: boolean;
  /** Time in Up, ms (0 when not Up). */
  uptimeMs: number;
  /** The last time the session left Up: Date.now() ms, the diagnostic, and what the remote said. */
  lastDown: { at: number; diag: number; diagName: string; remoteState: BfdStateName; pathDown: boolean } | null;
  counters: BfdCounters;
}

/** Counters for packets that belong to no session. */
export interface BfdDriverCounters {
  unknownPackets: number;
  unknownByReason: Record<DiscardReason, number>;
  /** Datagrams read from the receive sockets before their filter was attached (dropped unread). */
  drainedAtStart: number;
  /** Datagrams read from the receive sockets at once when a Detection Time expiry was noticed late (see runTimers). */
  readAtLateExpiry: number;
}

type HopKind = 'single' | 'multi';

interface Entry {
  readonly name: string;
  readonly peer: string;
  readonly peerKey: string;
  /** The peer's address octets (4 or 16), for the multihop TTL rules. */
  readonly peerBytes: Uint8Array;
  readonly family: IpFamily;
  readonly local: string | null;
  readonly kind: HopKind;
  readonly minTtl: number;
  readonly port: number;
  readonly tx: dgram.Socket;
  readonly sourcePort: number;
  session: BfdSession;
  counters: BfdCounters;
  upSince: number | undefined;
  lastDown: BfdSessionSnapshot['lastDown'];
  /** Clock time of the last packet sent and accepted, for the gap counters. */
  lastTxAt: number | undefined;
  lastRxAt: number | undefined;
  /** The Detection Time deadline already given one more look (runTimers). */
  lookedAgainAt: number | undefined;
  /** The Detection Time deadline whose late expiry is counted in lateDetections. */
  lateCountedAt: number | undefined;
  closed: boolean;
}

interface RxSocket {
  readonly socket: dgram.Socket;
  readonly fd: number;
  readonly family: IpFamily;
  readonly kind: HopKind;
}

/** What a session being added contributes to the tables and filters before it runs. */
interface Pending {
  readonly addrKey: string;
  readonly family: IpFamily;
  readonly kind: HopKind;
  readonly peerBytes: Uint8Array;
  readonly minTtl: number;
}

function emptyDiscards(): Record<DiscardReason, number> {
  return Object.fromEntries(DISCARD_REASONS.map((r) => [r, 0])) as Record<DiscardReason, number>;
}

/** A canonical key for an address (family, octets, IPv6 scope), its family and octets. */
function addressKey(text: string): { key: string; family: IpFamily; canonical: string; bytes: Uint8Array } {
  const ip = parseIp(text);
  const canonical = ip.family === 4 ? formatIPv4(ip.bytes) : formatIPv6(ip.bytes);
  return { key: `${ip.family}/${canonical}%${ip.scopeId}`, family: ip.family, canonical, bytes: ip.bytes };
}

function checkInterval(v: number, what: string): void {
  if (!Number.isInteger(v) || v < BFD_MIN_INTERVAL_MS || v > BFD_MAX_INTERVAL_MS) {
    throw new RangeError(`BFD ${what} must be an integer ${BFD_MIN_INTERVAL_MS}..${BFD_MAX_INTERVAL_MS} ms, got ${v}`);
  }
}

function checkMult(v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > 255) throw new RangeError(`BFD detect multiplier must be an integer 1..255, got ${v}`);
}

/** All BFD sessions of one herald: sockets, timer, demultiplexing, counters. */
export class BfdDriver {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly ports: { single: number; multi: number };
  private readonly byName = new Map<string, Entry>();
  private readonly byDiscr = new Map<number, Entry>();
  private readonly byAddress = new Map<string, Entry>();
  /** Sessions whose sockets are still being opened, by name. */
  private readonly pending = new Map<string, Pending>();
  private readonly rx = new Map<string, Promise<RxSocket>>();
  /** The receive sockets bound so far (what `rx` resolved to), read at a late expiry. */
  private readonly rxOpen: RxSocket[] = [];
  private readingWaiting = false;
  private readonly listeners = new Set<(e: BfdDriverEvent) => void>();
  private readonly unknownLogged = new Map<string, number>();
  private readonly unknownLogLimit: number;
  private unknownLogWindow = { start: -Infinity, lines: 0, suppressed: 0 };
  private readonly driverCounters: BfdDriverCounters = { unknownPackets: 0, unknownByReason: emptyDiscards(), drainedAtStart: 0, readAtLateExpiry: 0 };
  private timer: { at: number; cancel: () => void } | null = null;
  private closed = false;

  constructor(opts: BfdDriverOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? silentLogger;
    this.random = opts.random ?? Math.random;
    this.ports = { single: opts.ports?.singleHop ?? BfdPort.SingleHop, multi: opts.ports?.multihop ?? BfdPort.Multihop };
    this.unknownLogLimit = Math.max(1, opts.unknownLogLimit ?? UNKNOWN_LOG_MAX);
  }

  /** Subscribe to typed events; returns an unsubscribe function. */
  on(fn: (e: BfdDriverEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: BfdDriverEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'BFD event listener threw');
      }
    }
  }

  /**
   * Add a session and open its sockets; resolves once it is running (an
   * Active session has sent its first packet by then). Rejects with a clear
   * message for bad options, a duplicate, or a port that cannot be bound.
   */
  async addSession(opts: BfdSessionOptions): Promise<void> {
    if (this.closed) throw new Error('BFD driver is closed');
    const name = opts.name;
    if (typeof name !== 'string' || name === '') throw new Error('BFD session needs a name');
    if (this.byName.has(name) || this.pending.has(name)) throw new Error(`BFD session ${name} already exists`);
    const peer = addressKey(opts.peer);
    const local = opts.local === undefined ? undefined : addressKey(opts.local);
    if (local && local.family !== peer.family) throw new Error(`BFD session ${name}: local address ${opts.local} and peer ${opts.peer} are of different families`);
    const kind: HopKind = opts.multihop === undefined || opts.multihop === false ? 'single' : 'multi';
    if (kind === 'multi' && !local) {
      throw new Error(`BFD session ${name}: a multihop session needs a local address (the remote identifies it by our source address)`);
    }
    const maxHops = typeof opts.multihop === 'object' ? (opts.multihop.maxHops ?? BFD_DEFAULT_MAX_HOPS) : kind === 'multi' ? BFD_DEFAULT_MAX_HOPS : 1;
    const minTtl = minTtlForHops(maxHops);
    const desiredMinTxMs = opts.desiredMinTxMs ?? BFD_DEFAULTS.desiredMinTxMs;
    const requiredMinRxMs = opts.requiredMinRxMs ?? BFD_DEFAULTS.requiredMinRxMs;
    const detectMult = opts.detectMult ?? BFD_DEFAULTS.detectMult;
    checkInterval(desiredMinTxMs, 'desired min TX interval');
    checkInterval(requiredMinRxMs, 'required min RX interval');
    checkMult(detectMult);
    const addrKey = `${kind}|${peer.key}`;
    const clash = [...this.byName.values()].find((e) => `${e.kind}|${e.peerKey}` === addrKey);
    if (clash || [...this.pending.values()].some((p) => p.addrKey === addrKey)) {
      throw new Error(`BFD session ${name}: ${kind === 'multi' ? 'a multihop' : 'a single-hop'} session with ${peer.canonical} already exists${clash ? ` (${clash.name})` : ''}`);
    }
    if (kind === 'multi' && minTtl > 1) {
      const limited = this.ttlRules(peer.family).length;
      if (limited >= maxMultihopRules(peer.family)) {
        throw new Error(`BFD session ${name}: at most ${maxMultihopRules(peer.family)} IPv${peer.family} multihop sessions can have maxHops (the kernel's BPF limit)`);
      }
    }
    const port = opts.port ?? (kind === 'single' ? BfdPort.SingleHop : BfdPort.Multihop);
    this.pending.set(name, { addrKey, family: peer.family, kind, peerBytes: peer.bytes, minTtl });
    let tx: { socket: dgram.Socket; port: number } | undefined;
    try {
      // The receive filter knows the session (its TTL rule) before the session can run.
      await this.ensureRx(peer.family, kind);
      tx = await this.openTx(peer.family, local?.canonical);
      if (this.closed) throw new Error('BFD driver closed while the session was being added');
    } catch (err) {
      this.pending.delete(name);
      tx?.socket.close();
      await this.refreshFilter(peer.family, kind).catch(() => {});
      throw new Error(`BFD session ${name}: ${(err as Error).message}`);
    }
    this.pending.delete(name);
    const config: BfdSessionConfig = {
      desiredMinTxUs: desiredMinTxMs * 1000,
      requiredMinRxUs: requiredMinRxMs * 1000,
      detectMult,
      passive: opts.passive === true,
    };
    const entry: Entry = {
      name,
      peer: opts.peer,
      peerKey: peer.key,
      peerBytes: peer.bytes,
      family: peer.family,
      local: local?.canonical ?? null,
      kind,
      minTtl,
      port,
      tx: tx.socket,
      sourcePort: tx.port,
      session: createBfdSession(config, this.newDiscriminator(), this.clock.now(), this.randomU32() || 1),
      counters: {
        packetsIn: 0,
        packetsOut: 0,
        discards: emptyDiscards(),
        upTransitions: 0,
        downTransitions: 0,
        pollsCompleted: 0,
        sendErrors: 0,
        txGapMaxMs: 0,
        rxGapMaxMs: 0,
        lateDetections: 0,
      },
      upSince: undefined,
      lastDown: null,
      lastTxAt: undefined,
      lastRxAt: undefined,
      lookedAgainAt: undefined,
      lateCountedAt: undefined,
      closed: false,
    };
    this.byName.set(name, entry);
    this.byDiscr.set(entry.session.localDiscr, entry);
    this.byAddress.set(addrKey, entry);
    this.log.info(
      { session: name, peer: peer.canonical, local: entry.local, multihop: kind === 'multi', sourcePort: tx.port, passive: config.passive },
      'BFD session added',
    );
    this.runTimers();
  }

  /** Change a session's intervals, multiplier or role at runtime; a Poll Sequence follows when Up. */
  updateSession(name: string, update: BfdSessionUpdate): void {
    const e = this.entry(name);
    if (update.desiredMinTxMs !== undefined) checkInterval(update.desiredMinTxMs, 'desired min TX interval');
    if (update.requiredMinRxMs !== undefined) checkInterval(update.requiredMinRxMs, 'required min RX interval');
    if (update.detectMult !== undefined) checkMult(update.detectMult);
    const params: { desiredMinTxUs?: number; requiredMinRxUs?: number; detectMult?: number; passive?: boolean } = {};
    if (update.desiredMinTxMs !== undefined) params.desiredMinTxUs = update.desiredMinTxMs * 1000;
    if (update.requiredMinRxMs !== undefined) params.requiredMinRxUs = update.requiredMinRxMs * 1000;
    if (update.detectMult !== undefined) params.detectMult = update.detectMult;
    if (update.passive !== undefined) params.passive = update.passive;
    this.feed(e, { type: 'SetParams', params });
  }

  /**
   * Take a session AdminDown (diag 7, or 5 Path Down) or bring it back.
   * RFC 5882 §3.2: the remote must not take its clients down for this, so
   * use it before a planned stop.
   */
  setAdminDown(name: string, down: boolean, diag: typeof BfdDiag.AdministrativelyDown | typeof BfdDiag.PathDown = BfdDiag.AdministrativelyDown): void {
    const e = this.entry(name);
    this.feed(e, down ? { type: 'AdminDown', diag } : { type: 'AdminUp' });
  }

  /** Remove a session: one AdminDown packet tells the remote (RFC 5882 §3.2), then its socket closes. */
  async removeSession(name: string): Promise<void> {
    const e = this.entry(name);
    await this.retire(e);
    this.byName.delete(name);
    this.byDiscr.delete(e.session.localDiscr);
    this.byAddress.delete(`${e.kind}|${e.peerKey}`);
    this.log.info({ session: name }, 'BFD session removed');
    await this.refreshFilter(e.family, e.kind);
    this.runTimers();
  }

  /** Snapshot every session (plain JSON-able data). */
  snapshot(): BfdSessionSnapshot[] {
    return [...this.byName.values()].map((e) => this.snapshotOf(e));
  }

  /** Snapshot one session, or undefined. */
  session(name: string): BfdSessionSnapshot | undefined {
    const e = this.byName.get(name);
    return e ? this.snapshotOf(e) : undefined;
  }

  /** Counters for packets no session owns. */
  counters(): BfdDriverCounters {
    return { ...this.driverCounters, unknownByReason: { ...this.driverCounters.unknownByReason } };
  }

  /** Send AdminDown on every session (RFC 5882 §3.2), then close all sockets and the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.byName.values()].map((e) => this.retire(e)));
    this.byName.clear();
    this.byDiscr.clear();
    this.byAddress.clear();
    this.timer?.cancel();
    this.timer = null;
    const rx = await Promise.allSettled(this.rx.values());
    for (const r of rx) if (r.status === 'fulfilled') r.value.socket.close();
    this.rx.clear();
    this.rxOpen.length = 0;
  }

  // ------------------------------------------------------------------ sessions

  private entry(name: string): Entry {
    const e = this.byName.get(name);
    if (!e) throw new Error(`no BFD session ${name}`);
    return e;
  }

  /** Feed one event to a session, apply its actions, re-arm the timer. */
  private feed(e: Entry, event: BfdEvent): void {
    const r = step(e.session, event, this.clock.now());
    e.session = r.session;
    this.apply(e, r.actions);
    this.runTimers();
  }

  private apply(e: Entry, actions: readonly BfdAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          this.send(e, encodeControl(a.packet));
          break;
        case 'state':
          this.onState(e, a);
          break;
        case 'poll-done': {
          e.counters.pollsCompleted += 1;
          const txIntervalMs = txIntervalUs(e.session) / 1000;
          const detectionTimeMs = detectionTimeUs(e.session) / 1000;
          this.log.debug({ session: e.name, txIntervalMs, detectionTimeMs }, 'BFD poll sequence completed');
          this.emit({ type: 'poll-done', session: e.name, txIntervalMs, detectionTimeMs });
          break;
        }
      }
    }
  }

  private onState(e: Entry, a: Extract<BfdAction, { type: 'state' }>): void {
    const now = this.clock.now();
    if (a.to === BfdState.Up) {
      e.upSince = now;
      e.counters.upTransitions += 1;
      e.counters.txGapMaxMs = 0;
      e.counters.rxGapMaxMs = 0;
      // Gaps count from the first packet in Up (packets before it go at the slow pace, RFC 5880 §6.8.3).
      e.lastTxAt = undefined;
      e.lastRxAt = undefined;
    } else if (a.from === BfdState.Up) {
      e.upSince = undefined;
      e.counters.downTransitions += 1;
      e.lastDown = { at: Date.now(), diag: a.diag, diagName: diagName(a.diag), remoteState: stateName(a.remoteState), pathDown: a.pathDown };
    }
    const ev: BfdDriverEvent = {
      type: 'state',
      session: e.name,
      peer: e.peer,
      from: stateName(a.from),
      to: stateName(a.to),
      diag: a.diag,
      diagName: diagName(a.diag),
      remoteState: stateName(a.remoteState),
      pathDown: a.pathDown,
    };
    const fields = { session: e.name, peer: e.peer, from: ev.from, to: ev.to, diag: ev.diagName, remoteState: ev.remoteState };
    if (a.pathDown) this.log.warn(fields, 'BFD session down');
    else if (a.to === BfdState.Up || a.from === BfdState.Up) this.log.info(fields, 'BFD session state');
    else this.log.debug(fields, 'BFD session state');
    this.emit(ev);
  }

  private send(e: Entry, bytes: Uint8Array): void {
    if (e.closed) return;
    const now = this.clock.now();
    if (e.lastTxAt !== undefined && e.session.state === BfdState.Up) e.counters.txGapMaxMs = Math.max(e.counters.txGapMaxMs, Math.round(now - e.lastTxAt));
    e.lastTxAt = now;
    e.tx.send(bytes, e.port, e.peer, (err) => {
      if (!err) {
        e.counters.packetsOut += 1;
        return;
      }
      e.counters.sendErrors += 1;
      // One log line per error burst: the first, then every 100th.
      if (e.counters.sendErrors === 1 || e.counters.sendErrors % 100 === 0) {
        this.log.warn({ session: e.name, peer: e.peer, err: err.message, count: e.counters.sendErrors }, 'BFD send failed');
        this.emit({ type: 'error', session: e.name, error: err.message });
      }
    });
  }

  /** Take a session AdminDown (one packet to the remote when it may transmit), wait for the send, close its socket. */
  private async retire(e: Entry): Promise<void> {
    if (e.closed) return;
    const r = step(e.session, { type: 'AdminDown', diag: BfdDiag.AdministrativelyDown }, this.clock.now());
    e.session = r.session;
    const sends = r.actions.filter((a) => a.type === 'send');
    this.apply(e, r.actions.filter((a) => a.type !== 'send'));
    await Promise.all(
      sends.map(
        (a) =>
          new Promise<void>((resolve) => {
            e.tx.send(encodeControl(a.packet), e.port, e.peer, (err) => {
              if (!err) e.counters.packetsOut += 1;
              resolve();
            });
          }),
      ),
    );
    e.closed = true;
    await new Promise<void>((resolve) => e.tx.close(() => resolve()));
  }

  private newDiscriminator(): number {
    for (;;) {
      const d = this.randomU32();
      // RFC 5880 §6.8.1 bfd.LocalDiscr: "MUST be unique across all BFD sessions on this system, and nonzero."
      if (d !== 0 && !this.byDiscr.has(d)) return d;
    }
  }

  private randomU32(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  // ------------------------------------------------------------------ timer

  /** Feed every due timer event, then arm the one Clock timer for the earliest deadline left. */
  private runTimers = (): void => {
    if (this.closed) return;
    // A Detection Time that ran out more than LATE_MS before this thread got
    // to look means the thread itself was stalled (CPU starvation, a long
    // task, a GC pause): the remote's packets of that time may be sitting
    // unread in the receive sockets, and Node runs due timers before it
    // polls sockets. So they are read now, synchronously, before any
    // expiry is judged; each one restarts its session's Detection Time as
    // it would have on time. A session still expired after that is looked
    // at once more after one turn of the event loop (below), where this
    // read is not available (not Linux).
    const noticed = this.clock.now();
    if (!this.readingWaiting && this.rxOpen.length > 0 && this.anyLateExpiry(noticed)) this.readWaiting(noticed);
    // After the read, which takes its time: the expiries are judged at this moment.
    const now = this.clock.now();
    let earliest: number | undefined;
    // Sessions are few (one per BFD peer), so a scan per step is cheaper
    // than keeping a heap in step with every deadline change.
    for (const e of this.byName.values()) {
      let due = expiredTimers(e.session, now);
      // Still expired late (nothing waited for it, or the read above is not
      // available): look once more after one turn of the receive path
      // before declaring the session Down; a real failure costs
      // LOOK_AGAIN_MS more, a stall no longer costs a false Down.
      const detect = e.session.timers.detect;
      if (this.isLateExpiry(e, now) && due.some((d) => d.type === 'DetectTimer')) {
        e.lookedAgainAt = detect;
        this.countLate(e);
        due = due.filter((d) => d.type !== 'DetectTimer');
        if (earliest === undefined || now + LOOK_AGAIN_MS < earliest) earliest = now + LOOK_AGAIN_MS;
      }
      if (due.length > 0) {
        const r = stepAll(e.session, due, now);
        e.session = r.session;
        this.apply(e, r.actions);
      }
      const d = nextDeadline(e.session);
      if (d !== undefined && (earliest === undefined || d < earliest)) earliest = d;
    }
    if (this.timer && this.timer.at === earliest) return;
    this.timer?.cancel();
    this.timer = earliest === undefined ? null : { at: earliest, cancel: this.clock.setTimer(earliest, this.onTimer) };
  };

  /** Whether `e`'s Detection Time ran out more than LATE_MS ago and has not been looked at again. */
  private isLateExpiry(e: Entry, now: number): boolean {
    const detect = e.session.timers.detect;
    return detect !== undefined && detect <= now - LATE_MS && e.lookedAgainAt !== detect;
  }

  /** Count a late expiry once, whether the read or the second look settles it. */
  private countLate(e: Entry): void {
    if (e.lateCountedAt === e.session.timers.detect) return;
    e.lateCountedAt = e.session.timers.detect;
    e.counters.lateDetections += 1;
  }

  private anyLateExpiry(now: number): boolean {
    for (const e of this.byName.values()) if (this.isLateExpiry(e, now)) return true;
    return false;
  }

  /** Read what waits in every receive socket and handle it as the event loop would have (see runTimers). */
  private readWaiting(now: number): void {
    for (const e of this.byName.values()) if (this.isLateExpiry(e, now)) this.countLate(e);
    this.readingWaiting = true;
    try {
      for (const r of this.rxOpen) {
        let got: WaitingDatagram[];
        try {
          got = readDatagrams(r.fd, READ_AT_LATE_EXPIRY_MAX);
        } catch (err) {
          this.log.warn({ family: r.family, multihop: r.kind === 'multi', err: (err as Error).message }, 'BFD: cannot read the receive socket after a stall; the event loop will');
          continue;
        }
        this.driverCounters.readAtLateExpiry += got.length;
        for (const d of got) {
          this.onMessage(r.kind, r.family, d.payload, { address: d.address, port: d.port, family: r.family === 4 ? 'IPv4' : 'IPv6', size: d.payload.length });
        }
      }
    } finally {
      this.readingWaiting = false;
    }
  }

  private onTimer = (): void => {
    this.timer = null;
    this.runTimers();
  };

  // ------------------------------------------------------------------ receive

  private onMessage(kind: HopKind, family: IpFamily, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    let src: { key: string; canonical: string };
    try {
      src = addressKey(rinfo.address);
    } catch {
      return;
    }
    const byAddr = this.byAddress.get(`${kind}|${src.key}`);
    // An empty payload is the filter's mark for a TTL below the limit (ttl-filter.ts).
    if (msg.length === 0) return this.discard(byAddr, 'ttl', src.canonical, kind);
    let packet;
    try {
      packet = decodeControl(msg);
    } catch (err) {
      if (err instanceof BfdError) return this.discard(byAddr, err.reason, src.canonical, kind);
      // Anything else is a codec bug (the fuzz tests allow only BfdError); drop the
      // packet rather than end the process from a socket handler.
      this.log.error({ from: src.canonical, packet: msg.toString('hex'), err: (err as Error).message }, 'BFD packet could not be decoded (bug)');
      return;
    }
    let e: Entry | undefined;
    if (packet.yourDiscriminator !== 0) {
      e = this.byDiscr.get(packet.yourDiscriminator);
      if (!e) return this.discard(byAddr, 'no-session', src.canonical, kind);
      if (e.peerKey !== src.key || e.kind !== kind || e.family !== family) return this.discard(byAddr ?? e, 'address', src.canonical, kind);
    } else {
      e = byAddr;
      if (!e) return this.discard(undefined, 'no-session', src.canonical, kind);
    }
    if (e.closed) return;
    e.counters.packetsIn += 1;
    const now = this.clock.now();
    if (e.lastRxAt !== undefined && e.session.state === BfdState.Up) e.counters.rxGapMaxMs = Math.max(e.counters.rxGapMaxMs, Math.round(now - e.lastRxAt));
    e.lastRxAt = now;
    this.feed(e, { type: 'Packet', packet });
  }

  private discard(e: Entry | undefined, reason: DiscardReason, from: string, kind: HopKind): void {
    if (e) {
      e.counters.discards[reason] += 1;
      const n = e.counters.discards[reason];
      if (n === 1 || n % 1000 === 0) this.log.warn({ session: e.name, from, reason, count: n }, `BFD packet discarded: ${reasonText(reason)}`);
      return;
    }
    this.driverCounters.unknownPackets += 1;
    this.driverCounters.unknownByReason[reason] += 1;
    const key = `${kind}|${from}`;
    if (this.unknownLogged.has(key)) return;
    if (this.unknownLogged.size >= this.unknownLogLimit) {
      const oldest = this.unknownLogged.keys().next().value;
      if (oldest !== undefined) this.unknownLogged.delete(oldest);
    }
    this.unknownLogged.set(key, this.clock.now());
    const w = this.unknownLogWindow;
    const now = this.clock.now();
    if (now - w.start >= UNKNOWN_LOG_WINDOW_MS) this.unknownLogWindow = { start: now, lines: 0, suppressed: w.suppressed };
    const win = this.unknownLogWindow;
    if (win.lines >= UNKNOWN_LOG_BURST) {
      win.suppressed += 1;
      return;
    }
    win.lines += 1;
    const suppressed = win.suppressed;
    win.suppressed = 0;
    this.log.info(
      { from, multihop: kind === 'multi', reason, ...(suppressed > 0 ? { suppressedAddresses: suppressed } : {}) },
      'BFD packet from an address with no session (logged once per address)',
    );
  }

  // ------------------------------------------------------------------ sockets

  /** Open (once) the receive socket for a family and hop kind, and bring its filter up to date. */
  private async ensureRx(family: IpFamily, kind: HopKind): Promise<void> {
    const key = `${family}-${kind}`;
    let p = this.rx.get(key);
    if (!p) {
      p = this.openRx(family, kind);
      this.rx.set(key, p);
      p.catch(() => this.rx.delete(key));
      await p;
      return;
    }
    await p;
    await this.refreshFilter(family, kind);
  }

  /** The multihop TTL rules of a family: one per session (running or being added) with a limit. */
  private ttlRules(family: IpFamily): TtlRule[] {
    const rules: TtlRule[] = [];
    for (const e of this.byName.values()) if (e.family === family && e.kind === 'multi' && e.minTtl > 1) rules.push({ source: e.peerBytes, minTtl: e.minTtl });
    for (const p of this.pending.values()) if (p.family === family && p.kind === 'multi' && p.minTtl > 1) rules.push({ source: p.peerBytes, minTtl: p.minTtl });
    return rules;
  }

  private filterFor(family: IpFamily, kind: HopKind): Uint8Array {
    return kind === 'single' ? singleHopFilter(family) : multihopFilter(family, this.ttlRules(family));
  }

  /** Re-attach a multihop socket's filter after its sessions changed (single hop never changes). */
  private async refreshFilter(family: IpFamily, kind: HopKind): Promise<void> {
    if (kind !== 'multi') return;
    const p = this.rx.get(`${family}-${kind}`);
    if (!p) return;
    const rx = await p;
    if (this.closed) return;
    attachSocketFilter(dgramFd(rx.socket), this.filterFor(family, kind));
  }

  private openRx(family: IpFamily, kind: HopKind): Promise<RxSocket> {
    const port = kind === 'single' ? this.ports.single : this.ports.multi;
    const address = family === 4 ? '0.0.0.0' : '::';
    const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
    return new Promise<RxSocket>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        const hint = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? ' (is another BFD daemon, such as FRR bfdd or BIRD, running on this host?)' : '';
        reject(new Error(`cannot listen on UDP ${family === 6 ? `[${address}]` : address}:${port}: ${err.message}${hint}`));
      };
      socket.once('error', onError);
      socket.bind({ port, address, exclusive: true }, () => {
        socket.off('error', onError);
        let fd: number;
        try {
          // Still in the bind's tick: Node has not read the socket, so what is
          // queued arrived before the filter and is dropped unread.
          fd = dgramFd(socket);
          attachSocketFilter(fd, this.filterFor(family, kind));
          this.driverCounters.drainedAtStart += drainDatagrams(fd);
        } catch (err) {
          socket.close();
          reject(new Error(`cannot attach the BFD TTL filter to UDP port ${port}: ${(err as Error).message}`));
          return;
        }
        socket.on('message', (msg, rinfo) => this.onMessage(kind, family, msg, rinfo));
        socket.on('error', (err) => {
          this.log.error({ port, family, err: err.message }, 'BFD receive socket error');
          this.emit({ type: 'error', session: null, error: err.message });
        });
        this.log.info({ port, family, multihop: kind === 'multi' }, 'BFD listening');
        const r: RxSocket = { socket, fd, family, kind };
        this.rxOpen.push(r);
        resolve(r);
      });
    });
  }

  /** Bind a transmit socket to `local` (or the wildcard) and a free random port in 49152-65535; TTL 255. */
  private async openTx(family: IpFamily, local: string | undefined): Promise<{ socket: dgram.Socket; port: number }> {
    const inUse = new Set([...this.byName.values()].map((e) => e.sourcePort));
    let last: Error | undefined;
    for (let i = 0; i < PORT_ATTEMPTS; i++) {
      const port = BFD_SOURCE_PORT_MIN + Math.floor(this.random() * (BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1));
      if (inUse.has(port)) continue;
      try {
        const socket = await bindTx(family, local, port);
        return { socket, port };
      } catch (err) {
        last = err as Error;
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
      }
    }
    throw new Error(`no free UDP source port in ${BFD_SOURCE_PORT_MIN}-${BFD_SOURCE_PORT_MAX} after ${PORT_ATTEMPTS} tries${last ? `: ${last.message}` : ''}`);
  }

  // ------------------------------------------------------------------ snapshot

  private snapshotOf(e: Entry): BfdSessionSnapshot {
    const s = e.session;
    const heard = s.remoteDetectMult > 0;
    const det = detectionTimeUs(s);
    return {
      name: e.name,
      peer: e.peer,
      local: e.local,
      multihop: e.kind === 'multi',
      minTtl: e.minTtl,
      passive: s.config.passive,
      state: stateName(s.state),
      remoteState: stateName(s.remoteState),
      localDiag: s.localDiag,
      localDiagName: diagName(s.localDiag),
      remoteDiag: s.remoteDiag,
      remoteDiagName: diagName(s.remoteDiag),
      localDiscriminator: s.localDiscr,
      remoteDiscriminator: s.remoteDiscr,
      sourcePort: e.sourcePort,
      desiredMinTxMs: s.config.desiredMinTxUs / 1000,
      requiredMinRxMs: s.config.requiredMinRxUs / 1000,
      detectMult: s.config.detectMult,
      remote: heard
        ? { desiredMinTxMs: s.remoteMinTxUs / 1000, requiredMinRxMs: s.remoteMinRxUs / 1000, detectMult: s.remoteDetectMult, demand: s.remoteDemand }
        : null,
      txIntervalMs: txIntervalUs(s) / 1000,
      rxIntervalMs: heard ? rxIntervalUs(s) / 1000 : null,
      detectionTimeMs: heard ? det / 1000 : null,
      pollActive: s.poll !== null,
      uptimeMs: e.upSince !== undefined && s.state === BfdState.Up ? this.clock.now() - e.upSince : 0,
      lastDown: e.lastDown,
      counters: { ...e.counters, discards: { ...e.counters.discards } },
    };
  }
}

function reasonText(reason: DiscardReason): string {
  return reason === 'ttl' ? 'TTL / Hop Limit below the session limit' : reason;
}

/** Bind one UDP socket for sending; rejects with the bind error (code kept). */
function bindTx(family: IpFamily, local: string | undefined, port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: local ?? (family === 4 ? '0.0.0.0' : '::'), exclusive: true }, () => {
      socket.off('error', onError);
      // RFC 5881 §5 / RFC 5883 §2: every packet leaves with TTL / Hop Limit 255.
      socket.setTTL(BFD_TTL);
      // Nothing is ever sent to a source port; anything that arrives is dropped.
      socket.on('message', () => {});
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}
