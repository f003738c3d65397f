/**
 * `npm run bench -- --idle`: how small and how quick herald is as a daemon
 * (issue 11), side by side with BIRD 2 and GoBGP in the same run. Prints
 * figures and asserts nothing about time.
 *
 *   start → first OPEN   the speaker process is spawned (`ip netns exec`
 *                        included, the same for all) until its first BGP
 *                        OPEN arrives at a listener in the peer namespace;
 *                        median of N starts. herald runs its real bin
 *                        (src/bin/herald.mjs → dist/) with one peer and one
 *                        service, as an operator's would. Also the
 *                        speaker's CPU time (user + system) at that moment,
 *                        which a busy machine inflates less than wall time.
 *   start → started      herald only: spawn until the time stamp of its
 *                        "herald started" log line (API up, config's
 *                        warnings logged); median of the same starts.
 *   RSS at 5 s           one peer Established with a BIRD receiver and one
 *                        route announced (herald: a service whose tcp check
 *                        is herald's own BGP port), VmRSS 5 s later; the
 *                        speaker process and its children. herald's is its
 *                        start-up figure: V8 keeps the start's garbage until
 *                        its memory reducer's first pass, which comes once
 *                        the start has left V8's 5 s allocation-rate window
 *                        (~8 s after start; measured with --trace-gc).
 *   RSS at 15 s, 60 s    the same, 15 and 60 s after the route arrived (herald:
 *                        after the `routes` calls below, so the control API
 *                        has answered); --late=S,… picks other times. What an
 *                        operator sees of an idle herald is not flat: it is
 *                        lowest right after the reducer's pass (~15 s), then
 *                        grows as V8 optimises the code that runs each second
 *                        (TurboFan's own code pages, ~3 MB, ~45–60 s after
 *                        start) and as the threads' malloc arenas fill over
 *                        minutes (decision 0051). The target line reports the
 *                        highest of these later samples as idle RSS.
 *   routes summary       `node src/bin/routes.cjs` against that idle herald
 *                        vs `node -e ''`, interleaved, medians (target ≤ 1.3×).
 *
 * HERALD_BASE=DIR compares two builds in one run: DIR is another herald tree
 * (or a copy of its src/bin/ and dist/, e.g. of the last commit). Its row,
 * herald-base, shares herald's namespaces; their starts alternate, and its
 * `routes` runs in the same interleaved loop, against the same daemon.
 *
 * Targets (issue 11): idle RSS ≤ 60 MB, start → first OPEN ≤ 0.3 s on a quiet
 * machine, routes summary ≤ 1.3 × node -e ''. The load average is printed:
 * on a busy machine every figure but RSS grows.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants, Lab, missingReason, pointToPoint, run, waitFor, type LabProcess } from '../interop/lab/index.js';
import { BirdReceiver, wallMs } from './receiver.js';
import { RECEIVER_ASN, SENDER_ASN, sleepMs } from './common.js';
import { shebangFlags } from '../support/node-flags.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// HERALD_BIN / ROUTES_BIN: another build's bins (compare two builds: run the
// bench once with each; both rows then come from the same kind of run).
const HERALD = process.env.HERALD_BIN ?? join(ROOT, 'src/bin/herald.mjs');
const ROUTES = process.env.ROUTES_BIN ?? join(ROOT, 'src/bin/routes.cjs');
/** The node flags of the bin's `#!/usr/bin/env -S node …` line: herald runs here as its bin runs it. */
const HERALD_FLAGS = shebangFlags(HERALD);
/** HERALD_BASE: a second build measured beside this one (the herald-base row). */
const BASE = process.env.HERALD_BASE ? { herald: join(process.env.HERALD_BASE, 'src/bin/herald.mjs'), routes: routesBin(process.env.HERALD_BASE) } : null;
const ROUTE = '198.51.100.53/32';

/** A tree's `routes` bin: src/bin/routes.cjs, or routes.mjs in builds before decision 0046. */
function routesBin(tree: string): string {
  const cjs = join(tree, 'src/bin/routes.cjs');
  return existsSync(cjs) ? cjs : join(tree, 'src/bin/routes.mjs');
}

type Speaker = 'herald' | 'herald-base' | 'bird' | 'gobgp';

interface Ends {
  lab: Lab;
  peerNs: string;
  spkNs: string;
  peerV4: string;
  spkV4: string;
}

/** Start `name` in the speaker namespace, configured with one peer at peerV4. */
async function startSpeaker(e: Ends, name: Speaker, tag: string): Promise<{ proc: LabProcess; log: string; extra?: () => Promise<void>; api?: string }> {
  const dir = await e.lab.tempDir(`idle-${name}-${tag}`);
  const log = join(dir, `${name}.log`);
  if (name === 'herald' || name === 'herald-base') {
    const bin = name === 'herald-base' && BASE ? BASE.herald : HERALD;
    const api = join(dir, 'herald.sock');
    const conf = join(dir, 'herald.yaml');
    await writeFile(
      conf,
      `router_id: ${e.spkV4}\nasn: ${SENDER_ASN}\nlisten: { address: ${e.spkV4}, port: 179 }\napi: { socket: ${api} }\n` +
        `peers:\n  - { name: up, address: ${e.peerV4}, asn: ${RECEIVER_ASN}, local_address: ${e.spkV4} }\n` +
        `services:\n  - { name: svc, prefixes: [${ROUTE}], checks: [{ tcp: { address: ${e.spkV4}, port: 179 } }], interval: 1s, rise: 1 }\n` +
        'drain: { period: 0s }\n',
    );
    return { proc: e.lab.spawn(e.spkNs, `${name}-${tag}`, process.execPath, [...shebangFlags(bin), bin, 'run', '--config', conf], { logFile: log }), log, api };
  }
  if (name === 'bird') {
    const conf = join(dir, 'bird.conf');
    await writeFile(
      conf,
      `router id ${e.spkV4};\nprotocol device {}\nprotocol static st4 { ipv4; route ${ROUTE} blackhole; }\n` +
        `protocol bgp up {\n  local ${e.spkV4} as ${SENDER_ASN};\n  neighbor ${e.peerV4} as ${RECEIVER_ASN};\n  connect delay time 0;\n  ipv4 { import none; export all; };\n}\n`,
    );
    return { proc: e.lab.spawn(e.spkNs, `bird-${tag}`, 'bird', ['-f', '-c', conf, '-s', join(dir, 'bird.ctl'), '-P', join(dir, 'bird.pid')], { logFile: log }), log };
  }
  const api = join(dir, 'api.sock');
  const toml = [
    '[global.config]',
    `  as = ${SENDER_ASN}`,
    `  router-id = "${e.spkV4}"`,
    '  port = -1',
    '[[neighbors]]',
    '  [neighbors.config]',
    `    neighbor-address = "${e.peerV4}"`,
    `    peer-as = ${RECEIVER_ASN}`,
    '  [neighbors.transport.config]',
    `    local-address = "${e.spkV4}"`,
    '  [[neighbors.afi-safis]]',
    '    [neighbors.afi-safis.config]',
    '      afi-safi-name = "ipv4-unicast"',
    '',
  ];
  await writeFile(join(dir, 'gobgpd.toml'), toml.join('\n'));
  const proc = e.lab.spawn(e.spkNs, `gobgpd-${tag}`, 'gobgpd', ['-f', join(dir, 'gobgpd.toml'), '-p', '--pprof-disable', '--api-hosts', `unix://${api}`], { logFile: log });
  const extra = async (): Promise<void> => {
    const gobgp = (a: string[]): Promise<unknown> => run('gobgp', ['--target', `unix://${api}`, ...a], { timeoutMs: 10_000 });
    await waitFor(() => gobgp(['global']).then(() => true), 10_000, () => 'gobgpd API did not answer', 50);
    await gobgp(['global', 'rib', 'add', ROUTE, '-a', 'ipv4']);
  };
  return { proc, log, extra };
}

/** A listener in the peer namespace that prints the wall time of each OPEN's arrival (one line per connection). */
const CATCHER = `
const net = require('node:net');
const now = () => performance.timeOrigin + performance.now();
net.createServer((s) => {
  let buf = Buffer.alloc(0);
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 19 && buf[18] === 1) { process.stdout.write(String(now()) + '\\n'); s.destroy(); }
  });
  s.on('error', () => {});
}).listen(179, process.argv[1], () => process.stdout.write('ready\\n'));
`;

/** CPU time (user + system) a process has used so far, ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** Wall time (epoch ms) of herald's "herald started" log line, once it is in the log. */
async function heraldStartedAt(log: string): Promise<number> {
  return waitFor(
    async () => {
      const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('"msg":"herald started"'));
      return line ? Date.parse((JSON.parse(line) as { time: string }).time) : undefined;
    },
    20_000,
    () => 'herald: no "herald started" within 20 s',
    5,
  );
}

type Starts = { wall: number[]; cpu: number[]; started: number[] };

/**
 * Start → first OPEN over n starts of each speaker in `names` (wall ms), the
 * speaker's CPU ms at that moment, and (herald) start → "herald started".
 * Several speakers take turns, the order swapped every round.
 */
async function startToOpen(e: Ends, names: Speaker[], n: number): Promise<Record<string, Starts>> {
  const catcher = spawn('ip', ['netns', 'exec', e.peerNs, process.execPath, '-e', CATCHER, e.peerV4], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  catcher.stdout.on('data', (d: Buffer) => {
    buf += String(d);
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const res: Record<string, Starts> = Object.fromEntries(names.map((x) => [x, { wall: [], cpu: [], started: [] }]));
  try {
    await waitFor(async () => (lines.includes('ready') ? true : undefined), 10_000, () => 'OPEN catcher did not start', 20);
    for (let k = 0; k < n * names.length; k++) {
      const round = Math.floor(k / names.length);
      const name = names[round % 2 ? names.length - 1 - (k % names.length) : k % names.length]!;
      const i = round;
      const { wall: out, cpu, started } = res[name]!;
      const before = lines.length;
      const t0 = performance.timeOrigin + performance.now();
      const s = await startSpeaker(e, name, `open${i}`);
      const arrived = await waitFor(async () => (lines.length > before ? Number(lines[before]) : undefined), 20_000, () => `${name}: no OPEN within 20 s`, 2);
      out.push(arrived - t0);
      const c = cpuMs(s.proc.pid);
      if (c !== null) cpu.push(c);
      if (name.startsWith('herald')) started.push((await heraldStartedAt(s.log)) - t0);
      await s.proc.stop();
    }
  } finally {
    catcher.kill('SIGKILL');
  }
  return res;
}

function rssMb(pid: number): number {
  let kb = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

async function settle(proc: LabProcess, ms: number): Promise<number> {
  await sleepMs(ms);
  if (!proc.isRunning()) throw new Error(`${proc.name} exited`);
  return rssMb(proc.pid);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Wall time of one process run, ms. */
function timeOnce(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

const f1 = (v: number): string => v.toFixed(1);

/** Run the idle benchmark; prints a table and one JSON line. */
export async function runIdle(opts: { starts: number; settleMs: number; lateMs: readonly number[]; cliRuns: number; only?: ReadonlySet<string> | null }): Promise<void> {
  const groups: Speaker[][] = (['herald', 'bird', 'gobgp'] as const)
    .filter((s) => !opts.only || opts.only.has(s))
    .map((s) => (s === 'herald' && BASE ? ['herald', 'herald-base'] : [s]));
  const speakers = groups.flat();
  const missing = (s: Speaker): string | null => (s.startsWith('herald') ? null : (missingReason([s === 'bird' ? 'bird' : 'gobgp']) ?? null));
  console.log(`idle bench: load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${readFileSync('/proc/cpuinfo', 'utf8').split('\nprocessor').length} CPUs; node ${process.version}; herald ${[...HERALD_FLAGS, HERALD].join(' ')}${BASE ? `; herald-base ${BASE.herald}` : ''}`);
  type Row = { startMs: number | null; starts: number[]; cpuMs: number | null; startedMs: number | null; rssMb: number | null; lateRssMb?: number[]; note?: string };
  const rows: Record<string, Row> = {};
  const none = (note: string): Row => ({ startMs: null, starts: [], cpuMs: null, startedMs: null, rssMb: null, note });
  const cli: { routesMs: number | null; nodeMs: number | null; baseRoutesMs?: number | null } = { routesMs: null, nodeMs: null };
  for (const group of groups) {
    const why = missing(group[0]!);
    if (why) {
      for (const name of group) rows[name] = none(why);
      continue;
    }
    const lab = new Lab();
    let name = group[0]!;
    try {
      const peerNs = await lab.addNamespace(`idle-p-${name}`);
      const spkNs = await lab.addNamespace(`idle-s-${name}`);
      const l = await pointToPoint(lab, peerNs, spkNs);
      const e: Ends = { lab, peerNs, spkNs, peerV4: l.aV4, spkV4: l.bV4 };
      const all = await startToOpen(e, group, opts.starts);
      const receiver = new BirdReceiver(lab, peerNs, await lab.tempDir(`idle-recv-${name}`), RECEIVER_ASN, SENDER_ASN, [{ name: 'r4', neighbor: l.bV4, local: l.aV4, family: 'ipv4' }]);
      await receiver.start();
      for (name of group) {
        const { wall: starts, cpu, started } = all[name]!;
        const t0 = wallMs();
        const s = await startSpeaker(e, name, 'idle');
        await s.extra?.();
        const c = await receiver.until((x) => x.est4 && x.v4 >= 1, 30_000, 20);
        if (!c) throw new Error(`${name}: the receiver did not get the route within 30 s`);
        const rss = await settle(s.proc, opts.settleMs);
        rows[name] = {
          startMs: median(starts),
          starts,
          cpuMs: cpu.length ? median(cpu) : null,
          startedMs: started.length ? median(started) : null,
          rssMb: rss,
          note: `route at the receiver ${((c.at - t0) / 1000).toFixed(2)} s after start`,
        };
        if (name === 'herald' && s.api) {
          const routesMs: number[] = [];
          const baseMs: number[] = [];
          const nodeMs: number[] = [];
          timeOnce([process.execPath, '-e', '']);
          for (let i = 0; i < opts.cliRuns; i++) {
            nodeMs.push(timeOnce([process.execPath, '-e', '']));
            routesMs.push(timeOnce([process.execPath, ROUTES, '--socket', s.api]));
            if (BASE) baseMs.push(timeOnce([process.execPath, BASE.routes, '--socket', s.api]));
          }
          cli.routesMs = median(routesMs);
          cli.nodeMs = median(nodeMs);
          if (BASE) cli.baseRoutesMs = median(baseMs);
        }
        // Later samples: after V8's memory reducer's first pass (~8 s after
        // start), after the JIT has warmed up, over minutes with --late.
        const late: number[] = [];
        for (const ms of opts.lateMs) late.push(await settle(s.proc, Math.max(0, c.at + ms - wallMs())));
        rows[name]!.lateRssMb = late;
        await s.proc.stop();
        // The receiver sees the next start's session come up afresh.
        await receiver.until((x) => !x.est4, 30_000, 20);
      }
    } catch (err) {
      for (const n of group) rows[n] ??= none(`error: ${(err as Error).message.split('\n')[0]}`);
    } finally {
      await lab.close();
    }
  }
  const table = [
    ['speaker', 'start → first OPEN (median)', 'all starts (ms)', 'CPU to OPEN', 'start → "herald started"', `RSS at ${opts.settleMs / 1000} s`, ...opts.lateMs.map((ms) => `RSS at ${ms / 1000} s`), 'note'],
    ...speakers.map((n) => {
      const r = rows[n]!;
      return [
        n,
        r.startMs === null ? '—' : `${(r.startMs / 1000).toFixed(3)} s`,
        r.starts.map((x) => x.toFixed(0)).join(' '),
        r.cpuMs === null ? '—' : `${r.cpuMs} ms`,
        r.startedMs === null ? '—' : `${(r.startedMs / 1000).toFixed(3)} s`,
        r.rssMb === null ? '—' : `${f1(r.rssMb)} MB`,
        ...opts.lateMs.map((_, i) => (r.lateRssMb?.[i] === undefined ? '—' : `${f1(r.lateRssMb[i])} MB`)),
        r.note ?? '',
      ];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
  if (cli.routesMs !== null && cli.nodeMs !== null) {
    console.log(`routes summary: ${f1(cli.routesMs)} ms vs node -e '' ${f1(cli.nodeMs)} ms = ${(cli.routesMs / cli.nodeMs).toFixed(2)}× (median of ${opts.cliRuns} each, interleaved)`);
    if (cli.baseRoutesMs != null) console.log(`routes summary (herald-base's routes): ${f1(cli.baseRoutesMs)} ms = ${(cli.baseRoutesMs / cli.nodeMs).toFixed(2)}×`);
  }
  const h = rows.herald ?? none('not run');
  const idle = h.lateRssMb?.length ? Math.max(...h.lateRssMb) : null;
  console.log(
    `targets: idle RSS ≤ 60 MB (herald ${idle === null ? '—' : f1(idle)}, the highest from ${opts.lateMs[0]! / 1000} s on: ${[h.rssMb, ...(h.lateRssMb ?? [])].map((v, i) => `${v === null ? '—' : f1(v)} at ${[opts.settleMs, ...opts.lateMs][i]! / 1000} s`).join(', ')}), start → first OPEN ≤ 0.3 s (herald ${h.startMs === null ? '—' : (h.startMs / 1000).toFixed(3)}), routes ≤ 1.3× node -e '' (${cli.routesMs && cli.nodeMs ? (cli.routesMs / cli.nodeMs).toFixed(2) : '—'}×)`,
  );
  console.log(JSON.stringify({ bench: 'idle', loadavg: loadavg(), rows, cli }));
}
