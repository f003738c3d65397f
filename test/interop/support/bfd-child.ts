/**
 * A herald BfdDriver in its own process, driven over stdin/stdout, so the
 * BFD interop tests can run it inside a network namespace (`ip netns exec
 * NS`), as herald-child.ts does for the BGP speaker.
 *
 * stdin:  one JSON command per line   {"id":1,"cmd":"addSession","opts":{...}}
 * stdout: one JSON line per reply     {"id":1,"ok":true,"result":...}
 *         and per driver event        {"event":{...},"at":<wall ms>}
 * Logs go to stderr as JSON lines.
 */
import * as readline from 'node:readline';
import { BfdDriver, type BfdSessionOptions, type BfdSessionUpdate } from '../../../bgp/bfd/driver.js';
import type { Logger } from '../../../bgp/driver/types.js';

interface Command {
  id: number;
  cmd: string;
  name?: string;
  opts?: BfdSessionOptions;
  update?: BfdSessionUpdate;
  down?: boolean;
}

/** Wall-clock milliseconds with sub-ms precision, comparable across processes. */
const wallMs = (): number => performance.timeOrigin + performance.now();
const write = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
const line = (level: string) => (o: object, m: string) => process.stderr.write(JSON.stringify({ level, msg: m, at: wallMs(), ...o }) + '\n');
const logger: Logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };

const driver = new BfdDriver({ logger });
driver.on((e) => write({ event: e, at: wallMs() }));

async function handle(c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'addSession':
      await driver.addSession(c.opts!);
      return null;
    case 'updateSession':
      driver.updateSession(c.name!, c.update!);
      return null;
    case 'setAdminDown':
      driver.setAdminDown(c.name!, c.down === true);
      return null;
    case 'removeSession':
      await driver.removeSession(c.name!);
      return null;
    case 'snapshot':
      return driver.snapshot();
    case 'counters':
      return driver.counters();
    case 'close':
      await driver.close();
      return null;
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

write({ ready: true });
readline.createInterface({ input: process.stdin }).on('line', (l) => {
  if (!l.trim()) return;
  const c = JSON.parse(l) as Command;
  handle(c).then(
    (result) => write({ id: c.id, ok: true, result }),
    (err: Error) => write({ id: c.id, ok: false, error: err.message }),
  );
}).on('close', () => {
  void driver.close().then(() => process.exit(0));
});
