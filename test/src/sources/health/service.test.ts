// ServiceHealth and HealthSource driven by a ManualClock and fake probes:
// rise/fall, start-up down, fast interval, jitter bounds, all/any,
// maintenance, hung and overlapping probes, reload carry-over.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../bgp/driver/clock.js';
import { HealthSource, ServiceHealth, type Check, type CheckResult, type RoundEvent, type ServiceHealthSpec, type Transition } from '../../../../src/sources/health/index.js';

type Behaviour = 'ok' | 'fail' | 'hang' | 'obey' | 'admin' | 'clear';

/** A tcp check whose port names it; the fake prober looks its behaviour up by port. */
const tcp = (port: number, timeoutMs = 300): Check => ({ kind: 'tcp', address: '192.0.2.1', port, timeoutMs });
const maint = (path = '/run/maint'): Check => ({ kind: 'maintenance_file', path });

function spec(over: Partial<ServiceHealthSpec> = {}): ServiceHealthSpec {
  return { name: 'dns', checks: [tcp(1)], combine: 'all', intervalMs: 1000, fastIntervalMs: 200, timeoutMs: 300, rise: 2, fall: 3, jitterMs: 0, ...over };
}

class Fake {
  behaviour = new Map<string, Behaviour>();
  started: { key: string; at: number }[] = [];
  constructor(readonly clock: ManualClock) {}
  set(key: string | number, b: Behaviour): void {
    this.behaviour.set(String(key), b);
  }
  prober = (c: Check, signal: AbortSignal): Promise<CheckResult> => {
    const key = c.kind === 'tcp' ? String(c.port) : c.kind;
    this.started.push({ key, at: this.clock.now() });
    const b = this.behaviour.get(key) ?? (c.kind === 'maintenance_file' ? 'clear' : 'ok');
    switch (b) {
      case 'ok':
        return Promise.resolve({ ok: true, detail: `${key} fine`, latencyMs: 1 });
      case 'fail':
        return Promise.resolve({ ok: false, detail: `${key} broken`, latencyMs: 1 });
      case 'admin':
        return Promise.resolve({ ok: false, adminDown: true, detail: 'maintenance file /run/maint present', latencyMs: 0 });
      case 'clear':
        return Promise.resolve({ ok: true, detail: 'maintenance file /run/maint absent', latencyMs: 0 });
      case 'hang':
        return new Promise(() => {});
      case 'obey':
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, detail: `${key} timed out`, latencyMs: 300 })));
    }
  };
  startsOf(key: string | number): number[] {
    return this.started.filter((s) => s.key === String(key)).map((s) => s.at);
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** Move the clock to `target`, letting probe promises settle after each timer. */
async function runTo(clock: ManualClock, target: number): Promise<void> {
  for (;;) {
    const next = clock.nextDeadline();
    if (next === undefined || next > target) break;
    clock.advanceTo(next);
    await flush();
  }
  clock.advanceTo(target);
  await flush();
}

function setup(over: Partial<ServiceHealthSpec> = {}, random: () => number = () => 0) {
  const clock = new ManualClock(0);
  const fake = new Fake(clock);
  const wall = 1_700_000_000_000;
  const h = new ServiceHealth(spec(over), { clock, prober: fake.prober, random, wallClock: () => wall + clock.now(), graceMs: 250 });
  const changes: Transition[] = [];
  const rounds: (RoundEvent & { at: number })[] = [];
  h.on('change', (t) => changes.push(t));
  h.on('round', (r) => rounds.push({ ...r, at: clock.now() }));
  return { clock, fake, h, changes, rounds };
}

describe('ServiceHealth: rise and fall', () => {
  it('starts down and goes up only after `rise` passing rounds, probing at the fast interval while counting', async () => {
    const { clock, fake, h, changes } = setup({ rise: 3 });
    h.start();
    expect(h.state).toBe('down');
    await runTo(clock, 0);
    expect(fake.startsOf(1)).toEqual([0]);
    expect(h.state).toBe('down');
    await runTo(clock, 200);
    expect(h.state).toBe('down');
    await runTo(clock, 400);
    expect(h.state).toBe('up');
    expect(fake.startsOf(1)).toEqual([0, 200, 400]);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ service: 'dns', from: 'down', to: 'up' });
    expect(changes[0]!.reason).toBe('3 passing rounds in a row: 1 fine');
    // Resolved: back to the normal interval.
    await runTo(clock, 1400);
    expect(fake.startsOf(1)).toEqual([0, 200, 400, 1400]);
    h.stop();
  });

  it('goes down after `fall` failing rounds; a pass in between resets the count', async () => {
    const { clock, fake, h, changes } = setup({ rise: 1, fall: 3 });
    h.start();
    await runTo(clock, 0);
    expect(h.state).toBe('up');
    fake.set(1, 'fail');
    await runTo(clock, 1000); // fail 1
    await runTo(clock, 1200); // fail 2
    fake.set(1, 'ok');
    await runTo(clock, 1400); // pass: count reset
    expect(h.state).toBe('up');
    fake.set(1, 'fail');
    await runTo(clock, 2400); // fail 1 (normal interval after the reset)
    await runTo(clock, 2600); // 2
    expect(h.state).toBe('up');
    await runTo(clock, 2800); // 3
    expect(h.state).toBe('down');
    expect(fake.startsOf(1)).toEqual([0, 1000, 1200, 1400, 2400, 2600, 2800]);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['down->up', 'up->down']);
    expect(changes[1]!.reason).toBe('3 failing rounds in a row: 1 broken');
    expect(changes[1]!.results[0]!.result.detail).toBe('1 broken');
    h.stop();
  });

  it('emits nothing while the state holds, however many rounds pass', async () => {
    const { clock, h, changes, rounds } = setup({ rise: 1 });
    h.start();
    await runTo(clock, 20_000);
    expect(rounds.length).toBeGreaterThan(15);
    expect(changes).toHaveLength(1);
    h.stop();
  });

  it('a carried-over state is kept: a reload does not start an up service at down', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    const h = new ServiceHealth(spec({ fall: 2 }), { clock, prober: fake.prober, random: () => 0, initial: { state: 'up', healthy: true, since: 5 } });
    h.start();
    await runTo(clock, 0);
    expect(h.state).toBe('up');
    expect(h.snapshot().since).toBe(5);
    h.stop();
  });
});

describe('ServiceHealth: jitter', () => {
  it('delays each round by interval + [0, jitter), the first by [0, jitter)', async () => {
    const draws = [0.999, 0, 0.5, 0.25];
    let i = 0;
    const { clock, fake, h } = setup({ rise: 1, jitterMs: 100 }, () => draws[i++ % draws.length]!);
    h.start();
    await runTo(clock, 5000);
    const starts = fake.startsOf(1);
    expect(starts[0]).toBeCloseTo(99.9, 5);
    const gaps = starts.slice(1).map((t, k) => t - starts[k]!);
    // After the first round the state is up (rise 1), so the normal interval applies.
    expect(gaps.slice(0, 4).map((g) => Math.round(g * 10) / 10)).toEqual([1000, 1050, 1025, 1099.9]);
    h.stop();
  });

  it('stays within bounds and varies with a real random source', async () => {
    const { clock, fake, h } = setup({ rise: 1, jitterMs: 100 }, Math.random);
    h.start();
    await runTo(clock, 60_000);
    const starts = fake.startsOf(1);
    const gaps = starts.slice(1).map((t, k) => t - starts[k]!);
    expect(gaps.length).toBeGreaterThan(50);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(1000);
      expect(g).toBeLessThan(1100);
    }
    expect(new Set(gaps.map((g) => Math.round(g))).size).toBeGreaterThan(10);
    h.stop();
  });
});

describe('ServiceHealth: several checks', () => {
  it('all (default): one failing check fails the round', async () => {
    const { clock, fake, h, changes } = setup({ checks: [tcp(1), tcp(2)], rise: 1, fall: 1 });
    h.start();
    await runTo(clock, 0);
    expect(h.state).toBe('up');
    fake.set(2, 'fail');
    await runTo(clock, 1000);
    expect(h.state).toBe('down');
    expect(changes[1]!.reason).toBe('1 failing round in a row: 2 broken');
    h.stop();
  });

  it('any: one passing check is enough; all failing fails', async () => {
    const { clock, fake, h } = setup({ checks: [tcp(1), tcp(2)], combine: 'any', rise: 1, fall: 1 });
    fake.set(1, 'fail');
    h.start();
    await runTo(clock, 0);
    expect(h.state).toBe('up');
    fake.set(2, 'fail');
    await runTo(clock, 1000);
    expect(h.state).toBe('down');
    fake.set(1, 'ok');
    await runTo(clock, 2000);
    expect(h.state).toBe('up');
    h.stop();
  });

  it('keeps the last result of every check for routes explain', async () => {
    const { clock, fake, h } = setup({ checks: [tcp(1), tcp(2)] });
    fake.set(2, 'fail');
    h.start();
    await runTo(clock, 0);
    const snap = h.snapshot();
    expect(snap.state).toBe('down');
    expect(snap.lastResults.map((r) => [r.index, r.check, r.result.ok, r.result.detail])).toEqual([
      [0, 'tcp 192.0.2.1:1', true, '1 fine'],
      [1, 'tcp 192.0.2.1:2', false, '2 broken'],
    ]);
    h.stop();
  });
});

describe('ServiceHealth: maintenance file', () => {
  it('present: maintenance at once (no rise/fall); removed: back to what the checks say', async () => {
    const { clock, fake, h, changes } = setup({ checks: [tcp(1), maint()], rise: 3, fall: 3 });
    h.start();
    await runTo(clock, 400);
    expect(h.state).toBe('up');
    fake.set('maintenance_file', 'admin');
    await runTo(clock, 1400);
    expect(h.state).toBe('maintenance');
    expect(changes.at(-1)).toMatchObject({ from: 'up', to: 'maintenance', reason: 'maintenance file /run/maint present' });
    // The rounds keep their normal pace: maintenance is not a change being counted.
    await runTo(clock, 3400);
    expect(fake.startsOf(1).filter((t) => t > 1400)).toEqual([2400, 3400]);
    expect(h.healthy).toBe(true);
    fake.set('maintenance_file', 'clear');
    await runTo(clock, 4400);
    expect(h.state).toBe('up');
    expect(changes.at(-1)).toMatchObject({ from: 'maintenance', to: 'up' });
    expect(changes.at(-1)!.reason).toMatch(/^maintenance file removed; checks passing/);
    expect(changes).toHaveLength(3);
    h.stop();
  });

  it('the checks keep being counted during maintenance: a service that broke meanwhile comes back down', async () => {
    const { clock, fake, h, changes } = setup({ checks: [tcp(1), maint()], rise: 1, fall: 2 });
    h.start();
    await runTo(clock, 0);
    fake.set('maintenance_file', 'admin');
    fake.set(1, 'fail');
    await runTo(clock, 1000);
    await runTo(clock, 1200);
    expect(h.state).toBe('maintenance');
    expect(h.healthy).toBe(false);
    fake.set('maintenance_file', 'clear');
    await runTo(clock, 2200);
    expect(h.state).toBe('down');
    expect(changes.map((c) => c.to)).toEqual(['up', 'maintenance', 'down']);
    h.stop();
  });

  it('a service with only a maintenance file is up when the file is absent', async () => {
    const { clock, h } = setup({ checks: [maint()], rise: 1 });
    h.start();
    await runTo(clock, 0);
    expect(h.state).toBe('up');
    h.stop();
  });
});

describe('ServiceHealth: timeouts, hangs and overlap', () => {
  it('a check that obeys its signal is aborted at its own timeout', async () => {
    const { clock, fake, h, rounds } = setup({ checks: [tcp(1, 300)], rise: 1 });
    fake.set(1, 'obey');
    h.start();
    await runTo(clock, 1000);
    expect(rounds[0]!.at).toBe(300);
    expect(rounds[0]!.reports[0]!.result.detail).toBe('1 timed out');
    h.stop();
  });

  it('a check that ignores its signal is counted hung after timeout + grace, and the next probe of it is skipped, not stacked', async () => {
    const { clock, fake, h, rounds } = setup({ checks: [tcp(1, 300), tcp(2, 300)], rise: 1, fall: 1 });
    fake.set(1, 'hang');
    h.start();
    await runTo(clock, 3000);
    // Round 1 ends at 300 + 250 (grace); check 2 was probed on time every round.
    expect(rounds[0]!.at).toBe(550);
    expect(rounds[0]!.reports[0]!.result.detail).toBe('tcp 192.0.2.1:1: hung, no result 550ms after it started (timeout 300ms)');
    expect(rounds[0]!.reports[1]!.result.ok).toBe(true);
    expect(fake.startsOf(1)).toEqual([0]);
    expect(fake.startsOf(2)).toEqual([0, 1000, 2000, 3000]);
    expect(rounds[1]!.at).toBe(1000);
    expect(rounds[1]!.reports[0]).toMatchObject({ skipped: true, result: { ok: false } });
    expect(rounds[1]!.reports[0]!.result.detail).toBe('tcp 192.0.2.1:1: not probed, the previous probe (started 1000ms ago) is still running');
    expect(h.skipped).toEqual([3, 0]);
    expect(h.state).toBe('down');
    h.stop();
  });

  it("one service's hung check never delays another service", async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    fake.set(1, 'hang');
    const src = new HealthSource([spec({ name: 'stuck', checks: [tcp(1)] }), spec({ name: 'www', checks: [tcp(2)], rise: 2 })], {
      clock,
      prober: fake.prober,
      random: () => 0,
    });
    const changes: Transition[] = [];
    src.on('change', (t) => changes.push(t));
    src.start();
    await runTo(clock, 200);
    expect(changes.map((c) => `${c.service}:${c.to}@${clock.now()}`)).toEqual(['www:up@200']);
    expect(fake.startsOf(2)).toEqual([0, 200]);
    src.stop();
  });

  it('a prober that throws or rejects counts as a failure, not a crash', async () => {
    const clock = new ManualClock(0);
    const h = new ServiceHealth(spec({ checks: [tcp(1), tcp(2)], rise: 1 }), {
      clock,
      random: () => 0,
      prober: (c) => {
        if (c.kind === 'tcp' && c.port === 1) throw new Error('boom');
        return Promise.reject(new Error('nope'));
      },
    });
    const rounds: RoundEvent[] = [];
    h.on('round', (r) => rounds.push(r));
    h.start();
    await runTo(clock, 0);
    expect(rounds[0]!.reports.map((r) => r.result.detail)).toEqual(['tcp 192.0.2.1:1: boom', 'tcp 192.0.2.1:2: nope']);
    expect(h.state).toBe('down');
    h.stop();
  });

  it('stop() aborts probes in flight and no round finishes afterwards', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    fake.set(1, 'obey');
    const signals: AbortSignal[] = [];
    const h = new ServiceHealth(spec(), { clock, prober: (c, s) => (signals.push(s), fake.prober(c, s)), random: () => 0 });
    let rounds = 0;
    h.on('round', () => rounds++);
    h.start();
    await runTo(clock, 10);
    h.stop();
    expect(signals[0]!.aborted).toBe(true);
    await runTo(clock, 5000);
    expect(clock.pending).toBe(0);
    expect(rounds).toBe(0);
    expect(fake.startsOf(1)).toEqual([0]);
  });
});

describe('HealthSource', () => {
  it('snapshots every service and reports changes', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    fake.set(2, 'fail');
    const src = new HealthSource([spec({ name: 'dns', rise: 1 }), spec({ name: 'www', checks: [tcp(2)] })], { clock, prober: fake.prober, random: () => 0, wallClock: () => 1000 + clock.now() });
    const seen: string[] = [];
    src.on('change', (t) => seen.push(`${t.service}:${t.from}->${t.to}`));
    expect([...src.snapshot()].map(([n, s]) => [n, s.state])).toEqual([
      ['dns', 'down'],
      ['www', 'down'],
    ]);
    src.start();
    await runTo(clock, 50);
    const snap = src.snapshot();
    expect(snap.get('dns')).toMatchObject({ state: 'up', since: 1000 });
    expect(snap.get('www')!.state).toBe('down');
    expect(snap.get('www')!.lastResults[0]!.result.detail).toBe('2 broken');
    expect(seen).toEqual(['dns:down->up']);
    src.stop();
  });

  it('update keeps unchanged services running, restarts changed ones from their state, adds and removes', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    const src = new HealthSource([spec({ name: 'a', rise: 1 }), spec({ name: 'b', rise: 1 }), spec({ name: 'c', rise: 1 })], { clock, prober: fake.prober, random: () => 0 });
    src.start();
    await runTo(clock, 0);
    const a = src.service('a');
    const b = src.service('b');
    fake.set(9, 'fail');
    src.update([spec({ name: 'a', rise: 1 }), spec({ name: 'b', rise: 1, checks: [tcp(9)], fall: 2 }), spec({ name: 'd' })]);
    expect(src.service('a')).toBe(a);
    expect(src.service('b')).not.toBe(b);
    expect(src.service('c')).toBeUndefined();
    expect([...src.snapshot()].map(([n, s]) => `${n}:${s.state}`)).toEqual(['a:up', 'b:up', 'd:down']);
    await runTo(clock, 0);
    expect(src.snapshot().get('b')!.state).toBe('up'); // one failure of fall 2
    await runTo(clock, 200);
    expect(src.snapshot().get('b')!.state).toBe('down');
    src.stop();
  });
});

describe('graceful restart: the first round decides', () => {
  it('a passing first round is up at once (no rise), a failing one stays down; later rounds use rise/fall again', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    fake.set(2, 'fail');
    const src = new HealthSource([spec({ name: 'dns', rise: 3, jitterMs: 100 }), spec({ name: 'www', checks: [tcp(2)], rise: 3, jitterMs: 100 })], {
      clock,
      prober: fake.prober,
      random: () => 0.5,
      firstRoundDecides: true,
    });
    const seen: string[] = [];
    src.on('change', (t) => seen.push(`${t.service}:${t.to}:${t.reason}`));
    let firstAt: number | undefined;
    const order: string[] = [];
    src.on('change', () => order.push('change'));
    src.onFirstRounds(() => {
      firstAt = clock.now();
      order.push('first-rounds');
    });
    src.start();
    expect(firstAt).toBeUndefined();
    await runTo(clock, 60);
    expect(firstAt).toBe(50);
    expect(order).toEqual(['change', 'first-rounds']);
    expect(seen).toEqual(['dns:up:first round after a graceful restart; checks passing: 1 fine']);
    expect(src.snapshot().get('www')!.state).toBe('down');
    // www recovers: now it needs the full rise of 3 (rounds at 1100, 1350, 1600: interval or fast interval, + 50 jitter).
    fake.set(2, 'ok');
    await runTo(clock, 1599);
    expect(src.snapshot().get('www')!.state).toBe('down');
    await runTo(clock, 1600);
    expect(src.snapshot().get('www')!.state).toBe('up');
    // A service added by a reload starts down as usual, and onFirstRounds fires at once from now on.
    src.update([spec({ name: 'dns', rise: 3, jitterMs: 100 }), spec({ name: 'www', checks: [tcp(2)], rise: 3, jitterMs: 100 }), spec({ name: 'new', rise: 3 })]);
    await runTo(clock, 1600);
    expect(src.service('new')!.roundsDone).toBe(1);
    expect(src.snapshot().get('new')!.state).toBe('down');
    let again = false;
    src.onFirstRounds(() => (again = true));
    expect(again).toBe(true);
    src.stop();
  });

  it('without the option a passing first round is still down (rise 2)', async () => {
    const { clock, h, changes } = setup({ rise: 2 });
    h.start();
    await runTo(clock, 0);
    expect(h.roundsDone).toBe(1);
    expect(h.state).toBe('down');
    expect(changes).toEqual([]);
  });

  it('onFirstRounds with no services fires at once; a service removed before its first round no longer counts', async () => {
    const clock = new ManualClock(0);
    const fake = new Fake(clock);
    let fired = 0;
    new HealthSource([], { clock, prober: fake.prober }).onFirstRounds(() => fired++);
    expect(fired).toBe(1);
    fake.set(3, 'hang');
    const src = new HealthSource([spec({ name: 'a' }), spec({ name: 'slow', checks: [tcp(3, 300)] })], { clock, prober: fake.prober, random: () => 0, firstRoundDecides: true });
    src.onFirstRounds(() => fired++);
    src.start();
    await runTo(clock, 10);
    expect(fired).toBe(1);
    src.update([spec({ name: 'a' })]);
    expect(fired).toBe(2);
    src.stop();
  });
});
