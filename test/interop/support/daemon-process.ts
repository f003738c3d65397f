/**
 * The real `herald run --config F` as a child process inside a network
 * namespace (`ip netns exec NS node src/bin/herald.mjs run --config F`), for
 * end-to-end tests: collects its pino JSON lines from stdout, sends signals
 * to its pid (SIGHUP reload, SIGTERM drain-and-stop), and waits for log
 * lines. `ip netns exec` execs, so the pid held is herald's own node process.
 * Every pid started here is killed (SIGKILL) from an exit handler if a test
 * crashes before stop()/kill(); nothing else is ever signalled.
 * No RFC: this is test infrastructure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const ENTRY = path.join(root, 'src/bin/herald.mjs');

/** pino's numeric levels. */
export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;

/** One pino JSON line from herald's stdout, with the wall time it arrived. */
export interface LogLine {
  level: number;
  msg: string;
  time?: string;
  /** Wall-clock ms (Date.now()) when the test read the line. */
  readAt: number;
  /** Index in DaemonProcess.lines. */
  index: number;
  [key: string]: unknown;
}

export type LogPredicate = (l: LogLine) => boolean;

const live = new Set<ChildProcess>();
let exitHandler = false;

function installExitHandler(): void {
  if (exitHandler) return;
  exitHandler = true;
  process.once('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

export interface DaemonProcessOptions {
  /** Label for messages (default the namespace). */
  name?: string;
  /** Extra environment (e.g. HERALD_LOG_LEVEL=debug). */
  env?: Record<string, string>;
  /**
   * Keep only the log lines this accepts in `lines` (waiters still see every
   * line; the others are counted in `dropped`). For runs that log hundreds of
   * thousands of lines (10,000 services flapping, a scan from 300k addresses).
   */
  keepLine?: LogPredicate;
  /** Options for node before herald's entry (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

/** One `herald run` child process in a namespace. */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  /** stdout lines that were not JSON, and all of stderr. */
  readonly other: string[] = [];
  /** Lines not kept (see DaemonProcessOptions.keepLine), by message. */
  readonly dropped = new Map<string, number>();
  readonly name: string;
  private child: ChildProcess | null = null;
  private waiters: { pred: LogPredicate; from: number; resolve: (l: LogLine) => void }[] = [];
  /** Resolves with the exit code (null when killed by a signal) once herald has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });

  constructor(
    readonly ns: string,
    readonly configPath: string,
    private readonly opts: DaemonProcessOptions = {},
  ) {
    this.name = opts.name ?? ns;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Tell whether the process still runs. */
  running(): boolean {
    const c = this.child;
    return c !== null && c.exitCode === null && c.signalCode === null;
  }

  /** Spawn herald in the namespace and wait for its "herald started" line (or throw with its output when it exits first). */
  async start(timeoutMs = 30_000): Promise<void> {
    installExitHandler();
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, ...(this.opts.nodeArgs ?? []), ENTRY, 'run', '--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: root,
      env: { ...process.env, ...this.opts.env },
    });
    this.child = child;
    live.add(child);
    this.exited = new Promise((r) =>
      child.once('exit', (code, signal) => {
        live.delete(child);
        r({ code, signal });
      }),
    );
    readline.createInterface({ input: child.stderr! }).on('line', (l) => this.other.push(l));
    readline.createInterface({ input: child.stdout! }).on('line', (l) => this.onLine(l));
    const started = this.waitLog((l) => l.msg === 'herald started', timeoutMs);
    const exited = this.exited.then(({ code, signal }) => {
      throw new Error(`${this.name}: herald exited (code ${code}, signal ${signal}) before it started:\n${this.tail()}`);
    });
    await Promise.race([started, exited]);
  }

  private onLine(text: string): void {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.other.push(text);
      return;
    }
    if (typeof o !== 'object' || o === null || typeof o.msg !== 'string') {
      this.other.push(text);
      return;
    }
    const line = { ...o, readAt: Date.now(), index: this.lines.length } as LogLine;
    if (this.opts.keepLine && !this.opts.keepLine(line)) {
      this.dropped.set(line.msg, (this.dropped.get(line.msg) ?? 0) + 1);
      for (const w of this.waiters) if (w.pred(line)) w.resolve(line);
      this.waiters = this.waiters.filter((w) => !w.pred(line));
      return;
    }
    this.lines.push(line);
    if (process.env.HERALD_DAEMON_ECHO === '1') console.log(`[${this.name}] ${text}`);
    this.waiters = this.waiters.filter((w) => {
      if (line.index < w.from || !w.pred(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /** Index of the next log line; pass it as `from` to wait only for lines after this point. */
  mark(): number {
    return this.lines.length;
  }

  /** Log lines from index `from` on that match. */
  find(pred: LogPredicate, from = 0): LogLine[] {
    return this.lines.slice(from).filter(pred);
  }

  /** Wait for a log line matching pred at index ≥ from (lines already read count). */
  waitLog(pred: LogPredicate, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    const seen = this.lines.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, from, resolve: (l: LogLine) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for a herald log line; last lines:\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Send a signal to herald's pid. */
  signal(sig: NodeJS.Signals): void {
    if (!this.running()) throw new Error(`${this.name}: herald is not running (cannot send ${sig})`);
    this.child!.kill(sig);
  }

  /** SIGTERM (drain, withdraw, Cease), then wait for the exit; SIGKILL after graceMs. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running()) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') this.kill();
    return this.exited;
  }

  /** SIGKILL herald if it still runs (cleanup). */
  kill(): void {
    if (this.running()) this.child!.kill('SIGKILL');
  }

  /** The last n lines of everything herald wrote, for failure messages. */
  tail(n = 25): string {
    const json = this.lines.slice(-n).map((l) => {
      const { readAt: _r, index: _i, ...rest } = l;
      return JSON.stringify(rest);
    });
    return [...json, ...this.other.slice(-n)].join('\n');
  }
}
