import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../bgp/index.js';
import { MemoryTrim, TRIM_DELAY_MS, TRIM_MIN_ROUTES } from '../../../src/host/memory-trim.js';
import { trimMalloc } from '../../../src/host/libc.js';

function setup(o: { minRoutes?: number; delayMs?: number; trim?: () => boolean } = {}) {
  const clock = new ManualClock();
  const trims: number[] = [];
  const reports: { routes: number; released: boolean }[] = [];
  const t = new MemoryTrim({
    clock,
    trim: o.trim ?? (() => (trims.push(clock.now()), true)),
    ...(o.minRoutes !== undefined ? { minRoutes: o.minRoutes } : {}),
    ...(o.delayMs !== undefined ? { delayMs: o.delayMs } : {}),
    report: (r) => reports.push({ routes: r.routes, released: r.released }),
  });
  return { clock, trims, reports, t };
}

describe('MemoryTrim: memory given back after large hand-offs (decision 0047)', () => {
  it('trims once, delayMs after the hand-offs since the last trim reach minRoutes', () => {
    const { clock, trims, reports, t } = setup({ minRoutes: 1000, delayMs: 30_000 });
    t.handedOff(600);
    clock.advance(60_000);
    expect(trims).toEqual([]); // 600 < 1000: nothing scheduled
    t.handedOff(600); // 1200 moved: scheduled for now + 30 s
    const due = clock.now() + 30_000;
    clock.advance(10_000);
    t.handedOff(5000); // more while one is pending: no second timer
    clock.advance(19_999);
    expect(trims).toEqual([]);
    clock.advance(1);
    expect(trims).toEqual([due]);
    expect(reports).toEqual([{ routes: 6200, released: true }]);
    clock.advance(120_000);
    expect(trims).toHaveLength(1); // the count starts again from zero
  });

  it('uses the defaults when none are given', () => {
    const { clock, trims, t } = setup();
    t.handedOff(TRIM_MIN_ROUTES - 1);
    clock.advance(TRIM_DELAY_MS * 2);
    expect(trims).toEqual([]);
    t.handedOff(1);
    clock.advance(TRIM_DELAY_MS);
    expect(trims).toHaveLength(1);
  });

  it('does not run after close, and a trim that throws is reported as nothing released', () => {
    const a = setup({ minRoutes: 1 });
    a.t.handedOff(5);
    a.t.close();
    a.clock.advance(TRIM_DELAY_MS * 2);
    expect(a.trims).toEqual([]);

    const b = setup({
      minRoutes: 1,
      trim: () => {
        throw new Error('not glibc');
      },
    });
    b.t.handedOff(5);
    b.clock.advance(TRIM_DELAY_MS);
    expect(b.reports).toEqual([{ routes: 5, released: false }]);
  });
});

describe('trimMalloc (glibc malloc_trim through koffi)', () => {
  it('runs on this Linux machine and answers whether it released anything', () => {
    // A few blocks below glibc's mmap threshold (kept small: the unit tests run
    // in parallel, and a BFD test beside this one measures its own timing).
    let blocks: Buffer[] | null = Array.from({ length: 100 }, () => Buffer.allocUnsafeSlow(64 * 1024));
    expect(blocks.length).toBe(100);
    blocks = null;
    expect(typeof trimMalloc()).toBe('boolean');
    // A second call right after has little or nothing left to give; it must not fail either.
    expect(typeof trimMalloc()).toBe('boolean');
  });
});
