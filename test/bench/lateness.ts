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
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
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
  lateness: TimerLateness | null;
  notes: string[];
}

/** The 1M-route load through the real Daemon; the engine's lateness afterwards. */
async function routesLoad(): Promise<Row> {
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
      const bulk = { count4: o.count4, count6: o.count6 };
      await child.call('bulkRoutes', bulk);
      const a1 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      if (a1.all === null) row.notes.push('not every route arrived (cold)');
      await child.call('bulkRoutes', { count4: 0, count6: 0 });
      const e = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
      if (e.at === null) row.notes.push('the receiver did not empty');
      await child.call('bulkRoutes', bulk);
      const a2 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      if (a2.all === null) row.notes.push('not every route arrived (hot)');
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
async function servicesLoad(): Promise<Row> {
  const row: Row = { load: '10k services (down and up together ×2, FRR hold 3)', lateness: null, notes: [] };
  const why = missingReason(['frr']);
  if (why !== undefined) return { ...row, notes: [`skipped: ${why}`] };
  const fl = new FaultLab({ services: 10_000, tag: 'bench-lateness' });
  try {
    await fl.start(300_000);
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

/** Run both loads and print the table. */
export async function runLateness(): Promise<void> {
  const started = Date.now();
  console.log(`lateness bench: the engine thread's timer lateness under issue 12's loads (target ≤ ${LATENESS_TARGET_MS} ms)`);
  const rows: Row[] = [];
  for (const run of [routesLoad, servicesLoad]) {
    const r = await run();
    rows.push(r);
    console.log(`${r.load}: ${r.lateness ? `worst ${f(r.lateness.maxMs)}` : 'no figure'}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
  }
  const table = [
    ['load', 'timers', 'worst late', 'p99', 'mean', `target ≤ ${LATENESS_TARGET_MS} ms`],
    ...rows.map((r) => {
      const l = r.lateness;
      return [r.load, String(l?.count ?? '—'), f(l?.maxMs), f(l?.p99Ms), f(l && l.count > 0 ? l.sumMs / l.count : undefined), l ? (l.maxMs <= LATENESS_TARGET_MS ? 'met' : 'MISSED') : '—'];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log('');
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  // A busy machine delays every thread, the engine's too: say how busy it was.
  const load = loadavg().map((v) => +v.toFixed(2));
  console.log(`\nload average at the end: ${load.join(', ')} (1, 5, 15 min)`);
  const out = { at: new Date().toISOString(), targetMs: LATENESS_TARGET_MS, rows, loadAverage: load, wallMs: Date.now() - started };
  console.log(`\n${JSON.stringify(out)}`);
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'lateness.json'), JSON.stringify(out, null, 2) + '\n');
}
