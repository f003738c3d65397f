/**
 * The demo's printed timeline: one line per event, stamped with the seconds
 * elapsed since the demo started, so a new user can watch the lab come up,
 * fail over and come back. A failed step is a `DemoStepError`; the runner
 * prints it and exits non-zero. No RFC: this is the `npm run demo` output.
 */

/** A step of the demo that did not do what it should (the demo exits 1). */
export class DemoStepError extends Error {
  override readonly name = 'DemoStepError';
}

/** Print timestamped lines relative to one start time. */
export class Timeline {
  readonly t0: number;

  constructor(
    t0 = Date.now(),
    private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  ) {
    this.t0 = t0;
  }

  /** Format the seconds elapsed at wall time `at` (default now), e.g. "[ 12.3s]". */
  stamp(at = Date.now()): string {
    return `[${((at - this.t0) / 1000).toFixed(1).padStart(5)}s]`;
  }

  /** Print one event; extra lines are indented under it. */
  say(text: string, at = Date.now(), more: readonly string[] = []): void {
    this.out(`${this.stamp(at)} ${text}`);
    for (const m of more) this.out(`         ${m}`);
  }

  /** Print a section heading that names the next step. */
  step(title: string): void {
    this.out('');
    this.out(`${this.stamp()} == ${title}`);
  }

  /** Throw a DemoStepError unless cond holds. */
  check(cond: boolean, failure: string): asserts cond {
    if (!cond) throw new DemoStepError(failure);
  }
}

/** Format milliseconds as seconds with one decimal, e.g. "2.1 s". */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
