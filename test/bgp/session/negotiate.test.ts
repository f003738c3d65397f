/**
 * Our OPEN from config, and the negotiated context from both OPENs.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig, type SessionConfigInput } from '../../../bgp/session/config.js';
import { buildOpen, keepaliveFor, negotiate } from '../../../bgp/session/negotiate.js';
import type { Capability, OpenMessage } from '../../../bgp/wire/types.js';
import { decodeMessage, encodeMessage } from '../../../bgp/wire/messages/index.js';
import { DEFAULT_CONTEXT } from '../../../bgp/wire/context.js';
import { CFG, peerOpen } from './fixtures.js';

const cfg = (over: Partial<SessionConfigInput> = {}) => resolveConfig({ ...CFG, ...over });
const neg = (over: Partial<SessionConfigInput>, theirs: OpenMessage) => {
  const c = cfg(over);
  return negotiate(c, buildOpen(c), theirs);
};
const kinds = (o: OpenMessage): string[] => o.capabilities.map((c) => c.kind);

describe('buildOpen', () => {
  it('default: version 4, our AS, hold, router id, MP IPv4 unicast, RR, ERR, 4-octet AS, extended message', () => {
    const o = buildOpen(cfg());
    expect(o).toMatchObject({ type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.0.2.1', otherParams: [] });
    expect(kinds(o)).toEqual(['multiprotocol', 'route-refresh', 'enhanced-route-refresh', 'four-octet-as', 'extended-message']);
    expect(o.capabilities).toContainEqual({ code: 65, kind: 'four-octet-as', asn: 65001 });
  });

  it('a 4-octet local AS goes in My AS as AS_TRANS and in the capability in full', () => {
    const o = buildOpen(cfg({ localAs: 4_200_000_000 }));
    expect(o.myAs).toBe(23456);
    expect(o.capabilities).toContainEqual({ code: 65, kind: 'four-octet-as', asn: 4_200_000_000 });
  });

  it('one MP capability per family, extended next hop, GR with every family and the F bit, FQDN', () => {
    const o = buildOpen(
      cfg({
        families: [
          { afi: 1, safi: 1 },
          { afi: 2, safi: 1 },
        ],
        extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }],
        gracefulRestart: { restartTime: 120 },
        hostname: { hostname: 'edge1', domain: 'example.net' },
        extendedMessage: false,
        enhancedRouteRefresh: false,
      }),
    );
    expect(o.capabilities.filter((c) => c.kind === 'multiprotocol')).toEqual([
      { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
      { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
    ]);
    expect(o.capabilities).toContainEqual({ code: 5, kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] });
    expect(o.capabilities).toContainEqual({
      code: 64,
      kind: 'graceful-restart',
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [
        { afi: 1, safi: 1, forwardingPreserved: true },
        { afi: 2, safi: 1, forwardingPreserved: true },
      ],
    });
    expect(o.capabilities).toContainEqual({ code: 73, kind: 'fqdn', hostname: 'edge1', domain: 'example.net' });
    expect(kinds(o)).not.toContain('extended-message');
    expect(kinds(o)).not.toContain('enhanced-route-refresh');
  });
});

describe('negotiate', () => {
  it('families: a peer with no MP capability is IPv4 unicast only (RFC 4760 §8)', () => {
    const both = { families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] };
    expect(neg(both, peerOpen({ capabilities: [] })).families).toEqual(['1/1']);
    expect(neg({ families: [{ afi: 2, safi: 1 }] }, peerOpen({ capabilities: [] })).families).toEqual([]);
  });

  it('families: the intersection of both MP sets, in our order', () => {
    const n = neg(
      { families: [{ afi: 2, safi: 1 }, { afi: 1, safi: 1 }] },
      peerOpen({
        capabilities: [
          { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
          { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
          { code: 1, kind: 'multiprotocol', afi: 1, safi: 2 },
        ],
      }),
    );
    expect(n.families).toEqual(['2/1', '1/1']);
  });

  it('context: as4 and extended message need both sides; ibgp from the AS numbers', () => {
    const full = neg({}, peerOpen({}, [{ code: 6, kind: 'extended-message' }]));
    expect(full.context.as4).toBe(true);
    expect(full.context.extendedMessage).toBe(true);
    expect(full.context.ibgp).toBe(false);
    const old = neg({}, peerOpen({ capabilities: [] }));
    expect(old.context.as4).toBe(false);
    expect(old.context.extendedMessage).toBe(false);
    const oursOff = neg({ extendedMessage: false }, peerOpen({}, [{ code: 6, kind: 'extended-message' }]));
    expect(oursOff.context.extendedMessage).toBe(false);
    const ibgp = neg({ peerAs: 65001 }, peerOpen({ myAs: 65001, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65001 }] }));
    expect(ibgp.context.ibgp).toBe(true);
  });

  it.each<[1 | 2 | 3, 1 | 2 | 3, boolean, boolean]>([
    // ours, theirs, send, receive
    [2, 1, true, false],
    [1, 2, false, true],
    [3, 3, true, true],
    [2, 2, false, false],
    [1, 1, false, false],
    [3, 1, true, false],
  ])('ADD-PATH ours %i theirs %i -> send %s receive %s', (ours, theirs, send, receive) => {
    const n = neg(
      { addPath: [{ afi: 1, safi: 1, sendReceive: ours }] },
      peerOpen({}, [{ code: 69, kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: theirs }] }]),
    );
    expect(n.context.addPathSend.has('1/1')).toBe(send);
    expect(n.context.addPathReceive.has('1/1')).toBe(receive);
  });

  it('extended next hop only for entries both sides advertised', () => {
    const ours = { extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
    const match: Capability = { code: 5, kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] };
    const other: Capability = { code: 5, kind: 'extended-next-hop', entries: [{ afi: 1, safi: 2, nextHopAfi: 2 }] };
    expect([...neg(ours, peerOpen({}, [match])).context.extendedNextHop]).toEqual(['1/1']);
    expect([...neg(ours, peerOpen({}, [other])).context.extendedNextHop]).toEqual([]);
    expect([...neg({}, peerOpen({}, [match])).context.extendedNextHop]).toEqual([]);
  });

  it.each([
    // [our hold, their hold, configured keepalive, hold, keepalive]
    [90, 90, undefined, 90, 30],
    [90, 30, undefined, 30, 10],
    [30, 90, undefined, 30, 10],
    [90, 0, undefined, 0, 0],
    [90, 3, undefined, 3, 1],
    [90, 90, 10, 90, 10],
    [90, 9, 10, 9, 3],
    [90, 4, undefined, 4, 1],
  ] as const)('hold %i vs %i (keepalive %s) -> hold %i, keepalive %i', (ours, theirs, ka, hold, keepalive) => {
    const n = neg({ holdTime: ours, ...(ka !== undefined ? { keepaliveTime: ka } : {}) }, peerOpen({ holdTime: theirs }));
    expect(n.holdTime).toBe(hold);
    expect(n.keepaliveTime).toBe(keepalive);
  });

  it('keepaliveFor never exceeds a third of the hold time', () => {
    for (let h = 3; h < 1000; h++) expect(keepaliveFor(h, 1000)).toBeLessThanOrEqual(h / 3);
  });

  it('route refresh, enhanced route refresh, graceful restart and hostname', () => {
    const gr: Capability = {
      code: 64,
      kind: 'graceful-restart',
      restarting: true,
      notification: true,
      restartTime: 300,
      families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
    };
    const n = neg(
      { gracefulRestart: { restartTime: 60 } },
      peerOpen({}, [{ code: 70, kind: 'enhanced-route-refresh' }, gr, { code: 73, kind: 'fqdn', hostname: 'core1', domain: '' }]),
    );
    expect(n.routeRefresh).toBe(true);
    expect(n.enhancedRouteRefresh).toBe(true);
    expect(n.gracefulRestart).toBe(true);
    expect(n.peerGracefulRestart).toEqual({
      restarting: true,
      notification: true,
      restartTime: 300,
      families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
    });
    expect(n.peerHostname).toEqual({ hostname: 'core1', domain: '' });
    const bare = neg({ routeRefresh: false }, peerOpen());
    expect(bare.routeRefresh).toBe(false);
    expect(bare.enhancedRouteRefresh).toBe(false);
    expect(bare.gracefulRestart).toBe(false);
    expect(bare.peerGracefulRestart).toBeUndefined();
    expect(bare.peerAs).toBe(65002);
    expect(bare.peerBgpId).toBe('192.0.2.2');
  });
});

describe('Graceful Restart (RFC 4724 §3, RFC 8538 §2)', () => {
  const grCap = (o: OpenMessage) => o.capabilities.find((c) => c.kind === 'graceful-restart');
  const peerGr = (notification: boolean, families: { afi: number; safi: number; forwardingPreserved: boolean }[] = []): Capability => ({
    code: 64,
    kind: 'graceful-restart',
    restarting: false,
    notification,
    restartTime: 120,
    families,
  });

  it('R bit only when the OPEN is built for a restarted speaker; N bit from the config; F bit off on request', () => {
    const c = cfg({ gracefulRestart: { restartTime: 90, notification: true, forwardingPreserved: false } });
    expect(grCap(buildOpen(c))).toMatchObject({ restarting: false, notification: true, restartTime: 90, families: [{ afi: 1, safi: 1, forwardingPreserved: false }] });
    expect(grCap(buildOpen(c, { restarting: true }))).toMatchObject({ restarting: true });
    expect(grCap(buildOpen(cfg()))).toBeUndefined();
    expect(grCap(buildOpen(cfg(), { restarting: true }))).toBeUndefined();
  });

  it('the capability survives the wire: flags word and <AFI, SAFI, F> entries', () => {
    const c = cfg({ gracefulRestart: { restartTime: 0xabc, notification: true }, families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] });
    const open = buildOpen(c, { restarting: true });
    const bytes = encodeMessage(open, DEFAULT_CONTEXT);
    const back = decodeMessage(bytes, DEFAULT_CONTEXT);
    expect(back).toEqual(open);
    // the capability value: R|N|time, then (1, 1, 0x80) and (2, 1, 0x80)
    const hexText = Buffer.from(bytes).toString('hex');
    expect(hexText).toContain('400a' + 'cabc' + '0001' + '01' + '80' + '0002' + '01' + '80');
  });

  it('gracefulNotification needs the N bit from both sides; gracefulRestart only the capability', () => {
    const ours = { gracefulRestart: { restartTime: 60, notification: true } };
    expect(neg(ours, peerOpen({}, [peerGr(true)]))).toMatchObject({ gracefulRestart: true, gracefulNotification: true });
    expect(neg(ours, peerOpen({}, [peerGr(false)]))).toMatchObject({ gracefulRestart: true, gracefulNotification: false });
    expect(neg({ gracefulRestart: { restartTime: 60 } }, peerOpen({}, [peerGr(true)]))).toMatchObject({ gracefulRestart: true, gracefulNotification: false });
    expect(neg(ours, peerOpen())).toMatchObject({ gracefulRestart: false, gracefulNotification: false });
    expect(neg({}, peerOpen({}, [peerGr(true)]))).toMatchObject({ gracefulRestart: false, gracefulNotification: false });
  });
});
