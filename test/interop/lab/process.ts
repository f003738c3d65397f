// Process plumbing for the interop lab: run a command to completion, start a
// long-lived daemon inside a network namespace, and stop exactly the
// processes the lab started (plus their descendants, found through /proc).
// Every pid the lab starts is registered here so an exit or signal handler
// can kill it even when a test crashes before its own cleanup runs.
// No RFC: this is test infrastructure.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync } from 'node:fs';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Run a command to completion and return its output; throw on a non-zero exit unless allowFail. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 256 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        const result = { stdout: String(stdout), stderr: String(stderr), code };
        if (code !== 0 && opts.allowFail !== true) {
          reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${result.stderr.trim() || result.stdout.trim()}`));
          return;
        }
        resolve(result);
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Run a command inside a namespace (`ip netns exec NS cmd args`). */
export function nsRun(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** A daemon started by the lab; `pid` is the daemon itself (`ip netns exec` execs, it does not fork). */
export interface LabProcess {
  readonly pid: number;
  readonly name: string;
  /** Resolves with the exit code (or null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** Send SIGTERM to the process and its descendants, SIGKILL after graceMs; resolve once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, string>();

export interface SpawnOptions {
  /** File that receives stdout and stderr (appended). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Start a long-lived command inside a namespace with output to a log file; register its pid for cleanup. */
export function spawnInNs(ns: string, name: string, cmd: string, args: readonly string[], opts: SpawnOptions): LabProcess {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    detached: false,
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (${cmd}) in ${ns}`);
  live.set(pid, name);
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running = false;
      live.delete(pid);
      resolve(code);
    });
    child.once('error', () => {
      running = false;
      live.delete(pid);
      resolve(null);
    });
  });
  return {
    pid,
    name,
    exited,
    isRunning: () => running,
    async stop(graceMs = 3_000): Promise<void> {
      if (!running) return;
      const family = [...descendants(pid), pid];
      signalAll(family, 'SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') signalAll([...descendants(pid), ...family], 'SIGKILL');
      await exited;
      // Helpers that outlived their parent (e.g. a `cat` holding a FIFO) go too.
      const leftovers = family.filter(isAlive);
      if (leftovers.length > 0) {
        signalAll(leftovers, 'SIGTERM');
        await sleep(200);
        signalAll(leftovers.filter(isAlive), 'SIGKILL');
      }
    },
  };
}

/** List the pids whose ancestry leads to pid (children, grandchildren, ...), read from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ..." — comm may contain spaces, so split after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(rest[1]));
    } catch {
      // the process exited while we were looking
    }
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const p = frontier.pop() as number;
    for (const [child, parent] of parentOf) {
      if (parent === p && !out.includes(child)) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

/** Return the command name of a live pid, or undefined if it is gone. */
export function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie still answers signal 0; treat it as gone
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** Kill every registered daemon and its descendants with SIGKILL, synchronously (exit-handler use). */
export function killAllRegisteredSync(): void {
  for (const pid of [...live.keys()]) {
    signalAll([...descendants(pid), pid], 'SIGKILL');
    live.delete(pid);
  }
}

/** List the pids the lab started that are still running. */
export function registeredPids(): number[] {
  return [...live.keys()];
}

/** Delete a namespace synchronously, ignoring a namespace that is already gone. */
export function deleteNsSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Wait ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll fn until it returns a value other than undefined, or throw describe() after timeoutMs. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => string | Promise<string>,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await sleep(intervalMs);
  }
}
