// DeadlineQueue: the health checks' deadlines (next rounds, probe timeouts)
// in one heap on one Clock timer. Each deadline fires once, at its time,
// earliest first and ties in the order they were set; clearing or moving one
// is honoured; the Clock carries one timer at most; random sequences of
// set/clear/advance agree with a plain list kept beside it; and with a timer
// slack, deadlines of one slack-long slot share one wake-up, never early and
// at most the slack late.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../bgp/driver/clock.js';
import { Deadline, DeadlineQueue } from '../../../../src/sources/health/deadlines.js';

function setup() {
  const clock = new ManualClock(0);
  const q = new DeadlineQueue(clock);
  const fired: string[] = [];
  const make = (name: string): Deadline => new Deadline(() => fired.push(`${name}@${clock.now()}`));
  return { clock, q, fired, make };
}

describe('DeadlineQueue', () => {
  it('fires each deadline once at its time, earliest first, ties in the order set, on one Clock timer', () => {
    const { clock, q, fired, make } = setup();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(make) as [Deadline, Deadline, Deadline, Deadline];
    q.set(c, 30);
    q.set(a, 10);
    q.set(d, 30);
    q.set(b, 20);
    expect(clock.pending).toBe(1);
    clock.advanceTo(25);
    expect(fired).toEqual(['a@10', 'b@20']);
    expect([a.pending, b.pending, c.pending]).toEqual([false, false, true]);
    clock.advanceTo(100);
    expect(fired).toEqual(['a@10', 'b@20', 'c@30', 'd@30']);
    expect(q.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a cleared deadline never fires; a moved one fires only at its new time', () => {
    const { clock, q, fired, make } = setup();
    const a = make('a');
    const b = make('b');
    q.set(a, 10);
    q.set(b, 20);
    q.clear(a);
    q.clear(a); // twice is harmless
    q.set(b, 50); // later
    clock.advanceTo(40);
    expect(fired).toEqual([]);
    q.set(b, 45); // earlier again
    q.set(a, 41);
    clock.advanceTo(60);
    expect(fired).toEqual(['a@41', 'b@45']);
  });

  it('a deadline set while others fire, already due, runs in the same go; one set later waits', () => {
    const { clock, q, fired, make } = setup();
    const later = make('later');
    const now = make('now');
    const first = new Deadline(() => {
      fired.push(`first@${clock.now()}`);
      q.set(now, clock.now());
      q.set(later, clock.now() + 5);
    });
    q.set(first, 10);
    clock.advanceTo(12);
    expect(fired).toEqual(['first@10', 'now@10']);
    clock.advanceTo(20);
    expect(fired).toEqual(['first@10', 'now@10', 'later@15']);
  });

  it('random set, clear and advance agree with a plain list', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.nat(23), at: fc.nat(200) }),
      fc.record({ kind: fc.constant('clear' as const), id: fc.nat(23) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(60) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
        const clock = new ManualClock(0);
        const q = new DeadlineQueue(clock);
        const got: string[] = [];
        const want: string[] = [];
        // The model: id → [at, seq]; due entries fire in (at, seq) order, at now = at (or later when set in the past).
        const model = new Map<number, [number, number]>();
        let seq = 0;
        const ds = Array.from({ length: 24 }, (_, id) => new Deadline(() => got.push(`${id}@${clock.now()}`)));
        for (const o of ops) {
          if (o.kind === 'set') {
            const at = clock.now() + o.at;
            q.set(ds[o.id]!, at);
            model.set(o.id, [at, seq++]);
          } else if (o.kind === 'clear') {
            q.clear(ds[o.id]!);
            model.delete(o.id);
          } else {
            const until = clock.now() + o.ms;
            const due = [...model].filter(([, [at]]) => at <= until).sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]);
            for (const [id, [at]] of due) {
              want.push(`${id}@${at}`);
              model.delete(id);
            }
            clock.advanceTo(until);
          }
          if (got.join() !== want.join() || q.size !== model.size || clock.pending > 1) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('with a slack, deadlines of one slot run in one wake-up, never early and at most the slack late', () => {
    const clock = new ManualClock(0);
    const q = new DeadlineQueue(clock, 10);
    const fired: string[] = [];
    const make = (name: string): Deadline => new Deadline(() => fired.push(`${name}@${clock.now()}`));
    for (const [name, at] of [['a', 1], ['b', 9], ['c', 3], ['d', 10], ['e', 12]] as const) q.set(make(name), at);
    let wakeups = 0;
    for (let t = 1; t <= 30; t++) {
      const before = fired.length;
      clock.advanceTo(t);
      if (fired.length > before) wakeups++;
    }
    expect(fired).toEqual(['a@10', 'c@10', 'b@10', 'd@10', 'e@20']);
    expect(wakeups).toBe(2);
  });

  it('random deadlines with a slack each run once, in (time, set order) order, between their time and a slack later', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 25 }), fc.array(fc.tuple(fc.nat(200), fc.nat(40)), { minLength: 1, maxLength: 60 }), (slack, sets) => {
        const clock = new ManualClock(0);
        const q = new DeadlineQueue(clock, slack);
        const runs: { id: number; t: number }[] = [];
        const wanted: { at: number; setAt: number }[] = [];
        // Each entry: a deadline `at` ms ahead, set after `gap` ms of clock time.
        sets.forEach(([ahead, gap], id) => {
          clock.advanceTo(clock.now() + gap);
          wanted.push({ at: clock.now() + ahead, setAt: clock.now() });
          q.set(new Deadline(() => runs.push({ id, t: clock.now() })), clock.now() + ahead);
        });
        clock.advanceTo(clock.now() + 300);
        if (runs.length !== sets.length || new Set(runs.map((r) => r.id)).size !== sets.length) return false;
        for (const { id, t } of runs) {
          const w = wanted[id]!;
          if (t < w.at || t > Math.max(w.at, w.setAt) + slack) return false;
        }
        return q.size === 0 && clock.pending === 0;
      }),
      { numRuns: 300 },
    );
  });
});
