// /metrics of a real Daemon (in this process, inside a private network
// namespace so no BGP listener runs in the root namespace): the scrape parses
// with the independent strict parser, and its counters move as the test flaps
// the session (its BGP peer, a Speaker on 127.0.0.2, drops and returns), a
// service (its exec check's flag file goes and comes back), and a bad reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Speaker } from '../../../bgp/index.js';
import { Daemon } from '../../../src/daemon.js';
import { makeLogger } from '../../../src/log.js';
import { testNetns } from '../../support/netns-enter.js';
import { namingProblems, parseProm, sampleValue, type Family } from './prom-text.js';

const netns = testNetns({ file: 'test/src/metrics/daemon.test.ts', tag: 'metrics' });

const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

function config(dir: string, flag: string): string {
  return `# metrics test: the daemon under test
router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: 179 }
api: { socket: ${dir}/herald.sock, mode: "0660" }
state_dir: ${dir}/state
metrics: { address: 127.0.0.1, port: 9180, path: /metrics }
peers:
  - { name: b, address: 127.0.0.2, local_address: 127.0.0.1, asn: 65012, hold_time: 9, connect_retry: 1s, families: [ipv4] }
services:
  - name: dns
    prefixes: [198.51.100.53/32]
    checks:
      - exec: { command: [test, -e, ${flag}] }
    interval: 100ms
    rise: 1
    fall: 1
    jitter: 0s
drain: { period: 0s, message: "metrics test" }
`;
}

describe.skipIf(!netns.canRun)('metrics of a running daemon (network namespace)', () => {
  let dir = '';
  let daemon: Daemon | null = null;
  let peer: Speaker | null = null;
  beforeAll(() => {
    netns.setUp();
    dir = mkdtempSync(join(tmpdir(), 'herald-metrics-'));
  });
  afterAll(async () => {
    await daemon?.stop('test done');
    await peer?.stop('test done');
    netns.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counters move as a session, a service and a reload fail', async () => {
    const flag = join(dir, 'dns-ok');
    writeFileSync(flag, '');
    const cfgPath = join(dir, 'herald.yaml');
    writeFileSync(cfgPath, config(dir, flag));

    peer = new Speaker({ asn: 65012, routerId: '192.0.2.12', listen: { address: '127.0.0.2', port: 179 } });
    const peerCfg = { name: 'herald', address: '127.0.0.1', asn: 65011, passive: true, holdTime: 9 };
    peer.addPeer(peerCfg);
    await peer.start();

    daemon = new Daemon(cfgPath, makeLogger('silent'));
    await daemon.start();
    expect(daemon.metrics?.server).not.toBeNull();
    const get = async (): Promise<Map<string, Family>> => {
      const r = await fetch('http://127.0.0.1:9180/metrics');
      expect(r.status).toBe(200);
      const f = parseProm(await r.text());
      expect(namingProblems(f)).toEqual([]);
      return f;
    };
    const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => sampleValue(await get(), name, labels);

    await waitFor('session up and dns announced', async () => (await value('herald_bgp_prefixes_announced', { peer: 'b' })) === 1);
    let f = await get();
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'b' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'b' })).toBe(0);
    expect(sampleValue(f, 'herald_service_up', { service: 'dns' })).toBe(1);
    // Exactly one more "up" than "down" while up (a probe that timed out on a busy machine may have flapped it).
    const up0 = sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'up' })!;
    const down0 = sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' }) ?? 0;
    expect(up0).toBe(down0 + 1);
    expect(sampleValue(f, 'herald_check_duration_seconds_count', { service: 'dns', check_kind: 'exec' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, 'herald_reconcile_runs_total')).toBeGreaterThanOrEqual(1);
    const updatesOut = sampleValue(f, 'herald_bgp_updates_sent_total', { peer: 'b' })!;
    expect(updatesOut).toBeGreaterThanOrEqual(1);

    // The service fails, then recovers: a withdrawal and an announcement go out.
    unlinkSync(flag);
    await waitFor('dns down', async () => (await value('herald_service_up', { service: 'dns' })) === 0);
    writeFileSync(flag, '');
    await waitFor('dns up again', async () => (await value('herald_service_up', { service: 'dns' })) === 1);
    f = await get();
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' })).toBeGreaterThanOrEqual(down0 + 1);
    expect(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'up' })).toBe(sampleValue(f, 'herald_service_transitions_total', { service: 'dns', to: 'down' })! + 1);
    expect(sampleValue(f, 'herald_check_results_total', { service: 'dns', check_kind: 'exec', result: 'fail' })).toBeGreaterThanOrEqual(1);
    await waitFor('withdraw and re-announce sent', async () => (await value('herald_bgp_updates_sent_total', { peer: 'b' }))! >= updatesOut + 2);

    // The session drops (the peer removes us with a Cease) and comes back.
    await peer.removePeer('herald');
    await waitFor('session down', async () => (await value('herald_bgp_session_up', { peer: 'b' })) === 0);
    f = await get();
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'b' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_notifications_received_total', { peer: 'b' })).toBe(1);
    peer.addPeer(peerCfg);
    await waitFor('session up again', async () => (await value('herald_bgp_session_up', { peer: 'b' })) === 1, 30_000);
    f = await get();
    expect(sampleValue(f, 'herald_bgp_session_flaps_total', { peer: 'b' })).toBe(1);
    expect(sampleValue(f, 'herald_bgp_session_established_total', { peer: 'b' })).toBe(2);

    // A bad reload is counted and changes nothing else.
    writeFileSync(cfgPath, 'asn: [not a number\n');
    expect((await daemon.reload()).ok).toBe(false);
    f = await get();
    expect(sampleValue(f, 'herald_config_reloads_total', { result: 'failed' })).toBe(1);
    expect(sampleValue(f, 'herald_config_reloads_total', { result: 'ok' })).toBe(0);
    expect(sampleValue(f, 'herald_bgp_session_up', { peer: 'b' })).toBe(1);

    // The listener changes nothing: a POST to the metrics port is refused.
    const post = await fetch('http://127.0.0.1:9180/metrics', { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const h = (await (await fetch('http://127.0.0.1:9180/healthz')).json()) as { sessions: { established: number } };
    expect(h.sessions.established).toBe(1);
  });
});
