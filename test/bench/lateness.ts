/**
 * `npm run bench -- --lateness`: how late the session engine's timers ran
 * (keepalive, hold, connect-retry and BFD deadlines; decision 0034) under
 * issue 12's two loads, side by side with the 50 ms target:
 *
 *   1M routes     the real Daemon (test/bench/daemon-child.ts) handed
 *                 1,000,000 IPv4 /32 + 100,000 IPv6 /128 as one snapshot,
 *                 sent to a BIRD 2 receiver, withdrawn, and sent again
 *                 (the `daemon` row of `npm run bench`), at hold time 3 so
 *                 keepalive deadlines fall due during the work;
 *   10k services  `herald run` with 10,000 services behind FRR at hold
 *                 time 3, every service down and up together twice
 *                 (test/faults/load.ts).
 *
 * The figure is the engine's own histogram (Engine.lateness(): every timer
 * callback's delay past its deadline since start). A benchmark, not a
 * test: it asserts nothing about time; it prints the table and one JSON
 * line, and writes test/bench/results/lateness.json.
 *
 *   npm run bench -- --lateness --ab [--spin=N] [--rounds=N]
 *
 * compares the engine thread at its raised priority (nice −5, decision
 * 0042) with the same thread set back to the process's own nice value right
 * after herald started, each load run in turns (raised, process, process,
 * raised, …) under the same conditions; `--spin=N` adds N busy-looping
 * processes at the bench's own priority for a loaded machine. The 1M-route
 * row also times the daemon's main thread while the engine packs (a request
 * to the daemon child every 100 ms; its slowest answer): a raised engine
 * must not starve the API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { getPriority, loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerConfig, TimerLateness } from '../../bgp/index.js';
import { Lab, missingReason } from '../interop/lab/index.js';
import { HeraldProcess } from '../interop/support/herald-process.js';
import { FaultLab } from '../faults/lab.js';
import { describeLoad, runServiceFlips } from '../faults/load.js';
import { HERALD_NODE_FLAGS, RECEIVER_ASN, SENDER_ASN, bundleChild, setUp, watchArrival, watchEmpty, type BenchOptions } from './common.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Issue 12: no keepalive, hold or BFD deadline missed by more than this. */
export const LATENESS_TARGET_MS = 50;

interface Row {
  load: string;
  /** The engine thread's nice value during the run (null: not seen). */
  engineNice?: number | null;
  lateness: TimerLateness | null;
  /** 1M-route row: the daemon's main thread answering while the engine packs. */
  mainThread?: { samples: number; maxMs: number; p99Ms: number };
  notes: string[];
}

/** What the engine thread runs at: 'raised' (as herald sets it, nice −5) or 'process' (set back to the process's nice, as before 0042). */
type Variant = 'raised' | 'process';

/** The engine's raised nice value (engine-worker.ts). */
const ENGINE_NICE = -5;

/** Each thread's nice value: /proc/PID/task/TID/stat field 19. */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/**
 * Find herald's engine thread (the one at ENGINE_NICE; started with the
 * daemon) and, for the 'process' variant, set it back to the process's
 * nice value. Returns the engine thread's nice value, null if none was found.
 */
async function applyVariant(pid: number, v: Variant): Promise<number | null> {
  for (let i = 0; i < 100; i++) {
    for (const [tid, nice] of threadNices(pid)) {
      if (nice !== ENGINE_NICE) continue;
      if (v === 'process') setPriority(tid, getPriority(pid));
      return threadNices(pid).get(tid) ?? null;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** The 1M-route load through the real Daemon; the engine's lateness afterwards. */
async function routesLoad(v: Variant = 'raised'): Promise<Row> {
  const row: Row = { load: '1M routes (daemon → BIRD hold 3: send, withdraw, send)', lateness: null, notes: [] };
  const why = missingReason(['bird']);
  if (why !== undefined) return { ...row, notes: [`skipped: ${why}`] };
  const o: BenchOptions = { count4: 1_000_000, count6: 100_000, transferTimeoutMs: 120_000, withdrawTimeoutMs: 120_000 };
  const lab = new Lab();
  try {
    const t = await setUp(lab, 'late');
    // Hold time 3 (keepalives every second), so that deadlines fall due while the routes are packed and sent.
    const peers: PeerConfig[] = [
      { name: 'r4', address: t.recvV4, asn: RECEIVER_ASN, localAddress: t.sendV4, families: ['ipv4'], holdTime: 3 },
      { name: 'r6', address: t.recvV6, asn: RECEIVER_ASN, localAddress: t.sendV6, families: ['ipv6'], holdTime: 3 },
    ];
    const child = new HeraldProcess(t.sendNs, { asn: SENDER_ASN, routerId: t.sendV4 }, peers, await bundleChild(join(here, 'daemon-child.ts'), 'bench-daemon-child'), HERALD_NODE_FLAGS);
    await child.start();
    try {
      row.engineNice = await applyVariant(child.pid!, v);
      const bulk = { count4: o.count4, count6: o.count6 };
      // The daemon's main thread while the engine packs: a request every 100
      // ms, each timed; only those sent after the hand-off returned count
      // (during the hand-off the main thread is busy with its own work).
      let pinging = true;
      let packing = false;
      const answers: number[] = [];
      const pinger = (async (): Promise<void> => {
        while (pinging) {
          const counts = packing;
          const t0 = performance.now();
          await child.call('snapshot');
          if (counts) answers.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await child.call('bulkRoutes', bulk);
      packing = true;
      const a1 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      if (a1.all === null) row.notes.push('not every route arrived (cold)');
      packing = false;
      await child.call('bulkRoutes', { count4: 0, count6: 0 });
      packing = true;
      const e = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
      if (e.at === null) row.notes.push('the receiver did not empty');
      packing = false;
      await child.call('bulkRoutes', bulk);
      packing = true;
      const a2 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      if (a2.all === null) row.notes.push('not every route arrived (hot)');
      pinging = false;
      await pinger;
      const sorted = answers.sort((a, b) => a - b);
      row.mainThread = { samples: sorted.length, maxMs: Math.round(sorted.at(-1) ?? 0), p99Ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? 0) };
      row.lateness = await child.call<TimerLateness | null>('lateness');
    } finally {
      await child.call('stop').catch(() => {});
      child.kill();
    }
    await t.receiver.stop();
  } catch (e) {
    row.notes.push(`error: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    await lab.close();
  }
  return row;
}

/** 10,000 services changing together twice behind FRR at hold 3. */
async function servicesLoad(v: Variant = 'raised'): Promise<Row> {
  const row: Row = { load: '10k services (down and up together ×2, FRR hold 3)', lateness: null, notes: [] };
  const why = missingReason(['frr']);
  if (why !== undefined) return { ...row, notes: [`skipped: ${why}`] };
  const fl = new FaultLab({ services: 10_000, tag: 'bench-lateness' });
  try {
    await fl.start(300_000);
    row.engineNice = await applyVariant(fl.herald.pid!, v);
    const f = await runServiceFlips(fl, { flips: 2, sigterm: false, timeoutMs: 300_000, log: () => {} });
    row.lateness = f.lateness;
    row.notes.push(...describeLoad(f).split('\n').slice(0, 2));
    if (f.holdTimerExpired.length > 0) row.notes.push(`FRR logged Hold Timer Expired ${f.holdTimerExpired.length}×`);
  } catch (e) {
    row.notes.push(`error: ${(e as Error).message.split('\n')[0]}`);
  } finally {
    await fl.close();
  }
  return row;
}

const f = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(1)} ms`);

/** Options of `--lateness`. */
export interface LatenessOptions {
  /** Compare the raised engine priority with the process's own, in turns. */
  ab: boolean;
  /** Busy-looping processes started beside the bench (a loaded machine). */
  spin: number;
  /** With ab: rounds of (raised, process) per load. */
  rounds: number;
}

/** Start `n` busy loops at this process's priority; returns a stopper. */
function spinners(n: number): () => void {
  const ps: ChildProcess[] = [];
  for (let i = 0; i < n; i++) ps.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return () => {
    for (const p of ps) p.kill('SIGKILL');
  };
}

/** Run both loads (with ab: each in turns under both variants) and print the table. */
export async function runLateness(o: LatenessOptions = { ab: false, spin: 0, rounds: 1 }): Promise<void> {
  const started = Date.now();
  console.log(`lateness bench: the engine thread's timer lateness under issue 12's loads (target ≤ ${LATENESS_TARGET_MS} ms)${o.spin > 0 ? `, ${o.spin} busy loops beside it` : ''}`);
  const stopSpin = spinners(o.spin);
  const rows: Row[] = [];
  try {
    for (const run of [routesLoad, servicesLoad]) {
      // Interleaved, so that a change of the machine's load hits both variants alike.
      const order: Variant[] = [];
      for (let i = 0; i < (o.ab ? o.rounds : 1); i++) order.push(...((o.ab ? (i % 2 === 0 ? ['raised', 'process'] : ['process', 'raised']) : ['raised']) as Variant[]));
      for (const v of order) {
        const load1 = loadavg()[0]!.toFixed(2);
        const r = await run(v);
        r.load = `${r.load}${o.ab ? ` [engine ${v}, nice ${r.engineNice ?? '?'}]` : ''}`;
        r.notes.push(`load average (1 min) ${load1} before, ${loadavg()[0]!.toFixed(2)} after`);
        rows.push(r);
        console.log(`${r.load}: ${r.lateness ? `worst ${f(r.lateness.maxMs)}` : 'no figure'}${r.mainThread ? `; daemon main thread while packing: slowest answer ${r.mainThread.maxMs} ms, p99 ${r.mainThread.p99Ms} ms over ${r.mainThread.samples}` : ''}`);
        for (const n of r.notes) console.log(`  note: ${n}`);
      }
    }
  } finally {
    stopSpin();
  }
  const table = [
    ['load', 'timers', 'worst late', 'p99', 'mean', `target ≤ ${LATENESS_TARGET_MS} ms`, 'main thread max'],
    ...rows.map((r) => {
      const l = r.lateness;
      return [
        r.load,
        String(l?.count ?? '—'),
        f(l?.maxMs),
        f(l?.p99Ms),
        f(l && l.count > 0 ? l.sumMs / l.count : undefined),
        l ? (l.maxMs <= LATENESS_TARGET_MS ? 'met' : 'MISSED') : '—',
        r.mainThread ? `${r.mainThread.maxMs} ms` : '',
      ];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log('');
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  // A busy machine delays every thread, the engine's too: say how busy it was.
  const load = loadavg().map((v) => +v.toFixed(2));
  console.log(`\nload average at the end: ${load.join(', ')} (1, 5, 15 min)`);
  const out = { at: new Date().toISOString(), targetMs: LATENESS_TARGET_MS, options: o, rows, loadAverage: load, wallMs: Date.now() - started };
  console.log(`\n${JSON.stringify(out)}`);
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, o.ab ? 'lateness-ab.json' : 'lateness.json'), JSON.stringify(out, null, 2) + '\n');
}
