/**
 * Give memory back after large hand-offs (decision 0047).
 *
 * A million routes handed to the session engine, then withdrawn and handed
 * again, left herald at ~295 MB of RSS after a full collection while its
 * main heap held 13 MB: the engine's freed buffers went back to glibc's
 * allocator, which keeps them (its mmap threshold grows with the largest
 * block freed, so later large blocks come from arenas that are not given
 * back). `malloc_trim(0)` returns every free page; it cost a few
 * milliseconds once, measured, where changing how glibc allocates
 * (MALLOC_MMAP_THRESHOLD_) made every bulk hand-off 15–25 % slower.
 *
 * When: buffers are freed only when the thread that held them collects its
 * garbage, which an idle thread does some seconds later (V8's memory
 * reducer looks ~8 s after activity). So the trim runs once, `delayMs`
 * after the hand-offs since the last trim have moved `minRoutes` routes
 * (announced or withdrawn); small changes never trigger one.
 *
 * No RFC: herald's own memory.
 */
import { after, type Clock } from '../../bgp/index.js';

export interface MemoryTrimOptions {
  clock: Clock;
  /** Gives the free memory back; returns whether any was (libc.ts trimMalloc). */
  trim: () => boolean;
  /** Routes moved since the last trim before one is scheduled. */
  minRoutes?: number;
  /** How long after that the trim runs. */
  delayMs?: number;
  /** Told what each trim did. */
  report?: (r: { routes: number; released: boolean; ms: number }) => void;
}

/** Routes moved (announced plus withdrawn) that make a trim worth it. */
export const TRIM_MIN_ROUTES = 50_000;
/** The wait for the threads to have collected what those routes held. */
export const TRIM_DELAY_MS = 30_000;

export class MemoryTrim {
  private moved = 0;
  private cancel: (() => void) | null = null;
  private readonly minRoutes: number;
  private readonly delayMs: number;

  constructor(private readonly o: MemoryTrimOptions) {
    this.minRoutes = o.minRoutes ?? TRIM_MIN_ROUTES;
    this.delayMs = o.delayMs ?? TRIM_DELAY_MS;
  }

  /** A hand-off moved `routes` routes. */
  handedOff(routes: number): void {
    this.moved += routes;
    if (this.cancel || this.moved < this.minRoutes) return;
    this.cancel = after(this.o.clock, this.delayMs, () => this.run(), { unref: true });
  }

  /** Stop (the daemon stops): a scheduled trim does not run. */
  close(): void {
    this.cancel?.();
    this.cancel = null;
  }

  private run(): void {
    this.cancel = null;
    const routes = this.moved;
    this.moved = 0;
    const t0 = performance.now();
    let released = false;
    try {
      released = this.o.trim();
    } catch {
      // Not glibc, or koffi cannot load: nothing to give back this way.
    }
    this.o.report?.({ routes, released, ms: performance.now() - t0 });
  }
}
