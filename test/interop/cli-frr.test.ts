// Issue 5, Must show 1 and 2: the `routes` CLI (the real binary,
// `node src/bin/routes.cjs --socket S …`) against `herald run` in a
// namespace whose BGP peer is a real FRR in another namespace.
//
//   [herald ns] eth0 192.0.2.1/30 ──── 192.0.2.2/30 eth0 [frr ns]
//   herald AS65011: peers frr (ipv4) and ghost (passive, ipv4+ipv6, never up)
//   FRR AS65000 originates 203.0.113.0/24 (community 65000:7)
//
// Every command's `--json` output is normalised (times, uptimes, counters,
// latencies, the lab's temp dir and addresses, the state of a session that
// is not up) and compared with a golden file under test/interop/golden/:
// that pins the documented SHAPE (docs/api.md) without pinning what moves.
// Live values are asserted beside it: FRR holds herald's routes with
// herald's next hop and community, herald's received list holds FRR's route
// with FRR's next hop, and `drain --wait` has returned only once FRR no
// longer has the route. `explain` is checked for each reason: announced,
// check failing (with its output), drained, no established peer for the
// family, peer filter; `check` exits 0 / 1 / 2. `routes peer frr down`
// sends Cease/Administrative Shutdown with its RFC 9003 text, FRR loses the
// routes and stays down while it keeps dialling (connect timer 1 s); `up`
// brings session and routes back; `reset` is an Administrative Reset FRR
// sees; `lookup` finds own and received longest matches.
//
//   UPDATE_GOLDEN=1 npx vitest run --project interop test/interop/cli-frr.test.ts
// rewrites the golden files (review the diff before committing).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExplainState, LookupState, PeerState, ReceivedState, RouteState, ServiceState, SummaryState } from '../../src/state/index.js';
import { Lab, labReady, pointToPoint, startRouter, waitFor, type ReceivedRoute, type Router } from './lab/index.js';
import type { FrrRouter } from './lab/frr.js';
import { DaemonProcess } from './support/daemon-process.js';

const ready = labReady(['frr'], 'routes CLI against FRR');

const here = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(here, '../..');
const ROUTES_BIN = join(ROOT, 'src/bin/routes.cjs');
const GOLDEN_DIR = join(here, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const HERALD_AS = 65011;
const FRR_AS = 65000;
const GHOST = '203.0.113.99';
const STATIC = '198.51.100.0/24';
const FILTERED = '198.51.100.1/32';
const DNS4 = '198.51.100.53/32';
const DNS6 = '2001:db8::53/128';
const WEB = '198.51.100.80/32';
const FROM_FRR = '203.0.113.0/24';
/**
 * What herald's Adj-RIB-In holds from FRR: FRR's own route, plus herald's two
 * routes reflected back (FRR does no sender-side loop detection by default;
 * they carry AS 65011 in their path, so herald keeps them in the Adj-RIB-In,
 * RFC 4271 §3.2 "unprocessed", and never uses them).
 */
const RECEIVED = 3;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the real CLI binary with a socket. */
function routes(socket: string, ...argv: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [ROUTES_BIN, '--socket', socket, ...argv], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      res({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------- normalising

/** Keys whose values move from run to run; replaced by a placeholder naming their JSON type. */
const VOLATILE = new Set(['uptimeMs', 'at', 'since', 'latencyMs', 'configFile', 'receivedBytes', 'timerLateness']);
/** Keys that are null or not depending on timing (a connect attempt before FRR listened); their shape is unit-tested elsewhere. */
const MAYBE = new Set(['lastDown', 'lastConnectError']);
const DOWN_STATES = /\b(Idle|Connect|Active|OpenSent|OpenConfirm)\b/g;

interface Subst {
  /** Literal text (temp dir, lab addresses) → placeholder. */
  text: [string, string][];
}

const typeTag = (v: unknown): string => (v === null ? '<null>' : Array.isArray(v) ? '<array>' : `<${typeof v}>`);

/** Replace what moves with placeholders, keep every key and every stable value. */
function normalise(v: unknown, s: Subst, key = ''): unknown {
  if (VOLATILE.has(key)) return `<volatile ${typeTag(v)}>`;
  if (MAYBE.has(key)) return '<null or object>';
  if (key === 'counters' && v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).map((k) => [k, '<count>']));
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, s));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x, s, k)]));
  if (typeof v === 'string') {
    let t = v;
    for (const [from, to] of s.text) t = t.split(from).join(to);
    return t.replace(DOWN_STATES, '<not-established>');
  }
  return v;
}

/** Sort a route list into a stable order (peer, prefix) before comparing. */
const byPeerPrefix = (a: { peer: string; prefix: string }, b: { peer: string; prefix: string }): number =>
  a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;

/** Compare normalised JSON with golden/<name>.json (or write it under UPDATE_GOLDEN=1). */
function golden(name: string, value: unknown): void {
  const file = join(GOLDEN_DIR, `${name}.json`);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`no golden file ${file}; run with UPDATE_GOLDEN=1 to create it`);
  expect(text, `${name}: --json shape differs from ${file} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------- config

function heraldConfig(dir: string, frr: string, flag: string): string {
  return `# routes CLI against FRR: the daemon under test
router_id: 192.0.2.11
asn: ${HERALD_AS}
listen: { address: "::", port: 179 }
api: { socket: ${dir}/herald.sock, mode: "0660" }
state_dir: ${dir}/state
peers:
  - { name: frr, address: ${frr}, asn: ${FRR_AS}, hold_time: 9, connect_retry: 1s, families: [ipv4], import: all }
  - { name: ghost, address: ${GHOST}, asn: 65099, passive: true, families: [ipv4, ipv6] }
services:
  - name: dns
    prefixes: [${DNS4}, "${DNS6}"]
    checks:
      - exec: { command: [test, -e, ${flag}] }
    # The flag is never removed: dns must stay up, even when a loaded machine
    # is slow to spawn one probe (timeout 1 s, three misses before down).
    interval: 1s
    rise: 1
    fall: 3
    jitter: 0s
    communities: ["${HERALD_AS}:53"]
  - name: web
    prefixes: [${WEB}]
    checks:
      - exec: { command: [sh, -c, "echo web-broken-output; exit 1"] }
    interval: 200ms
    rise: 1
    fall: 1
    jitter: 0s
static:
  - { prefix: ${STATIC}, communities: ["${HERALD_AS}:1"] }
  - { prefix: ${FILTERED}, peers: [ghost] }
drain: { period: 0s, message: "cli-frr test" }
`;
}

describe.skipIf(!ready)('routes CLI against herald run with a real FRR peer', () => {
  const lab = new Lab();
  let frr: FrrRouter;
  let herald: DaemonProcess;
  let sock = '';
  let dir = '';
  let heraldV4 = '';
  let frrV4 = '';
  let subst: Subst;

  /** Run a command with --json, expect exit `code`, return the parsed output. */
  async function json<T>(code: number, ...argv: string[]): Promise<T> {
    const r = await routes(sock, ...argv, '--json');
    expect(r.code, `routes ${argv.join(' ')}: ${r.stderr}`).toBe(code);
    return JSON.parse(r.stdout) as T;
  }

  const norm = (v: unknown): unknown => normalise(v, subst);

  /** FRR's path for a prefix from herald (undefined when FRR has none). */
  async function frrRoute(prefix: string): Promise<ReceivedRoute | undefined> {
    return (await frr.routes()).find((r) => r.prefix === prefix && r.peer === heraldV4);
  }

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const rns = await lab.addNamespace('frr');
    const link = await pointToPoint(lab, hns, rns);
    heraldV4 = link.aV4;
    frrV4 = link.bV4;
    frr = (await startRouter(lab, 'frr', {
      name: 'upstream',
      ns: rns,
      asn: FRR_AS,
      routerId: frrV4,
      peers: [{ address: heraldV4, asn: HERALD_AS, families: ['ipv4'], holdTime: 9 }],
      announce: [{ prefix: FROM_FRR, communities: [`${FRR_AS}:7`] }],
    })) as Router as FrrRouter;

    dir = await lab.tempDir('cli-frr');
    chmodSync(dir, 0o755);
    sock = join(dir, 'herald.sock');
    const flag = join(dir, 'dns-ok');
    writeFileSync(flag, '');
    const cfg = join(dir, 'herald.yaml');
    writeFileSync(cfg, heraldConfig(dir, frrV4, flag));
    subst = {
      text: [
        [dir, '<dir>'],
        [heraldV4, '<herald-v4>'],
        [frrV4, '<frr-v4>'],
      ],
    };
    herald = new DaemonProcess(hns, cfg, { name: 'herald' });
    await herald.start();
    await frr.waitEstablished(heraldV4, 30_000);
    // Converged: FRR has herald's routes, herald has FRR's, dns is up, nothing pending.
    let last = '';
    await waitFor(
      async () => {
        const s = await routes(sock, '--json');
        last = `${s.code} ${s.stdout} ${s.stderr}`;
        if (s.code !== 0) return undefined;
        const j = JSON.parse(s.stdout) as SummaryState;
        const ok = j.routes.announced === 2 && j.routes.received === RECEIVED && j.routes.pending === 0 && j.services.up === 1;
        return ok && (await frrRoute(DNS4)) !== undefined ? true : undefined;
      },
      30_000,
      async () => `herald did not converge with FRR: last summary ${last}\nFRR routes: ${JSON.stringify(await frr.routes())}\n${herald.tail(15)}`,
      100,
    );
  });

  afterAll(async () => {
    await herald?.stop();
    await lab.close();
  });

  it('summary', async () => {
    const s = await json<SummaryState>(0);
    expect(s).toMatchObject({
      asn: HERALD_AS,
      peers: { total: 2, established: 1, down: 1 },
      routes: { announced: 2, pending: 0, received: RECEIVED },
      services: { total: 2, up: 1, down: 1, maintenance: 0, draining: 0 },
    });
    expect(s.configFile).toBe(join(dir, 'herald.yaml'));
    golden('summary', norm(s));
    const t = await routes(sock);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/sessions +1 established, 1 not established \(2 peers\)/);
  });

  it('peers: FRR is Established with its router id; counters move', async () => {
    const ps = await json<PeerState[]>(0, 'peers');
    const p = ps.find((x) => x.name === 'frr')!;
    expect(p).toMatchObject({ state: 'Established', address: frrV4, peerAs: FRR_AS, peerBgpId: frrV4, families: ['ipv4'], md5: false });
    expect(p.prefixesReceived).toBe(RECEIVED);
    expect(p.prefixesAnnounced).toBe(2);
    expect(p.counters.updatesIn).toBeGreaterThanOrEqual(1);
    expect(p.counters.messagesOut).toBeGreaterThanOrEqual(2);
    expect(p.uptimeMs).toBeGreaterThan(0);
    expect(ps.find((x) => x.name === 'ghost')!.established).toBe(false);
    golden('peers', norm(ps));
    const t = await routes(sock, 'peers');
    expect(t.stdout).toMatch(new RegExp(`\\nfrr +${frrV4.replace(/\./g, '\\.')} +${FRR_AS} +Established`));
  });

  it('list (all, --peer, --service, --family): FRR holds exactly what herald says it announced', async () => {
    const all = await json<RouteState[]>(0, 'list');
    const mine = all.filter((r) => r.peer === 'frr');
    expect(mine.map((r) => `${r.prefix} ${r.status} ${r.nextHop}`).sort()).toEqual([`${DNS4} announced ${heraldV4}`, `${STATIC} announced ${heraldV4}`].sort());
    for (const r of mine) {
      const f = await frrRoute(r.prefix);
      expect(f, `FRR has ${r.prefix}`).toMatchObject({ nextHop: heraldV4, asPath: [HERALD_AS], communities: r.communities });
    }
    expect(await frrRoute(WEB)).toBeUndefined();
    expect(await frrRoute(FILTERED)).toBeUndefined();
    golden('list', norm([...all].sort(byPeerPrefix)));
    golden('list-peer-frr', norm((await json<RouteState[]>(0, 'list', '--peer', 'frr')).sort(byPeerPrefix)));
    golden('list-service-dns', norm((await json<RouteState[]>(0, 'list', '--service', 'dns')).sort(byPeerPrefix)));
    golden('list-family-ipv6', norm((await json<RouteState[]>(0, 'list', '--family', 'ipv6')).sort(byPeerPrefix)));
    const bad = await routes(sock, 'list', '--peer', 'nope', '--json');
    expect(bad.code).toBe(1);
    golden('error-no-such-peer', norm(JSON.parse(bad.stdout)));
  });

  it('received: FRR’s route with FRR’s next hop, AS path and community', async () => {
    const rs = await json<ReceivedState[]>(0, 'received', 'frr');
    expect(rs.find((r) => r.prefix === FROM_FRR)).toMatchObject({ nextHops: [frrV4], asPath: String(FRR_AS), communities: [`${FRR_AS}:7`], origin: 'igp' });
    // The reflected ones carry herald's own AS after FRR's.
    expect(rs.filter((r) => r.prefix !== FROM_FRR).map((r) => `${r.prefix} ${r.asPath}`).sort()).toEqual([`${STATIC} ${FRR_AS} ${HERALD_AS}`, `${DNS4} ${FRR_AS} ${HERALD_AS}`].sort());
    golden('received', norm([...rs].sort(byPeerPrefix)));
    const one = await json<ReceivedState[]>(0, 'received', 'frr', FROM_FRR);
    expect(one).toEqual([expect.objectContaining({ prefix: FROM_FRR, nextHops: [frrV4] })]);
    golden('received-prefix', norm(one));
    expect(await json<ReceivedState[]>(0, 'received', 'frr', '203.0.113.128/25')).toEqual([]);
    const t = await routes(sock, 'received', 'frr');
    expect(t.stdout).toMatch(new RegExp(`203\\.0\\.113\\.0/24 +${frrV4.replace(/\./g, '\\.')} +${FRR_AS}`));
  });

  it('services', async () => {
    const ss = await json<ServiceState[]>(0, 'services');
    expect(ss.find((s) => s.name === 'dns')).toMatchObject({ health: 'up', announcing: true, drain: null });
    expect(ss.find((s) => s.name === 'web')!.checks[0]!.output).toContain('web-broken-output');
    golden('services', norm(ss));
  });

  it('explain + check: announced (exit 0)', async () => {
    const x = await json<ExplainState>(0, 'explain', STATIC);
    expect(x).toMatchObject({ announced: true, wanted: true, reason: 'announced to frr (1 peer not established)' });
    expect(x.peers.find((p) => p.peer === 'frr')).toMatchObject({ status: 'announced', nextHop: heraldV4 });
    golden('explain-announced', norm(x));
    const c = await routes(sock, 'check', STATIC);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^OK 198\.51\.100\.0\/24: announced to frr/);
  });

  it('explain + check: a failing check, with its output (exit 1)', async () => {
    const x = await json<ExplainState>(0, 'explain', WEB);
    expect(x.announced).toBe(false);
    expect(x.reason).toMatch(/^service web is down: check 1 \(exec sh -c .*\) failed: .*exited 1: web-broken-output$/);
    expect(x.sources[0]!.service!.checks[0]!.output).toContain('web-broken-output');
    golden('explain-check-failing', norm(x));
    golden('check-check-failing', norm(await json<ExplainState>(1, 'check', WEB)));
    const c = await routes(sock, 'check', WEB);
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/^NOT ANNOUNCED 198\.51\.100\.80\/32: service web is down/);
  });

  it('explain + check: no established peer for the family (exit 1)', async () => {
    const x = await json<ExplainState>(0, 'explain', DNS6);
    expect(x).toMatchObject({ wanted: true, announced: false });
    expect(x.reason).toMatch(/^no established ipv6 session: ghost is (Idle|Active|Connect)/);
    expect(x.peers.find((p) => p.peer === 'frr')).toMatchObject({ shouldCarry: false, status: 'excluded', reason: 'peer does not carry ipv6' });
    golden('explain-no-established-peer', norm(x));
    expect((await routes(sock, 'check', DNS6)).code).toBe(1);
  });

  it('explain + check: peer filter (exit 1)', async () => {
    const x = await json<ExplainState>(0, 'explain', FILTERED);
    expect(x.announced).toBe(false);
    expect(x.peers.find((p) => p.peer === 'frr')).toMatchObject({ status: 'excluded', reason: 'peer filter: only announced to ghost' });
    golden('explain-peer-filter', norm(x));
    expect((await routes(sock, 'check', FILTERED)).code).toBe(1);
  });

  it('check exits 2 when the daemon is unreachable, and says what to do', async () => {
    const r = await routes(join(dir, 'nobody.sock'), 'check', STATIC);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot reach .*nobody\.sock: no such socket; is herald running\?/);
  });

  it('peer down: Cease/Administrative Shutdown with the text at FRR, routes gone, FRR kept out; up: back; reset: seen by FRR', async () => {
    type Action = { peer: string; action: string; changed: boolean; detail: string; peerState: PeerState };
    const frrNeighbor = async (): Promise<Record<string, unknown>> =>
      (JSON.parse((await frr.vtysh([`show bgp neighbors ${heraldV4} json`])).stdout) as Record<string, Record<string, unknown>>)[heraldV4]!;
    const t0 = Date.now();
    const down = await json<Action>(0, 'peer', 'frr', 'down', '--message', 'cli-frr maintenance');
    expect(down).toMatchObject({ peer: 'frr', action: 'down', changed: true, peerState: { adminDown: { message: 'cli-frr maintenance' } } });
    await waitFor(async () => ((await frrRoute(DNS4)) === undefined && (await frrRoute(STATIC)) === undefined ? true : undefined), 5_000, () => 'FRR kept herald’s routes after peer down', 20);
    const goneMs = Date.now() - t0;
    const n = await frrNeighbor();
    // FRR: lastResetDueTo "BGP Notification received", the code in lastNotificationReason, the RFC 9003 text in lastShutdownDescription.
    const said = JSON.stringify(n);
    expect(said, said.slice(0, 2000)).toMatch(/Administrative(ly)? Shutdown/i);
    expect(said, said.slice(0, 2000)).toContain('cli-frr maintenance');
    // FRR dials every second; herald refuses while the operator holds the peer down.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await frr.sessionState(heraldV4)).not.toBe('Established');
    const p = (await json<PeerState[]>(0, 'peers')).find((x) => x.name === 'frr')!;
    expect(p).toMatchObject({ state: 'Idle', adminDown: { message: 'cli-frr maintenance' } });
    const x = await json<ExplainState>(0, 'explain', STATIC);
    expect(x.peers.find((q) => q.peer === 'frr')!.reason).toMatch(/administratively down .*'routes peer frr up' brings it back/);
    expect((await routes(sock, 'peers')).stdout).toMatch(/frr .*Idle \(admin down\).*administratively down \(routes peer frr up\): cli-frr maintenance/);
    // Twice is no change, not an error.
    expect(await json<Action>(0, 'peer', 'frr', 'down')).toMatchObject({ changed: false });

    const t1 = Date.now();
    expect(await json<Action>(0, 'peer', 'frr', 'up')).toMatchObject({ action: 'up', changed: true });
    await waitFor(async () => ((await frrRoute(DNS4)) !== undefined && (await frrRoute(STATIC)) !== undefined ? true : undefined), 15_000, () => `FRR did not get herald's routes back after up\n${herald.tail(10)}`, 50);
    const backMs = Date.now() - t1;
    expect((await json<PeerState[]>(0, 'peers')).find((q) => q.name === 'frr')!.adminDown).toBeNull();

    // reset: FRR loses the connection once and the session comes back by itself.
    const dropped0 = Number((await frrNeighbor()).connectionsDropped);
    const t2 = Date.now();
    expect(await json<Action>(0, 'peer', 'frr', 'reset', '--message', 'cli-frr reset')).toMatchObject({ action: 'reset', changed: true });
    await waitFor(async () => (Number((await frrNeighbor()).connectionsDropped) > dropped0 ? true : undefined), 5_000, async () => `FRR: ${JSON.stringify(await frrNeighbor()).slice(0, 600)}`, 50);
    await frr.waitEstablished(heraldV4, 15_000);
    await waitFor(async () => ((await frrRoute(DNS4)) !== undefined ? true : undefined), 10_000, () => 'FRR did not get the routes back after reset', 50);
    const resetMs = Date.now() - t2;
    // herald's log has the Cease it sent (lastDown may already be a later connect attempt's).
    expect(herald.tail(400)).toMatch(/session reset by the operator[\s\S]*Administrative ?Reset/i);
    // refresh needs a session; it has one now.
    await waitFor(async () => ((await routes(sock, 'peer', 'frr', 'refresh', '--json')).code === 0 ? true : undefined), 10_000, () => 'refresh refused', 100);
    console.log(`peer down: routes gone at FRR in ${goneMs} ms; up: back in ${backMs} ms; reset: back in ${resetMs} ms`);
  });

  it('lookup: the longest own match explained and FRR’s received route', async () => {
    const own = await json<LookupState>(0, 'lookup', '198.51.100.53');
    expect(own).toMatchObject({ prefix: DNS4, covering: [STATIC], explain: { announced: true } });
    const rcvd = await json<LookupState>(0, 'lookup', '203.0.113.5');
    expect(rcvd).toMatchObject({ prefix: null, received: [expect.objectContaining({ peer: 'frr', prefix: FROM_FRR })] });
    const t = await routes(sock, 'lookup', '198.51.100.53');
    expect(t.code).toBe(0);
    expect(t.stdout).toContain(DNS4);
    expect((await routes(sock, 'lookup', 'not-an-address')).code).toBe(64);
  });

  it('drain --wait returns only after FRR has the withdrawal; explain says drained; undrain brings it back', async () => {
    const d = await json<{ services: string[]; phase: string; withdrawalSent: boolean }>(0, 'drain', 'dns', '--wait');
    // The withdrawal was written before the CLI returned; FRR reads it within a moment.
    const t0 = Date.now();
    await waitFor(async () => ((await frrRoute(DNS4)) === undefined ? true : undefined), 2_000, () => `FRR still has ${DNS4} 2 s after drain --wait returned`, 20);
    const lagMs = Date.now() - t0;
    expect(lagMs).toBeLessThan(2_000);
    expect(await frrRoute(STATIC)).toBeDefined();
    golden('drain-wait', norm(d));

    const x = await json<ExplainState>(0, 'explain', DNS4);
    expect(x).toMatchObject({ wanted: false, announced: false });
    expect(x.reason).toMatch(/^service dns is drained \(withdrawn\); run 'routes undrain dns'/);
    golden('explain-drained', norm(x));
    expect((await routes(sock, 'check', DNS4)).code).toBe(1);
    expect((await json<SummaryState>(0)).services.draining).toBe(1);

    const u = await json<{ services: string[] }>(0, 'undrain', 'dns');
    expect(u.services).toEqual(['dns']);
    golden('undrain', norm(u));
    await waitFor(async () => ((await frrRoute(DNS4)) !== undefined ? true : undefined), 10_000, () => `FRR did not get ${DNS4} back after undrain`, 50);
    expect((await routes(sock, 'check', DNS4)).code).toBe(0);
  });
});
