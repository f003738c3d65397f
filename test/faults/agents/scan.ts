/**
 * Connections from many unknown source addresses, for the fault suite (issue
 * 12: herald's unknown-address log suppression set was never pruned). Run in
 * a namespace whose `lo` holds AnyIP routes for the source ranges (`ip route
 * add local PREFIX dev lo`), so a socket may bind any address in them and
 * still receive the SYN-ACK:
 *
 *   node --import tsx scan.ts '{"target":"2001:db8:0:200::1","port":179,
 *     "sources":[{"base":"2001:db8:5c::","count":300000},{"base":"198.51.100.0","count":256}],
 *     "concurrency":256}'
 *
 * IPv6 sources count up in the low 32 bits of `base` (a /64 and up); IPv4
 * sources in the last octet (up to 256). Each connection is opened and left
 * for herald to close (it closes unknown addresses before any BGP). Prints
 * one JSON line: attempted, connected, failed, seconds, the first errors.
 * No RFC: test infrastructure.
 */
import { connect } from 'node:net';

interface Spec {
  target: string;
  port: number;
  sources: { base: string; count: number }[];
  concurrency: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;

/** The i-th source address of a range. */
function source(base: string, i: number): string {
  if (base.includes(':')) {
    const head = base.replace(/::$/, '');
    return `${head}::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
  }
  const o = base.split('.').map(Number);
  return `${o[0]}.${o[1]}.${o[2]}.${(o[3]! + i) & 0xff}`;
}

function* addresses(): Generator<string> {
  for (const r of spec.sources) for (let i = 0; i < r.count; i++) yield source(r.base, i);
}

const t0 = performance.now();
let attempted = 0;
let connected = 0;
let failed = 0;
const errors = new Map<string, number>();
const it = addresses();

function one(): Promise<void> {
  const next = it.next();
  if (next.done) return Promise.resolve();
  attempted++;
  return new Promise<void>((resolve) => {
    const s = connect({ host: spec.target, port: spec.port, localAddress: next.value });
    // herald closes an unknown address's connection at once; a connect that
    // hangs (SYN dropped) is given up after 5 s.
    s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
    s.once('connect', () => connected++);
    s.on('error', (e: NodeJS.ErrnoException) => {
      failed++;
      const k = e.code ?? e.message;
      errors.set(k, (errors.get(k) ?? 0) + 1);
    });
    s.once('close', () => resolve());
    s.resume();
  }).then(one);
}

await Promise.all(Array.from({ length: spec.concurrency }, one));
process.stdout.write(
  `${JSON.stringify({ attempted, connected, failed, seconds: +((performance.now() - t0) / 1000).toFixed(1), errors: Object.fromEntries(errors) })}\n`,
);
