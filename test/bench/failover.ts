/**
 * `npm run bench -- --failover`: how fast a failing anycast host leaves the
 * router, and what a client loses meanwhile (issue 8, "Benchmark"). One lab,
 * one run, three rows side by side:
 *
 *   herald+BFD      `herald run` with bfd 100ms × 3, hold 9
 *   herald hold 3   `herald run` without BFD, hold time 3 s (the tightest)
 *   FRR↔FRR BFD     the anchor: FRR (bgpd + bfdd) as the host, BFD 100ms × 3
 *
 * and one column per failure: service killed (nginx), host frozen (SIGSTOP
 * of every process of the host), link cut (the host's bridge port down),
 * speaker SIGKILL (herald; bgpd + bfdd for the anchor), planned drain
 * (SIGTERM: withdraw, then Cease; the anchor withdraws its `network`), and
 * planned restart (herald only: Graceful Restart turned on by a reload, then
 * SIGUSR2 and the next process; the cell says whether the next hop ever left
 * and counts the requests lost until End-of-RIB + 1 s).
 * Each cell: the time until the host's next hop leaves the router's kernel
 * route (stamped when the kernel reports the change, `ip monitor route`), and the client's requests lost out of those sent from 1 s before
 * the failure to 1 s after the next hop left.
 *
 *   router ns:  FRR upstream (zebra, bgpd, bfdd, multipath, L4 ECMP hash), bridge br0
 *   survivor:   herald, static routes for the three anycast /32, nginx
 *   hbfd, hhold, hfrr: the three subjects, each sharing one /32 with the survivor
 *   client:     behind the router, ≥ 40 HTTP requests/s to the row's /32, a new connection each
 *
 * A benchmark, not a test: it asserts nothing about time. It prints the
 * table, one JSON line, and writes test/bench/results/failover.json.
 */
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FrrRouter,
  Lab,
  bridgeTopology,
  descendants,
  missingReason,
  pointToPoint,
  sleep,
  type BridgeTopology,
  type LabProcess,
  type RouterConfig,
} from '../interop/lab/index.js';
import { DaemonProcess } from '../interop/support/daemon-process.js';
import { RouteMonitor, kernelNextHops } from '../interop/support/route-monitor.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const ROUTER_AS = 65000;
const HOST_AS = 65011;
const PREFIX = { hbfd: '198.51.100.1', hhold: '198.51.100.2', hfrr: '198.51.100.3' } as const;
const CHECK = { intervalMs: 200, fall: 2, rise: 2 };
const CLIENT_RATE = 40;
const CASES = ['service killed', 'host frozen', 'link cut', 'speaker SIGKILL', 'planned drain', 'planned restart'] as const;
type CaseName = (typeof CASES)[number];

interface Cell {
  /** Failure → next hop gone from the router's kernel route, ms; null when not measured. */
  goneMs: number | null;
  lost: number;
  sent: number;
  /** Why there is no figure (n/a, or an error). */
  note?: string;
}

interface Row {
  name: string;
  cells: Partial<Record<CaseName, Cell>>;
}

interface ClientResult {
  at: number;
  ok: boolean;
  who?: string;
  err?: string;
}

// The client loop, run by node in the client namespace: one HTTP GET every
// 1000/rate ms on a new connection, one JSON line per request.
const CLIENT_JS = String.raw`
import http from 'node:http';
const o = JSON.parse(process.argv[2]);
const out = (r) => process.stdout.write(JSON.stringify(r) + '\n');
const tick = setInterval(() => {
  const at = Date.now();
  let done = false;
  const finish = (r) => { if (!done) { done = true; out({ at, ...r }); } };
  const req = http.get({ host: o.addr, port: 80, path: '/', agent: false, timeout: o.timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => finish(res.statusCode === 200 ? { ok: true, who: body.trim() } : { ok: false, err: 'status ' + res.statusCode }));
    res.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
}, 1000 / o.rate);
process.on('SIGTERM', () => { clearInterval(tick); setTimeout(() => process.exit(0), o.timeoutMs + 100); });
`;

function nginxConf(dir: string, name: string, addrs: string[]): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`).join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 512; }
http {
  access_log off;
${temp}
  default_type text/plain;
  server {
    listen 127.0.0.1:80;
${addrs.map((a) => `    listen ${a}:80;`).join('\n')}
    location / { return 200 "${name}\\n"; }
  }
}
`;
}

function heraldConf(o: { v4: string; dir: string; routerV4: string; bfd: boolean; hold: number; prefix?: string; statics?: string[]; gr?: boolean }): string {
  const service = o.prefix
    ? `services:
  - name: web
    prefixes: [${o.prefix}/32]
    checks:
      - http: { url: "http://127.0.0.1/", status: 200 }
    interval: ${CHECK.intervalMs}ms
    rise: ${CHECK.rise}
    fall: ${CHECK.fall}
    jitter: 0s
`
    : '';
  const statics = o.statics ? `static:\n${o.statics.map((p) => `  - { prefix: ${p}/32 }`).join('\n')}\n` : '';
  return `router_id: ${o.v4}
asn: ${HOST_AS}
listen: { address: "::", port: 179 }
api: { socket: ${o.dir}/herald.sock }
${o.bfd ? 'bfd: { min_tx: 100ms, min_rx: 100ms, multiplier: 3 }\n' : ''}${o.gr ? 'graceful_restart: { restart_time: 60s }\n' : ''}peers:
  - { name: r, address: ${o.routerV4}, asn: ${ROUTER_AS}, local_address: ${o.v4}, hold_time: ${o.hold}, connect_retry: 1s }
${service}${statics}drain: { period: 0s, message: "failover bench" }
`;
}


/** One subject host: how to fail it each way and bring it back. */
interface Subject {
  row: string;
  name: keyof typeof PREFIX;
  prefix: string;
  ns: string;
  v4: string;
  /** null: this row has no such failure (n/a). */
  killService: (() => Promise<void>) | null;
  restoreService: () => Promise<void>;
  pids: () => number[];
  killSpeaker: () => Promise<void>;
  restartSpeaker: () => Promise<void>;
  drain: () => Promise<void>;
  undrain: () => Promise<void>;
  /** Turn Graceful Restart on (a reload that resets the session); null: no planned restart in this row. */
  enableGr: (() => Promise<void>) | null;
  /** A planned restart: resolves once the next process released End-of-RIB. */
  plannedRestart: () => Promise<void>;
}

function serversMissing(): string | undefined {
  try {
    accessSync('/usr/sbin/nginx', constants.X_OK);
  } catch {
    return '/usr/sbin/nginx missing: apt-get install nginx-light';
  }
  return missingReason(['frr']);
}

/** Run the failover benchmark; prints the table and writes results/failover.json. */
export async function runFailover(): Promise<void> {
  const why = serversMissing();
  if (why !== undefined) {
    console.log(`*** SKIPPING the failover bench: ${why}`);
    return;
  }
  const started = Date.now();
  const lab = new Lab();
  const rows: Row[] = [];
  const live: DaemonProcess[] = [];
  const monitors: RouteMonitor[] = [];
  try {
    console.log('failover bench: building the lab…');
    const topo: BridgeTopology = await bridgeTopology(lab, 4, { roles: ['survivor', 'hbfd', 'hhold', 'hfrr'] });
    await lab.enableForwarding(topo.router);
    const client = await lab.addNamespace('client');
    const link = await pointToPoint(lab, topo.router, client, { index: 0, ifA: 'cl0', ifB: 'eth0', v4Net: '203.0.113' });
    await lab.ip(client, ['-4', 'route', 'add', 'default', 'via', link.aV4]);
    const [sv, hb, hh, hf] = topo.spokes as [BridgeTopology['spokes'][0], BridgeTopology['spokes'][0], BridgeTopology['spokes'][0], BridgeTopology['spokes'][0]];
    const bfd = { minTxMs: 100, minRxMs: 100, multiplier: 3 };
    const upstream = new FrrRouter(lab, {
      name: 'upstream',
      ns: topo.router,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      peers: [
        { address: sv.v4, asn: HOST_AS, passive: true, families: ['ipv4'], holdTime: 9, localAddress: topo.routerV4 },
        { address: hb.v4, asn: HOST_AS, passive: true, families: ['ipv4'], holdTime: 9, localAddress: topo.routerV4, bfd },
        { address: hh.v4, asn: HOST_AS, passive: true, families: ['ipv4'], holdTime: 3, localAddress: topo.routerV4 },
        { address: hf.v4, asn: HOST_AS, families: ['ipv4'], holdTime: 9, localAddress: topo.routerV4, bfd },
      ],
    });
    await upstream.start();

    // Every host: the row's /32 on lo, a default route back through the router, nginx.
    const nginx = new Map<string, LabProcess>();
    const dirs = new Map<string, string>();
    const startNginx = (s: { ns: string }, name: string): void => {
      const dir = dirs.get(name)!;
      nginx.set(name, lab.spawn(s.ns, `nginx-${name}`, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { logFile: join(dir, 'nginx.out') }));
    };
    const hostAddrs: Record<string, string[]> = { survivor: Object.values(PREFIX), hbfd: [PREFIX.hbfd], hhold: [PREFIX.hhold], hfrr: [PREFIX.hfrr] };
    for (const [name, s] of [['survivor', sv], ['hbfd', hb], ['hhold', hh], ['hfrr', hf]] as const) {
      const dir = await lab.tempDir(`failover-${name}`);
      chmodSync(dir, 0o755);
      dirs.set(name, dir);
      mkdirSync(join(dir, 'tmp'));
      for (const a of hostAddrs[name]!) await lab.addAddress(s.ns, 'lo', `${a}/32`);
      await lab.ip(s.ns, ['-4', 'route', 'add', 'default', 'via', topo.routerV4]);
      writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, name, hostAddrs[name]!));
      startNginx(s, name);
    }

    const herald = (name: string, s: { ns: string; v4: string }, conf: string): DaemonProcess => {
      const dir = dirs.get(name)!;
      writeFileSync(join(dir, 'herald.yaml'), conf);
      const d = new DaemonProcess(s.ns, join(dir, 'herald.yaml'), { name: `herald-${name}` });
      live.push(d);
      return d;
    };
    const survivor = herald('survivor', sv, heraldConf({ v4: sv.v4, dir: dirs.get('survivor')!, routerV4: topo.routerV4, bfd: false, hold: 9, statics: Object.values(PREFIX) }));
    const heralds: Record<'hbfd' | 'hhold', DaemonProcess> = {
      hbfd: herald('hbfd', hb, heraldConf({ v4: hb.v4, dir: dirs.get('hbfd')!, routerV4: topo.routerV4, bfd: true, hold: 9, prefix: PREFIX.hbfd })),
      hhold: herald('hhold', hh, heraldConf({ v4: hh.v4, dir: dirs.get('hhold')!, routerV4: topo.routerV4, bfd: false, hold: 3, prefix: PREFIX.hhold })),
    };
    const frrHostConfig: RouterConfig = {
      name: 'hostfrr',
      ns: hf.ns,
      asn: HOST_AS,
      routerId: hf.v4,
      peers: [{ address: topo.routerV4, asn: ROUTER_AS, families: ['ipv4'], holdTime: 9, localAddress: hf.v4, bfd }],
      announce: [{ prefix: `${PREFIX.hfrr}/32` }],
    };
    let hostFrr = new FrrRouter(lab, frrHostConfig);
    await Promise.all([survivor.start(), heralds.hbfd.start(), heralds.hhold.start(), hostFrr.start()]);

    const confOf = (name: 'hbfd' | 'hhold', s: { v4: string }, gr: boolean): string =>
      heraldConf({ v4: s.v4, dir: dirs.get(name)!, routerV4: topo.routerV4, bfd: name === 'hbfd', hold: name === 'hbfd' ? 9 : 3, prefix: PREFIX[name], gr });
    const heraldSubject = (name: 'hbfd' | 'hhold', row: string, s: { ns: string; v4: string }): Subject => ({
      row,
      name,
      prefix: PREFIX[name],
      ns: s.ns,
      v4: s.v4,
      killService: async () => nginx.get(name)!.stop(),
      restoreService: async () => startNginx(s, name),
      pids: () => {
        const n = nginx.get(name)!.pid;
        return [heralds[name].pid!, n, ...descendants(n)];
      },
      killSpeaker: async () => {
        heralds[name].kill();
        await heralds[name].exited;
      },
      restartSpeaker: async () => {
        heralds[name] = herald(name, s, readFileSync(heralds[name].configPath, 'utf8'));
        await heralds[name].start(60_000);
      },
      drain: async () => {
        await heralds[name].stop();
      },
      undrain: async () => {
        heralds[name] = herald(name, s, readFileSync(heralds[name].configPath, 'utf8'));
        await heralds[name].start(60_000);
      },
      enableGr: async () => {
        const from = heralds[name].mark();
        writeFileSync(heralds[name].configPath, confOf(name, s, true));
        heralds[name].signal('SIGHUP');
        await heralds[name].waitLog((l) => l.msg === 'config reloaded', 10_000, from);
      },
      plannedRestart: async () => {
        heralds[name].signal('SIGUSR2');
        await heralds[name].exited;
        heralds[name] = herald(name, s, readFileSync(heralds[name].configPath, 'utf8'));
        await heralds[name].start(60_000);
        await heralds[name].waitLog((l) => l.msg === 'routes complete: End-of-RIB released', 60_000);
      },
    });
    const subjects: Subject[] = [
      heraldSubject('hbfd', 'herald+BFD', hb),
      heraldSubject('hhold', 'herald hold 3', hh),
      {
        row: 'FRR↔FRR BFD',
        name: 'hfrr',
        prefix: PREFIX.hfrr,
        ns: hf.ns,
        v4: hf.v4,
        killService: null,
        restoreService: async () => {},
        pids: () => {
          const n = nginx.get('hfrr')!.pid;
          return [hostFrr.pidOf('zebra'), hostFrr.pidOf('bfdd'), hostFrr.pidOf('bgpd'), n, ...descendants(n)];
        },
        killSpeaker: async () => {
          for (const d of ['bgpd', 'bfdd'] as const) process.kill(hostFrr.pidOf(d), 'SIGKILL');
        },
        restartSpeaker: async () => {
          await hostFrr.stop();
          hostFrr = new FrrRouter(lab, { ...frrHostConfig });
          await hostFrr.start();
        },
        drain: async () => hostFrr.withdraw([`${PREFIX.hfrr}/32`]),
        undrain: async () => hostFrr.announce([{ prefix: `${PREFIX.hfrr}/32` }]),
        enableGr: null,
        plannedRestart: async () => {},
      },
    ];

    // Everything announced: each row's /32 with two next hops.
    const mon = new Map<string, RouteMonitor>();
    for (const s of subjects) {
      const m = await RouteMonitor.start(topo.router, s.prefix);
      monitors.push(m);
      mon.set(s.name, m);
      const ok = await m.until((h) => h.length === 2, Date.now(), 90_000);
      if (ok === null) throw new Error(`${s.row}: ${s.prefix} never reached two next hops: ${JSON.stringify(await kernelNextHops(topo.router, s.prefix))}`);
    }
    console.log(`failover bench: lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const cdir = await lab.tempDir('failover-client');
    writeFileSync(join(cdir, 'client.mjs'), CLIENT_JS);
    for (const s of subjects) {
      const row: Row = { name: s.row, cells: {} };
      rows.push(row);
      const out = join(cdir, `client-${s.name}.jsonl`);
      const loop = lab.spawn(client, `client-${s.name}`, process.execPath, [join(cdir, 'client.mjs'), JSON.stringify({ addr: s.prefix, rate: CLIENT_RATE, timeoutMs: 800 })], { logFile: out });
      await sleep(1_000);
      const read = (): ClientResult[] =>
        readFileSync(out, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as ClientResult);
      const m = mon.get(s.name)!;
      const gone = (t0: number): Promise<number | null> => m.until((h) => !h.includes(s.v4), t0, 30_000);
      const back = async (): Promise<void> => {
        const ok = await m.until((h) => h.length === 2, Date.now(), 90_000);
        if (ok === null) throw new Error(`${s.row}: ${s.prefix} did not come back to two next hops`);
        await sleep(1_000);
      };
      const measure = async (c: CaseName, inject: () => Promise<void> | void, restore: () => Promise<void>): Promise<void> => {
        process.stdout.write(`  ${s.row}: ${c}… `);
        const t0 = Date.now();
        let goneMs: number | null = null;
        let note: string | undefined;
        // Watch from the moment of the failure: a drain returns only once herald has exited.
        const watch = gone(t0);
        try {
          await inject();
        } catch (e) {
          note = `error: ${(e as Error).message.split('\n')[0]}`;
        }
        goneMs = await watch;
        if (goneMs === null) note ??= 'next hop still there after 30 s';
        const end = (goneMs === null ? Date.now() : t0 + goneMs) + 1_000;
        await sleep(Math.max(0, end - Date.now()) + 900);
        const win = read().filter((r) => r.at >= t0 - 1_000 && r.at <= end);
        const cell: Cell = { goneMs, lost: win.filter((r) => !r.ok).length, sent: win.length, ...(note ? { note } : {}) };
        row.cells[c] = cell;
        console.log(`${goneMs === null ? '—' : `${goneMs} ms`}, ${cell.lost}/${cell.sent} lost${note ? ` (${note})` : ''}`);
        await restore();
        await back();
      };
      if (s.killService) {
        await measure('service killed', s.killService, s.restoreService);
      } else {
        row.cells['service killed'] = { goneMs: null, lost: 0, sent: 0, note: 'n/a — FRR has no health check' };
      }
      let frozen: number[] = [];
      await measure(
        'host frozen',
        () => {
          frozen = s.pids();
          for (const p of frozen) process.kill(p, 'SIGSTOP');
        },
        async () => {
          for (const p of frozen) process.kill(p, 'SIGCONT');
        },
      );
      const port = `sp${topo.spokes.findIndex((x) => x.ns === s.ns) + 1}`;
      await measure(
        'link cut',
        async () => {
          await lab.ip(topo.router, ['link', 'set', 'dev', port, 'down']);
        },
        async () => {
          await lab.ip(topo.router, ['link', 'set', 'dev', port, 'up']);
        },
      );
      await measure('speaker SIGKILL', s.killSpeaker, s.restartSpeaker);
      await measure('planned drain', s.drain, s.undrain);
      if (s.enableGr) {
        await s.enableGr();
        await back();
        process.stdout.write(`  ${s.row}: planned restart… `);
        const t0 = Date.now();
        let note: string | undefined;
        try {
          await s.plannedRestart();
        } catch (e) {
          note = `error: ${(e as Error).message.split('\n')[0]}`;
        }
        const end = Date.now() + 1_000;
        await sleep(1_900);
        const left = m.history.find((h) => h.at >= t0 && h.at <= end && !h.hops.includes(s.v4));
        const win = read().filter((r) => r.at >= t0 - 1_000 && r.at <= end);
        const cell: Cell = {
          goneMs: left ? left.at - t0 : null,
          lost: win.filter((r) => !r.ok).length,
          sent: win.length,
          ...(note ? { note } : left ? {} : { note: 'next hop kept through the restart' }),
        };
        row.cells['planned restart'] = cell;
        console.log(`${left ? `next hop left after ${left.at - t0} ms` : 'next hop kept'}, ${cell.lost}/${cell.sent} lost (until End-of-RIB + 1 s)${note ? ` (${note})` : ''}`);
        await back();
      } else {
        row.cells['planned restart'] = { goneMs: null, lost: 0, sent: 0, note: 'n/a — FRR graceful restart not set up here' };
      }
      await loop.stop();
      const all = read();
      console.log(`  ${s.row}: client sent ${all.length} requests, ${all.filter((r) => !r.ok).length} failed in all`);
    }
  } finally {
    for (const m of monitors) m.stop();
    for (const d of live) d.kill();
    await lab.close();
  }

  printTable(rows);
  const summary = { at: new Date().toISOString(), node: process.version, totalS: (Date.now() - started) / 1000, clientRate: CLIENT_RATE, check: CHECK, rows };
  console.log(`\n${JSON.stringify(summary)}`);
  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'failover.json'), JSON.stringify(summary, null, 2) + '\n');
  console.log(`\nwritten: ${join(dir, 'failover.json')} (total ${summary.totalS.toFixed(0)} s)`);
}

function printTable(rows: Row[]): void {
  const cell = (c: Cell | undefined): string => {
    if (!c) return '—';
    if (c.goneMs === null) return c.sent > 0 ? `${c.note ?? '—'}, ${c.lost}/${c.sent} lost` : (c.note ?? '—');
    return `${(c.goneMs / 1000).toFixed(2)} s, ${c.lost}/${c.sent} lost${c.note ? ` (${c.note})` : ''}`;
  };
  const table = [['', ...CASES], ...rows.map((r) => [r.name, ...CASES.map((c) => cell(r.cells[c]))])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log("\nnext hop gone from the router's kernel route after the failure; client requests lost / sent (1 s before → 1 s after; planned restart: until End-of-RIB + 1 s)");
  for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  console.log(`targets (issue 8): host frozen / link cut ≤ 0.35 s with BFD 100ms × 3 and no worse than FRR↔FRR; service killed ≤ fall × interval + 100 ms = ${CHECK.fall * CHECK.intervalMs + 100} ms; planned restart 0 lost`);
}
