/**
 * Issue 12's load: every service changing state together, with FRR at hold
 * time 3, and SIGTERM sent at the peak. One definition for the must-show
 * test (test/interop/load.test.ts), the lateness benchmark
 * (test/bench/lateness.ts) and the fault suite's `services` fault.
 *
 * A flip stops the check target (every service's tcp check fails in the same
 * round; after `fall` rounds every service is down and FRR loses its route),
 * then starts it again (after `rise` rounds every route is back). Measured
 * throughout: the control API's answer time (how long herald's main thread
 * was held), FRR's view of the session (established/dropped counters, last
 * reset, Hold Timer Expired in bgpd.log) and the engine thread's timer
 * lateness (GET /v1/summary, engine.timerLateness, decision 0034).
 *
 * SIGTERM under load: the target is stopped once more and SIGTERM is sent as
 * soon as herald reports the first service going down, while the rest of the
 * ten thousand are being processed. "Honoured" is the time from the signal
 * to herald's own 'stopping' log line (its pino timestamp, same clock);
 * "exited" the time to the process's exit (withdrawals flushed, Cease sent).
 *
 * Test infrastructure; asserts nothing itself.
 */
import type { TimerLateness } from '../../bgp/index.js';
import { sleep } from '../interop/lab/index.js';
import type { FaultLab, FrrNeighbor } from './lab.js';

export interface FlipFigures {
  /** ms from stopping the target until FRR held only the sentinel. */
  downMs: number;
  /** ms from starting the target until FRR held every route again. */
  upMs: number;
}

export interface LoadFigures {
  services: number;
  flips: FlipFigures[];
  /** The control API's answers during the flips. */
  api: { samples: number; maxMs: number; p99Ms: number; failed: number };
  /** FRR's session with herald before and after the flips. */
  before: FrrNeighbor;
  after: FrrNeighbor;
  /** Lines of FRR's bgpd.log reporting a hold timer expiry during the run. */
  holdTimerExpired: string[];
  /** The engine thread's timer lateness at the end of the flips (since start). */
  lateness: TimerLateness | null;
  /** herald's RSS and fds before and after. */
  usage: { before: { rssMb: number; fds: number }; after: { rssMb: number; fds: number } };
  sigterm: { honouredMs: number; exitedMs: number; exitCode: number | null; servicesDownBeforeSignal: number } | null;
}

/** Flip every service down and up `flips` times, then (optionally) SIGTERM herald under the next flip. */
export async function runServiceFlips(fl: FaultLab, o: { flips: number; sigterm: boolean; timeoutMs?: number; log?: (s: string) => void }): Promise<LoadFigures> {
  const log = o.log ?? ((s: string) => console.log(s));
  const timeout = o.timeoutMs ?? 180_000;
  const n = fl.opts.services;
  const logOffset = fl.bgpdLogOffset();
  const before = await fl.neighbor();
  const usageBefore = fl.usage();
  const ping = fl.pingApi();
  const flips: FlipFigures[] = [];
  for (let i = 0; i < o.flips; i++) {
    let t = Date.now();
    await fl.stopTarget();
    const downMs = await fl.waitRoutes(1, timeout);
    const downAt = Date.now() - t;
    t = Date.now();
    await fl.startTarget();
    const upMs = await fl.waitRoutes(n + 1, timeout);
    flips.push({ downMs: Math.max(downMs, downAt), upMs });
    log(`load: flip ${i + 1}/${o.flips}: ${n} services down → FRR held only the sentinel after ${downAt} ms; up → all ${n + 1} routes back after ${upMs} ms`);
  }
  const api = await ping.stop();
  const after = await fl.neighbor();
  // The engine pushes its figures at least once a second.
  await sleep(1_200);
  const lateness = (await fl.api<{ engine: { timerLateness: TimerLateness | null } }>('/v1/summary')).engine.timerLateness;
  const usageAfter = fl.usage();
  let sigterm: LoadFigures['sigterm'] = null;
  if (o.sigterm) {
    const h = fl.herald;
    const from = h.mark();
    const changes = (): number => h.dropped.get('service health changed') ?? 0;
    const changesBefore = changes();
    const firstDown = h.waitLog((l) => l.msg === 'service health changed' && l.to === 'down', timeout, from);
    await fl.stopTarget();
    await firstDown;
    const t0 = Date.now();
    h.signal('SIGTERM');
    const downSeen = changes() - changesBefore;
    const stopping = await h.waitLog((l) => l.msg.startsWith('stopping'), 60_000, from);
    const { code } = await h.exited;
    const exitedMs = Date.now() - t0;
    const honouredMs = Date.parse(String(stopping.time)) - t0;
    sigterm = { honouredMs, exitedMs, exitCode: code, servicesDownBeforeSignal: downSeen };
    log(`load: SIGTERM sent when ${downSeen} of ${n} services had gone down: honoured after ${honouredMs} ms ('stopping' logged), process exited after ${exitedMs} ms with code ${code}`);
  }
  const holdTimerExpired = await fl.holdTimerExpiries(logOffset);
  return {
    services: n,
    flips,
    api,
    before,
    after,
    holdTimerExpired,
    lateness,
    usage: { before: { rssMb: usageBefore.rssMb, fds: usageBefore.fds }, after: { rssMb: usageAfter.rssMb, fds: usageAfter.fds } },
    sigterm,
  };
}

/** One line for a report: the session, the lateness and the API's answer time. */
export function describeLoad(f: LoadFigures): string {
  const l = f.lateness;
  return [
    `${f.services} services × ${f.flips.length} flips: down ${f.flips.map((x) => x.downMs).join('/')} ms, up ${f.flips.map((x) => x.upMs).join('/')} ms`,
    `FRR session: established ${f.before.established}→${f.after.established}, dropped ${f.before.dropped}→${f.after.dropped}, state ${f.after.state}, last reset "${f.after.lastReset}", Hold Timer Expired lines ${f.holdTimerExpired.length}`,
    `engine timers: worst ${l?.maxMs ?? '—'} ms late, p99 ≤ ${l?.p99Ms ?? '—'} ms over ${l?.count ?? 0} timers (target 50 ms)`,
    `control API during the flips: slowest answer ${f.api.maxMs} ms, p99 ${f.api.p99Ms} ms over ${f.api.samples} requests (${f.api.failed} failed)`,
    ...(f.sigterm ? [`SIGTERM at the peak: honoured in ${f.sigterm.honouredMs} ms, exited in ${f.sigterm.exitedMs} ms (code ${f.sigterm.exitCode})`] : []),
  ].join('\n');
}
