// Exec checks that daemonize leave nothing behind (issue 12: "exec checks
// run in their own process group and are reaped completely; verify with a
// daemonizing script"). Real scripts, real processes: each writes the pid of
// what it daemonized to a file; after the check, that pid must not exist at
// all — not running, and not a zombie waiting for herald to reap it.
// Before this (kill of the check's process group only) every one of these
// pids outlived the check, reparented to init or to herald.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptOrphans, orphanTotals, sweepsDone } from '../../../../src/host/orphans.js';
import { checkExec } from '../../../../src/sources/health/checks/exec.js';

const linux = process.platform === 'linux';

/** Run `script` as an exec check (the config's string form: /bin/sh -c). */
function run(script: string, timeoutMs = 5_000): ReturnType<typeof checkExec> {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), timeoutMs);
  return checkExec({ kind: 'exec', argv: ['/bin/sh', '-c', script], env: {}, timeoutMs }, ac.signal).finally(() => clearTimeout(t));
}

/** The pid a script wrote to `file` (waiting a moment for it). */
async function pidIn(file: string): Promise<number> {
  for (let i = 0; i < 200 && !(existsSync(file) && readFileSync(file, 'utf8').trim() !== ''); i++) await new Promise((r) => setTimeout(r, 10));
  return Number(readFileSync(file, 'utf8').trim());
}

/** Whether `pid` exists, and whether it is a zombie. */
function procState(pid: number): 'gone' | 'zombie' | 'running' {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) === 'Z' ? 'zombie' : 'running';
  } catch {
    return 'gone';
  }
}

describe.runIf(linux)('exec checks that daemonize leave no process behind', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-orphans-'));
    // As the daemon does at start when a service has an exec check.
    expect(adoptOrphans()).toBe(true);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('setsid cmd &: the daemon in its own session is killed and reaped when the check ends', async () => {
    const f = join(dir, 'a.pid');
    const t0 = performance.now();
    const r = await run(`setsid sh -c 'echo $$ > ${f}; exec sleep 300' > /dev/null 2>&1 & sleep 0.1; echo checked`);
    expect(r).toMatchObject({ ok: true, detail: expect.stringContaining('exited 0: checked') });
    const pid = await pidIn(f);
    await sweepsDone();
    expect(procState(pid)).toBe('gone');
    console.log(`setsid daemon ${pid}: gone ${(performance.now() - t0).toFixed(0)} ms after the check started`);
  });

  it('a double fork (the daemon’s own child too) and a timeout: everything of the run is gone', async () => {
    const f1 = join(dir, 'b1.pid');
    const f2 = join(dir, 'b2.pid');
    // The check daemonizes a process that starts a child of its own, then hangs until the timeout.
    const r = await run(`(setsid sh -c 'sleep 300 & echo $! > ${f2}; echo $$ > ${f1}; wait' > /dev/null 2>&1 &); sleep 30`, 400);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/timed out after \d+ms; process group killed/);
    const pids = [await pidIn(f1), await pidIn(f2)];
    await sweepsDone();
    for (const pid of pids) expect(procState(pid), `pid ${pid}`).toBe('gone');
  });

  it('an orphan that ended by itself is reaped, not left a zombie of herald', async () => {
    const f = join(dir, 'c.pid');
    // The subshell exits at once, so the daemonized process is reparented to
    // herald (the subreaper) while the check still runs; it then ends by
    // itself: a zombie of herald that libuv, which waits only for its own
    // children, would never reap.
    const before = orphanTotals().reaped;
    const r = await run(`(setsid sh -c 'echo $$ > ${f}' > /dev/null 2>&1 &); sleep 0.3`);
    expect(r.ok).toBe(true);
    const pid = await pidIn(f);
    await sweepsDone();
    expect(procState(pid)).toBe('gone');
    expect(orphanTotals().reaped).toBeGreaterThan(before);
  });

  it('what another run still runs is not touched', async () => {
    const f = join(dir, 'd.pid');
    const slow = run(`setsid sh -c 'echo $$ > ${f}; exec sleep 300' > /dev/null 2>&1 & sleep 1`);
    const pid = await pidIn(f);
    // A second check ends meanwhile and sweeps its own run only.
    expect((await run('true')).ok).toBe(true);
    await sweepsDone();
    expect(procState(pid)).toBe('running');
    await slow;
    await sweepsDone();
    expect(procState(pid)).toBe('gone');
  });
});
