// TCP MD5 signatures (RFC 2385) between herald and real routers, each in its
// own network namespace joined to herald's by a veth pair:
//   - right password: FRR, BIRD, OpenBGPD and GoBGP each reach Established
//     with herald DIALING (IPv4 transport, router passive) and with herald
//     LISTENING (IPv6 transport, router dials), every session with its own key;
//   - wrong password, herald listening: the kernel drops the router's SYNs
//     silently; herald notices the TcpExt MD5 counters rising and emits
//     `md5-failure` naming the peer, and logs what to check;
//   - wrong password, herald dialing: no answer to the SYN; `connect-failed`
//     and the snapshot's `lastConnectError` say the password likely differs;
//   - no key ever appears in herald's stdout, stderr or snapshot.
// RFC 2385 §2: "Upon receiving a signed segment, the receiver MUST validate
// it ... and MUST drop the segment if the signature is invalid" — which is
// why a mismatch shows only as silence and a counter.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labReady, pointToPoint, startRouter, type PointToPoint, type Router, type RouterKind } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import type { PeerConfig, PeerSnapshot } from '../../bgp/index.js';

const KINDS = ['frr', 'bird', 'openbgpd', 'gobgp'] as const satisfies readonly RouterKind[];
const ready = labReady([...KINDS], 'TCP MD5 interop');

const HERALD_AS = 65011;
const ROUTER_AS = 65000;

/** A distinct key per session, so a key crossing sessions would not work by accident. */
const key = (kind: string, dir: 'dial' | 'listen'): string => `Hr-${kind}-${dir}-k3y`;

/** Throw if any of the keys appears in the text. */
function expectNoKeys(where: string, text: string, keys: string[]): void {
  for (const k of keys) expect(text.includes(k), `${where} contains a TCP MD5 key`).toBe(false);
}

interface Site {
  kind: (typeof KINDS)[number];
  p: PointToPoint;
  router: Router;
}

describe.skipIf(!ready)('TCP MD5 with the right password, herald dialing and listening', () => {
  const lab = new Lab();
  let herald: HeraldProcess;
  const sites: Site[] = [];
  const keys = KINDS.flatMap((k) => [key(k, 'dial'), key(k, 'listen')]);

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const links = await Promise.all(
      KINDS.map(async (kind, i) => {
        const rns = await lab.addNamespace(kind);
        const p = await pointToPoint(lab, hns, rns, { index: i, ifA: `eth${i}` });
        return { kind, rns, p };
      }),
    );
    const dialPeer = (l: (typeof links)[number]): PeerConfig => ({
      name: `${l.kind}-dial`,
      address: l.p.bV4,
      asn: ROUTER_AS,
      families: ['ipv4'],
      password: key(l.kind, 'dial'),
      connectRetryMs: 500,
    });
    const listenPeer = (l: (typeof links)[number]): PeerConfig => ({
      name: `${l.kind}-listen`,
      address: l.p.bV6,
      asn: ROUTER_AS,
      passive: true,
      families: ['ipv6'],
      password: key(l.kind, 'listen'),
    });
    // herald listens before any router starts (OpenBGPD waits 120 s after a
    // refused first attempt); its dialing peers are added once the routers
    // listen, since an unsigned RST from a port with no listener would be
    // dropped by herald's own kernel and cost a 10 s connect timeout.
    herald = new HeraldProcess(
      hns,
      { asn: HERALD_AS, routerId: links[0]!.p.aV4, listen: { address: '::', port: 179 }, md5WatchMs: 500 },
      links.map(listenPeer),
    );
    await herald.start();
    await Promise.all(
      links.map(async (l) => {
        const router = await startRouter(lab, l.kind, {
          name: l.kind,
          ns: l.rns,
          asn: ROUTER_AS,
          routerId: l.p.bV4,
          peers: [
            { address: l.p.aV4, asn: HERALD_AS, passive: true, families: ['ipv4'], password: key(l.kind, 'dial') },
            { address: l.p.aV6, asn: HERALD_AS, passive: false, families: ['ipv6'], password: key(l.kind, 'listen') },
          ],
        });
        sites.push({ kind: l.kind, p: l.p, router });
      }),
    );
    for (const l of links) await herald.call('addPeer', { config: dialPeer(l) });
    try {
      await Promise.all(links.flatMap((l) => [herald.waitEstablished(`${l.kind}-dial`, 30_000), herald.waitEstablished(`${l.kind}-listen`, 30_000)]));
    } catch (e) {
      const snap = await herald.snapshot();
      throw new Error(
        `${(e as Error).message}\nherald peers: ${JSON.stringify(snap.map((x) => [x.name, x.state, x.lastDown, x.lastConnectError]))}` +
          `\nherald log tail:\n${herald.stderr.slice(-20).join('\n')}`,
      );
    }
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it.each(KINDS)('%s: Established both ways with a key on each session', async (kind) => {
    const s = sites.find((x) => x.kind === kind)!;
    await s.router.waitEstablished(s.p.aV4, 20_000);
    await s.router.waitEstablished(s.p.aV6, 20_000);
    const snap = await herald.snapshot();
    const dial = snap.find((x) => x.name === `${kind}-dial`)!;
    const listen = snap.find((x) => x.name === `${kind}-listen`)!;
    expect([dial.state, listen.state]).toEqual(['Established', 'Established']);
    expect([dial.passive, listen.passive]).toEqual([false, true]);
    expect([dial.md5, listen.md5]).toEqual([true, true]);
    expect([dial.families, listen.families]).toEqual([['1/1'], ['2/1']]);
  });

  it('never prints a key: stdout, stderr and snapshot are clean', async () => {
    const snap = await herald.snapshot();
    expectNoKeys('snapshot', JSON.stringify(snap), keys);
    expectNoKeys('stdout', herald.stdout.join('\n'), keys);
    expectNoKeys('stderr', herald.stderr.join('\n'), keys);
    // No MD5 failures were reported on sessions whose keys match.
    expect(herald.events.filter((e) => e.type === 'md5-failure')).toEqual([]);
  });
});

describe.skipIf(!ready)('TCP MD5 with a wrong password, reported clearly', () => {
  const lab = new Lab();
  let herald: HeraldProcess;
  let p: PointToPoint;
  let bird: Router;
  const heraldKeys = ['Hr-herald-side-listen', 'Hr-herald-side-dial'];
  const birdKey = 'Hr-bird-side-other';

  beforeAll(async () => {
    const hns = await lab.addNamespace('herald');
    const rns = await lab.addNamespace('bird');
    p = await pointToPoint(lab, hns, rns, { index: 0 });
    herald = new HeraldProcess(
      hns,
      { asn: HERALD_AS, routerId: p.aV4, listen: { address: '::', port: 179 }, md5WatchMs: 500 },
      [{ name: 'listen-wrong', address: p.bV6, asn: ROUTER_AS, passive: true, families: ['ipv6'], password: heraldKeys[0]! }],
    );
    await herald.start();
    bird = await startRouter(lab, 'bird', {
      name: 'bird',
      ns: rns,
      asn: ROUTER_AS,
      routerId: p.bV4,
      peers: [
        { address: p.aV4, asn: HERALD_AS, passive: true, families: ['ipv4'], password: birdKey },
        { address: p.aV6, asn: HERALD_AS, passive: false, families: ['ipv6'], password: birdKey },
      ],
    });
  });

  afterAll(async () => {
    herald?.kill();
    await lab.close();
  });

  it('herald listening: md5-failure names the peer, the log says to check the password, no session', async () => {
    const ev = await herald.waitEvent((e) => e.type === 'md5-failure', 15_000);
    expect(ev).toMatchObject({ type: 'md5-failure', peer: 'listen-wrong' });
    if (ev.type === 'md5-failure') expect(ev.count).toBeGreaterThan(0);
    const line = herald.stderr.find((l) => l.includes('TCP MD5'));
    expect(line, 'herald logged the MD5 failure').toBeDefined();
    const log = JSON.parse(line!) as { level: string; msg: string; peers: string[] };
    expect(log.level).toBe('error');
    expect(log.msg).toMatch(/password/);
    expect(log.peers).toEqual(['listen-wrong']);
    const snap = await herald.snapshot();
    expect(snap.find((x) => x.name === 'listen-wrong')!.state).not.toBe('Established');
    expect(await bird.sessionState(p.aV6)).not.toBe('Established');
    expect(herald.events.some((e) => e.type === 'established')).toBe(false);
  });

  it('herald dialing: connect-failed and lastConnectError mention the password, no session', async () => {
    const from = herald.events.length;
    await herald.call('addPeer', {
      config: { name: 'dial-wrong', address: p.bV4, asn: ROUTER_AS, families: ['ipv4'], password: heraldKeys[1]!, connectRetryMs: 500 },
    });
    // The kernel on BIRD's side drops the signed SYNs: the only symptom is
    // herald's connect timeout (10 s), whose message names the likely cause.
    const ev = await herald.waitEventFrom(from, (e) => e.type === 'connect-failed' && e.peer === 'dial-wrong', 20_000).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify(await herald.snapshot())}\n${herald.stderr.slice(-10).join('\n')}\n${herald.events.slice(from).map((x) => JSON.stringify(x)).join('\n')}`);
    });
    if (ev.type !== 'connect-failed') throw new Error('unexpected event');
    expect(ev.error).toMatch(/password/);
    expect(ev.error).toMatch(/MD5/);
    const snap = await herald.snapshot();
    const d = snap.find((x) => x.name === 'dial-wrong')!;
    expect(d.state).not.toBe('Established');
    expect(d.lastConnectError).toMatch(/password/);
    expect(await bird.sessionState(p.aV4)).not.toBe('Established');
  });

  it('never prints a key, even while failing', async () => {
    const snap: PeerSnapshot[] = await herald.snapshot();
    expect(snap.every((x) => x.md5)).toBe(true);
    const all = [...heraldKeys, birdKey];
    expectNoKeys('snapshot', JSON.stringify(snap), all);
    expectNoKeys('stdout', herald.stdout.join('\n'), all);
    expectNoKeys('stderr', herald.stderr.join('\n'), all);
  });
});
