/**
 * The clock the driver reads and arms timers with (STYLE.md §8).
 *
 * Owns: the `Clock` interface, the real monotonic clock, and `ManualClock`
 * for tests. The session FSM keeps its timers (ConnectRetry, Hold, Keepalive,
 * RFC 4271 §10) as deadlines in milliseconds of this clock; the driver keeps
 * one timer for the earliest deadline. Time is monotonic: wall-clock jumps
 * (NTP steps, a changed date) never fire or delay a BGP timer. The real
 * clock can count how late each callback ran (lateness.ts, decision 0034).
 */
import type { LatenessRecorder } from './lateness.js';

/** Options of one timer. */
export interface TimerOptions {
  /**
   * Do not keep the process alive for this timer alone (Node's
   * `timeout.unref()`): housekeeping such as a socket's close deadline or a
   * periodic re-read. Ignored by ManualClock.
   */
  unref?: boolean;
}

/**
 * Monotonic milliseconds and deadline timers. Every timer in bgp/driver and
 * src/ goes through one (STYLE.md §8), so a test moves time with a
 * ManualClock instead of sleeping. Wall-clock stamps shown to people (an
 * ISO "since") are not timers and read Date.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Call `fn` once, when `now()` has reached `atMs`; returns a function that cancels it. */
  setTimer(atMs: number, fn: () => void, opts?: TimerOptions): () => void;
}

/** Call `fn` once, `ms` from now on `clock`; returns the cancel function. */
export function after(clock: Clock, ms: number, fn: () => void, opts?: TimerOptions): () => void {
  return clock.setTimer(clock.now() + ms, fn, opts);
}

/**
 * Call `fn` every `ms` on `clock` until the returned function is called.
 * Each run is scheduled from the deadline of the one before, so a slow run
 * does not shift the period; a run that falls more than a period behind is
 * skipped rather than repeated.
 */
export function every(clock: Clock, ms: number, fn: () => void, opts?: TimerOptions): () => void {
  let cancel: (() => void) | null = null;
  let stopped = false;
  const arm = (at: number): void => {
    cancel = clock.setTimer(
      at,
      () => {
        if (stopped) return;
        const now = clock.now();
        let next = at + ms;
        if (next <= now) next = now + ms;
        arm(next);
        fn();
      },
      opts,
    );
  };
  arm(clock.now() + ms);
  return () => {
    stopped = true;
    cancel?.();
    cancel = null;
  };
}

/** Node clamps setTimeout delays above 2^31 - 1 ms to 1 ms; longer waits are chained. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The real clock: performance.now() and setTimeout. With a `lateness`
 * recorder, each callback's delay past its deadline is counted (lateness.ts).
 */
export function createRealClock(lateness?: LatenessRecorder): Clock {
  return {
    now: () => performance.now(),
    setTimer(atMs, fn, opts) {
      let handle: NodeJS.Timeout | undefined;
      let cancelled = false;
      const unref = opts?.unref === true;
      // A deadline already past when set could not have run before now.
      const setAt = performance.now();
      const arm = (): void => {
        const now = performance.now();
        const remaining = atMs - now;
        if (remaining <= 0) {
          handle = undefined;
          lateness?.record(now - (atMs > setAt ? atMs : setAt), now);
          fn();
          return;
        }
        // setTimeout rounds to whole ms on libuv's loop clock and may fire a
        // fraction early by performance.now(); re-arm so fn always sees now() >= atMs.
        handle = setTimeout(() => {
          if (!cancelled) arm();
        }, Math.min(Math.ceil(remaining), MAX_DELAY_MS));
        if (unref) handle.unref();
      };
      // Always call fn asynchronously, even for a deadline already past.
      handle = setTimeout(() => {
        if (!cancelled) arm();
      }, Math.min(Math.max(0, Math.ceil(atMs - setAt)), MAX_DELAY_MS));
      if (unref) handle.unref();
      return () => {
        cancelled = true;
        if (handle) clearTimeout(handle);
        handle = undefined;
      };
    },
  };
}

/** The real clock without lateness figures. */
export const realClock: Clock = createRealClock();

interface ManualTimer {
  atMs: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, for tests.
 *
 * `advance(ms)` fires every timer due within the step in deadline order
 * (equal deadlines in the order they were set), with `now()` equal to the
 * timer's deadline while it runs; timers set by a firing timer that fall due
 * within the same step fire too.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimer(atMs: number, fn: () => void): () => void {
    const timer: ManualTimer = { atMs, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  /** Move time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`ManualClock cannot go backwards (advance(${ms}))`);
    this.advanceTo(this.t + ms);
  }

  /** Move time forward to `atMs`, firing due timers in order. */
  advanceTo(atMs: number): void {
    if (atMs < this.t) throw new Error(`ManualClock cannot go backwards (${this.t} → ${atMs})`);
    for (;;) {
      const next = this.earliest();
      if (!next || next.atMs > atMs) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.atMs > this.t) this.t = next.atMs;
      next.fn();
    }
    this.t = atMs;
  }

  /** Deadline of the earliest pending timer, if any. */
  nextDeadline(): number | undefined {
    return this.earliest()?.atMs;
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.length;
  }

  private earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (!best || t.atMs < best.atMs || (t.atMs === best.atMs && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
