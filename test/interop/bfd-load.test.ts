// Issue 8 must-show: no false BFD Down while herald sends 1,000,000 routes.
// BFD runs in its own thread at a raised priority (decision 0040); this test
// also asserts that the largest gap between herald's own BFD packets stayed
// below BIRD's Detection Time, and prints it.
//
// The benchmark's load in the interop lab: the real Daemon (config,
// reconciler, the session engine in its worker thread, BFD in that engine)
// in one namespace, bundled and run with herald's production node flags
// (test/bench/daemon-child.ts), and BIRD 2 in another with `bfd on` on both
// BGP sessions (IPv4 and IPv6 unicast) and 100 ms × 3 BFD timers on both
// ends — a Detection Time of 300 ms, so a stall of the engine thread longer
// than that would show as a Down at BIRD or at herald. Phases, each timed
// and printed:
//   1. 1,000,000 IPv4 /32 + 100,000 IPv6 /128 handed to the Daemon as one
//      source snapshot while the sessions are up, until BIRD holds them all;
//   2. all withdrawn, until BIRD holds none;
//   3. all handed again, then a forced full garbage collection of the
//      daemon's main heap (the engine's own heap collects under the load of
//      phases 1–3 by itself).
// Afterwards: herald's BFD sessions never left Up (0 Down transitions, the
// same Up transition count as before the load), the BGP sessions never
// flapped (herald's counters and BIRD's "since" of each BGP session, which a
// BFD Down at BIRD would have reset), and BIRD's BFD sessions are Up.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, labReady, pointToPoint, waitFor } from './lab/index.js';
import { HeraldProcess } from './support/herald-process.js';
import { BirdReceiver } from '../bench/receiver.js';
import { HERALD_NODE_FLAGS, bundleChild, wallMs } from '../bench/common.js';
import type { PeerConfig, PeerSnapshot } from '../../bgp/index.js';

const WHAT = 'BFD under load: 1,000,000 routes to BIRD 2 with bfd on';
const ready = labReady(['bird'], WHAT);

const RECEIVER_AS = 65000;
const SENDER_AS = 65011;
const COUNT4 = 1_000_000;
const COUNT6 = 100_000;
const BFD_MS = 100;
const MULT = 3;
/** Generous bound for each transfer phase (the bench's target for handed → all is 1.5 s). */
const PHASE_BOUND_MS = 90_000;
const here = fileURLToPath(new URL('.', import.meta.url));

interface BulkReply {
  handedAt: number;
  loadMs: number;
}

describe.skipIf(!ready)(WHAT, () => {
  const lab = new Lab();
  let herald: HeraldProcess;
  let bird: BirdReceiver;
  let before: PeerSnapshot[] = [];
  let birdSince: Record<string, string> = {};

  const snapshot = (): Promise<PeerSnapshot[]> => herald.call<PeerSnapshot[]>('snapshot');
  const bfdUp = (ps: PeerSnapshot[]): boolean => ps.length === 2 && ps.every((p) => p.state === 'Established' && p.bfd?.session?.state === 'Up' && !p.bfd.routesHeld);

  beforeAll(async () => {
    const t0 = Date.now();
    const recvNs = await lab.addNamespace('bfdload-recv');
    const sendNs = await lab.addNamespace('bfdload-send');
    const l = await pointToPoint(lab, recvNs, sendNs);
    bird = new BirdReceiver(
      lab,
      recvNs,
      await lab.tempDir('bfdload-bird'),
      RECEIVER_AS,
      SENDER_AS,
      [
        { name: 'r4', neighbor: l.bV4, local: l.aV4, family: 'ipv4' },
        { name: 'r6', neighbor: l.bV6, local: l.aV6, family: 'ipv6' },
      ],
      { intervalMs: BFD_MS, multiplier: MULT },
    );
    await bird.start();
    const bfd = { desiredMinTxMs: BFD_MS, requiredMinRxMs: BFD_MS, detectMult: MULT };
    const peers: PeerConfig[] = [
      { name: 'r4', address: l.aV4, asn: RECEIVER_AS, localAddress: l.bV4, families: ['ipv4'], bfd },
      { name: 'r6', address: l.aV6, asn: RECEIVER_AS, localAddress: l.bV6, families: ['ipv6'], bfd },
    ];
    const script = await bundleChild(join(here, '../bench/daemon-child.ts'), 'bfd-load-daemon-child');
    herald = new HeraldProcess(sendNs, { asn: SENDER_AS, routerId: l.bV4 }, peers, script, process.env.BFDLOAD_TRACE_GC ? [...HERALD_NODE_FLAGS, "--trace-gc"] : HERALD_NODE_FLAGS);
    await herald.start();
    before = await waitFor(
      async () => {
        const s = await snapshot();
        return bfdUp(s) ? s : undefined;
      },
      30_000,
      async () => `sessions and BFD not Up: ${JSON.stringify((await snapshot()).map((p) => [p.name, p.state, p.bfd?.session?.state, p.bfd?.error]))}`,
      100,
    );
    const sessions = await waitFor(
      async () => {
        const s = await bird.bfdSessions();
        return s.length === 2 && s.every((x) => x.state === 'Up') ? s : undefined;
      },
      10_000,
      async () => `BIRD's BFD sessions not Up: ${JSON.stringify(await bird.bfdSessions())}`,
      100,
    );
    console.log(`bfd-load: BIRD BFD before the load ${JSON.stringify(sessions)}`);
    birdSince = await bird.bgpSince();
    console.log(`bfd-load: BGP and BFD (${BFD_MS} ms × ${MULT}) Up on both sessions after ${Date.now() - t0} ms`);
  }, 60_000);

  afterAll(async () => {
    await herald?.call('stop').catch(() => {});
    herald?.kill();
    await bird?.stop();
    await lab.close();
  });

  it('hands 1,000,000 + 100,000 routes, withdraws them and hands them again with a GC: BFD never leaves Up at either end, no BGP session flaps', async () => {
    const phase = async (name: string, count4: number, count6: number, done: (v4: number, v6: number) => boolean): Promise<number> => {
      const r = await herald.call<BulkReply>('bulkRoutes', { count4, count6 });
      const c = await bird.until((x) => done(x.v4, x.v6), PHASE_BOUND_MS, 20);
      if (c === null) {
        const why = { bird: await bird.counts(), birdBfd: await bird.bfdSessions(), herald: (await snapshot()).map((p) => ({ name: p.name, state: p.state, bfd: p.bfd?.session?.state, counters: p.bfd?.session?.counters, lastDown: p.lastDown, pending: p.prefixesPending, announced: p.prefixesAnnounced })) };
        expect.fail(`${name}: BIRD did not converge within ${PHASE_BOUND_MS} ms: ${JSON.stringify(why)}`);
      }
      const ms = c!.at - r.handedAt;
      console.log(`bfd-load: ${name}: handed → BIRD converged after ${Math.round(ms)} ms (v4 ${c!.v4}, v6 ${c!.v6})`);
      return ms;
    };
    const t0 = wallMs();
    await phase('1.1M announced', COUNT4, COUNT6, (v4, v6) => v4 === COUNT4 && v6 === COUNT6);
    await phase('all withdrawn', 0, 0, (v4, v6) => v4 === 0 && v6 === 0);
    await phase('1.1M announced again', COUNT4, COUNT6, (v4, v6) => v4 === COUNT4 && v6 === COUNT6);
    const mem = await herald.call<NodeJS.MemoryUsage>('memory', { gc: true });
    // Two Detection Times more, so a Down caused by the last phase or the GC has had time to show.
    await new Promise((r) => setTimeout(r, 2 * BFD_MS * MULT));
    const loadMs = wallMs() - t0;

    const after = await snapshot();
    const birdSessions = await bird.bfdSessions();
    const birdBgp = await bird.bgpSince();
    // The daemon child logs warnings and errors as JSON on stdout.
    const downs = [...herald.stderr, ...herald.stdout].filter((l) => /session down|BFD|bfd/.test(l));
    if (downs.length > 0) console.log(`bfd-load: herald log:\n${downs.slice(0, 20).join('\n')}`);
    if (process.env.BFDLOAD_TRACE_GC) {
      // --trace-gc lines: "[pid:isolate] time ms: Kind a (b) -> c (d) MB, pause / mutator ms ..."
      const long = herald.stdout.filter((l) => /Mark-Compact|Scavenge/.test(l) && Number(/MB, ([\d.]+) \//.exec(l)?.[1] ?? 0) >= 30);
      console.log(`bfd-load: GC pauses >= 30 ms (${long.length}):\n${long.join('\n')}`);
    }
    for (const p of after) {
      const b = before.find((x) => x.name === p.name)!;
      const s = p.bfd!.session!;
      console.log(
        `bfd-load: ${p.name}: BFD ${s.state}, Down transitions ${s.counters.downTransitions}, Up transitions ${b.bfd!.session!.counters.upTransitions} → ${s.counters.upTransitions}, packets in ${s.counters.packetsIn} / out ${s.counters.packetsOut} over ${Math.round(loadMs)} ms of load, largest gap out ${s.counters.txGapMaxMs} ms / in ${s.counters.rxGapMaxMs} ms, late expiries looked at again ${s.counters.lateDetections}; BGP flaps ${p.counters.flaps}`,
      );
      expect(s.state).toBe('Up');
      // herald kept its own deadlines: no gap between its packets came near BIRD's Detection Time.
      expect(s.counters.txGapMaxMs).toBeLessThan(BFD_MS * MULT);
      expect(s.counters.downTransitions).toBe(b.bfd!.session!.counters.downTransitions);
      expect(s.counters.upTransitions).toBe(b.bfd!.session!.counters.upTransitions);
      expect(p.state).toBe('Established');
      expect(p.counters.flaps).toBe(b.counters.flaps);
      expect(p.counters.establishedTransitions).toBe(b.counters.establishedTransitions);
    }
    console.log(`bfd-load: BIRD BFD ${JSON.stringify(birdSessions)}; BGP ${JSON.stringify(birdBgp)}; daemon main heap after GC ${Math.round(mem.heapUsed / 1e6)} MB`);
    expect(birdSessions.map((s) => s.state)).toEqual(['Up', 'Up']);
    expect(birdBgp).toEqual(birdSince);
  }, 4 * PHASE_BOUND_MS);
});
