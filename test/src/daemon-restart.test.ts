// How a real Daemon (in this process, inside a private network namespace, so
// no BGP listener runs in the root namespace) decides that it starts after a
// planned restart (decision 0024): a fresh `herald.restart` marker beside the
// API socket, or `herald run --restart`, and only with Graceful Restart on
// some session; a stale marker is ignored; the marker is consumed either way;
// the planned-restart stop leaves one with the restart time. The wire side is
// test/interop/graceful-restart.test.ts.
import { Speaker } from '../../bgp/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, RESTART_EXIT_CODE, restartMarkerPath } from '../../src/daemon.js';
import { makeLogger } from '../../src/log.js';
import { testNetns } from '../support/netns-enter.js';

const netns = testNetns({ file: 'test/src/daemon-restart.test.ts', tag: 'restart' });

function config(dir: string, gr: string, services = ''): string {
  return `# planned-restart marker test
router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: 0 }
api: { socket: ${dir}/herald.sock }
${gr}
peers:
  - { name: up, address: 127.0.0.2, asn: 65000, families: [ipv4] }
static:
  - prefix: 198.51.100.0/24
${services}`;
}

describe.skipIf(!netns.canRun)('planned restart: the marker and --restart (network namespace)', () => {
  let dir = '';
  beforeAll(() => {
    netns.setUp();
    dir = mkdtempSync(join(tmpdir(), 'herald-restart-'));
  });
  afterAll(() => {
    netns.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Start a daemon on `cfg` with an optional marker aged `ageMs`; return whether it restarts and whether the marker survived. */
  async function startWith(cfg: string, marker: { ageMs: number; restartTime: number } | null, restart = false): Promise<{ restarting: boolean; markerLeft: boolean; d: Daemon }> {
    const path = join(dir, 'herald.yaml');
    writeFileSync(path, cfg);
    const m = join(dir, 'herald.restart');
    rmSync(m, { force: true });
    if (marker) writeFileSync(m, JSON.stringify({ stoppedAt: Date.now() - marker.ageMs, restartTime: marker.restartTime, pid: 1 }));
    // The engine in this thread, so the test can look at the speaker's End-of-RIB hold.
    const d = new Daemon(path, makeLogger('silent'), { restart, inlineEngine: (o) => new Speaker(o) });
    await d.start();
    return { restarting: d.restarting, markerLeft: existsSync(m), d };
  }

  it('a fresh marker with Graceful Restart configured: restarting, the marker consumed, End-of-RIB held until the first check', async () => {
    // A service whose first check takes 0.6 s.
    const slow = `services:
  - name: slow
    prefixes: [198.51.100.53/32]
    checks: [ { exec: { command: [sleep, "0.6"] } } ]
    interval: 1s
    jitter: 0s
`;
    const { restarting, markerLeft, d } = await startWith(config(dir, 'graceful_restart: { restart_time: 30s }', slow), { ageMs: 2_000, restartTime: 30 });
    const t0 = Date.now();
    expect(restarting).toBe(true);
    expect(markerLeft).toBe(false);
    expect((d.engine as Speaker).endOfRibDeferred).toBe(true);
    while ((d.engine as Speaker).endOfRibDeferred && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
    expect((d.engine as Speaker).endOfRibDeferred).toBe(false);
    // The first round passed and decided at once (rise 2 not needed): the service is up.
    expect(d.health!.snapshot().get('slow')!.state).toBe('up');
    await d.stop('test');
  });

  it('a stale marker (older than its restart time) is ignored and consumed', async () => {
    const { restarting, markerLeft, d } = await startWith(config(dir, 'graceful_restart: { restart_time: 30s }'), { ageMs: 31_000, restartTime: 30 });
    expect(restarting).toBe(false);
    expect(markerLeft).toBe(false);
    await d.stop('test');
  });

  it('--restart without a marker: restarting; without Graceful Restart on any session: never', async () => {
    const a = await startWith(config(dir, 'graceful_restart: { restart_time: 30s }'), null, true);
    expect(a.restarting).toBe(true);
    await a.d.stop('test');
    const b = await startWith(config(dir, ''), { ageMs: 1_000, restartTime: 30 }, true);
    expect(b.restarting).toBe(false);
    expect((b.d.engine as Speaker).endOfRibDeferred).toBe(false);
    expect(b.markerLeft).toBe(false);
    await b.d.stop('test');
  });

  it('the planned-restart stop leaves a marker with the restart time; plannedRestart exits 75', async () => {
    const { d } = await startWith(config(dir, 'graceful_restart: { restart_time: 45s, on_stop: restart }'), null);
    const t0 = Date.now();
    d.plannedRestart('test');
    await d.stopped;
    expect(d.exitCode).toBe(RESTART_EXIT_CODE);
    const m = JSON.parse(readFileSync(restartMarkerPath(d.config!), 'utf8')) as { stoppedAt: number; restartTime: number; pid: number };
    expect(m.restartTime).toBe(45);
    expect(m.pid).toBe(process.pid);
    expect(m.stoppedAt).toBeGreaterThanOrEqual(t0);
    // The next process finds it and starts as a restart.
    const next = new Daemon(join(dir, 'herald.yaml'), makeLogger('silent'));
    await next.start();
    expect(next.restarting).toBe(true);
    expect(existsSync(restartMarkerPath(next.config!))).toBe(false);
    await next.stop('test');
  });
});
