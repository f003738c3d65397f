/**
 * The LXD route source: client + events + derivation, handing the
 * reconciler a full snapshot of LXD-derived intents (level-triggered,
 * STYLE.md §9) through the `publish` callback.
 *
 * When it reads:
 *   - at start;
 *   - a lifecycle event arrives: a read `coalesceMs` later, so a burst of
 *     events (a cluster evacuation, a project with 100 instances starting)
 *     is one read; an event during a read queues exactly one more read;
 *   - the events websocket (re)connects: events may have been missed;
 *   - every `resyncMs` regardless, to catch anything missed;
 *   - while LXD is unreachable, retries with backoff.
 * It publishes every derived snapshot whole; the reconciler decides what changed.
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
 * health change re-derives from the last read (no API request) and publishes
 * if the snapshot changed.
 */
import { realClock, type Clock } from '../../../bgp/index.js';
import type { Check } from '../../config/index.js';
import type { Intent } from '../../reconciler/index.js';
import { ServiceHealth, type Prober } from '../health/index.js';
import type { LxdClient } from './client.js';
import type { LxdView } from './types.js';
import { DEFAULT_LXD_RULES, deriveLxd, NO_ATTRS, type LxdAttrs, type LxdDerived, type LxdOrigin, type LxdRules, type LxdSkipped } from './derive.js';
import { isMemberEvacuation, isRelevantAction, LxdEvents } from './events.js';
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
  /** Receives every changed full snapshot, e.g. `(i) => { reconciler.setSnapshot('lxd', i); reconciler.reconcile(); }`. */
  publish: (intents: readonly Intent[]) => void;
  rules?: LxdRules;
  attrs?: LxdAttrs;
  log?: LxdLog;
  /** Delay from an event to the read, gathering bursts; default 20 ms. */
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
  /** Clock for the checks (default the real clock). */
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

export class LxdSource {
  private readonly rules: LxdRules;
  private readonly attrs: LxdAttrs;
  private readonly log: LxdLog;
  private readonly coalesceMs: number;
  private readonly resyncMs: number;
  private readonly withdrawAfterMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly events: LxdEvents | null;
  private current: LxdDerived = { intents: [], origins: [], skipped: [] };
  private st: LxdSourceState;
  private readTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private withdrawTimer: NodeJS.Timeout | null = null;
  private retryDelay: number;
  private reading: Promise<boolean> | null = null;
  /** The last good read; instance-only events re-read just the instances on top of it. */
  private lastView: LxdView | null = null;
  /** The next read must read everything (not only instances). */
  private needFull = true;
  private dirty = false;
  /**
   * An evacuate / restore operation is running: until this member's status
   * says so (or `until`, performance.now() ms), re-read every
   * MEMBER_OP_RECHECK_MS. LXD 5.0 sets the status inside the operation,
   * after its first events, and says nothing when it does.
   */
  private memberOp: { evacuated: boolean; until: number } | null = null;
  /** What the next partial read must cover: the member's status only (evacuate / restore), or the instances too. */
  private readMember = false;
  private memberOpTimer: NodeJS.Timeout | null = null;
  private readInstances = false;
  private stopped = false;
  /** One health per `user.herald.check` in use, by check id. */
  private readonly healths = new Map<string, { health: ServiceHealth; off: () => void }>();

  constructor(private readonly opts: LxdSourceOptions) {
    this.rules = opts.rules ?? DEFAULT_LXD_RULES;
    this.attrs = opts.attrs ?? NO_ATTRS;
    this.log = opts.log ?? silent;
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
                this.needFull = true;
                this.schedule(0);
              },
              close: (reason) => {
                if (this.st.eventsConnected) this.log.warn({ endpoint: this.st.endpoint, reason }, 'LXD events disconnected; reconnecting');
                this.st.eventsConnected = false;
                // LXD may be restarting: find out now, so the state says so.
                this.needFull = true;
                this.schedule(0);
              },
              event: (e) => {
                this.st.events++;
                if (e.type === 'operation') {
                  // Only evacuate / restore operations matter (all else is also a
                  // lifecycle event); they read the member's status alone (one
                  // request: the instance list can wait on the evacuation).
                  if (!isMemberEvacuation(e)) return;
                  this.readMember = true;
                  const done = e.metadata?.status === 'Success' || e.metadata?.status === 'Failure' || e.metadata?.status === 'Cancelled';
                  this.memberOp = done ? null : { evacuated: (e.metadata?.description ?? '').startsWith('Evacuating'), until: performance.now() + MEMBER_OP_WAIT_MS };
                  this.schedule(this.coalesceMs);
                  return;
                }
                const action = e.metadata?.action;
                if (!isRelevantAction(action)) return;
                if (!action?.startsWith('instance-')) this.needFull = true;
                this.readInstances = true;
                this.schedule(this.coalesceMs);
              },
            },
            { backoffInitialMs: this.backoffInitialMs, backoffMaxMs: this.backoffMaxMs },
          );
  }

  /** Read once, then follow events and resync; resolves after the first read (which may have failed). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.readNow();
    this.events?.start();
    this.opts.ovnSb?.start((c) => {
      this.log.debug({ ports: c.ports, initial: c.initial }, 'OVN gateway chassis changed; re-deriving, then re-reading LXD');
      this.rederive();
      this.needFull = true;
      this.schedule(0);
    });
    if (this.resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        this.st.resyncs++;
        this.needFull = true;
        this.schedule(0);
      }, this.resyncMs);
      this.resyncTimer.unref?.();
    }
  }

  /** Stop reading and listening, and close the client's connections; the last published snapshot is left to the caller. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.st.status = 'stopped';
    this.events?.stop();
    this.opts.ovnSb?.stop();
    for (const t of [this.readTimer, this.retryTimer, this.withdrawTimer, this.memberOpTimer]) if (t) clearTimeout(t);
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.memberOpTimer = null;
    this.readTimer = this.retryTimer = this.withdrawTimer = this.resyncTimer = null;
    this.syncHealths(new Map());
    await this.reading?.catch(() => false);
    this.opts.client.close();
  }

  /** Ask for a re-read in `delayMs`, coalesced with any pending or running read. */
  schedule(delayMs = this.coalesceMs): void {
    if (this.stopped) return;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    if (this.readTimer) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      void this.readNow();
    }, delayMs);
  }

  /** Read the API now and publish if the snapshot changed; resolves false when LXD was unreachable. */
  readNow(): Promise<boolean> {
    if (this.reading) {
      this.dirty = true;
      return this.reading;
    }
    const p = this.read().finally(() => {
      this.reading = null;
      if (this.dirty && !this.stopped) {
        this.dirty = false;
        this.schedule(0);
      }
    });
    this.reading = p;
    return p;
  }

  private async read(): Promise<boolean> {
    const t0 = performance.now();
    this.st.reads++;
    let derived: LxdDerived;
    const prev = this.needFull ? null : this.lastView;
    const memberOnly = prev !== null && prev.clustered && this.readMember && !this.readInstances;
    this.needFull = false;
    this.readMember = this.readInstances = false;
    try {
      // Only instance events since the last read: networks, forwards and
      // load balancers are unchanged, so one request instead of hundreds.
      // The member's own status goes with the instances: LXD 5.0 sends no
      // event for `lxc cluster evacuate` / `restore`, only the instances'
      // stop and start events that follow the status change.
      const view = memberOnly
        ? { ...prev, memberStatus: (await this.opts.client.clusterMember(prev.serverName)).status }
        : prev
          ? await this.instancesOnto(prev)
          : await this.opts.client.readView(this.rules);
      if (this.stopped) return false;
      this.lastView = view;
      derived = this.derive(view);
      this.st.serverName = view.serverName;
      this.st.clustered = view.clustered;
      this.st.instances = view.instances.length;
      this.st.chassisName = this.rules.chassisName ?? view.serverName;
      if (!prev) {
        this.st.fullReads++;
        this.st.lastFullReadAt = new Date().toISOString();
      }
    } catch (e) {
      if (this.stopped) return false;
      this.needFull = true;
      this.failed((e as Error).message);
      return false;
    }
    this.st.lastReadMs = performance.now() - t0;
    this.st.lastReadAt = new Date().toISOString();
    this.st.lastError = null;
    const wasUnreachable = this.st.status === 'unreachable';
    if (wasUnreachable) {
      this.log.info({ endpoint: this.st.endpoint, since: this.st.unreachableSince, withdrawn: this.st.withdrawn }, 'LXD reachable again');
    }
    this.st.status = 'connected';
    this.st.unreachableSince = null;
    this.st.withdrawn = false;
    this.retryDelay = this.backoffInitialMs;
    for (const t of [this.retryTimer, this.withdrawTimer]) if (t) clearTimeout(t);
    this.retryTimer = this.withdrawTimer = null;
    this.commit(derived);
    const op = this.memberOp;
    if (op !== null) {
      if ((this.lastView?.memberStatus === 'Evacuated') === op.evacuated || performance.now() > op.until) this.memberOp = null;
      else if (this.memberOpTimer === null) {
        // Not schedule(): a read is still in flight here and would run the next one at once.
        this.memberOpTimer = setTimeout(() => {
          this.memberOpTimer = null;
          this.readMember = true;
          this.schedule(0);
        }, MEMBER_OP_RECHECK_MS);
      }
    }
    if (wasUnreachable) this.tell('reachable');
    return true;
  }

  /** Re-read the instances (and, clustered, this member's status) on top of the last full view. */
  private async instancesOnto(prev: LxdView): Promise<LxdView> {
    const [instances, memberStatus] = await Promise.all([
      this.opts.client.instances(),
      prev.clustered ? this.opts.client.clusterMember(prev.serverName).then((m) => m.status) : Promise.resolve(prev.memberStatus),
    ]);
    return { ...prev, instances, memberStatus };
  }

  /** Derive with the current check states, then start / stop healths to match what it needs. */
  private derive(raw: LxdView): LxdDerived {
    const sb = this.opts.ovnSb?.current() ?? null;
    const view = sb !== null ? withGatewayChassis(raw, sb) : raw;
    const derived = deriveLxd(view, this.rules, this.attrs, (id) => this.healths.get(id)?.health.state === 'up');
    this.syncHealths(derived.checks ?? new Map<string, Check>());
    return derived;
  }

  private syncHealths(wanted: ReadonlyMap<string, Check>): void {
    for (const [id, h] of this.healths) {
      if (wanted.has(id)) continue;
      h.off();
      h.health.stop();
      this.healths.delete(id);
      this.log.debug({ check: id }, 'LXD instance check stopped');
    }
    if (this.stopped) return;
    const interval = this.opts.checkIntervalMs ?? LXD_CHECK_INTERVAL_MS;
    for (const [id, check] of wanted) {
      if (this.healths.has(id)) continue;
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
        { clock: this.opts.clock ?? realClock, ...(this.opts.prober ? { prober: this.opts.prober } : {}) },
      );
      const off = health.on('change', (t) => {
        this.log.info({ check: id, from: t.from, to: t.to, reason: t.reason }, 'LXD instance check changed');
        this.rederive();
      });
      this.healths.set(id, { health, off });
      health.start();
    }
  }

  /** A check changed: re-derive from the last read and publish if the snapshot changed. */
  private rederive(): void {
    if (this.stopped || !this.lastView || this.st.withdrawn) return;
    this.commit(this.derive(this.lastView));
  }

  /** The ids and states of the `user.herald.check` checks in use. */
  checks(): { id: string; state: string }[] {
    return [...this.healths].map(([id, h]) => ({ id, state: h.health.state }));
  }

  private commit(derived: LxdDerived): void {
    this.current = derived;
    this.st.routes = derived.intents.length;
    this.st.skipped = derived.skipped;
    // Level-triggered: every derive is published whole; the reconciler finds
    // what changed (group by group) and hands on nothing when nothing did.
    this.st.publishes++;
    this.log.debug({ routes: derived.intents.length, skipped: derived.skipped.length }, 'LXD routes derived');
    this.opts.publish(derived.intents);
  }

  private failed(message: string): void {
    this.st.failedReads++;
    this.st.lastError = message;
    if (this.st.status !== 'unreachable') {
      this.st.status = 'unreachable';
      this.st.unreachableSince = new Date().toISOString();
      this.log.warn(
        { endpoint: this.st.endpoint, error: message, keptRoutes: this.current.intents.length, withdrawAfterMs: this.withdrawAfterMs },
        'LXD unreachable; keeping the last known routes',
      );
      if (this.withdrawAfterMs > 0) {
        this.withdrawTimer = setTimeout(() => this.withdraw(), this.withdrawAfterMs);
      }
      this.tell('unreachable');
    }
    // Retry on our own too: the events socket may be down for longer.
    if (!this.retryTimer && !this.stopped) {
      const d = this.retryDelay;
      this.retryDelay = Math.min(d * 2, this.backoffMaxMs);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedule(0);
      }, d);
    }
  }

  private withdraw(): void {
    this.withdrawTimer = null;
    if (this.stopped || this.st.status !== 'unreachable' || this.st.withdrawn) return;
    this.st.withdrawn = true;
    this.log.error(
      { endpoint: this.st.endpoint, since: this.st.unreachableSince, withdrawn: this.current.intents.length },
      'LXD unreachable for longer than unreachable_withdraw_after; withdrawing its routes',
    );
    // The withdrawn routes stay visible as skipped, with the reason, for `routes explain`.
    const why = `LXD unreachable since ${this.st.unreachableSince} (${this.st.lastError ?? 'no answer'}), longer than unreachable_withdraw_after (${this.withdrawAfterMs / 1000} s): withdrawn until LXD answers again`;
    const c = this.current;
    const skipped = [...c.intents.map((i, n) => ({ prefix: i.prefix, reason: why, origin: c.origins[n]! })), ...c.skipped];
    this.current = { intents: [], origins: [], skipped };
    this.st.routes = 0;
    this.st.skipped = skipped;
    this.st.publishes++;
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

  /** The source's state (a copy). */
  state(): LxdSourceState {
    return { ...this.st, eventsConnected: this.events?.connected ?? false, ovnSb: this.opts.ovnSb?.state() ?? null };
  }

  /** The last derived snapshot with origins and skipped routes. */
  snapshot(): Readonly<LxdDerived> {
    return this.current;
  }

  /** Why a prefix is (or is not) announced by the LXD source. */
  explain(prefix: string): { announced: { intent: Intent; origin: LxdOrigin }[]; skipped: LxdSkipped[] } {
    const c = this.current;
    const announced: { intent: Intent; origin: LxdOrigin }[] = [];
    c.intents.forEach((intent, i) => {
      if (intent.prefix === prefix) announced.push({ intent, origin: c.origins[i]! });
    });
    return { announced, skipped: c.skipped.filter((s) => s.prefix === prefix) };
  }
}
