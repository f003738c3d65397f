/**
 * `npm run bench -- --checks`: the cost of many health checks in the real
 * daemon (issue 9): 1,000 services, each with one TCP check every second,
 * against 1,000 listeners this process opens on 127.0.0.1 (one port each).
 *
 *   CPU      herald's user + system time from /proc/PID/stat (every thread:
 *            main, engine worker, libuv) over the measuring window, as a
 *            percentage of one core
 *   RSS      VmRSS at the end of the window, and VmHWM (peak)
 *   flip     every listener closed at once (every check then fails: all
 *            1,000 services go down), then opened again (all come up): the
 *            time until the control API shows them all down / up, and how
 *            many reconcile runs and runs that handed the engine something
 *            (herald_reconcile_runs_total / _changes_total) each flip took
 *
 * herald runs as an operator runs it: `node --max-semi-space-size=1
 * src/bin/herald.mjs run` on the built dist/ (rebuilt first), default
 * logging (info, JSON to a file), metrics on, one passive peer that this
 * process plays with a raw BGP session (test/support/bgp-client.ts), so each
 * flip also writes its UPDATEs. Services use the config's defaults apart from
 * `interval: 1s` (timeout 1 s, jitter 100 ms, rise 2, fall 3). Targets (issue
 * 9): CPU ≤ 10 % of one core, RSS ≤ 120 MB, a flip of all services one
 * reconcile's worth of work. A benchmark: it prints figures and asserts
 * nothing. No root needed (loopback only).
 *
 *   npm run bench -- --checks [--services=1000] [--seconds=60] [--cpu-prof=DIR]
 *
 * Route data: 240.0.0.0/4 (reserved, never installed anywhere).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEEPALIVE, RawPeer } from '../support/bgp-client.js';
import { benchConfig, buildDist, inOwnNamespace, loadAvg, HERALD_NODE_FLAGS, PRODUCTION_NODE_FLAGS, httpGet, met, procCpuSeconds, sleepMs, stopChild, writeResult } from './common.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERALD = join(ROOT, 'src/bin/herald.mjs');
const CLK_TCK = 100;

/** Issue 9's targets for the checks row. */
export const CHECKS_TARGETS = { cpuPercent: 10, rssMb: 120 };

export interface ChecksOptions {
  services: number;
  seconds: number;
  cpuProfDir?: string;
}

export interface FlipResult {
  /** Listeners closed (or opened) → the API shows every service down (or up). */
  ms: number | null;
  reconcileRuns: number;
  reconcileChanges: number;
  updatesWritten: number;
}

export interface ChecksResult {
  services: number;
  windowS: number;
  cpuPercent: number;
  /** The part in user space and in the kernel (system calls: connect, close, epoll). */
  userPercent: number;
  sysPercent: number;
  /** CPU split by thread name (/proc/PID/task/TID/stat), percent of one core. */
  cpuByThread: Record<string, number>;
  rssMb: number;
  peakRssMb: number;
  reconcileRunsInWindow: number;
  /** Probes finished per second in the window (herald_check_results_total): the work the CPU figure paid for. */
  probesPerSecond: number;
  down: FlipResult;
  up: FlipResult;
  loadavg: string;
  notes: string[];
}

/** utime + stime per thread name, in seconds. */
function threadSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'));
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(rest[11]) + Number(rest[12])) / CLK_TCK);
    } catch {
      // the thread ended
    }
  }
  return out;
}

function memMb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** A counter's value from the Prometheus text. */
function counter(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** 1,000 TCP listeners on consecutive ports of 127.0.0.1 that accept and close at once. */
class Listeners {
  private servers: net.Server[] = [];
  constructor(
    readonly base: number,
    readonly count: number,
  ) {}

  async open(): Promise<void> {
    const all: Promise<void>[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = net.createServer((c) => c.destroy());
      this.servers.push(s);
      all.push(
        new Promise((resolve, reject) => {
          s.once('error', reject);
          s.listen({ host: '127.0.0.1', port: this.base + i, backlog: 64 }, () => {
            s.off('error', reject);
            resolve();
          });
        }),
      );
    }
    await Promise.all(all);
  }

  async close(): Promise<void> {
    const all = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.servers = [];
    await Promise.all(all);
  }
}

/** Find `count` consecutive free ports on 127.0.0.1 (tries a few random bases). */
async function freeBase(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    const l = new Listeners(base, count);
    try {
      await l.open();
      await l.close();
      return base;
    } catch {
      await l.close();
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Run the checks benchmark; prints as it goes and returns the figures. */
export async function runChecks(o: ChecksOptions): Promise<ChecksResult> {
  return inOwnNamespace('test/bench/checks.ts', 'bench-checks', () => checksInNamespace(o));
}

async function checksInNamespace(o: ChecksOptions): Promise<ChecksResult> {
  const notes: string[] = [];
  buildDist();
  const base = await freeBase(o.services + 2);
  const bgpPort = base + o.services;
  const metricsPort = base + o.services + 1;
  const listeners = new Listeners(base, o.services);
  await listeners.open();
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-checks-'));
  const sock = join(dir, 'herald.sock');
  const services: string[] = [];
  for (let i = 0; i < o.services; i++) {
    services.push(`  - { name: s${i}, prefixes: [240.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32], interval: 1s, checks: [{ tcp: { address: 127.0.0.1, port: ${base + i} } }] }`);
  }
  writeFileSync(join(dir, 'herald.yaml'), benchConfig({ bgpPort, sock, dir }, [`metrics: { address: 127.0.0.1, port: ${metricsPort} }`, 'services:', ...services]));
  if (HERALD_NODE_FLAGS !== PRODUCTION_NODE_FLAGS) notes.push(`node flags: ${JSON.stringify(HERALD_NODE_FLAGS)} instead of the production ones`);
  const flags = [...HERALD_NODE_FLAGS, ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [])];
  const log = join(dir, 'herald.log');
  const herald: ChildProcess = spawn(process.execPath, [...flags, HERALD, 'run', '--config', join(dir, 'herald.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logText = '';
  herald.stdout!.on('data', (c: Buffer) => {
    logText += c.toString();
    if (logText.length > 64 * 1024 * 1024) logText = logText.slice(-1024 * 1024);
  });
  let stderr = '';
  herald.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let exited: string | null = null;
  herald.on('exit', (code, sig) => (exited = String(code ?? sig)));
  const pid = herald.pid!;
  const summary = async (): Promise<{ services: { up: number; down: number } }> => JSON.parse(await httpGet({ socketPath: sock, path: '/v1/summary' })) as { services: { up: number; down: number } };
  const metrics = async (): Promise<{ runs: number; changes: number; probes: number }> => {
    const t = await httpGet({ host: '127.0.0.1', port: metricsPort, path: '/metrics' });
    let probes = 0;
    for (const m of t.matchAll(/^herald_check_results_total\{[^}]*\} (\S+)$/gm)) probes += Number(m[1]);
    return { runs: counter(t, 'herald_reconcile_runs_total'), changes: counter(t, 'herald_reconcile_changes_total'), probes };
  };
  let peer: RawPeer | undefined;
  let ka: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < 100 && !peer && exited === null; i++) {
      await sleepMs(200);
      peer = await RawPeer.connect('127.0.0.1', bgpPort, '127.0.0.1').catch(() => undefined);
    }
    if (!peer) throw new Error(`herald did not start listening (exit ${exited}): ${stderr}`);
    await peer.establish(65000, '192.0.2.1');
    ka = setInterval(() => void peer!.send(KEEPALIVE), 20_000);
    const updates = (): number => peer!.received.filter((r) => r.type === 2).length;
    // Every service up (rise 2 at 1 s), then let the phases settle.
    const until = async (pred: (s: { services: { up: number; down: number } }) => boolean, ms: number): Promise<number | null> => {
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        const s = await summary().catch(() => null); // the API starts after the listener
        if (s !== null && pred(s)) return performance.now() - t0;
        await sleepMs(20);
      }
      return null;
    };
    if ((await until((s) => s.services.up === o.services, 60_000)) === null) notes.push('not every service came up within 60 s');
    await sleepMs(5_000);

    // The window: steady state, every check passing.
    const m0 = await metrics();
    const c0 = procCpuSeconds(pid);
    const th0 = threadSeconds(pid);
    const t0 = performance.now();
    await sleepMs(o.seconds * 1000);
    const c1 = procCpuSeconds(pid);
    const th1 = threadSeconds(pid);
    const window = (performance.now() - t0) / 1000;
    const m1 = await metrics();
    const mem = memMb(pid);
    const cpuByThread: Record<string, number> = {};
    for (const [name, s] of th1) {
      const d = s - (th0.get(name) ?? 0);
      if (d > 0) cpuByThread[name] = Number(((d / window) * 100).toFixed(2));
    }

    const flip = async (action: () => Promise<void>, pred: (s: { services: { up: number; down: number } }) => boolean): Promise<FlipResult> => {
      const a = await metrics();
      const u = updates();
      const ts = performance.now();
      await action();
      const waited = await until(pred, 30_000);
      const ms = waited === null ? null : performance.now() - ts;
      await sleepMs(1500); // late reconciles of the flip land in its count
      const b = await metrics();
      return { ms: ms === null ? null : Math.round(ms), reconcileRuns: b.runs - a.runs, reconcileChanges: b.changes - a.changes, updatesWritten: updates() - u };
    };
    const down = await flip(() => listeners.close(), (s) => s.services.down === o.services);
    const up = await flip(() => listeners.open(), (s) => s.services.up === o.services);
    return {
      services: o.services,
      windowS: Number(window.toFixed(1)),
      cpuPercent: Number((((c1.user + c1.sys - c0.user - c0.sys) / window) * 100).toFixed(2)),
      userPercent: Number((((c1.user - c0.user) / window) * 100).toFixed(2)),
      sysPercent: Number((((c1.sys - c0.sys) / window) * 100).toFixed(2)),
      cpuByThread,
      rssMb: Math.round(mem.rss),
      peakRssMb: Math.round(mem.hwm),
      reconcileRunsInWindow: m1.runs - m0.runs,
      probesPerSecond: Math.round((m1.probes - m0.probes) / window),
      down,
      up,
      loadavg: loadAvg(),
      notes,
    };
  } finally {
    if (ka) clearInterval(ka);
    peer?.close();
    await stopChild(herald);
    await listeners.close();
    if (process.env.HERALD_BENCH_KEEP) {
      writeFileSync(log, logText);
      console.log(`kept ${dir} (herald's log in ${log})`);
    }
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Print the figures with the targets, and one JSON line; write results/latest-checks.json. */
export function printChecks(r: ChecksResult): void {
  console.log(`checks: ${r.services} services, one TCP check each every 1 s, ${r.windowS} s window (load average ${r.loadavg})`);
  console.log(`  CPU  ${r.cpuPercent} % of one core (target ≤ ${CHECKS_TARGETS.cpuPercent} %) ${met(r.cpuPercent, CHECKS_TARGETS.cpuPercent)}   by thread: ${JSON.stringify(r.cpuByThread)}`);
  console.log(`  RSS  ${r.rssMb} MB (target ≤ ${CHECKS_TARGETS.rssMb} MB) ${met(r.rssMb, CHECKS_TARGETS.rssMb)}; peak ${r.peakRssMb} MB`);
  console.log(`  reconcile runs in the window: ${r.reconcileRunsInWindow} (nothing changed); probes: ${r.probesPerSecond}/s, ${r.probesPerSecond > 0 ? Math.round((r.cpuPercent * 1e4) / r.probesPerSecond) : '—'} µs of CPU each`);
  for (const [name, f] of [['all down', r.down], ['all up', r.up]] as const) {
    console.log(`  ${name}: ${f.ms ?? '—'} ms, ${f.reconcileRuns} reconcile runs, ${f.reconcileChanges} of them handed the engine something, ${f.updatesWritten} UPDATEs written`);
  }
  for (const n of r.notes) console.log(`  note: ${n}`);
  writeResult('checks', r);
}
