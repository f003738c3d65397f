/**
 * BFD for the speaker's peers: one BFD session per peer that has `bfd`,
 * and what its state means to that peer's BGP session (RFC 5882 §3.2,
 * RFC 9384; decision 0030).
 *
 * Owns: the one BfdDriver (bgp/bfd), created with the first peer that needs
 * it and given the speaker's Clock and Logger, so it runs in the session
 * engine's thread beside the BGP sessions (decision 0020); which BFD
 * session each peer should have, compared with the one running and brought
 * in line one change at a time (the driver opens sockets asynchronously);
 * the source address of a multihop session whose peer has no
 * `localAddress` (learnt from the BGP session once it is Established, as
 * FRR does); and each peer's BFD snapshot. Driver events become the peer's
 * `bfdState` (the BGP decisions are in peer.ts) and `bfd` speaker events.
 *
 * A session that cannot run (no source address yet, a port in use) is
 * reported in the snapshot's `error` and the log; the next change to the
 * peer (a reload, an Established session) tries again.
 */
import { BFD_DEFAULTS, BfdDriver, type BfdDriverEvent, type BfdDriverOptions, type BfdSessionOptions } from '../bfd/driver.js';
import { BfdThread } from '../bfd/thread.js';
import type { Clock } from './clock.js';
import type { Peer } from './peer.js';
import { bfdMultihop, BFD_WAIT_UP_MS, type Logger, type PeerBfdSnapshot, type SpeakerEvent } from './types.js';

export interface BfdLinkDeps {
  clock: Clock;
  log: Logger;
  emit: (e: SpeakerEvent) => void;
  /** The speaker's peer of that name, if it still exists. */
  peer: (name: string) => Peer | undefined;
  /**
   * Driver options beyond the clock and logger (listening ports and
   * randomness, for tests), and `thread`: the BFD worker script, to run
   * the driver in a thread of its own (decision 0040; the session engine
   * does). Without it the driver runs here, on the speaker's Clock.
   */
  driver?: BfdLinkDriverOptions;
}

export type BfdLinkDriverOptions = Pick<BfdDriverOptions, 'ports' | 'random'> & {
  thread?: URL;
  /** The BFD thread failed or ended: the engine must not go on without it (default: log it). */
  onThreadFatal?: (err: Error) => void;
};

/** What BfdLink needs of a driver: BfdDriver in process, or BfdThread. */
type Sessions = Pick<BfdDriver, 'on' | 'addSession' | 'removeSession' | 'updateSession' | 'session' | 'close'>;

/** The options that need a new session when they change (the others are a Poll Sequence). */
const IDENTITY: (keyof BfdSessionOptions)[] = ['peer', 'local', 'multihop', 'port'];

export class BfdLink {
  private driver: Sessions | null = null;
  /** What each peer's session runs with now. */
  private readonly running = new Map<string, BfdSessionOptions>();
  /** Why a peer's session does not run. */
  private readonly errors = new Map<string, string>();
  /** Source addresses learnt from Established multihop BGP sessions without a localAddress. */
  private readonly learnt = new Map<string, string>();
  /** Changes are applied one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: BfdLinkDeps) {}

  /** Bring a peer's BFD session in line with its config (add, change, replace or remove it). */
  sync(name: string): Promise<void> {
    return this.enqueue(() => this.apply(name));
  }

  /** A peer's BGP session is Established: a multihop session waiting for a source address gets one. */
  established(name: string): void {
    const p = this.deps.peer(name);
    const local = p?.localAddress;
    if (!p || p.cfg.bfd === undefined || !bfdMultihop(p.cfg) || p.cfg.localAddress !== undefined || !local) return;
    if (this.learnt.get(name) === local) return;
    this.learnt.set(name, local);
    void this.sync(name);
  }

  /** Remove a peer's session (one AdminDown packet tells the peer, RFC 5882 §3.2). */
  remove(name: string): Promise<void> {
    this.learnt.delete(name);
    return this.enqueue(async () => {
      this.errors.delete(name);
      await this.stopSession(name);
    });
  }

  /** AdminDown on every session, then close the driver (after the BGP sessions are closed). */
  close(): Promise<void> {
    return this.enqueue(async () => {
      const d = this.driver;
      this.driver = null;
      const names = [...this.running.keys()];
      this.running.clear();
      this.errors.clear();
      await d?.close();
      for (const n of names) this.deps.peer(n)?.bfdRemoved();
    });
  }

  /** A peer's BFD as the snapshot shows it; null when the peer has no BFD. */
  snapshot(p: Peer): PeerBfdSnapshot | null {
    const b = p.cfg.bfd;
    if (b === undefined) return null;
    const session = this.running.has(p.name) ? (this.driver?.session(p.name) ?? null) : null;
    const error = session ? null : (this.errors.get(p.name) ?? 'starting');
    return { session, error, ...p.bfdGate(), waitUpMs: b.waitUpMs ?? BFD_WAIT_UP_MS };
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.queue.then(job).catch((err: unknown) => {
      this.deps.log.error({ err: (err as Error).message }, 'BFD session change failed');
    });
    this.queue = next;
    return next;
  }

  /** The session a peer should have, why it cannot have one yet, or null for none. */
  private desired(p: Peer): { opts: BfdSessionOptions } | { error: string } | null {
    const b = p.cfg.bfd;
    if (b === undefined) return null;
    const multihop = bfdMultihop(p.cfg);
    const local = p.cfg.localAddress ?? (multihop ? this.learnt.get(p.name) : undefined);
    if (multihop && local === undefined) {
      return { error: 'multihop BFD needs a source address: waiting for the BGP session (set local_address to start BFD before BGP)' };
    }
    const opts: BfdSessionOptions = {
      name: p.name,
      peer: p.cfg.address,
      multihop: multihop ? (b.maxHops !== undefined ? { maxHops: b.maxHops } : true) : false,
      desiredMinTxMs: b.desiredMinTxMs ?? BFD_DEFAULTS.desiredMinTxMs,
      requiredMinRxMs: b.requiredMinRxMs ?? BFD_DEFAULTS.requiredMinRxMs,
      detectMult: b.detectMult ?? BFD_DEFAULTS.detectMult,
      passive: b.passive ?? false,
      ...(local !== undefined ? { local } : {}),
      ...(b.port !== undefined ? { port: b.port } : {}),
    };
    return { opts };
  }

  private async apply(name: string): Promise<void> {
    const p = this.deps.peer(name);
    const want = p ? this.desired(p) : null;
    const cur = this.running.get(name);
    const same = (a: BfdSessionOptions, b: BfdSessionOptions): boolean => IDENTITY.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
    if (cur !== undefined && (want === null || 'error' in want || !same(cur, want.opts))) await this.stopSession(name);
    if (want === null) {
      this.errors.delete(name);
      // BFD turned off: routes held for it go out even if no session ever ran.
      p?.bfdRemoved();
      return;
    }
    if ('error' in want) {
      if (this.errors.get(name) !== want.error) this.deps.log.info({ peer: name }, want.error);
      this.errors.set(name, want.error);
      return;
    }
    const o = want.opts;
    const now = this.running.get(name);
    if (now !== undefined) {
      // Same session: a timer or role change is a Poll Sequence (RFC 5880 §6.8.3).
      if (now.desiredMinTxMs !== o.desiredMinTxMs || now.requiredMinRxMs !== o.requiredMinRxMs || now.detectMult !== o.detectMult || now.passive !== o.passive) {
        this.driver!.updateSession(name, { desiredMinTxMs: o.desiredMinTxMs!, requiredMinRxMs: o.requiredMinRxMs!, detectMult: o.detectMult!, passive: o.passive! });
      }
      this.running.set(name, o);
      return;
    }
    const d = this.ensureDriver();
    try {
      await d.addSession(o);
    } catch (err) {
      const msg = (err as Error).message;
      this.errors.set(name, msg);
      this.deps.log.error({ peer: name, err: msg }, 'BFD session not started');
      return;
    }
    // The peer may have gone (or the driver closed) while the sockets opened.
    if (this.driver !== d || this.deps.peer(name) !== p) {
      await d.removeSession(name).catch(() => {});
      return;
    }
    this.running.set(name, o);
    this.errors.delete(name);
  }

  private async stopSession(name: string): Promise<void> {
    if (!this.running.has(name)) return;
    this.running.delete(name);
    await this.driver?.removeSession(name);
    this.deps.peer(name)?.bfdRemoved();
  }

  private ensureDriver(): Sessions {
    if (this.driver) return this.driver;
    const { thread, onThreadFatal, ...rest } = this.deps.driver ?? {};
    const d: Sessions = thread
      ? new BfdThread({
          url: thread,
          logger: this.deps.log,
          ...(rest.ports ? { ports: rest.ports } : {}),
          onFatal: onThreadFatal ?? ((err) => this.deps.log.error({ err: err.message }, 'the BFD thread failed')),
        })
      : new BfdDriver({ clock: this.deps.clock, logger: this.deps.log, ...rest });
    d.on((e) => this.onDriverEvent(e));
    this.driver = d;
    return d;
  }

  private onDriverEvent(e: BfdDriverEvent): void {
    if (e.type !== 'state' || !this.running.has(e.session)) return;
    const p = this.deps.peer(e.session);
    if (!p) return;
    this.deps.emit({ type: 'bfd', peer: e.session, from: e.from, to: e.to, diag: e.diagName, remoteState: e.remoteState, pathDown: e.pathDown });
    if (e.to === 'Up') p.bfdState(true, false, e.diagName);
    else if (e.from === 'Up') p.bfdState(false, e.pathDown, `${e.diagName}, peer ${e.remoteState}`);
  }
}
