/**
 * How late the session engine's timers ran (issue 12; decisions 0020, 0034).
 *
 * Owns: `LatenessRecorder`, a fixed-bucket histogram of how long after its
 * deadline each Clock timer callback started (the keepalive, hold,
 * ConnectRetry and IdleHold deadlines of every peer; BFD's deadlines run in
 * a thread of their own since decision 0040 and show as each session's
 * largest transmit and receive gaps instead), its maximum since
 * start and over the last one to two minutes, and `TimerLateness`, the
 * plain-data view the engine pushes to the main thread with the peer
 * snapshots.
 *
 * The recorder sits on the real clock's timer path (clock.ts), so it is
 * called once per timer callback: `record()` does a few comparisons and
 * increments on preallocated numbers — no allocation, no clock read of its
 * own.
 *
 * Lateness is the engine thread's own delay: a deadline that was already
 * past when the timer was set counts from the moment it was set, not from
 * the deadline (it could not have run earlier).
 *
 * No RFC: RFC 4271 §10 sets the timers; this measures how well they are kept.
 */

/** Histogram bucket upper bounds, milliseconds (Prometheus `le`, in seconds on export); the last bucket is +Inf. */
export const LATENESS_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The recent maximum covers the current window and the one before it. */
const WINDOW_MS = 60_000;

/** Timer lateness as the engine reports it (plain data, crosses the thread boundary). */
export interface TimerLateness {
  /** Timer callbacks measured since the engine started. */
  count: number;
  /** Sum of their lateness, ms. */
  sumMs: number;
  /** The worst lateness since the engine started, ms. */
  maxMs: number;
  /** The worst lateness over the last one to two minutes, ms. */
  recentMaxMs: number;
  /** 99th percentile, ms: the upper bound of the bucket it falls in, or maxMs when that is lower. */
  p99Ms: number;
  /** Cumulative counts per bucket upper bound (ms), as Prometheus `le` buckets; +Inf is `count`. */
  buckets: { leMs: number; count: number }[];
}

/** Counts timer lateness into fixed buckets without allocating. */
export class LatenessRecorder {
  /** Per bucket (not cumulative); the last slot is +Inf. */
  private readonly counts = new Float64Array(LATENESS_BOUNDS_MS.length + 1);
  private count = 0;
  private sum = 0;
  private max = 0;
  private windowStart = -Infinity;
  private windowMax = 0;
  private previousWindowMax = 0;

  /** Note one callback that started `lateMs` after it could first have run, at clock time `nowMs`. */
  record(lateMs: number, nowMs: number): void {
    const late = lateMs > 0 ? lateMs : 0;
    let i = 0;
    const n = LATENESS_BOUNDS_MS.length;
    while (i < n && late > LATENESS_BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += late;
    if (late > this.max) this.max = late;
    if (nowMs - this.windowStart >= WINDOW_MS) {
      // A window with no timer at all leaves nothing to remember.
      this.previousWindowMax = nowMs - this.windowStart >= 2 * WINDOW_MS ? 0 : this.windowMax;
      this.windowMax = 0;
      this.windowStart = nowMs;
    }
    if (late > this.windowMax) this.windowMax = late;
  }

  /** The figures so far (allocates; called once per snapshot push, not per timer). */
  snapshot(): TimerLateness {
    const buckets: { leMs: number; count: number }[] = [];
    let cum = 0;
    let p99: number | null = null;
    const target = this.count * 0.99;
    for (let i = 0; i < LATENESS_BOUNDS_MS.length; i++) {
      cum += this.counts[i]!;
      buckets.push({ leMs: LATENESS_BOUNDS_MS[i]!, count: cum });
      if (p99 === null && this.count > 0 && cum >= target) p99 = Math.min(LATENESS_BOUNDS_MS[i]!, this.max);
    }
    return {
      count: this.count,
      sumMs: round3(this.sum),
      maxMs: round3(this.max),
      recentMaxMs: round3(Math.max(this.windowMax, this.previousWindowMax)),
      p99Ms: round3(p99 ?? this.max),
      buckets,
    };
  }
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;
