/**
 * The health source: one ServiceHealth per configured service, a snapshot of
 * all their states for the reconciler (level-triggered: it reads the whole
 * map, never deltas), and a 'change' subscription that fires only when some
 * service's state changed.
 *
 * After a graceful restart (`firstRoundDecides`) each initial service's first
 * round decides its state, and `onFirstRounds` tells the daemon when every
 * one has had it, so End-of-RIB can go (RFC 4724 §4.1, decision 0024).
 *
 * A reload (`update`) keeps a service whose health settings did not change
 * running untouched (its counters and timers go on); one whose checks or
 * timing changed is restarted from the state it had, so a reload never
 * withdraws a healthy service just because its checks were edited; a new
 * service starts down; a removed one is stopped.
 */
import type { ServiceConfig } from '../../config/index.js';
import { DeadlineQueue } from './deadlines.js';
import { ServiceHealth, type RoundEvent, type ServiceHealthOptions, type ServiceHealthSpec } from './service.js';
import type { ServiceSnapshot, Transition } from './types.js';

export type HealthSourceOptions = Omit<ServiceHealthOptions, 'initial'> & {
  /** How late a probe or round may start so that neighbours share a wake-up (default HEALTH_TIMER_SLACK_MS; deadlines.ts). */
  timerSlackMs?: number;
};

/**
 * The health source's timer slack: a round starts, and a probe times out,
 * at most this much late (decision 0045): small beside the default jitter
 * (a tenth of the interval) that already moves every round.
 */
export const HEALTH_TIMER_SLACK_MS = 10;

/** The fields of a service that its health depends on; anything else is route policy. */
function healthKey(s: ServiceHealthSpec): string {
  const { name, checks, combine, intervalMs, fastIntervalMs, timeoutMs, rise, fall, jitterMs } = s;
  return JSON.stringify({ name, checks, combine, intervalMs, fastIntervalMs, timeoutMs, rise, fall, jitterMs });
}

export class HealthSource {
  private readonly opts: HealthSourceOptions;
  private readonly services = new Map<string, { health: ServiceHealth; key: string; unsubscribe: () => void }>();
  private readonly changeListeners = new Set<(t: Transition) => void>();
  private readonly roundListeners = new Set<(r: RoundEvent) => void>();
  private running = false;
  /** Services of the initial list that have not finished a round yet; null once all have. */
  private firstPending: Set<string> | null;
  private readonly firstWaiters: (() => void)[] = [];

  /**
   * `opts.firstRoundDecides` applies to the services given here only (a
   * graceful restart); services a reload adds later start down as usual.
   */
  constructor(services: readonly ServiceHealthSpec[], opts: HealthSourceOptions) {
    const { firstRoundDecides, timerSlackMs, ...rest } = opts;
    // Every service's deadlines in one queue on one Clock timer (deadlines.ts).
    this.opts = { ...rest, deadlines: rest.deadlines ?? new DeadlineQueue(rest.clock, timerSlackMs ?? HEALTH_TIMER_SLACK_MS) };
    for (const s of services) this.add(s, undefined, firstRoundDecides === true);
    this.firstPending = services.length > 0 ? new Set(services.map((s) => s.name)) : null;
  }

  /**
   * Call `fn` once every service of the initial list has finished its first
   * round (or was removed by a reload), at once when that is already so.
   * Round listeners run after change listeners, so by then every state the
   * first rounds decided has been reported.
   */
  onFirstRounds(fn: () => void): void {
    if (this.firstPending === null) fn();
    else this.firstWaiters.push(fn);
  }

  private firstRoundOf(name: string): void {
    const p = this.firstPending;
    if (p === null || !p.delete(name) || p.size > 0) return;
    this.firstPending = null;
    for (const w of this.firstWaiters.splice(0)) w();
  }

  /** Start probing every service. */
  start(): void {
    this.running = true;
    for (const { health } of this.services.values()) health.start();
  }

  /** Stop every service's probes. */
  stop(): void {
    this.running = false;
    for (const { health } of this.services.values()) health.stop();
  }

  /** Apply a reloaded service list (see the module comment for what is kept). */
  update(services: readonly (ServiceHealthSpec | ServiceConfig)[]): void {
    const wanted = new Map(services.map((s) => [s.name, s]));
    for (const [name, entry] of this.services) {
      if (wanted.has(name)) continue;
      entry.health.stop();
      entry.unsubscribe();
      this.services.delete(name);
      this.firstRoundOf(name);
    }
    for (const s of services) {
      const old = this.services.get(s.name);
      if (old && old.key === healthKey(s)) continue;
      if (old) {
        old.health.stop();
        old.unsubscribe();
      }
      const h = this.add(s, old?.health.carry());
      if (this.running) h.start();
    }
  }

  /** Each service's state, since and last check results. */
  snapshot(): Map<string, ServiceSnapshot> {
    const out = new Map<string, ServiceSnapshot>();
    for (const [name, { health }] of this.services) out.set(name, health.snapshot());
    return out;
  }

  /** One service's state machine (for `routes explain` and tests). */
  service(name: string): ServiceHealth | undefined {
    return this.services.get(name)?.health;
  }

  /** Subscribe to state changes (or finished rounds); returns the unsubscribe function. */
  on(event: 'change', fn: (t: Transition) => void): () => void;
  on(event: 'round', fn: (r: RoundEvent) => void): () => void;
  on(event: 'change' | 'round', fn: ((t: Transition) => void) | ((r: RoundEvent) => void)): () => void {
    const set = (event === 'change' ? this.changeListeners : this.roundListeners) as Set<typeof fn>;
    set.add(fn);
    return () => set.delete(fn);
  }

  private add(s: ServiceHealthSpec, initial?: ServiceHealthOptions['initial'], firstRoundDecides = false): ServiceHealth {
    const health = new ServiceHealth(pickSpec(s), { ...this.opts, ...(initial ? { initial } : {}), ...(firstRoundDecides ? { firstRoundDecides } : {}) });
    const offChange = health.on('change', (t) => {
      for (const fn of this.changeListeners) fn(t);
    });
    const offRound = health.on('round', (r) => {
      for (const fn of this.roundListeners) fn(r);
      this.firstRoundOf(r.service);
    });
    this.services.set(s.name, { health, key: healthKey(s), unsubscribe: () => (offChange(), offRound()) });
    return health;
  }
}

function pickSpec(s: ServiceHealthSpec): ServiceHealthSpec {
  const { name, checks, combine, intervalMs, fastIntervalMs, timeoutMs, rise, fall, jitterMs } = s;
  return { name, checks, combine, intervalMs, fastIntervalMs, timeoutMs, rise, fall, jitterMs };
}
