// OvnSbMonitor against a fake OVSDB server on a unix socket that speaks
// RFC 7047 as ovsdb-server does (checked against the real one in
// test/interop/lxd-cluster.test.ts): the monitor request, the initial
// contents, `update` notifications, the server's echo, our inactivity probe,
// reconnects (to the next endpoint of a list), and the LXD source re-reading
// when a gateway moves. Timers run on a ManualClock.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../bgp/driver/clock.js';
import { OvnSbMonitor, type GatewayChange } from '../../../../src/sources/lxd/ovn-sb.js';
import { JsonStreamFramer } from '../../../../src/sources/lxd/ovsdb.js';
import { LxdClient } from '../../../../src/sources/lxd/client.js';
import { LxdSource } from '../../../../src/sources/lxd/source.js';
import { DEFAULT_LXD_RULES } from '../../../../src/sources/lxd/derive.js';
import type { LxdInstance, LxdNetwork } from '../../../../src/sources/lxd/types.js';
import { FakeLxd } from './fake-lxd.js';
import { sample, until } from './helpers.js';

/** A fake ovsdb-server: records what it receives, answers monitor with `rows`, sends what the test says. */
class FakeOvsdb {
  readonly received: Record<string, unknown>[] = [];
  readonly clients: Socket[] = [];
  server: Server | null = null;
  monitorId: unknown = null;
  constructor(
    readonly path: string,
    public rows: Record<string, unknown>,
  ) {}
  start(): Promise<void> {
    this.server = createServer((s) => {
      this.clients.push(s);
      const f = new JsonStreamFramer();
      s.on('data', (c: Buffer) => {
        for (const t of f.push(c)) {
          const m = JSON.parse(t) as Record<string, unknown>;
          this.received.push(m);
          if (m['method'] === 'monitor') {
            this.monitorId = (m['params'] as unknown[])[1];
            s.write(JSON.stringify({ id: m['id'], result: this.rows, error: null }));
          } else if (m['method'] === 'echo') s.write(JSON.stringify({ id: m['id'], result: m['params'], error: null }));
        }
      });
      s.on('error', () => {});
    });
    return new Promise((res) => this.server!.listen(this.path, res));
  }
  send(msg: unknown): void {
    for (const c of this.clients) if (!c.destroyed) c.write(JSON.stringify(msg));
  }
  update(tables: unknown): void {
    this.send({ method: 'update', params: [this.monitorId, tables], id: null });
  }
  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
    this.server = null;
  }
}

const ROWS = {
  Chassis: { c1: { new: { name: 'm1', hostname: 'member1' } }, c2: { new: { name: 'm2', hostname: 'member2' } } },
  Port_Binding: { p1: { new: { logical_port: 'cr-lxd-net1-lr-lrp-ext', type: 'chassisredirect', chassis: ['uuid', 'c1'], mac: ['set', ['00:16:3e:4f:12:01 203.0.113.10/24']] } } },
};

let dir: string;
let db: FakeOvsdb;
let mon: OvnSbMonitor | null = null;
const clock = new ManualClock();

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-ovnsb-'));
  db = new FakeOvsdb(join(dir, 'sb.sock'), ROWS);
  await db.start();
});
afterEach(async () => {
  mon?.stop();
  mon = null;
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

function monitor(endpoints = [{ kind: 'unix' as const, path: db.path }]): { changes: GatewayChange[]; m: OvnSbMonitor } {
  const changes: GatewayChange[] = [];
  mon = new OvnSbMonitor({ endpoints, clock, probeIntervalMs: 5000, backoffInitialMs: 100 });
  mon.start((c) => changes.push(c));
  return { changes, m: mon };
}

describe('OvnSbMonitor', () => {
  it('monitors Port_Binding and Chassis, reports the initial map, then each gateway move, and answers the server echo', async () => {
    const { changes, m } = monitor();
    await until(() => changes.length === 1);
    expect(db.received[0]).toMatchObject({ method: 'monitor', params: ['OVN_Southbound', 'herald-1', { Port_Binding: { columns: ['logical_port', 'type', 'chassis', 'mac'] } }] });
    expect(changes[0]).toMatchObject({ initial: true, ports: ['cr-lxd-net1-lr-lrp-ext'] });
    expect(m.state()).toMatchObject({ connected: true, syncs: 1, changes: 1, gateways: { 'cr-lxd-net1-lr-lrp-ext': 'member1' }, connectedTo: `unix:${db.path}` });

    // An update that does not move a gateway (a chassis row's other column) tells nobody.
    db.update({ Chassis: { c1: { old: { name: 'm1' }, new: { name: 'm1b', hostname: 'member1' } } } });
    // The gateway moves to member2.
    db.update({ Port_Binding: { p1: { old: { chassis: ['uuid', 'c1'] }, new: { logical_port: 'cr-lxd-net1-lr-lrp-ext', type: 'chassisredirect', chassis: ['uuid', 'c2'] } } } });
    await until(() => changes.length === 2);
    expect(changes[1]).toMatchObject({ initial: false, ports: ['cr-lxd-net1-lr-lrp-ext'] });
    expect(changes[1]!.gateways.get('cr-lxd-net1-lr-lrp-ext')).toBe('member2');
    expect(m.state()).toMatchObject({ updates: 2, changes: 2 });

    db.send({ method: 'echo', params: ['ping'], id: 'echo' });
    await until(() => db.received.some((r) => r['id'] === 'echo'));
    expect(db.received.find((r) => r['id'] === 'echo')).toEqual({ result: ['ping'], error: null, id: 'echo' });
  });

  it('probes an idle connection with its own echo, and drops and reconnects one that does not answer', async () => {
    const { changes, m } = monitor();
    await until(() => changes.length === 1);
    clock.advance(5000);
    await until(() => db.received.some((r) => r['method'] === 'echo'));
    // The fake answered: still connected. Now the server goes silent.
    await until(() => m.state().connected);
    for (const c of db.clients) c.removeAllListeners('data');
    clock.advance(5000);
    clock.advance(10_000);
    await until(() => !m.state().connected);
    expect(m.state().lastError).toMatch(/no answer for \d+ ms \(inactivity probe\)/);
    // Losing the monitor is reported (the source falls back to LXD's word) ...
    expect(changes[1]).toMatchObject({ lost: true, ports: ['cr-lxd-net1-lr-lrp-ext'] });
    expect(m.current()).toBeNull();
    clock.advance(100);
    await until(() => m.state().syncs === 2);
    // ... and the new monitor's contents are in force again.
    expect(changes[2]).toMatchObject({ initial: true, ports: ['cr-lxd-net1-lr-lrp-ext'] });
    expect(m.current()?.get('203.0.113.10')).toBe('member1');
  });

  it('reconnects with backoff, trying the endpoints of a list in turn, and reports what moved meanwhile', async () => {
    const missing = { kind: 'unix' as const, path: join(dir, 'absent.sock') };
    const { changes, m } = monitor([missing, { kind: 'unix', path: db.path }]);
    await until(() => m.state().lastError !== null);
    expect(m.state().lastError).toContain(`unix:${missing.path}: connect ENOENT`);
    clock.advance(100);
    await until(() => changes.length === 1);
    await db.close();
    await until(() => !m.state().connected);
    expect(changes[1]).toMatchObject({ lost: true });
    db.rows = { ...ROWS, Port_Binding: { p1: { new: { logical_port: 'cr-lxd-net1-lr-lrp-ext', type: 'chassisredirect', chassis: ['set', []] } } } };
    await db.start();
    // Backoff doubled: 200 ms to the absent one, 400 ms to the real one.
    clock.advance(200);
    await until(() => m.state().lastError?.includes('absent.sock') === true);
    clock.advance(400);
    await until(() => changes.length === 3);
    expect(changes[2]).toMatchObject({ initial: true, ports: ['cr-lxd-net1-lr-lrp-ext'] });
    expect(m.state().gateways).toEqual({ 'cr-lxd-net1-lr-lrp-ext': null });
  });

  it('drops a connection that sends a malformed update, with the reason', async () => {
    const { changes, m } = monitor();
    await until(() => changes.length === 1);
    db.update({ Port_Binding: { p1: { new: { chassis: 'c2' } } } });
    await until(() => !m.state().connected);
    expect(m.state().lastError).toBe(`unix:${db.path}: southbound update: Port_Binding p1 (cr-lxd-net1-lr-lrp-ext): chassis "c2" is not an optional uuid`);
  });
});

describe('LxdSource with an OVN southbound monitor', () => {
  let fake: FakeLxd;
  beforeEach(async () => {
    fake = new FakeLxd();
    fake.data.networks = sample<LxdNetwork[]>('networks-recursion1-ovn.json').map((n) => ({ ...n, project: 'default' }));
    fake.data.instances = sample<LxdInstance[]>('instances-recursion2-ovn.json');
    await fake.start();
  });
  afterEach(async () => {
    await fake.dispose();
  });

  it('moves with the gateway at once from the southbound map (no LXD event, no read needed), and falls back to LXD when the monitor is lost', async () => {
    fake.data.chassis.set('default/net1', 'member1');
    mon = new OvnSbMonitor({ endpoints: [{ kind: 'unix', path: db.path }], clock });
    const published: string[][] = [];
    const src = new LxdSource({
      client: new LxdClient({ kind: 'unix', socket: fake.socket }),
      publish: () => published.push(src.snapshot().intents.map((x) => `${x.prefix} via ${x.nextHop}`)),
      rules: { ...DEFAULT_LXD_RULES, announceFrom: 'active-chassis', chassisName: 'member1' },
      resyncMs: 0,
      events: false,
      ovnSb: mon,
    });
    try {
      await src.start();
      const announced = published.at(-1)!;
      expect(announced.length).toBeGreaterThan(0);
      await until(() => src.state().ovnSb?.syncs === 1);
      // OVN moves net1's gateway (router 203.0.113.10) to member2. LXD is slow to answer:
      // the routes go before any read returns, from the monitor's map alone.
      fake.delayMs = 300;
      const t0 = performance.now();
      db.update({ Port_Binding: { p1: { new: { logical_port: 'cr-lxd-net1-lr-lrp-ext', type: 'chassisredirect', chassis: ['uuid', 'c2'], mac: ['set', ['00:16:3e:4f:12:01 203.0.113.10/24']] } } } });
      await until(() => published.at(-1)!.length < announced.length, 250);
      expect(performance.now() - t0).toBeLessThan(250);
      expect(src.snapshot().skipped.some((s) => s.reason.startsWith("OVN network net1's active chassis is member2, not this host (member1)"))).toBe(true);
      // The confirming read (LXD still says member1 in this fake) does not undo it while the monitor is in place.
      const reads = src.state().fullReads;
      await until(() => src.state().fullReads > reads, 2000);
      expect(published.at(-1)!.length).toBeLessThan(announced.length);
      expect(src.state().ovnSb).toMatchObject({ connected: true, gateways: { 'cr-lxd-net1-lr-lrp-ext': 'member2' } });
      // The monitor is lost: LXD's word again.
      fake.delayMs = 0;
      await db.close();
      await until(() => published.at(-1)!.join() === announced.join(), 2000);
      expect(src.state().ovnSb?.connected).toBe(false);
    } finally {
      await src.stop();
      mon = null;
    }
  });
});
