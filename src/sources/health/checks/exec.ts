/**
 * The `exec` check: run a program (argv, no shell unless the config's string
 * form asked for `/bin/sh -c`), healthy when it exits 0.
 *
 * The program runs as the leader of its own process group (spawn detached),
 * so a timeout can kill everything it started with one kill(-pgid, SIGKILL);
 * a helper it left running after it exited is killed the same way. What
 * left the group (a daemonizing `setsid cmd &`, a double fork) is found by
 * the run's HERALD_CHECK_RUN mark, killed and reaped (src/host/orphans.ts,
 * decision 0033), so checks never leak processes. stdout and stderr are
 * kept together, in arrival order, up to OUTPUT_LIMIT bytes, for logs and
 * `routes explain`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { after, realClock } from '../../../../bgp/index.js';
import type { ExecCheck } from '../../../config/index.js';
import { CHECK_RUN_VAR, newRunToken, sweepRun } from '../../../host/orphans.js';
import { OUTPUT_LIMIT, type CheckResult } from '../types.js';
import { errText, settleOnce } from './common.js';

/** How long to wait for stdout/stderr to drain after the program exits. */
const DRAIN_MS = 100;

/** Kill a process group; ESRCH (already gone) is fine. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone already
  }
}

/** Collect output up to the limit, counting what was dropped. */
class OutputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  add(b: Buffer): void {
    const room = OUTPUT_LIMIT - this.size;
    if (room <= 0) {
      this.dropped += b.length;
      return;
    }
    const keep = b.length <= room ? b : b.subarray(0, room);
    this.chunks.push(keep);
    this.size += keep.length;
    this.dropped += b.length - keep.length;
  }

  text(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `${s}…[${this.dropped} more bytes dropped]` : s;
  }
}

/** First non-empty line of the output, shortened, for the one-line detail. */
function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}

/** Name the command the way an operator wrote it, shortened. */
function commandText(argv: readonly string[]): string {
  const s = argv[0] === '/bin/sh' && argv[1] === '-c' && argv.length === 3 ? argv[2]! : argv.join(' ');
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** Run the program; exit 0 is healthy. */
export function checkExec(spec: ExecCheck, signal: AbortSignal): Promise<CheckResult> {
  const out = new OutputBuffer();
  const cmd = commandText(spec.argv);
  let child: ChildProcess | undefined;
  const token = newRunToken();
  /** The group and whatever left it: killed once the check is over, the result not delayed. */
  let swept = false;
  const cleanUp = (): void => {
    killGroup(child?.pid);
    if (swept || child?.pid === undefined) return;
    swept = true;
    void sweepRun(token);
  };
  return settleOnce(
    signal,
    (ms) => {
      cleanUp();
      return { ok: false, detail: `exec ${cmd} timed out after ${Math.round(ms)}ms; process group killed`, output: out.text() };
    },
    (done) => {
      const [file, ...args] = spec.argv;
      if (file === undefined) {
        done({ ok: false, detail: 'exec: empty command' });
        return () => {};
      }
      child = spawn(file, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...spec.env, [CHECK_RUN_VAR]: token },
        ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      });
      child.stdout?.on('data', (b: Buffer) => out.add(b));
      child.stderr?.on('data', (b: Buffer) => out.add(b));
      child.once('error', (e) => done({ ok: false, detail: `exec ${cmd} could not start: ${errText(e)}` }));
      let drain: (() => void) | undefined;
      const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
        drain?.();
        cleanUp();
        const text = out.text();
        const line = firstLine(text);
        const tail = line ? `: ${line}` : '';
        if (code === 0) done({ ok: true, detail: `exec ${cmd} exited 0${tail}`, output: text });
        else if (sig) done({ ok: false, detail: `exec ${cmd} killed by ${sig}${tail}`, output: text });
        else done({ ok: false, detail: `exec ${cmd} exited ${code}${tail}`, output: text });
      };
      // 'exit' comes before the pipes close; give them a moment to drain, but
      // a background helper holding them open must not keep the probe waiting.
      child.once('exit', (code, sig) => {
        drain = after(realClock, DRAIN_MS, () => finish(code, sig));
        child?.once('close', () => finish(code, sig));
      });
      return () => {
        drain?.();
        child?.stdout?.destroy();
        child?.stderr?.destroy();
      };
    },
  );
}
