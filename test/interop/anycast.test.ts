// Issue 3, Must show 3, the headline demo as a test: anycast DNS and HTTP
// behind a real router. FRR (bgpd + zebra, multipath, forwarding on) runs in
// a router namespace holding bridge br0; three host namespaces on the bridge
// each run nsd (example.org, answering `whoami TXT` with the host's name),
// nginx ("Welcome to hostN") and `herald run`, all announcing the same
// anycast 198.51.100.53/32 and 2001:db8:53::53/128 for service `dns` (dns
// check against 127.0.0.1) and 198.51.100.80/32 for `www` (http check). A
// client namespace hangs off the router with its default route through it.
// Asserted:
//   - FRR's kernel table holds a 3-way multipath route for each prefix;
//   - killing nsd on host1 removes only host1's next hop for the dns
//     prefixes (www keeps three) within fall × interval + 0.5 s, and
//     restarting nsd brings it back within rise × interval + 1 s (nsd's own
//     start-up included); both measured and printed;
//   - a client loop (20 DNS queries/s alternating IPv4/IPv6, 10 HTTP
//     requests/s, new source port each, so the router's L4 hash spreads them)
//     running throughout gets answers from all three hosts before, from the
//     two survivors while host1's nsd is down, and from all three after; its
//     failures are counted and printed, and only the convergence window (kill
//     → next hop gone + 0.5 s) may hold any.
// Health timing uses jitter 0s so the bound is exactly fall × interval.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessSync, constants, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Lab,
  bridgeTopology,
  labReady,
  nsRun,
  pointToPoint,
  sleep,
  startRouter,
  type BridgeTopology,
  type LabProcess,
  type Router,
} from './lab/index.js';
import { DaemonProcess } from './support/daemon-process.js';

const WHAT = 'anycast end to end';
const SERVERS: [path: string, pkg: string][] = [
  ['/usr/sbin/nsd', 'nsd'],
  ['/usr/sbin/nginx', 'nginx-light'],
];

/** nsd and nginx must be installed: with CI=true a missing one fails, otherwise the file skips loudly. */
function serversReady(): boolean {
  const missing = SERVERS.filter(([p]) => {
    try {
      accessSync(p, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  const msg = `${WHAT}: cannot run: ${missing.map(([p, pkg]) => `${p} missing: apt-get install ${pkg}`).join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: a missing daemon is a failure, not a skip)`);
  console.warn(`\n*** SKIPPING ${msg} ***\n`);
  return false;
}

const ready = labReady(['frr'], WHAT) && serversReady();

const ROUTER_AS = 65000;
const HOST_AS = 65011;
const DNS4 = '198.51.100.53';
const DNS6 = '2001:db8:53::53';
const WWW4 = '198.51.100.80';
const INTERVAL_MS = 1000;
const RISE = 2;
const FALL = 2;
/** The target: fall × interval, plus the probe and the route's way through BGP and zebra. */
const DOWN_TARGET_MS = FALL * INTERVAL_MS + 500;
/** Rise × interval, plus nsd's start-up and the route's way through BGP and zebra. */
const UP_TARGET_MS = RISE * INTERVAL_MS + 1000;
// Tests stay green on a busy machine: they assert twice the target and print
// the figure; the target itself is the failover benchmark's (issue 12).
const DOWN_BOUND_MS = 2 * DOWN_TARGET_MS;
const UP_BOUND_MS = 2 * UP_TARGET_MS;
const N = 3;

interface Host {
  i: number;
  name: string;
  ns: string;
  v4: string;
  v6: string;
  dir: string;
  nsd: LabProcess;
  herald: DaemonProcess;
}

function zone(name: string): string {
  return [
    '$ORIGIN example.org.',
    '$TTL 60',
    '@ IN SOA ns1.example.org. hostmaster.example.org. 2024010101 3600 900 604800 60',
    '@ IN NS ns1',
    `ns1 IN A ${DNS4}`,
    `ns1 IN AAAA ${DNS6}`,
    `whoami IN TXT "${name}"`,
    '',
  ].join('\n');
}

function nsdConf(dir: string): string {
  return `server:
  ip-address: 127.0.0.1
  ip-address: ${DNS4}
  ip-address: ${DNS6}
  port: 53
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  logfile: "${dir}/nsd.log"
  server-count: 1
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: example.org
  zonefile: example.org.zone
`;
}

function nginxConf(dir: string): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`).join('\n');
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
  default_type text/plain;
  server {
    listen 127.0.0.1:80;
    listen ${WWW4}:80;
    root ${dir}/www;
  }
}
`;
}

function heraldConf(h: { v4: string; dir: string }, routerV4: string, routerV6: string): string {
  return `# herald anycast end-to-end test host
router_id: ${h.v4}
asn: ${HOST_AS}
listen: { address: "::", port: 179 }
api: { socket: ${h.dir}/herald.sock }
peers:
  - { name: r4, address: ${routerV4}, asn: ${ROUTER_AS}, families: [ipv4], hold_time: 9, connect_retry: 1s }
  - { name: r6, address: "${routerV6}", asn: ${ROUTER_AS}, families: [ipv6], hold_time: 9, connect_retry: 1s }
services:
  - name: dns
    prefixes: [${DNS4}/32, ${DNS6}/128]
    checks:
      - dns: { server: 127.0.0.1, query: example.org, type: SOA }
    interval: ${INTERVAL_MS}ms
    rise: ${RISE}
    fall: ${FALL}
    jitter: 0s
    communities: ["${HOST_AS}:53"]
  - name: www
    prefixes: [${WWW4}/32]
    checks:
      - http: { url: "http://127.0.0.1/index.txt", status: 200, body: "Welcome to" }
    interval: ${INTERVAL_MS}ms
    rise: ${RISE}
    fall: ${FALL}
    jitter: 0s
    communities: ["${HOST_AS}:80"]
drain: { period: 0s, message: "anycast test done" }
`;
}

// The client loop, run by node inside the client namespace. One JSON line
// per query or request: {kind, at (send time, epoch ms), ok, who, err}. Each
// DNS query uses a fresh connected UDP socket (a new source port, and an
// ICMP port unreachable surfaces as ECONNREFUSED); each HTTP request a fresh
// connection. It ends by itself after maxMs, or on SIGTERM.
const CLIENT_JS = String.raw`
import dgram from 'node:dgram';
import http from 'node:http';
const o = JSON.parse(process.argv[2]);
const out = (r) => process.stdout.write(JSON.stringify(r) + '\n');
function query(id) {
  const labels = 'whoami.example.org'.split('.');
  const q = Buffer.alloc(12 + labels.reduce((n, l) => n + 1 + l.length, 1) + 4);
  q.writeUInt16BE(id, 0); q.writeUInt16BE(1, 4);
  let p = 12;
  for (const l of labels) { q[p++] = l.length; p += q.write(l, p, 'ascii'); }
  q[p++] = 0; q.writeUInt16BE(16, p); q.writeUInt16BE(1, p + 2);
  return q;
}
function dns(kind, addr) {
  const at = Date.now();
  const id = Math.floor(Math.random() * 65536);
  const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
  let done = false;
  const finish = (r) => { if (done) return; done = true; clearTimeout(t); try { s.close(); } catch {} out({ kind, at, ms: Date.now() - at, ...r }); };
  const t = setTimeout(() => finish({ ok: false, err: 'timeout' }), o.timeoutMs);
  s.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
  s.on('message', (m) => {
    if (m.length < 12 || m.readUInt16BE(0) !== id) return;
    const rcode = m[3] & 15, an = m.readUInt16BE(6);
    const who = /host\d/.exec(m.toString('latin1'));
    finish(rcode === 0 && an > 0 && who ? { ok: true, who: who[0] } : { ok: false, err: 'rcode ' + rcode + ', ' + an + ' answers' });
  });
  s.connect(53, addr, () => s.send(query(id)));
}
function web(kind, addr) {
  const at = Date.now();
  let done = false;
  const finish = (r) => { if (done) return; done = true; out({ kind, at, ms: Date.now() - at, ...r }); };
  const req = http.get({ host: addr, port: 80, path: '/index.txt', agent: false, timeout: o.timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => {
      const who = /Welcome to (host\d)/.exec(body);
      finish(res.statusCode === 200 && who ? { ok: true, who: who[1] } : { ok: false, err: 'status ' + res.statusCode });
    });
    res.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
  });
  req.on('timeout', () => { req.destroy(new Error('timeout')); });
  req.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
}
let n = 0;
const tick = setInterval(() => {
  dns(n % 2 === 0 ? 'dns4' : 'dns6', n % 2 === 0 ? o.dns4 : o.dns6);
  if (n % 2 === 0) web('http', o.www);
  n++;
}, 1000 / o.dnsRate);
const stop = () => { clearInterval(tick); setTimeout(() => process.exit(0), o.timeoutMs + 100); };
setTimeout(stop, o.maxMs);
process.on('SIGTERM', stop);
`;

interface ClientResult {
  kind: 'dns4' | 'dns6' | 'http';
  at: number;
  ms: number;
  ok: boolean;
  who?: string;
  err?: string;
}

/** Routes zebra installed for one destination in the router namespace: the next hops ([] when none). */
async function vias(ns: string, dest: string): Promise<string[]> {
  const res = await nsRun(ns, 'ip', [dest.includes(':') ? '-6' : '-4', 'route', 'show', dest]);
  return [...res.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort();
}

describe.skipIf(!ready)('anycast: three hosts with nsd, nginx and herald behind FRR; a client sees answers throughout', () => {
  const lab = new Lab();
  let topo: BridgeTopology;
  let frr: Router;
  let client = '';
  const hosts: Host[] = [];

  const startNsd = (h: { ns: string; dir: string; name: string }): LabProcess =>
    lab.spawn(h.ns, `nsd-${h.name}`, '/usr/sbin/nsd', ['-d', '-c', join(h.dir, 'nsd', 'nsd.conf')], { logFile: join(h.dir, 'nsd.out') });

  /** Poll dns4, dns6 and www next hops every 5 ms until done holds for the dns pair; ms since t0 per family. */
  async function dnsUntil(t0: number, want: string[][], boundMs: number): Promise<{ v4: number; v6: number; last: Record<string, string[]> }> {
    const at: { v4?: number; v6?: number } = {};
    const last: Record<string, string[]> = {};
    const [w4, w6] = want.map((w) => [...w].sort().join(' '));
    while (Date.now() - t0 < boundMs + 5_000 && (at.v4 === undefined || at.v6 === undefined)) {
      const [r4, r6] = await Promise.all([vias(topo.router, DNS4), vias(topo.router, DNS6)]);
      const now = Date.now();
      last.v4 = r4;
      last.v6 = r6;
      if (at.v4 === undefined && r4.join(' ') === w4) at.v4 = now - t0;
      if (at.v6 === undefined && r6.join(' ') === w6) at.v6 = now - t0;
      await sleep(5);
    }
    return { v4: at.v4 ?? Infinity, v6: at.v6 ?? Infinity, last };
  }

  beforeAll(async () => {
    topo = await bridgeTopology(lab, N, { roles: ['host1', 'host2', 'host3'] });
    await lab.enableForwarding(topo.router);
    client = await lab.addNamespace('client');
    const link = await pointToPoint(lab, topo.router, client, { index: 0, ifA: 'cl0', ifB: 'eth0', v4Net: '203.0.113' });
    await lab.ip(client, ['-4', 'route', 'add', 'default', 'via', link.aV4]);
    await lab.ip(client, ['-6', 'route', 'add', 'default', 'via', link.aV6]);

    frr = await startRouter(lab, 'frr', {
      name: 'anycast-upstream',
      ns: topo.router,
      asn: ROUTER_AS,
      routerId: topo.routerV4,
      peers: topo.spokes.flatMap((s) => [
        { address: s.v4, asn: HOST_AS, passive: true, families: ['ipv4' as const], holdTime: 9 },
        { address: s.v6, asn: HOST_AS, passive: true, families: ['ipv6' as const], holdTime: 9 },
      ]),
    });

    for (const [k, s] of topo.spokes.entries()) {
      const name = `host${k + 1}`;
      const dir = await lab.tempDir(`anycast-${name}`);
      chmodSync(dir, 0o755); // nginx workers run as nobody
      for (const a of [`${DNS4}/32`, `${WWW4}/32`, `${DNS6}/128`]) await lab.addAddress(s.ns, 'lo', a);
      await lab.ip(s.ns, ['-4', 'route', 'add', 'default', 'via', topo.routerV4]);
      await lab.ip(s.ns, ['-6', 'route', 'add', 'default', 'via', topo.routerV6]);
      mkdirSync(join(dir, 'nsd'));
      writeFileSync(join(dir, 'nsd', 'example.org.zone'), zone(name));
      writeFileSync(join(dir, 'nsd', 'nsd.conf'), nsdConf(join(dir, 'nsd')));
      mkdirSync(join(dir, 'www'));
      mkdirSync(join(dir, 'tmp'));
      writeFileSync(join(dir, 'www', 'index.txt'), `Welcome to ${name}\n`);
      writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir));
      writeFileSync(join(dir, 'herald.yaml'), heraldConf({ v4: s.v4, dir }, topo.routerV4, topo.routerV6));
      const nsd = startNsd({ ns: s.ns, dir, name });
      lab.spawn(s.ns, `nginx-${name}`, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { logFile: join(dir, 'nginx.out') });
      const herald = new DaemonProcess(s.ns, join(dir, 'herald.yaml'), { name: `herald-${name}` });
      hosts.push({ i: k, name, ns: s.ns, v4: s.v4, v6: s.v6, dir, nsd, herald });
    }
    await Promise.all(hosts.map((h) => h.herald.start()));
    // Every host proves both services up (rise) and announces them.
    const upLine = (svc: string) => (l: { msg: string; service?: unknown; to?: unknown }) => l.msg === 'service health changed' && l.service === svc && l.to === 'up';
    await Promise.all(hosts.flatMap((h) => [h.herald.waitLog(upLine('dns'), 30_000), h.herald.waitLog(upLine('www'), 30_000)]));
  });

  afterAll(async () => {
    for (const h of hosts) h.herald.kill();
    await lab.close();
  });

  it('installs a 3-way multipath route for the dns /32 and /128 and the www /32', async () => {
    const all4 = hosts.map((h) => h.v4);
    const all6 = hosts.map((h) => h.v6);
    const t = await dnsUntil(Date.now(), [all4, all6], 20_000);
    let www: string[] = [];
    for (const until = Date.now() + 20_000; Date.now() < until; await sleep(20)) {
      www = await vias(topo.router, WWW4);
      if (www.length === N) break;
    }
    const text = (await nsRun(topo.router, 'ip', ['-4', 'route', 'show', DNS4])).stdout + (await nsRun(topo.router, 'ip', ['-6', 'route', 'show', DNS6])).stdout;
    console.log(`anycast: kernel routes in the router namespace\n${text}www via ${www.join(', ')}`);
    expect(t.last.v4).toEqual([...all4].sort());
    expect(t.last.v6).toEqual([...all6].sort());
    expect(text).toMatch(/proto bgp/);
    expect(text.match(/^\s*nexthop via /gm)).toHaveLength(2 * N);
    expect(www).toEqual([...all4].sort());
    // FRR holds each host's path with the service's community.
    const routes = (await frr.routes()).filter((r) => r.prefix === `${DNS4}/32`);
    expect(routes.map((r) => r.peer).sort()).toEqual([...all4].sort());
    for (const r of routes) expect(r.communities).toEqual([`${HOST_AS}:53`]);
  });

  it('a host whose nsd stops loses only its dns next hop within fall × interval + 0.5 s and regains it after rise × interval; the client is answered throughout', async () => {
    const [h1, h2, h3] = hosts as [Host, Host, Host];
    const all4 = hosts.map((h) => h.v4);
    const all6 = hosts.map((h) => h.v6);
    // A real resolver tool sees the anycast address first (when dig is installed).
    const dig = await nsRun(client, 'dig', ['+short', '+time=1', '+tries=2', `@${DNS4}`, 'whoami.example.org', 'TXT'], { allowFail: true }).catch(() => null);
    if (dig && dig.code === 0) {
      console.log(`anycast: dig @${DNS4} whoami.example.org TXT from the client → ${dig.stdout.trim()}`);
      expect(dig.stdout.trim()).toMatch(/^"host[123]"$/);
    }

    const cdir = await lab.tempDir('anycast-client');
    writeFileSync(join(cdir, 'client.mjs'), CLIENT_JS);
    const out = join(cdir, 'client.jsonl');
    const loop = lab.spawn(client, 'anycast-client', process.execPath, [join(cdir, 'client.mjs'), JSON.stringify({ dns4: DNS4, dns6: DNS6, www: WWW4, dnsRate: 20, timeoutMs: 800, maxMs: 40_000 })], {
      logFile: out,
    });
    await sleep(2_500);

    // Kill nsd on host1 (its pid and descendants, nothing else).
    const tKill = Date.now();
    await h1.nsd.stop();
    const gone = await dnsUntil(tKill, [[h2.v4, h3.v4], [h2.v6, h3.v6]], DOWN_BOUND_MS);
    const tGone = tKill + Math.max(gone.v4, gone.v6);
    const wwwDuring = await vias(topo.router, WWW4);
    const why = await h1.herald.waitLog((l) => l.msg === 'service health changed' && l.service === 'dns' && l.to === 'down', 5_000);
    // Long enough that ~40 HTTP requests land in the "down" phase: with three
    // equal ECMP next hops the chance host1 gets none of them is (2/3)^40.
    // (2 s here once gave 15 requests and none hashed to host1.)
    await sleep(4_000);

    // Restart it.
    const tStart = Date.now();
    h1.nsd = startNsd(h1);
    const back = await dnsUntil(tStart, [all4, all6], UP_BOUND_MS);
    await sleep(2_500);
    await loop.stop();

    const results = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ClientResult);
    // A query sent just before the kill may be the one nsd never answers.
    const inWindow = (r: ClientResult): boolean => r.at >= tKill - 1000 && r.at <= tGone + 500;
    const phase = (r: ClientResult): 'before' | 'window' | 'down' | 'after' =>
      r.at < tKill - 1000 ? 'before' : inWindow(r) ? 'window' : r.at < tStart ? 'down' : 'after';
    const table: Record<string, Record<string, { sent: number; failed: number; who: Record<string, number> }>> = {};
    for (const r of results) {
      const row = ((table[r.kind] ??= {})[phase(r)] ??= { sent: 0, failed: 0, who: {} });
      row.sent++;
      if (!r.ok) row.failed++;
      else row.who[r.who!] = (row.who[r.who!] ?? 0) + 1;
    }
    const failures = results.filter((r) => !r.ok);
    console.log(
      `anycast: nsd on host1 killed → its dns next hop gone after v4 ${gone.v4} ms, v6 ${gone.v6} ms (target ${DOWN_TARGET_MS} ms = ${FALL} × ${INTERVAL_MS} + 500, bound ${DOWN_BOUND_MS}); ` +
        `nsd restarted → back after v4 ${back.v4} ms, v6 ${back.v6} ms (target ${UP_TARGET_MS} ms = ${RISE} × ${INTERVAL_MS} + 1000, bound ${UP_BOUND_MS})\n` +
        `anycast: client results by phase (window = kill − 1 s … next hop gone + 0.5 s): ${JSON.stringify(table)}\n` +
        `anycast: ${failures.length} failures of ${results.length}: ${JSON.stringify(failures.map((f) => ({ kind: f.kind, t: f.at - tKill, err: f.err })))}`,
    );
    expect(String(why.reason)).toMatch(/2 failing rounds in a row: DNS example\.org SOA @127\.0\.0\.1:53\/udp/);

    // Only host1's dns next hop went, in both families, within the bound; www kept all three.
    expect(gone.last.v4).toEqual([h2.v4, h3.v4].sort());
    expect(gone.last.v6).toEqual([h2.v6, h3.v6].sort());
    expect(gone.v4).toBeLessThanOrEqual(DOWN_BOUND_MS);
    expect(gone.v6).toBeLessThanOrEqual(DOWN_BOUND_MS);
    expect(wwwDuring).toEqual([...all4].sort());
    expect(back.last.v4).toEqual([...all4].sort());
    expect(back.last.v6).toEqual([...all6].sort());
    expect(back.v4).toBeLessThanOrEqual(UP_BOUND_MS);
    expect(back.v6).toBeLessThanOrEqual(UP_BOUND_MS);

    // The client loop ran throughout at its rate and was answered.
    const dnsSent = results.filter((r) => r.kind !== 'http').length;
    expect(dnsSent).toBeGreaterThan(((Date.now() - tKill) / 1000) * 10);
    for (const kind of ['dns4', 'dns6', 'http'] as const) {
      const t = table[kind]!;
      // Answers from all three before and after, from the two survivors while host1's nsd was down.
      expect(Object.keys(t.before!.who).sort(), `${kind} before`).toEqual(['host1', 'host2', 'host3']);
      expect(Object.keys(t.after!.who).sort(), `${kind} after`).toEqual(['host1', 'host2', 'host3']);
      if (kind !== 'http') expect(Object.keys(t.down!.who).sort(), `${kind} while down`).toEqual(['host2', 'host3']);
      else expect(Object.keys(t.down!.who).sort(), 'http while nsd down').toEqual(['host1', 'host2', 'host3']);
      // Failures only inside the convergence window, and only DNS ones.
      for (const p of ['before', 'down', 'after'] as const) expect(t[p]!.failed, `${kind} failures ${p}`).toBe(0);
    }
    expect(table.http!.window?.failed ?? 0, 'http failures in the window').toBe(0);
    // In the window, at most the queries the dead host could have received.
    const windowDns = failures.filter((f) => f.kind !== 'http');
    expect(windowDns.length).toBeLessThanOrEqual(Math.ceil(((tGone + 500 - (tKill - 1000)) / 1000) * 20));
  });
});
