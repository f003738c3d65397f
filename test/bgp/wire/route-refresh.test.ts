import { describe, expect, it } from 'vitest';
import { decodeRouteRefreshBody, encodeRouteRefreshBody, isKnownRefreshSubtype } from '../../../bgp/wire/messages/route-refresh.js';
import { decodeKeepaliveBody } from '../../../bgp/wire/messages/keepalive.js';
import { decodeHeader, finishHeader, writeHeader } from '../../../bgp/wire/messages/header.js';
import { ErrCode, MsgType, RouteRefreshSub } from '../../../bgp/wire/iana.js';
import { Reader } from '../../../bgp/wire/reader.js';
import { Writer } from '../../../bgp/wire/writer.js';
import type { RouteRefreshMessage } from '../../../bgp/wire/types.js';
import { MARKER, expectBgpError, expectBytes, hex } from './msg-fixture.js';

const SHORT = { code: ErrCode.MessageHeader, subcode: 2 };
const decodeRefresh = (bytes: Uint8Array): RouteRefreshMessage => {
  const h = decodeHeader(bytes, 4096);
  expect(h.type).toBe(MsgType.ROUTE_REFRESH);
  return decodeRouteRefreshBody(new Reader(bytes, SHORT, 19, h.length));
};
const encodeRefresh = (msg: RouteRefreshMessage): Uint8Array => {
  const w = new Writer();
  const at = writeHeader(w, MsgType.ROUTE_REFRESH);
  encodeRouteRefreshBody(w, msg);
  finishHeader(w, at);
  return w.finish();
};

const FIXTURES: { name: string; bytes: Uint8Array; msg: RouteRefreshMessage }[] = [
  {
    name: 'normal request, IPv4 unicast (RFC 2918)',
    bytes: hex`${MARKER} 0017 05 | 0001 00 01   # AFI 1, subtype 0, SAFI 1`,
    msg: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 },
  },
  {
    name: 'BoRR, IPv6 unicast (RFC 7313)',
    bytes: hex`${MARKER} 0017 05 | 0002 01 01`,
    msg: { type: 'route-refresh', afi: 2, safi: 1, subtype: 1 },
  },
  {
    name: 'EoRR, IPv4 multicast (RFC 7313)',
    bytes: hex`${MARKER} 0017 05 | 0001 02 02`,
    msg: { type: 'route-refresh', afi: 1, safi: 2, subtype: 2 },
  },
];

describe('ROUTE-REFRESH fixtures, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes ${f.name}`, () => {
      expect(decodeRefresh(f.bytes)).toEqual(f.msg);
    });
    it(`encodes ${f.name}`, () => {
      expectBytes(encodeRefresh(f.msg), f.bytes);
    });
  }
});

describe('ROUTE-REFRESH length and subtype rules (RFC 7313 §5)', () => {
  for (const subtype of ['01', '02']) {
    it(`rejects subtype ${subtype} longer than 23 octets with the whole message as data`, () => {
      const b = hex(`${MARKER} 0018 05 0001 ${subtype} 01 00`);
      expectBgpError(() => decodeRefresh(b), ErrCode.RouteRefresh, RouteRefreshSub.InvalidMessageLength, b);
    });
  }

  it('ignores trailing ORF octets on a normal request', () => {
    expect(decodeRefresh(hex`${MARKER} 001b 05 0001 00 01 01 0002 00`)).toEqual({ type: 'route-refresh', afi: 1, safi: 1, subtype: 0 });
  });

  it('returns an undefined subtype as received, for the session to ignore', () => {
    const m = decodeRefresh(hex`${MARKER} 0017 05 0001 03 01`);
    expect(m.subtype).toBe(3);
    expect(isKnownRefreshSubtype(m.subtype)).toBe(false);
    expect([0, 1, 2].every(isKnownRefreshSubtype)).toBe(true);
  });

  it('caps the NOTIFICATION data of a huge bad BoRR so it still fits 4096 octets', () => {
    const b = new Uint8Array(4096).fill(0);
    b.set(hex`${MARKER} 1000 05 0001 01 01`);
    const e = expectBgpError(() => decodeRefresh(b), ErrCode.RouteRefresh, RouteRefreshSub.InvalidMessageLength, b.subarray(0, 4075));
    expect(e.data.length + 21).toBe(4096);
  });
});

describe('KEEPALIVE body', () => {
  it('decodes to a keepalive', () => {
    const b = hex`${MARKER} 0013 04`;
    expect(decodeKeepaliveBody(new Reader(b, SHORT, 19, 19))).toEqual({ type: 'keepalive' });
  });
});
