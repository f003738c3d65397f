// ProbePacer: a burst of due probe starts runs in order, in slices of
// bounded work with a yield between them; nothing dropped; a lone start is
// not delayed beyond the next slice. ServiceHealth with a pacer: a probe's
// timeout counts from its real start, and a start queued for a round that
// was abandoned (stop) never runs. Time is a fake counter each start
// advances; "a turn of the loop" is one call of the deferred slice.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../bgp/driver/clock.js';
import { ProbePacer, ServiceHealth, type Check, type CheckResult, type ServiceHealthSpec } from '../../../../src/sources/health/index.js';

/** A pacer whose slices run only when the test turns the loop. */
function manual(sliceMs: number) {
  let t = 0;
  const turns: (() => void)[] = [];
  const pacer = new ProbePacer({ sliceMs, now: () => t, defer: (fn) => turns.push(fn) });
  return {
    pacer,
    cost: (ms: number) => (t += ms),
    /** Run one deferred slice; false when none was pending. */
    turn(): boolean {
      const fn = turns.shift();
      if (!fn) return false;
      fn();
      return true;
    },
    pendingTurns: () => turns.length,
  };
}

describe('ProbePacer', () => {
  it('starts a lone probe in the next slice', () => {
    const m = manual(5);
    const started: number[] = [];
    m.pacer.admit(() => started.push(1));
    expect(started).toEqual([]);
    expect(m.pendingTurns()).toBe(1);
    expect(m.turn()).toBe(true);
    expect(started).toEqual([1]);
    expect(m.pacer.backlog).toBe(0);
    expect(m.pendingTurns()).toBe(0);
  });

  it('runs 10,000 starts of 1 ms each in 5 ms slices, in order, yielding between slices, dropping none', () => {
    const m = manual(5);
    const started: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      m.pacer.admit(() => {
        started.push(i);
        m.cost(1);
      });
    }
    // Admitting schedules one slice, not one per start.
    expect(m.pendingTurns()).toBe(1);
    expect(m.pacer.backlog).toBe(10_000);
    let turns = 0;
    let worst = 0;
    while (m.pendingTurns() > 0) {
      const before = started.length;
      m.turn();
      turns++;
      worst = Math.max(worst, started.length - before);
      // Never more than one slice pending: the loop gets its turn in between.
      expect(m.pendingTurns()).toBeLessThanOrEqual(1);
    }
    expect(worst).toBe(5);
    expect(turns).toBe(2_000);
    expect(started).toHaveLength(10_000);
    expect(started.every((v, i) => v === i)).toBe(true);
    expect(m.pacer.maxBacklog).toBe(10_000);
    expect(m.pacer.backlog).toBe(0);
  });

  it('keeps order for starts admitted while a backlog drains (a start that admits another goes to the back)', () => {
    const m = manual(2);
    const started: string[] = [];
    m.pacer.admit(() => {
      started.push('a');
      m.pacer.admit(() => started.push('d'));
      m.cost(1);
    });
    m.pacer.admit(() => {
      started.push('b');
      m.cost(1);
    });
    m.pacer.admit(() => started.push('c'));
    m.turn();
    expect(started).toEqual(['a', 'b']);
    m.turn();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(m.turn()).toBe(false);
  });

  it('a start that throws propagates, and the rest of the backlog still runs', () => {
    const m = manual(5);
    const started: number[] = [];
    m.pacer.admit(() => started.push(1));
    m.pacer.admit(() => {
      throw new Error('probe start failed');
    });
    m.pacer.admit(() => started.push(3));
    expect(() => m.turn()).toThrow('probe start failed');
    expect(started).toEqual([1]);
    expect(m.turn()).toBe(true);
    expect(started).toEqual([1, 3]);
    expect(m.pacer.backlog).toBe(0);
  });

  it('yields to the real event loop between slices (setImmediate by default)', async () => {
    const pacer = new ProbePacer({ sliceMs: 0 });
    const order: string[] = [];
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    for (let i = 0; i < 3; i++) pacer.admit(() => order.push(`start ${i}`));
    // Nothing starts inside admit(); a slice of 0 ms runs one start per turn of the loop.
    expect(order).toEqual([]);
    await turn();
    expect(order).toEqual(['start 0']);
    await turn();
    expect(order).toEqual(['start 0', 'start 1']);
    await turn();
    expect(order).toEqual(['start 0', 'start 1', 'start 2']);
    expect(pacer.slices).toBe(3);
    expect(pacer.backlog).toBe(0);
  });
});

describe('ServiceHealth with a pacer', () => {
  const check: Check = { kind: 'tcp', address: '192.0.2.1', port: 1, timeoutMs: 300 };
  const spec: ServiceHealthSpec = { name: 'web', checks: [check], combine: 'all', intervalMs: 1000, fastIntervalMs: 200, timeoutMs: 300, rise: 1, fall: 1, jitterMs: 0 };

  function setup() {
    const clock = new ManualClock(0);
    const queued: (() => void)[] = [];
    const starts: number[] = [];
    const aborts: number[] = [];
    const prober = (_c: Check, signal: AbortSignal): Promise<CheckResult> => {
      starts.push(clock.now());
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          aborts.push(clock.now());
          resolve({ ok: false, detail: 'timed out', latencyMs: 300 });
        }),
      );
    };
    const h = new ServiceHealth(spec, { clock, prober, random: () => 0, wallClock: () => clock.now(), graceMs: 250, launch: (s) => queued.push(s) });
    return { clock, h, queued, starts, aborts };
  }

  it('hands the due probe to the pacer, and its timeout counts from when it really starts', async () => {
    const { clock, h, queued, starts, aborts } = setup();
    h.start();
    clock.advanceTo(0);
    expect(queued).toHaveLength(1);
    expect(starts).toEqual([]);
    // The pacer had a backlog: the probe starts 700 ms after it was due.
    clock.advanceTo(700);
    queued.shift()!();
    expect(starts).toEqual([700]);
    // Not aborted at due + timeout (300), only at start + timeout (1000).
    clock.advanceTo(999);
    expect(aborts).toEqual([]);
    clock.advanceTo(1000);
    expect(aborts).toEqual([1000]);
    await Promise.resolve();
    h.stop();
  });

  it('a start queued for a round that stop() abandoned never runs the probe', () => {
    const { clock, h, queued, starts } = setup();
    h.start();
    clock.advanceTo(0);
    expect(queued).toHaveLength(1);
    h.stop();
    queued.shift()!();
    expect(starts).toEqual([]);
  });
});
