/**
 * A herald BGP speaker in its own process, driven over stdin/stdout, so
 * interop tests can run it inside a network namespace (`ip netns exec NS`):
 * a routing daemon never runs in the test runner's (root) namespace.
 *
 * stdin:  one JSON command per line  {"id":1,"cmd":"setRoutes","peer":"p","routes":[...]}
 * stdout: one JSON line per reply    {"id":1,"ok":true,"result":...}
 *         and per speaker event      {"event":{...}}
 * Logs go to stderr as JSON lines.
 */
import * as readline from 'node:readline';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Speaker, type Logger, type PeerConfig, type RouteSpec, type SpeakerOptions } from '../../../bgp/index.js';
import { v4Routes, v6Routes } from '../../bench/routes.js';

interface Command {
  id: number;
  cmd: string;
  peer?: string;
  routes?: RouteSpec[];
  config?: PeerConfig;
  text?: string;
  // bulkRoutes (the benchmark): routes generated here, not piped through stdin.
  count4?: number;
  count6?: number;
  peer4?: string;
  peer6?: string;
  addPeers?: PeerConfig[];
  /** bulkRoutes: hand one RouteSpec per prefix instead of one RouteGroup. */
  perRoute?: boolean;
  /** memory: run a full GC first. */
  gc?: boolean;
  /** profileStop: where to write the .cpuprofile. */
  path?: string;
  /** stop: the planned-restart stop. */
  graceful?: boolean;
}

let profiler: Session | null = null;

/** Wall-clock milliseconds with sub-ms precision, comparable across processes. */
const wallMs = (): number => performance.timeOrigin + performance.now();

const write = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

const logger: Logger = {
  debug: () => {},
  info: (o, m) => process.stderr.write(JSON.stringify({ level: 'info', msg: m, ...o }) + '\n'),
  warn: (o, m) => process.stderr.write(JSON.stringify({ level: 'warn', msg: m, ...o }) + '\n'),
  error: (o, m) => process.stderr.write(JSON.stringify({ level: 'error', msg: m, ...o }) + '\n'),
};

const init = JSON.parse(process.argv[2] ?? '{}') as { speaker: SpeakerOptions; peers: PeerConfig[] };
const speaker = new Speaker({ ...init.speaker, logger });
for (const p of init.peers) speaker.addPeer(p);
speaker.on((e) => write({ event: e, at: wallMs() }));

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'setRoutes':
      speaker.setRoutes(c.peer!, c.routes ?? []);
      return null;
    case 'bulkRoutes': {
      // Generate count4 IPv4 /32 for peer4 and count6 IPv6 /128 for peer6
      // (test/bench/routes.ts), add `addPeers` first if given (their
      // connections open asynchronously, so the routes are set before any
      // session can come up), and time the hand-off alone. The routes go as
      // one RouteGroup of flat prefix strings per peer (setRouteGroups), or
      // with perRoute: true as one RouteSpec each (setRoutes), to compare.
      const g0 = wallMs();
      const v4 = v4Routes(c.count4 ?? 0);
      const v6 = v6Routes(c.count6 ?? 0);
      const g1 = wallMs();
      for (const p of c.addPeers ?? []) speaker.addPeer(p);
      const t0 = wallMs();
      const hand = (peer: string, prefixes: string[]): void => {
        if (c.perRoute === true) speaker.setRoutes(peer, prefixes.map((prefix) => ({ prefix })));
        else speaker.setRouteGroups(peer, [{ attrs: {}, prefixes }]);
      };
      if (c.peer4 !== undefined && c.peer4 === c.peer6) hand(c.peer4, [...v4, ...v6]);
      else {
        if (c.peer4 !== undefined) hand(c.peer4, v4);
        if (c.peer6 !== undefined) hand(c.peer6, v6);
      }
      const t1 = wallMs();
      return { generateMs: g1 - g0, handedAt: t0, loadMs: t1 - t0 };
    }
    case 'memory': {
      // With gc: true, a full collection first (through the inspector: no --expose-gc needed),
      // so heapUsed is what is really retained.
      if (c.gc === true) {
        const s = new Session();
        s.connect();
        await s.post('HeapProfiler.collectGarbage');
        s.disconnect();
      }
      return process.memoryUsage();
    }
    case 'profileStart':
      // The V8 sampling profiler, for the benchmark's --cpu-prof (NODE_OPTIONS refuses --cpu-prof).
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return null;
    case 'profileStop': {
      if (!profiler) throw new Error('profiler not started');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = null;
      writeFileSync(c.path!, JSON.stringify(profile));
      return null;
    }
    case 'snapshot':
      return speaker.snapshot();
    case 'received': {
      const p = speaker.peer(c.peer!);
      if (!p) throw new Error(`no peer ${c.peer}`);
      return [...p.ribIn].map((r) => ({
        prefix: r.prefix,
        nextHops: r.nextHops,
        asPath: r.attrs.asPath,
        med: r.attrs.med,
        localPref: r.attrs.localPref,
        communities: r.attrs.communities,
        largeCommunities: r.attrs.largeCommunities,
      }));
    }
    case 'unsendable': {
      const p = speaker.peer(c.peer!);
      if (!p) throw new Error(`no peer ${c.peer}`);
      return p.ribOut.unsendable();
    }
    case 'addPeer':
      speaker.addPeer(c.config!);
      return null;
    case 'updatePeer':
      return speaker.updatePeer(c.config!);
    case 'removePeer':
      await speaker.removePeer(c.peer!, c.text);
      return null;
    case 'stop':
      // graceful: the planned-restart stop (peers with Graceful Restart keep our routes).
      return speaker.stop(c.text, c.graceful === true ? { graceful: true } : {});
    case 'routesComplete':
      speaker.routesComplete();
      return null;
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

speaker.start().then(
  () => {
    write({ ready: true, listen: speaker.listenAddress });
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (!line.trim()) return;
      const c = JSON.parse(line) as Command;
      handle(c).then(
        (result) => write({ id: c.id, ok: true, result }),
        (err: Error) => write({ id: c.id, ok: false, error: err.message }),
      );
    });
    rl.on('close', () => {
      void speaker.stop('stdin closed').then(() => process.exit(0));
    });
  },
  (err: Error) => {
    write({ ready: false, error: err.message });
    process.exit(1);
  },
);
