/**
 * Quick timing check of the Adj-RIB-Out hot path (prints, asserts nothing):
 * 1,000,000 IPv4 /32 + 100,000 IPv6 /128 sharing one attribute set, then
 * every UPDATE drained to bytes the way the driver pulls them (64 KiB at a
 * time), a repeated snapshot, half withdrawn, and everything withdrawn.
 * Run: npx tsx test/bench/rib-encode.ts [v4count] [v6count] [--ext] [--mixed]
 * (--mixed: each route its own communities array, four attribute sets interleaved;
 * --flat: prefix strings flattened first, as text read from a file or socket is,
 * rather than the rope strings template literals give, which the first read flattens)
 * (with `node --expose-gc --import tsx` the heap figures are after a full GC).
 */
import { DEFAULT_CONTEXT, IPV4_UNICAST, IPV6_UNICAST, withContext } from '../../bgp/wire/context.js';
import { AdjRibOut } from '../../bgp/rib/adj-rib-out.js';
import type { RouteSpec } from '../../bgp/rib/route.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const N4 = Number(args[0] ?? 1_000_000);
const N6 = Number(args[1] ?? 100_000);
const ext = process.argv.includes('--ext');
const mixed = process.argv.includes('--mixed');
const flat = process.argv.includes('--flat');
const gc = (globalThis as { gc?: () => void }).gc;

const specs: RouteSpec[] = [];
const shared = ['65011:53'];
const communities = (i: number): string[] => (mixed ? ['65011:53', `65011:${i % 4}`] : shared);
for (let i = 0; i < N4; i++) specs.push({ prefix: `240.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, communities: communities(i) });
// Canonical (RFC 5952) text, as src/ produces it.
for (let i = 1; i <= N6; i++) {
  const hi = i >> 16;
  const lo = (i & 0xffff).toString(16);
  specs.push({ prefix: hi > 0 ? `2001:db8:53::${hi.toString(16)}:${lo}/128` : `2001:db8:53::${lo}/128`, communities: communities(i) });
}
if (flat) for (const s of specs) s.prefix = Buffer.from(s.prefix).toString();

const ctx = withContext(DEFAULT_CONTEXT, { as4: true, extendedMessage: ext });
const peer = {
  localAs: 65011,
  peerAs: 65000,
  ibgp: false,
  localAddress4: '192.0.2.11',
  localAddress6: '2001:db8::11',
  families: [IPV4_UNICAST, IPV6_UNICAST],
};

// Wall time, and this process's CPU time in brackets: on a shared machine the
// wall clock also counts time other processes had the cores.
let cpu0 = process.cpuUsage();
const ms = (t: number): string => {
  const c = process.cpuUsage(cpu0);
  return `${(performance.now() - t).toFixed(0)} ms (cpu ${((c.user + c.system) / 1000).toFixed(0)})`;
};
const mark = (): number => {
  cpu0 = process.cpuUsage();
  return performance.now();
};
const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`;
const heap = (): number => {
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers; // the RIB keeps its columns in typed arrays, outside the JS heap
};
const drainAll = (): number => {
  let n = 0;
  for (let b = rib.nextBytes(); b !== null; b = rib.nextBytes()) n += b.length;
  return n;
};

const heap0 = heap();
const rib = new AdjRibOut();

let t = mark();
rib.setDesired(specs);
console.log(`setDesired (first, ${N4} v4 + ${N6} v6): ${ms(t)}`);

t = mark();
rib.start(ctx, peer);
console.log(`start (export + queue):             ${ms(t)}`);

t = mark();
const bytes = drainAll();
console.log(`drain to bytes:                     ${ms(t)}  (${rib.stats.updates} UPDATEs, ${(bytes / 1e6).toFixed(2)} MB)`);
console.log(`RIB heap with ${rib.advertisedCount} routes:     ${mb(heap() - heap0)}${gc ? ' (after GC)' : ''}`);

t = mark();
rib.setDesired(specs);
console.log(`setDesired (same snapshot again):   ${ms(t)}  pending=${rib.pendingCount}`);

const half = specs.filter((_, i) => i % 2 === 0);
t = mark();
rib.setDesired(half);
const wbytes = drainAll();
console.log(`withdraw half (diff + drain):       ${ms(t)}  (${(wbytes / 1e6).toFixed(2)} MB)`);

t = mark();
rib.setDesired(specs);
drainAll();
console.log(`re-add half (diff + drain):         ${ms(t)}`);

t = mark();
rib.setDesired([]);
const abytes = drainAll();
console.log(`withdraw all (diff + drain):        ${ms(t)}  (${(abytes / 1e6).toFixed(2)} MB)`);
const m = process.memoryUsage();
console.log(`process: heap used ${mb(m.heapUsed)}, array buffers ${mb(m.arrayBuffers)}, rss ${mb(m.rss)}`);
