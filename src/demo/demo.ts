/**
 * `npm run demo`: herald's first five minutes (issue 5). As root on a Debian
 * machine it installs what it needs (frr, nginx-light, iproute2) and says so,
 * then builds a lab in network namespaces with documentation addresses only:
 *
 *            client (203.0.113.2)
 *               |
 *            router: FRR bgpd + zebra, multipath, forwarding, br0 192.0.2.1
 *          /    |    \
 *     host1   host2   host3   (192.0.2.11-13, each: nginx + herald run,
 *                              198.51.100.80/32 on lo, AS 65011)
 *
 * and prints a timeline as it happens: sessions coming up, FRR's 3-way
 * multipath kernel route, client requests spread over the hosts; then it
 * stops nginx on host2, shows the withdrawal (how long it took) and the
 * client still served, restores nginx and shows the next hop back; then it
 * stops its own pids and deletes its own namespaces (also on Ctrl-C or an
 * error). Returns 0 when every step did what it should, 1 otherwise.
 *
 * It reuses the interop test lab harness (test/interop/lab: namespaces, FRR
 * controller, process tracking and exit-time cleanup) and the `herald run`
 * child-process wrapper (test/interop/support/daemon-process.ts) rather than
 * keeping a second copy of them under src/. No RFC: this is the demo.
 */
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FrrRouter,
  Lab,
  bridgeTopology,
  isRoot,
  nsRun,
  pointToPoint,
  registeredPids,
  run,
  sleep,
  type BridgeTopology,
  type LabProcess,
} from '../../test/interop/lab/index.js';
import { DaemonProcess, type LogLine } from '../../test/interop/support/daemon-process.js';
import { installPackages, missingPackages } from './packages.js';
import { CLIENT_JS, DEMO, heraldConf, nginxConf, parseClient, perHost, tally, type ClientResult } from './lab-files.js';
import { DemoStepError, Timeline, secs } from './timeline.js';

interface Host {
  name: string;
  ns: string;
  v4: string;
  dir: string;
  nginx: LabProcess;
  herald: DaemonProcess;
}

const PREFIX = `${DEMO.anycast}/32`;
const URL = `http://${DEMO.anycast}/`;

/** Read the next hops of the anycast route in the router namespace (sorted; [] when there is no route). */
async function nextHops(ns: string): Promise<{ vias: string[]; text: string }> {
  const res = await nsRun(ns, 'ip', ['-4', 'route', 'show', PREFIX]);
  return { vias: [...res.stdout.matchAll(/\bvia (\S+)/g)].map((m) => m[1]!).sort(), text: res.stdout.trimEnd() };
}

/**
 * Poll the route every 10 ms until its next hops are exactly `want`; return
 * when it was seen (`at`, epoch ms), since when it may have been so (`from`:
 * the start of the last look that did not see it; the change fell between
 * the two), and the route text. A look runs `ip`, tens of ms on a loaded
 * machine: a request sent in between may already have taken the new route.
 */
async function waitNextHops(ns: string, want: readonly string[], timeoutMs: number): Promise<{ at: number; from: number; text: string }> {
  const target = [...want].sort().join(' ');
  const deadline = Date.now() + timeoutMs;
  let last = { vias: [] as string[], text: '' };
  let from = Date.now();
  while (Date.now() < deadline) {
    const start = Date.now();
    last = await nextHops(ns);
    if (last.vias.join(' ') === target) return { at: Date.now(), from, text: last.text };
    from = start;
    await sleep(10);
  }
  throw new DemoStepError(`the router's route for ${PREFIX} did not reach next hops [${target}] within ${secs(timeoutMs)}; it has [${last.vias.join(' ')}]:\n${last.text}`);
}

/** Wait for a herald log line, or fail the step with herald's last lines. */
async function waitHerald(h: Host, what: string, pred: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine> {
  try {
    return await h.herald.waitLog(pred, timeoutMs, from);
  } catch {
    throw new DemoStepError(`${h.name}: herald did not log ${what} within ${secs(timeoutMs)}; its last lines:\n${h.herald.tail(10)}`);
  }
}

const healthTo = (to: string) => (l: LogLine) => l.msg === 'service health changed' && l.service === 'www' && l.to === to;

/** Run the demo; return the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const tl = new Timeline();
  const noInstall = argv.includes('--no-install');
  const onSignal = (sig: NodeJS.Signals): void => {
    tl.say(`interrupted (${sig}): killing the demo's own processes and deleting its namespaces`);
    // The lab's and DaemonProcess's exit handlers kill exactly the pids they started and delete exactly our namespaces.
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  console.log('herald demo: three anycast web servers behind one router; herald announces each only while its nginx answers');
  if (!isRoot()) {
    tl.say('FAILED: the demo needs root (it builds network namespaces): run `sudo npm run demo`');
    return 1;
  }

  tl.step('Debian packages');
  const missing = missingPackages();
  if (missing.length === 0) {
    tl.say('frr, nginx-light and iproute2 are installed');
  } else if (noInstall) {
    tl.say(`FAILED: missing Debian packages: ${missing.join(' ')} (--no-install given: apt-get install ${missing.join(' ')})`);
    return 1;
  } else {
    tl.say(`installing missing Debian packages with apt-get: ${missing.join(' ')} (their system services are not started)`);
    try {
      installPackages(missing, (t) => tl.say(t));
    } catch (e) {
      tl.say(`FAILED: ${(e as Error).message}`);
      return 1;
    }
    const still = missingPackages();
    if (still.length > 0) {
      tl.say(`FAILED: still missing after apt-get: ${still.join(' ')}`);
      return 1;
    }
    tl.say(`installed ${missing.join(' ')}`);
  }

  const lab = new Lab();
  const hosts: Host[] = [];
  const ref: { loop: LabProcess | null } = { loop: null };
  let failed: string | null = null;
  try {
    await scenario(tl, lab, hosts, ref);
  } catch (e) {
    failed = e instanceof DemoStepError ? e.message : (e as Error).stack ?? String(e);
  } finally {
    tl.step('cleanup');
    const pids = [...registeredPids(), ...hosts.filter((h) => h.herald.running()).map((h) => h.herald.pid!)];
    await Promise.all(hosts.map((h) => h.herald.stop(5_000).catch(() => h.herald.kill())));
    if (hosts.length > 0) tl.say(`herald stopped on ${hosts.map((h) => h.name).join(', ')} (SIGTERM: withdraw, then Cease)`);
    await ref.loop?.stop();
    const names = lab.namespaces.map((n) => n.name);
    await lab.close();
    const left = (await run('ip', ['netns', 'list'], { allowFail: true })).stdout;
    const still = names.filter((n) => new RegExp(`^${n}\\b`, 'm').test(left));
    tl.say(`stopped the demo's own processes (pids ${[...new Set(pids)].sort((a, b) => a - b).join(' ') || 'none'}); deleted namespaces ${names.join(' ') || 'none'}`);
    if (still.length > 0) failed ??= `namespaces still present after cleanup: ${still.join(' ')}`;
  }
  console.log('');
  if (failed !== null) {
    tl.say(`FAILED: ${failed}`);
    return 1;
  }
  tl.say('demo complete: every step passed');
  return 0;
}

/** Build the lab and run the story; throws DemoStepError when a step does not do what it should. */
async function scenario(tl: Timeline, lab: Lab, hosts: Host[], ref: { loop: LabProcess | null }): Promise<void> {
  tl.step('lab: network namespaces');
  const topo: BridgeTopology = await bridgeTopology(lab, DEMO.hosts, { roles: ['host1', 'host2', 'host3'] });
  await lab.enableForwarding(topo.router);
  const client = await lab.addNamespace('client');
  const link = await pointToPoint(lab, topo.router, client, { index: 0, ifA: 'cl0', ifB: 'eth0', v4Net: '203.0.113' });
  await lab.ip(client, ['-4', 'route', 'add', 'default', 'via', link.aV4]);
  tl.say(`router ${topo.router}: bridge br0 ${topo.routerV4}/24, forwarding on, L4-hash multipath`);
  for (const [k, s] of topo.spokes.entries()) tl.say(`host${k + 1} ${s.ns}: eth0 ${s.v4}/24, anycast ${PREFIX} on lo`);
  tl.say(`client ${client}: eth0 ${link.bV4}/30, default route via the router (${link.aV4})`);

  tl.step('router: FRR');
  const frr = new FrrRouter(lab, {
    name: 'demo-router',
    ns: topo.router,
    asn: DEMO.routerAs,
    routerId: topo.routerV4,
    peers: topo.spokes.map((s) => ({ address: s.v4, asn: DEMO.hostAs, passive: true, families: ['ipv4' as const], holdTime: 9 })),
  });
  await frr.start();
  tl.say(`FRR zebra + bgpd running in ${topo.router}, AS ${DEMO.routerAs}, waiting for herald on ${topo.spokes.map((s) => s.v4).join(', ')}`);

  tl.step('anycast hosts: nginx');
  for (const [k, s] of topo.spokes.entries()) {
    const name = `host${k + 1}`;
    const dir = await lab.tempDir(`demo-${name}`);
    mkdirSync(join(dir, 'tmp'));
    await lab.addAddress(s.ns, 'lo', PREFIX);
    await lab.ip(s.ns, ['-4', 'route', 'add', 'default', 'via', topo.routerV4]);
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, name));
    writeFileSync(join(dir, 'herald.yaml'), heraldConf({ name, routerId: s.v4, routerAddress: topo.routerV4, dir }));
    const nginx = startNginx(lab, s.ns, name, dir);
    const herald = new DaemonProcess(s.ns, join(dir, 'herald.yaml'), { name: `herald-${name}` });
    hosts.push({ name, ns: s.ns, v4: s.v4, dir, nginx, herald });
    tl.say(`${name}: nginx (pid ${nginx.pid}) answers "hello from ${name}" on ${DEMO.anycast}:80 and 127.0.0.1:80`);
  }

  tl.step('herald on each host: sessions and announcements');
  await Promise.all(
    hosts.map(async (h) => {
      await h.herald.start();
      const started = h.herald.find((l) => l.msg === 'herald started')[0];
      tl.say(`${h.name}: herald run --config ${join(h.dir, 'herald.yaml')} (pid ${h.herald.pid}): service www, http check on 127.0.0.1 every ${DEMO.intervalMs} ms, rise ${DEMO.rise}, fall ${DEMO.fall}`, started?.readAt);
      const est = await waitHerald(h, 'session established', (l) => l.msg === 'session established', 20_000);
      tl.say(`${h.name}: BGP session with the router (${topo.routerV4}, AS ${DEMO.routerAs}) Established`, est.readAt);
      const up = await waitHerald(h, 'www up', healthTo('up'), 20_000);
      tl.say(`${h.name}: www healthy (${DEMO.rise} passing checks in a row) → herald announces ${PREFIX}`, up.readAt);
    }),
  );
  const states = await Promise.all(hosts.map((h) => frr.sessionState(h.v4)));
  tl.say(`router: FRR's neighbours: ${hosts.map((h, i) => `${h.v4} ${states[i]}`).join(', ')}`);
  tl.check(
    states.every((s) => s === 'Established'),
    'FRR does not list every host as Established',
  );

  const all = hosts.map((h) => h.v4);
  const three = await waitNextHops(topo.router, all, 15_000);
  tl.say(`router: FRR's multipath kernel route for ${PREFIX}: 3 next hops (${all.join(', ')})`, three.at, three.text.split('\n'));

  tl.step('client requests spread over the hosts');
  const cdir = await lab.tempDir('demo-client');
  const script = join(cdir, 'client.mjs');
  writeFileSync(script, CLIENT_JS);
  const burst = await nsRun(client, process.execPath, [script, JSON.stringify({ url: URL, count: 30, gapMs: 20, timeoutMs: 2000 })], { timeoutMs: 20_000 });
  const t1 = tally(parseClient(burst.stdout));
  tl.say(`client: ${t1.sent} requests to ${URL}, each a new connection (${t1.ports} different source ports): ${perHost(t1.who)}; ${t1.failed.length} failed`);
  tl.check(t1.sent === 30 && t1.failed.length === 0, `client requests failed: ${JSON.stringify(t1.failed)}`);
  tl.check(Object.keys(t1.who).length === DEMO.hosts, `the router did not spread 30 new connections over all 3 hosts: ${perHost(t1.who)}`);

  tl.step('failover: nginx stops on host2');
  const [h1, h2, h3] = hosts as [Host, Host, Host];
  const out = join(cdir, 'loop.jsonl');
  const loop = lab.spawn(client, 'demo-client', process.execPath, [script, JSON.stringify({ url: URL, count: 0, gapMs: 100, timeoutMs: 1000 })], { logFile: out });
  ref.loop = loop;
  tl.say(`client: sending 10 requests a second to ${URL} from now on, each a new connection`);
  await sleep(1_500);
  const mark = h2.herald.mark();
  const tStop = Date.now();
  await h2.nginx.stop();
  tl.say(`host2: nginx stopped (pid ${h2.nginx.pid}); herald's http check on host2 now fails`, tStop);
  const [down, two] = await Promise.all([
    waitHerald(h2, 'www down', healthTo('down'), 10_000, mark).then((l) => {
      tl.say(`host2: herald: www down (${String(l.reason)}) → withdraws ${PREFIX}`, l.readAt);
      return l;
    }),
    waitNextHops(topo.router, [h1.v4, h3.v4], 10_000).then((r) => {
      tl.say(`router: host2's next hop withdrawn ${secs(r.at - tStop)} after nginx stopped: 2 next hops (${h1.v4}, ${h3.v4})`, r.at, r.text.split('\n'));
      return r;
    }),
  ]);
  tl.check(down.readAt <= two.at + 1000, 'the route changed without herald withdrawing');
  await sleep(2_500);

  tl.step('recovery: nginx starts again on host2');
  const mark2 = h2.herald.mark();
  const tStart = Date.now();
  h2.nginx = startNginx(lab, h2.ns, h2.name, h2.dir);
  tl.say(`host2: nginx started again (pid ${h2.nginx.pid})`, tStart);
  const [, back] = await Promise.all([
    waitHerald(h2, 'www up again', healthTo('up'), 10_000, mark2).then((l) =>
      tl.say(`host2: herald: www healthy again (${DEMO.rise} passing checks) → announces ${PREFIX}`, l.readAt),
    ),
    waitNextHops(topo.router, all, 10_000).then((r) => {
      tl.say(`router: host2's next hop back ${secs(r.at - tStart)} after nginx started: 3 next hops (${all.join(', ')})`, r.at, r.text.split('\n'));
      return r;
    }),
  ]);
  await sleep(2_500);

  tl.step('what the client saw');
  await loop.stop();
  const rs = parseClient(readFileSync(out, 'utf8'));
  const phases: [string, (r: ClientResult) => boolean][] = [
    ['before the failure', (r) => r.at < tStop],
    [`nginx on host2 stopped, route not yet withdrawn (${secs(two.at - tStop)})`, (r) => r.at >= tStop && r.at < two.at],
    // Requests sent while the router's route came back but before the demo saw it count as "back".
    ['host2 withdrawn', (r) => r.at >= two.at && r.at < back.from],
    ['host2 back', (r) => r.at >= back.from],
  ];
  const t = phases.map(([label, inPhase]) => ({ label, ...tally(rs.filter(inPhase)) }));
  for (const p of t) {
    const why = p.failed.length === 0 ? '' : ` (${[...new Set(p.failed.map((f) => f.err))].join(', ')}: sent to host2 while its nginx was down and its route not yet withdrawn)`;
    tl.say(`client, ${p.label}: ${p.sent} requests: ${perHost(p.who)}; ${p.failed.length} failed${why}`);
  }
  const [before, window, withdrawn, after] = t as [(typeof t)[0], (typeof t)[0], (typeof t)[0], (typeof t)[0]];
  const served = before.failed.length === 0 && withdrawn.failed.length === 0 && after.failed.length === 0;
  tl.say(
    served
      ? `client served throughout: ${rs.length - window.failed.length} of ${rs.length} requests answered; the ${window.failed.length} failures all fell in the ${secs(two.at - tStop)} before the withdrawal`
      : 'client NOT served throughout: failures outside the convergence window',
  );
  tl.check(served, `client failures outside the convergence window: ${JSON.stringify([...before.failed, ...withdrawn.failed, ...after.failed])}`);
  tl.check(withdrawn.sent > 0 && withdrawn.who.host2 === undefined && withdrawn.who.host1 !== undefined && withdrawn.who.host3 !== undefined, `while host2 was withdrawn the client should reach host1 and host3 only: ${perHost(withdrawn.who)}`);
  tl.check(after.who.host2 !== undefined, `after host2's return the client should reach host2 again: ${perHost(after.who)}`);
}

/** Start nginx in the foreground on one host (tracked by the lab, so cleanup stops it). */
function startNginx(lab: Lab, ns: string, name: string, dir: string): LabProcess {
  return lab.spawn(ns, `nginx-${name}`, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { logFile: join(dir, 'nginx.out') });
}
