/**
 * BFD in a thread of its own (decision 0040): the session engine's handle on
 * a BfdDriver that runs in a worker thread started from here
 * (bfd-worker.ts).
 *
 * Owns: that worker, the requests to it and their answers, the last
 * snapshot of every session it pushed, and the events it relays. It makes
 * no BFD decision; the driver in the worker does, exactly as in process.
 *
 * Why a thread: BFD is the one job in herald whose deadlines are shorter
 * than any work herald does. A 100 ms × 3 session must send every 100 ms
 * (less jitter) whatever else happens, and the session engine does other
 * work in slices: packing a million routes, a reload's diff. On a loaded
 * 2-core machine a 50 ms slice can take 500 ms of wall time, and the
 * router declared herald dead although nothing had failed (measured:
 * largest transmit gap 516 ms with the driver in the engine thread). An
 * idle thread that only waits for its timer and its sockets is scheduled at
 * once when it wakes, whatever the engine is doing, and its own V8 heap
 * is a few megabytes, so no collection of the engine's heap stops it.
 *
 * A watchdog keeps the thread honest: the engine sends a heartbeat every
 * HEARTBEAT_MS; a BFD thread that hears none for `watchdogMs` (default 5 s,
 * far beyond any engine stall measured under load and below common hold
 * times) ends itself, so its sessions fall silent and every peer declares
 * herald down within its Detection Time, and the engine fails with it.
 * A BFD that outlives a hung session engine would keep routes pointing at a
 * host that can no longer speak BGP.
 */
import { Worker } from 'node:worker_threads';
import { relay, ThreadCalls } from '../driver/thread-calls.js';
import type { Logger } from '../driver/types.js';
import type { BfdDriverEvent, BfdSessionOptions, BfdSessionSnapshot, BfdSessionUpdate } from './driver.js';

/** How often the engine tells the BFD thread it is alive. */
export const HEARTBEAT_MS = 250;
/** Silence from the engine after which the BFD thread ends itself. */
export const WATCHDOG_MS = 5_000;

/** What the BFD thread is started with (workerData). */
export interface BfdThreadData {
  ports?: { singleHop?: number; multihop?: number };
  watchdogMs: number;
  /** How often snapshots are pushed when nothing happens (counters, uptime). */
  snapshotEveryMs: number;
}

export type ToBfd =
  | { op: 'add'; id: number; opts: BfdSessionOptions }
  | { op: 'remove'; id: number; name: string }
  | { op: 'update'; id: number; name: string; update: BfdSessionUpdate }
  | { op: 'close'; id: number }
  | { op: 'alive' };

export type FromBfd =
  | { kind: 'reply'; id: number; error?: string }
  | { kind: 'event'; event: BfdDriverEvent }
  | { kind: 'snapshot'; sessions: BfdSessionSnapshot[] }
  | { kind: 'log'; level: keyof Logger; obj: Record<string, unknown>; msg: string };

export interface BfdThreadOptions {
  /** The worker script (bfd-worker.mjs beside the engine's bundle). */
  url: URL;
  logger: Logger;
  ports?: { singleHop?: number; multihop?: number };
  watchdogMs?: number;
  /** The thread failed or ended (the watchdog, an uncaught error): the engine must not go on without it. */
  onFatal: (err: Error) => void;
}

/** The subset of BfdDriver the speaker uses, served by the BFD thread. */
export class BfdThread {
  private readonly worker: Worker;
  private readonly log: Logger;
  private readonly listeners = new Set<(e: BfdDriverEvent) => void>();
  private readonly calls = new ThreadCalls();
  private readonly sessions = new Map<string, BfdSessionSnapshot>();
  private readonly heartbeat: NodeJS.Timeout;
  private closing = false;

  constructor(opts: BfdThreadOptions) {
    this.log = opts.logger;
    const data: BfdThreadData = { watchdogMs: opts.watchdogMs ?? WATCHDOG_MS, snapshotEveryMs: 500, ...(opts.ports ? { ports: opts.ports } : {}) };
    // A small young generation: the thread's garbage is a few packets and snapshots.
    this.worker = new Worker(opts.url, { workerData: data, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 } });
    this.worker.on('message', (m: FromBfd) => this.onMessage(m));
    const fail = (err: Error): void => {
      if (!this.calls.failAll(err)) return;
      clearInterval(this.heartbeat);
      if (!this.closing) opts.onFatal(err);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the BFD thread ended (exit code ${code})`)));
    // The heartbeat is a plain interval, not a Clock timer: it measures this
    // thread's real liveness, which a test's ManualClock cannot stand for.
    this.heartbeat = setInterval(() => this.worker.postMessage({ op: 'alive' } satisfies ToBfd), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  on(fn: (e: BfdDriverEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  addSession(opts: BfdSessionOptions): Promise<void> {
    return this.request((id) => ({ op: 'add', id, opts }));
  }

  removeSession(name: string): Promise<void> {
    return this.request((id) => ({ op: 'remove', id, name })).finally(() => this.sessions.delete(name));
  }

  /** A timer or role change; a refusal (values the config schema already bounds) is logged. */
  updateSession(name: string, update: BfdSessionUpdate): void {
    this.request((id) => ({ op: 'update', id, name, update })).catch((err: Error) => this.log.error({ session: name, err: err.message }, 'BFD session change refused'));
  }

  /** The session's last pushed snapshot (at most snapshotEveryMs old; fresh with every state change). */
  session(name: string): BfdSessionSnapshot | undefined {
    return this.sessions.get(name);
  }

  /** AdminDown on every session, then end the thread. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    if (this.calls.failure) return;
    try {
      await this.request((id) => ({ op: 'close', id }));
    } finally {
      await this.worker.terminate();
    }
  }

  private request(make: (id: number) => ToBfd): Promise<void> {
    return this.calls.call<void>((id) => this.worker.postMessage(make(id)));
  }

  private onMessage(m: FromBfd): void {
    switch (m.kind) {
      case 'reply':
        this.calls.settle(m);
        return;
      case 'snapshot':
        this.sessions.clear();
        for (const s of m.sessions) this.sessions.set(s.name, s);
        return;
      case 'event':
        relay(this.listeners, m.event, this.log, 'BFD');
        return;
      case 'log':
        this.log[m.level](m.obj, m.msg);
        return;
    }
  }
}
