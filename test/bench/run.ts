/**
 * `npm run bench`: route throughput of herald's speaker next to BIRD,
 * OpenBGPD and GoBGP, each sending the same 1,000,000 IPv4 /32 and 100,000
 * IPv6 /128 to one BIRD 2 receiver in another network namespace (issue 2,
 * "Benchmark"; anchors in ../shared/lab/LAB.md "Throughput anchors").
 *
 * A benchmark, not a test: it prints figures (a table, one JSON line, and
 * test/bench/results/latest.json) and asserts nothing about time. It needs
 * root (namespaces) and the Debian packages bird2, openbgpd and gobgpd; a
 * sender whose daemon is missing is skipped with the reason printed.
 *
 *   npm run bench                      full run (1M + 100k per sender)
 *   npm run bench -- --quick           100k IPv4 + 10k IPv6
 *   npm run bench -- --only=herald,bird
 *   npm run bench -- --cpu-prof=DIR    write herald's CPU profile to DIR
 *   npm run bench -- --idle            idle RSS, start → first OPEN and `routes`
 *                                      start-up beside BIRD and GoBGP (idle.ts;
 *                                      --only=herald,bird,gobgp picks rows;
 *                                      --late=15,60,300 the RSS samples after
 *                                      the 5 s one, seconds (default 15,60);
 *                                      HERALD_BIN=… ROUTES_BIN=… another build)
 *   npm run bench -- --checks          1,000 services with 1 s TCP checks: CPU, RSS,
 *                                      a flip of them all (checks.ts; no root)
 *   npm run bench -- --lxd             LXD source, 10,000 instances: event →
 *                                      withdraw on the wire, resync CPU (lxd.ts; no root)
 *   npm run bench -- --failover        failover times and client loss instead (failover.ts)
 *   npm run bench -- --lateness        the engine's timer lateness under 1M routes and
 *                                      under 10k services changing together (lateness.ts)
 *   npm run bench -- --lateness --ab [--spin=N] [--rounds=N]
 *                                      the same, the engine at its raised priority and at
 *                                      the process's, in turns (decision 0042)
 *
 * Every sender runs in a fresh pair of namespaces that are deleted after it
 * (the lab's exit handlers also clean up on a crash or Ctrl-C).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, missingReason, type RouterKind } from '../interop/lab/index.js';
import { emptyResult, setUp, wallMs, type BenchOptions, type SenderResult, type Topology } from './common.js';
import { benchHerald } from './herald.js';
import { benchDaemon } from './daemon.js';
import { benchBird } from './bird.js';
import { benchOpenbgpd } from './openbgpd.js';
import { benchGobgp } from './gobgp.js';
import { runIdle } from './idle.js';
import { printChecks, runChecks } from './checks.js';
import { printLxdBench, runLxdBench } from './lxd.js';
import { runFailover } from './failover.js';
import { runLateness } from './lateness.js';

const here = fileURLToPath(new URL('.', import.meta.url));

type SenderName = 'herald' | 'daemon' | 'bird' | 'openbgpd' | 'gobgp';
const SENDERS: { name: SenderName; daemons: RouterKind[]; run: (t: Topology, o: BenchOptions) => Promise<SenderResult> }[] = [
  { name: 'herald', daemons: ['bird'], run: benchHerald },
  { name: 'daemon', daemons: ['bird'], run: benchDaemon },
  { name: 'bird', daemons: ['bird'], run: benchBird },
  { name: 'openbgpd', daemons: ['bird', 'openbgpd'], run: benchOpenbgpd },
  { name: 'gobgp', daemons: ['bird', 'gobgp'], run: benchGobgp },
];

/** herald's targets from issue 2 (full run only). */
const TARGETS = { establishedToAllMs: 1000, handedToAllMs: 1500, withdrawMs: 600, peakRssMb: 250 };
/** The daemon's targets from issue 9: relative to the speaker row of the same run, and absolute. */
const DAEMON_TARGETS = { handedRatio: 1.3, peakRssMb: 300, unchangedMs: 20, oneChangeMs: 20 };

interface Args {
  quick: boolean;
  idle: boolean;
  checks: boolean;
  lxd: boolean;
  only: Set<string> | null;
  cpuProf: string | undefined;
  /** --lxd-base=DIR: another herald tree run alternately with this one. */
  lxdBase: string | undefined;
  /** --services=N, --seconds=N (checks), --instances=N, --events=N (lxd). */
  n: Record<string, number>;
  /** --late=S,S,... (idle): the RSS samples after the first, seconds after the route arrived. */
  lateS: number[] | null;
}

function parseArgs(argv: string[]): Args {
  let quick = false;
  let idle = false;
  let checks = false;
  let lxd = false;
  const n: Record<string, number> = {};
  let only: Set<string> | null = null;
  let cpuProf: string | undefined;
  let lxdBase: string | undefined;
  let lateS: number[] | null = null;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--idle') idle = true;
    else if (a === '--checks') checks = true;
    else if (a === '--lxd') lxd = true;
    else if (a.startsWith('--lxd-base=')) lxdBase = resolve(a.slice(11));
    else if (/^--(services|seconds|instances|events|rounds)=\d+$/.test(a)) n[a.slice(2, a.indexOf('='))] = Number(a.slice(a.indexOf('=') + 1));
    else if (/^--late=\d+(,\d+)*$/.test(a)) lateS = a.slice(7).split(',').map(Number);
    else if (a.startsWith('--only=')) only = new Set(a.slice(7).split(','));
    else if (a.startsWith('--cpu-prof=')) cpuProf = resolve(a.slice(11));
    else if (a === '--cpu-prof') cpuProf = resolve('herald-cpu-prof');
    else throw new Error(`unknown argument ${a} (known: --quick, --idle [--late=S,S...], --checks [--services=N --seconds=N], --lxd [--instances=N --events=N --lxd-base=DIR --rounds=N], --only=herald,daemon,bird,openbgpd,gobgp, --cpu-prof[=DIR], --failover, --lateness)`);
  }
  return { quick, idle, checks, lxd, only, cpuProf, lxdBase, n, lateS };
}

const fmtMs = (v: number | null | undefined): string => (v == null ? '—' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${(v / 1000).toFixed(2)} s`);
const fmtMb = (v: number | null | undefined): string => (v == null ? '—' : `${Math.round(v)} MB`);
const ratio = (a: number | null, b: number | null): string => (a == null || b == null || b === 0 ? '—' : `${(a / b).toFixed(2)}×`);

function printTable(results: SenderResult[]): void {
  const bird = results.find((r) => r.sender === 'bird');
  const rows = [
    ['sender', 'load', 'Est→all v4', 'Est→all', 'handed→all', 'withdraw-all', 'peak RSS', 'Est→all vs BIRD', 'withdraw vs BIRD'],
    ...results.map((r) =>
      r.error !== undefined && r.loadMs === null
        ? [r.sender, `error: ${r.error.split('\n')[0]!.slice(0, 80)}`]
        : [
            r.sender,
            fmtMs(r.loadMs),
            fmtMs(r.establishedToV4Ms),
            fmtMs(r.establishedToAllMs),
            fmtMs(r.handedToAllMs),
            r.withdrawMs == null && typeof r.extra.withdrawLeft === 'number' ? `> ${fmtMs(r.extra.withdrawTimeoutMs as number)}` : fmtMs(r.withdrawMs),
            fmtMb(r.peakRssMb),
            ratio(r.establishedToAllMs, bird?.establishedToAllMs ?? null),
            ratio(r.withdrawMs, bird?.withdrawMs ?? null),
          ],
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

async function main(): Promise<void> {
  if (process.argv.slice(2).includes('--failover')) {
    if (process.argv.length > 3) throw new Error('--failover takes no other argument');
    await runFailover();
    return;
  }
  if (process.argv.slice(2).includes('--lateness')) {
    const o = { ab: false, spin: 0, rounds: 1 };
    for (const a of process.argv.slice(2)) {
      if (a === '--lateness') continue;
      else if (a === '--ab') o.ab = true;
      else if (/^--spin=\d+$/.test(a)) o.spin = Number(a.slice(7));
      else if (/^--rounds=[1-9]\d*$/.test(a)) o.rounds = Number(a.slice(9));
      else throw new Error(`--lateness takes --ab, --spin=N and --rounds=N, not ${a}`);
    }
    await runLateness(o);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  if (args.idle) {
    await runIdle({ starts: 7, settleMs: 5000, lateMs: (args.lateS ?? [15, 60]).map((x) => x * 1000), cliRuns: 15, only: args.only });
    return;
  }
  if (args.checks) {
    if (args.cpuProf !== undefined) mkdirSync(args.cpuProf, { recursive: true });
    printChecks(await runChecks({ services: args.n.services ?? 1000, seconds: args.n.seconds ?? 60, ...(args.cpuProf !== undefined ? { cpuProfDir: args.cpuProf } : {}) }));
    return;
  }
  if (args.lxd) {
    if (args.cpuProf !== undefined) mkdirSync(args.cpuProf, { recursive: true });
    const o = { instances: args.n.instances ?? 10_000, events: args.n.events ?? 50, ...(args.cpuProf !== undefined ? { cpuProfDir: args.cpuProf } : {}) };
    if (args.lxdBase === undefined) printLxdBench(await runLxdBench(o));
    else for (let r = 0; r < (args.n.rounds ?? 2); r++) for (const root of [args.lxdBase, undefined]) printLxdBench(await runLxdBench({ ...o, ...(root !== undefined ? { root } : {}) }));
    return;
  }
  const o: BenchOptions = {
    count4: args.quick ? 100_000 : 1_000_000,
    count6: args.quick ? 10_000 : 100_000,
    transferTimeoutMs: 60_000,
    withdrawTimeoutMs: 60_000,
    ...(args.cpuProf !== undefined ? { cpuProfDir: args.cpuProf } : {}),
  };
  if (args.cpuProf !== undefined) mkdirSync(args.cpuProf, { recursive: true });
  console.log(`herald bench: ${o.count4.toLocaleString('en')} IPv4 /32 + ${o.count6.toLocaleString('en')} IPv6 /128 per sender → BIRD 2 receiver`);
  const started = wallMs();
  const results: SenderResult[] = [];
  for (const s of SENDERS) {
    if (args.only !== null && !args.only.has(s.name)) continue;
    const why = missingReason(s.daemons);
    if (why !== undefined) {
      const r = emptyResult(s.name, o);
      r.error = `skipped: ${why}`;
      results.push(r);
      console.log(`*** SKIPPING ${s.name}: ${why}`);
      continue;
    }
    const t0 = wallMs();
    process.stdout.write(`${s.name}: running… `);
    const lab = new Lab();
    let r: SenderResult;
    try {
      const topo = await setUp(lab, s.name);
      r = await s.run(topo, o);
      await topo.receiver.stop();
    } catch (e) {
      r = emptyResult(s.name, o);
      r.error = (e as Error).stack ?? String(e);
    } finally {
      await lab.close();
    }
    console.log(`${((wallMs() - t0) / 1000).toFixed(1)} s${r.error !== undefined ? ` — ERROR ${r.error}` : ''}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
    results.push(r);
  }

  console.log('');
  printTable(results);
  const h = results.find((r) => r.sender === 'herald');
  if (h && h.loadMs !== null) {
    console.log(`\nherald extra: ${JSON.stringify(h.extra)}`);
    if (!args.quick) {
      const check = (name: string, v: number | null, max: number, unit: string): string =>
        `${name} ${v == null ? '—' : Math.round(v)} ${unit} (target ≤ ${max} ${unit}) ${v != null && v <= max ? 'met' : 'MISSED'}`;
      console.log('herald targets (issue 2):');
      console.log(`  ${check('Established → all', h.establishedToAllMs, TARGETS.establishedToAllMs, 'ms')}`);
      console.log(`  ${check('handed → all', h.handedToAllMs, TARGETS.handedToAllMs, 'ms')}`);
      console.log(`  ${check('withdraw-all', h.withdrawMs, TARGETS.withdrawMs, 'ms')}`);
      console.log(`  ${check('peak RSS', h.peakRssMb, TARGETS.peakRssMb, 'MB')}`);
    }
  }
  const dm = results.find((r) => r.sender === 'daemon');
  if (dm && dm.loadMs !== null) {
    console.log(`\ndaemon extra: ${JSON.stringify(dm.extra)}`);
    const hr = h?.handedToAllMs ?? null;
    const rel = dm.handedToAllMs != null && hr != null ? dm.handedToAllMs / hr : null;
    const line = (name: string, v: number | null, max: number, unit: string): string =>
      `  ${name} ${v == null ? '—' : unit === '×' ? v.toFixed(2) : Number(v.toFixed(2))} ${unit} (target ≤ ${max} ${unit}) ${v != null && v <= max ? 'met' : 'MISSED'}`;
    console.log('daemon targets (issue 9; ratios to the speaker row of this run):');
    console.log(line('handed → all vs speaker', rel, DAEMON_TARGETS.handedRatio, '×'));
    console.log(line('peak RSS over the hand-off (cold)', dm.extra.peakRssColdMb as number, DAEMON_TARGETS.peakRssMb, 'MB'));
    console.log(`  (peak RSS over every phase, withdraw-all and hot hand-off included: ${Math.round(dm.peakRssMb ?? 0)} MB; after a full GC ${String(dm.extra.rssAfterGcMb ?? '—')} MB; after the memory trim ${String(dm.extra.rssAfterTrimMb ?? '—')} MB)`);
    console.log(line('re-reconcile, nothing changed', dm.extra.unchangedReconcileMs as number, DAEMON_TARGETS.unchangedMs, 'ms'));
    console.log(line('one route changed → written', dm.extra.oneChangeToWireMs as number, DAEMON_TARGETS.oneChangeMs, 'ms'));
  }
  const summary = { at: new Date().toISOString(), quick: args.quick, node: process.version, totalS: (wallMs() - started) / 1000, results };
  console.log(`\n${JSON.stringify(summary)}`);
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, args.quick ? 'latest-quick.json' : 'latest.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(`\nwritten: ${join(dir, args.quick ? 'latest-quick.json' : 'latest.json')} (total ${summary.totalS.toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
