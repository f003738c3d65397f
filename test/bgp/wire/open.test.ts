import { describe, expect, it } from 'vitest';
import { decodeOpenBody, encodeOpenBody } from '../../../bgp/wire/messages/open.js';
import { decodeHeader, finishHeader, writeHeader } from '../../../bgp/wire/messages/header.js';
import { ErrCode, MsgType, OpenSub } from '../../../bgp/wire/iana.js';
import { Reader } from '../../../bgp/wire/reader.js';
import { Writer } from '../../../bgp/wire/writer.js';
import type { Capability, OpenMessage } from '../../../bgp/wire/types.js';
import { MARKER, expectBgpError, expectBytes, frame, hex } from './msg-fixture.js';

// OPEN is exercised here through its body codec plus the header helpers;
// messages.test.ts runs the same bytes through decodeMessage/encodeMessage.
const decodeOpen = (bytes: Uint8Array): OpenMessage => {
  const h = decodeHeader(bytes, 4096);
  expect(h.type).toBe(MsgType.OPEN);
  return decodeOpenBody(new Reader(bytes, { code: ErrCode.OpenMessage, subcode: 0 }, 19, h.length));
};
const encodeOpen = (msg: OpenMessage): Uint8Array => {
  const w = new Writer();
  const at = writeHeader(w, MsgType.OPEN);
  encodeOpenBody(w, msg);
  finishHeader(w, at);
  return w.finish();
};

interface Fixture {
  name: string;
  bytes: Uint8Array;
  msg: OpenMessage;
}

const FIXTURES: Fixture[] = [
  {
    name: 'minimal OPEN without optional parameters',
    bytes: hex`
      ${MARKER} 001d 01     # marker, length 29, OPEN
      04                    # version 4
      fde9                  # my AS 65001
      005a                  # hold time 90
      c0000201              # BGP identifier 192.0.2.1
      00                    # no optional parameters`,
    msg: { type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.0.2.1', capabilities: [], otherParams: [] },
  },
  {
    // Shaped like BIRD 2 with IPv4 and IPv6 channels, extended next hop,
    // extended messages, GR awareness, LLGR and the hostname capability: one
    // Capabilities parameter holding every capability.
    name: 'BIRD-style OPEN, all capabilities in one parameter',
    bytes: hex`
      ${MARKER} 0057 01     # length 87, OPEN
      04 fde9 00f0          # version 4, AS 65001, hold 240
      c0000201              # 192.0.2.1
      3a                    # optional parameters: 58 octets
      02 38                 # Capabilities parameter, 56 octets
        01 04 0001 00 01    # MP IPv4 unicast
        01 04 0002 00 01    # MP IPv6 unicast
        02 00               # route refresh
        05 06 0001 0001 0002  # extended next hop IPv4 unicast over IPv6
        06 00               # extended message
        40 02 0078          # graceful restart, 120 s, no families
        41 04 0000fde9      # four-octet AS 65001
        46 00               # enhanced route refresh
        47 00               # LLGR (unknown to herald), empty
        49 10 03 727331 0b 6578616d706c652e6e6574  # FQDN "rs1" "example.net"`,
    msg: {
      type: 'open',
      version: 4,
      myAs: 65001,
      holdTime: 240,
      bgpId: '192.0.2.1',
      capabilities: [
        { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
        { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
        { code: 2, kind: 'route-refresh' },
        { code: 5, kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
        { code: 6, kind: 'extended-message' },
        { code: 64, kind: 'graceful-restart', restarting: false, notification: false, restartTime: 120, families: [] },
        { code: 65, kind: 'four-octet-as', asn: 65001 },
        { code: 70, kind: 'enhanced-route-refresh' },
        { code: 71, kind: 'unknown', value: new Uint8Array(0) },
        { code: 73, kind: 'fqdn', hostname: 'rs1', domain: 'example.net' },
      ],
      otherParams: [],
    },
  },
  {
    name: 'four-octet AS speaker sends AS_TRANS, plus a non-capability parameter',
    bytes: hex`
      ${MARKER} 002b 01     # length 43
      04 5ba0 00b4          # AS_TRANS 23456, hold 180
      cb007101              # 203.0.113.1
      0e                    # 14 octets of parameters
      02 06 41 04 fa56ea00  # four-octet AS 4200000000
      01 04 deadbeef        # parameter type 1 (deprecated authentication), opaque`,
    msg: {
      type: 'open',
      version: 4,
      myAs: 23456,
      holdTime: 180,
      bgpId: '203.0.113.1',
      capabilities: [{ code: 65, kind: 'four-octet-as', asn: 4200000000 }],
      otherParams: [{ type: 1, value: hex`deadbeef` }],
    },
  },
];

describe('OPEN fixtures, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes ${f.name}`, () => {
      expect(decodeOpen(f.bytes)).toEqual(f.msg);
    });
    it(`encodes ${f.name}`, () => {
      expectBytes(encodeOpen(f.msg), f.bytes);
    });
  }
});

describe('FRR-style OPEN: one capability per optional parameter', () => {
  // FRR writes every capability in its own Capabilities parameter; herald
  // reads them all and re-encodes them grouped, so this fixture is one-way.
  const bytes = hex`
    ${MARKER} 0069 01       # length 105
    04 fdea 00b4            # AS 65002, hold 180
    c6336402                # 198.51.100.2
    4c                      # 76 octets of parameters
    02 06 01 04 0001 00 01  # MP IPv4 unicast
    02 06 01 04 0002 00 01  # MP IPv6 unicast
    02 02 80 00             # pre-standard route refresh (128), unknown
    02 02 02 00             # route refresh
    02 06 41 04 0000fdea    # four-octet AS 65002
    02 06 45 04 0001 01 01  # ADD-PATH IPv4 unicast receive
    02 14 49 12 05 6564676531 0b 6578616d706c652e6e6574   # FQDN "edge1" "example.net"
    02 04 40 02 c0 78       # graceful restart R|N, 120 s
    02 02 46 00             # enhanced route refresh
    02 02 47 00             # LLGR, unknown`;
  const caps: Capability[] = [
    { code: 1, kind: 'multiprotocol', afi: 1, safi: 1 },
    { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
    { code: 128, kind: 'unknown', value: new Uint8Array(0) },
    { code: 2, kind: 'route-refresh' },
    { code: 65, kind: 'four-octet-as', asn: 65002 },
    { code: 69, kind: 'add-path', families: [{ afi: 1, safi: 1, sendReceive: 1 }] },
    { code: 73, kind: 'fqdn', hostname: 'edge1', domain: 'example.net' },
    { code: 64, kind: 'graceful-restart', restarting: true, notification: true, restartTime: 120, families: [] },
    { code: 70, kind: 'enhanced-route-refresh' },
    { code: 71, kind: 'unknown', value: new Uint8Array(0) },
  ];

  it('concatenates the capabilities of every parameter, in order', () => {
    expect(decodeOpen(bytes)).toEqual({ type: 'open', version: 4, myAs: 65002, holdTime: 180, bgpId: '198.51.100.2', capabilities: caps, otherParams: [] });
  });

  it('re-encodes into one parameter that decodes the same', () => {
    const again = encodeOpen(decodeOpen(bytes));
    expect(again.length).toBe(bytes.length - 2 * 9); // nine fewer parameter headers
    expect(decodeOpen(again)).toEqual(decodeOpen(bytes));
  });
});

describe('RFC 9072 extended optional parameters length', () => {
  const caps: Capability[] = Array.from({ length: 50 }, (_, i) => ({ code: 1, kind: 'multiprotocol', afi: 1, safi: i + 1 }) as Capability);
  const capHex = caps.map((_, i) => `01 04 0001 00 ${(i + 1).toString(16).padStart(2, '0')}`).join('\n');
  const bytes = hex(`
    ${MARKER} 014f 01       # length 335
    04 fde9 005a c0000201
    ff                      # Non-Ext OP Len: 255
    ff                      # Non-Ext OP Type: 255, extended form follows
    012f                    # Extended Opt. Parm. Length: 303
    02 012c                 # Capabilities parameter, 2-octet length 300
    ${capHex}`);
  const msg: OpenMessage = { type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.0.2.1', capabilities: caps, otherParams: [] };

  it('decodes 300 octets of capabilities', () => {
    expect(decodeOpen(bytes)).toEqual(msg);
  });

  it('encodes the extended form only when the parameters do not fit 255 octets', () => {
    expectBytes(encodeOpen(msg), bytes);
    const small = encodeOpen({ ...msg, capabilities: caps.slice(0, 42) }); // 2 + 252 = 254 octets
    expect(small[28]).toBe(254);
    expect(small[29]).toBe(2);
  });

  it('accepts the extended form for short parameters too', () => {
    const b = hex`${MARKER} 0025 01 04 fde9 005a c0000201 | 07 ff 0005 | 02 0002 02 00`;
    expect(decodeOpen(b).capabilities).toEqual([{ code: 2, kind: 'route-refresh' }]);
  });
});

describe('malformed OPEN bodies are OPEN Message Error / Unspecific', () => {
  const body = (params: string) => frame(MsgType.OPEN, hex(`04 fde9 005a c0000201 ${params}`));
  const cases: [string, Uint8Array][] = [
    ['parameters length past the message', body('05 02 00')],
    ['octets after the parameters', body('00 00')],
    ['octets after a parameter list', body('02 02 00 ff')],
    ['a lone parameter type', body('01 02')],
    ['a parameter value past the parameters length', body('04 02 08 02 00')],
    ['a truncated capability inside a parameter', body('04 02 02 01 04')],
    ['a malformed multiprotocol capability', body('07 02 05 01 03 0001 01')],
    ['extended length with no length octets', body('01 ff')],
    ['extended length past the message', body('ff ff 0010 02 0002 02 00')],
    ['extended parameter with a 1-octet length', body('ff ff 0002 02 00')],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name}`, () => {
      expectBgpError(() => decodeOpen(bytes), ErrCode.OpenMessage, OpenSub.Unspecific);
    });
  }

  it('leaves meaning to the session: version 3, hold time 1, identifier 0.0.0.0 all decode', () => {
    const m = decodeOpen(frame(MsgType.OPEN, hex`03 fde9 0001 00000000 00`));
    expect(m).toMatchObject({ version: 3, holdTime: 1, bgpId: '0.0.0.0' });
  });

  it('refuses to encode a BGP identifier that is not a dotted quad', () => {
    expect(() => encodeOpen({ ...FIXTURES[0]!.msg, bgpId: '2001:db8::1' })).toThrow(RangeError);
  });
});
