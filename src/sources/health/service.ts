/**
 * One service's health: probes its checks in rounds and turns the results
 * into a state (up, down, maintenance) with rise/fall hysteresis.
 *
 * Owns: probe scheduling (interval, fast interval while a change is being
 * counted, random jitter), per-probe timeouts, overlap and hang handling,
 * combining several checks (all / any), the rise/fall counters, and the
 * transition events. Time comes from an injected `Clock` and probes from an
 * injected `Prober`, so tests drive it with a ManualClock and fake checks.
 *
 * A round starts every check at once; at the check's timeout its probe is
 * aborted (`ProbeRun.abort`, the AbortSignal of a promise-style prober); a
 * check that ignores the abort is counted as hung (failed) GRACE_MS later
 * and the round goes on without it. The next round and the timeouts are
 * deadlines in the health source's one queue (deadlines.ts, decision 0044),
 * and each check's probe state is one object reused for every probe. While a
 * check's earlier probe is still running, a new probe of it is not started:
 * the round records it as skipped (a failure). Other checks and other
 * services never wait for a hung probe.
 *
 *   state        exposed to the reconciler
 *   healthy      the rise/fall verdict, kept up to date even during
 *                maintenance, so removing the maintenance file returns the
 *                service at once to whatever its checks say
 *
 * Start-up is down until proven up: `rise` passing rounds in a row — except
 * after a graceful restart (`firstRoundDecides`), when the service was
 * announced a moment ago and routers still forward to it: then the first
 * round alone decides, so a healthy service is re-announced at once and an
 * unhealthy one is left out (and flushed by routers at End-of-RIB). Up goes
 * down after `fall` failing rounds in a row. A maintenance file that exists
 * makes the state `maintenance` in the round that sees it, with no counting
 * and no flap; when it goes, the state is the rise/fall verdict again. The
 * built-in host address check (services with `host_addresses`) is counted
 * like any check but is never outvoted by `combine: any`.
 */
import type { Clock } from '../../../bgp/index.js';
import type { ServiceConfig } from '../../config/index.js';
import { checkLabel, checkTimeout, fromProber, startCheck } from './checks/index.js';
import { Deadline, DeadlineQueue } from './deadlines.js';
import type { Check, CheckReport, CheckResult, HealthState, ProbeRun, ProbeStarter, Prober, ServiceSnapshot, Transition } from './types.js';

/** What the state machine reads of a service's config. */
export type ServiceHealthSpec = Pick<
  ServiceConfig,
  'name' | 'checks' | 'combine' | 'intervalMs' | 'fastIntervalMs' | 'timeoutMs' | 'rise' | 'fall' | 'jitterMs'
>;

/** State carried over when a reload replaces a service's checks. */
export interface CarriedState {
  state: HealthState;
  healthy: boolean;
  since: number;
}

export interface ServiceHealthOptions {
  clock: Clock;
  /** Runs one probe (default: the real checks). */
  prober?: Prober;
  /** Uniform [0, 1) source for jitter (default Math.random). */
  random?: () => number;
  /** Wall-clock epoch ms for `since` and report times (default Date.now). */
  wallClock?: () => number;
  /** How long after its timeout a probe that ignores its abort is counted as hung. */
  graceMs?: number;
  /** Start from this state instead of down (a reload that changed the checks). */
  initial?: CarriedState;
  /** The first round's verdict is the state at once, without rise/fall (after a graceful restart). */
  firstRoundDecides?: boolean;
  /**
   * How a due probe is started: at once (default), or handed to a pacer that
   * starts a burst in bounded slices (pacer.ts) so that ten thousand services
   * due in the same millisecond never hold the event loop. A probe's timeout
   * counts from when it really starts.
   */
  launch?: (start: () => void) => void;
  /**
   * The queue this service's deadlines (next round, probe timeouts) wait in:
   * one per health source, so every service shares one Clock timer
   * (deadlines.ts). Default: a queue of its own on `clock`.
   */
  deadlines?: DeadlineQueue;
}

/** Summary of one finished round, for metrics and tests. */
export interface RoundEvent {
  service: string;
  /** Combined verdict of the non-maintenance checks. */
  ok: boolean;
  adminDown: boolean;
  state: HealthState;
  /** Consecutive rounds disagreeing with the current verdict (rise/fall progress). */
  pending: number;
  /** Delay until the next round, ms. */
  nextInMs: number;
  reports: readonly CheckReport[];
}

export const GRACE_MS = 250;

interface Round {
  startedAt: number;
  reports: (CheckReport | undefined)[];
  pending: number;
  done: boolean;
}

/**
 * One check of a service and its probe in flight (at most one at a time:
 * a round that finds it busy records the check as skipped). Made once per
 * check and reused for every probe, so a probe costs no closure, controller
 * or callback of its own here: its methods are the pacer's start, the
 * probe's `done` and its deadline's (timeout, then hung grace).
 */
class CheckSlot {
  /** Started and not yet reported. */
  busy = false;
  /** The probe under way (null before start returns, or once it reported). */
  private run: ProbeRun | null = null;
  /** The round the probe in flight reports to, and when it started. */
  private flightRound: Round | null = null;
  startedAt = 0;
  /** A start is waiting in the pacer for this round (null: none). */
  private queuedFor: Round | null = null;
  /** The probe's timeout, then (after it aborted a probe that went on) its hung deadline. */
  private readonly deadline = new Deadline(() => this.deadlineDue());
  private hungPhase = false;
  private timeoutMs = 0;

  constructor(
    private readonly owner: ServiceHealth,
    private readonly index: number,
    private readonly check: Check,
    private readonly label: string,
  ) {}

  /** Start now, or queue the start with the pacer for `round`. */
  due(round: Round, launcher: ((start: () => void) => void) | null): void {
    if (launcher === null) {
      this.launch(round);
      return;
    }
    const queued = this.queuedFor !== null;
    this.queuedFor = round;
    if (!queued) launcher(this.start);
  }

  /** The pacer's start: only if its round is still the current one. */
  private readonly start = (): void => {
    const round = this.queuedFor;
    this.queuedFor = null;
    if (round !== null && !this.busy && this.owner.isCurrent(round)) this.launch(round);
  };

  private launch(round: Round): void {
    const o = this.owner;
    const now = o.clockNow();
    this.busy = true;
    this.flightRound = round;
    this.startedAt = now;
    this.timeoutMs = checkTimeout(this.check) ?? o.spec.timeoutMs;
    // One deadline per probe: the timeout aborts it and only then becomes
    // the hung deadline (most probes finish first and clear it).
    this.hungPhase = false;
    o.deadlines.set(this.deadline, now + this.timeoutMs);
    const run = o.starter(this.check, this.done);
    // `done` may already have run (a probe that failed at once).
    if (this.busy) this.run = run;
  }

  private readonly done = (r: CheckResult): void => {
    if (!this.busy) return;
    this.busy = false;
    this.run = null;
    this.owner.deadlines.clear(this.deadline);
    const round = this.flightRound!;
    this.flightRound = null;
    this.owner.record(round, this.index, r);
  };

  private deadlineDue(): void {
    const o = this.owner;
    if (!this.hungPhase) {
      this.run?.abort();
      if (!this.busy) return;
      this.hungPhase = true;
      o.deadlines.set(this.deadline, this.startedAt + this.timeoutMs + o.graceMs);
      return;
    }
    const ms = this.timeoutMs;
    o.record(this.flightRound!, this.index, {
      ok: false,
      detail: `${this.label}: hung, no result ${Math.round(ms + o.graceMs)}ms after it started (timeout ${ms}ms)`,
      latencyMs: o.clockNow() - this.startedAt,
    });
  }

  /** Stop: forget a queued start, abort the probe in flight (it still reports, to a finished round). */
  stop(): void {
    this.queuedFor = null;
    this.run?.abort();
  }
}

type Listener<T> = (ev: T) => void;

export class ServiceHealth {
  readonly spec: ServiceHealthSpec;
  private readonly clock: Clock;
  /** Starts one probe (CheckSlot reads it). */
  readonly starter: ProbeStarter;
  private readonly random: () => number;
  private readonly wall: () => number;
  readonly graceMs: number;

  private stateV: HealthState;
  private healthyV: boolean;
  private sinceV: number;
  /** Consecutive rounds whose verdict differs from `healthy`. */
  private count = 0;
  private readonly last: (CheckReport | undefined)[];
  private readonly slots: readonly CheckSlot[];
  private round: Round | null = null;
  /** Where this service's deadlines wait (CheckSlot sets the probes' in it). */
  readonly deadlines: DeadlineQueue;
  /** The next round's start. */
  private readonly nextRound: Deadline;
  private running = false;
  private readonly changeListeners = new Set<Listener<Transition>>();
  private readonly roundListeners = new Set<Listener<RoundEvent>>();
  /** Probes not started because the previous one was still running, per check. */
  readonly skipped: number[];
  /** Rounds finished so far. */
  private rounds = 0;
  private readonly firstRoundDecides: boolean;
  private readonly launcher: ((start: () => void) => void) | null;
  /** Each check's label and kind, worked out once (read on every probe). */
  private readonly labels: readonly string[];
  private readonly kinds: readonly Check['kind'][];

  constructor(spec: ServiceHealthSpec, opts: ServiceHealthOptions) {
    this.spec = spec;
    this.clock = opts.clock;
    this.starter = opts.prober ? fromProber(opts.prober, () => this.clock.now()) : startCheck;
    this.random = opts.random ?? Math.random;
    this.wall = opts.wallClock ?? Date.now;
    this.graceMs = opts.graceMs ?? GRACE_MS;
    this.stateV = opts.initial?.state ?? 'down';
    this.healthyV = opts.initial?.healthy ?? false;
    this.sinceV = opts.initial?.since ?? this.wall();
    this.firstRoundDecides = opts.firstRoundDecides === true && opts.initial === undefined;
    this.launcher = opts.launch ?? null;
    this.deadlines = opts.deadlines ?? new DeadlineQueue(opts.clock);
    this.nextRound = new Deadline(this.roundDue);
    this.last = spec.checks.map(() => undefined);
    this.skipped = spec.checks.map(() => 0);
    this.labels = spec.checks.map(checkLabel);
    this.slots = spec.checks.map((c, i) => new CheckSlot(this, i, c, this.labels[i]!));
    this.kinds = spec.checks.map((c) => c.kind);
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): HealthState {
    return this.stateV;
  }

  /** The rise/fall verdict, which keeps being counted during maintenance. */
  get healthy(): boolean {
    return this.healthyV;
  }

  /** Subscribe to state changes or finished rounds; returns the unsubscribe function. */
  on(event: 'change', fn: Listener<Transition>): () => void;
  on(event: 'round', fn: Listener<RoundEvent>): () => void;
  on(event: 'change' | 'round', fn: Listener<Transition> | Listener<RoundEvent>): () => void {
    const set = (event === 'change' ? this.changeListeners : this.roundListeners) as Set<typeof fn>;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Start probing: the first round after a random 0..jitter delay. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(this.clock.now() + this.jitter());
  }

  /** Stop probing and abort probes in flight. */
  stop(): void {
    this.running = false;
    this.deadlines.clear(this.nextRound);
    if (this.round) this.round.done = true;
    for (const slot of this.slots) slot.stop();
    this.round = null;
  }

  /** What the health source reports: state, since, last result of each check. */
  snapshot(): ServiceSnapshot {
    return { state: this.stateV, since: this.sinceV, lastResults: this.last.filter((r): r is CheckReport => r !== undefined) };
  }

  /** Rounds finished since start (0 until the first verdict). */
  get roundsDone(): number {
    return this.rounds;
  }

  /** The state to hand a replacement after a reload. */
  carry(): CarriedState {
    return { state: this.stateV, healthy: this.healthyV, since: this.sinceV };
  }

  private jitter(): number {
    return this.spec.jitterMs > 0 ? this.random() * this.spec.jitterMs : 0;
  }

  private schedule(atMs: number): void {
    this.deadlines.set(this.nextRound, atMs);
  }

  /** The next round's deadline fell due (one function for the service's life). */
  private readonly roundDue = (): void => {
    if (this.running) this.startRound();
  };

  private startRound(): void {
    const now = this.clock.now();
    const checks = this.spec.checks;
    const round: Round = { startedAt: now, reports: checks.map(() => undefined), pending: checks.length, done: false };
    this.round = round;
    for (let i = 0; i < checks.length; i++) {
      const slot = this.slots[i]!;
      if (slot.busy) {
        this.skipped[i] = this.skipped[i]! + 1;
        const ms = Math.round(now - slot.startedAt);
        const result: CheckResult = { ok: false, detail: `${this.labels[i]}: not probed, the previous probe (started ${ms}ms ago) is still running`, latencyMs: 0 };
        this.record(round, i, result, true);
        continue;
      }
      // Started at once, or later by the pacer (only if this round is still the current one then).
      slot.due(round, this.launcher);
    }
  }

  /** The round probes may still start for (CheckSlot). */
  isCurrent(round: Round): boolean {
    return this.running && this.round === round && !round.done;
  }

  /** The clock's now (CheckSlot). */
  clockNow(): number {
    return this.clock.now();
  }

  /** Record a check's result in its round (ignored once the round is over or has one). */
  record(round: Round, i: number, result: CheckResult, skipped = false): void {
    if (round.done || round.reports[i] !== undefined) return;
    const report: CheckReport = skipped ? { index: i, check: this.labels[i]!, result, at: this.wall(), skipped } : { index: i, check: this.labels[i]!, result, at: this.wall() };
    round.reports[i] = report;
    this.last[i] = report;
    round.pending--;
    if (round.pending === 0) this.finishRound(round);
  }

  private finishRound(round: Round): void {
    round.done = true;
    if (this.round === round) this.round = null;
    if (!this.running) return;
    const reports = round.reports as CheckReport[];
    // One pass over the round (no intermediate arrays): the maintenance
    // file's verdict, the built-in host address check (it must pass whatever
    // `combine` says: a service cannot answer on an address the host does
    // not have) and the other checks combined by `combine`.
    const kinds = this.kinds;
    const any = this.spec.combine === 'any';
    let admin: CheckReport | undefined;
    let combined = 0;
    let passed = 0;
    let required = true;
    for (let j = 0; j < reports.length; j++) {
      const r = reports[j]!;
      if (!admin && r.result.adminDown) admin = r;
      const kind = kinds[r.index];
      if (kind === 'maintenance_file') continue;
      if (kind === 'host_address') {
        if (!r.result.ok) required = false;
        continue;
      }
      combined++;
      if (r.result.ok) passed++;
    }
    const anyOk = combined === 0 || (any ? passed > 0 : passed === combined);
    const ok = anyOk && required;

    const wasHealthy = this.healthyV;
    const decides = this.firstRoundDecides && this.rounds === 0;
    this.rounds++;
    if (decides) {
      this.healthyV = ok;
      this.count = 0;
    } else if (ok === this.healthyV) this.count = 0;
    else {
      this.count++;
      if (this.count >= (this.healthyV ? this.spec.fall : this.spec.rise)) {
        this.healthyV = ok;
        this.count = 0;
      }
    }
    const next: HealthState = admin ? 'maintenance' : this.healthyV ? 'up' : 'down';
    if (next !== this.stateV) {
      const from = this.stateV;
      this.stateV = next;
      this.sinceV = this.wall();
      const health = reports.filter((r) => kinds[r.index] !== 'maintenance_file');
      const reason = (decides ? 'first round after a graceful restart; ' : '') + this.reason(from, next, admin, health, wasHealthy !== this.healthyV && !decides);
      const ev: Transition = { service: this.spec.name, from, to: next, reason, results: reports };
      for (const fn of this.changeListeners) fn(ev);
    }

    const base = this.count > 0 ? this.spec.fastIntervalMs : this.spec.intervalMs;
    const at = Math.max(round.startedAt + base + this.jitter(), this.clock.now());
    const ev: RoundEvent = { service: this.spec.name, ok, adminDown: !!admin, state: this.stateV, pending: this.count, nextInMs: at - this.clock.now(), reports };
    for (const fn of this.roundListeners) fn(ev);
    if (this.running) this.schedule(at);
  }

  /** Say in one line why the state changed, quoting the deciding checks. */
  private reason(from: HealthState, to: HealthState, admin: CheckReport | undefined, health: CheckReport[], flipped: boolean): string {
    if (to === 'maintenance') return admin!.result.detail;
    const failing = health.filter((r) => !r.result.ok).map((r) => r.result.detail);
    const passing = health.filter((r) => r.result.ok).map((r) => r.result.detail);
    const prefix = from === 'maintenance' ? 'maintenance file removed; ' : '';
    if (to === 'up') {
      const n = this.spec.rise;
      const why = flipped ? `${n} passing round${n === 1 ? '' : 's'} in a row` : 'checks passing';
      return `${prefix}${why}${passing.length ? `: ${passing.join('; ')}` : ''}`;
    }
    const n = this.spec.fall;
    const why = flipped ? `${n} failing round${n === 1 ? '' : 's'} in a row` : from === 'maintenance' ? 'checks not passing yet' : 'checks failing';
    const detail = failing.length ? failing.join('; ') : passing.join('; ');
    return `${prefix}${why}${detail ? `: ${detail}` : ''}`;
  }
}
