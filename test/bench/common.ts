/**
 * Shared pieces of the throughput benchmark: the per-sender topology (a
 * receiver namespace and a sender namespace joined by one veth pair), the
 * result record every sender fills in, peak-RSS reading from /proc, and the
 * receiver watch that times "all received" and "all withdrawn".
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { fileURLToPath } from 'node:url';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { descendants, Lab, pointToPoint } from '../interop/lab/index.js';
import { PRODUCTION_NODE_FLAGS } from '../support/node-flags.js';
import { testNetns } from '../support/netns-enter.js';
// @ts-expect-error: the build script is plain JavaScript without declarations
import { CJS_BANNER, CJS_DEFINE, LOADED, sharedPlugin, THREADS } from '../../src/bin/build.mjs';
import { BirdReceiver, wallMs, type ReceiverCounts } from './receiver.js';

export { wallMs };

export const RECEIVER_ASN = 65000;
export const SENDER_ASN = 65011;

export interface BenchOptions {
  count4: number;
  count6: number;
  /** Longest wait for all routes to arrive (or leave) before giving up on a figure. */
  transferTimeoutMs: number;
  /** Longest wait for a withdraw-all (GoBGP is slow here; LAB.md saw 42 s). */
  withdrawTimeoutMs: number;
  /** Directory for herald's CPU profile (`--cpu-prof`), if wanted. */
  cpuProfDir?: string;
}

/** One sender's figures; null where it could not be measured (see notes). */
export interface SenderResult {
  sender: string;
  count4: number;
  count6: number;
  /** Time to hand the routes to the sender (herald: setRoutes; others: config/bulk/gRPC load). */
  loadMs: number | null;
  /** Receiver-side: IPv4 session Established → every IPv4 route imported. */
  establishedToV4Ms: number | null;
  /**
   * Receiver-side, per session: Established → every route of that session
   * imported, the longer of the IPv4 and IPv6 sessions (so a sender whose
   * second session connects late is not charged for its connect timer).
   */
  establishedToAllMs: number | null;
  /** Routes handed to the sender → every route imported (includes load and session set-up). */
  handedToAllMs: number | null;
  /** Withdraw-all command → receiver holds no route. */
  withdrawMs: number | null;
  /** Peak resident set (VmHWM) of the sender's processes, summed, in MB. */
  peakRssMb: number | null;
  /** Extra figures specific to one sender. */
  extra: Record<string, number | string | null>;
  notes: string[];
  error?: string;
}

export function emptyResult(sender: string, o: BenchOptions): SenderResult {
  return {
    sender,
    count4: o.count4,
    count6: o.count6,
    loadMs: null,
    establishedToV4Ms: null,
    establishedToAllMs: null,
    handedToAllMs: null,
    withdrawMs: null,
    peakRssMb: null,
    extra: {},
    notes: [],
  };
}

export interface Topology {
  lab: Lab;
  recvNs: string;
  sendNs: string;
  recvV4: string;
  recvV6: string;
  sendV4: string;
  sendV6: string;
  receiver: BirdReceiver;
}

/** Build recv + send namespaces with a /30 and a /64 between them and start the BIRD receiver. */
export async function setUp(lab: Lab, tag: string): Promise<Topology> {
  const recvNs = await lab.addNamespace(`recv-${tag}`);
  const sendNs = await lab.addNamespace(`send-${tag}`);
  const l = await pointToPoint(lab, recvNs, sendNs);
  const receiver = new BirdReceiver(lab, recvNs, await lab.tempDir(`bench-recv-${tag}`), RECEIVER_ASN, SENDER_ASN, [
    { name: 'r4', neighbor: l.bV4, local: l.aV4, family: 'ipv4' },
    { name: 'r6', neighbor: l.bV6, local: l.aV6, family: 'ipv6' },
  ]);
  await receiver.start();
  return { lab, recvNs, sendNs, recvV4: l.aV4, recvV6: l.aV6, sendV4: l.bV4, sendV6: l.bV6, receiver };
}

/** Sum VmHWM (peak RSS) over pid and its descendants, in MB; null if unreadable. */
export function peakRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  let kb = 0;
  let found = false;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) {
        kb += Number(m[1]);
        found = true;
      }
    } catch {
      // gone
    }
  }
  return found ? kb / 1024 : null;
}

export interface TransferTimes {
  /** First sample showing the IPv4 / IPv6 session Established. */
  est4: number | null;
  est6: number | null;
  /** First sample holding every IPv4 / IPv6 / every route. */
  v4: number | null;
  v6: number | null;
  all: number | null;
  last: ReceiverCounts | null;
}

/** Established → all received, per session, the longer of the two. */
export function establishedToAll(t: TransferTimes): number | null {
  const a = span(t.est4, t.v4);
  const b = span(t.est6, t.v6);
  return a === null || b === null ? null : Math.max(a, b);
}

/**
 * Watch the receiver until both sessions are Established and every route has
 * arrived (wall-clock times of the first sample showing each), or timeout.
 */
export async function watchArrival(r: BirdReceiver, o: BenchOptions, timeoutMs: number): Promise<TransferTimes> {
  const out: TransferTimes = { est4: null, est6: null, v4: null, v6: null, all: null, last: null };
  const deadline = wallMs() + timeoutMs;
  for (;;) {
    const c = await r.counts();
    out.last = c;
    if (out.est4 === null && c.est4) out.est4 = c.at;
    if (out.est6 === null && c.est6) out.est6 = c.at;
    if (out.v4 === null && c.v4 >= o.count4) out.v4 = c.at;
    if (out.v6 === null && c.v6 >= o.count6) out.v6 = c.at;
    if (out.all === null && out.v4 !== null && out.v6 !== null) out.all = c.at;
    if ((out.est4 !== null && out.est6 !== null && out.all !== null) || c.at > deadline) return out;
    await sleepMs(out.est4 === null || out.est6 === null ? 5 : 10);
  }
}

/** Watch the receiver until it holds no route; return the wall-clock time of that sample, or null. */
export async function watchEmpty(r: BirdReceiver, timeoutMs: number): Promise<{ at: number | null; last: ReceiverCounts | null }> {
  const c = await r.until((x) => x.v4 === 0 && x.v6 === 0, timeoutMs, 10);
  return { at: c?.at ?? null, last: c };
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Difference of two optional wall-clock times. */
export function span(from: number | null | undefined, to: number | null | undefined): number | null {
  return from == null || to == null ? null : to - from;
}

/** The node options herald runs with in production (the #! line of src/bin/herald.mjs): the benchmark gives them to its children. */
export { PRODUCTION_NODE_FLAGS };

/**
 * The node options the benchmark's herald children run with: the production
 * ones, or HERALD_BENCH_NODE_FLAGS instead (experiments, e.g.
 * "--max-semi-space-size=8"; each row then notes it).
 */
export const HERALD_NODE_FLAGS = process.env.HERALD_BENCH_NODE_FLAGS !== undefined ? process.env.HERALD_BENCH_NODE_FLAGS.split(' ').filter(Boolean) : PRODUCTION_NODE_FLAGS;

/**
 * Bundle a benchmark child (and the engine worker it may start) with esbuild
 * into node_modules/.cache/herald/, so it runs on plain node as an installed
 * herald does: without tsx's loader, whose memory would count in the figures.
 * Returns the bundle's path.
 */
export async function bundleChild(entry: string, name: string): Promise<string> {
  const { build } = await import('esbuild');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = `${root}node_modules/.cache/herald`;
  const common = { absWorkingDir: root, bundle: true, platform: 'node' as const, format: 'esm' as const, target: 'node20', packages: 'external' as const, logLevel: 'warning' as const };
  // The child reads its config through the parser bundle beside it, as a build does (decision 0050).
  await build({ ...common, entryPoints: [entry], outfile: `${dir}/${name}.mjs`, define: { HERALD_CONFIG_PARSER: JSON.stringify('config-parser.cjs') } });
  // The threads and the config parser as src/bin/build.mjs makes them: CommonJS files beside the child (decisions 0049, 0050).
  const cjs = { ...common, format: 'cjs' as const, define: CJS_DEFINE, banner: { js: CJS_BANNER }, outdir: dir, outExtension: { '.js': '.cjs' } };
  const entries = (table: Record<string, string>) => Object.entries(table).map(([out, src]) => ({ in: src, out }));
  await build({ ...cjs, entryPoints: entries(THREADS as Record<string, string>) });
  // The parser bundled whole (yaml and zod in it), so that it is dropped after each read as in a build.
  await build({ ...cjs, packages: undefined, plugins: [sharedPlugin(root)], entryPoints: entries(LOADED as Record<string, string>) });
  return `${dir}/${name}.mjs`;
}

// ----------------------------------------------- herald run as a child (checks.ts, lxd.ts)

/** Rebuild dist/ (src/bin/build.mjs), so a benchmark runs herald as an operator does. */
export function buildDist(root = fileURLToPath(new URL('../..', import.meta.url))): void {
  if (!root.endsWith('/')) root += '/';
  const r = spawnSync(process.execPath, [`${root}src/bin/build.mjs`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
}

/** utime and stime of a process (all its threads) from /proc/PID/stat, in seconds (10 ms ticks). */
export function procCpuSeconds(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return { user: Number(rest[11]) / CLK_TCK, sys: Number(rest[12]) / CLK_TCK };
}
const CLK_TCK = 100;

/** GET a path over a unix socket or TCP; the body as text. */
export function httpGet(opts: { socketPath?: string; host?: string; port?: number; path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ ...opts, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** SIGTERM a child and wait for it to exit; SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      r();
    }, 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

/** "met" or "MISSED" beside a target. */
export const met = (v: number, max: number): string => (v <= max ? 'met' : 'MISSED');

/** Print one JSON line of a result and write it to test/bench/results/latest-NAME.json. */
export function writeResult(name: string, result: unknown): void {
  const out = { at: new Date().toISOString(), node: process.version, [name]: result };
  console.log(JSON.stringify(out));
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}latest-${name}.json`, JSON.stringify(out, null, 2) + '\n');
}

/** herald.yaml for a benchmark's `herald run`: one passive peer r1 on 127.0.0.1, no drain period, then `more` lines. */
export function benchConfig(o: { bgpPort: number; sock: string; dir: string }, more: readonly string[]): string {
  return [
    'router_id: 192.0.2.11',
    'asn: 65011',
    `listen: { address: 127.0.0.1, port: ${o.bgpPort} }`,
    `api: { socket: ${o.sock} }`,
    `state_dir: ${o.dir}`,
    'drain: { period: 0s }',
    'peers:',
    '  - { name: r1, address: 127.0.0.1, asn: 65000, passive: true }',
    ...more,
    '',
  ].join('\n');
}

/** The 1, 5 and 15 minute load averages, for the printed figures (other work on the machine skews them). */
export function loadAvg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/**
 * Run `f` with this thread in a network namespace of its own (lo up), so the
 * herald it starts, the listeners and raw peers it opens on 127.0.0.1 live
 * there and not in the host's: a routing daemon never runs in the host's
 * namespace. Unix sockets (the control API, a fake LXD) are paths and work
 * across it. Needs root; deleted afterwards.
 */
export async function inOwnNamespace<T>(file: string, tag: string, f: () => Promise<T>): Promise<T> {
  const ns = testNetns({ file, tag });
  if (!ns.canRun) throw new Error(`${file} runs herald in a network namespace of its own, which needs root and ip(8)`);
  ns.setUp();
  try {
    return await f();
  } finally {
    ns.cleanUp();
  }
}
