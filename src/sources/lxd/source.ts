/**
 * The LXD route source: client + events + derivation, handing the
 * reconciler its full snapshot of LXD-derived route groups (level-triggered,
 * STYLE.md §9) through the `publish` callback.
 *
 * When it reads:
 *   - at start: everything (networks, projects, instances, forwards, ...);
 *   - an instance's lifecycle event: that instance alone
 *     (GET /1.0/instances/NAME, plus this member's status when clustered).
 *     The first event after a quiet spell is read at once; the events that
 *     follow within `coalesceMs` of a read's start are gathered into the
 *     next read (a cluster evacuation, a project with 100 instances
 *     starting). More than MAX_TARGETED instances, a rename, or an instance
 *     event that names none: the instance list instead. An event during a
 *     read queues exactly one more read, except that instances named by
 *     events while the instance list is being read (a full read takes
 *     seconds at 10,000 instances) are read beside it at once
 *     (`readBeside`), and that listing does not overwrite what they read;
 *   - any other relevant event (network, project, cluster member), the
 *     events websocket (re)connecting, every `resyncMs`: everything;
 *   - while LXD is unreachable, retries with backoff.
 *
 * Work in proportion to what changed: the derivation is kept per unit — the
 * networks' own routes, and one unit per instance, each with its route
 * groups (one per origin and next hop, prefixes parsed once into a
 * PrefixList). An instance event re-derives its one instance and hands the
 * reconciler the same group objects for every other, which it passes over
 * by identity; a full read re-derives everything (the text of LXD's values
 * is memoised, see derive.ts `LxdTextMemo`) and the reconciler's per-group
 * comparison finds what changed. The source keeps no diff of its own.
 *
 * A full read keeps the instance listing as bytes (listing.ts, decision
 * 0043): an instance whose bytes are those of the last listing is not
 * parsed at all (`takeListing`), so a resync of 10,000 unchanged instances
 * allocates next to nothing.
 *
 * While LXD is unreachable (an LXD daemon restart, a snap refresh), the
 * last known routes stay announced: the condition is logged and exported in
 * `state()`. If it lasts longer than `unreachableWithdrawAfterMs`, the
 * source publishes an empty snapshot (withdraws), and announces again on the
 * first good read.
 *
 * With an OVN southbound monitor (`ovnSb`, ovn-sb.ts), OVN networks take
 * their active chassis from it while it is in place (`withGatewayChassis`,
 * matched by the router's uplink address), and a change re-derives at once
 * from the last read, then reads LXD to confirm: OVN sends LXD no event for
 * a gateway failover.
 *
 * Instances with `user.herald.check` get one ServiceHealth per check (rise
 * `checkRise`, fall `checkFall` at `checkIntervalMs`; the probe timeout is
 * the rules' `checkTimeoutMs`), started when a derivation first needs it and
 * stopped when no longer needed (instance gone, stopped, key changed). A
 * health change re-derives that instance from the last read (no API
 * request) and publishes.
 *
 * Every timer (reads, resync, retries, the withdraw limit, the checks) runs
 * on the injected Clock.
 */
import { after, every, PrefixListBuilder, realClock, type Clock } from '../../../bgp/index.js';
import type { Check } from '../../config/index.js';
import type { Intent, SourceGroup } from '../../reconciler/index.js';
import { ServiceHealth, type Prober } from '../health/index.js';
import type { LxdClient } from './client.js';
import type { LxdInstance, LxdView } from './types.js';
import type { Listing } from './listing.js';
import {
  DEFAULT_LXD_RULES,
  deriveContext,
  deriveInstance,
  deriveNetworks,
  instanceRulesOn,
  LxdTextMemo,
  instanceInputs,
  mergeDerived,
  sameInstanceInputs,
  NO_ATTRS,
  originText,
  type DeriveContext,
  type LxdAttrs,
  type LxdDerived,
  type LxdOrigin,
  type LxdRules,
  type LxdSkipped,
} from './derive.js';
import { eventInstance, isMemberEvacuation, isRelevantAction, LxdEvents } from './events.js';
import { withGatewayChassis, type GatewayChange, type GatewayMap, type OvnSbState } from './ovn-sb.js';

/** What the source needs from an OVN southbound monitor (OvnSbMonitor). */
export interface LxdGatewayWatch {
  start(onChange: (c: GatewayChange) => void): void;
  stop(): void;
  /** Router uplink address → active chassis while the monitor is in place; null otherwise. */
  current(): GatewayMap | null;
  state(): OvnSbState;
}

/** The logging calls the source makes (pino-compatible). */
export interface LxdLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

const silent: LxdLog = { info() {}, warn() {}, error() {}, debug() {} };

export interface LxdSourceOptions {
  client: LxdClient;
  /**
   * Receives the whole snapshot whenever a read or a check changed what is
   * derived, e.g. `(g) => { reconciler.setSnapshot('lxd', g); reconcile() }`;
   * `snapshot()` has the same routes as intents, with origins and skips.
   */
  publish: (groups: readonly SourceGroup[]) => void;
  /**
   * Receives only what changed since the last hand-over when the source
   * knows it (an instance event, a check): the groups of the instances
   * derived again (`put`) and the keys of their groups that are gone
   * (`drop`), e.g. `(p, d) => { reconciler.patchSnapshot('lxd', p, d); reconcile() }`.
   * Without it every change goes through `publish`.
   */
  patch?: (put: readonly SourceGroup[], drop: readonly string[]) => void;
  rules?: LxdRules;
  attrs?: LxdAttrs;
  log?: LxdLog;
  /** Least time between two reads that events start (the first is read at once); default 20 ms. */
  coalesceMs?: number;
  /** Full re-read period; default 60 s; 0 = off. */
  resyncMs?: number;
  /** Withdraw the last known routes after LXD has been unreachable this long; default 10 min; 0 = never. */
  unreachableWithdrawAfterMs?: number;
  /** Retry / reconnect backoff while unreachable; defaults 100 ms doubling to 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Listen to lifecycle events; default true (false: resync only). */
  events?: boolean;
  /** Probe interval of `user.herald.check` checks; default 2 s. */
  checkIntervalMs?: number;
  /** Passing rounds in a row that bring a `user.herald.check` up; default 2. */
  checkRise?: number;
  /** Failing rounds in a row that bring a `user.herald.check` down; default 2. */
  checkFall?: number;
  /** Clock of every timer of the source and its checks (default the real clock). */
  clock?: Clock;
  /** Runs one check probe (default the real checks). */
  prober?: Prober;
  /** Follow OVN gateway moves in the southbound database; each change asks for a full read. */
  ovnSb?: LxdGatewayWatch;
  /** Told when reachability changes: LXD unreachable, reachable again, or its routes withdrawn by the limit (for the API's events). */
  onStatus?: (change: LxdStatusChange, state: LxdSourceState) => void;
}

/** A reachability change of the source, as `onStatus` reports it. */
export type LxdStatusChange = 'unreachable' | 'reachable' | 'withdrawn';

/** How long an evacuate / restore operation's status change is waited for, and how often it is re-read meanwhile. */
const MEMBER_OP_WAIT_MS = 5000;
const MEMBER_OP_RECHECK_MS = 50;

/** At most this many instances are read one by one after their events; more, and the instance list is read once. */
export const MAX_TARGETED = 16;

/** Default probe interval of `user.herald.check`, ms. */
export const LXD_CHECK_INTERVAL_MS = 2000;
/** Default passing / failing rounds in a row that bring a `user.herald.check` up / down. */
export const LXD_CHECK_RISE = 2;
export const LXD_CHECK_FALL = 2;

export type LxdStatus = 'starting' | 'connected' | 'unreachable' | 'stopped';

/** The source's state for the API, CLI and metrics. */
export interface LxdSourceState {
  status: LxdStatus;
  endpoint: string;
  serverName: string | null;
  clustered: boolean;
  eventsConnected: boolean;
  reads: number;
  failedReads: number;
  events: number;
  publishes: number;
  lastReadAt: string | null;
  /** ISO time of the last good read of everything (networks, projects, instances), not only instances. */
  lastFullReadAt: string | null;
  lastReadMs: number;
  /** Good reads of everything (start, network events, reconnects, resyncs). */
  fullReads: number;
  /** Periodic full re-reads started by the resync timer. */
  resyncs: number;
  /** Instances in the last good read (every project read, every member). */
  instances: number;
  /** This host as `ovn.chassis` names it: `chassis_name`, else the server name (null before the first read). */
  chassisName: string | null;
  announceFrom: LxdRules['announceFrom'];
  lastError: string | null;
  unreachableSince: string | null;
  /** True when the last known routes were withdrawn because LXD stayed unreachable too long. */
  withdrawn: boolean;
  routes: number;
  skipped: readonly LxdSkipped[];
  /** The OVN southbound monitor's state; null (or absent) without `ovn_sb`. */
  ovnSb?: OvnSbState | null;
}

/** One unit of the derivation (the networks' routes, or one instance's) with its route groups. */
interface Unit {
  readonly derived: LxdDerived;
  readonly groups: readonly SourceGroup[];
}

const EMPTY_UNIT: Unit = { derived: { intents: [], origins: [], skipped: [] }, groups: [] };

/** What the next read must cover, gathered from events and timers. */
interface Want {
  /** Everything (start, network events, reconnects, resyncs, a failed read). */
  full: boolean;
  /** The whole instance list. */
  instances: boolean;
  /** These instances, by "project/name". */
  targeted: Map<string, { project: string; name: string }>;
  /** This member's status (evacuate / restore operations). */
  member: boolean;
}

const instKey = (project: string, name: string): string => `${project}/${name}`;

export class LxdSource {
  private readonly rules: LxdRules;
  private readonly attrs: LxdAttrs;
  private readonly log: LxdLog;
  private readonly clock: Clock;
  private readonly coalesceMs: number;
  private readonly resyncMs: number;
  private readonly withdrawAfterMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly events: LxdEvents | null;
  private st: LxdSourceState;
  private readTimer: (() => void) | null = null;
  private resyncTimer: (() => void) | null = null;
  private retryTimer: (() => void) | null = null;
  private withdrawTimer: (() => void) | null = null;
  private memberOpTimer: (() => void) | null = null;
  private retryDelay: number;
  private reading: Promise<boolean> | null = null;
  /** The read in flight reads the instance list (a full read or the list alone): instance events meanwhile are read beside it (`readBeside`). */
  private readingList = false;
  /** A targeted read running beside a list read, and whether events asked for another meanwhile. */
  private beside: Promise<void> | null = null;
  private besideDirty = false;
  /** clock.now() when the last read started (events within coalesceMs of it wait for the next). */
  private lastReadStart = -Infinity;
  private want: Want = { full: true, instances: false, targeted: new Map(), member: false };
  private dirty = false;
  /** The last good read: networks, projects, chassis; its `instances` are superseded by `insts`. */
  private lastView: LxdView | null = null;
  /** The instances as last read (only what the derivation reads, `instanceInputs`), in order, by "project/name". */
  private insts = new Map<string, LxdInstance>();
  /** The last instance listing read, as bytes (listing.ts), and the key of each of its elements. */
  private listing: Listing | null = null;
  private listingKeys: string[] = [];
  /** Instances read alone (their events) since `listing`: their elements are parsed again even when they read as before. */
  private readonly touched = new Set<string>();
  /** Of those, the ones read beside the list read in flight: that listing does not overwrite them. */
  private readonly touchedDuring = new Set<string>();
  /** The listing (by `generation`) each instance was last seen in: finds the instances gone without a set per read. */
  private readonly seenIn = new Map<string, number>();
  private generation = 0;
  /** The derivation's context over lastView (null before the first read). */
  private ctx: DeriveContext | null = null;
  /** The southbound chassis map `ctx` was made with. */
  private ctxSb: GatewayMap | null = null;
  private readonly memo = new LxdTextMemo();
  private netUnit: Unit = EMPTY_UNIT;
  private readonly units = new Map<string, Unit>();
  /** Routes derived over every unit (kept as units change, so a publish need not count them). */
  private routeCount = 0;
  /** Units derived again since the last hand-over, with the unit as handed then (EMPTY_UNIT: none). */
  private readonly changed = new Map<string, Unit>();
  /** The next hand-over is the whole snapshot (a full read, the instance list, a withdraw, nothing handed yet). */
  private wholeNext = true;
  /** The joined derivation for snapshot(), built when asked; null after any change. */
  private joined: LxdDerived | null = null;
  /** While withdrawn by the unreachable limit: what snapshot() shows (every route skipped, with the reason). */
  private withdrawnView: LxdDerived | null = null;
  /** Normalised values already logged (so each is logged once while it stays). */
  private normalisedLogged = new Set<string>();
  /**
   * An evacuate / restore operation is running: until this member's status
   * says so (or `until`, clock ms), re-read every MEMBER_OP_RECHECK_MS.
   * LXD 5.0 sets the status inside the operation, after its first events,
   * and says nothing when it does.
   */
  private memberOp: { evacuated: boolean; until: number } | null = null;
  private stopped = false;
  /** One health per `user.herald.check` in use, by check id, with the instance it gates. */
  private readonly healths = new Map<string, { health: ServiceHealth; off: () => void; inst: string }>();

  constructor(private readonly opts: LxdSourceOptions) {
    this.rules = opts.rules ?? DEFAULT_LXD_RULES;
    this.attrs = opts.attrs ?? NO_ATTRS;
    this.log = opts.log ?? silent;
    this.clock = opts.clock ?? realClock;
    this.coalesceMs = opts.coalesceMs ?? 20;
    this.resyncMs = opts.resyncMs ?? 60_000;
    this.withdrawAfterMs = opts.unreachableWithdrawAfterMs ?? 600_000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.retryDelay = this.backoffInitialMs;
    this.st = {
      status: 'starting',
      endpoint: opts.client.describe(),
      serverName: null,
      clustered: false,
      eventsConnected: false,
      reads: 0,
      failedReads: 0,
      events: 0,
      publishes: 0,
      lastReadAt: null,
      lastFullReadAt: null,
      lastReadMs: 0,
      fullReads: 0,
      resyncs: 0,
      instances: 0,
      chassisName: this.rules.chassisName,
      announceFrom: this.rules.announceFrom,
      lastError: null,
      unreachableSince: null,
      withdrawn: false,
      routes: 0,
      skipped: [],
      ovnSb: null,
    };
    this.events =
      opts.events === false
        ? null
        : new LxdEvents(
            () => opts.client.eventsTarget(),
            {
              open: () => {
                this.st.eventsConnected = true;
                this.log.info({ endpoint: this.st.endpoint }, 'LXD events connected');
                this.want.full = true;
                this.schedule(0);
              },
              close: (reason) => {
                if (this.st.eventsConnected) this.log.warn({ endpoint: this.st.endpoint, reason }, 'LXD events disconnected; reconnecting');
                this.st.eventsConnected = false;
                // LXD may be restarting: find out now, so the state says so.
                this.want.full = true;
                this.schedule(0);
              },
              event: (e) => {
                this.st.events++;
                if (e.type === 'operation') {
                  // Only evacuate / restore operations matter (all else is also a
                  // lifecycle event); they read the member's status alone (one
                  // request: the instance list can wait on the evacuation).
                  if (!isMemberEvacuation(e)) return;
                  this.want.member = true;
                  const done = e.metadata?.status === 'Success' || e.metadata?.status === 'Failure' || e.metadata?.status === 'Cancelled';
                  this.memberOp = done ? null : { evacuated: (e.metadata?.description ?? '').startsWith('Evacuating'), until: this.clock.now() + MEMBER_OP_WAIT_MS };
                  this.onEvent();
                  return;
                }
                const action = e.metadata?.action;
                if (!isRelevantAction(action)) return;
                if (!action?.startsWith('instance-')) this.want.full = true;
                else {
                  const target = eventInstance(e);
                  if (target === null) this.want.instances = true;
                  else this.want.targeted.set(instKey(target.project, target.name), target);
                }
                this.onEvent();
              },
            },
            { backoffInitialMs: this.backoffInitialMs, backoffMaxMs: this.backoffMaxMs, clock: this.clock },
          );
  }

  /** Read once, then follow events and resync; resolves after the first read (which may have failed). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.readNow();
    this.events?.start();
    this.opts.ovnSb?.start((c) => {
      this.log.debug({ ports: c.ports, initial: c.initial }, 'OVN gateway chassis changed; re-deriving, then re-reading LXD');
      if (!this.stopped && this.lastView && !this.st.withdrawn) {
        this.rederiveAll();
        this.publish();
      }
      this.want.full = true;
      this.schedule(0);
    });
    if (this.resyncMs > 0) {
      this.resyncTimer = every(
        this.clock,
        this.resyncMs,
        () => {
          this.st.resyncs++;
          this.want.full = true;
          this.schedule(0);
        },
        { unref: true },
      );
    }
  }

  /** Stop reading and listening, and close the client's connections; the last published snapshot is left to the caller. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.st.status = 'stopped';
    this.events?.stop();
    this.opts.ovnSb?.stop();
    for (const t of [this.readTimer, this.retryTimer, this.withdrawTimer, this.memberOpTimer, this.resyncTimer]) t?.();
    this.readTimer = this.retryTimer = this.withdrawTimer = this.memberOpTimer = this.resyncTimer = null;
    for (const id of [...this.healths.keys()]) this.stopHealth(id);
    await this.reading?.catch(() => false);
    this.opts.client.close();
  }

  /** An event asked for a read: at once after a quiet spell, else `coalesceMs` after the last read started. */
  private onEvent(): void {
    this.schedule(Math.max(0, this.lastReadStart + this.coalesceMs - this.clock.now()));
  }

  /** Ask for a read of what `want` holds in `delayMs`, coalesced with any pending or running read. */
  schedule(delayMs = this.coalesceMs): void {
    if (this.stopped) return;
    if (this.reading) {
      // A list read takes seconds at 10,000 instances: an instance's event does not wait for it.
      if (this.canReadBeside()) void this.readBeside();
      else this.dirty = true;
      return;
    }
    if (this.readTimer) return;
    if (delayMs <= 0) {
      void this.readNow();
      return;
    }
    this.readTimer = after(this.clock, delayMs, () => {
      this.readTimer = null;
      void this.readNow();
    });
  }

  /** Read everything now (as the resync timer does) and publish; resolves false when LXD was unreachable. */
  resync(): Promise<boolean> {
    this.want.full = true;
    if (this.reading) this.dirty = true;
    return this.readNow();
  }

  /** Read the API now (everything asked for so far; else the instance list) and publish; resolves false when LXD was unreachable. */
  readNow(): Promise<boolean> {
    if (this.reading) {
      if (this.canReadBeside()) void this.readBeside();
      else this.dirty = true;
      return this.reading;
    }
    this.readTimer?.();
    this.readTimer = null;
    const p = this.read().finally(() => {
      this.reading = null;
      this.readingList = false;
      if (this.dirty && !this.stopped) {
        this.dirty = false;
        this.onEvent();
      }
    });
    this.reading = p;
    return p;
  }

  /** Only instances named by events are wanted, a list read is in flight, and there was a good read before. */
  private canReadBeside(): boolean {
    const w = this.want;
    return this.readingList && this.lastView !== null && !w.full && !w.instances && !w.member && w.targeted.size > 0 && w.targeted.size <= MAX_TARGETED;
  }

  /**
   * Read the instances events named while a list read is in flight, beside
   * it: an instance-stopped event is not kept waiting for a 25 MB listing.
   * What it reads wins over that listing for these instances (the listing
   * may have been made before the event: `touchedDuring`), and the next
   * listing parses them again. A failure leaves them wanted; the read after
   * the list read takes them.
   */
  private readBeside(): Promise<void> {
    if (this.beside !== null) {
      this.besideDirty = true;
      return this.beside;
    }
    const names = [...this.want.targeted.values()];
    this.want.targeted = new Map();
    const c = this.opts.client;
    let failed = false;
    const p = Promise.all(names.map((n) => c.instance(n.project, n.name)))
      .then((got) => {
        if (this.stopped || this.st.withdrawn) return;
        this.st.reads++;
        this.applyTargeted(names, got, this.lastView!.memberStatus, this.readingList);
        this.publish();
      })
      .catch(() => {
        // Wanted again, by the ordinary reads (with their backoff): never retried beside.
        failed = true;
        for (const n of names) if (!this.want.targeted.has(instKey(n.project, n.name))) this.want.targeted.set(instKey(n.project, n.name), n);
      })
      .finally(() => {
        this.beside = null;
        if (this.stopped || (!this.besideDirty && !failed)) return;
        this.besideDirty = false;
        if (this.reading === null) this.onEvent();
        else if (!failed && this.canReadBeside()) void this.readBeside();
        else this.dirty = true;
      });
    this.beside = p;
    return p;
  }

  private async read(): Promise<boolean> {
    const t0 = this.clock.now();
    const wall0 = performance.now();
    this.lastReadStart = t0;
    this.st.reads++;
    const want = this.want;
    this.want = { full: false, instances: false, targeted: new Map(), member: false };
    const view0 = this.lastView;
    const full = want.full || view0 === null;
    // Asked for nothing in particular (readNow): the instance list.
    const instancesAll = !full && (want.instances || want.targeted.size > MAX_TARGETED || (want.targeted.size === 0 && !want.member));
    const targeted = !full && !instancesAll && want.targeted.size > 0;
    this.readingList = full || instancesAll;
    try {
      if (full) {
        const view = await this.opts.client.readView(this.rules, { listing: true, last: this.listing });
        if (this.stopped) {
          if (view.listing) this.opts.client.recycle(view.listing);
          return false;
        }
        this.applyFull(view);
        this.st.fullReads++;
        this.st.lastFullReadAt = new Date().toISOString();
      } else {
        // Only instance events since the last read: networks, forwards and
        // load balancers are unchanged, so one request (or one per instance
        // named) instead of hundreds. The member's own status goes with the
        // instances: LXD 5.0 sends no event for `lxc cluster evacuate` /
        // `restore`, only the instances' stop and start events that follow
        // the status change.
        const c = this.opts.client;
        const member = view0.clustered ? c.clusterMember(view0.serverName).then((m) => m.status) : Promise.resolve(view0.memberStatus);
        if (instancesAll) {
          const [list, status] = await Promise.all([c.instanceListing(this.listing), member]);
          if (this.stopped) {
            c.recycle(list);
            return false;
          }
          this.applyInstances(list, status);
        } else if (targeted) {
          const names = [...want.targeted.values()];
          const [got, status] = await Promise.all([Promise.all(names.map((n) => c.instance(n.project, n.name))), member]);
          if (this.stopped) return false;
          this.applyTargeted(names, got, status);
        } else {
          const status = await member;
          if (this.stopped) return false;
          this.applyMember(status);
        }
      }
    } catch (e) {
      this.readingList = false;
      if (this.stopped) return false;
      // What was asked for is still wanted, and the next read reads everything.
      this.want.full = true;
      this.failed((e as Error).message);
      return false;
    }
    this.readingList = false;
    const v = this.lastView!;
    this.st.serverName = v.serverName;
    this.st.clustered = v.clustered;
    this.st.instances = this.insts.size;
    this.st.chassisName = this.rules.chassisName ?? v.serverName;
    this.st.lastReadMs = performance.now() - wall0;
    this.st.lastReadAt = new Date().toISOString();
    this.st.lastError = null;
    const wasUnreachable = this.st.status === 'unreachable';
    if (wasUnreachable) {
      this.log.info({ endpoint: this.st.endpoint, since: this.st.unreachableSince, withdrawn: this.st.withdrawn }, 'LXD reachable again');
    }
    this.st.status = 'connected';
    this.st.unreachableSince = null;
    this.st.withdrawn = false;
    this.withdrawnView = null;
    this.retryDelay = this.backoffInitialMs;
    for (const t of [this.retryTimer, this.withdrawTimer]) t?.();
    this.retryTimer = this.withdrawTimer = null;
    this.publish();
    const op = this.memberOp;
    if (op !== null) {
      if ((v.memberStatus === 'Evacuated') === op.evacuated || this.clock.now() > op.until) this.memberOp = null;
      else if (this.memberOpTimer === null) {
        // Not schedule(): a read is still in flight here and would run the next one at once.
        this.memberOpTimer = after(this.clock, MEMBER_OP_RECHECK_MS, () => {
          this.memberOpTimer = null;
          this.want.member = true;
          this.schedule(0);
        });
      }
    }
    if (wasUnreachable) this.tell('reachable');
    return true;
  }

  // ------------------------------------------------------------ applying reads

  /**
   * A full read: new view. When everything but the instances reads as
   * before (networks, projects, states, forwards, load balancers, member,
   * the southbound chassis), the context stands and only the instances that
   * read differently are derived again, handed over as a patch: a resync
   * that finds nothing new derives nothing and hands nothing on. Otherwise a
   * new context and every unit derived again.
   */
  private applyFull(view: LxdView): void {
    const prev = this.lastView;
    const sb = this.opts.ovnSb?.current() ?? null;
    const same = prev !== null && this.ctx !== null && sameJson(sb, this.ctxSb) && sameViewBesidesInstances(prev, view);
    const { listing, ...rest } = view;
    // The source always reads with `listing: true`.
    if (listing === undefined) throw new Error('LXD full read without the instance listing');
    const changed = this.takeListing(listing);
    this.lastView = { ...rest, instances: [] };
    this.memo.rotate();
    if (!same) return this.rederiveAll();
    for (const k of changed) this.rederiveInstance(k);
  }

  /** The instance list read again (networks unchanged): the instances that read differently derived again (all of them when the member's status changed). */
  private applyInstances(list: Listing, memberStatus: string | null): void {
    const changed = this.takeListing(list);
    if (this.setMember(memberStatus) || this.ctx === null) return this.rederiveInstances();
    for (const k of changed) this.rederiveInstance(k);
  }

  /**
   * Take a new instance listing into `insts`; returns the keys of the
   * instances added, changed (in what the derivation reads) or gone. An
   * element byte for byte an element of the last listing (`Listing.base`:
   * the scan compared it with the old one expected there), and not read
   * alone since, is that instance as it was: no parse, no allocation. The
   * others are parsed (all of them before anything changes, so a malformed
   * one leaves the state as it was) and compared with `sameInstanceInputs`.
   */
  private takeListing(l: Listing): string[] {
    const prev = this.listing;
    const prevKeys = this.listingKeys;
    const gen = ++this.generation;
    const keys = new Array<string>(l.count);
    const parsed: { i: number; inst: LxdInstance }[] = [];
    const checkTouched = this.touched.size > 0;
    const scanned = l.scannedAgainst(prev);
    l.detach();
    for (let i = 0; i < l.count; i++) {
      const j = scanned ? l.base(i) : -1;
      if (j >= 0 && !(checkTouched && this.touched.has(prevKeys[j]!))) keys[i] = prevKeys[j]!;
      else {
        const inst = parseInstance(l, i);
        keys[i] = instKey(inst.project, inst.name);
        parsed.push({ i, inst: instanceInputs(this.rules, inst) });
      }
    }
    const changed: string[] = [];
    let added = false;
    const during = this.touchedDuring;
    for (const { i, inst } of parsed) {
      const k = keys[i]!;
      // Read beside this listing (after its event): what that read found stands.
      if (during.size > 0 && during.has(k)) continue;
      const old = this.insts.get(k);
      if (old === undefined) added = true;
      if (old === undefined || !sameInstanceInputs(this.rules, old, inst)) {
        this.insts.set(k, inst);
        changed.push(k);
      }
    }
    let unique = 0;
    for (const k of keys) {
      if (this.seenIn.get(k) === gen) continue;
      this.seenIn.set(k, gen);
      unique++;
    }
    // Every key of the listing is in insts now (but those a read beside found gone); what else insts has is gone.
    let absent = 0;
    for (const k of during) if (this.seenIn.get(k) === gen && !this.insts.has(k)) absent++;
    const gone = this.insts.size > unique - absent;
    if (gone) {
      for (const k of this.insts.keys()) {
        if (this.seenIn.get(k) === gen || during.has(k)) continue;
        this.seenIn.delete(k);
        this.insts.delete(k);
        changed.push(k);
      }
    }
    if (added || gone || absent > 0) {
      // Keep the listing's order (the whole snapshot's order follows it).
      const ordered = new Map<string, LxdInstance>();
      for (const k of keys) {
        const v = this.insts.get(k);
        if (v !== undefined && !ordered.has(k)) ordered.set(k, v);
      }
      for (const [k, v] of this.insts) if (!ordered.has(k)) ordered.set(k, v);
      this.insts = ordered;
    }
    if (prev !== null) this.opts.client.recycle(prev);
    this.listing = l;
    this.listingKeys = keys;
    // Read beside this listing: the next one parses them again.
    this.touched.clear();
    for (const k of during) this.touched.add(k);
    during.clear();
    return changed;
  }

  /** The instances named by events read one by one (null: gone); only they are derived again, unless the member's status changed. */
  private applyTargeted(names: readonly { project: string; name: string }[], got: readonly (LxdInstance | null)[], memberStatus: string | null, duringList = false): void {
    names.forEach((n, i) => {
      const k = instKey(n.project, n.name);
      const inst = got[i];
      if (inst) this.insts.set(k, instanceInputs(this.rules, inst));
      else this.insts.delete(k);
      this.touched.add(k);
      if (duringList) this.touchedDuring.add(k);
    });
    if (this.setMember(memberStatus)) return this.rederiveInstances();
    for (const n of names) this.rederiveInstance(instKey(n.project, n.name));
  }

  /** This member's status read alone (evacuate / restore). */
  private applyMember(memberStatus: string | null): void {
    if (this.setMember(memberStatus)) this.rederiveInstances();
  }

  /** Record this member's status; true when it changed (every instance's routes depend on it). */
  private setMember(status: string | null): boolean {
    const v = this.lastView!;
    if (v.memberStatus === status) return false;
    this.lastView = { ...v, memberStatus: status };
    this.ctx = null;
    return true;
  }

  // ------------------------------------------------------------ derivation

  /** The derivation's context over the last view (with the southbound chassis when the monitor is in place). */
  private context(): DeriveContext {
    if (this.ctx !== null) return this.ctx;
    const raw = this.lastView!;
    const sb = this.opts.ovnSb?.current() ?? null;
    this.ctxSb = sb;
    const view = sb !== null ? withGatewayChassis(raw, sb) : raw;
    this.ctx = deriveContext(view, this.rules, this.attrs, this.memo);
    return this.ctx;
  }

  /** Derive everything again from the last read (a full read, a gateway move). */
  private rederiveAll(): void {
    if (!this.lastView) return;
    this.ctx = null;
    const ctx = this.context();
    const net = this.unitOf(deriveNetworks(ctx), 'networks');
    this.routeCount += net.derived.intents.length - this.netUnit.derived.intents.length;
    this.netUnit = net;
    this.rederiveInstances();
  }

  /** Derive every instance again (the member's status changed, or a new context): every unit new, the whole snapshot handed next. */
  private rederiveInstances(): void {
    const ctx = this.context();
    const on = instanceRulesOn(this.rules);
    for (const [k, inst] of this.insts) this.setUnit(k, on ? this.unitOf(deriveInstance(ctx, inst, this.isUp), k) : EMPTY_UNIT);
    for (const k of [...this.units.keys()]) if (!this.insts.has(k)) this.setUnit(k, null);
    this.wholeNext = true;
    this.changed.clear();
    this.joined = null;
  }

  /** Derive one instance again (its event, its check). */
  private rederiveInstance(k: string): void {
    const inst = this.insts.get(k);
    const old = this.units.get(k) ?? EMPTY_UNIT;
    this.setUnit(k, inst === undefined || !instanceRulesOn(this.rules) ? null : this.unitOf(deriveInstance(this.context(), inst, this.isUp), k));
    if (!this.changed.has(k)) this.changed.set(k, old);
    this.joined = null;
  }

  private readonly isUp = (id: string): boolean => this.healths.get(id)?.health.state === 'up';

  /** Replace one instance's unit (null: the instance is gone), starting and stopping its checks to match. */
  private setUnit(k: string, u: Unit | null): void {
    const old = this.units.get(k);
    if (u === null) this.units.delete(k);
    else this.units.set(k, u);
    this.routeCount += (u?.derived.intents.length ?? 0) - (old?.derived.intents.length ?? 0);
    const was = old?.derived.checks;
    const now = u?.derived.checks;
    if (was) for (const id of was.keys()) if (!now?.has(id)) this.stopHealth(id);
    if (now) for (const [id, check] of now) if (!this.healths.has(id)) this.startHealth(id, check, k);
  }

  /**
   * A derivation with its route groups: one per origin and next hop (the
   * attributes are the source's own), prefixes parsed once. Group keys
   * start with the unit's key, so no two units share one and a unit's
   * groups can be replaced alone (`patch`).
   */
  private unitOf(d: LxdDerived, unit: string): Unit {
    if (d.intents.length === 0) return { derived: d, groups: [] };
    const by = new Map<string, { i: Intent; b: PrefixListBuilder }>();
    for (const i of d.intents) {
      const key = `${unit}\n${i.source}\n${i.nextHop}`;
      let e = by.get(key);
      if (e === undefined) by.set(key, (e = { i, b: new PrefixListBuilder(1) }));
      // Canonical text from src/ip.ts: the scanner takes it as is.
      e.b.add(i.prefix);
    }
    const a = this.attrs;
    const groups: SourceGroup[] = [];
    for (const [key, { i, b }] of by) {
      groups.push({
        key,
        source: i.source,
        rank: 0,
        nextHop: i.nextHop,
        ...(a.med !== undefined ? { med: a.med } : {}),
        communities: a.communities,
        largeCommunities: a.largeCommunities,
        extendedCommunities: a.extendedCommunities,
        peers: a.peers,
        prefixes: b.finish(),
      });
    }
    return { derived: d, groups };
  }

  private startHealth(id: string, check: Check, inst: string): void {
    if (this.stopped) return;
    const interval = this.opts.checkIntervalMs ?? LXD_CHECK_INTERVAL_MS;
    const health = new ServiceHealth(
      {
        name: id,
        checks: [check],
        combine: 'all',
        intervalMs: interval,
        fastIntervalMs: interval,
        timeoutMs: this.rules.checkTimeoutMs,
        rise: this.opts.checkRise ?? LXD_CHECK_RISE,
        fall: this.opts.checkFall ?? LXD_CHECK_FALL,
        jitterMs: 0,
      },
      { clock: this.clock, ...(this.opts.prober ? { prober: this.opts.prober } : {}) },
    );
    const off = health.on('change', (t) => {
      this.log.info({ check: id, from: t.from, to: t.to, reason: t.reason }, 'LXD instance check changed');
      if (this.stopped || !this.lastView || this.st.withdrawn) return;
      // Only the instance the check gates is derived again.
      this.rederiveInstance(inst);
      this.publish();
    });
    this.healths.set(id, { health, off, inst });
    health.start();
  }

  private stopHealth(id: string): void {
    const h = this.healths.get(id);
    if (!h) return;
    h.off();
    h.health.stop();
    this.healths.delete(id);
    this.log.debug({ check: id }, 'LXD instance check stopped');
  }

  /** The ids and states of the `user.herald.check` checks in use. */
  checks(): { id: string; state: string }[] {
    return [...this.healths].map(([id, h]) => ({ id, state: h.health.state }));
  }

  /**
   * Hand the reconciler what changed. After an instance event or a check
   * (and with `patch`): the groups of the units derived again and the keys
   * of their groups that are gone, so the cost follows the change, not the
   * deployment. Otherwise the whole snapshot: the networks' groups, then
   * every instance's (unchanged ones the same objects, which the reconciler
   * passes over by identity).
   */
  private publish(): void {
    this.st.routes = this.routeCount;
    this.st.publishes++;
    const patch = this.opts.patch;
    if (patch !== undefined && !this.wholeNext) {
      const put: SourceGroup[] = [];
      const drop: string[] = [];
      for (const [k, was] of this.changed) {
        const now = this.units.get(k) ?? EMPTY_UNIT;
        for (const g of now.groups) put.push(g);
        for (const g of was.groups) if (!now.groups.some((n) => n.key === g.key)) drop.push(g.key);
        this.logNormalisedUnit(was, now);
      }
      this.changed.clear();
      this.log.debug({ routes: this.routeCount, put: put.length, drop: drop.length }, 'LXD routes derived');
      // A resync that found nothing new hands nothing on.
      if (put.length > 0 || drop.length > 0) patch(put, drop);
      return;
    }
    this.wholeNext = false;
    this.changed.clear();
    const groups: SourceGroup[] = [...this.netUnit.groups];
    for (const u of this.units.values()) for (const g of u.groups) groups.push(g);
    this.logNormalised();
    this.log.debug({ routes: this.routeCount, groups: groups.length }, 'LXD routes derived');
    this.opts.publish(groups);
  }

  /** Log each value LXD gave with host bits set once, while it stays (src/ip.ts: LXD values are masked, with a warning). */
  private logNormalised(): void {
    const now = new Set<string>();
    for (const u of [this.netUnit, ...this.units.values()]) {
      for (const n of u.derived.normalised ?? []) {
        const k = `${originText(n.origin)} ${n.given}`;
        now.add(k);
        if (!this.normalisedLogged.has(k)) this.log.warn({ source: originText(n.origin), given: n.given, announced: n.prefix }, 'LXD value has host bits set; announcing the masked prefix');
      }
    }
    this.normalisedLogged = now;
  }

  /** The same for one unit derived again: its old values leave the logged set, its new ones not logged yet are logged. */
  private logNormalisedUnit(was: Unit, now: Unit): void {
    if (was.derived.normalised === undefined && now.derived.normalised === undefined) return;
    const seen = this.normalisedLogged;
    for (const n of was.derived.normalised ?? []) seen.delete(`${originText(n.origin)} ${n.given}`);
    for (const n of now.derived.normalised ?? []) {
      const k = `${originText(n.origin)} ${n.given}`;
      if (seen.has(k)) continue;
      seen.add(k);
      this.log.warn({ source: originText(n.origin), given: n.given, announced: n.prefix }, 'LXD value has host bits set; announcing the masked prefix');
    }
  }

  // ------------------------------------------------------------ unreachable

  private failed(message: string): void {
    this.st.failedReads++;
    this.st.lastError = message;
    if (this.st.status !== 'unreachable') {
      this.st.status = 'unreachable';
      this.st.unreachableSince = new Date().toISOString();
      this.log.warn({ endpoint: this.st.endpoint, error: message, keptRoutes: this.st.routes, withdrawAfterMs: this.withdrawAfterMs }, 'LXD unreachable; keeping the last known routes');
      if (this.withdrawAfterMs > 0) this.withdrawTimer = after(this.clock, this.withdrawAfterMs, () => this.withdraw());
      this.tell('unreachable');
    }
    // Retry on our own too: the events socket may be down for longer.
    if (!this.retryTimer && !this.stopped) {
      const d = this.retryDelay;
      this.retryDelay = Math.min(d * 2, this.backoffMaxMs);
      this.retryTimer = after(this.clock, d, () => {
        this.retryTimer = null;
        this.schedule(0);
      });
    }
  }

  private withdraw(): void {
    this.withdrawTimer = null;
    if (this.stopped || this.st.status !== 'unreachable' || this.st.withdrawn) return;
    this.st.withdrawn = true;
    const c = this.snapshot();
    this.log.error({ endpoint: this.st.endpoint, since: this.st.unreachableSince, withdrawn: c.intents.length }, 'LXD unreachable for longer than unreachable_withdraw_after; withdrawing its routes');
    // The withdrawn routes stay visible as skipped, with the reason, for `routes explain`.
    const why = `LXD unreachable since ${this.st.unreachableSince} (${this.st.lastError ?? 'no answer'}), longer than unreachable_withdraw_after (${this.withdrawAfterMs / 1000} s): withdrawn until LXD answers again`;
    const skipped = [...c.intents.map((i, n) => ({ prefix: i.prefix, reason: why, origin: c.origins[n]! })), ...c.skipped];
    this.withdrawnView = { intents: [], origins: [], skipped };
    this.st.routes = 0;
    this.st.publishes++;
    // Announcing again takes the whole snapshot.
    this.wholeNext = true;
    this.changed.clear();
    this.opts.publish([]);
    this.tell('withdrawn');
  }

  private tell(change: LxdStatusChange): void {
    try {
      this.opts.onStatus?.(change, this.state());
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'LXD status listener failed');
    }
  }

  // ------------------------------------------------------------ queries

  /** The source's state (a copy). */
  state(): LxdSourceState {
    return { ...this.st, skipped: this.snapshot().skipped, eventsConnected: this.events?.connected ?? false, ovnSb: this.opts.ovnSb?.state() ?? null };
  }

  /** The derived snapshot with origins and skipped routes (while withdrawn: everything skipped, with the reason). */
  snapshot(): Readonly<LxdDerived> {
    if (this.withdrawnView !== null) return this.withdrawnView;
    this.joined ??= mergeDerived([this.netUnit.derived, ...[...this.units.values()].map((u) => u.derived)]);
    return this.joined;
  }

  /** Why a prefix is (or is not) announced by the LXD source. */
  explain(prefix: string): { announced: { intent: Intent; origin: LxdOrigin }[]; skipped: LxdSkipped[] } {
    const c = this.snapshot();
    const announced: { intent: Intent; origin: LxdOrigin }[] = [];
    c.intents.forEach((intent, i) => {
      if (intent.prefix === prefix) announced.push({ intent, origin: c.origins[i]! });
    });
    return { announced, skipped: c.skipped.filter((s) => s.prefix === prefix) };
  }
}

/** Element i of an instance listing, parsed; an element that is not JSON or not an instance is a malformed listing. */
function parseInstance(l: Listing, i: number): LxdInstance {
  let v: unknown;
  try {
    v = l.parse(i);
  } catch (e) {
    throw new Error(`LXD instance listing: element ${i} is not JSON: ${(e as Error).message}`);
  }
  const inst = v as LxdInstance | null;
  if (inst === null || typeof inst !== 'object' || typeof inst.name !== 'string') throw new Error(`LXD instance listing: element ${i} is not an instance (no name)`);
  return inst;
}

/** Two reads agree on everything but the instances (what the derivation's context is made of). */
function sameViewBesidesInstances(a: LxdView, b: LxdView): boolean {
  return (
    a.serverName === b.serverName &&
    a.clustered === b.clustered &&
    a.memberStatus === b.memberStatus &&
    sameJson(a.projects, b.projects) &&
    sameJson(a.networks, b.networks) &&
    sameJson(a.states, b.states) &&
    sameJson(a.forwards, b.forwards) &&
    sameJson(a.loadBalancers, b.loadBalancers)
  );
}

/** Deep equality of parsed JSON values (and Maps of them), allocating nothing for plain objects and arrays. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !sameJson(v, b.get(k))) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k)) continue;
    if (!Object.prototype.hasOwnProperty.call(y, k) || !sameJson(x[k], y[k])) return false;
    n++;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k)) n--;
  return n === 0;
}
