/**
 * herald as the sender: its speaker runs as a child process in the sender
 * namespace (test/interop/support/herald-child.ts) and generates the routes
 * itself (`bulkRoutes`), so 1.1M routes never cross a pipe. They are handed
 * as one RouteGroup per peer (`setRouteGroups`: one flat prefix string per
 * route, no object per route), the form a caller with a million routes uses.
 *
 *   cold:     peers added and routes set in one synchronous step (the TCP
 *             connects are asynchronous, so the RIB is full before any session
 *             is up); timed: setRouteGroups ("load"), Established → all
 *             received, routes handed → all received.
 *   withdraw: empty groups → receiver empty.
 *   hot:      sessions up and empty, routes handed again → all received
 *             (the path a running daemon takes when a source adds routes).
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeraldProcess } from '../interop/support/herald-process.js';
import type { PeerConfig } from '../../bgp/index.js';
import {
  bundleChild,
  emptyResult,
  establishedToAll,
  peakRssMb,
  RECEIVER_ASN,
  SENDER_ASN,
  span,
  wallMs,
  watchArrival,
  watchEmpty,
  type BenchOptions,
  type SenderResult,
  type Topology,
} from './common.js';

/** How long one command to the child may take before the run is abandoned (a stuck RIB must not hang the bench). */
const CALL_TIMEOUT_MS = 90_000;

/** Reject if `p` has not settled within `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface BulkReply {
  generateMs: number;
  handedAt: number;
  loadMs: number;
}

/** Run the herald sender against the receiver in `t`. */
export async function benchHerald(t: Topology, o: BenchOptions): Promise<SenderResult> {
  const res = emptyResult('herald', o);
  const peers: PeerConfig[] = [
    { name: 'r4', address: t.recvV4, asn: RECEIVER_ASN, localAddress: t.sendV4, families: ['ipv4'] },
    { name: 'r6', address: t.recvV6, asn: RECEIVER_ASN, localAddress: t.sendV6, families: ['ipv6'] },
  ];
  const child = new HeraldProcess(t.sendNs, { asn: SENDER_ASN, routerId: t.sendV4, listen: false }, [], await bundleChild(fileURLToPath(new URL('../interop/support/herald-child.ts', import.meta.url)), 'bench-herald-child'));
  await child.start();
  const hp = {
    call: <T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
      withTimeout(child.call<T>(cmd, args), CALL_TIMEOUT_MS, `herald child command ${cmd}`),
    waitEvent: child.waitEvent.bind(child),
  };
  const prof = o.cpuProfDir;
  const profile = async (phase: string, run: () => Promise<void>): Promise<void> => {
    if (prof !== undefined) await hp.call('profileStart');
    await run();
    if (prof !== undefined) await hp.call('profileStop', { path: join(prof, `herald-${phase}.cpuprofile`) });
  };
  try {
    const bulk = { count4: o.count4, count6: o.count6, peer4: 'r4', peer6: 'r6' };

    // Cold: routes set before any session exists.
    await profile('cold', async () => {
      const cold = await hp.call<BulkReply>('bulkRoutes', { ...bulk, addPeers: peers });
      res.loadMs = cold.loadMs;
      res.extra.generateMs = cold.generateMs;
      let ownEstablished: number | null = null;
      void hp.waitEvent((e) => e.type === 'established' && e.peer === 'r4', 30_000).then(
        () => (ownEstablished = wallMs()),
        () => {},
      );
      const arr = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      res.establishedToV4Ms = span(arr.est4, arr.v4);
      res.establishedToAllMs = establishedToAll(arr);
      res.handedToAllMs = span(cold.handedAt, arr.all);
      res.extra.heraldEstablishedToAllMs = span(ownEstablished, arr.all);
      if (arr.all === null) res.notes.push(`herald: not all routes arrived (receiver: ${JSON.stringify(arr.last)})`);
      res.extra.peakRssColdMb = peakRssMb(child.pid);
    });

    // Withdraw all.
    await profile('withdraw', async () => {
      const w = await hp.call<BulkReply>('bulkRoutes', { count4: 0, count6: 0, peer4: 'r4', peer6: 'r6' });
      const empty = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
      res.withdrawMs = span(w.handedAt, empty.at);
      res.extra.withdrawSetRoutesMs = w.loadMs;
      res.extra.peakRssWithdrawMb = peakRssMb(child.pid);
    });

    // Hot: the same routes again into live, empty sessions.
    await profile('hot', async () => {
      const hot = await hp.call<BulkReply>('bulkRoutes', bulk);
      const arr2 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
      res.extra.hotLoadMs = hot.loadMs;
      res.extra.hotHandedToAllMs = span(hot.handedAt, arr2.all);
    });

    res.peakRssMb = peakRssMb(child.pid);
    const mem = await hp.call<NodeJS.MemoryUsage>('memory');
    res.extra.heapUsedMb = Math.round(mem.heapUsed / 1e6);
    // What the speaker really retains with 1.1M routes announced (the child's route arrays are garbage by now).
    const kept = await hp.call<NodeJS.MemoryUsage>('memory', { gc: true });
    res.extra.heapAfterGcMb = Math.round(kept.heapUsed / 1e6);
    res.extra.rssAfterGcMb = Math.round(kept.rss / 1e6);
    if (prof !== undefined) res.notes.push(`herald CPU profiles (cold, withdraw, hot) written to ${prof} (profiling slows herald: figures of this run are not comparable)`);
  } catch (e) {
    // Keep the figures measured so far; say what broke.
    res.error = (e as Error).message;
    res.peakRssMb ??= peakRssMb(child.pid);
  } finally {
    await withTimeout(child.stop('benchmark done'), 5_000, 'herald child stop').catch(() => {});
    child.kill();
  }
  return res;
}
