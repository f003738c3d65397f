/**
 * The session engine's thread: a Speaker (BGP sessions, their timers, the
 * Adj-RIB-Out packing, BFD) run in a worker, away from everything else the
 * daemon does (decision 0020). It speaks the message protocol of
 * engine-protocol.ts with `EngineClient` in the main thread:
 *
 *   main ──► command (start, peers, route groups, queries, stop)
 *   main ◄── reply to a command, speaker event, peer snapshots, log record
 *
 * Snapshots are pushed after every burst of speaker events and at least
 * once a second while a peer exists, so the main thread answers `routes
 * peers` and the metrics from a current copy without a round trip. The
 * speaker's timer lateness (how late its keepalive, hold and BFD deadlines
 * ran on this thread, decision 0034) travels with them.
 *
 * No RFC: herald's own thread boundary.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { Speaker } from './speaker.js';
import { every, realClock } from './clock.js';
import { preloadLibc } from './sockopts.js';
import type { Logger, SpeakerEvent } from './types.js';
import type { Command, FromEngine } from './engine-protocol.js';

/** How often peer snapshots are pushed when nothing happens (counters, uptime). */
const SNAPSHOT_EVERY_MS = 1_000;

const port = parentPort;
if (!port) throw new Error('engine-worker.ts runs only as a worker thread');

const post = (m: FromEngine): void => port.postMessage(m);

/** Log records go to the main thread's logger (one log stream per process). */
const logger: Logger = {
  debug: (obj, msg) => post({ kind: 'log', level: 'debug', obj: plain(obj), msg }),
  info: (obj, msg) => post({ kind: 'log', level: 'info', obj: plain(obj), msg }),
  warn: (obj, msg) => post({ kind: 'log', level: 'warn', obj: plain(obj), msg }),
  error: (obj, msg) => post({ kind: 'log', level: 'error', obj: plain(obj), msg }),
};

// This thread's scheduling priority: above the main thread and the host's
// ordinary work, below the BFD thread's −10 (decision 0042). The engine
// thread is idle most of the time; its timer lateness under load was the
// thread waiting for a core behind other runnable threads (decision 0034),
// not work of its own. The nice value is per thread on Linux and
// os.setPriority(n) with no pid sets the calling thread's. Allowed to root,
// CAP_SYS_NICE, or up to RLIMIT_NICE (the systemd unit's LimitNICE=-10);
// refused otherwise, and the engine runs at the process's priority.
const ENGINE_NICE = -5;
let engineNice: number | null = null;
try {
  setPriority(ENGINE_NICE);
  engineNice = ENGINE_NICE;
} catch {
  /* reported at init, when the logger has somewhere to go */
}

let speaker: Speaker | null = null;
let pushScheduled = false;
let ticker: (() => void) | null = null;

/** Every peer's snapshot and the timer lateness so far. */
function snapshotMessage(sp: Speaker): FromEngine {
  return { kind: 'snapshot', peers: sp.snapshot(), stats: sp.stats(), lateness: sp.lateness() };
}

/** Push every peer's snapshot once this turn of the loop is over (a burst of events sends one). */
function pushSnapshots(): void {
  if (pushScheduled) return;
  pushScheduled = true;
  setImmediate(() => {
    pushScheduled = false;
    if (speaker) post(snapshotMessage(speaker));
  });
}

function onEvent(e: SpeakerEvent): void {
  // A session change reaches the main thread with the snapshot that shows it.
  if (speaker && (e.type === 'state' || e.type === 'established' || e.type === 'down' || e.type === 'bfd' || e.type === 'bfd-routes')) {
    post(snapshotMessage(speaker));
  }
  post({ kind: 'event', event: e });
  pushSnapshots();
}

async function handle(c: Command): Promise<void> {
  if (c.op === 'init') {
    speaker = new Speaker({
      ...c.options,
      logger,
      // BFD in a thread of its own beside this one (decision 0040); if it
      // fails, this thread fails too, and the daemon exits for its
      // supervisor to restart it (as for any engine failure).
      bfd: {
        ...c.options.bfd,
        // Beside this script, in its format: dist/bfd-worker.cjs in a build, an .mjs bundle from the sources (engine-client.ts).
        thread: new URL(import.meta.url.endsWith('.cjs') ? './bfd-worker.cjs' : './bfd-worker.mjs', import.meta.url),
        onThreadFatal: (err) =>
          setImmediate(() => {
            throw err;
          }),
      },
    });
    speaker.on(onEvent);
    if (engineNice === ENGINE_NICE) logger.debug({ nice: engineNice }, 'engine thread runs at a raised priority');
    else logger.info({ wanted: ENGINE_NICE }, 'engine thread runs at the process\'s priority (allow nice -5: LimitNICE=-10 in the systemd unit, or CAP_SYS_NICE)');
    ticker = every(realClock, SNAPSHOT_EVERY_MS, pushSnapshots, { unref: true });
    post({ kind: 'reply', id: c.id, value: null });
    return;
  }
  const sp = speaker;
  if (!sp) throw new Error(`engine not initialised (${c.op})`);
  switch (c.op) {
    case 'start':
      await sp.start();
      post({ kind: 'reply', id: c.id, value: sp.listenAddress });
      pushSnapshots();
      return;
    case 'addPeer':
      sp.addPeer(c.config);
      pushSnapshots();
      return;
    case 'updatePeer':
      post({ kind: 'reply', id: c.id, value: sp.updatePeerNow(c.config) });
      pushSnapshots();
      return;
    case 'removePeer':
      await sp.removePeer(c.name, c.text);
      post({ kind: 'reply', id: c.id, value: null });
      pushSnapshots();
      return;
    case 'applyGroups': {
      const seq = sp.applyGroups(c.ops);
      if (seq !== c.seq) logger.error({ expected: c.seq, got: seq }, 'engine: hand-off sequence out of step');
      return;
    }
    case 'standing':
      post({ kind: 'reply', id: c.id, value: sp.standingNow(c.prefix) });
      return;
    case 'groupStanding':
      post({ kind: 'reply', id: c.id, value: sp.groupStandingNow(c.peer, c.group) });
      return;
    case 'lookupReceived':
      post({ kind: 'reply', id: c.id, value: sp.lookupReceivedNow(c.address) });
      return;
    case 'peerAction': {
      const r = await sp.peerAction(c.name, c.action, c.message !== undefined ? { message: c.message } : {});
      // The answer carries the peer's new state; the next snapshot push shows it to everything else.
      post(snapshotMessage(sp));
      post({ kind: 'reply', id: c.id, value: r });
      return;
    }
    case 'received': {
      const it = sp.received(c.peer, c.prefix);
      if (it === null) {
        post({ kind: 'reply', id: c.id, value: null });
        return;
      }
      for await (const batch of it) post({ kind: 'batch', id: c.id, batch });
      post({ kind: 'reply', id: c.id, value: true });
      return;
    }
    case 'stop': {
      ticker?.();
      const keeping = await sp.stop(c.text, { graceful: c.graceful === true });
      post(snapshotMessage(sp));
      post({ kind: 'reply', id: c.id, value: keeping });
      return;
    }
    case 'routesComplete':
      sp.routesComplete();
      return;
  }
}

port.on('message', (c: Command) => {
  handle(c).catch((e: unknown) => {
    const message = (e as Error)?.message ?? String(e);
    const code = (e as NodeJS.ErrnoException)?.code;
    if ('id' in c && c.id !== undefined) post({ kind: 'reply', id: c.id, error: message, ...(code !== undefined ? { code } : {}) });
    else logger.error({ op: c.op, err: message }, 'engine command failed');
  });
});

// The thread is ready long before the main thread has read its config: use
// the wait to load what the first outgoing connection needs (decision 0046).
setImmediate(preloadLibc);

/** Log fields as plain data (errors and byte arrays survive the thread boundary as text). */
function plain(obj: object): object {
  try {
    return JSON.parse(JSON.stringify(obj, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v instanceof Error ? v.message : v))) as object;
  } catch {
    return { note: 'unserialisable log fields' };
  }
}
