/**
 * herald's daemon as the sender: the real Daemon (config, reconciler, the
 * session engine in its worker thread) in the sender namespace
 * (test/bench/daemon-child.ts), handed the same 1,000,000 IPv4 /32 and
 * 100,000 IPv6 /128 as one source snapshot — the path an LXD source or a
 * large static set takes — instead of the speaker's setRouteGroups. Issue
 * 9's targets, side by side with the speaker-only row of the same run:
 *
 *   handed → all at the receiver ≤ 1.3 × the speaker's; peak RSS ≤ 300 MB;
 *   a reconcile with nothing changed ≤ 20 ms; one route changed ≤ 20 ms to
 *   its UPDATE written on every session.
 *
 * Phases as the speaker row: cold (snapshot handed right after start, while
 * the sessions come up), withdraw-all, hot (handed into live sessions).
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeraldProcess } from '../interop/support/herald-process.js';
import type { PeerConfig } from '../../bgp/index.js';
import { TRIM_DELAY_MS } from '../../src/host/memory-trim.js';
import {
  HERALD_NODE_FLAGS,
  bundleChild,
  emptyResult,
  establishedToAll,
  peakRssMb,
  RECEIVER_ASN,
  SENDER_ASN,
  span,
  watchArrival,
  watchEmpty,
  type BenchOptions,
  type SenderResult,
  type Topology,
} from './common.js';

const here = fileURLToPath(new URL('.', import.meta.url));

interface BulkReply {
  generateMs: number;
  handedAt: number;
  parseMs: number;
  loadMs: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Run the daemon sender against the receiver in `t`. */
export async function benchDaemon(t: Topology, o: BenchOptions): Promise<SenderResult> {
  const res = emptyResult('daemon', o);
  const peers: PeerConfig[] = [
    { name: 'r4', address: t.recvV4, asn: RECEIVER_ASN, localAddress: t.sendV4, families: ['ipv4'] },
    { name: 'r6', address: t.recvV6, asn: RECEIVER_ASN, localAddress: t.sendV6, families: ['ipv6'] },
  ];
  const child = new HeraldProcess(t.sendNs, { asn: SENDER_ASN, routerId: t.sendV4 }, peers, await bundleChild(join(here, 'daemon-child.ts'), 'bench-daemon-child'), HERALD_NODE_FLAGS);
  await child.start();
  try {
    const bulk = { count4: o.count4, count6: o.count6 };
    const cold = await child.call<BulkReply>('bulkRoutes', bulk);
    res.loadMs = cold.loadMs;
    res.extra.parseMs = Math.round(cold.parseMs);
    res.extra.rssAfterColdHandOffMb = (cold as unknown as { rssMb: number }).rssMb;
    const arr = await watchArrival(t.receiver, o, o.transferTimeoutMs);
    res.establishedToV4Ms = span(arr.est4, arr.v4);
    res.establishedToAllMs = establishedToAll(arr);
    res.handedToAllMs = span(cold.handedAt, arr.all);
    if (arr.all === null) res.notes.push(`daemon: not all routes arrived (receiver: ${JSON.stringify(arr.last)})`);
    res.extra.peakRssColdMb = peakRssMb(child.pid);

    // Nothing changed, ten times; one route changed, ten times (its MED flips).
    const unchanged: number[] = [];
    for (let i = 0; i < 10; i++) unchanged.push((await child.call<{ ms: number }>('unchanged')).ms);
    const change: number[] = [];
    const reconciled: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await child.call<{ reconciledMs: number; wireMs: number; flushed: boolean }>('service', { med: i });
      if (!r.flushed) res.notes.push('daemon: a one-route change was not flushed within 10 s');
      change.push(r.wireMs);
      reconciled.push(r.reconciledMs);
    }
    res.extra.unchangedReconcileMs = Number(median(unchanged).toFixed(2));
    res.extra.oneChangeToWireMs = Number(median(change).toFixed(2));
    res.extra.oneChangeReconcileMs = Number(median(reconciled).toFixed(2));

    const w = await child.call<BulkReply>('bulkRoutes', { count4: 0, count6: 0 });
    const empty = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
    res.withdrawMs = span(w.handedAt, empty.at);
    res.extra.peakAfterWithdrawMb = peakRssMb(child.pid);

    const hot = await child.call<BulkReply>('bulkRoutes', bulk);
    const arr2 = await watchArrival(t.receiver, o, o.transferTimeoutMs);
    res.extra.hotLoadMs = hot.loadMs;
    res.extra.hotHandedToAllMs = span(hot.handedAt, arr2.all);
    res.extra.rssAfterHotHandOffMb = (hot as unknown as { rssMb: number }).rssMb;

    res.peakRssMb = peakRssMb(child.pid);
    const kept = await child.call<NodeJS.MemoryUsage>('memory', { gc: true });
    res.extra.mainHeapAfterGcMb = Math.round(kept.heapUsed / 1e6);
    res.extra.rssAfterGcMb = Math.round(kept.rss / 1e6);
    // The daemon gives glibc's free memory back TRIM_DELAY_MS after a large
    // hand-off (decision 0047): the RSS a little after that.
    await new Promise((r) => setTimeout(r, TRIM_DELAY_MS + 5_000));
    const trimmed = await child.call<NodeJS.MemoryUsage>('memory', {});
    res.extra.rssAfterTrimMb = Math.round(trimmed.rss / 1e6);
  } catch (e) {
    res.error = (e as Error).message;
    res.peakRssMb ??= peakRssMb(child.pid);
  } finally {
    await child.call('stop').catch(() => {});
    child.kill();
  }
  return res;
}
