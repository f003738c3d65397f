/**
 * The health checks' deadlines on one Clock timer: every service's next
 * round and every probe's timeout (and hung grace) in one binary min-heap,
 * with a single timer armed for the earliest (STYLE.md §8: timers kept as
 * deadlines, the driver holding one timer; OpenBGPD's timer.c does the same).
 *
 * A thousand services probed every second set two deadlines a probe (its
 * timeout, then the service's next round) and cancel one. As Clock timers
 * that was two timer objects and their closures a probe, each next-round
 * timer living a second (long enough to be promoted to the old heap). Here a
 * deadline is a small object its owner makes once and reuses for its whole
 * life (`Deadline`), moved in the heap in O(log n), and the one Clock timer
 * is re-armed only when the earliest deadline moves earlier: a timer that
 * falls due early for a deadline that was cleared or moved later just arms
 * the next one. Deadlines due by the time it fires run in one go, earliest
 * first, ties in the order they were set.
 *
 * Timer slack (`slackMs`, as Linux's timer_slack for the same reason): the
 * one timer is armed for the earliest deadline rounded up to a multiple of
 * the slack, so every deadline due in the same slack-long slot runs in one
 * wake-up. A thousand services each probed every second, with jitter, fall
 * due at a thousand scattered moments; woken for each, the daemon paid an
 * epoll wake-up, a timer and a pacer turn per probe. With a 10 ms slack it
 * wakes at most 100 times a second for them (measured, 1,000 TCP checks:
 * 234–263 → 53–65 wake-ups a second, CPU 10.3–12.0 → 8.2–10.0 % of a
 * core; decision 0045). A deadline runs at most `slackMs` late, never early.
 *
 * Bound: one entry per Deadline object at most (setting a queued one moves
 * it), so the heap holds at most the services' and checks' deadlines.
 *
 * No RFC: herald's own scheduling.
 */
import type { Clock } from '../../../bgp/index.js';

/** A deadline its owner reuses: set it, clear it, set it again. */
export class Deadline {
  /** When it falls due (the clock's ms), while queued. */
  at = 0;
  /** Tie-break: the order deadlines were set in. */
  seq = 0;
  /** Position in the heap; -1 while not queued. */
  slot = -1;

  constructor(readonly fire: () => void) {}

  /** Whether it is set and has not fired or been cleared. */
  get pending(): boolean {
    return this.slot >= 0;
  }
}

export class DeadlineQueue {
  private readonly heap: Deadline[] = [];
  private seq = 0;
  /** The deadline the Clock timer is armed for (Infinity: none armed). */
  private armedAt = Infinity;
  private cancelArmed: (() => void) | null = null;

  /** `slackMs`: deadlines may run up to this late so that neighbours share a wake-up (0: exact). */
  constructor(
    private readonly clock: Clock,
    private readonly slackMs = 0,
  ) {}

  /** Deadlines waiting. */
  get size(): number {
    return this.heap.length;
  }

  /** Set `d` to fall due at `atMs` (moving it when it is already set). */
  set(d: Deadline, atMs: number): void {
    d.at = atMs;
    d.seq = this.seq++;
    if (d.slot < 0) {
      d.slot = this.heap.length;
      this.heap.push(d);
      this.up(d.slot);
    } else {
      // A later seq can only sink it among equal deadlines; an earlier or later at may move it either way.
      this.down(d.slot);
      this.up(d.slot);
    }
    this.armFor(atMs);
  }

  /** Clear `d` if it is set (the Clock timer stays; if it falls due first it just arms the next). */
  clear(d: Deadline): void {
    const i = d.slot;
    if (i < 0) return;
    d.slot = -1;
    const last = this.heap.pop()!;
    if (last === d) return;
    this.heap[i] = last;
    last.slot = i;
    this.down(i);
    this.up(last.slot);
  }

  /** Arm the timer for a deadline at `atMs` (rounded up to the slack) unless it is armed for that slot or earlier. */
  private armFor(atMs: number): void {
    const slot = this.slackMs > 0 ? Math.ceil(atMs / this.slackMs) * this.slackMs : atMs;
    if (slot < this.armedAt) this.arm(slot);
  }

  private arm(atMs: number): void {
    this.cancelArmed?.();
    this.armedAt = atMs;
    this.cancelArmed = this.clock.setTimer(atMs, this.due);
  }

  /** The Clock timer: run every deadline due by now, then arm for the next. */
  private readonly due = (): void => {
    this.armedAt = Infinity;
    this.cancelArmed = null;
    const now = this.clock.now();
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const d = heap[0]!;
      this.clear(d);
      d.fire();
    }
    if (heap.length > 0) this.armFor(heap[0]!.at);
  };

  private before(a: Deadline, b: Deadline): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    const d = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!this.before(d, parent)) break;
      heap[i] = parent;
      parent.slot = i;
      i = p;
    }
    heap[i] = d;
    d.slot = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const d = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!this.before(child, d)) break;
      heap[i] = child;
      child.slot = i;
      i = c;
    }
    heap[i] = d;
    d.slot = i;
  }
}
