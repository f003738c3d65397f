/**
 * The fault lab: the real daemon (`herald run`) behind a real FRR at hold
 * time 3, in network namespaces made by the interop lab (test/interop/lab),
 * for the fault suite (faults.ts), the soak (soak.ts), the issue-12 load test
 * (test/interop/load.test.ts) and the lateness benchmark
 * (test/bench/lateness.ts).
 *
 *   router ns ── eth0 2001:db8:0:100::1 ══ veth ══ 2001:db8:0:100::2 eth0 ── herald ns
 *   FRR (zebra, bgpd), AS 65000                      herald AS 65011, target.ts
 *                                                     scan0 192.0.2.5, 2001:db8:0:101::1
 *                                                        ║ veth
 *   scan ns ── eth0 192.0.2.6, 2001:db8:0:101::2 ── flood.ts (a configured peer, AS 65020),
 *              AnyIP on lo: 2001:db8:5c::/64, 198.51.100.0/24, 203.0.113.0/24 (scan.ts)
 *
 * The BGP session with FRR runs over IPv6 and carries IPv6 only: every
 * announced route is a 2001:db8::/32 host route that zebra may install in the
 * router namespace's kernel table (240.0.0.0/4 may not be installed anywhere).
 * herald announces one static sentinel (SENTINEL, watched in the kernel table
 * to time outages) and `services` services, each one /128 from
 * 2001:db8:a::/112 behind one tcp check of the target listener on
 * 127.0.0.1:8080 in herald's namespace: stopping the listener makes every
 * check fail in the same round, starting it makes them pass (jitter 0).
 *
 * Everything here is test infrastructure; it signals only pids it started.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, nsRun, pointToPoint, sleep, startRouter, type LabProcess } from '../interop/lab/index.js';
import type { FrrRouter } from '../interop/lab/frr.js';
import { DaemonProcess, type LogLine } from '../interop/support/daemon-process.js';
import { PRODUCTION_NODE_FLAGS } from '../support/node-flags.js';

export const ROUTER_AS = 65000;
export const HERALD_AS = 65011;
export const FLOOD_AS = 65020;
export const ROUTER_V6 = '2001:db8:0:100::1';
export const HERALD_V6 = '2001:db8:0:100::2';
export const HERALD_SCAN_V4 = '192.0.2.5';
export const HERALD_SCAN_V6 = '2001:db8:0:101::1';
export const SCAN_V4 = '192.0.2.6';
export const SCAN_V6 = '2001:db8:0:101::2';
/** The scanner's AnyIP ranges (sources of unknown connections). */
export const SCAN_SOURCES = { v6: '2001:db8:5c::', v4: ['198.51.100.0', '203.0.113.0'] } as const;
/** A static route herald always announces; its kernel route at the router times every outage. */
export const SENTINEL = '2001:db8:ffff::1';
const TARGET_PORT = 8080;

const here = fileURLToPath(new URL('.', import.meta.url));

/** The i-th service's prefix (i from 0): 2001:db8:a::1/128 upwards. */
export function servicePrefix(i: number): string {
  const n = i + 1;
  return `2001:db8:a::${n > 0xffff ? `${(n >>> 16).toString(16)}:` : ''}${(n & 0xffff).toString(16)}`;
}

export interface FaultLabOptions {
  /** Services behind the shared tcp check (default 0). */
  services?: number;
  /** Hold time with FRR, seconds (default 3). */
  holdTime?: number;
  /** Check interval, ms (default 2000); rise and fall (default 2 each). */
  intervalMs?: number;
  rise?: number;
  fall?: number;
  /** The scanner namespace and the flood peer (default false). */
  scanner?: boolean;
  /** Log level of herald (default info). */
  logLevel?: string;
  /** Tag of the temp dirs. */
  tag?: string;
  /** Extra environment for herald. */
  env?: Record<string, string>;
  /** Options for herald's node (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * Duplicate address detection on the link's two ends (default true, as
   * Linux does). false: accept_dad 0 on both, as a point-to-point uplink
   * set up for fast recovery may be (docs/operations.md): addresses are
   * usable the moment the link is up again.
   */
  dad?: boolean;
}

/** herald's resource use from /proc. */
export interface Usage {
  rssMb: number;
  fds: number;
  threads: number;
}

/** How FRR holds herald's routes. */
export interface RouteCheck {
  expected: number;
  /** Prefixes from herald at FRR (each counted once). */
  present: number;
  missing: string[];
  /** Prefixes from herald that should not be there. */
  stale: string[];
  /** Prefixes with more than one path from herald. */
  duplicated: string[];
  ok: boolean;
}

/** FRR's view of the session with herald. */
export interface FrrNeighbor {
  state: string;
  established: number;
  dropped: number;
  lastReset: string;
  uptimeMs: number;
  prefixes: number;
}

/** Lines worth keeping from a herald that logs 10,000 service changes a flip. */
const KEEP = (l: LogLine): boolean => l.msg !== 'service health changed' && l.msg !== 'connection from an address that is no configured peer: closed';

export class FaultLab {
  readonly lab = new Lab();
  router = '';
  heraldNs = '';
  scanNs = '';
  frr!: FrrRouter;
  herald!: DaemonProcess;
  dir = '';
  configPath = '';
  socket = '';
  private target: LabProcess | null = null;
  /** `ip -ts -6 monitor address` on the router's eth0 (see routerAddressesUsableAt). */
  private addrLog = '';
  readonly opts: Required<Omit<FaultLabOptions, 'tag' | 'env' | 'nodeArgs'>> & { tag: string; env: Record<string, string>; nodeArgs: string[] };
  /** Every herald process started (a SIGKILL fault starts new ones). */
  readonly heralds: DaemonProcess[] = [];

  constructor(opts: FaultLabOptions = {}) {
    this.opts = {
      services: opts.services ?? 0,
      holdTime: opts.holdTime ?? 3,
      intervalMs: opts.intervalMs ?? 2_000,
      rise: opts.rise ?? 2,
      fall: opts.fall ?? 2,
      scanner: opts.scanner ?? false,
      dad: opts.dad ?? true,
      logLevel: opts.logLevel ?? 'info',
      tag: opts.tag ?? 'faults',
      env: opts.env ?? {},
      // As src/bin/herald.mjs starts it (its #! line's flags; DaemonProcess runs node directly).
      nodeArgs: [...PRODUCTION_NODE_FLAGS, ...(opts.nodeArgs ?? [])],
    };
  }

  /** Build the namespaces, start FRR, the check target and herald; wait until FRR has every route. */
  async start(timeoutMs = 120_000): Promise<void> {
    this.router = await this.lab.addNamespace('router');
    this.heraldNs = await this.lab.addNamespace('herald');
    const p = await pointToPoint(this.lab, this.router, this.heraldNs, { index: 0 });
    if (p.aV6 !== ROUTER_V6 || p.bV6 !== HERALD_V6) throw new Error(`unexpected addresses ${p.aV6} ${p.bV6}`);
    // A link flap sets the router's end down: Linux drops an interface's
    // IPv6 addresses on admin down unless told to keep them (a real router's
    // configured address survives a flap).
    for (const ns of [this.router, this.heraldNs]) await this.lab.sysctl(ns, 'net.ipv6.conf.eth0.keep_addr_on_down', 1);
    if (!this.opts.dad) for (const ns of [this.router, this.heraldNs]) await this.lab.sysctl(ns, 'net.ipv6.conf.eth0.accept_dad', 0);
    // The router's address changes, timestamped: when its addresses are
    // usable again after a flap (routerAddressesUsableAt).
    this.addrLog = join(await this.lab.tempDir(`${this.opts.tag}-addr`), 'router-addr.log');
    this.lab.spawn(this.router, 'addr-monitor', 'ip', ['-ts', '-6', 'monitor', 'address', 'dev', 'eth0'], { logFile: this.addrLog });
    if (this.opts.scanner) {
      this.scanNs = await this.lab.addNamespace('scan');
      await pointToPoint(this.lab, this.heraldNs, this.scanNs, { index: 1, ifA: 'scan0', ifB: 'eth0' });
      // AnyIP: the scanner may bind any address of these ranges and receives the replies.
      await this.lab.ip(this.scanNs, ['-6', 'route', 'add', 'local', `${SCAN_SOURCES.v6}/64`, 'dev', 'lo']);
      for (const v4 of SCAN_SOURCES.v4) await this.lab.ip(this.scanNs, ['route', 'add', 'local', `${v4}/24`, 'dev', 'lo']);
      // IPv4 binds any address of a local route; IPv6 binds only configured addresses unless told otherwise.
      await this.lab.sysctl(this.scanNs, 'net.ipv6.ip_nonlocal_bind', 1);
      await this.lab.ip(this.heraldNs, ['-6', 'route', 'add', `${SCAN_SOURCES.v6}/64`, 'via', SCAN_V6]);
      for (const v4 of SCAN_SOURCES.v4) await this.lab.ip(this.heraldNs, ['route', 'add', `${v4}/24`, 'via', SCAN_V4]);
    }
    this.frr = (await startRouter(this.lab, 'frr', {
      name: 'faults-upstream',
      ns: this.router,
      asn: ROUTER_AS,
      routerId: '192.0.2.1',
      peers: [{ address: HERALD_V6, asn: HERALD_AS, families: ['ipv6'], holdTime: this.opts.holdTime }],
    })) as FrrRouter;
    // Hold Timer Expired and every reset reason land in bgpd.log.
    await this.frr.vtysh(['debug bgp neighbor-events']);
    this.dir = await this.lab.tempDir(this.opts.tag);
    this.configPath = join(this.dir, 'herald.yaml');
    this.socket = join(this.dir, 'herald.sock');
    writeFileSync(this.configPath, this.config());
    if (this.opts.services > 0) await this.startTarget();
    await this.startHerald();
    await this.waitRoutes(this.expectedCount(), timeoutMs);
  }

  /** herald's config: FRR at hold 3, the flood peer when there is a scanner, the sentinel, the services. */
  config(): string {
    const o = this.opts;
    const lines = [
      '# herald fault lab (test/faults/lab.ts)',
      'router_id: 192.0.2.2',
      `asn: ${HERALD_AS}`,
      'listen: { address: "::", port: 179 }',
      `api: { socket: ${this.socket} }`,
      `state_dir: ${this.dir}/state`,
      `logging: { level: ${o.logLevel} }`,
      'metrics: { address: 127.0.0.1, port: 9180 }',
      'peers:',
      `  - { name: frr, address: "${ROUTER_V6}", asn: ${ROUTER_AS}, families: [ipv6], hold_time: ${o.holdTime}, connect_retry: 1s }`,
    ];
    if (o.scanner) lines.push(`  - { name: flood, address: ${SCAN_V4}, asn: ${FLOOD_AS}, families: [ipv4], passive: true, hold_time: 90 }`);
    lines.push('static:', `  - prefix: "${SENTINEL}/128"`);
    if (o.services > 0) {
      lines.push('services:');
      for (let i = 0; i < o.services; i++) {
        lines.push(
          `  - { name: s${i}, prefixes: ["${servicePrefix(i)}/128"], checks: [{ tcp: { address: 127.0.0.1, port: ${TARGET_PORT} } }], interval: ${o.intervalMs}ms, timeout: 1s, rise: ${o.rise}, fall: ${o.fall}, jitter: 0s }`,
        );
      }
    }
    lines.push('drain: { period: 0s, message: "fault lab done" }', '');
    return lines.join('\n');
  }

  /** Start (another) herald process and wait until it has started. */
  async startHerald(): Promise<DaemonProcess> {
    const h = new DaemonProcess(this.heraldNs, this.configPath, { name: `herald#${this.heralds.length + 1}`, keepLine: KEEP, env: this.opts.env, nodeArgs: this.opts.nodeArgs });
    await h.start(60_000);
    this.herald = h;
    this.heralds.push(h);
    return h;
  }

  /** The routes FRR should hold from herald now: the sentinel, and every service while the target listens. */
  expectedPrefixes(): string[] {
    const out = [`${SENTINEL}/128`];
    if (this.targetUp()) for (let i = 0; i < this.opts.services; i++) out.push(`${servicePrefix(i)}/128`);
    return out;
  }

  expectedCount(): number {
    return 1 + (this.targetUp() ? this.opts.services : 0);
  }

  targetUp(): boolean {
    return this.target !== null && this.target.isRunning();
  }

  /** Start the check target (every service's check passes from its next probe). */
  async startTarget(): Promise<void> {
    if (this.targetUp()) return;
    const log = join(this.dir, 'target.log');
    this.target = this.lab.spawn(this.heraldNs, 'target', process.execPath, ['--import', 'tsx', join(here, 'agents/target.ts'), '127.0.0.1', String(TARGET_PORT)], {
      logFile: log,
      cwd: join(here, '../..'),
    });
    const t0 = Date.now();
    while (!(existsSync(log) && readFileSync(log, 'utf8').includes('listening'))) {
      if (!this.target.isRunning()) throw new Error(`the check target exited: ${readFileSync(log, 'utf8')}`);
      if (Date.now() - t0 > 20_000) throw new Error('the check target did not start');
      await sleep(20);
    }
  }

  /** Stop the check target (every service's check fails from its next probe). */
  async stopTarget(): Promise<void> {
    const t = this.target;
    this.target = null;
    await t?.stop();
  }

  /** herald's RSS, open fds and threads, from /proc. */
  usage(pid = this.herald.pid): Usage {
    if (pid === undefined) throw new Error('herald is not running');
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(st)?.[1] ?? 0);
    return { rssMb: +(kb('VmRSS') / 1024).toFixed(1), fds: readdirSync(`/proc/${pid}/fd`).length, threads: kb('Threads') };
  }

  /** GET a control API path on the unix socket. */
  api<T>(path: string, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, path, method: 'GET', timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
          } catch (e) {
            reject(e as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * Ping the control API every `everyMs` until stop(): the slowest answer is
   * how long herald's main thread was held (a signal such as SIGTERM waits
   * as long). GET /v1 answers a constant, so the figure is the loop's delay.
   */
  pingApi(everyMs = 100): { stop(): Promise<{ samples: number; maxMs: number; p99Ms: number; failed: number }> } {
    let running = true;
    const times: number[] = [];
    let failed = 0;
    const loop = (async (): Promise<void> => {
      while (running) {
        const t0 = performance.now();
        try {
          await this.api('/v1', 30_000);
          times.push(performance.now() - t0);
        } catch {
          failed++;
        }
        await sleep(everyMs);
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        const sorted = [...times].sort((a, b) => a - b);
        return {
          samples: times.length,
          maxMs: Math.round(sorted.at(-1) ?? 0),
          p99Ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
          failed,
        };
      },
    };
  }

  /** One metric's value from herald's /metrics (the listener is in herald's namespace). */
  async metric(name: string): Promise<number | null> {
    const js = `fetch('http://127.0.0.1:9180/metrics').then(r=>r.text()).then(t=>process.stdout.write(t),e=>{process.stderr.write(String(e));process.exit(1)})`;
    const r = await nsRun(this.heraldNs, process.execPath, ['-e', js], { allowFail: true });
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.stdout);
    return m ? Number(m[1]) : null;
  }

  /** FRR's neighbour record for herald. */
  async neighbor(): Promise<FrrNeighbor> {
    const out = await this.frr.vtysh([`show bgp neighbors ${HERALD_V6} json`]);
    const n = (JSON.parse(out.stdout) as Record<string, Record<string, unknown>>)[HERALD_V6] ?? {};
    const afi = (n['addressFamilyInfo'] as Record<string, { acceptedPrefixCounter?: number }> | undefined)?.['ipv6Unicast'];
    return {
      state: String(n['bgpState'] ?? 'unknown'),
      established: Number(n['connectionsEstablished'] ?? 0),
      dropped: Number(n['connectionsDropped'] ?? 0),
      lastReset: String(n['lastResetDueTo'] ?? ''),
      uptimeMs: Number(n['bgpTimerUpMsec'] ?? 0),
      prefixes: afi?.acceptedPrefixCounter ?? 0,
    };
  }

  /** How many prefixes FRR has accepted from herald (cheap; a summary, not the table). */
  async prefixCount(): Promise<number> {
    const out = await this.frr.vtysh(['show bgp ipv6 unicast summary json'], true);
    try {
      const j = JSON.parse(out.stdout) as { peers?: Record<string, { pfxRcd?: number; state?: string }> };
      const p = j.peers?.[HERALD_V6];
      return p?.state === 'Established' ? (p.pfxRcd ?? 0) : 0;
    } catch {
      return 0;
    }
  }

  /** Wait until FRR holds exactly `count` prefixes from herald; resolve with the ms it took. */
  async waitRoutes(count: number, timeoutMs: number, everyMs = 100): Promise<number> {
    const t0 = Date.now();
    let last = -1;
    for (;;) {
      last = await this.prefixCount();
      if (last === count) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(`FRR holds ${last} prefixes from herald, not ${count}, after ${timeoutMs} ms; herald:\n${this.herald.tail(15)}`);
      }
      await sleep(everyMs);
    }
  }

  /** Compare FRR's table with what herald should announce: every route exactly once, none stale. */
  async checkRoutes(expected = this.expectedPrefixes()): Promise<RouteCheck> {
    const out = await this.frr.vtysh(['show bgp ipv6 unicast json']);
    const j = JSON.parse(out.stdout) as { routes?: Record<string, { peerId?: string; nexthops?: { ip?: string }[] }[]> };
    const want = new Set(expected);
    const missing: string[] = [];
    const stale: string[] = [];
    const duplicated: string[] = [];
    let present = 0;
    for (const [prefix, paths] of Object.entries(j.routes ?? {})) {
      const n = paths.filter((p) => p.peerId === HERALD_V6).length;
      if (n === 0) continue;
      present++;
      if (n > 1) duplicated.push(prefix);
      if (!want.has(prefix)) stale.push(prefix);
    }
    for (const p of want) if (!(j.routes ?? {})[p]?.some((x) => x.peerId === HERALD_V6)) missing.push(p);
    return { expected: want.size, present, missing, stale, duplicated, ok: missing.length === 0 && stale.length === 0 && duplicated.length === 0 };
  }

  /**
   * When the router's addresses on eth0 were both usable again (duplicate
   * address detection done) at or after `since` (ms since the epoch), or
   * null if not yet. After a link comes up Linux runs DAD again on the
   * link-local address and on the session's global address (kept across the
   * flap, keep_addr_on_down), about 1–2.5 s. Until the global one is done a
   * tentative address drops herald's SYNs (the kernel retries them after 1,
   * 2, 4 s); until the link-local one is done FRR refuses the IPv6 session
   * ("does not have a v6 LL address": an FSM Error for each OPEN). That wait
   * is the router's, not herald's.
   */
  routerAddressesUsableAt(since: number): number | null {
    let text = '';
    try {
      text = readFileSync(this.addrLog, 'utf8');
    } catch {
      return null;
    }
    let ll: number | null = null;
    let global: number | null = null;
    // "[2026-12-07T04:09:23.198109] 3: eth0    inet6 fe80::…/64 scope link" (no "Deleted", no "tentative"); local time.
    for (const m of text.matchAll(/^\[(\d{4}-\d\d-\d\dT[\d:.]+)\] (.*)$/gm)) {
      const at = new Date(m[1]!.slice(0, 23)).getTime();
      const line = m[2]!;
      if (at < since || line.startsWith('Deleted') || /tentative|dadfailed/.test(line)) continue;
      if (ll === null && /inet6 fe80:\S+ scope link/.test(line)) ll = at;
      if (global === null && line.includes(`inet6 ${ROUTER_V6}/`)) global = at;
    }
    return ll === null || global === null ? null : Math.max(ll, global);
  }

  /** Lines of FRR's bgpd.log that report a hold timer expiry, from `fromOffset` on. */
  async holdTimerExpiries(fromOffset = 0): Promise<string[]> {
    const log = readFileSync(join(this.frr.dir, 'bgpd.log'), 'utf8').slice(fromOffset);
    return log.split('\n').filter((l) => /hold timer expired/i.test(l));
  }

  /** Current length of FRR's bgpd.log (an offset for holdTimerExpiries). */
  bgpdLogOffset(): number {
    try {
      return readFileSync(join(this.frr.dir, 'bgpd.log'), 'utf8').length;
    } catch {
      return 0;
    }
  }

  /** Run a script from test/faults/agents in a namespace and parse the JSON line it prints last. */
  async agent<T>(ns: string, script: string, spec: object, timeoutMs: number): Promise<T> {
    const r = await nsRun(ns, process.execPath, ['--import', 'tsx', join(here, 'agents', script), JSON.stringify(spec)], { timeoutMs, allowFail: true });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`${script} (exit ${r.code}): ${r.stderr.slice(-2000)}${r.stdout.slice(-500)}`);
    }
  }

  /** Stop everything this lab started (herald with SIGKILL if it is still up; the rest by pid) and delete the namespaces. */
  async close(): Promise<void> {
    for (const h of this.heralds) h.kill();
    await this.lab.close();
  }
}
