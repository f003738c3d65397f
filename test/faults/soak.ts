/**
 * `npm run soak`: issue 12's long run with churn. herald (`herald run`, 100
 * services behind one tcp check) behind FRR at hold time 3 (test/faults/lab.ts);
 * for `--minutes` (default 60):
 *
 *   - every 2 s the check target is stopped or started, so services keep
 *     flapping (rise 2, fall 2 at a 1 s interval);
 *   - every 30 s FRR resets the session (`clear bgp`), a peer flap;
 *   - every 10 s herald's RSS and open fds are sampled from /proc.
 *
 * At the end the churn stops, the target is started, and FRR must hold every
 * expected route exactly once, none stale. Reported and checked (exit 1 when
 * missed): RSS growth after warm-up (the first sixth of the run: 10 min
 * of an hour) below 5 %, fds flat (the last
 * sample within 10 % + 2 of the first after warm-up), the routes correct. The
 * samples go to test/faults/results/soak.json.
 *
 *   npm run soak                     one hour
 *   npm run soak -- --minutes=5      a short run (e.g. to try the script)
 *
 * Needs root (namespaces) and FRR; signals only pids the lab started.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingReason, sleep } from '../interop/lab/index.js';
import { FaultLab, HERALD_V6, type Usage } from './lab.js';

const here = fileURLToPath(new URL('.', import.meta.url));

function minutesArg(argv: string[]): number {
  let minutes = 60;
  for (const a of argv) {
    if (a.startsWith('--minutes=')) minutes = Number(a.slice(10));
    else throw new Error(`unknown argument ${a} (known: --minutes=N)`);
  }
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  return minutes;
}

async function main(): Promise<number> {
  const minutes = minutesArg(process.argv.slice(2));
  const missing = missingReason(['frr']);
  if (missing) throw new Error(`npm run soak needs FRR and root: ${missing}`);
  const durationMs = minutes * 60_000;
  const warmUpMs = durationMs / 6;
  const fl = new FaultLab({ services: 100, intervalMs: 1_000, tag: 'soak' });
  const samples: (Usage & { atS: number; prefixes: number })[] = [];
  let serviceFlaps = 0;
  let peerFlaps = 0;
  const problems: string[] = [];
  try {
    await fl.start();
    console.log(`soak: ${minutes} min, 100 services flapping every 2 s, FRR resetting the session every 30 s; warm-up ${Math.round(warmUpMs / 1000)} s`);
    const t0 = Date.now();
    let nextService = t0 + 2_000;
    let nextPeer = t0 + 30_000;
    let nextSample = t0;
    while (Date.now() - t0 < durationMs) {
      const now = Date.now();
      if (now >= nextService) {
        if (fl.targetUp()) await fl.stopTarget();
        else await fl.startTarget();
        serviceFlaps++;
        nextService += 2_000;
      }
      if (now >= nextPeer) {
        await fl.frr.vtysh([`clear bgp ${HERALD_V6}`]);
        peerFlaps++;
        nextPeer += 30_000;
      }
      if (now >= nextSample) {
        if (!fl.herald.running()) throw new Error(`herald exited during the soak:\n${fl.herald.tail(20)}`);
        const s = { ...fl.usage(), atS: Math.round((now - t0) / 1000), prefixes: await fl.prefixCount() };
        samples.push(s);
        if (samples.length % 30 === 1) console.log(`  ${s.atS} s: RSS ${s.rssMb} MB, fds ${s.fds}, FRR holds ${s.prefixes} routes`);
        nextSample += 10_000;
      }
      await sleep(Math.max(10, Math.min(nextService, nextPeer, nextSample) - Date.now()));
    }
    await fl.startTarget();
    const settle = await fl.waitRoutes(fl.expectedCount(), 120_000).catch((e: Error) => {
      problems.push(e.message.split('\n')[0]!);
      return null;
    });
    const routes = await fl.checkRoutes();
    if (!routes.ok) problems.push(`routes at FRR: missing ${routes.missing.length}, stale ${routes.stale.length}, duplicated ${routes.duplicated.length}`);
    const after = samples.filter((s) => s.atS * 1000 >= warmUpMs);
    const first = after[0];
    const last = fl.usage();
    const peak = Math.max(...after.map((s) => s.rssMb));
    const growth = first ? ((last.rssMb - first.rssMb) / first.rssMb) * 100 : null;
    if (growth === null) problems.push('no sample after warm-up');
    else if (growth >= 5) problems.push(`RSS grew ${growth.toFixed(1)} % after warm-up (${first!.rssMb} → ${last.rssMb} MB)`);
    if (first && last.fds > first.fds * 1.1 + 2) problems.push(`fds grew ${first.fds} → ${last.fds}`);
    console.log(
      `soak done: ${serviceFlaps} target flips, ${peerFlaps} session resets; RSS after warm-up ${first?.rssMb} → ${last.rssMb} MB (${growth?.toFixed(1)} %, peak ${peak} MB), fds ${first?.fds} → ${last.fds}; every route back ${settle} ms after the churn stopped; routes at FRR ${routes.present}/${routes.expected}, ${routes.stale.length} stale — ${problems.length === 0 ? 'ok' : `FAILED: ${problems.join('; ')}`}`,
    );
    const dir = join(here, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'soak.json'), JSON.stringify({ at: new Date().toISOString(), minutes, serviceFlaps, peerFlaps, samples, problems }, null, 2) + '\n');
  } finally {
    await fl.close();
  }
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
