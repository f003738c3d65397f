/**
 * `routes` against a daemon holding a million announced routes (issue 5:
 * "`routes list --json` streams, and `routes` summary answers in under
 * 200 ms"). A benchmark, not a test: it prints figures and asserts nothing.
 *
 *   [recv ns] BIRD 2 (imports all, installs nothing) ── veth ── [send ns] herald Daemon
 *
 * The daemon is the real `Daemon` (src/daemon.ts: config, speaker,
 * reconciler, control API) started by this same file in child mode inside
 * the sender namespace; its config has the two BIRD sessions and no routes.
 * The million IPv4 /32 (test/bench/routes.ts, 240.0.0.0/4 route data) are
 * handed to its reconciler as one more source snapshot, the path a source
 * such as LXD takes, instead of a million-line YAML file. Once BIRD has
 * imported every route and nothing is pending, the parent measures:
 *
 *   - GET /v1/summary round trip through the API client (the daemon's answer);
 *   - `node src/bin/routes.cjs --json` and plain `routes`: whole CLI process
 *     wall time, 20 runs each (min / median / p95 / max), next to
 *     `node -e ''` (the floor: node's own start-up) and `routes --help`;
 *     the bin runs the built dist/routes.cjs (`npm run build`) when present,
 *     else the TypeScript sources through tsx;
 *   - `routes list --json`: time to first byte, total time, routes/s, bytes,
 *     and the CLI's peak RSS (its own process.resourceUsage().maxRSS);
 *   - the daemon's peak RSS, for context.
 *
 *   npx tsx test/bench/cli-summary.ts [--count=N] [--hold]   (root; needs bird2)
 *
 * --hold keeps the daemon (and its socket) up after the figures, printing
 * the socket path, until SIGINT/SIGTERM: time another CLI build against the
 * same million routes, e.g. `hyperfine 'node src/bin/routes.cjs -s SOCK'`.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, missingReason, type LabProcess } from '../interop/lab/index.js';
import { ApiClient } from '../../src/api/client.js';
import type { SummaryState } from '../../src/state/index.js';
import { peakRssMb, setUp, SENDER_ASN, RECEIVER_ASN, sleepMs } from './common.js';
import { v4Route } from './routes.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(here, '../..');
const ROUTES_BIN = join(ROOT, 'src/bin/routes.cjs');
/** The built CLI (`npm run build`); the list wrapper falls back to the sources through tsx. */
const BUILT_CLI = join(ROOT, 'dist/routes.cjs');
const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------- child mode

/** In the sender namespace: start the real Daemon, hand it `count` routes, report on stdout. */
async function child(configPath: string, count: number): Promise<void> {
  const { Daemon } = await import('../../src/daemon.js');
  const { makeLogger } = await import('../../src/log.js');
  const d = new Daemon(configPath, makeLogger('warn'));
  await d.start();
  const t0 = performance.now();
  const intents = new Array(count);
  for (let i = 0; i < count; i++) {
    intents[i] = { prefix: v4Route(i), source: 'bench', rank: 0, nextHop: 'self', communities: [], largeCommunities: [], extendedCommunities: [], peers: null };
  }
  d.reconciler.setSnapshot('bench', intents);
  d.reconciler.reconcile();
  process.stdout.write(`${JSON.stringify({ loaded: count, loadMs: Math.round(performance.now() - t0) })}\n`);
  process.once('SIGTERM', () => void d.stop('bench done').finally(() => process.exit(0)));
}

// ---------------------------------------------------------------- parent

interface Timed {
  ms: number;
  code: number | null;
}

/** Run node with these arguments once; return wall time and exit code (output discarded). */
function nodeOnce(argv: string[]): Promise<Timed> {
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (code) => res({ ms: performance.now() - t0, code }));
  });
}

/** Run the CLI binary once; return wall time and exit code (output discarded). */
const cliOnce = (socket: string, args: string[]): Promise<Timed> => nodeOnce([ROUTES_BIN, '--socket', socket, ...args]);

/** The CLI as src/bin/routes.cjs runs it, plus its own peak RSS (kB) written to fd 3 at the end. */
const LIST_WRAPPER = `
import { writeSync } from 'node:fs';
const { runCli } = await import(process.env.HERALD_BENCH_CLI);
const code = await runCli(process.argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
await new Promise((r) => process.stdout.write('', r));
writeSync(3, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS }) + '\\n');
process.exitCode = code;
`;

interface ListRun {
  firstByteMs: number;
  totalMs: number;
  routes: number;
  bytes: number;
  cliPeakRssMb: number | null;
  code: number | null;
}

/** Stream `routes list --json` through a pipe, counting routes as they arrive. */
function listOnce(socket: string): Promise<ListRun> {
  return new Promise((res) => {
    const t0 = performance.now();
    const built = existsSync(BUILT_CLI);
    const cli = built ? pathToFileURL(BUILT_CLI).href : pathToFileURL(join(ROOT, 'src/cli/index.ts')).href;
    const p = spawn(process.execPath, [...(built ? [] : ['--import', 'tsx']), '--input-type=module', '-e', LIST_WRAPPER, '--', '--socket', socket, 'list', '--json'], {
      stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
      cwd: ROOT,
      env: { ...process.env, HERALD_BENCH_CLI: cli },
    });
    let first = 0;
    let bytes = 0;
    let lines = 0;
    let meta = '';
    p.stdout!.on('data', (b: Buffer) => {
      if (first === 0) first = performance.now();
      bytes += b.length;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
    });
    (p.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (meta += String(b)));
    p.on('close', (code) => {
      const rss = meta ? (JSON.parse(meta) as { maxRssKb: number }).maxRssKb / 1024 : null;
      // "[" and "]" lines bracket one line per route.
      res({ firstByteMs: first === 0 ? NaN : first - t0, totalMs: performance.now() - t0, routes: Math.max(0, lines - 2), bytes, cliPeakRssMb: rss, code });
    });
  });
}

type Stats = { min: number; median: number; p95: number; max: number };
/** min, median, nearest-rank p95 and max. */
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
  const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { min: s[0]!, median, p95: at(0.95), max: s[s.length - 1]! };
};
const f1 = (n: number): string => n.toFixed(1);
const line = (x: Stats): string => `min ${f1(x.min)}  median ${f1(x.median)}  p95 ${f1(x.p95)}  max ${f1(x.max)} ms`;
const rounded = (x: Stats): Stats => ({ min: Number(f1(x.min)), median: Number(f1(x.median)), p95: Number(f1(x.p95)), max: Number(f1(x.max)) });
const RUNS = 20;

async function parent(count: number, hold: boolean): Promise<void> {
  const missing = missingReason(['bird']);
  if (missing) {
    console.log(`cli-summary bench: cannot run: ${missing}`);
    return;
  }
  const lab = new Lab();
  let daemon: LabProcess | null = null;
  try {
    const t = await setUp(lab, 'cli');
    const dir = await lab.tempDir('bench-cli');
    chmodSync(dir, 0o755);
    const socket = join(dir, 'herald.sock');
    const config = join(dir, 'herald.yaml');
    writeFileSync(
      config,
      `router_id: ${t.sendV4}
asn: ${SENDER_ASN}
listen: { address: "::", port: 179 }
api: { socket: ${socket} }
peers:
  - { name: r4, address: ${t.recvV4}, local_address: ${t.sendV4}, asn: ${RECEIVER_ASN}, families: [ipv4], connect_retry: 1s }
  - { name: r6, address: ${t.recvV6}, local_address: ${t.sendV6}, asn: ${RECEIVER_ASN}, families: [ipv6], connect_retry: 1s }
`,
    );
    console.log(`cli-summary bench: ${count.toLocaleString('en')} IPv4 routes announced by herald to BIRD; CLI timings follow`);
    const tStart = performance.now();
    daemon = lab.spawn(t.sendNs, 'herald-cli-bench', process.execPath, ['--import', 'tsx', SELF, '--child', config, String(count)], {
      logFile: join(dir, 'herald.out'),
      cwd: ROOT,
    });
    const api = new ApiClient(socket);
    // Converged: BIRD imported every route and herald has nothing pending.
    let last: SummaryState | null = null;
    for (;;) {
      if (performance.now() - tStart > 600_000) throw new Error(`not converged after 10 min; last summary ${JSON.stringify(last)}`);
      await sleepMs(500);
      last = await api.get<SummaryState>('/v1/summary').catch(() => null);
      if (!last || last.routes.announced < count || last.routes.pending > 0) continue;
      const c = await t.receiver.counts();
      if (c.v4 >= count) break;
    }
    const convergedS = (performance.now() - tStart) / 1000;
    const loaded = readFileSync(join(dir, 'herald.out'), 'utf8').split('\n').find((l) => l.startsWith('{"loaded"'));
    const loadMs = loaded ? (JSON.parse(loaded) as { loadMs: number }).loadMs : null;
    console.log(`  converged (daemon start + load + transfer) in ${convergedS.toFixed(1)} s (snapshot + reconcile ${loadMs ?? '?'} ms): announced ${last.routes.announced}, pending ${last.routes.pending}`);

    const apiMs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await api.get<SummaryState>('/v1/summary');
      apiMs.push(performance.now() - t0);
    }
    const cliJson: number[] = [];
    const cliText: number[] = [];
    const floor: number[] = [];
    const startup: number[] = [];
    // Interleaved, so a burst of load elsewhere on the machine hits every series alike.
    for (let i = 0; i < RUNS; i++) {
      const a = await cliOnce(socket, ['--json']);
      const b = await cliOnce(socket, []);
      if (a.code !== 0 || b.code !== 0) throw new Error(`routes summary exited ${a.code}/${b.code}`);
      cliJson.push(a.ms);
      cliText.push(b.ms);
      floor.push((await nodeOnce(['-e', ''])).ms);
      startup.push((await cliOnce(socket, ['--help'])).ms);
    }
    const lists: ListRun[] = [];
    for (let i = 0; i < 3; i++) lists.push(await listOnce(socket));

    const s = stats(apiMs);
    const sj = stats(cliJson);
    const st = stats(cliText);
    const su = stats(startup);
    const sf = stats(floor);
    console.log('');
    console.log(`  CLI: ${existsSync(BUILT_CLI) ? 'built dist/routes.cjs' : 'TypeScript sources through tsx (no dist/routes.cjs)'}`);
    console.log(`  GET /v1/summary (API client, 30 runs):         ${line(s)}`);
    console.log(`  routes (table, whole process, ${RUNS} runs):     ${line(st)}   (target: median < 200 ms)`);
    console.log(`  routes --json (whole process, ${RUNS} runs):     ${line(sj)}`);
    console.log(`  routes --help (CLI start-up only, ${RUNS} runs): ${line(su)}`);
    console.log(`  node -e '' (the floor, ${RUNS} runs):            ${line(sf)}`);
    for (const [i, l] of lists.entries()) {
      const rate = l.routes / (l.totalMs / 1000);
      console.log(
        `  routes list --json #${i + 1}: ${l.routes.toLocaleString('en')} routes, ${(l.bytes / 1e6).toFixed(1)} MB in ${f1(l.totalMs)} ms ` +
          `(first byte ${f1(l.firstByteMs)} ms) = ${Math.round(rate).toLocaleString('en')} routes/s, ` +
          `${Math.round(l.routes / ((l.totalMs - l.firstByteMs) / 1000)).toLocaleString('en')} routes/s after the first byte; CLI peak RSS ${l.cliPeakRssMb === null ? '?' : f1(l.cliPeakRssMb)} MB; exit ${l.code}`,
      );
    }
    const drss = peakRssMb(daemon.pid);
    console.log(`  herald daemon peak RSS: ${drss === null ? '?' : f1(drss)} MB`);
    console.log(
      JSON.stringify({
        bench: 'cli-summary',
        count,
        convergedS: Number(convergedS.toFixed(1)),
        loadMs,
        apiSummaryMs: { median: Number(f1(s.median)), p95: Number(f1(s.p95)), max: Number(f1(s.max)) },
        builtCli: existsSync(BUILT_CLI),
        cliSummaryJsonMs: rounded(sj),
        cliSummaryTextMs: rounded(st),
        cliHelpMs: rounded(su),
        nodeFloorMs: rounded(sf),
        list: lists.map((l) => ({ routes: l.routes, totalMs: Math.round(l.totalMs), firstByteMs: Math.round(l.firstByteMs), routesPerS: Math.round(l.routes / (l.totalMs / 1000)), streamRoutesPerS: Math.round(l.routes / ((l.totalMs - l.firstByteMs) / 1000)), cliPeakRssMb: l.cliPeakRssMb === null ? null : Number(f1(l.cliPeakRssMb)) })),
        daemonPeakRssMb: drss === null ? null : Number(f1(drss)),
      }),
    );
    if (hold) {
      console.log(`holding: daemon up with ${count.toLocaleString('en')} routes on socket ${socket}; SIGINT or SIGTERM ends`);
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
    }
  } finally {
    await lab.close();
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  await child(argv[1]!, Number(argv[2]));
} else {
  const c = argv.find((a) => a.startsWith('--count='));
  const count = c ? Number(c.slice('--count='.length)) : 1_000_000;
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, not ${c}`);
  await parent(count, argv.includes('--hold'));
}
