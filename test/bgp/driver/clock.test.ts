import { describe, expect, it } from 'vitest';
import { after, every, ManualClock, realClock, type Clock } from '../../../bgp/driver/clock.js';

describe('ManualClock', () => {
  it('fires due timers in deadline order, equal deadlines in the order set, with now() at each deadline', () => {
    const c = new ManualClock(1000);
    const log: string[] = [];
    c.setTimer(1300, () => log.push(`c@${c.now()}`));
    c.setTimer(1100, () => log.push(`a@${c.now()}`));
    c.setTimer(1200, () => log.push(`b1@${c.now()}`));
    c.setTimer(1200, () => log.push(`b2@${c.now()}`));
    c.setTimer(1400, () => log.push(`late@${c.now()}`));
    c.advance(250);
    expect(log).toEqual(['a@1100', 'b1@1200', 'b2@1200']);
    expect(c.now()).toBe(1250);
    expect(c.pending).toBe(2);
    expect(c.nextDeadline()).toBe(1300);
    c.advance(50);
    expect(log.at(-1)).toBe('c@1300');
    c.advanceTo(1400);
    expect(log).toEqual(['a@1100', 'b1@1200', 'b2@1200', 'c@1300', 'late@1400']);
    expect(c.pending).toBe(0);
    expect(c.nextDeadline()).toBeUndefined();
  });

  it('never fires a cancelled timer; cancelling twice or after firing is harmless', () => {
    const c = new ManualClock();
    const log: string[] = [];
    const cancelA = c.setTimer(10, () => log.push('a'));
    const cancelB = c.setTimer(20, () => log.push('b'));
    cancelA();
    cancelA();
    c.advance(30);
    cancelB();
    expect(log).toEqual(['b']);
  });

  it('fires timers set by a firing timer when they fall due within the same advance, and not before', () => {
    const c = new ManualClock();
    const log: number[] = [];
    // a keepalive-like timer re-arming itself every 30 ms
    const tick = (): void => {
      log.push(c.now());
      c.setTimer(c.now() + 30, tick);
    };
    c.setTimer(30, tick);
    c.advance(100);
    expect(log).toEqual([30, 60, 90]);
    expect(c.nextDeadline()).toBe(120);
  });

  it('lets a firing timer cancel a later one that is also due', () => {
    const c = new ManualClock();
    const log: string[] = [];
    let cancelHold = (): void => {};
    c.setTimer(5, () => {
      log.push('keepalive');
      cancelHold();
    });
    cancelHold = c.setTimer(6, () => log.push('hold'));
    c.advance(10);
    expect(log).toEqual(['keepalive']);
  });

  it('fires a timer set in the past on the next advance without moving time back', () => {
    const c = new ManualClock(500);
    let at = -1;
    c.setTimer(100, () => (at = c.now()));
    c.advance(0);
    expect(at).toBe(500);
  });

  it('refuses to go backwards', () => {
    const c = new ManualClock(10);
    expect(() => c.advance(-1)).toThrow(/backwards/);
    expect(() => c.advanceTo(5)).toThrow(/backwards/);
    expect(() => c.advance(Number.NaN)).toThrow(/backwards/);
  });
});

describe('realClock', () => {
  it('is monotonic and fires a timer no earlier than its deadline', async () => {
    const t0 = realClock.now();
    const seen = await Promise.all(
      [5, 1, 12, 3].map(
        (d) =>
          new Promise<[number, number]>((resolve) => {
            const at = t0 + d + 0.3; // a fractional deadline: setTimeout alone could fire early
            realClock.setTimer(at, () => resolve([at, realClock.now()]));
          }),
      ),
    );
    for (const [at, fired] of seen) {
      expect(fired).toBeGreaterThanOrEqual(at);
      expect(fired - at).toBeLessThan(200);
    }
    expect(realClock.now()).toBeGreaterThanOrEqual(t0);
  });

  it('fires a past deadline asynchronously and never fires a cancelled timer', async () => {
    let fired = false;
    realClock.setTimer(realClock.now() - 1000, () => (fired = true));
    expect(fired).toBe(false);
    let cancelledFired = false;
    const cancel = realClock.setTimer(realClock.now() + 5, () => (cancelledFired = true));
    cancel();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(true);
    expect(cancelledFired).toBe(false);
  });
});

describe('after and every', () => {
  it('after: once, at now + ms; cancelled, never', () => {
    const c = new ManualClock(500);
    const log: number[] = [];
    after(c, 100, () => log.push(c.now()));
    const cancel = after(c, 150, () => log.push(-1));
    cancel();
    c.advance(1000);
    expect(log).toEqual([600]);
    expect(c.pending).toBe(0);
  });

  it('every: each period from the deadline before; cancel (also from inside a run) leaves no timer', () => {
    const c = new ManualClock(0);
    const log: number[] = [];
    const stop = every(c, 250, () => log.push(c.now()));
    c.advance(1000);
    expect(log).toEqual([250, 500, 750, 1000]);
    stop();
    expect(c.pending).toBe(0);
    c.advance(1000);
    expect(log).toHaveLength(4);

    const runs: number[] = [];
    const stopInside: () => void = every(c, 100, () => {
      runs.push(c.now());
      if (runs.length === 2) stopInside();
    });
    c.advance(1000);
    expect(runs).toEqual([2100, 2200]);
    expect(c.pending).toBe(0);
  });

  it('every: a run more than a period late is skipped, not repeated', () => {
    // A clock whose timers are fired by hand, late.
    let t = 0;
    const armed: { at: number; fn: () => void }[] = [];
    const clock: Clock = { now: () => t, setTimer: (at, fn) => (armed.push({ at, fn }), () => {}) };
    let runs = 0;
    every(clock, 100, () => runs++);
    expect(armed.map((a) => a.at)).toEqual([100]);
    t = 350; // 2.5 periods late
    armed.shift()!.fn();
    expect(runs).toBe(1);
    expect(armed.map((a) => a.at)).toEqual([450]); // now + period, not 200 and 300
    t = 460;
    armed.shift()!.fn();
    expect(armed.map((a) => a.at)).toEqual([550]); // on the deadline grid again
    expect(runs).toBe(2);
  });
});
