/**
 * What an exec health check leaves running is found, killed and reaped
 * (issue 12, decision 0033). Killing the check's process group is not
 * enough: a script that daemonizes (`setsid cmd &`, a double fork) moves
 * its helper into a session and group of its own, and when the script ends
 * the helper is reparented — to init, or, when herald is a child subreaper
 * (prctl PR_SET_CHILD_SUBREAPER, `adoptOrphans`), to herald.
 *
 * - Marking: every exec check runs with `HERALD_CHECK_RUN=<token>` in its
 *   environment; what it starts inherits it, whatever session or group it
 *   moves to (a program that clears its environment escapes this; see the
 *   decision record).
 * - Finding: as a subreaper, herald looks only at its own children
 *   (/proc/self/task/N/children) and their descendants; otherwise at every
 *   process in /proc. A live process with the run's token is killed
 *   (SIGKILL, its own group too when it leads one).
 * - Reaping: a killed process whose parent is herald is waited for
 *   (waitpid on that pid only), and so is a zombie child that no Node
 *   ChildProcess owns at two passes in a row (an adopted orphan that ended
 *   by itself; between the passes libuv has had its turn for its own):
 *   libuv waits only for the pids it spawned, so these would stay zombies.
 *
 * Linux only (/proc); elsewhere sweeping does nothing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { becomeSubreaper, reapChild } from './libc.js';

/** The environment variable that marks what one exec check run started. */
export const CHECK_RUN_VAR = 'HERALD_CHECK_RUN';

/** How long a sweep keeps looking for stragglers (children of killed ones, slow deaths). */
const SWEEP_MS = 2_000;
const SWEEP_STEP_MS = 20;

let adopted: boolean | null = null;
let runs = 0;
const inFlight = new Set<Promise<SweepResult>>();
let totals = { killed: 0, reaped: 0 };

/**
 * Make herald the subreaper of what it starts (once per process). Returns
 * true, or the reason it could not (then sweeps scan all of /proc).
 */
export function adoptOrphans(): true | string {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const r = becomeSubreaper();
  adopted = r === true;
  return r;
}

/** A fresh token for one exec check run. */
export function newRunToken(): string {
  return `${process.pid}.${++runs}.${Date.now().toString(36)}`;
}

/** What one sweep did. */
export interface SweepResult {
  /** Processes of the run found alive and killed. */
  killed: number[];
  /** Processes herald waited for (killed ones that were its children, stray zombies). */
  reaped: number[];
}

/** Processes killed and reaped by every sweep so far (for logs and tests). */
export function orphanTotals(): { killed: number; reaped: number } {
  return { ...totals };
}

/** Wait for every sweep under way (tests, shutdown). */
export async function sweepsDone(): Promise<void> {
  while (inFlight.size) await Promise.all([...inFlight]);
}

/**
 * Kill and reap whatever run `token` left behind, now and for a moment
 * after (a killed daemon's own children are reparented in turn). Resolves
 * when nothing of the run is left or SWEEP_MS passed.
 */
export function sweepRun(token: string): Promise<SweepResult> {
  if (process.platform !== 'linux') return Promise.resolve({ killed: [], reaped: [] });
  const p = sweep(token);
  inFlight.add(p);
  void p.finally(() => inFlight.delete(p));
  return p;
}

async function sweep(token: string): Promise<SweepResult> {
  const needle = Buffer.from(`${CHECK_RUN_VAR}=${token}\0`);
  const killed = new Set<number>();
  const reaped: number[] = [];
  const me = process.pid;
  const deadline = Date.now() + SWEEP_MS;
  /** Zombie children no ChildProcess owned at the last pass: reaped if still so at the next (libuv had its chance in between). */
  let strays = new Set<number>();
  for (;;) {
    let alive = 0;
    const seen = new Set<number>();
    for (const pid of candidates()) {
      const st = stat(pid);
      if (st === null) continue;
      if (st.state === 'Z') {
        if (st.ppid !== me) continue;
        if (killed.has(pid) || (strays.has(pid) && !ownedByNode(pid))) {
          if (reapChild(pid) === 'reaped') reaped.push(pid);
        } else if (!ownedByNode(pid)) {
          seen.add(pid);
          alive++;
        }
        continue;
      }
      if (!marked(pid, needle)) continue;
      alive++;
      if (killed.has(pid)) continue;
      killed.add(pid);
      kill(pid);
      if (st.pgrp === pid) kill(-pid);
    }
    strays = seen;
    if (alive === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, SWEEP_STEP_MS).unref());
  }
  totals = { killed: totals.killed + killed.size, reaped: totals.reaped + reaped.length };
  return { killed: [...killed], reaped };
}

/** Herald's descendants when it is a subreaper; else every process. */
function candidates(): number[] {
  if (adopted !== true) return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
  const out: number[] = [];
  const queue = children(process.pid);
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...children(pid));
  }
  return out;
}

/** The children of every thread of `pid` (/proc/PID/task/TID/children, Linux ≥ 3.5). */
function children(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const w of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) if (w) out.push(Number(w));
    } catch {
      // the task ended
    }
  }
  return out;
}

/** State, parent and process group from /proc/PID/stat (proc(5): the fields after the parenthesised name). */
function stat(pid: number): { state: string; ppid: number; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]) };
}

function marked(pid: number, needle: Buffer): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`);
    // The variable may be the first entry (no NUL before it) or any later one.
    return env.indexOf(needle) === 0 || env.indexOf(Buffer.concat([Buffer.from([0]), needle])) > 0;
  } catch {
    return false; // gone, or not ours to read
  }
}

/** True when a Node ChildProcess still owns `pid` (libuv will wait for it itself). */
function ownedByNode(pid: number): boolean {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  // Without the list, assume it is Node's: stealing libuv's exit status would be worse than a zombie.
  if (handles.length === 0 && !(process as unknown as { _getActiveHandles?: unknown })._getActiveHandles) return true;
  return handles.some((h) => (h as { pid?: unknown }).pid === pid);
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // ESRCH: gone already
  }
}
