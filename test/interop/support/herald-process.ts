/**
 * Parent side of herald-child.ts: start a herald speaker inside a network
 * namespace, send it commands, wait for its events, stop or freeze it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PeerConfig, PeerSnapshot, RouteSpec, SpeakerEvent, SpeakerOptions } from '../../../bgp/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  event?: SpeakerEvent;
  ready?: boolean;
}

export class HeraldProcess {
  readonly events: SpeakerEvent[] = [];
  readonly stderr: string[] = [];
  /** Every stdout line as received (replies and events), for checks such as "no secret is ever printed". */
  readonly stdout: string[] = [];
  /** Date.now() in this process when each entry of `events` arrived (same index). */
  readonly eventTimes: number[] = [];
  private child: ChildProcess | null = null;
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private eventWaiters: { pred: (e: SpeakerEvent) => boolean; resolve: (e: SpeakerEvent) => void }[] = [];
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly ns: string,
    readonly speaker: SpeakerOptions,
    readonly peers: PeerConfig[],
    /** The child script (same stdin/stdout protocol); default herald-child.ts (a bare Speaker). */
    readonly script: string = path.join(here, 'herald-child.ts'),
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawn the child in the namespace and wait until it listens. */
  async start(): Promise<void> {
    // `node --import tsx` keeps herald in one process (the tsx CLI would fork
    // a second one), so the pid we signal (SIGSTOP in hold-timer tests) is herald's.
    const child = spawn(
      'ip',
      ['netns', 'exec', this.ns, process.execPath, ...(process.env.HERALD_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(this.script.endsWith('.mjs') ? [] : ['--import', 'tsx']), this.script, JSON.stringify({ speaker: this.speaker, peers: this.peers })],
      { stdio: ['pipe', 'pipe', 'pipe'], cwd: root },
    );
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    readline.createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l));
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`herald child exited (${code}): ${this.stderr.slice(-5).join('\n')}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        this.stdout.push(line);
        let m: Reply;
        try {
          m = JSON.parse(line) as Reply;
        } catch {
          return;
        }
        if (m.ready === true) resolve();
        else if (m.ready === false) reject(new Error(`herald child failed: ${m.error}`));
        else if (m.event) this.onEvent(m.event);
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.ok) p?.resolve(m.result);
          else p?.reject(new Error(m.error));
        }
      });
    });
    await ready;
  }

  private onEvent(e: SpeakerEvent): void {
    this.events.push(e);
    this.eventTimes.push(Date.now());
    this.eventWaiters = this.eventWaiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  /** Send a command and wait for its reply. */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const child = this.child;
    if (!child?.stdin) return Promise.reject(new Error('herald child not running'));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    });
  }

  setRoutes(peer: string, routes: RouteSpec[]): Promise<void> {
    return this.call('setRoutes', { peer, routes });
  }

  snapshot(): Promise<PeerSnapshot[]> {
    return this.call('snapshot');
  }

  received(peer: string): Promise<{ prefix: string; nextHop?: string; asPath?: string; med?: number; communities?: string[] }[]> {
    return this.call('received', { peer });
  }

  /** Wait for an event matching `pred` (already seen ones count). */
  waitEvent(pred: (e: SpeakerEvent) => boolean, timeoutMs = 30_000): Promise<SpeakerEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for a herald event; last: ${JSON.stringify(this.events.slice(-3))}`)), timeoutMs);
      this.eventWaiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }

  /** Wait for an event matching `pred` among those arriving at index `from` of `events` or later. */
  waitEventFrom(from: number, pred: (e: SpeakerEvent) => boolean, timeoutMs = 30_000): Promise<SpeakerEvent> {
    const old = new Set(this.events.slice(0, from));
    return this.waitEvent((e) => !old.has(e) && pred(e), timeoutMs);
  }

  /** Routes of the peer's latest desired set that are not sent, with the reason. */
  unsendable(peer: string): Promise<{ prefix: string; reason: string }[]> {
    return this.call('unsendable', { peer });
  }

  /** Wait for the named peer to reach Established. */
  async waitEstablished(peer: string, timeoutMs = 30_000): Promise<void> {
    await this.waitEvent((e) => e.type === 'established' && e.peer === peer, timeoutMs);
  }

  /**
   * Graceful stop (Cease/Administrative Shutdown with `text`), then exit.
   * `graceful`: the planned-restart stop instead, which leaves peers with
   * Graceful Restart keeping herald's routes.
   */
  async stop(text = 'herald test stop', opts: { graceful?: boolean } = {}): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    await this.call('stop', { text, ...(opts.graceful ? { graceful: true } : {}) });
    await this.call('exit').catch(() => {});
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
    this.kill();
  }

  /** End the child by pid (SIGKILL) if it still runs. */
  kill(): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  /** Freeze / thaw the child (hold-timer tests). */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }
}
