// Issue 12, Must show 2: 10,000 services changing state together with a
// real peer at hold time 3. The real daemon (`herald run`) announces one
// IPv6 /128 per service to FRR (zebra installs them) over a session with
// hold time 3; every service has one tcp check of the same listener, with no
// jitter, so stopping the listener fails all ten thousand in the same round
// and starting it brings them back together (test/faults/lab.ts, load.ts).
// One flip down and up, then SIGTERM sent while the next flip is being
// processed. Asserted:
//   - FRR's session never dropped: its established and dropped counters are
//     unchanged and its bgpd.log has no Hold Timer Expired;
//   - every route left FRR and came back (its prefix count);
//   - SIGTERM honoured within 1 s of sending it (herald's own 'stopping' log
//     line, its timestamp against the send time), and the process exits;
//   - the worst timer lateness in the engine thread is printed, with a
//     generous bound (1 s; the 50 ms target is the benchmark's:
//     `npm run bench -- --lateness`).
// Every figure is printed. Wall time on an idle 2-core machine: about 50 s
// (start 19 s, down 10 s, up 14 s); the main thread is CPU-bound by ten
// thousand TCP probes a round, so on a loaded machine the flips take longer
// (their bounds are generous; the session is what must hold).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labReady } from './lab/index.js';
import { FaultLab } from '../faults/lab.js';
import { describeLoad, runServiceFlips, type LoadFigures } from '../faults/load.js';

const ready = labReady(['frr'], '10,000 services changing together with FRR at hold time 3');

const SERVICES = 10_000;
/** The target is 50 ms (benchmark); the test bound is generous. */
const LATENESS_BOUND_MS = 1_000;
/** Must show: SIGTERM honoured within 1 s. */
const SIGTERM_BOUND_MS = 1_000;
/** The process is gone once the withdrawals are flushed (≤ 2 s) and the Cease is sent. */
const EXIT_BOUND_MS = 10_000;

describe.skipIf(!ready)('load: 10,000 services changing together, FRR at hold time 3', () => {
  const fl = new FaultLab({ services: SERVICES, holdTime: 3, intervalMs: 2_000, rise: 2, fall: 2, tag: 'load' });
  let startMs = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    await fl.start(240_000);
    startMs = Date.now() - t0;
    console.log(`load: herald with ${SERVICES} services started and FRR held all ${SERVICES + 1} routes after ${startMs} ms; herald ${JSON.stringify(fl.usage())}`);
  }, 300_000);

  afterAll(async () => {
    await fl.close();
  });

  it('keeps the session (no Hold Timer Expired), moves every route, honours SIGTERM within 1 s; prints the worst timer lateness', async () => {
    const f: LoadFigures = await runServiceFlips(fl, { flips: 1, sigterm: true, timeoutMs: 180_000 });
    console.log(describeLoad(f));
    expect(f.flips).toHaveLength(1);
    expect(f.holdTimerExpired).toEqual([]);
    expect(f.before.state).toBe('Established');
    expect(f.after.state).toBe('Established');
    expect(f.after.established).toBe(f.before.established);
    expect(f.after.dropped).toBe(f.before.dropped);
    expect(f.lateness).not.toBeNull();
    expect(f.lateness!.count).toBeGreaterThan(0);
    expect(f.lateness!.maxMs).toBeLessThanOrEqual(LATENESS_BOUND_MS);
    expect(f.sigterm).not.toBeNull();
    expect(f.sigterm!.honouredMs).toBeLessThanOrEqual(SIGTERM_BOUND_MS);
    expect(f.sigterm!.exitedMs).toBeLessThanOrEqual(EXIT_BOUND_MS);
    expect(f.sigterm!.exitCode).toBe(0);
  }, 600_000);
});
