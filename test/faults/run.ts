/**
 * `npm run faults`: issue 12's fault suite at full size, with a report.
 *
 *   npm run faults                          every fault, full counts
 *   npm run faults -- --only=frr-restart,sigkill
 *   npm run faults -- --quick               the CI counts (as test/interop/faults.test.ts)
 *   npm run faults -- --only=link-flap --count=10   every selected fault 10× (while iterating)
 *   npm run faults -- --only=link-flap --dad=off     the link's ends without duplicate address
 *                                            detection (a point-to-point uplink set up for
 *                                            fast recovery, docs/operations.md)
 *
 * Full counts: FRR restarted 50×, the link flapped 50×, herald SIGKILLed
 * 20×, 30,000 UPDATEs with 16,340-ASN AS_PATHs from a configured peer,
 * connections from 300,000 unknown source addresses, a never-reading
 * /v1/events client over 3 flips of every service, and 10,000 services
 * changing together (3 flips). Each fault prints its figure and whether
 * FRR holds every expected route exactly once, none stale; the process
 * exits 1 when any fault failed. The report also goes to
 * test/faults/results/latest.json. Needs root (namespaces) and FRR.
 *
 * The events and 10,000-service faults run in a lab of 10,000 services
 * (20,000 service events a flip); the others use 100 services, so their
 * figures are about the fault, not the load. RSS and fds are printed before
 * and after each lab's run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingReason } from '../interop/lab/index.js';
import { FaultLab } from './lab.js';
import { describeFault, runFault, type FaultName, type FaultResult } from './faults.js';

const here = fileURLToPath(new URL('.', import.meta.url));

const FULL: Record<FaultName, number> = { 'frr-restart': 50, 'link-flap': 50, sigkill: 20, huge: 30_000, scan: 300_000, events: 3, services: 3 };
const QUICK: Record<FaultName, number> = { 'frr-restart': 2, 'link-flap': 2, sigkill: 2, huge: 200, scan: 2_000, events: 1, services: 1 };
const ORDER: FaultName[] = ['frr-restart', 'link-flap', 'events', 'scan', 'huge', 'sigkill', 'services'];

function args(argv: string[]): { quick: boolean; only: Set<FaultName> | null; count: number | null; dad: boolean } {
  let quick = false;
  let dad = true;
  let only: Set<FaultName> | null = null;
  let count: number | null = null;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--dad=off') dad = false;
    else if (a.startsWith('--count=')) {
      count = Number(a.slice(8));
      if (!Number.isInteger(count) || count < 1) throw new Error(`--count wants a whole number above 0, not '${a.slice(8)}'`);
    }
    else if (a.startsWith('--only=')) {
      const names = a.slice(7).split(',') as FaultName[];
      for (const n of names) if (!ORDER.includes(n)) throw new Error(`unknown fault ${n} (known: ${ORDER.join(', ')})`);
      only = new Set(names);
    } else throw new Error(`unknown argument ${a} (known: --quick, --count=N, --dad=off, --only=${ORDER.join(',')})`);
  }
  return { quick, only, count, dad };
}

/** Start a lab, do each fault in it, print herald's RSS and fds before and after, close the lab. */
async function inLab(fl: FaultLab, faults: FaultName[], counts: Record<FaultName, number>): Promise<FaultResult[]> {
  const out: FaultResult[] = [];
  try {
    await fl.start(300_000);
    const u0 = fl.usage();
    console.log(`fault lab: herald with ${fl.opts.services} services behind FRR at hold 3, the link's DAD ${fl.opts.dad ? 'on (Linux default)' : 'off'}; herald ${JSON.stringify(u0)}`);
    for (const f of faults) {
      console.log(`${f} ×${counts[f]} …`);
      const r = await runFault(fl, f, counts[f]);
      out.push(r);
      console.log(describeFault(r));
    }
    const u1 = fl.usage();
    console.log(`herald after the faults: ${JSON.stringify(u1)} (RSS ${u0.rssMb} → ${u1.rssMb} MB, fds ${u0.fds} → ${u1.fds}; a SIGKILL fault starts a new process)`);
  } finally {
    await fl.close();
  }
  return out;
}

async function main(): Promise<number> {
  const a = args(process.argv.slice(2));
  const missing = missingReason(['frr']);
  if (missing) throw new Error(`npm run faults needs FRR and root: ${missing}`);
  const counts = { ...(a.quick ? QUICK : FULL) };
  if (a.count !== null) for (const f of ORDER) counts[f] = a.count;
  const want = ORDER.filter((f) => a.only === null || a.only.has(f));
  const results: FaultResult[] = [];
  // The events and services faults need ten thousand services (20,000 events a flip); the others are about the fault, not the load.
  const big: FaultName[] = want.filter((f) => f === 'events' || f === 'services');
  const small = want.filter((f) => !big.includes(f));
  if (small.length > 0) results.push(...(await inLab(new FaultLab({ services: 100, scanner: small.includes('scan') || small.includes('huge'), tag: 'faults', dad: a.dad }), small, counts)));
  if (big.length > 0) results.push(...(await inLab(new FaultLab({ services: 10_000, tag: 'faults-10k', dad: a.dad }), big, counts)));
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify({ at: new Date().toISOString(), quick: a.quick, count: a.count, dad: a.dad, results }, null, 2) + '\n');
  const failed = results.filter((r) => r.problems.length > 0);
  console.log(`\nfaults: ${results.length - failed.length} of ${results.length} correct${failed.length ? `; failed: ${failed.map((r) => r.fault).join(', ')}` : ''}`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
