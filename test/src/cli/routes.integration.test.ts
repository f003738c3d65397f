// The `routes` CLI against a real `herald run` (child process in its own
// network namespace, so no BGP listener ever runs in the root namespace).
// A second herald in the same namespace is its BGP peer ("b", IPv4 only),
// and a passive peer "ghost" never comes up. The control API socket lives in
// a temp directory, reachable across namespaces. Checked: summary, peers,
// list, received, services, explain (announced / check failing with its
// output / drained / no established peer for the family / peer filter),
// check exit codes 0/1/2, drain --wait then undrain, reload with a broken
// config (refused, old state kept), and that no configured password shows
// up in any output or log line.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/index.js';
import type { ExplainState, PeerState, RouteState, ServiceState, SummaryState, ReceivedState } from '../../../src/state/index.js';
import { DaemonProcess } from '../../interop/support/daemon-process.js';

const root = path.resolve(__dirname, '../../..');
const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const PW_B = 'cli-test-Secr3t-b-9f2e';
const PW_GHOST = 'cli-test-Secr3t-ghost-71aa';

/** Everything any CLI run printed, for the password grep at the end. */
const transcript: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process with captured output. */
async function routes(socket: string, ...argv: string[]): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const code = await runCli(['--socket', socket, ...argv], { stdout: out, stderr: err, env: {} });
  await new Promise((r) => setImmediate(r));
  transcript.push(stdout, stderr);
  return { code, stdout, stderr };
}

async function routesJson<T>(socket: string, ...argv: string[]): Promise<T> {
  const r = await routes(socket, ...argv, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function configA(dir: string, flag: string): string {
  return `# routes CLI integration test: the daemon under test
router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: 179 }
api: { socket: ${dir}/a.sock, mode: "0660" }
state_dir: ${dir}/state-a
peers:
  - { name: b, address: 127.0.0.2, local_address: 127.0.0.1, asn: 65012, hold_time: 9, connect_retry: 1s, families: [ipv4], import: all, password: "${PW_B}" }
  - { name: ghost, address: 192.0.2.99, asn: 65099, passive: true, families: [ipv4, ipv6], password: "${PW_GHOST}" }
services:
  - name: dns
    prefixes: [198.51.100.53/32, "2001:db8::53/128"]
    checks:
      - exec: { command: [test, -e, ${flag}] }
    interval: 200ms
    rise: 1
    fall: 1
    jitter: 0s
  - name: web
    prefixes: [198.51.100.80/32]
    checks:
      - exec: { command: [sh, -c, "echo web-broken-output; exit 1"] }
    interval: 200ms
    rise: 1
    fall: 1
    jitter: 0s
static:
  - { prefix: 198.51.100.0/24, communities: ["65011:1"] }
  - { prefix: 198.51.100.1/32, peers: [ghost] }
drain: { period: 0s, message: "cli test" }
`;
}

function configB(dir: string): string {
  return `# routes CLI integration test: the BGP peer
router_id: 192.0.2.12
asn: 65012
listen: { address: 127.0.0.2, port: 179 }
api: { socket: ${dir}/b.sock }
state_dir: ${dir}/state-b
peers:
  - { name: a, address: 127.0.0.1, local_address: 127.0.0.2, asn: 65011, hold_time: 9, connect_retry: 1s, families: [ipv4], password: "${PW_B}" }
static:
  - { prefix: 203.0.113.0/24, communities: ["65012:7"] }
`;
}

describe.skipIf(!canNetns)('routes CLI against herald run in a namespace', () => {
  const ns = `hrcli${process.pid % 100000}`;
  let dir = '';
  let a: DaemonProcess;
  let b: DaemonProcess;
  let sockA = '';
  let sockB = '';
  let cfgA = '';
  let flag = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));
    fs.chmodSync(dir, 0o755);
    sockA = path.join(dir, 'a.sock');
    sockB = path.join(dir, 'b.sock');
    flag = path.join(dir, 'dns-ok');
    fs.writeFileSync(flag, '');
    cfgA = path.join(dir, 'a.yaml');
    fs.writeFileSync(cfgA, configA(dir, flag));
    fs.writeFileSync(path.join(dir, 'b.yaml'), configB(dir));
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    b = new DaemonProcess(ns, path.join(dir, 'b.yaml'), { name: 'b' });
    a = new DaemonProcess(ns, cfgA, { name: 'a' });
    await b.start();
    await a.start();
    await until('session a-b established and routes sent', async () => (await routes(sockA, 'check', '198.51.100.0/24')).code === 0);
    await until('service dns up', async () => (await routes(sockA, 'check', '198.51.100.53/32')).code === 0);
  }, 90_000);

  afterAll(async () => {
    if (process.env.ROUTES_TEST_DUMP === '1') console.log(transcript.filter(Boolean).join('\n----\n'));
    await a?.stop();
    await b?.stop();
    spawnSync('ip', ['netns', 'del', ns]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('summary: text and json', async () => {
    const t = await routes(sockA);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/herald AS65011 router-id 192\.0\.2\.11/);
    expect(t.stdout).toMatch(/sessions +1 established, 1 not established \(2 peers\)/);
    const s = await routesJson<SummaryState>(sockA);
    expect(s.version).toBe(1);
    expect(s.peers).toEqual({ total: 2, established: 1, down: 1, adminDown: 0 });
    expect(s.services.total).toBe(2);
    expect(s.services.up).toBe(1);
    expect(s.routes.announced).toBe(2); // 198.51.100.0/24 and 198.51.100.53/32 to b
    expect(s.routes.received).toBe(1);
  });

  it('peers: table and json (md5 is a boolean, never the key)', async () => {
    const t = await routes(sockA, 'peers');
    expect(t.stdout.split('\n')[0]).toMatch(/^PEER +ADDRESS +AS +STATE/);
    expect(t.stdout).toMatch(/\nb +127\.0\.0\.2 +65012 +Established/);
    expect(t.stdout).toMatch(/\nghost +192\.0\.2\.99 +65099 +(Idle|Active|Connect)/);
    const ps = await routesJson<PeerState[]>(sockA, 'peers');
    const pb = ps.find((p) => p.name === 'b')!;
    expect(pb.established).toBe(true);
    expect(pb.md5).toBe(true);
    expect(pb.families).toEqual(['ipv4']);
    expect(pb.prefixesAnnounced).toBe(2);
    expect(Object.keys(pb)).toEqual(expect.arrayContaining(['name', 'address', 'peerAs', 'state', 'counters', 'prefixesReceived', 'lastDown']));
  });

  it('list: filters by peer, service and family; json streams one array', async () => {
    const all = await routesJson<RouteState[]>(sockA, 'list');
    const key = (r: RouteState): string => `${r.peer} ${r.prefix} ${r.status}`;
    expect(all.map(key).sort()).toEqual(
      [
        'b 198.51.100.0/24 announced',
        'b 198.51.100.53/32 announced',
        'ghost 198.51.100.0/24 no-session',
        'ghost 198.51.100.1/32 no-session',
        'ghost 198.51.100.53/32 no-session',
        'ghost 2001:db8::53/128 no-session',
      ].sort(),
    );
    const st = all.find((r) => r.peer === 'b' && r.prefix === '198.51.100.0/24')!;
    expect(st).toMatchObject({ sources: ['static'], communities: ['65011:1'], nextHop: '127.0.0.1', reason: null, family: 'ipv4' });
    expect((await routesJson<RouteState[]>(sockA, 'list', '--peer', 'b')).length).toBe(2);
    expect((await routesJson<RouteState[]>(sockA, 'list', '--service', 'dns')).map((r) => r.prefix).sort()).toEqual(
      ['198.51.100.53/32', '198.51.100.53/32', '2001:db8::53/128'].sort(),
    );
    expect((await routesJson<RouteState[]>(sockA, 'list', '--family', 'ipv6')).map(key)).toEqual(['ghost 2001:db8::53/128 no-session']);
    const t = await routes(sockA, 'list', '--peer', 'b');
    expect(t.stdout).toMatch(/^PEER +PREFIX +STATUS +NEXT HOP +SOURCE/);
    expect(t.stdout).toMatch(/b +198\.51\.100\.53\/32 +announced +127\.0\.0\.1 +service:dns/);
    expect((await routes(sockA, 'list', '--peer', 'nope')).code).toBe(1);
    expect((await routes(sockA, 'list', '--family', 'ipx')).code).toBe(64);
  });

  it('received: what b sent us', async () => {
    const rs = await routesJson<ReceivedState[]>(sockA, 'received', 'b');
    expect(rs).toEqual([expect.objectContaining({ peer: 'b', prefix: '203.0.113.0/24', asPath: '65012', communities: ['65012:7'], nextHops: ['127.0.0.2'] })]);
    const one = await routes(sockA, 'received', 'b', '203.0.113.0/24');
    expect(one.stdout).toMatch(/203\.0\.113\.0\/24 +127\.0\.0\.2 +65012/);
    expect((await routesJson<ReceivedState[]>(sockA, 'received', 'b', '203.0.113.9/32')).length).toBe(0);
    const bad = await routes(sockA, 'received', 'nobody');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/no peer named 'nobody'; configured: b, ghost/);
  });

  it('services: health, checks and output', async () => {
    const ss = await routesJson<ServiceState[]>(sockA, 'services');
    const web = ss.find((s) => s.name === 'web')!;
    expect(web.health).toBe('down');
    expect(web.announcing).toBe(false);
    expect(web.checks[0]).toMatchObject({ ok: false, index: 0 });
    expect(web.checks[0]!.output).toContain('web-broken-output');
    expect(ss.find((s) => s.name === 'dns')).toMatchObject({ health: 'up', drain: null, announcing: true });
    const t = await routes(sockA, 'services');
    expect(t.stdout).toMatch(/\ndns +up +\S+ +- +yes +198\.51\.100\.53\/32 2001:db8::53\/128 +1\/1 ok/);
    expect(t.stdout).toMatch(/\nweb +down .* 0\/1 ok: /);
  });

  it('explain + check: announced', async () => {
    const x = await routesJson<ExplainState>(sockA, 'explain', '198.51.100.0/24');
    expect(x.announced).toBe(true);
    expect(x.reason).toMatch(/^announced to b/);
    expect(x.sources).toEqual([expect.objectContaining({ source: 'static', wants: true })]);
    expect(x.peers.find((p) => p.peer === 'b')).toMatchObject({ status: 'announced', shouldCarry: true, established: true });
    const t = await routes(sockA, 'explain', '198.51.100.0/24');
    expect(t.stdout).toMatch(/^198\.51\.100\.0\/24 \(ipv4\): announced/);
    const c = await routes(sockA, 'check', '198.51.100.0/24');
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^OK 198\.51\.100\.0\/24: announced to b/);
    // A bare address is the host route.
    expect((await routesJson<ExplainState>(sockA, 'explain', '198.51.100.53')).prefix).toBe('198.51.100.53/32');
  });

  it('explain + check: a failing check, with its output', async () => {
    const x = await routesJson<ExplainState>(sockA, 'explain', '198.51.100.80/32');
    expect(x.announced).toBe(false);
    expect(x.reason).toMatch(/service web is down: check 1 \(exec .*\) failed/);
    expect(x.sources[0]!.service!.checks[0]!.output).toContain('web-broken-output');
    const t = await routes(sockA, 'explain', '198.51.100.80/32');
    expect(t.stdout).toMatch(/NOT announced/);
    expect(t.stdout).toMatch(/\| web-broken-output/);
    const c = await routes(sockA, 'check', '198.51.100.80/32');
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/^NOT ANNOUNCED 198\.51\.100\.80\/32: service web is down/);
  });

  it('explain + check: no established peer for the family', async () => {
    const x = await routesJson<ExplainState>(sockA, 'explain', '2001:db8::53/128');
    expect(x.wanted).toBe(true);
    expect(x.announced).toBe(false);
    expect(x.reason).toMatch(/no established ipv6 session: ghost is/);
    expect(x.peers.find((p) => p.peer === 'b')).toMatchObject({ shouldCarry: false, status: 'excluded', reason: 'peer does not carry ipv6' });
    expect((await routes(sockA, 'check', '2001:db8::53/128')).code).toBe(1);
  });

  it('explain: peer filter', async () => {
    const x = await routesJson<ExplainState>(sockA, 'explain', '198.51.100.1/32');
    expect(x.peers.find((p) => p.peer === 'b')).toMatchObject({ status: 'excluded', reason: 'peer filter: only announced to ghost' });
    expect(x.announced).toBe(false);
    const t = await routes(sockA, 'explain', '198.51.100.1/32');
    expect(t.stdout).toMatch(/b +Established +no +excluded +- +peer filter: only announced to ghost/);
  });

  it('explain: a prefix nobody configured; a bad prefix is a usage error', async () => {
    const x = await routesJson<ExplainState>(sockA, 'explain', '203.0.113.77/32');
    expect(x).toMatchObject({ wanted: false, announced: false, sources: [] });
    expect(x.reason).toMatch(/no static route or service is configured/);
    const bad = await routes(sockA, 'check', 'not-a-prefix');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/expected a prefix like .*, got "not-a-prefix"/);
  });

  it('check exits 2 when the daemon is unreachable, with a hint (in-process and through bin/routes.cjs)', async () => {
    const r = await routes(path.join(dir, 'nothing.sock'), 'check', '198.51.100.0/24');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach .*nothing\.sock.*is herald running\?/);
    const bin = spawnSync(process.execPath, [path.join(root, 'src/bin/routes.cjs'), 'check', '198.51.100.0/24'], {
      env: { ...process.env, HERALD_SOCKET: path.join(dir, 'nothing.sock') },
      encoding: 'utf8',
    });
    expect(bin.status).toBe(2);
    const ok = spawnSync(process.execPath, [path.join(root, 'src/bin/routes.cjs'), 'check', '198.51.100.0/24', '--socket', sockA], { encoding: 'utf8' });
    transcript.push(ok.stdout, ok.stderr, bin.stdout, bin.stderr);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^OK /);
  });

  it('drain --wait returns after the peer has the withdrawal; undrain announces again', async () => {
    const d = await routes(sockA, 'drain', 'dns', '--wait');
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/drained dns: withdrawn/);
    // b's own API: the withdrawal has arrived (allow the UPDATE a moment to be read).
    await until('b to drop 198.51.100.53/32', async () => (await routesJson<ReceivedState[]>(sockB, 'received', 'a', '198.51.100.53/32')).length === 0, 5_000);
    const x = await routesJson<ExplainState>(sockA, 'explain', '198.51.100.53/32');
    expect(x.announced).toBe(false);
    expect(x.reason).toMatch(/service dns is drained \(withdrawn\)/);
    expect((await routes(sockA, 'check', '198.51.100.53/32')).code).toBe(1);
    expect((await routesJson<SummaryState>(sockA)).services.draining).toBe(1);
    const u = await routes(sockA, 'undrain', 'dns');
    expect(u.code).toBe(0);
    await until('dns announced again', async () => (await routes(sockA, 'check', '198.51.100.53/32')).code === 0, 10_000);
    expect((await routes(sockA, 'drain', 'nosuch')).code).toBe(1);
    expect((await routes(sockA, 'drain')).code).toBe(64);
  });

  it('watch: follows drain, undrain and health changes live', async () => {
    const ac = new AbortController();
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += String(c)));
    const watching = runCli(['--socket', sockA, 'watch', '--json'], { stdout: out, stderr: new PassThrough(), env: {}, signal: ac.signal });
    await until('hello', async () => text.includes('"hello"'), 5_000);
    await routes(sockA, 'drain', 'dns');
    fs.rmSync(flag);
    await until('dns down event', async () => text.includes('"to":"down"'), 10_000);
    await routes(sockA, 'undrain');
    fs.writeFileSync(flag, '');
    await until('dns up event', async () => text.includes('"to":"up"'), 10_000);
    ac.abort();
    expect(await watching).toBe(0);
    transcript.push(text);
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; services?: string[]; service?: string; to?: string });
    expect(events[0]!.type).toBe('hello');
    expect(events).toContainEqual(expect.objectContaining({ type: 'drain', services: ['dns'], phase: 'withdrawn' }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'undrain', services: ['dns'] }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'service', service: 'dns', to: 'down' }));
    await until('dns announced again', async () => (await routes(sockA, 'check', '198.51.100.53/32')).code === 0, 10_000);
  });

  it('a user without permission on the socket cannot reach the API (exit 2, says what to do)', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'src/bin/routes.cjs'), 'drain', '--all', '--socket', sockA], { encoding: 'utf8', uid: 65534, gid: 65534 });
    transcript.push(r.stdout, r.stderr);
    expect(r.stderr).toMatch(/permission denied on .*a\.sock: is your user in group herald\?/);
    expect(r.status).toBe(2);
  });

  it('reload: a broken config is refused and the old state kept; a good one applies', async () => {
    const good = fs.readFileSync(cfgA, 'utf8');
    fs.writeFileSync(cfgA, good.replace('asn: 65011', 'asn: not-a-number'));
    const r = await routes(sockA, 'reload');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/reload refused; herald keeps running the previous config/);
    expect(r.stderr).toMatch(/a\.yaml:\d+:\d+: asn/);
    const s = await routesJson<SummaryState>(sockA);
    expect(s.reloads.failed).toBe(1);
    expect(s.asn).toBe(65011);
    expect((await routes(sockA, 'check', '198.51.100.0/24')).code).toBe(0);
    fs.writeFileSync(cfgA, good);
    const ok = await routes(sockA, 'reload');
    expect(ok.code, ok.stderr).toBe(0);
    expect((await routesJson<SummaryState>(sockA)).reloads.ok).toBe(1);
  });

  it('no configured password appears in any output or log line', async () => {
    // Also the raw API responses for every read path.
    for (const p of ['peers', 'services', 'list']) transcript.push((await routes(sockA, p, '--json')).stdout);
    const logs = [...a.lines, ...b.lines].map((l) => JSON.stringify(l)).concat(a.other, b.other);
    const all = transcript.concat(logs).join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(PW_B);
    expect(all).not.toContain(PW_GHOST);
  });

  it('--json shapes carry exactly the documented keys (docs/api.md)', async () => {
    const keys = (o: object): string[] => Object.keys(o).sort();
    expect(keys(await routesJson<SummaryState>(sockA))).toEqual(['api', 'asn', 'configFile', 'engine', 'lxd', 'peers', 'reloads', 'routerId', 'routes', 'services', 'uptimeMs', 'version']);
    expect(keys((await routesJson<PeerState[]>(sockA, 'peers'))[0]!)).toEqual(
      [
        'address', 'adminDown', 'bfd', 'counters', 'description', 'instance', 'endOfRibReceived', 'established', 'families', 'heldDownMs', 'holdTime', 'keepaliveTime', 'lastConnectError', 'lastDown',
        'localAddress', 'localAs', 'md5', 'name', 'passive', 'peerAs', 'peerBgpId', 'peerHostname', 'prefixesAnnounced', 'prefixesPending',
        'prefixesReceived', 'receiveLimit', 'receivedBytes', 'state', 'uptimeMs',
      ].sort(),
    );
    expect(keys((await routesJson<RouteState[]>(sockA, 'list'))[0]!)).toEqual(
      ['communities', 'extendedCommunities', 'family', 'largeCommunities', 'med', 'nextHop', 'peer', 'prefix', 'prepend', 'reason', 'sources', 'status'].sort(),
    );
    expect(keys((await routesJson<ReceivedState[]>(sockA, 'received', 'b'))[0]!)).toEqual(
      ['asPath', 'communities', 'extendedCommunities', 'family', 'largeCommunities', 'localPref', 'med', 'nextHops', 'origin', 'pathId', 'peer', 'prefix'].sort(),
    );
    const sv = (await routesJson<ServiceState[]>(sockA, 'services'))[0]!;
    expect(keys(sv)).toEqual(['announcing', 'checks', 'description', 'drain', 'health', 'name', 'prefixes', 'since'].sort());
    expect(keys(sv.checks[0]!)).toEqual(['adminDown', 'at', 'check', 'detail', 'index', 'latencyMs', 'ok', 'output'].sort());
    const x = await routesJson<ExplainState>(sockA, 'explain', '198.51.100.53/32');
    expect(keys(x)).toEqual(['announced', 'family', 'peers', 'prefix', 'reason', 'sources', 'wanted', 'warnings'].sort());
    expect(keys(x.peers[0]!)).toEqual(['established', 'nextHop', 'peer', 'reason', 'shouldCarry', 'state', 'status'].sort());
    expect(keys(x.sources[0]!)).toEqual(['lxd', 'reason', 'service', 'source', 'wants'].sort());
    const c = await routes(sockA, 'check', '198.51.100.53/32', '--json');
    expect(keys(JSON.parse(c.stdout) as object)).toEqual(keys(x));
  });

  it('tables fit a narrow terminal and are coloured only on a TTY without NO_COLOR', async () => {
    const tty = async (env: Record<string, string>): Promise<string> => {
      const out = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
      let text = '';
      out.on('data', (c) => (text += String(c)));
      expect(await runCli(['--socket', sockA, 'list'], { stdout: out, stderr: new PassThrough(), env })).toBe(0);
      await new Promise((r) => setImmediate(r));
      transcript.push(text);
      return text;
    };
    const coloured = await tty({});
    expect(coloured).toContain('\x1b[32mannounced');
    const plainText = await tty({ NO_COLOR: '1' });
    expect(plainText).not.toContain('\x1b[');
    for (const l of plainText.trimEnd().split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    expect(plainText).toContain('…');
    expect(plainText).toMatch(/\nghost +2001:db8::53\/128 +no-session /);
    expect((await routes(sockA, 'list')).stdout).not.toContain('\x1b[');
  });

  it('the socket has the configured mode', () => {
    expect(fs.statSync(sockA).mode & 0o777).toBe(0o660);
  });
});
