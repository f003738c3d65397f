/**
 * The BFD thread (decision 0040): one BfdDriver on the real clock, driven
 * by messages from the session engine (thread.ts) and answering with
 * replies, events, log records and snapshots.
 *
 * Owns: nothing but the wiring, and the watchdog that ends this thread
 * when the engine stops sending heartbeats (see thread.ts for why).
 */
import { writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { BfdDriver } from './driver.js';
import type { Logger } from '../driver/types.js';
import type { BfdThreadData, FromBfd, ToBfd } from './thread.js';

const port = parentPort;
if (!port) throw new Error('bfd-worker runs only as a worker thread');
const data = workerData as BfdThreadData;

const post = (m: FromBfd): void => port.postMessage(m);
/** Log objects cross the thread as plain data (errors become their message). */
const plain = (obj: object): Record<string, unknown> => JSON.parse(JSON.stringify(obj)) as Record<string, unknown>;
const logger: Logger = {
  debug: (obj, msg) => post({ kind: 'log', level: 'debug', obj: plain(obj), msg }),
  info: (obj, msg) => post({ kind: 'log', level: 'info', obj: plain(obj), msg }),
  warn: (obj, msg) => post({ kind: 'log', level: 'warn', obj: plain(obj), msg }),
  error: (obj, msg) => post({ kind: 'log', level: 'error', obj: plain(obj), msg }),
};

// This thread's scheduling priority above the rest of herald and of the
// host's ordinary work (decision 0040): on a saturated machine an idle
// thread at the default priority was measured waiting up to 270 ms to run,
// nearly a 100 ms × 3 Detection Time. On Linux the nice value is per thread
// and os.setPriority(n) with no pid sets the calling thread's. Allowed to
// root, to CAP_SYS_NICE, or up to RLIMIT_NICE (the systemd unit's
// LimitNICE=-10); refused otherwise, and BFD runs at the default priority.
const BFD_NICE = -10;
let nice = 0;
try {
  setPriority(BFD_NICE);
  nice = BFD_NICE;
} catch {
  /* reported with the first session */
}

const driver = new BfdDriver({ logger, ...(data.ports ? { ports: data.ports } : {}) });
let priorityReported = false;
function reportPriority(): void {
  if (priorityReported) return;
  priorityReported = true;
  if (nice === BFD_NICE) logger.debug({ nice }, 'BFD thread runs at a raised priority');
  else logger.info({ nice, wanted: BFD_NICE }, 'BFD thread runs at the default priority (allow nice -10: LimitNICE=-10 in the systemd unit, or CAP_SYS_NICE)');
}
/** What a snapshot says apart from its counters and clocks: a change of it is pushed within CHANGE_CHECK_MS. */
const shape = (ss: ReturnType<BfdDriver['snapshot']>): string =>
  ss.map((x) => `${x.name} ${x.state} ${x.remoteState} ${x.remoteDiscriminator} ${x.txIntervalMs} ${x.detectionTimeMs} ${x.pollActive} ${JSON.stringify(x.remote)}`).join('|');
const CHANGE_CHECK_MS = 50;
let lastShape = '';
let lastPush = 0;
const pushSnapshot = (sessions = driver.snapshot()): void => {
  lastShape = shape(sessions);
  lastPush = performance.now();
  post({ kind: 'snapshot', sessions });
};
driver.on((event) => {
  // An event reaches the engine with the snapshot that shows it.
  pushSnapshot();
  post({ kind: 'event', event });
});
// Counters and uptimes every snapshotEveryMs; anything else as soon as it changes.
const ticker = setInterval(() => {
  const sessions = driver.snapshot();
  if (performance.now() - lastPush >= data.snapshotEveryMs || shape(sessions) !== lastShape) pushSnapshot(sessions);
}, CHANGE_CHECK_MS);

let lastAlive = performance.now();
const watchdog = setInterval(() => {
  const silent = performance.now() - lastAlive;
  if (silent <= data.watchdogMs) return;
  // The engine cannot log for us while it is stuck, nor forward a worker's
  // process.stderr: write to the process's fd 2 directly.
  writeSync(2, `${JSON.stringify({ level: 50, time: Date.now(), msg: 'the session engine has not answered the BFD thread for watchdogMs: ending BFD', silentMs: Math.round(silent), watchdogMs: data.watchdogMs })}\n`);
  process.exit(70);
}, Math.min(250, data.watchdogMs));

async function handle(m: ToBfd): Promise<void> {
  switch (m.op) {
    case 'alive':
      lastAlive = performance.now();
      return;
    case 'add':
      reportPriority();
      await driver.addSession(m.opts);
      pushSnapshot();
      return;
    case 'remove':
      await driver.removeSession(m.name);
      pushSnapshot();
      return;
    case 'update':
      driver.updateSession(m.name, m.update);
      pushSnapshot();
      return;
    case 'close':
      clearInterval(watchdog);
      clearInterval(ticker);
      await driver.close();
      return;
  }
}

port.on('message', (m: ToBfd) => {
  handle(m).then(
    () => m.op !== 'alive' && post({ kind: 'reply', id: m.id }),
    (err: unknown) => m.op !== 'alive' && post({ kind: 'reply', id: m.id, error: (err as Error).message }),
  );
});
