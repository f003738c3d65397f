/**
 * The reconciler alone at scale: a million-prefix source snapshot handed in,
 * the "nothing changed" run, one changed service among many, and memory. A
 * benchmark, not a test: it prints figures and asserts nothing. No network,
 * no root.
 *
 *   npx tsx --expose-gc test/bench/reconcile.ts [--count=N] [--services=N]
 *
 * The snapshot is the one test/bench/cli-summary.ts hands the daemon: N IPv4
 * /32 (test/bench/routes.ts) from one source, parsed once into a prefix list
 * at the source's edge, plus S one-prefix services. The sink counts what it
 * is handed and keeps nothing, as the speaker keeps none of the caller's
 * objects. Issue 9's targets: a re-reconcile with nothing changed ≤ 20 ms,
 * one change ≤ 20 ms to its hand-off (the wire part is the daemon bench's).
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { PrefixListBuilder, type GroupOp } from '../../bgp/index.js';
import { Reconciler, type SourceGroup } from '../../src/reconciler/index.js';
import { v4Route } from './routes.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const count = Number(arg('count') ?? 1_000_000);
const nServices = Number(arg('services') ?? 1000);

const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});
const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

let handed = 0;
let ops = 0;
const r = new Reconciler({
  applyGroups(batch: GroupOp[]): void {
    ops += batch.length;
    for (const op of batch) if (!op.remove) handed += op.prefixes.count;
  },
});

const group = (key: string, source: string, b: PrefixListBuilder, over: Partial<SourceGroup> = {}): SourceGroup => ({
  key,
  source,
  rank: 0,
  nextHop: 'self',
  communities: [],
  largeCommunities: [],
  extendedCommunities: [],
  peers: null,
  prefixes: b.finish(),
  ...over,
});

const h0 = heapMb();
const timed = (label: string, fn: () => void): void => {
  const o0 = ops;
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(`  ${label.padEnd(44)} ${ms.toFixed(2).padStart(9)} ms   group ops ${ops - o0}, heap after gc ${(heapMb() - h0).toFixed(0)} MB over start`);
};

console.log(`reconcile bench: ${count.toLocaleString('en')} IPv4 /32 in one source + ${nServices} one-prefix services`);
let big: SourceGroup;
timed('parse the source snapshot (edge)', () => {
  const b = new PrefixListBuilder(count);
  for (let i = 0; i < count; i++) b.add(v4Route(i));
  big = group('bench', 'bench', b);
});
const svc = (i: number, rank: number): SourceGroup => {
  const b = new PrefixListBuilder(1);
  b.add(`198.51.${100 + (i >> 8)}.${i & 255}/32`);
  return group(`service:s${i}`, `service:s${i}`, b, rank ? { rank, prepend: 2 } : {});
};
timed('first reconcile (index + hand-off)', () => {
  r.setSnapshot('bench', [big]);
  for (let i = 0; i < nServices; i++) r.setSnapshot(`service:s${i}`, [svc(i, 0)]);
  r.reconcile();
});
timed('re-reconcile, nothing changed', () => r.reconcile());
timed('every service re-set, same content', () => {
  for (let i = 0; i < nServices; i++) r.setSnapshot(`service:s${i}`, [svc(i, 0)]);
  r.reconcile();
});
timed('one service degrades (prepend)', () => {
  r.setSnapshot('service:s7', [svc(7, 1)]);
  r.reconcile();
});
timed(`all ${nServices} services change together`, () => {
  for (let i = 0; i < nServices; i++) r.setSnapshot(`service:s${i}`, [svc(i, 1)]);
  r.reconcile();
});
console.log(`  routes handed in all: ${handed.toLocaleString('en')}; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
