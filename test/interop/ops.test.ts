// Issue 10 against the real `herald run` and a real kernel, in network
// namespaces:
//   - herald beside BIRD in one namespace: BIRD holds port 179, so herald
//     with its default listener stops at start naming `listen: false`; with
//     `listen: false` it connects to that BIRD and BIRD has its routes;
//   - host_addresses: `add` puts the service's /32 on lo at start and takes
//     it away at stop; `verify` keeps the service down while its address is
//     missing, up once it is added, and down again when it goes;
//   - a drain asked for with `routes drain` survives a restart of the daemon
//     (state_dir/drain.json), `routes undrain` clears it, and a corrupt
//     drain file is logged and ignored;
//   - logging.level and logging.format are honoured (no INFO line at `warn`,
//     every line pretty), and HERALD_LOG_LEVEL overrides the level;
//   - on a host shaped like the examples' (192.0.2.11/24 and 2001:db8::11/64
//     next to the upstream), `herald check --strict` reading the real
//     kernel's addresses and routes passes docs/examples/*.yaml and catches
//     the issue #3 example's IPv4-less IPv6 session;
//   - an eBGP peer one router away without `multihop`: the connect fails
//     with EHOSTUNREACH (TTL 1 expires at the router), and the log and
//     `routes peers` say to set multihop.
// Time bounds are generous multiples of the health interval (200 ms) and are
// printed with the measured figure.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as readline from 'node:readline';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labReady, startRouter, waitFor, type Router } from './lab/index.js';
import { DaemonProcess, LEVEL } from './support/daemon-process.js';
import { runCli } from '../../src/cli/index.js';
import type { ExplainState, PeerState, ServiceState } from '../../src/state/index.js';

const ready = labReady(['bird'], 'herald operations (listen: false beside BIRD, drains kept, service addresses)');

const root = resolve(__dirname, '../..');
const ENTRY = join(root, 'src/bin/herald.mjs');
const DNS = '198.51.100.53/32';
const WEB = '198.51.100.80/32';
const HERALD = '192.0.2.11';
const BIRD = '192.0.2.12';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the routes CLI here against a socket (the socket file is reachable from this namespace). */
async function routes(socket: string, ...argv: string[]): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += String(c)));
  err.on('data', (c) => (stderr += String(c)));
  const code = await runCli(['--socket', socket, ...argv], { stdout: out, stderr: err, env: {} });
  await new Promise((r) => setImmediate(r));
  return { code, stdout, stderr };
}

async function routesJson<T>(socket: string, ...argv: string[]): Promise<T> {
  const r = await routes(socket, ...argv, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** Run `herald ARGS` to its end in a namespace. */
function heraldOnce(ns: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ENTRY, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    child.once('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}

/** `herald run` whose stdout is not JSON (logging.format: pretty): its raw lines, a wait for one, and SIGTERM. */
function heraldRaw(ns: string, config: string, env: Record<string, string> = {}) {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ENTRY, 'run', '--config', config], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.filter((x) => x.re.test(l))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += String(c)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    lines,
    waitLine(re: RegExp, ms = 30_000): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no line matching ${re} in ${ms} ms; got:\n${lines.join('\n')}\n${stderr}`)), ms);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), res(l)) });
      });
    },
    async stop(): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** The addresses on lo in a namespace, as "198.51.100.53/32". */
async function loAddresses(lab: Lab, ns: string): Promise<string[]> {
  const r = await lab.ip(ns, ['-j', 'address', 'show', 'dev', 'lo']);
  const j = JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j.flatMap((i) => i.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

async function birdHas(bird: Router, prefix: string): Promise<boolean> {
  return (await bird.routes()).some((r) => r.prefix === prefix);
}

/** Wait until BIRD has (or lacks) a prefix; returns the ms it took and prints it against the bound. */
async function waitBird(bird: Router, prefix: string, want: boolean, boundMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => ((await birdHas(bird, prefix)) === want ? true : undefined), boundMs, async () => `${what}: BIRD ${want ? 'lacks' : 'still has'} ${prefix} after ${boundMs} ms; BIRD has ${JSON.stringify((await bird.routes()).map((r) => r.prefix))}`, 100);
  const ms = Date.now() - t0;
  console.log(`${what}: ${ms} ms (bound ${boundMs} ms)`);
  return ms;
}

function besideBirdConfig(dir: string, extra = ''): string {
  return `# ops test: herald beside BIRD in one namespace
router_id: ${HERALD}
asn: 65011
listen: false
api: { socket: ${dir}/herald.sock }
state_dir: ${dir}/state
peers:
  - { name: bird, address: ${BIRD}, local_address: ${HERALD}, asn: 65000, hold_time: 9, connect_retry: 1s }
services:
  - name: dns
    prefixes: [${DNS}]
    host_addresses: { mode: add }
    checks: [ { exec: { command: [test, -e, ${dir}/dns-ok] } } ]
    interval: 200ms
    rise: 1
    fall: 1
    jitter: 0s
  - name: web
    prefixes: [${WEB}]
    host_addresses: { mode: verify }
    checks: [ { exec: { command: ["true"] } } ]
    interval: 200ms
    rise: 1
    fall: 1
    jitter: 0s
drain: { period: 0s, message: "ops test" }
${extra}`;
}

describe.skipIf(!ready)('herald operations on a real kernel (issue 10)', () => {
  let lab: Lab;
  let host = '';
  let bird: Router;
  let dir = '';
  let herald: DaemonProcess | null = null;
  const sock = (): string => join(dir, 'herald.sock');

  beforeAll(async () => {
    lab = new Lab();
    host = await lab.addNamespace('host');
    for (const a of [`${HERALD}/32`, `${BIRD}/32`]) await lab.addAddress(host, 'lo', a);
    dir = await lab.tempDir('ops');
    writeFileSync(join(dir, 'dns-ok'), '');
    // BIRD as it would run on the host: owning port 179, peering with herald over loopback addresses.
    bird = await startRouter(lab, 'bird', {
      name: 'bird',
      ns: host,
      asn: 65000,
      routerId: BIRD,
      peers: [{ address: HERALD, asn: 65011, localAddress: BIRD, multihop: 2, families: ['ipv4'], holdTime: 9 }],
    });
  });

  afterAll(async () => {
    herald?.kill();
    await lab?.close();
  });

  it('with its default listener beside BIRD, herald stops at start and names listen: false', async () => {
    const cfg = join(dir, 'listening.yaml');
    writeFileSync(cfg, besideBirdConfig(dir).replace('listen: false', 'listen: { address: "::", port: 179 }'));
    const d = new DaemonProcess(host, cfg, { name: 'herald-listening' });
    await expect(d.start()).rejects.toThrow(/exited \(code 1/);
    expect(d.other.join('\n')).toMatch(/cannot start: cannot listen for BGP on :: port 179: the port is in use \(BIRD or FRR on this host\?\); set listen: false/);
    // It took back the address it had added for dns before giving up.
    expect(await loAddresses(lab, host)).not.toContain(DNS);
  });

  it('listen: false beside BIRD: herald connects, BIRD keeps port 179 and has the routes; host_addresses add and verify on lo', async () => {
    const cfg = join(dir, 'herald.yaml');
    writeFileSync(cfg, besideBirdConfig(dir));
    herald = new DaemonProcess(host, cfg, { name: 'herald' });
    await herald.start();
    // web's address is not on lo: the start-up warning, and the service down for it.
    expect(herald.find((l) => l.level === LEVEL.warn && /config warning: 198\.51\.100\.80\/32 is not on lo/.test(l.msg))).toHaveLength(1);
    await bird.waitEstablished(HERALD, 30_000);
    const ss = await lab.exec(host, 'ss', ['-Hltnp', 'sport', '= :179']);
    expect(ss.stdout).toMatch(/"bird"/);
    expect(ss.stdout).not.toMatch(/node/);
    expect(await loAddresses(lab, host)).toContain(DNS);
    await waitBird(bird, DNS, true, 10_000, 'dns (address added by herald) reaches BIRD');
    expect(await birdHas(bird, WEB)).toBe(false);
    const x = await routesJson<ExplainState>(sock(), 'explain', WEB);
    expect(x.announced).toBe(false);
    expect(x.reason).toMatch(/check 2 \(host_address 198\.51\.100\.80\/32 on lo\) failed: 198\.51\.100\.80\/32 is not on lo/);
    expect(x.warnings.map((w) => w.code)).toEqual(['host-address-missing']);

    await lab.ip(host, ['address', 'add', WEB, 'dev', 'lo']);
    await waitBird(bird, WEB, true, 5_000, 'web up once its address is on lo');
    await lab.ip(host, ['address', 'del', WEB, 'dev', 'lo']);
    await waitBird(bird, WEB, false, 5_000, 'web withdrawn once its address is gone');
    const sv = await routesJson<ServiceState[]>(sock(), 'services');
    expect(sv.find((s) => s.name === 'web')).toMatchObject({ health: 'down', announcing: false });
  });

  it('a drain survives a restart of the daemon; undrain clears it; a corrupt drain file is logged and ignored', async () => {
    const cfg = join(dir, 'herald.yaml');
    const stateFile = join(dir, 'state', 'drain.json');
    const d = await routes(sock(), 'drain', 'dns');
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe(`drained dns: withdrawn\nkept across restarts in ${stateFile}; 'routes undrain dns' ends it\n`);
    expect(Object.keys((JSON.parse(readFileSync(stateFile, 'utf8')) as { drained: Record<string, string> }).drained)).toEqual(['dns']);
    await waitBird(bird, DNS, false, 5_000, 'dns withdrawn by the drain');

    // SIGTERM: the addresses herald added go (after the withdrawals); the one it only verifies stays.
    await lab.ip(host, ['address', 'add', WEB, 'dev', 'lo']);
    expect((await herald!.stop()).code).toBe(0);
    const after = await loAddresses(lab, host);
    expect(after).not.toContain(DNS);
    expect(after).toContain(WEB);

    herald = new DaemonProcess(host, cfg, { name: 'herald-restarted' });
    await herald.start();
    expect(herald.find((l) => /^drain restored from the state directory/.test(l.msg))[0]).toMatchObject({ level: LEVEL.warn, services: ['dns'] });
    expect(await loAddresses(lab, host)).toContain(DNS);
    // web arriving proves the session is up and the desired set handed over; dns is not in it.
    await waitBird(bird, WEB, true, 30_000, 'web after the restart');
    expect(await birdHas(bird, DNS)).toBe(false);
    const sv = await routesJson<ServiceState[]>(sock(), 'services');
    expect(sv.find((s) => s.name === 'dns')).toMatchObject({ health: 'up', drain: 'withdrawn', announcing: false });
    expect((await routesJson<ExplainState>(sock(), 'explain', DNS)).reason).toMatch(/^service dns is drained \(withdrawn\)/);

    const u = await routes(sock(), 'undrain', 'dns');
    expect(u.stdout).toBe(`undrained dns: announced again according to health; cleared from ${stateFile}\n`);
    expect((JSON.parse(readFileSync(stateFile, 'utf8')) as { drained: Record<string, string> }).drained).toEqual({});
    await waitBird(bird, DNS, true, 5_000, 'dns after undrain');

    // Drained again, then the file is damaged while herald is stopped: logged, ignored, dns announced.
    await routes(sock(), 'drain', 'dns');
    expect((await herald.stop()).code).toBe(0);
    writeFileSync(stateFile, '{"version": 1, "drained": {"dns": ');
    herald = new DaemonProcess(host, cfg, { name: 'herald-corrupt-state' });
    await herald.start();
    expect(herald.find((l) => /drain state file is unreadable or corrupt; ignored/.test(l.msg))[0]).toMatchObject({ level: LEVEL.error });
    expect(String(herald.find((l) => /drain state file/.test(l.msg))[0]!['err'])).toContain(`${stateFile} is not JSON`);
    await waitBird(bird, DNS, true, 30_000, 'dns with the corrupt drain file ignored');
    expect((await herald.stop()).code).toBe(0);
    herald = null;
  });

  it('logging.level and logging.format are honoured; HERALD_LOG_LEVEL overrides the level', async () => {
    const cfg = join(dir, 'logging.yaml');
    // A passive peer with no listener: one warning to log at level warn.
    writeFileSync(
      cfg,
      `router_id: ${HERALD}
asn: 65011
listen: false
api: { socket: ${dir}/logging.sock }
state_dir: ${dir}/state-logging
peers:
  - { name: bird, address: ${BIRD}, asn: 65000, passive: true }
logging: { level: warn, format: pretty }
`,
    );
    const pretty = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/;
    const quiet = heraldRaw(host, cfg);
    await quiet.waitLine(/WARN +config warning: bird is passive/);
    // Started once the API answers (its "herald started" line is INFO, so not written).
    await waitFor(async () => ((await routes(join(dir, 'logging.sock'))).code === 0 ? true : undefined), 30_000, () => `no API: ${quiet.lines.join('\n')}`, 100);
    expect(await quiet.stop()).toBe(0);
    expect(quiet.lines.length).toBeGreaterThan(0);
    for (const l of quiet.lines) {
      expect(l).toMatch(pretty);
      expect(l).not.toMatch(/^\S+ (INFO|DEBUG|TRACE)/);
    }
    expect(quiet.lines.join('\n')).toMatch(/WARN +config warning: bird is passive \(waits for the neighbour to connect\) but listen is false.* code=passive-without-listener/);

    const loud = heraldRaw(host, cfg, { HERALD_LOG_LEVEL: 'info' });
    const started = await loud.waitLine(/INFO +herald started/);
    expect(started).toMatch(pretty);
    expect(started).toContain(`config=${cfg}`);
    expect(await loud.stop()).toBe(0);
    expect(loud.lines.some((l) => /INFO +stopped/.test(l))).toBe(true);
  });

  describe('a host shaped like the examples, one router from a far peer', () => {
    let h2 = '';
    beforeAll(async () => {
      h2 = await lab.addNamespace('host2');
      const r = await lab.addNamespace('router');
      const far = await lab.addNamespace('far');
      await lab.veth({ ns: h2, ifname: 'eth0', addresses: ['192.0.2.11/24', '2001:db8::11/64'] }, { ns: r, ifname: 'eth0', addresses: ['192.0.2.1/24', '2001:db8::1/64'] });
      await lab.veth({ ns: r, ifname: 'eth1', addresses: ['203.0.113.1/24'] }, { ns: far, ifname: 'eth0', addresses: ['203.0.113.2/24'] });
      await lab.enableForwarding(r);
      await lab.ip(h2, ['route', 'add', '203.0.113.0/24', 'via', '192.0.2.1']);
      await lab.ip(far, ['route', 'add', 'default', 'via', '203.0.113.1']);
    });

    it('herald check --strict on the real kernel: the examples are clean, the issue #3 example is caught', async () => {
      const [small, full, old] = await Promise.all([
        heraldOnce(h2, ['check', '--strict', '--config', join(root, 'docs/examples/herald.yaml')]),
        heraldOnce(h2, ['check', '--strict', '--config', join(root, 'docs/examples/herald-full.yaml')]),
        heraldOnce(h2, ['check', '--strict', '--config', join(root, 'test/src/config/fixtures/issue-example.yaml')]),
      ]);
      expect([small.code, small.stderr]).toEqual([0, '']);
      expect([full.code, full.stderr]).toEqual([0, '']);
      expect(old.code).toBe(3);
      expect(old.stderr).toMatch(/issue-example\.yaml:13:15: peers\[1\]\.families: warning: upstream2 carries ipv4 over an IPv6 session but has no IPv4 next hop/);
      expect(old.stderr.match(/warning:/g)).toHaveLength(1);
      // The same file off that host: its peers are not on a connected network there.
      const away = await heraldOnce(host, ['check', '--config', join(root, 'docs/examples/herald.yaml')]);
      expect(away.code).toBe(0);
      expect(away.stderr).toMatch(/peers\[0\]\.address: warning: 192\.0\.2\.1 is not on a connected network/);
    });

    it('EHOSTUNREACH to a peer one router away: the log and routes peers name multihop', async () => {
      const d2 = await lab.tempDir('ops-far');
      const cfg = join(d2, 'herald.yaml');
      writeFileSync(
        cfg,
        `router_id: ${HERALD}
asn: 65011
listen: false
api: { socket: ${d2}/herald.sock }
state_dir: ${d2}/state
peers:
  - { name: far, address: 203.0.113.2, asn: 65000, connect_retry: 1s }
`,
      );
      const d = new DaemonProcess(h2, cfg, { name: 'herald-far' });
      try {
        await d.start();
        expect(d.find((l) => l.code === 'needs-multihop')).toHaveLength(1);
        const hint = await d.waitLog((l) => /^connect failed: 203\.0\.113\.2 is not on a connected network/.test(l.msg), 30_000);
        expect(hint).toMatchObject({ level: LEVEL.warn, peer: 'far' });
        expect(String(hint['err'])).toContain('EHOSTUNREACH');
        expect(hint.msg).toContain('set multihop: 2');
        const [p] = await routesJson<PeerState[]>(join(d2, 'herald.sock'), 'peers');
        expect(p!.lastConnectError).toMatch(/EHOSTUNREACH.*set multihop: 2/);
      } finally {
        await d.stop();
      }
      expect(existsSync(join(d2, 'state', 'drain.json'))).toBe(false);
    });
  });
});
