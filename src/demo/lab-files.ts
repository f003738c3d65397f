/**
 * The files the demo writes into its lab: an nginx config per anycast host
 * (answering "hello from hostN" on the anycast address and on 127.0.0.1),
 * a `herald run` config per host (one peer, the router; one service, `www`,
 * gated by an http check against the local nginx), and the client program
 * that runs inside the client namespace. No RFC: this is the demo's set-up.
 */

/** Addresses and timers the demo uses (documentation ranges only). */
export const DEMO = {
  anycast: '198.51.100.80',
  routerAs: 65000,
  hostAs: 65011,
  intervalMs: 1000,
  rise: 2,
  fall: 2,
  hosts: 3,
} as const;

/** Render nginx.conf for one host: every request gets "hello from <name>". */
export function nginxConf(dir: string, name: string): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`).join('\n');
  return `# herald demo: nginx on ${name}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
  default_type text/plain;
  server {
    listen 127.0.0.1:80;
    listen ${DEMO.anycast}:80;
    location / { return 200 "hello from ${name}\\n"; }
  }
}
`;
}

/** Render herald.yaml for one host: peer the router, announce the anycast /32 while nginx answers. */
export function heraldConf(o: { name: string; routerId: string; routerAddress: string; dir: string }): string {
  return `# herald demo: ${o.name}
router_id: ${o.routerId}
asn: ${DEMO.hostAs}
listen: { address: "::", port: 179 }
api: { socket: ${o.dir}/herald.sock }
state_dir: ${o.dir}/state
peers:
  - { name: router, address: ${o.routerAddress}, asn: ${DEMO.routerAs}, families: [ipv4], hold_time: 9, connect_retry: 1s }
services:
  - name: www
    prefixes: [${DEMO.anycast}/32]
    checks:
      - http: { url: "http://127.0.0.1/", status: 200, body: "hello from" }
    interval: ${DEMO.intervalMs}ms
    rise: ${DEMO.rise}
    fall: ${DEMO.fall}
    jitter: 0s
drain: { period: 0s, message: "herald demo finished" }
`;
}

/** One client request as the client program reports it. */
export interface ClientResult {
  /** Send time, epoch ms. */
  at: number;
  ok: boolean;
  /** "hostN" from the response body. */
  who?: string;
  /** Local (source) port of the connection. */
  port?: number;
  err?: string;
}

/**
 * The client program (plain ESM for node, run inside the client namespace).
 * Argument: JSON {url, count, gapMs, timeoutMs}. It sends `count` requests
 * (0: until SIGTERM), each on a new connection (so a new source port, which
 * the router's L4 multipath hash sees), one every gapMs, and prints one JSON
 * line per request (ClientResult).
 */
export const CLIENT_JS = String.raw`
import http from 'node:http';
const o = JSON.parse(process.argv[2]);
let sent = 0, pending = 0, stopping = false;
const out = (r) => process.stdout.write(JSON.stringify(r) + '\n');
function request() {
  const at = Date.now();
  let done = false, port;
  pending++;
  const finish = (r) => {
    if (done) return;
    done = true; pending--;
    out({ at, port, ...r });
    if (stopping && pending === 0) process.exit(0);
  };
  const req = http.get(o.url, { agent: false, timeout: o.timeoutMs }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => {
      const who = /hello from (host\d+)/.exec(body);
      finish(res.statusCode === 200 && who ? { ok: true, who: who[1] } : { ok: false, err: 'status ' + res.statusCode });
    });
    res.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
  });
  req.on('socket', (s) => s.on('connect', () => (port = s.localPort)));
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => finish({ ok: false, err: e.code || e.message }));
}
const stop = () => {
  stopping = true;
  clearInterval(tick);
  if (pending === 0) process.exit(0);
  setTimeout(() => process.exit(0), o.timeoutMs + 200);
};
const tick = setInterval(() => {
  request();
  if (++sent === o.count) stop();
}, o.gapMs);
process.on('SIGTERM', stop);
`;

/** Parse the client program's output lines. */
export function parseClient(text: string): ClientResult[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ClientResult);
}

/** Count answers per host and failures, e.g. {who: {host1: 9, host2: 11}, failed: 0, ports: 30}. */
export function tally(rs: readonly ClientResult[]): { sent: number; who: Record<string, number>; failed: ClientResult[]; ports: number } {
  const who: Record<string, number> = {};
  for (const r of rs) if (r.ok && r.who) who[r.who] = (who[r.who] ?? 0) + 1;
  const ports = new Set(rs.map((r) => r.port).filter((p) => p !== undefined)).size;
  return { sent: rs.length, who, failed: rs.filter((r) => !r.ok), ports };
}

/** Render a tally as "host1 9, host2 11, host3 10". */
export function perHost(who: Record<string, number>): string {
  const names = Object.keys(who).sort();
  return names.length === 0 ? 'nobody' : names.map((n) => `${n} ${who[n]}`).join(', ');
}
