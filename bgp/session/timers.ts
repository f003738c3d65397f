/**
 * Timers as deadlines (RFC 4271 §8, §10; RFC 9687 §4; STYLE.md §8).
 *
 * The FSM never arms an OS timer. Each running timer is an absolute deadline
 * (ms on the driver's clock) in `SessionState.timers`. The driver keeps one
 * setTimeout for `nextDeadline(session)` and, when it fires, feeds the events
 * from `expiredTimers(session, now)` to `step`. A timer event whose deadline
 * is no longer set (or not yet reached) is stale and ignored by `step`, so a
 * late setTimeout can never act on a timer a transition has already stopped.
 *
 * Also here: the jitter RFC 4271 §10 asks for, a small seeded PRNG so jitter
 * stays a pure function of the state, the ConnectRetry exponential backoff,
 * the IdleHold damping delay (RFC 4271 §8.1.1 DampPeerOscillations) and
 * `heldDown`, the one test of whether that damping (or a stop) is holding the
 * peer down (decision 0025).
 */
import type { SessionConfig } from './config.js';
import type { FsmEvent, SessionState, Timers } from './types.js';

/** Draw a number in [0, 1) from a 32-bit PRNG state (mulberry32); return it with the next state. */
export function nextRandom(state: number): [value: number, next: number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const value = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  return [value, next];
}

/**
 * Apply RFC 4271 §10 jitter: "the base value ... multiplied by a random factor,
 * which is uniformly distributed in the range from 0.75 to 1.0".
 */
export function jitter(baseMs: number, random: number): number {
  return Math.round(baseMs * (0.75 + 0.25 * random));
}

/** Return the un-jittered ConnectRetry delay after `counter` failed attempts: initial × 2^counter, capped. */
export function connectRetryBase(config: SessionConfig, counter: number): number {
  const { initialMs, maxMs } = config.connectRetry;
  return Math.min(maxMs, initialMs * 2 ** Math.min(counter, 30));
}

/** Return the IdleHold delay for a number of unforgiven failures: 0 for none, else initial × 2^(flaps-1), capped. */
export function idleHoldDelay(config: SessionConfig, flaps: number): number {
  if (flaps <= 0) return 0;
  const { initialMs, maxMs } = config.idleHold;
  return Math.min(maxMs, initialMs * 2 ** Math.min(flaps - 1, 30));
}

/**
 * Count the failures left after a connection ends: each full `stableMs` of
 * Established uptime forgives one earlier failure, then this one is added
 * (when it counts as a failure at all).
 */
export function flapsAfterDown(config: SessionConfig, flaps: number, uptimeMs: number | undefined, failure: boolean): number {
  const forgiven = uptimeMs === undefined ? 0 : Math.floor(uptimeMs / config.idleHold.stableMs);
  return Math.max(0, flaps - forgiven) + (failure ? 1 : 0);
}

/**
 * True while the session is deliberately down: never started or stopped by
 * the operator, or damped after a protocol error (an IdleHold deadline runs).
 * Only then is an incoming connection refused (collision.ts) and
 * Idle takes it otherwise (fsm.ts, decision 0025).
 */
export function heldDown(s: SessionState): boolean {
  return s.state === 'Idle' && (!s.autoStart || s.timers.idleHold !== undefined);
}

const TIMER_EVENTS = [
  // Order matters when several deadlines pass at once: the hold timers first,
  // since they end the session and make the rest stale.
  ['hold', 'HoldTimer_Expires'],
  ['sendHold', 'SendHoldTimer_Expires'],
  ['keepalive', 'KeepaliveTimer_Expires'],
  ['connectRetry', 'ConnectRetryTimer_Expires'],
  ['idleHold', 'IdleHoldTimer_Expires'],
] as const satisfies readonly (readonly [keyof Timers, FsmEvent['type']])[];

/** Return the earliest running deadline, or undefined when no timer runs. */
export function nextDeadline(session: SessionState): number | undefined {
  let min: number | undefined;
  for (const [k] of TIMER_EVENTS) {
    const d = session.timers[k];
    if (d !== undefined && (min === undefined || d < min)) min = d;
  }
  return min;
}

/** List the timer events due at `now`, most severe first. */
export function expiredTimers(session: SessionState, now: number): FsmEvent[] {
  const out: FsmEvent[] = [];
  for (const [k, type] of TIMER_EVENTS) {
    const d = session.timers[k];
    if (d !== undefined && d <= now) out.push({ type });
  }
  return out;
}

/** Map a timer event type to the deadline it belongs to. */
export function timerOf(type: FsmEvent['type']): keyof Timers | undefined {
  for (const [k, t] of TIMER_EVENTS) if (t === type) return k;
  return undefined;
}
