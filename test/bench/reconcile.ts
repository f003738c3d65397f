/**
 * The reconciler alone with a million intents: plan + hand-off time, the
 * "nothing changed" run, one changed attribute, and memory. A benchmark, not
 * a test: it prints figures and asserts nothing. No network, no root.
 *
 *   npx tsx --expose-gc test/bench/reconcile.ts [--count=N] [--impl=PATH]
 *
 * The snapshot is the one test/bench/cli-summary.ts hands the daemon: N IPv4
 * /32 (test/bench/routes.ts) from one source, every intent with its own empty
 * community arrays; the peers are that bench's r4 (ipv4) and r6 (ipv6). The
 * sink counts what it is handed and keeps nothing, as the speaker keeps none
 * of the caller's objects. --impl runs another reconciler module with the
 * same exports (e.g. an older one, `git show REV:src/reconciler/index.ts`),
 * whose sink may be `setRoutes` or `setRouteGroups`.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Intent, Reconciler as ReconcilerT } from '../../src/reconciler/index.js';
import { v4Route } from './routes.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const count = Number(arg('count') ?? 1_000_000);
const impl = arg('impl');
const mod = (await import(impl ? pathToFileURL(resolve(impl)).href : '../../src/reconciler/index.js')) as { Reconciler: typeof ReconcilerT };

const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});
const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

let handed = 0;
let calls = 0;
const sink = {
  setRoutes: (_peer: string, routes: unknown[]): void => {
    calls++;
    handed += routes.length;
  },
  setRouteGroups: (_peer: string, groups: { prefixes: readonly string[] }[]): void => {
    calls++;
    for (const g of groups) handed += g.prefixes.length;
  },
};
const r = new mod.Reconciler(sink as never);
r.setPeers([
  { name: 'r4', families: ['ipv4'] },
  { name: 'r6', families: ['ipv6'] },
]);

/** The snapshot, made afresh each time (a source re-reads and re-derives); one prefix may carry a MED. */
function snapshot(medOn: number): Intent[] {
  const out = new Array<Intent>(count);
  for (let i = 0; i < count; i++) {
    out[i] = { prefix: v4Route(i), source: 'bench', rank: 0, nextHop: 'self', communities: [], largeCommunities: [], extendedCommunities: [], peers: null };
    if (i === medOn) out[i]!.med = 10;
  }
  return out;
}

const h0 = heapMb();
const timed = (label: string, medOn: number): void => {
  const s = snapshot(medOn);
  const c0 = calls;
  const t0 = performance.now();
  r.setSnapshot('bench', s);
  const changed = r.reconcile();
  const ms = performance.now() - t0;
  console.log(`  ${label.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms   sink calls ${calls - c0}, changed [${changed.join(', ')}], heap after gc ${(heapMb() - h0).toFixed(0)} MB over start`);
};

console.log(`reconcile bench: ${count.toLocaleString('en')} IPv4 /32 intents, peers r4 (ipv4) and r6 (ipv6), ${impl ?? 'src/reconciler/index.ts'}`);
timed('first (plan + hand-off)', -1);
timed('same snapshot again (no change)', -1);
timed('one prefix gains a MED', count >> 1);
timed('same snapshot again (no change)', count >> 1);
console.log(`  routes handed in all: ${handed.toLocaleString('en')}; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
