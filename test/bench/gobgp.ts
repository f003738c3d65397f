/**
 * GoBGP 3.10 as the sender: gobgpd with both neighbors `admin-down`, its API
 * on a unix socket in the lab's temp dir; the routes go in through the gRPC
 * AddPathStream call (gobgp-grpc.ts), then `gobgp neighbor X enable`.
 * Withdraw-all is `gobgp global rib -a FAMILY del all`.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, waitFor, type LabProcess } from '../interop/lab/index.js';
import { addPathStream } from './gobgp-grpc.js';
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

function* allPrefixes(o: BenchOptions): Generator<string> {
  for (let i = 0; i < o.count4; i++) yield v4Route(i);
  for (let i = 0; i < o.count6; i++) yield v6Route(i);
}

/** Run the GoBGP sender against the receiver in `t`. */
export async function benchGobgp(t: Topology, o: BenchOptions): Promise<SenderResult> {
  const res = emptyResult('gobgp', o);
  const dir = await t.lab.tempDir('bench-gobgp-send');
  const api = join(dir, 'api.sock');
  const toml = ['[global.config]', `  as = ${SENDER_ASN}`, `  router-id = "${t.sendV4}"`, '  port = -1', ''];
  for (const [addr, local, fam] of [
    [t.recvV4, t.sendV4, 'ipv4'],
    [t.recvV6, t.sendV6, 'ipv6'],
  ] as const) {
    toml.push(
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = "${addr}"`,
      `    peer-as = ${RECEIVER_ASN}`,
      '    admin-down = true',
      '  [neighbors.transport.config]',
      `    local-address = "${local}"`,
      '  [neighbors.timers.config]',
      '    connect-retry = 1',
      '  [[neighbors.afi-safis]]',
      '    [neighbors.afi-safis.config]',
      `      afi-safi-name = "${fam}-unicast"`,
      '',
    );
  }
  await writeFile(join(dir, 'gobgpd.toml'), toml.join('\n'));
  const proc: LabProcess = t.lab.spawn(
    t.sendNs,
    'gobgpd-sender',
    'gobgpd',
    ['-f', join(dir, 'gobgpd.toml'), '-p', '--pprof-disable', '--api-hosts', `unix://${api}`],
    { logFile: join(dir, 'gobgpd.log') },
  );
  const gobgp = (args: string[]): Promise<{ stdout: string }> => run('gobgp', ['--target', `unix://${api}`, ...args], { timeoutMs: 120_000 });
  try {
    await waitFor(
      async () => {
        if (!proc.isRunning()) throw new Error('gobgpd exited');
        await gobgp(['global']);
        return true;
      },
      10_000,
      () => 'gobgpd API did not answer',
      50,
    );

    // Load: the gRPC stream, then until the global RIB counts every destination.
    const t0 = wallMs();
    await addPathStream(api, allPrefixes(o), (p) => (p.includes(':') ? t.sendV6 : t.sendV4));
    res.extra.grpcStreamMs = wallMs() - t0;
    const count = async (fam: string): Promise<number> => Number(/Destination:\s*(\d+)/.exec((await gobgp(['global', 'rib', 'summary', '-a', fam])).stdout)?.[1] ?? -1);
    let c4 = 0;
    let c6 = 0;
    for (;;) {
      c4 = await count('ipv4');
      c6 = await count('ipv6');
      if ((c4 >= o.count4 && c6 >= o.count6) || wallMs() - t0 > 90_000) break;
      await sleepMs(50);
    }
    res.loadMs = wallMs() - t0;
    res.extra.ribAfterLoad = `${c4}+${c6}`;

    const handed = wallMs();
    await gobgp(['neighbor', t.recvV4, 'enable']);
    await gobgp(['neighbor', t.recvV6, 'enable']);
    const arr = await watchArrival(t.receiver, o, o.transferTimeoutMs);
    res.establishedToV4Ms = span(arr.est4, arr.v4);
    res.establishedToAllMs = establishedToAll(arr);
    res.handedToAllMs = span(handed, arr.all);
    if (arr.all === null) res.notes.push(`gobgp: not all routes arrived within ${o.transferTimeoutMs / 1000} s (receiver: ${JSON.stringify(arr.last)})`);

    // `del all` blocks until gobgpd has walked its RIB (LAB.md saw 42 s for
    // 1M), so both run in the background and the receiver is watched for at
    // most withdrawTimeoutMs from the moment they were issued.
    const w0 = wallMs();
    const dels = Promise.all(['ipv4', 'ipv6'].map((f) => gobgp(['global', 'rib', '-a', f, 'del', 'all']).catch(() => undefined)));
    void dels.then(() => (res.extra.delAllCommandMs = wallMs() - w0));
    const empty = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
    res.withdrawMs = span(w0, empty.at);
    if (empty.at === null) {
      const left = await t.receiver.counts();
      res.notes.push(`gobgp: withdraw-all not complete after ${o.withdrawTimeoutMs / 1000} s (receiver still holds ${left.v4} + ${left.v6})`);
      res.extra.withdrawLeft = left.v4 + left.v6;
      res.extra.withdrawTimeoutMs = o.withdrawTimeoutMs;
    }
    res.peakRssMb = peakRssMb(proc.pid);
    res.notes.push('gobgp: "load" = gRPC AddPathStream (unix socket) until `global rib summary` counts every destination; "handed" = `neighbor enable`');
  } finally {
    await proc.stop();
  }
  return res;
}
