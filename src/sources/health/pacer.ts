/**
 * Starts health probes in bounded slices (issue 12, decision 0034).
 *
 * Ten thousand services with the same interval fall due in the same
 * millisecond; started from their timers in one go, their probes hold the
 * daemon's event loop for seconds (a TCP connect, an AbortController and two
 * timers each), and everything else on that loop — the control API,
 * SIGTERM, the reconciler's hand-off to the session engine — waits behind
 * them. The pacer takes each due probe's start function and runs them in
 * order, at most `sliceMs` of work per turn of the event loop, yielding
 * between slices (setImmediate runs after the loop has polled for I/O and
 * signals). A lone probe still starts within the same turn.
 *
 * Order is kept (first due, first started) and nothing is dropped; a probe
 * waits only while there is a backlog. Its timeout counts from its own start
 * (service.ts), so waiting here never turns into a false timeout.
 *
 * Bound: a service queues at most one start per check (its next round
 * begins only when this one has finished), so the queue never holds more
 * than the configured checks; the array is dropped whenever it drains.
 *
 * No RFC: herald's own scheduling.
 */

/** Work per slice before the loop gets its turn (ms). */
export const PACER_SLICE_MS = 5;

export interface ProbePacerOptions {
  /** Work per slice (default PACER_SLICE_MS). */
  sliceMs?: number;
  /** Monotonic ms (default performance.now); tests make a start "cost" time. */
  now?: () => number;
  /** Run `fn` after the loop has polled for I/O (default setImmediate). */
  defer?: (fn: () => void) => void;
}

export class ProbePacer {
  private queue: ((() => void) | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  private readonly sliceMs: number;
  private readonly now: () => number;
  private readonly defer: (fn: () => void) => void;
  /** The longest backlog seen (probes waiting at once). */
  maxBacklog = 0;
  /** Slices run so far (one per turn of the loop that had work). */
  slices = 0;

  constructor(opts: ProbePacerOptions = {}) {
    this.sliceMs = opts.sliceMs ?? PACER_SLICE_MS;
    this.now = opts.now ?? (() => performance.now());
    this.defer = opts.defer ?? ((fn) => void setImmediate(fn));
  }

  /** Probes waiting to start. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Queue a probe start; it runs in the next slice or a later one, in order. */
  readonly admit = (start: () => void): void => {
    this.queue.push(start);
    if (this.backlog > this.maxBacklog) this.maxBacklog = this.backlog;
    if (!this.scheduled) {
      this.scheduled = true;
      this.defer(this.run);
    }
  };

  /** One slice: start probes until the slice's time is used, then yield. */
  private readonly run = (): void => {
    this.scheduled = false;
    this.slices++;
    const until = this.now() + this.sliceMs;
    try {
      while (this.head < this.queue.length) {
        const start = this.queue[this.head]!;
        this.queue[this.head++] = undefined;
        start();
        if (this.now() >= until) break;
      }
    } finally {
      // A start that throws propagates as it would from its own timer; the
      // rest of the backlog still gets its slices.
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (!this.scheduled) {
        this.scheduled = true;
        this.defer(this.run);
      }
    }
  };
}
