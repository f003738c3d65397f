import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Listing } from '../../../../src/sources/lxd/listing.js';
import { LxdClient, LxdApiError } from '../../../../src/sources/lxd/client.js';
import { LxdSource } from '../../../../src/sources/lxd/source.js';
import { createLxdSource, lxdSourceFromConfig } from '../../../../src/sources/lxd/index.js';
import { loadConfig } from '../../../../src/config/index.js';
import { Reconciler, groupPrefixes, type Intent, type SourceGroup } from '../../../../src/reconciler/index.js';
import type { LxdInstance, LxdNetwork } from '../../../../src/sources/lxd/types.js';
import { FakeLxd } from './fake-lxd.js';
import { ManualClock } from '../../../../bgp/driver/clock.js';
import type { Check, CheckResult } from '../../../../src/sources/health/index.js';
import { sample, sleep, until } from './helpers.js';



let fake: FakeLxd;
let source: LxdSource | null = null;
const published: { at: number; intents: readonly Intent[]; groups: readonly SourceGroup[] }[] = [];
const last = () => published.at(-1)?.intents.map((i) => `${i.prefix} via ${i.nextHop}`).sort();

beforeEach(async () => {
  fake = new FakeLxd();
  fake.data.networks = sample<LxdNetwork[]>('networks-recursion1-ovn.json').map((n) => ({ ...n, project: 'default' }));
  fake.data.instances = sample<LxdInstance[]>('instances-recursion2-ovn.json');
  published.length = 0;
  await fake.start();
});
afterEach(async () => {
  await source?.stop();
  source = null;
  await fake.dispose();
});

function makeSource(over: Partial<ConstructorParameters<typeof LxdSource>[0]> = {}): LxdSource {
  source = new LxdSource({
    client: new LxdClient({ kind: 'unix', socket: fake.socket }),
    publish: (groups) => published.push({ at: performance.now(), intents: source!.snapshot().intents, groups }),
    resyncMs: 0,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    ...over,
  });
  return source;
}

/**
 * A source wired to a real Reconciler the way the daemon wires it: what it
 * hands ('whole' snapshot or 'patch') in order, each patch, and the routes
 * the reconciler then holds ("prefix via next hop", sorted).
 */
function makeReconciledSource(): {
  s: LxdSource;
  handed: string[];
  patches: { put: readonly SourceGroup[]; drop: readonly string[] }[];
  held: () => string[];
} {
  const rec = new Reconciler({ applyGroups: () => {} });
  const handed: string[] = [];
  const patches: { put: readonly SourceGroup[]; drop: readonly string[] }[] = [];
  const s = makeSource({
    publish: (groups) => {
      handed.push('whole');
      rec.setSnapshot('lxd', groups);
      rec.reconcile();
    },
    patch: (put, drop) => {
      handed.push('patch');
      patches.push({ put, drop });
      rec.patchSnapshot('lxd', put, drop);
      rec.reconcile();
    },
  });
  const held = (): string[] => [...rec.outputGroups()].flatMap((g) => groupPrefixes(g.prefixes).map((p) => `${p} via ${g.attrs.nextHop}`)).sort();
  return { s, handed, patches, held };
}

describe('LxdClient against the fake LXD', () => {
  it('reads a view: server name, instances of all projects, networks, forwards and load balancers of OVN networks', async () => {
    fake.data.forwards.set('default/net1', [{ listen_address: '203.0.113.17' }]);
    const c = new LxdClient({ kind: 'unix', socket: fake.socket });
    const v = await c.readView({ announceFrom: 'all-members', forwards: true, loadBalancers: true });
    expect(v.serverName).toBe('none');
    expect(v.clustered).toBe(false);
    expect(v.instances.map((i) => `${i.name}:${i.status}`)).toEqual(['c1:Running', 'c2:Stopped']);
    expect(v.networks.find((n) => n.name === 'net1')?.config['volatile.network.ipv4.address']).toBe('203.0.113.10');
    expect(v.forwards.get('default/net1')).toEqual([{ listen_address: '203.0.113.17' }]);
    expect(fake.requests).toContain('GET /1.0/instances?recursion=1&all-projects=true');
    expect(fake.requests).toContain('GET /1.0/networks/net1/load-balancers?recursion=1&project=default');
    // Unmanaged networks (lo, br-int, upl0) are never asked for their forwards.
    expect(fake.requests.some((r) => r.includes('/networks/lo/'))).toBe(false);
  });

  it('turns LXD error responses and a missing socket into LxdApiError', async () => {
    const c = new LxdClient({ kind: 'unix', socket: fake.socket });
    await expect(c.get('/1.0/nothing')).rejects.toMatchObject({ name: 'LxdApiError', status: 404, message: expect.stringMatching(/not found/) });
    const gone = new LxdClient({ kind: 'unix', socket: `${fake.dir}/missing.socket` });
    await expect(gone.server()).rejects.toBeInstanceOf(LxdApiError);
  });

  it('reads cluster member status and the active chassis when clustered', async () => {
    fake.data.serverName = 'hv1';
    fake.data.clustered = true;
    fake.data.memberStatus = 'Evacuated';
    fake.data.chassis.set('default/net1', 'hv2');
    const c = new LxdClient({ kind: 'unix', socket: fake.socket });
    const v = await c.readView({ announceFrom: 'active-chassis', forwards: false, loadBalancers: false });
    expect(v.memberStatus).toBe('Evacuated');
    expect(v.states.get('default/net1')?.ovn).toEqual({ chassis: 'hv2' });
    expect(fake.requests).toContain('GET /1.0/cluster/members/hv1');
  });

  it('reads the active chassis of OVN networks on a standalone server too, and only with active-chassis', async () => {
    fake.data.serverName = 'hv1';
    fake.data.chassis.set('default/net1', 'hv1');
    const c = new LxdClient({ kind: 'unix', socket: fake.socket });
    const all = await c.readView({ announceFrom: 'all-members', forwards: false, loadBalancers: false });
    expect(all.states.size).toBe(0);
    expect(fake.requests.some((r) => r.includes('/state'))).toBe(false);
    const v = await c.readView({ announceFrom: 'active-chassis', forwards: false, loadBalancers: false });
    expect(v.clustered).toBe(false);
    expect([...v.states]).toEqual([['default/net1', expect.objectContaining({ ovn: { chassis: 'hv1' } })]]);
    // Only OVN networks are asked (the sample also has a bridge, lo and the uplink).
    expect(fake.requests.filter((r) => r.includes('/state'))).toEqual(['GET /1.0/networks/net1/state?project=default']);
    expect(fake.requests.some((r) => r.includes('/cluster/'))).toBe(false);
    c.close();
  });
});

describe('LxdSource against the fake LXD', () => {
  it('publishes the derived snapshot at start (real samples)', async () => {
    const s = makeSource();
    await s.start();
    expect(last()).toEqual(['198.51.100.0/25 via 203.0.113.10', '198.51.100.200/32 via 203.0.113.10']);
    expect(s.state()).toMatchObject({ status: 'connected', serverName: 'none', routes: 2, withdrawn: false });
    expect(s.explain('198.51.100.200/32').announced[0]!.origin).toMatchObject({ instance: 'c1', device: 'eth0', rule: 'routes.external' });
  });

  it('an instance event causes a re-read and a new snapshot within 500 ms; stopping withdraws within 500 ms', async () => {
    const s = makeSource();
    await s.start();
    await until(() => fake.eventClients === 1 && s.state().eventsConnected);
    await sleep(50);
    const n0 = published.length;
    const c2 = fake.data.instances[1]!;
    c2.status = 'Running';
    c2.expanded_devices = { eth0: { type: 'nic', network: 'net1', 'ipv4.routes.external': '198.51.100.201/32' } };
    const t0 = performance.now();
    fake.emit('instance-started', '/1.0/instances/c2');
    // Every read is published whole (a resync may publish the old state meanwhile): wait for the one with the change.
    await until(() => published.length > n0 && last()!.includes('198.51.100.201/32 via 203.0.113.10'));
    expect(published.at(-1)!.at - t0).toBeLessThan(500);
    const n1 = published.length;
    c2.status = 'Stopped';
    const t1 = performance.now();
    fake.emit('instance-stopped', '/1.0/instances/c2');
    await until(() => published.length > n1 && !last()!.includes('198.51.100.201/32 via 203.0.113.10'));
    expect(published.at(-1)!.at - t1).toBeLessThan(500);
  });

  it('coalesces a burst of events into at most two reads, and irrelevant events read nothing', async () => {
    const s = makeSource({ coalesceMs: 30 });
    await s.start();
    await until(() => fake.eventClients === 1 && s.state().eventsConnected);
    await sleep(80);
    const reads0 = s.state().reads;
    for (let i = 0; i < 100; i++) fake.emit('instance-started', `/1.0/instances/x${i}`);
    await sleep(250);
    const burst = s.state().reads - reads0;
    expect(burst).toBeGreaterThanOrEqual(1);
    expect(burst).toBeLessThanOrEqual(2);
    const reads1 = s.state().reads;
    for (let i = 0; i < 20; i++) fake.emit('instance-log-retrieved', '/1.0/instances/c1/logs/x');
    await sleep(150);
    expect(s.state().reads).toBe(reads1);
    expect(s.state().events).toBeGreaterThanOrEqual(120);
  });

  it('reads at once on the operation events of cluster evacuate / restore (LXD 5.0 has no lifecycle event for them) and until the status follows; other operations read nothing', async () => {
    fake.data.serverName = 'hv1';
    fake.data.clustered = true;
    for (const i of fake.data.instances) i.location = 'hv1';
    const s = makeSource();
    await s.start();
    await until(() => s.state().eventsConnected);
    await sleep(50); // the read on connect
    const all = last()!;
    const reads0 = s.state().reads;
    fake.emitOperation('Starting instance');
    await sleep(100);
    expect(s.state().reads).toBe(reads0);
    // LXD sends the operation's events first and sets the status a little later, silently.
    const r0 = fake.requests.length;
    fake.emitOperation('Evacuating cluster member');
    await sleep(100);
    expect(last()).toEqual(all);
    fake.data.memberStatus = 'Evacuated';
    await until(() => (last()?.length ?? 0) < all.length, 500);
    // Only the member's status is read meanwhile: the instance list can wait on the evacuation in LXD.
    const asked = new Set(fake.requests.slice(r0));
    expect([...asked]).toEqual(['GET /1.0/cluster/members/hv1']);
    expect(s.snapshot().skipped.some((k) => k.reason === 'this member (hv1) is evacuated: instance routes are withdrawn until it is restored')).toBe(true);
    fake.data.memberStatus = 'Online';
    fake.emitOperation('Restoring cluster member', 'Success');
    await until(() => last()?.join() === all.join(), 500);
  });

  it('an event during a slow read queues exactly one more read', async () => {
    const s = makeSource({ coalesceMs: 5 });
    await s.start();
    await until(() => s.state().eventsConnected);
    await sleep(50);
    fake.delayMs = 60;
    const reads0 = s.state().reads;
    fake.emit('instance-started', '/1.0/instances/c1');
    await sleep(30); // read in flight now
    for (let i = 0; i < 10; i++) fake.emit('instance-updated', '/1.0/instances/c1');
    await sleep(1000);
    expect(s.state().reads - reads0).toBe(2);
  });

  it('keeps the last known routes while LXD is unreachable, and reads again when it is back', async () => {
    const s = makeSource({ unreachableWithdrawAfterMs: 0 });
    await s.start();
    await until(() => s.state().eventsConnected);
    const before = last();
    const n0 = published.length;
    await fake.stop();
    await until(() => s.state().status === 'unreachable');
    await sleep(300);
    expect(published.length).toBe(n0); // nothing withdrawn
    expect(s.state()).toMatchObject({ status: 'unreachable', routes: 2, withdrawn: false, lastError: expect.any(String) });
    expect(s.state().unreachableSince).not.toBeNull();
    // LXD restarts with one more route.
    fake.data.instances[1]!.status = 'Running';
    fake.data.instances[1]!.expanded_devices = { eth0: { type: 'nic', network: 'net1', 'ipv4.routes.external': '198.51.100.202/32' } };
    await fake.start();
    await until(() => s.state().status === 'connected', 5000);
    await until(() => published.length > n0);
    expect(last()).toEqual([...before!, '198.51.100.202/32 via 203.0.113.10'].sort());
    await until(() => s.state().eventsConnected, 5000);
  });

  it('withdraws after unreachable_withdraw_after, and announces again when LXD is back', async () => {
    const changes: string[] = [];
    const s = makeSource({ unreachableWithdrawAfterMs: 300, onStatus: (c, st) => changes.push(`${c}:${st.status}:${st.withdrawn}`) });
    await s.start();
    expect(last()).toHaveLength(2);
    expect(s.state()).toMatchObject({ fullReads: 1, instances: 2, chassisName: s.state().serverName, announceFrom: 'all-members' });
    expect(s.state().lastFullReadAt).not.toBeNull();
    await fake.stop();
    const t0 = performance.now();
    await until(() => last()?.length === 0, 3000);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1500);
    expect(s.state()).toMatchObject({ status: 'unreachable', withdrawn: true, routes: 0 });
    // The withdrawn routes stay explainable, with the limit as the reason.
    const x = s.explain('198.51.100.200/32');
    expect(x.announced).toEqual([]);
    expect(x.skipped).toEqual([
      {
        prefix: '198.51.100.200/32',
        origin: { project: 'default', instance: 'c1', device: 'eth0', network: 'net1', rule: 'routes.external' },
        reason: expect.stringMatching(/^LXD unreachable since \S+ \(.+\), longer than unreachable_withdraw_after \(0\.3 s\): withdrawn until LXD answers again$/),
      },
    ]);
    await fake.start();
    await until(() => last()?.length === 2, 5000);
    expect(s.state()).toMatchObject({ status: 'connected', withdrawn: false });
    expect(s.explain('198.51.100.200/32').skipped).toEqual([]);
    expect(changes).toEqual(['unreachable:unreachable:false', 'withdrawn:unreachable:true', 'reachable:connected:false']);
  });

  it('a resync catches changes without events; an unchanged resync hands the reconciler nothing', async () => {
    const s = makeSource({ events: false, resyncMs: 50 });
    let ops = 0;
    const rec = new Reconciler({ applyGroups: (batch) => void (ops += batch.length) });
    await s.start();
    rec.setSnapshot('lxd', published.at(-1)!.groups);
    rec.reconcile();
    const ops0 = ops;
    const n0 = published.length;
    const before = last();
    await sleep(200);
    expect(s.state().reads).toBeGreaterThanOrEqual(3);
    // Level-triggered: every read is published whole, and each says the same.
    expect(published.length).toBeGreaterThan(n0);
    for (const p of published.slice(n0)) {
      expect(p.intents.map((i) => `${i.prefix} via ${i.nextHop}`).sort()).toEqual(before);
      rec.setSnapshot('lxd', p.groups);
      expect(rec.reconcile()).toBe(0);
    }
    expect(ops).toBe(ops0);
    const n1 = published.length;
    fake.data.instances[0]!.status = 'Frozen';
    await until(() => published.length > n1 && last()!.length === 1, 1000);
    expect(last()).toEqual(['198.51.100.0/25 via 203.0.113.10']);
  });

  it('with patch: events and resyncs hand over only the instances that read differently; a network change hands the whole snapshot', async () => {
    const { s, handed, patches, held } = makeReconciledSource();
    // What the reconciler holds equals what the source derived.
    const derived = (): string[] => s.snapshot().intents.map((i) => `${i.prefix} via ${i.nextHop}`).sort();
    await s.start();
    await until(() => s.state().eventsConnected && s.state().fullReads >= 2, 2000);
    expect(handed[0]).toBe('whole');
    expect(held()).toEqual(derived());
    const n0 = handed.length;
    // An unchanged full read: nothing handed.
    await s.resync();
    expect(handed.length).toBe(n0);
    // c2 gets a NIC with a route and starts, seen by a full read: a patch of c2's groups alone.
    const c2 = fake.data.instances.find((i) => i.name === 'c2')!;
    c2.status = 'Running';
    c2.expanded_devices = { ...c2.expanded_devices, eth0: { type: 'nic', network: 'net1', 'ipv4.routes.external': '198.51.100.201/32' } };
    await s.resync();
    expect(handed.slice(n0)).toEqual(['patch']);
    expect(new Set(patches.at(-1)!.put.map((g) => g.source.split(':')[1]!.split('/')[1]))).toEqual(new Set(['c2']));
    expect(held()).toEqual(derived());
    expect(held().length).toBeGreaterThan(1);
    // c1 stops: its event is a patch dropping its groups.
    fake.data.instances.find((i) => i.name === 'c1')!.status = 'Stopped';
    fake.emit('instance-stopped', '/1.0/instances/c1?project=default', 'default');
    await until(() => handed.length > n0 + 1, 1000);
    expect(handed.at(-1)).toBe('patch');
    expect(patches.at(-1)!.put).toEqual([]);
    expect(patches.at(-1)!.drop.length).toBeGreaterThan(0);
    expect(held()).toEqual(derived());
    // A network changes: every unit derived again, the whole snapshot handed.
    const net1 = fake.data.networks.find((n) => n.name === 'net1')!;
    net1.config = { ...net1.config, 'volatile.network.ipv4.address': '203.0.113.11' };
    await s.resync();
    expect(handed.at(-1)).toBe('whole');
    expect(held()).toEqual(derived());
    expect(held().some((r) => r.endsWith('via 203.0.113.11'))).toBe(true);
  });

  it('resyncs kept as bytes: instances added, changed, removed and moved anywhere in the listing, or read alone since, are all found', async () => {
    const { s, handed, held } = makeReconciledSource();
    const routes = (): string[] => held().filter((r) => /^198\.51\.100\.1[5-9]\d\/32 /.test(r));
    const tmpl = fake.data.instances.find((i) => i.name === 'c1')!;
    const inst = (k: number): LxdInstance => ({
      ...tmpl,
      name: `x${k}`,
      status: 'Running',
      expanded_devices: { eth0: { type: 'nic', network: 'net1', 'ipv4.routes.external': `198.51.100.${150 + k}/32` } },
    });
    fake.data.instances = Array.from({ length: 30 }, (_, k) => inst(k));
    await s.start();
    await until(() => s.state().eventsConnected && s.state().fullReads >= 2, 2000);
    const want = (ks: number[]): string[] => ks.map((k) => `198.51.100.${150 + k}/32 via 203.0.113.10`).sort();
    const all = Array.from({ length: 30 }, (_, k) => k);
    expect(routes()).toEqual(want(all));
    const n0 = handed.length;
    // An unchanged listing: no instance parsed at all.
    const parses = vi.spyOn(Listing.prototype, 'parse');
    await s.resync();
    expect(handed.length).toBe(n0);
    expect(parses).not.toHaveBeenCalled();
    // One in the middle stops, one is added in the middle, the first and the last go: those two parsed, no other.
    fake.data.instances[12]!.status = 'Stopped';
    fake.data.instances.splice(20, 0, inst(40));
    fake.data.instances.pop();
    fake.data.instances.shift();
    await s.resync();
    expect(parses).toHaveBeenCalledTimes(2);
    parses.mockRestore();
    expect(handed.slice(n0)).toEqual(['patch']);
    expect(routes()).toEqual(want([...all.slice(1, 12), ...all.slice(13, 29), 40]));
    expect(s.state().instances).toBe(29);
    // Moved (the same instances in another order): nothing changes.
    const n1 = handed.length;
    fake.data.instances.reverse();
    await s.resync();
    expect(handed.length).toBe(n1);
    // An instance read alone (its event) since the last listing, then back as the listing had it (no event): the resync finds it.
    const x5 = fake.data.instances.find((i) => i.name === 'x5')!;
    x5.status = 'Stopped';
    fake.emit('instance-stopped', '/1.0/instances/x5?project=default', 'default');
    await until(() => !routes().includes('198.51.100.155/32 via 203.0.113.10'), 1000);
    x5.status = 'Running';
    await s.resync();
    expect(routes()).toContain('198.51.100.155/32 via 203.0.113.10');
    expect(routes()).toEqual(want([...all.slice(1, 12), ...all.slice(13, 29), 40]));
  });

  it('an instance event during a slow full read is read beside it; the listing, made before the event, does not undo it', async () => {
    const s = makeSource();
    await s.start();
    await until(() => s.state().eventsConnected && s.state().fullReads >= 2, 2000);
    const c1 = fake.data.instances.find((i) => i.name === 'c1')!;
    const c1Route = (): boolean => (s.snapshot().intents ?? []).some((i) => i.source.includes('/c1/'));
    expect(c1Route()).toBe(true);
    // The listing is made at once but answered 400 ms later.
    fake.respondDelayMs = (p) => (p.startsWith('/1.0/instances?') ? 400 : 0);
    const lists = (): number => fake.requests.filter((r) => r.startsWith('GET /1.0/instances?')).length;
    const full0 = s.state().fullReads;
    const l0 = lists();
    fake.emit('network-updated', '/1.0/networks/net1?project=default', 'default');
    await until(() => lists() > l0, 1000);
    c1.status = 'Stopped';
    const t0 = performance.now();
    fake.emit('instance-stopped', '/1.0/instances/c1?project=default', 'default');
    await until(() => !c1Route(), 1000);
    const ms = performance.now() - t0;
    console.log(`instance-stopped during a full read: withdrawn after ${ms.toFixed(1)} ms (the listing answers after 400 ms)`);
    expect(s.state().fullReads).toBe(full0);
    // The listing (c1 Running) arrives: c1 stays withdrawn.
    await until(() => s.state().fullReads > full0, 2000);
    expect(c1Route()).toBe(false);
    // The next listing says Stopped too; then c1 runs again with no event: a resync finds it.
    fake.respondDelayMs = () => 0;
    await s.resync();
    expect(c1Route()).toBe(false);
    c1.status = 'Running';
    await s.resync();
    expect(c1Route()).toBe(true);
  });

  it('createLxdSource refuses when no default socket exists', () => {
    expect(() => createLxdSource({ kind: 'unix', socket: null }, { publish: () => {} })).toThrow(/no LXD socket found/);
  });
});

describe('LxdSource: user.herald.check gating', () => {
  /** A fake prober whose verdict the test flips; records every probe. */
  function fakeProber(clock: ManualClock) {
    const f = {
      ok: true,
      probes: [] as { check: Check; at: number }[],
      prober: (check: Check): Promise<CheckResult> => {
        f.probes.push({ check, at: clock.now() });
        return Promise.resolve({ ok: f.ok, detail: f.ok ? 'fine' : 'refused', latencyMs: 1 });
      },
    };
    return f;
  }
  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  async function runTo(clock: ManualClock, target: number): Promise<void> {
    for (;;) {
      const next = clock.nextDeadline();
      if (next === undefined || next > target) break;
      clock.advanceTo(next);
      await flush();
    }
    clock.advanceTo(target);
  }
  const ROUTE = '198.51.100.200/32 via 203.0.113.10';

  it('withholds the routes until rise passing rounds, and withdraws them after fall failing rounds', async () => {
    fake.data.instances[0]!.expanded_config['user.herald.check'] = 'tcp:198.51.100.200:80';
    const clock = new ManualClock(0);
    const p = fakeProber(clock);
    const s = makeSource({ events: false, clock, prober: p.prober, checkIntervalMs: 2000 });
    await s.start();
    expect(last()).toEqual(['198.51.100.0/25 via 203.0.113.10']);
    expect(s.explain('198.51.100.200/32').skipped[0]!.reason).toMatch(/user\.herald\.check tcp:198\.51\.100\.200:80 is not up/);
    expect(s.checks()).toEqual([{ id: 'lxd:default/c1 tcp:198.51.100.200:80', state: 'down' }]);
    const n0 = published.length;
    await runTo(clock, 0); // first passing round: not up yet (rise 2)
    expect(p.probes).toHaveLength(1);
    expect(p.probes[0]!.check).toEqual({ kind: 'tcp', address: '198.51.100.200', port: 80, timeoutMs: 1000 });
    expect(published.length).toBe(n0);
    await runTo(clock, 2000); // second: up, re-published without an API read
    expect(published.length).toBe(n0 + 1);
    expect(last()).toContain(ROUTE);
    expect(s.explain('198.51.100.200/32').skipped).toEqual([]);
    p.ok = false;
    await runTo(clock, 4000); // one failing round: still up (fall 2)
    expect(last()).toContain(ROUTE);
    await runTo(clock, 6000);
    expect(last()).not.toContain(ROUTE);
    expect(last()).toContain('198.51.100.0/25 via 203.0.113.10');
    expect(s.checks()[0]!.state).toBe('down');
  });

  it('the lxd config keys check_interval, check_timeout, check_rise and check_fall reach the probes', async () => {
    fake.data.instances[0]!.expanded_config['user.herald.check'] = 'tcp:198.51.100.200:80';
    const dir = mkdtempSync(join(tmpdir(), 'herald-lxd-check-'));
    const file = join(dir, 'herald.yaml');
    writeFileSync(
      file,
      'router_id: 192.0.2.1\nasn: 65001\npeers: [{ name: up1, address: 192.0.2.254, asn: 65000 }]\n' +
        `lxd:\n  socket: ${fake.socket}\n  resync_interval: 0s\n  check_interval: 500ms\n  check_timeout: 300ms\n  check_rise: 1\n  check_fall: 3\n`,
    );
    const config = await loadConfig(file);
    rmSync(dir, { recursive: true, force: true });
    const clock = new ManualClock(0);
    const p = fakeProber(clock);
    source = lxdSourceFromConfig(config.lxd!, (groups) => published.push({ at: performance.now(), intents: source!.snapshot().intents, groups }), undefined, { clock, prober: p.prober });
    await source.start();
    expect(last()).not.toContain(ROUTE);
    await runTo(clock, 0); // rise 1: up after the first passing round
    expect(p.probes.map((x) => x.check)).toEqual([{ kind: 'tcp', address: '198.51.100.200', port: 80, timeoutMs: 300 }]);
    expect(last()).toContain(ROUTE);
    p.ok = false;
    await runTo(clock, 1000); // rounds at 500 and 1000 fail: still up (fall 3)
    expect(p.probes.map((x) => x.at)).toEqual([0, 500, 1000]);
    expect(last()).toContain(ROUTE);
    await runTo(clock, 1500);
    expect(last()).not.toContain(ROUTE);
  });

  it('a malformed key (or exec) withholds the routes with the reason, and runs no check', async () => {
    fake.data.instances[0]!.expanded_config['user.herald.check'] = 'exec:/bin/true';
    const clock = new ManualClock(0);
    const p = fakeProber(clock);
    const s = makeSource({ events: false, clock, prober: p.prober });
    await s.start();
    expect(last()).toEqual(['198.51.100.0/25 via 203.0.113.10']);
    const sk = s.explain('198.51.100.200/32').skipped;
    expect(sk).toHaveLength(1);
    expect(sk[0]!.reason).toMatch(/^user\.herald\.check: cannot parse "exec:\/bin\/true": exec checks are not allowed/);
    expect(s.checks()).toEqual([]);
    await runTo(clock, 10_000);
    expect(p.probes).toHaveLength(0);
  });

  it('an instance removed (or its key changed) stops its check', async () => {
    fake.data.instances[0]!.expanded_config['user.herald.check'] = 'http://198.51.100.200/health';
    const clock = new ManualClock(0);
    const p = fakeProber(clock);
    const s = makeSource({ events: false, clock, prober: p.prober });
    await s.start();
    await runTo(clock, 2000);
    expect(last()).toContain(ROUTE);
    expect(p.probes[0]!.check).toMatchObject({ kind: 'http', url: 'http://198.51.100.200/health', method: 'GET', status: [200] });
    // Key changed: a new check, starting down again.
    fake.data.instances[0]!.expanded_config['user.herald.check'] = 'tcp:198.51.100.200:443';
    await s.readNow();
    expect(s.checks()).toEqual([{ id: 'lxd:default/c1 tcp:198.51.100.200:443', state: 'down' }]);
    expect(last()).not.toContain(ROUTE);
    // Instance gone: no check left, and nothing probes any more.
    fake.data.instances.splice(0, 1);
    await s.readNow();
    expect(s.checks()).toEqual([]);
    const probes = p.probes.length;
    await runTo(clock, 20_000);
    expect(p.probes.length).toBe(probes);
  });
});
