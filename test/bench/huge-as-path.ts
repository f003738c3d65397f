/**
 * The issue-12 crash repro at full size, against the real daemon: herald
 * runs as a child process (`herald run --config`) listening on 127.0.0.1 of
 * a network namespace of the bench's own,
 * and raw BGP clients (test/support/bgp-client.ts) play its peers. One peer
 * sends ~30,000 UPDATEs, each one /32 with a 16,340-ASN AS_PATH (65,533-octet
 * extended messages); before import safety this killed herald with
 * "JavaScript heap out of memory" after ~29k routes. A second peer holds a
 * session with one route throughout.
 *
 *   npx tsx test/bench/huge-as-path.ts [--routes=30000] [--mode=defaults|capped|unlimited]
 *
 *   defaults   import none, import_limits defaults (block)
 *   capped     import all, import_limits { max_as_path 20000, max_route_bytes 1MiB, max_bytes 64MiB, action restart }
 *   unlimited  import all, every cap lifted: the old behaviour (expect the heap to grow ~180 KB a route)
 *
 * Prints: routes sent, what the flooding peer got (NOTIFICATION or none),
 * herald's peak RSS (VmHWM) and RSS at the end, its peers' state and counts
 * from the control API, and whether herald and the other session survived.
 * Asserts nothing (a benchmark). Root: herald and the peers run in a network
 * namespace of the bench's own (common.ts inOwnNamespace).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { hugePathUpdate, KEEPALIVE, RawPeer } from '../support/bgp-client.js';
import { inOwnNamespace } from './common.js';

const arg = (n: string, d: string): string => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const ROUTES = Number(arg('routes', '30000'));
const MODE = arg('mode', 'defaults');
const PORT = 10179 + (process.pid % 1000);
const HUGE = 16_340;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const LIMITS: Record<string, string> = {
  defaults: '',
  capped: 'import: all, import_limits: { max_as_path: 20000, max_route_bytes: 1MiB, max_bytes: 64MiB, action: restart, restart_after: 1m }, ',
  unlimited: 'import: all, import_limits: { max_as_path: 1000000, max_route_bytes: 1GiB, max_bytes: 1024GiB }, ',
};

function status(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

function api(sock: string, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(JSON.parse(body) as unknown));
    });
    req.on('error', reject);
    req.end();
  });
}

const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const limits = LIMITS[MODE];
  if (limits === undefined) throw new Error(`--mode must be one of ${Object.keys(LIMITS).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'herald-huge-'));
  const sock = join(dir, 'herald.sock');
  writeFileSync(
    join(dir, 'herald.yaml'),
    `router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: ${PORT} }
api: { socket: ${sock} }
logging: { level: warn }
peers:
  - { name: flood, address: 127.0.0.2, asn: 65020, passive: true, ${limits}hold_time: 90 }
  - { name: good, address: 127.0.0.5, asn: 65050, passive: true, import: all }
static:
  - { prefix: 198.51.100.53/32 }
`,
  );
  const herald = spawn(process.execPath, [join(ROOT, 'src/bin/herald.mjs'), 'run', '--config', join(dir, 'herald.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  herald.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let exited: number | string | null = null;
  herald.on('exit', (code, sig) => (exited = code ?? sig));
  try {
    let good: RawPeer | undefined;
    for (let i = 0; i < 100 && !good; i++) {
      await new Promise((r) => setTimeout(r, 200));
      good = await RawPeer.connect('127.0.0.1', PORT, '127.0.0.5').catch(() => undefined);
    }
    if (!good) throw new Error('herald did not start listening');
    await good.establish(65050, '192.0.2.5');
    await good.send(hugePathUpdate(0xf0000000, '127.0.0.5', 65050, 3));
    const flood = await RawPeer.connect('127.0.0.1', PORT, '127.0.0.2');
    await flood.establish(65020, '192.0.2.2', { extendedMessage: true });
    // The raw peers keep their sessions alive themselves (hold time 90 s).
    const ka = setInterval(() => {
      void good.send(KEEPALIVE);
      void flood.send(KEEPALIVE);
    }, 20_000);
    const pid = herald.pid!;
    const base = status(pid);
    const t0 = performance.now();
    let sent = 0;
    for (; sent < ROUTES && !flood.closed && exited === null; sent++) {
      await flood.send(hugePathUpdate((0xf0000001 + sent) >>> 0, '127.0.0.2', 65020, HUGE));
      if (sent % 5000 === 4999) console.log(`  ${sent + 1} sent, herald rss ${mib(status(pid).rss)}`);
    }
    const sendMs = performance.now() - t0;
    // Let herald work through what is queued.
    for (let i = 0; i < 600 && exited === null; i++) {
      const ps = (await api(sock, '/v1/peers').catch(() => null)) as { name: string; counters: { updatesIn: number } }[] | null;
      const f = ps?.find((p) => p.name === 'flood');
      if (!f || f.counters.updatesIn >= sent || flood.closed) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 500));
    let end: { rss: number; hwm: number } | null = null;
    try {
      end = exited === null ? status(pid) : null;
    } catch {
      end = null; // gone between the check and the read
    }
    const peers = exited === null ? ((await api(sock, '/v1/peers').catch(() => [])) as Record<string, unknown>[]) : [];
    if (peers.length === 0) await new Promise((r) => setTimeout(r, 1_000));
    const pick = (n: string): Record<string, unknown> | undefined => peers.find((p) => p['name'] === n);
    const f = pick('flood');
    const g = pick('good');
    const note = flood.notification();
    console.log(
      JSON.stringify(
        {
          mode: MODE,
          routesSent: sent,
          asPathLength: HUGE,
          messageOctets: hugePathUpdate(0, '127.0.0.2', 65020, HUGE).length,
          sendSeconds: +(sendMs / 1000).toFixed(1),
          heraldAlive: exited === null && peers.length > 0,
          heraldExit: exited,
          heraldRssStart: mib(base.rss),
          heraldRssPeak: end ? mib(end.hwm) : 'n/a',
          heraldRssEnd: end ? mib(end.rss) : 'n/a',
          floodGot: note ? `NOTIFICATION ${note.code}/${note.subcode} data ${Buffer.from(note.data ?? []).toString('hex')}` : flood.closed ? 'closed' : 'nothing: session kept',
          flood: f && { state: f['state'], prefixesReceived: f['prefixesReceived'], receivedBytes: f['receivedBytes'], receiveLimit: f['receiveLimit'], counters: f['counters'] },
          good: g && { state: g['state'], prefixesReceived: g['prefixesReceived'], prefixesAnnounced: g['prefixesAnnounced'], goodGotNotification: good.notification() ?? null, goodClosed: good.closed },
          stderrTail: exited === null && peers.length > 0 ? undefined : stderr.slice(-600),
        },
        null,
        1,
      ),
    );
    clearInterval(ka);
    flood.close();
    good.close();
  } finally {
    if (exited === null) herald.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

await inOwnNamespace('test/bench/huge-as-path.ts', 'bench-huge', main);
