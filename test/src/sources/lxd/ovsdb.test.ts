// The pure OVSDB pieces (RFC 7047): connection methods, the stream framer
// (split at every offset), message classification, datum decoding, and the
// gateway table fed with <table-updates> as ovsdb-server sends them for
// OVN_Southbound (shapes from ovsdb-client / ovn-sbctl --format=json output
// of the real lab: Port_Binding.chassis as ["uuid", U] or ["set", []]).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  datumOptionalUuid,
  echoReply,
  JsonStreamFramer,
  monitorRequest,
  OvsdbFramingError,
  parseOvsdbMessage,
  parseOvsdbRemote,
} from '../../../../src/sources/lxd/ovsdb.js';
import { changedGateways, GatewayTable, OVN_SB_MONITOR, withGatewayChassis } from '../../../../src/sources/lxd/ovn-sb.js';
import type { LxdNetwork, LxdView } from '../../../../src/sources/lxd/types.js';

describe('parseOvsdbRemote', () => {
  it('reads unix:, tcp: (IPv4, IPv6, names) and comma separated lists', () => {
    expect(parseOvsdbRemote('unix:/run/ovn/ovnsb_db.sock')).toEqual([{ kind: 'unix', path: '/run/ovn/ovnsb_db.sock' }]);
    expect(parseOvsdbRemote('tcp:192.0.2.1:6642, tcp:[2001:db8::2]:6642,tcp:ovn-central:6642')).toEqual([
      { kind: 'tcp', host: '192.0.2.1', port: 6642 },
      { kind: 'tcp', host: '2001:db8::2', port: 6642 },
      { kind: 'tcp', host: 'ovn-central', port: 6642 },
    ]);
  });
  it('names what is wrong', () => {
    expect(parseOvsdbRemote('unix:run/x.sock')).toBe('"unix:run/x.sock": a unix: socket path must be absolute');
    expect(parseOvsdbRemote('tcp:192.0.2.1')).toBe('"tcp:192.0.2.1": expected tcp:HOST:PORT (IPv6 as tcp:[ADDRESS]:PORT)');
    expect(parseOvsdbRemote('tcp:192.0.2.1:70000')).toMatch(/expected tcp:HOST:PORT/);
    expect(parseOvsdbRemote('ssl:192.0.2.1:6642')).toBe('"ssl:192.0.2.1:6642": ssl: is not supported (herald speaks OVSDB over unix: or tcp: only)');
    expect(parseOvsdbRemote('192.0.2.1:6642')).toBe('"192.0.2.1:6642": expected unix:PATH or tcp:HOST:PORT');
  });
});

describe('JsonStreamFramer', () => {
  const msgs = [
    { id: 1, result: { Port_Binding: { 'a-1': { new: { logical_port: 'cr-x', type: 'chassisredirect', chassis: ['set', []] } } } }, error: null },
    { method: 'echo', params: ['x}{"'], id: 'echo' },
    { method: 'update', params: ['herald-1', { Chassis: { u: { new: { name: 'm1', hostname: 'mémber1 \\" ]' } } } }], id: null },
  ];
  const wire = Buffer.from(msgs.map((m) => JSON.stringify(m)).join('\n  '));

  it('cuts messages sent back to back, split at every offset, with braces inside strings and multi-byte characters', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const f = new JsonStreamFramer();
      const out = [...f.push(wire.subarray(0, cut)), ...f.push(wire.subarray(cut))];
      expect(out.map((t) => JSON.parse(t) as unknown)).toEqual(msgs);
      expect(f.pending).toBe(0);
    }
  });

  it('cuts any sequence of JSON objects, fed in random chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (objs, cuts) => {
        const bytes = Buffer.from(objs.map((o) => JSON.stringify(o)).join(''));
        const f = new JsonStreamFramer();
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const out: string[] = [];
        let at = 0;
        for (const p of [...points, bytes.length]) {
          out.push(...f.push(bytes.subarray(at, p)));
          at = p;
        }
        expect(out.map((t) => JSON.parse(t) as unknown)).toEqual(objs.map((o) => JSON.parse(JSON.stringify(o)) as unknown));
      }),
    );
  });

  it('refuses a message over its bound and bytes that start no object', () => {
    const f = new JsonStreamFramer(64);
    expect(() => f.push(Buffer.from(`{"a":"${'x'.repeat(100)}`))).toThrow(new OvsdbFramingError('a message is larger than 64 bytes'));
    expect(() => new JsonStreamFramer().push(Buffer.from('[1]'))).toThrow('expected a JSON object, got byte 0x5b');
  });
});

describe('JSON-RPC messages', () => {
  it('builds the monitor request of RFC 7047 §4.1.5 and the echo reply of §4.1.11', () => {
    expect(JSON.parse(monitorRequest(7, 'OVN_Southbound', 'herald-1', OVN_SB_MONITOR))).toEqual({
      method: 'monitor',
      params: ['OVN_Southbound', 'herald-1', { Port_Binding: { columns: ['logical_port', 'type', 'chassis', 'mac'] }, Chassis: { columns: ['name', 'hostname'] } }],
      id: 7,
    });
    expect(JSON.parse(echoReply('echo', []))).toEqual({ result: [], error: null, id: 'echo' });
  });
  it('classifies requests, notifications (id null) and responses; refuses the rest', () => {
    expect(parseOvsdbMessage('{"method":"echo","params":[],"id":"echo"}')).toEqual({ kind: 'request', method: 'echo', params: [], id: 'echo' });
    expect(parseOvsdbMessage('{"method":"update","params":[1,{}],"id":null}')).toEqual({ kind: 'notification', method: 'update', params: [1, {}] });
    expect(parseOvsdbMessage('{"id":1,"result":null,"error":{"error":"unknown database"}}')).toEqual({ kind: 'response', id: 1, result: null, error: { error: 'unknown database' } });
    expect(() => parseOvsdbMessage('{"id":1}')).toThrow('a JSON-RPC message needs a method, or a result or error');
    expect(() => parseOvsdbMessage('{"id":')).toThrow(/^not JSON/);
  });
  it('decodes an optional uuid reference in its three forms', () => {
    expect(datumOptionalUuid(['uuid', 'u1'])).toBe('u1');
    expect(datumOptionalUuid(['set', []])).toBeNull();
    expect(datumOptionalUuid(['set', [['uuid', 'u1']]])).toBe('u1');
    expect(datumOptionalUuid(['set', [['uuid', 'u1'], ['uuid', 'u2']]])).toBeUndefined();
    expect(datumOptionalUuid('u1')).toBeUndefined();
  });
});

describe('GatewayTable', () => {
  const initial = {
    Chassis: { c1: { new: { name: 'uuid-of-m1', hostname: 'member1' } }, c2: { new: { name: 'member2', hostname: '' } } },
    Port_Binding: {
      p1: { new: { logical_port: 'cr-lxd-net5-lr-lrp-ext', type: 'chassisredirect', chassis: ['uuid', 'c1'], mac: '00:16:3e:4f:12:01 203.0.113.13/25 2001:DB8:13::1/64' } },
      p2: { new: { logical_port: 'lxd-net5-instance-x', type: '', chassis: ['uuid', 'c2'] } },
      p3: { new: { logical_port: 'cr-lxd-net6-lr-lrp-ext', type: 'chassisredirect', chassis: ['set', []] } },
    },
  };

  it('maps each gateway port to its chassis hostname (the name when the hostname is empty); other ports are not followed', () => {
    const t = new GatewayTable();
    expect(t.apply(initial)).toBeNull();
    expect(Object.fromEntries(t.gateways())).toEqual({ 'cr-lxd-net5-lr-lrp-ext': 'member1', 'cr-lxd-net6-lr-lrp-ext': null });
    // The router's uplink addresses (as LXD's volatile.network.ipvN.address) map to the chassis.
    expect(Object.fromEntries(t.byAddress())).toEqual({ '203.0.113.13': 'member1', '2001:db8:13::1': 'member1' });
    // The gateway moves: ovn-controller of member2 claims the port.
    expect(t.apply({ Port_Binding: { p1: { old: { chassis: ['uuid', 'c1'] }, new: { logical_port: 'cr-lxd-net5-lr-lrp-ext', type: 'chassisredirect', chassis: ['uuid', 'c2'] } } } })).toBeNull();
    expect(t.gateways().get('cr-lxd-net5-lr-lrp-ext')).toBe('member2');
    // A partial `new` keeps the columns it lacks; a delete removes the row.
    expect(t.apply({ Port_Binding: { p3: { new: { chassis: ['uuid', 'c1'] } }, p1: { old: {} } } })).toBeNull();
    expect(Object.fromEntries(t.gateways())).toEqual({ 'cr-lxd-net6-lr-lrp-ext': 'member1' });
    // A chassis row that goes away leaves its ports unclaimed as far as we know.
    expect(t.apply({ Chassis: { c1: { old: {} } } })).toBeNull();
    expect(Object.fromEntries(t.gateways())).toEqual({ 'cr-lxd-net6-lr-lrp-ext': null });
  });

  it('withGatewayChassis puts the map\'s chassis on the OVN networks it knows, by router address; others keep LXD\'s', () => {
    const net = (name: string, v4: string): LxdNetwork => ({ name, type: 'ovn', managed: true, project: 'default', config: { 'volatile.network.ipv4.address': v4 } }) as LxdNetwork;
    const view = {
      serverName: 'member1',
      clustered: true,
      memberStatus: 'Online',
      projects: [],
      instances: [],
      networks: [net('netg', '203.0.113.13'), net('neth', '203.0.113.14'), { ...net('br', ''), type: 'bridge' } as LxdNetwork],
      states: new Map([
        ['default/netg', { ovn: { chassis: 'member1' } }],
        ['default/neth', { ovn: { chassis: 'member3' } }],
      ]),
      forwards: new Map(),
      loadBalancers: new Map(),
    } as LxdView;
    const out = withGatewayChassis(view, new Map([['203.0.113.13', 'member2']]));
    expect(out.states.get('default/netg')).toEqual({ ovn: { chassis: 'member2' } });
    expect(out.states.get('default/neth')).toEqual({ ovn: { chassis: 'member3' } });
    expect(view.states.get('default/netg')).toEqual({ ovn: { chassis: 'member1' } });
    expect(withGatewayChassis(view, new Map([['203.0.113.14', null]])).states.get('default/neth')).toEqual({ ovn: null });
    expect(withGatewayChassis(view, new Map([['203.0.113.14', 'member3']]))).toBe(view);
  });

  it('says which row is malformed', () => {
    const t = new GatewayTable();
    expect(t.apply({ Port_Binding: { p9: { new: { logical_port: 'cr-a', type: 'chassisredirect', chassis: ['uuid', 1] } } } })).toBe(
      'Port_Binding p9 (cr-a): chassis ["uuid",1] is not an optional uuid',
    );
    expect(t.apply({ Chassis: { c9: { new: {} } } })).toBe('Chassis c9: no hostname or name');
  });

  it('keeps at most maxRows rows per table', () => {
    const t = new GatewayTable(1);
    expect(t.apply({ Port_Binding: { a: { new: { logical_port: 'cr-a', type: 'chassisredirect', chassis: ['set', []] } } } })).toBeNull();
    expect(t.apply({ Port_Binding: { b: { new: { logical_port: 'cr-b', type: 'chassisredirect', chassis: ['set', []] } } } })).toBe('more than 1 gateway Port_Binding rows');
  });

  it('lists the ports whose chassis changed', () => {
    const a = new Map<string, string | null>([
      ['p', 'm1'],
      ['q', 'm2'],
      ['r', null],
    ]);
    const b = new Map<string, string | null>([
      ['p', 'm2'],
      ['q', 'm2'],
      ['s', 'm3'],
    ]);
    expect(changedGateways(a, b)).toEqual(['p', 'r', 's']);
    expect(changedGateways(null, b)).toEqual(['p', 'q', 's']);
    expect(changedGateways(b, new Map(b))).toEqual([]);
  });
});
