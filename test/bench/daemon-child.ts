/**
 * The real herald Daemon (config, reconciler, session engine in its worker
 * thread, control API) in its own process for the benchmark, driven over
 * stdin/stdout like test/interop/support/herald-child.ts, so that it runs
 * inside the sender namespace.
 *
 * stdin:  {"id":1,"cmd":"bulkRoutes","count4":1000000,"count6":100000}
 * stdout: {"id":1,"ok":true,"result":{...}} and {"event":{...},"at":...}
 *
 * Routes reach the daemon the way a source hands them: one source snapshot
 * ("bench") whose prefix text is parsed once, at this edge, into prefix
 * lists — plus one one-prefix service group ("svc") for the "one route
 * changed" figure. argv[2]: {"speaker":{"asn","routerId"},"peers":[PeerConfig]}.
 *
 * Test infrastructure, no RFC behaviour of its own.
 */
import * as readline from 'node:readline';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { PrefixListBuilder, type PeerConfig } from '../../bgp/index.js';
import { Daemon } from '../../src/daemon.js';
import { makeLogger } from '../../src/log.js';
import type { SourceGroup } from '../../src/reconciler/index.js';
import { v4Routes, v6Routes } from './routes.js';

interface Command {
  id: number;
  cmd: string;
  count4?: number;
  count6?: number;
  med?: number;
  gc?: boolean;
}

const wallMs = (): number => performance.timeOrigin + performance.now();
const write = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + '\n');

const init = JSON.parse(process.argv[2] ?? '{}') as { speaker: { asn: number; routerId: string }; peers: PeerConfig[] };
/** A peer's BFD settings as the config file spells them (the BFD-under-load test). */
function bfdYaml(p: PeerConfig): string {
  const b = p.bfd;
  if (!b) return '';
  return `, bfd: { min_tx: ${b.desiredMinTxMs ?? 300}ms, min_rx: ${b.requiredMinRxMs ?? 300}ms, multiplier: ${b.detectMult ?? 3} }`;
}
const dir = mkdtempSync(join(tmpdir(), 'herald-bench-daemon-'));
const yaml = [
  `router_id: ${init.speaker.routerId}`,
  `asn: ${init.speaker.asn}`,
  `listen: { address: "::", port: 179 }`,
  `api: { socket: ${join(dir, 'herald.sock')}, mode: "0660" }`,
  'peers:',
  ...init.peers.map(
    (p) =>
      `  - { name: ${p.name}, address: "${p.address}", asn: ${p.asn}${p.localAddress ? `, local_address: "${p.localAddress}"` : ''}${p.families ? `, families: [${p.families.join(', ')}]` : ''}${p.holdTime !== undefined ? `, hold_time: ${p.holdTime}` : ''}${bfdYaml(p)} }`,
  ),
].join('\n');
const configPath = join(dir, 'herald.yaml');
writeFileSync(configPath, `${yaml}\n`);

const daemon = new Daemon(configPath, makeLogger('warn'));

const group = (key: string, b: PrefixListBuilder, med?: number): SourceGroup => ({
  key,
  source: key,
  rank: 0,
  nextHop: 'self',
  ...(med !== undefined ? { med } : {}),
  communities: [],
  largeCommunities: [],
  extendedCommunities: [],
  peers: null,
  prefixes: b.finish(),
});

let bench: SourceGroup[] = [];

async function handle(c: Command): Promise<unknown> {
  const rec = daemon.reconciler;
  switch (c.cmd) {
    case 'bulkRoutes': {
      // The strings a source would hold, made before the clock starts.
      const g0 = wallMs();
      const v4 = v4Routes(c.count4 ?? 0);
      const v6 = v6Routes(c.count6 ?? 0);
      const g1 = wallMs();
      const handedAt = wallMs();
      const b4 = new PrefixListBuilder(v4.length);
      for (const p of v4) b4.add(p);
      const b6 = new PrefixListBuilder(v6.length);
      for (const p of v6) b6.add(p);
      bench = [group('bench-v4', b4), group('bench-v6', b6)];
      const parsed = wallMs();
      rec.setSnapshot('bench', bench);
      // A withdraw-all empties the one-route service too, so the receiver ends empty.
      if (bench.every((g) => g.prefixes.count === 0)) rec.setSnapshot('svc', []);
      rec.reconcile();
      const t1 = wallMs();
      return { generateMs: g1 - g0, handedAt, parseMs: parsed - handedAt, loadMs: t1 - handedAt, rssMb: Math.round(process.memoryUsage().rss / 1e6) };
    }
    case 'unchanged': {
      // A reconcile with the same snapshot set again: the work the daemon does when nothing changed.
      rec.setSnapshot('bench', bench);
      const t0 = performance.now();
      const ops = rec.reconcile();
      return { ms: performance.now() - t0, ops };
    }
    case 'service': {
      // One route changed (a one-prefix service group's MED): reconcile → written to every session.
      const b = new PrefixListBuilder(1);
      b.add('198.51.100.53/32');
      const t0 = performance.now();
      rec.setSnapshot('svc', [group('svc', b, c.med)]);
      const ops = rec.reconcile();
      const reconciledMs = performance.now() - t0;
      const flushed = await daemon.waitFlushed(10_000);
      return { reconciledMs, wireMs: performance.now() - t0, ops, flushed };
    }
    case 'flushed': {
      const t0 = performance.now();
      return { flushed: await daemon.waitFlushed(120_000), ms: performance.now() - t0 };
    }
    case 'memory': {
      if (c.gc === true) {
        const s = new Session();
        s.connect();
        await s.post('HeapProfiler.collectGarbage');
        s.disconnect();
      }
      return process.memoryUsage();
    }
    case 'snapshot':
      return daemon.engine?.snapshot() ?? [];
    case 'lateness':
      // The engine thread's timer lateness since start (decision 0034).
      return daemon.engine?.lateness() ?? null;
    case 'stop':
      await daemon.stop('bench done');
      return null;
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

daemon.onEvent((e) => {
  if (e.type === 'peer') write({ event: e.event, at: wallMs() });
});
daemon.start().then(
  () => {
    write({ ready: true });
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (!line.trim()) return;
      const c = JSON.parse(line) as Command;
      handle(c).then(
        (result) => write({ id: c.id, ok: true, result }),
        (err: Error) => write({ id: c.id, ok: false, error: err.message }),
      );
    });
    rl.on('close', () => void daemon.stop('stdin closed').then(() => process.exit(0)));
  },
  (err: Error) => {
    write({ ready: false, error: err.message });
    process.exit(1);
  },
);
