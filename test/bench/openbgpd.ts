/**
 * OpenBGPD 7.7 as the sender: both sessions start `down` (bgpd.conf(5)),
 * the routes go in with `bgpctl network bulk add` from stdin (LAB.md: never
 * thousands of `network` lines in the config), then `bgpctl neighbor X up`.
 * Withdraw-all is `bgpctl network flush`. Peak RSS is summed over bgpd's
 * processes (parent, session engine, route decision engine, RTR).
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, waitFor, type LabProcess } from '../interop/lab/index.js';
import { v4Route, v6Route } from './routes.js';
import {
  emptyResult,
  establishedToAll,
  peakRssMb,
  RECEIVER_ASN,
  SENDER_ASN,
  sleepMs,
  span,
  wallMs,
  watchArrival,
  watchEmpty,
  type BenchOptions,
  type SenderResult,
  type Topology,
} from './common.js';

/** Run the OpenBGPD sender against the receiver in `t`. */
export async function benchOpenbgpd(t: Topology, o: BenchOptions): Promise<SenderResult> {
  const res = emptyResult('openbgpd', o);
  const dir = await t.lab.tempDir('bench-obgpd-send');
  const sock = join(dir, 'bgpd.sock');
  const lines = [
    `AS ${SENDER_ASN}`,
    `router-id ${t.sendV4}`,
    `socket "${sock}"`,
    'fib-update no',
    `neighbor ${t.recvV4} {`,
    `  remote-as ${RECEIVER_ASN}`,
    `  local-address ${t.sendV4}`,
    '  down',
    '  announce IPv4 unicast',
    '  announce IPv6 none',
    '}',
    `neighbor ${t.recvV6} {`,
    `  remote-as ${RECEIVER_ASN}`,
    `  local-address ${t.sendV6}`,
    '  down',
    '  announce IPv4 none',
    '  announce IPv6 unicast',
    '}',
    'allow from any',
    'allow to any',
  ];
  const conf = join(dir, 'bgpd.conf');
  await writeFile(conf, lines.join('\n') + '\n', { mode: 0o600 });
  await mkdir('/run/openbgpd', { recursive: true });
  const proc: LabProcess = t.lab.spawn(t.sendNs, 'openbgpd-sender', '/usr/sbin/bgpd', ['-d', '-f', conf], { logFile: join(dir, 'bgpd.log') });
  const bgpctl = (args: string[], input?: string): Promise<{ stdout: string }> =>
    run('bgpctl', ['-s', sock, ...args], { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
  try {
    await waitFor(
      async () => {
        if (!proc.isRunning()) throw new Error('bgpd exited');
        await bgpctl(['show', 'summary']);
        return true;
      },
      10_000,
      () => 'bgpctl socket did not answer',
      50,
    );
    const parts: string[] = [];
    for (let i = 0; i < o.count4; i++) parts.push(v4Route(i));
    for (let i = 0; i < o.count6; i++) parts.push(v6Route(i));
    const input = parts.join('\n') + '\n';
    parts.length = 0;

    // Load: bulk add, then wait until the RDE reports every prefix in its RIB.
    const t0 = wallMs();
    await bgpctl(['network', 'bulk', 'add'], input);
    res.extra.bulkAddCommandMs = wallMs() - t0;
    const total = o.count4 + o.count6;
    let seen = -1;
    for (;;) {
      seen = await ribPrefixes(bgpctl);
      if (seen >= total || seen < 0 || wallMs() - t0 > 60_000) break;
      await sleepMs(20);
    }
    res.loadMs = wallMs() - t0;
    res.extra.ribPrefixesAfterLoad = seen;
    if (seen < 0) res.notes.push('openbgpd: could not read `show rib memory`; load = the bulk add command alone');
    else if (seen < total) res.notes.push(`openbgpd: RIB held ${seen} of ${total} prefixes after 60 s`);

    const handed = wallMs();
    await bgpctl(['neighbor', t.recvV4, 'up']);
    await bgpctl(['neighbor', t.recvV6, 'up']);
    const arr = await watchArrival(t.receiver, o, o.transferTimeoutMs);
    res.establishedToV4Ms = span(arr.est4, arr.v4);
    res.establishedToAllMs = establishedToAll(arr);
    res.handedToAllMs = span(handed, arr.all);
    if (arr.all === null) res.notes.push(`openbgpd: not all routes arrived (receiver: ${JSON.stringify(arr.last)})`);

    const w0 = wallMs();
    await bgpctl(['network', 'flush']);
    const empty = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
    res.withdrawMs = span(w0, empty.at);
    res.peakRssMb = peakRssMb(proc.pid);
    res.notes.push('openbgpd: "load" = `bgpctl network bulk add` until `show rib memory` counts every prefix; "handed" = `neighbor up`; RSS summed over its processes');
  } finally {
    await proc.stop();
  }
  return res;
}

/** Prefixes in the RDE (IPv4 + IPv6 unicast) per `bgpctl show rib memory`, or -1 if unreadable. */
async function ribPrefixes(bgpctl: (args: string[]) => Promise<{ stdout: string }>): Promise<number> {
  const out = (await bgpctl(['show', 'rib', 'memory'])).stdout;
  let n = -1;
  for (const m of out.matchAll(/^\s*(\d+) IPv[46] unicast network entries/gm)) n = (n < 0 ? 0 : n) + Number(m[1]);
  return n;
}
