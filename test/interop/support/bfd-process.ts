/**
 * Parent side of bfd-child.ts: start a herald BfdDriver inside a network
 * namespace, call it, wait for its events and snapshots.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BfdDriverEvent, BfdSessionOptions, BfdSessionSnapshot, BfdSessionUpdate } from '../../../bgp/bfd/driver.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  event?: BfdDriverEvent;
  at?: number;
  ready?: boolean;
}

/** A driver event with the child's wall-clock time of emission (ms). */
export interface TimedBfdEvent {
  event: BfdDriverEvent;
  at: number;
}

export class BfdProcess {
  readonly events: TimedBfdEvent[] = [];
  readonly stderr: string[] = [];
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(readonly ns: string) {}

  /** Spawn the child in the namespace (`node --import tsx`, one process) and wait until it answers. */
  async start(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, '--import', 'tsx', path.join(here, 'bfd-child.ts')], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: root,
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    readline.createInterface({ input: child.stderr! }).on('line', (l) => this.stderr.push(l));
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bfd child exited (${code}): ${this.stderr.slice(-5).join('\n')}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (l) => {
        let m: Reply;
        try {
          m = JSON.parse(l) as Reply;
        } catch {
          return;
        }
        if (m.ready === true) resolve();
        else if (m.event) this.events.push({ event: m.event, at: m.at ?? Date.now() });
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (m.ok) p?.resolve(m.result);
          else p?.reject(new Error(m.error));
        }
      });
    });
  }

  /** Send a command and wait for its reply. */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const stdin = this.child?.stdin;
    if (!stdin) return Promise.reject(new Error('bfd child not running'));
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      stdin.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    });
  }

  addSession(opts: BfdSessionOptions): Promise<void> {
    return this.call('addSession', { opts });
  }

  updateSession(name: string, update: BfdSessionUpdate): Promise<void> {
    return this.call('updateSession', { name, update });
  }

  setAdminDown(name: string, down: boolean): Promise<void> {
    return this.call('setAdminDown', { name, down });
  }

  async session(name: string): Promise<BfdSessionSnapshot> {
    const all = await this.call<BfdSessionSnapshot[]>('snapshot');
    const s = all.find((x) => x.name === name);
    if (!s) throw new Error(`no session ${name} in the bfd child`);
    return s;
  }

  /** Poll a session's snapshot every 50 ms until `pred` holds; throw with the last snapshot after `timeoutMs`. */
  async until(name: string, pred: (s: BfdSessionSnapshot) => boolean, timeoutMs = 15_000): Promise<BfdSessionSnapshot> {
    const t0 = Date.now();
    let last: BfdSessionSnapshot | undefined;
    for (;;) {
      last = await this.session(name);
      if (pred(last)) return last;
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out on BFD session ${name}: ${JSON.stringify(last)}\n${this.stderr.slice(-10).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Close the driver (AdminDown to every peer) and end the child. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    await this.call('close').catch(() => {});
    this.child.stdin?.end();
    const t = setTimeout(() => this.child?.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(t);
  }
}
