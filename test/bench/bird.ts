/**
 * BIRD 2 as the sender: the routes are `route P blackhole;` lines of two
 * static protocols generated into its config; both BGP sessions start
 * `disabled` and are enabled once the statics hold every route, so "load"
 * (process start → config parsed and routes in the table) and the transfer
 * are timed apart. Withdraw-all disables the two static protocols.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { waitFor, type LabProcess } from '../interop/lab/index.js';
import { BirdControl } from './receiver.js';
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

/** Write the sender's bird.conf by streaming (1.1M lines never sit in one string). */
async function writeConfig(path: string, t: Topology, o: BenchOptions, dir: string): Promise<void> {
  const out = createWriteStream(path);
  const w = (s: string): Promise<void> | void => {
    if (!out.write(s)) return new Promise((r) => out.once('drain', () => r()));
  };
  await w(`log "${join(dir, 'bird.log')}" { info, remote, warning, error, auth, fatal, bug };\nrouter id ${t.sendV4};\nprotocol device {}\n`);
  await w('protocol static st4 {\n  ipv4;\n');
  for (let i = 0; i < o.count4; i++) await w(`  route ${v4Route(i)} blackhole;\n`);
  await w('}\nprotocol static st6 {\n  ipv6;\n');
  for (let i = 0; i < o.count6; i++) await w(`  route ${v6Route(i)} blackhole;\n`);
  await w('}\n');
  for (const [name, local, neighbor, fam] of [
    ['s4', t.sendV4, t.recvV4, 'ipv4'],
    ['s6', t.sendV6, t.recvV6, 'ipv6'],
  ] as const) {
    await w(
      `protocol bgp ${name} {\n  disabled;\n  local ${local} as ${SENDER_ASN};\n  neighbor ${neighbor} as ${RECEIVER_ASN};\n` +
        `  connect delay time 1; connect retry time 2;\n  ${fam} { import none; export all; };\n}\n`,
    );
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Run the BIRD sender against the receiver in `t`. */
export async function benchBird(t: Topology, o: BenchOptions): Promise<SenderResult> {
  const res = emptyResult('bird', o);
  const dir = await t.lab.tempDir('bench-bird-send');
  const conf = join(dir, 'bird.conf');
  await writeConfig(conf, t, o, dir);
  const sock = join(dir, 'bird.ctl');

  const t0 = wallMs();
  const proc: LabProcess = t.lab.spawn(t.sendNs, 'bird-sender', 'bird', ['-f', '-c', conf, '-s', sock, '-P', join(dir, 'bird.pid')], {
    logFile: join(dir, 'bird.out'),
  });
  try {
    const ctl = await waitFor(
      async () => {
        if (!proc.isRunning()) throw new Error('bird sender exited');
        const c = new BirdControl(sock);
        await c.open();
        return c;
      },
      60_000,
      () => 'BIRD sender control socket did not answer',
      20,
    );
    // Loaded = both statics hold every route.
    const imported = async (name: string): Promise<number> => Number(/Routes:\s+(\d+) imported/.exec(await ctl.cmd(`show protocols all ${name}`))?.[1] ?? 0);
    for (;;) {
      if ((await imported('st4')) >= o.count4 && (await imported('st6')) >= o.count6) break;
      if (wallMs() - t0 > 60_000) throw new Error('BIRD sender statics did not load within 60 s');
      await sleepMs(10);
    }
    res.loadMs = wallMs() - t0;
    const handed = wallMs();
    await ctl.cmd('enable s4');
    await ctl.cmd('enable s6');
    const arr = await watchArrival(t.receiver, o, o.transferTimeoutMs);
    res.establishedToV4Ms = span(arr.est4, arr.v4);
    res.establishedToAllMs = establishedToAll(arr);
    res.handedToAllMs = span(handed, arr.all);
    if (arr.all === null) res.notes.push(`bird: not all routes arrived (receiver: ${JSON.stringify(arr.last)})`);
    res.notes.push('bird: "load" = process start → config parsed and both statics hold every route; "handed" = `enable` of the BGP protocols');

    const w0 = wallMs();
    await ctl.cmd('disable st4');
    await ctl.cmd('disable st6');
    const empty = await watchEmpty(t.receiver, o.withdrawTimeoutMs);
    res.withdrawMs = span(w0, empty.at);
    res.peakRssMb = peakRssMb(proc.pid);
    ctl.close();
  } finally {
    await proc.stop();
  }
  return res;
}
