// bgp/driver/lateness.ts and the real clock's measuring path: buckets,
// maximum, recent maximum, p99 from the buckets; and a real timer's lateness
// as the clock records it (a callback held up by a busy loop counts from its
// deadline; a deadline already past when set counts from when it was set).
import { describe, expect, it } from 'vitest';
import { createRealClock, LatenessRecorder, LATENESS_BOUNDS_MS } from '../../../bgp/index.js';

describe('LatenessRecorder', () => {
  it('counts into cumulative buckets with sum, max and a p99 read from the buckets', () => {
    const r = new LatenessRecorder();
    expect(r.snapshot()).toMatchObject({ count: 0, sumMs: 0, maxMs: 0, recentMaxMs: 0, p99Ms: 0 });
    for (let i = 0; i < 990; i++) r.record(0.5, 0);
    for (let i = 0; i < 9; i++) r.record(30, 0);
    r.record(1_200, 0);
    const s = r.snapshot();
    expect(s.count).toBe(1000);
    expect(s.sumMs).toBeCloseTo(990 * 0.5 + 9 * 30 + 1200, 6);
    expect(s.maxMs).toBe(1200);
    expect(s.buckets.map((b) => b.leMs)).toEqual([...LATENESS_BOUNDS_MS]);
    const at = (le: number): number => s.buckets.find((b) => b.leMs === le)!.count;
    expect(at(1)).toBe(990);
    expect(at(25)).toBe(990);
    expect(at(50)).toBe(999);
    expect(at(1000)).toBe(999);
    expect(at(2500)).toBe(1000);
    // 99 % of 1000 = 990 callbacks fall in the first bucket: p99 is its bound.
    expect(s.p99Ms).toBe(1);
    r.record(0.2, 0);
    r.record(0.2, 0);
    for (let i = 0; i < 20; i++) r.record(30, 0);
    expect(r.snapshot().p99Ms).toBe(50);
  });

  it('counts a negative figure (clock granularity) as zero and beyond the last bound as +Inf', () => {
    const r = new LatenessRecorder();
    r.record(-0.3, 0);
    r.record(60_000, 0);
    const s = r.snapshot();
    expect(s.buckets[0]!.count).toBe(1);
    expect(s.buckets.at(-1)!.count).toBe(1);
    expect(s.count).toBe(2);
    expect(s.maxMs).toBe(60_000);
  });

  it('keeps a recent maximum over the last one to two minutes', () => {
    const r = new LatenessRecorder();
    r.record(400, 0);
    r.record(3, 30_000);
    expect(r.snapshot().recentMaxMs).toBe(400);
    r.record(2, 61_000); // a new window: the previous one still counts
    expect(r.snapshot().recentMaxMs).toBe(400);
    r.record(1, 125_000); // two windows on: the 400 ms has aged out
    expect(r.snapshot()).toMatchObject({ recentMaxMs: 2, maxMs: 400 });
    r.record(1, 400_000); // after a long silence nothing old is remembered
    expect(r.snapshot().recentMaxMs).toBe(1);
  });
});

describe('the real clock with a recorder', () => {
  it('records how late a callback ran behind a busy loop, from its deadline', async () => {
    const r = new LatenessRecorder();
    const clock = createRealClock(r);
    const at = clock.now() + 5;
    const ran = new Promise<number>((resolve) => clock.setTimer(at, () => resolve(clock.now())));
    const spinUntil = clock.now() + 60;
    while (clock.now() < spinUntil) {
      /* hold the thread past the deadline */
    }
    const firedAt = await ran;
    const s = r.snapshot();
    console.log(`lateness: a 5 ms timer behind a 60 ms busy loop ran ${(firedAt - at).toFixed(1)} ms late; recorded max ${s.maxMs} ms`);
    expect(s.count).toBe(1);
    expect(s.maxMs).toBeGreaterThanOrEqual(50);
    expect(s.maxMs).toBeLessThanOrEqual(firedAt - at + 0.01);
  });

  it('counts a deadline already past when set from the moment it was set, and a cancelled timer not at all', async () => {
    const r = new LatenessRecorder();
    const clock = createRealClock(r);
    const cancel = clock.setTimer(clock.now() + 1, () => {
      throw new Error('cancelled timer ran');
    });
    cancel();
    await new Promise<void>((resolve) => clock.setTimer(clock.now() - 10_000, resolve));
    const s = r.snapshot();
    expect(s.count).toBe(1);
    expect(s.maxMs).toBeLessThan(1_000);
  });
});
