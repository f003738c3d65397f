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
import { Speaker, type Logger, type PeerConfig, type RouteSpec, type SpeakerOptions } from '../../../bgp/index.js';

interface Command {
  id: number;
  cmd: string;
  peer?: string;
  routes?: RouteSpec[];
  config?: PeerConfig;
  text?: string;
}

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
speaker.on((e) => write({ event: e }));

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'setRoutes':
      speaker.setRoutes(c.peer!, c.routes ?? []);
      return null;
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
    case 'addPeer':
      speaker.addPeer(c.config!);
      return null;
    case 'updatePeer':
      return speaker.updatePeer(c.config!);
    case 'removePeer':
      await speaker.removePeer(c.peer!, c.text);
      return null;
    case 'stop':
      await speaker.stop(c.text);
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
