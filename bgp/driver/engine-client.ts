/**
 * EngineClient: the `Engine` contract answered by a Speaker in a worker
 * thread (decision 0020), so that nothing the daemon's main thread does —
 * reconciling ten thousand services, parsing a large config, spawning exec
 * checks, collecting garbage — can delay a keepalive, a hold timer or a BFD
 * packet.
 *
 * Commands are posted in order; the ones that answer (start, updatePeer,
 * removePeer, queries, stop) resolve when the worker replies. Events arrive
 * in the order the speaker emitted them. Peer snapshots are pushed by the
 * worker (engine-worker.ts) and kept here, so `snapshot()` needs no round
 * trip. Route group hand-offs carry their sequence number, counted on both
 * sides, which comes back in each peer's `flushed` event.
 *
 * If the worker dies, herald cannot announce anything any more: `onFatal`
 * (default: log and exit the process with status 70) is called with the
 * error rather than leaving a daemon without sessions running.
 *
 * No RFC: herald's own thread boundary.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ReceivedRoute } from '../rib/adj-rib-in.js';
import type { Engine, GroupStanding, PeerChange, PrefixStanding } from './engine.js';
import type { Command, EngineOptions, FromEngine, Replies } from './engine-protocol.js';
import type { TimerLateness } from './lateness.js';
import { PushQueue } from './push-queue.js';
import { relay, ThreadCalls } from './thread-calls.js';
import {
  silentLogger,
  type GroupOp,
  type Logger,
  type PeerAction,
  type PeerActionResult,
  type PeerConfig,
  type PeerSnapshot,
  type ReceivedMatch,
  type SpeakerEvent,
  type SpeakerStats,
} from './types.js';

export interface EngineClientOptions extends EngineOptions {
  logger?: Logger;
  /** The worker script; default: engine-worker beside this module (.ts under tsx, .mjs in a build). */
  workerUrl?: URL;
  /** A thread from `startEngineThread`, already booting; default: start one now (from workerUrl). */
  thread?: EngineThread;
  /** Called once if the worker fails; default: log it and exit with status 70. */
  onFatal?: (err: Error) => void;
}

/**
 * Run the worker from the sources (a clone run through tsx, and tests): the
 * worker thread has no TypeScript loader, so the module is bundled with
 * esbuild (a development dependency, present wherever the sources run) into
 * node_modules/.cache/herald/, where its package imports (koffi) resolve. A
 * build runs the prebuilt dist/engine-worker.cjs instead.
 */
function tsWorker(url: URL): Worker {
  const root = new URL('../../', import.meta.url);
  const dir = new URL('node_modules/.cache/herald/', root);
  mkdirSync(dir, { recursive: true });
  // The BFD thread's script goes beside the engine's, where the engine looks for it (decision 0040).
  bundleWorker(root, new URL('../bfd/bfd-worker.ts', import.meta.url), new URL('bfd-worker.mjs', dir));
  const out = bundleWorker(root, url, new URL('engine-worker.mjs', dir));
  return new Worker(out, { stdout: false, stderr: false, resourceLimits: ENGINE_LIMITS });
}

/** Bundle one worker entry to `out` unless the file there is already the same. */
function bundleWorker(root: URL, entry: URL, out: URL): URL {
  const require = createRequire(import.meta.url);
  const esbuild = require('esbuild') as typeof import('esbuild');
  const r = esbuild.buildSync({
    absWorkingDir: fileURLToPath(root),
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    outfile: fileURLToPath(out),
    logLevel: 'warning',
  });
  const code = r.outputFiles[0]!.contents;
  let same = false;
  try {
    same = Buffer.from(readFileSync(out)).equals(Buffer.from(code));
  } catch {
    /* not built yet */
  }
  if (!same) {
    // Written under a temporary name and renamed: a worker starting meanwhile reads a whole file.
    const tmp = new URL(`${out.pathname.split('/').pop()!}.${process.pid}.${Date.now()}.tmp`, out);
    writeFileSync(tmp, code);
    renameSync(tmp, out);
  }
  return out;
}

/**
 * The engine's V8 heap: a small young generation (its garbage is short-lived
 * message data and pull buffers; the routes live in typed arrays outside the
 * heap), as the main thread's --max-semi-space-size=1.
 */
const ENGINE_LIMITS = { maxYoungGenerationSizeMb: 3 };


/** The default worker script next to this module. */
function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './engine-worker.ts' : './engine-worker.cjs', here);
}

/**
 * The session engine's thread, started before its options are known:
 * `herald run` starts it first, so the thread boots (a Node environment and
 * its bundle: the longest step before the first OPEN) while the main thread
 * loads the daemon and reads the config. Until an EngineClient takes it, the
 * thread does not keep the process alive, so a config error still ends
 * herald at once, and a failure is kept for the client that takes it.
 */
export class EngineThread {
  readonly worker: Worker;
  /** Why the thread failed or exited before it was taken (null: it did not). */
  failure: Error | null = null;
  private readonly onError = (e: Error): void => {
    this.failure ??= e;
  };
  private readonly onExit = (code: number): void => {
    this.failure ??= new Error(`the session engine thread exited with code ${code}`);
  };

  constructor(workerUrl: URL = defaultWorkerUrl()) {
    this.worker = workerUrl.pathname.endsWith('.ts') ? tsWorker(workerUrl) : new Worker(workerUrl, { stdout: false, stderr: false, resourceLimits: ENGINE_LIMITS });
    this.worker.unref();
    this.worker.on('error', this.onError);
    this.worker.on('exit', this.onExit);
  }

  /** Hand the thread over: it keeps the process alive from now on; returns its failure so far. */
  take(): Error | null {
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    this.worker.ref();
    return this.failure;
  }
}

/** Start the session engine's thread now, for an EngineClient to take later (`EngineClientOptions.thread`). */
export function startEngineThread(workerUrl?: URL): EngineThread {
  return new EngineThread(workerUrl);
}

export class EngineClient implements Engine {
  private readonly worker: Worker;
  private readonly log: Logger;
  private readonly listeners = new Set<(e: SpeakerEvent) => void>();
  private readonly calls = new ThreadCalls();
  private seq = 0;
  private peers: PeerSnapshot[] = [];
  private speakerStats: SpeakerStats = { unknownConnections: 0, unknownAddresses: 0, unknownSuppressed: 0 };
  private timers: TimerLateness | null = null;
  private stopped = false;
  /** The listener's address once started (port 0 picks one). */
  listenAddress: { address: string; port: number; family: string } | null = null;

  constructor(opts: EngineClientOptions) {
    const { logger, workerUrl, thread, onFatal, ...options } = opts;
    this.log = logger ?? silentLogger;
    const t = thread ?? new EngineThread(workerUrl);
    this.worker = t.worker;
    const early = t.take();
    this.worker.on('message', (m: FromEngine) => this.onMessage(m));
    const fatal = (err: Error): void => {
      if (this.stopped || !this.calls.failAll(err)) return;
      (onFatal ?? ((e: Error) => {
        this.log.error({ err: e.message }, 'the BGP session engine failed; herald cannot announce anything and exits');
        process.exit(70);
      }))(err);
    };
    this.worker.on('error', fatal);
    this.worker.on('exit', (code) => fatal(new Error(`the session engine thread exited with code ${code}`)));
    // A thread that failed while booting fails the requests, as one failing now would.
    if (early) queueMicrotask(() => fatal(early));
    // Its failure is the thread's failure, which `fatal` reports.
    this.request('init', { op: 'init', id: 0, options }).catch(() => {});
  }

  // ------------------------------------------------------------ the contract

  async start(): Promise<void> {
    this.listenAddress = await this.request('start', { op: 'start', id: 0 });
  }

  addPeer(cfg: PeerConfig): void {
    this.post({ op: 'addPeer', config: cfg });
  }

  updatePeer(cfg: PeerConfig): Promise<PeerChange> {
    return this.request('updatePeer', { op: 'updatePeer', id: 0, config: cfg });
  }

  async removePeer(name: string, text?: string): Promise<void> {
    await this.request('removePeer', { op: 'removePeer', id: 0, name, ...(text !== undefined ? { text } : {}) });
  }

  applyGroups(ops: readonly GroupOp[]): number {
    const seq = ++this.seq;
    // The caller keeps its lists (the reconciler diffs against them next
    // time): the engine gets copies, moved rather than cloned, so a million
    // prefixes cost one copy and no serialised intermediate.
    const transfer: ArrayBuffer[] = [];
    const moved = ops.map((op) => {
      if (op.remove) return op;
      const words = op.prefixes.words.slice();
      transfer.push(words.buffer);
      return { ...op, prefixes: { words, count: op.prefixes.count } };
    });
    if (this.calls.failure) throw this.calls.failure;
    this.worker.postMessage({ op: 'applyGroups', seq, ops: moved } satisfies Command, transfer);
    return seq;
  }

  on(fn: (e: SpeakerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  snapshot(): PeerSnapshot[] {
    return this.peers;
  }

  /** The engine thread's timer lateness as of its last push (at most a second old). */
  lateness(): TimerLateness | null {
    return this.timers;
  }

  standing(prefix: string): Promise<PrefixStanding[]> {
    return this.request('standing', { op: 'standing', id: 0, prefix });
  }

  groupStanding(peer: string, group: number): Promise<GroupStanding | null> {
    return this.request('groupStanding', { op: 'groupStanding', id: 0, peer, group });
  }

  lookupReceived(address: string): Promise<ReceivedMatch[]> {
    return this.request('lookupReceived', { op: 'lookupReceived', id: 0, address });
  }

  peerAction(name: string, action: PeerAction, opts: { message?: string } = {}): Promise<PeerActionResult> {
    return this.request('peerAction', { op: 'peerAction', id: 0, name, action, ...(opts.message !== undefined ? { message: opts.message } : {}) });
  }

  stats(): SpeakerStats {
    return this.speakerStats;
  }

  received(peer: string, prefix?: string): AsyncIterable<ReceivedRoute[]> | null {
    if (!this.peers.some((p) => p.name === peer)) return null;
    const batches = new PushQueue<ReceivedRoute[]>();
    const id = this.calls.open({
      resolve: () => batches.end(),
      reject: (e) => batches.end(e),
      onBatch: (b) => batches.push(b as ReceivedRoute[]),
    });
    this.post({ op: 'received', id, peer, ...(prefix !== undefined ? { prefix } : {}) });
    return batches;
  }

  /** Cease every session with `text` (or leave GR peers keeping our routes), then end the engine thread. */
  async stop(text?: string, opts: { graceful?: boolean } = {}): Promise<string[]> {
    if (this.stopped || this.calls.failure) return [];
    try {
      return await this.request('stop', { op: 'stop', id: 0, ...(text !== undefined ? { text } : {}), ...(opts.graceful ? { graceful: true } : {}) });
    } finally {
      this.stopped = true;
      await this.worker.terminate();
    }
  }

  routesComplete(): void {
    this.post({ op: 'routesComplete' });
  }

  // ------------------------------------------------------------ plumbing

  private post(c: Command): void {
    if (this.calls.failure) throw this.calls.failure;
    this.worker.postMessage(c);
  }

  private request<K extends keyof Replies>(_kind: K, c: Command & { id: number }): Promise<Replies[K]> {
    return this.calls.call<Replies[K]>((id) => this.worker.postMessage({ ...c, id }));
  }

  private onMessage(m: FromEngine): void {
    switch (m.kind) {
      case 'reply':
        this.calls.settle(m);
        return;
      case 'batch':
        this.calls.waiter(m.id)?.onBatch?.(m.batch);
        return;
      case 'snapshot':
        this.peers = m.peers;
        this.speakerStats = m.stats;
        this.timers = m.lateness;
        return;
      case 'event':
        relay(this.listeners, m.event, this.log, 'engine');
        return;
      case 'log':
        this.log[m.level](m.obj, m.msg);
        return;
    }
  }
}
