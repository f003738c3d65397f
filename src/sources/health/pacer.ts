/**
 * Starts health probes in bounded slices (issue 12).
 *
 * Ten thousand services with the same interval fall due in the same
 * millisecond; started from their timers in one go, their probes hold the
 * daemon's event loop for seconds (a TCP connect, an AbortController and two
 * timers each), and everything else on that loop — the control API,
 * SIGTERM, the reconciler's hand-off to the session engine — waits behind
 * them. The pacer takes each due probe's start function and runs them in
 * order, at most SLICE_MS of work per turn of the event loop, yielding
 * between slices (setImmediate runs after the loop has polled for I/O and
 * signals). A lone probe still starts within the same turn.
 *
 * Order is kept (first due, first started) and nothing is dropped; a probe
 * waits only while there is a backlog. Its timeout counts from its own start
 * (service.ts), so waiting here never turns into a false timeout.
 *
 * No RFC: herald's own scheduling.
 */

/** Work per slice before the loop gets its turn (ms). */
export const PACER_SLICE_MS = 5;

export class ProbePacer {
  private queue: ((() => void) | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  /** The longest backlog seen (probes waiting at once). */
  maxBacklog = 0;

  constructor(private readonly sliceMs = PACER_SLICE_MS) {}

  /** Probes waiting to start. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Queue a probe start; it runs in this turn's slice or a later one. */
  readonly admit = (start: () => void): void => {
    this.queue.push(start);
    if (this.backlog > this.maxBacklog) this.maxBacklog = this.backlog;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  };

  private readonly run = (): void => {
    this.scheduled = false;
    const until = performance.now() + this.sliceMs;
    while (this.head < this.queue.length) {
      const start = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      start();
      if (performance.now() >= until) break;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    this.scheduled = true;
    setImmediate(this.run);
  };
}
