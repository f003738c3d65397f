// Session-level interop proof for herald's BGP speaker against real routers,
// each in its own network namespace, all joined to one herald namespace by
// veth pairs:
//   - herald LISTENING (routers dial, herald passive) reaches Established with
//     FRR, BIRD, GoBGP and OpenBGPD over IPv4, and a route it announces
//     arrives at each router (ExaBGP is covered that way in speaker.test.ts);
//   - hold timer (RFC 4271 §4.4, §10): a router frozen with SIGSTOP (hold time
//     3 s negotiated) is detected by herald with HoldTimerExpired within
//     hold + 1 s, and herald frozen is detected by the router within hold + 1 s;
//     both sides come back to Established after SIGCONT;
//   - connection collision (RFC 4271 §6.8): herald and FRR / BIRD both active,
//     with each router frozen while herald dials it so that both connections
//     exist at once; exactly one session ends up Established and stays up.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labReady, pointToPoint, sleep, startRouter, waitFor, type PointToPoint, type Router, type RouterKind } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { PeerConfig, SpeakerEvent } from '../../bgp/index.js';

const KINDS = ['frr', 'bird', 'gobgp', 'openbgpd'] as const satisfies readonly RouterKind[];
/** Routers frozen in the hold-timer tests, and the two used for the collision test. */
const FREEZABLE = ['frr', 'bird'] as const;
const ready = labReady([...KINDS], 'session interop');

const HERALD_AS = 65011;
const ROUTER_AS = 65000;
/** Hold time for the frozen-peer tests (the smallest allowed, RFC 4271 §4.2). */
const HOLD = 3;
/** The route herald announces to every router. */
const ROUTE = '198.51.100.53/32';
/**
 * A hold-timer detection faster than this is something else (a closed TCP
 * connection, say): the peer's last KEEPALIVE precedes the freeze by at most
 * one keepalive interval (hold / 3 = 1 s), so expiry comes ~2-3 s after it.
 */
const MIN_DETECT_MS = 1_500;

/** The daemon's own pid, from the pid file the controller told it to write in its dir. */
async function routerPid(r: Router): Promise<number> {
  const file = r.kind === 'frr' ? 'bgpd.pid' : r.kind === 'bird' ? 'bird.pid' : undefined;
  if (file === undefined) throw new Error(`no pid file for ${r.kind}`);
  const pid = Number((await readFile(join(r.dir, file), 'utf8')).trim());
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  if (!['bgpd', 'bird'].includes(comm)) throw new Error(`pid ${pid} from ${file} is ${comm}, not the router`);
  return pid;
}

/** Count the hold-timer expiries a router's log mentions. */
function holdExpiries(log: string): number {
  return (log.match(/hold timer expired/gi) ?? []).length;
}

/** Index in herald.events of the first event at or after `from` that matches. */
function eventIndex(h: HeraldProcess, from: number, pred: (e: SpeakerEvent) => boolean): number {
  for (let i = from; i < h.events.length; i++) if (pred(h.events[i]!)) return i;
  return -1;
}

interface Site {
  kind: (typeof KINDS)[number];
  p: PointToPoint;
  router: Router;
}

describe.skipIf(!ready)('herald sessions: listening, hold timer, collision', () => {
  const lab = new Lab();
  let herald: HeraldProcess;
  const sites: Site[] = [];
  const collide: Site[] = [];
  const frozen = new Set<number>();

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    // Four routers that dial a listening herald, then FRR and BIRD again for
    // the collision test (both sides active).
    const plan = [...KINDS.map((k) => ({ kind: k, active: false })), ...FREEZABLE.map((k) => ({ kind: k, active: true }))];
    const links = await Promise.all(
      plan.map(async ({ kind, active }, i) => {
        const rns = await lab.addNamespace(`${kind}${i}`);
        const p = await pointToPoint(lab, hns, rns, { index: i, ifA: `eth${i}` });
        const hold = !active && (FREEZABLE as readonly string[]).includes(kind) ? HOLD : 9;
        const peer: PeerConfig = {
          name: `${kind}${i}`,
          address: p.bV4,
          asn: ROUTER_AS,
          passive: !active,
          families: ['ipv4'],
          holdTime: hold,
          connectRetryMs: 500,
        };
        return { kind, active, rns, p, hold, peer };
      }),
    );
    // herald listens first: OpenBGPD waits its full ConnectRetry (120 s) after
    // a refused first attempt, so it must find herald already there.
    // Router IDs: herald 192.0.2.1 is lower than every router's (.4k+2).
    herald = new HeraldProcess(
      hns,
      { asn: HERALD_AS, routerId: links[0]!.p.aV4, listen: { address: '::', port: 179 } },
      links.filter((l) => !l.active).map((l) => l.peer),
    );
    await herald.start();
    await Promise.all(
      links.map(async (l) => {
        const router = await startRouter(lab, l.kind, {
          name: l.peer.name,
          ns: l.rns,
          asn: ROUTER_AS,
          routerId: l.p.bV4,
          peers: [{ address: l.p.aV4, asn: HERALD_AS, passive: false, families: ['ipv4'], holdTime: l.hold }],
        });
        (l.active ? collide : sites).push({ kind: l.kind, p: l.p, router });
      }),
    );
    // Collision: freeze FRR and BIRD, then let herald dial them. Their kernels
    // complete the TCP handshake and herald's OPEN waits unread; on SIGCONT each
    // router both reads it and dials herald itself, so two connections exist.
    for (const c of collide) {
      const pid = await routerPid(c.router);
      frozen.add(pid);
      process.kill(pid, 'SIGSTOP');
    }
    for (const l of links.filter((x) => x.active)) await herald.call('addPeer', { config: l.peer });
    await sleep(1500);
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen.clear();
    try {
      await Promise.all(links.map((l) => herald.waitEstablished(l.peer.name, 40_000)));
    } catch (e) {
      const snap = await herald.snapshot();
      throw new Error(
        `${(e as Error).message}\nherald peers: ${JSON.stringify(snap.map((x) => [x.name, x.state, x.lastDown, x.lastConnectError]))}` +
          `\nherald log tail:\n${herald.stderr.slice(-30).join('\n')}`,
      );
    }
  });

  afterAll(async () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    herald?.signal('SIGCONT');
    herald?.kill();
    await lab.close();
  });

  it('reaches Established with herald listening, and delivers a route to each router', async () => {
    const snap = await herald.snapshot();
    for (const s of sites) {
      await s.router.waitEstablished(s.p.aV4, 20_000);
      const ps = snap.find((x) => x.name === s.router.name)!;
      expect(ps.state, s.kind).toBe('Established');
      expect(ps.passive, s.kind).toBe(true);
      expect(ps.families, s.kind).toEqual(['1/1']);
      await herald.setRoutes(s.router.name, [{ prefix: ROUTE, med: 5, communities: ['65011:53'] }]);
    }
    await Promise.all(
      sites.map(async (s) => {
        const rs = await waitFor(
          async () => {
            const x = await s.router.routes();
            return x.some((r) => r.prefix === ROUTE) ? x : undefined;
          },
          20_000,
          async () => `routes at ${s.kind}: ${JSON.stringify(await s.router.routes())}`,
        );
        const r = rs.find((x) => x.prefix === ROUTE)!;
        expect(r.nextHop, s.kind).toBe(s.p.aV4);
        expect(r.asPath, s.kind).toEqual([HERALD_AS]);
        expect(r.med, s.kind).toBe(5);
        expect(r.communities, s.kind).toEqual(['65011:53']);
        expect(r.peer, s.kind).toBe(s.p.aV4);
      }),
    );
  });

  it('resolves a connection collision with FRR and BIRD (both active) into one stable session', async () => {
    const lines = herald.stderr.filter((l) => l.includes('connection collision resolved'));
    const names = collide.map((c) => c.router.name);
    console.log(`herald collision log lines:\n${lines.join('\n')}`);
    // Whether both connections really overlap depends on how fast each router
    // reads herald's queued OPEN after SIGCONT versus dialing out itself, so
    // the collision is printed, not required (collision.ts is table-tested in
    // test/bgp/session/collision.test.ts). What must hold either way:
    console.log(`collisions seen: ${names.filter((n) => lines.some((l) => (JSON.parse(l) as { peer?: string }).peer === n)).join(', ') || 'none'}`);
    // Exactly one session, and it stays: no down events, one Established
    // transition per peer, over 5 s of watching both sides.
    const from = herald.events.length;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      for (const c of collide) expect(await c.router.sessionState(c.p.aV4), c.kind).toBe('Established');
      await sleep(250);
    }
    const snap = await herald.snapshot();
    for (const c of collide) {
      const ps = snap.find((x) => x.name === c.router.name)!;
      expect(ps.state, c.kind).toBe('Established');
      expect(ps.counters.establishedTransitions, c.kind).toBe(1);
      expect(ps.counters.flaps, c.kind).toBe(0);
      expect(ps.uptimeMs, c.kind).toBeGreaterThan(5_000);
    }
    expect(herald.events.slice(from).filter((e) => e.type === 'down' && names.includes(e.peer))).toEqual([]);
    // A route still flows over the surviving connection.
    for (const c of collide) await herald.setRoutes(c.router.name, [{ prefix: ROUTE }]);
    for (const c of collide) {
      await waitFor(
        async () => ((await c.router.routes()).some((r) => r.prefix === ROUTE && r.peer === c.p.aV4) ? true : undefined),
        15_000,
        async () => `routes at ${c.kind}: ${JSON.stringify(await c.router.routes())}`,
      );
    }
  });

  it(`detects a router frozen with SIGSTOP within hold time (${HOLD} s) + 1 s: HoldTimerExpired`, async () => {
    const targets = sites.filter((s) => (FREEZABLE as readonly string[]).includes(s.kind));
    for (const s of targets) {
      const ps = (await herald.snapshot()).find((x) => x.name === s.router.name)!;
      expect(ps.holdTime, `${s.kind} negotiated hold time`).toBe(HOLD);
    }
    const results = await Promise.all(
      targets.map(async (s) => {
        const pid = await routerPid(s.router);
        const from = herald.events.length;
        const t0 = Date.now();
        process.kill(pid, 'SIGSTOP');
        frozen.add(pid);
        try {
          const ev = await herald.waitEventFrom(from, (e) => e.type === 'down' && e.peer === s.router.name, (HOLD + 3) * 1000);
          const i = eventIndex(herald, from, (e) => e === ev);
          return { s, ev, ms: herald.eventTimes[i]! - t0 };
        } finally {
          process.kill(pid, 'SIGCONT');
          frozen.delete(pid);
        }
      }),
    );
    for (const { s, ev, ms } of results) {
      console.log(`herald detected frozen ${s.kind} after ${ms} ms (hold ${HOLD} s)`);
      expect(ev.type).toBe('down');
      if (ev.type !== 'down') continue;
      expect(ev.wasEstablished).toBe(true);
      // RFC 4271 §6.5: Hold Timer Expired is error code 4, sent by herald.
      expect(ev.reason.kind, JSON.stringify(ev.reason)).toBe('sent-notification');
      expect(ev.reason.code).toBe(4);
      expect(ms).toBeLessThanOrEqual((HOLD + 1) * 1000);
      // Not something faster than the hold timer: the last KEEPALIVE came about
      // one keepalive interval (hold/3 = 1 s) before the freeze at most.
      expect(ms).toBeGreaterThanOrEqual(MIN_DETECT_MS);
    }
    // After SIGCONT the router reconnects and herald takes the session again.
    const from = herald.events.length;
    await Promise.all(
      targets.map((s) => herald.waitEventFrom(from, (e) => e.type === 'established' && e.peer === s.router.name, 30_000)),
    );
  });

  it(`lets each router detect a frozen herald within hold time + 1 s, and recovers after SIGCONT`, async () => {
    const targets = sites.filter((s) => (FREEZABLE as readonly string[]).includes(s.kind));
    await Promise.all(targets.map((s) => s.router.waitEstablished(s.p.aV4, 20_000)));
    const logBefore = new Map<Site, number>();
    for (const s of targets) logBefore.set(s, holdExpiries(await s.router.logText()));
    const from = herald.events.length;
    const t0 = Date.now();
    herald.signal('SIGSTOP');
    let times: { s: Site; ms: number }[];
    try {
      times = await Promise.all(
        targets.map(async (s) => {
          await waitFor(
            async () => ((await s.router.sessionState(s.p.aV4)) !== 'Established' ? true : undefined),
            (HOLD + 3) * 1000,
            () => `${s.kind} still Established with a frozen herald`,
            50,
          );
          return { s, ms: Date.now() - t0 };
        }),
      );
    } finally {
      herald.signal('SIGCONT');
    }
    for (const { s, ms } of times) {
      console.log(`${s.kind} detected frozen herald after ${ms} ms (hold ${HOLD} s)`);
      expect(ms, s.kind).toBeLessThanOrEqual((HOLD + 1) * 1000);
      expect(ms, s.kind).toBeGreaterThanOrEqual(MIN_DETECT_MS);
      // The router says why: one more "hold timer expired" line than before the freeze.
      expect(holdExpiries(await s.router.logText()), `${s.kind} log names the hold timer`).toBeGreaterThan(logBefore.get(s)!);
    }
    // herald recovers: each session back to Established (a hold-timer loss is
    // not damped, decision 0025: herald dials again at once, and takes the
    // router's connection).
    await Promise.all(
      targets.map((s) => herald.waitEventFrom(from, (e) => e.type === 'established' && e.peer === s.router.name, 40_000)),
    );
    await Promise.all(targets.map((s) => s.router.waitEstablished(s.p.aV4, 20_000)));
  });
});
