/**
 * OPEN meaning checks (RFC 4271 §6.2, RFC 5492 §5, RFC 6286, RFC 6793):
 * each case asserts the exact code, subcode and data bytes.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig, type SessionConfigInput } from '../../../bgp/session/config.js';
import { bgpIdValue, checkOpen, peerAsOf, peerFamilies } from '../../../bgp/session/open-check.js';
import type { OpenMessage } from '../../../bgp/wire/types.js';
import { CFG, LOCAL_ID, peerOpen } from './fixtures.js';

const check = (open: OpenMessage, cfg: Partial<SessionConfigInput> = {}) => checkOpen(open, resolveConfig({ ...CFG, ...cfg }));

describe('checkOpen', () => {
  it('accepts a well-formed OPEN from the configured peer', () => {
    expect(check(peerOpen())).toBeNull();
  });

  it.each<[string, OpenMessage, Partial<SessionConfigInput>, number, number[]]>([
    ['version 3', peerOpen({ version: 3 }), {}, 1, [0, 4]],
    ['an optional parameter other than capabilities', peerOpen({ otherParams: [{ type: 1, value: new Uint8Array([1, 2]) }] }), {}, 4, []],
    ['version 5', peerOpen({ version: 5 }), {}, 1, [0, 4]],
    [
      'peer AS mismatch (2-octet, no capability)',
      peerOpen({ myAs: 65009, capabilities: [] }),
      {},
      2,
      [],
    ],
    [
      'peer AS mismatch in the 4-octet capability',
      peerOpen({ capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65009 }] }),
      {},
      2,
      [],
    ],
    [
      '4-octet AS > 65535 but My AS is not AS_TRANS',
      peerOpen({ myAs: 64512, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 4_200_000_000 }] }),
      { peerAs: 4_200_000_000 },
      2,
      [],
    ],
    [
      '4-octet-AS peer configured but the peer sent only AS_TRANS',
      peerOpen({ myAs: 23456, capabilities: [] }),
      { peerAs: 4_200_000_000 },
      2,
      [],
    ],
    ['BGP Identifier 0.0.0.0', peerOpen({ bgpId: '0.0.0.0' }), {}, 3, []],
    [
      'iBGP peer with our BGP Identifier',
      peerOpen({ myAs: 65001, bgpId: LOCAL_ID, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65001 }] }),
      { peerAs: 65001 },
      3,
      [],
    ],
    ['hold time 1', peerOpen({ holdTime: 1 }), {}, 6, []],
    ['hold time 2', peerOpen({ holdTime: 2 }), {}, 6, []],
    ['hold time 5 under a configured minimum of 10', peerOpen({ holdTime: 5 }), { minHoldTime: 10 }, 6, []],
    [
      'required 4-octet AS capability missing',
      peerOpen({ capabilities: [] }),
      { requiredCapabilities: [65], peerAs: 65002 },
      7,
      // code 65, length 4, our AS 65001 = 0x0000fde9
      [65, 4, 0x00, 0x00, 0xfd, 0xe9],
    ],
    [
      'required family IPv6 unicast missing',
      peerOpen(),
      { requiredCapabilities: [1], families: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }] },
      7,
      // code 1, length 4, AFI 2, reserved, SAFI 1
      [1, 4, 0, 2, 0, 1],
    ],
    [
      'required route refresh missing',
      peerOpen({ capabilities: [{ code: 65, kind: 'four-octet-as', asn: 65002 }] }),
      { requiredCapabilities: [2] },
      7,
      [2, 0],
    ],
  ])('%s -> OPEN Message Error', (_label, open, cfg, subcode, data) => {
    const err = check(open, cfg);
    expect(err).not.toBeNull();
    expect(err!.code).toBe(2);
    expect(err!.subcode).toBe(subcode);
    expect([...err!.data]).toEqual(data);
    expect(err!.action).toBe('session-reset');
  });

  it.each<[string, OpenMessage, Partial<SessionConfigInput>]>([
    ['hold time 0', peerOpen({ holdTime: 0 }), {}],
    ['hold time 3', peerOpen({ holdTime: 3 }), {}],
    [
      '4-octet AS peer with AS_TRANS',
      peerOpen({ myAs: 23456, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 4_200_000_000 }] }),
      { peerAs: 4_200_000_000 },
    ],
    ['eBGP peer with our BGP Identifier (RFC 6286 allows it)', peerOpen({ bgpId: LOCAL_ID }), {}],
    ['required capabilities present', peerOpen(), { requiredCapabilities: [1, 2, 65] }],
    ['a 2-octet-only peer', peerOpen({ capabilities: [] }), {}],
  ])('accepts %s', (_label, open, cfg) => {
    expect(check(open, cfg)).toBeNull();
  });
});

describe('helpers', () => {
  it('peerAsOf prefers the 4-octet capability', () => {
    expect(peerAsOf(peerOpen({ myAs: 23456, capabilities: [{ code: 65, kind: 'four-octet-as', asn: 4_200_000_000 }] }))).toBe(
      4_200_000_000,
    );
    expect(peerAsOf(peerOpen({ myAs: 64999, capabilities: [] }))).toBe(64999);
  });

  it('peerFamilies: no MP capability means IPv4 unicast only (RFC 4760 §8)', () => {
    expect(peerFamilies(peerOpen({ capabilities: [] }))).toEqual([{ afi: 1, safi: 1 }]);
    expect(peerFamilies(peerOpen({ capabilities: [{ code: 1, kind: 'multiprotocol', afi: 2, safi: 1 }] }))).toEqual([
      { afi: 2, safi: 1 },
    ]);
  });

  it('bgpIdValue is unsigned 32-bit', () => {
    expect(bgpIdValue('255.255.255.255')).toBe(0xffffffff);
    expect(bgpIdValue('128.0.0.0')).toBe(0x80000000);
    expect(bgpIdValue('0.0.0.1')).toBe(1);
    expect(bgpIdValue('1.2.3')).toBeNull();
  });
});

describe('resolveConfig', () => {
  it.each([1, 2, -1, 65536, 1.5])('rejects a configured hold time of %s', (holdTime) => {
    expect(() => resolveConfig({ ...CFG, holdTime })).toThrow(/holdTime/);
  });
  it('rejects a zero router id and an AS of 0', () => {
    expect(() => resolveConfig({ ...CFG, routerId: '0.0.0.0' })).toThrow(/routerId/);
    expect(() => resolveConfig({ ...CFG, localAs: 0 })).toThrow(/localAs/);
  });
  it('fills defaults', () => {
    const c = resolveConfig(CFG);
    expect(c.families).toEqual([{ afi: 1, safi: 1 }]);
    expect(c.openHoldTime).toBe(240);
    expect(c.routeRefresh).toBe(true);
    expect(c.gracefulRestart).toBeUndefined();
  });
});
