import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BgpError } from '../../../bgp/wire/errors.js';
import { decodeMessage, encodeKeepalive, encodeMessage } from '../../../bgp/wire/messages/index.js';
import { DEFAULT_CONTEXT, withContext } from '../../../bgp/wire/context.js';
import { ErrCode, HeaderSub, OpenSub } from '../../../bgp/wire/iana.js';
import { Framer } from '../../../bgp/wire/framer.js';
import type { BgpMessage, Capability } from '../../../bgp/wire/types.js';
import { MARKER, expectBgpError, expectBytes, hex } from './msg-fixture.js';

const ctx = DEFAULT_CONTEXT;
const extCtx = withContext(DEFAULT_CONTEXT, { extendedMessage: true });

const FIXTURES: { name: string; bytes: Uint8Array; msg: BgpMessage }[] = [
  {
    name: 'OPEN with multiprotocol and four-octet AS',
    bytes: hex`${MARKER} 002b 01 | 04 fde9 005a c0000201 | 0e 02 0c 01 04 0002 00 01 41 04 0000fde9`,
    msg: {
      type: 'open',
      version: 4,
      myAs: 65001,
      holdTime: 90,
      bgpId: '192.0.2.1',
      capabilities: [
        { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
        { code: 65, kind: 'four-octet-as', asn: 65001 },
      ],
      otherParams: [],
    },
  },
  { name: 'KEEPALIVE', bytes: hex`${MARKER} 0013 04`, msg: { type: 'keepalive' } },
  {
    name: 'NOTIFICATION Cease/Administrative Shutdown "hi"',
    bytes: hex`${MARKER} 0018 03 | 06 02 02 6869`,
    msg: { type: 'notification', code: 6, subcode: 2, data: hex`02 6869`, shutdownText: 'hi' },
  },
  {
    name: 'ROUTE-REFRESH EoRR IPv6 unicast',
    bytes: hex`${MARKER} 0017 05 | 0002 02 01`,
    msg: { type: 'route-refresh', afi: 2, safi: 1, subtype: 2 },
  },
  {
    name: 'UPDATE IPv4 unicast End-of-RIB',
    bytes: hex`${MARKER} 0017 02 | 0000 0000`,
    msg: { type: 'update', withdrawn: [], attributes: {}, nlri: [] },
  },
];

describe('decodeMessage / encodeMessage, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes ${f.name}`, () => {
      expect(decodeMessage(f.bytes, ctx)).toEqual(f.msg);
    });
    it(`encodes ${f.name}`, () => {
      expectBytes(encodeMessage(f.msg, ctx), f.bytes);
    });
  }

  it('decodes what the framer cuts from a stream', () => {
    const f = new Framer();
    for (const fx of FIXTURES) f.push(fx.bytes);
    expect([...f].map((fr) => decodeMessage(fr, ctx))).toEqual(FIXTURES.map((fx) => fx.msg));
  });
});

describe('decodeMessage errors', () => {
  it('rejects a frame longer than its Length field', () => {
    expectBgpError(() => decodeMessage(hex`${MARKER} 0013 04 00`, ctx), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`0013`);
  });

  it('rejects a frame shorter than its Length field', () => {
    expectBgpError(() => decodeMessage(hex`${MARKER} 0017 05 0001 00`, ctx), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`0017`);
  });

  it('applies the context maximum', () => {
    const big = new Uint8Array(5000);
    big.set(hex`${MARKER} 1388 03 06 00`);
    expectBgpError(() => decodeMessage(big, ctx), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`1388`);
    expect(decodeMessage(big, extCtx)).toMatchObject({ type: 'notification', code: 6, subcode: 0 });
  });

  it('passes body errors through with their own identity', () => {
    expectBgpError(() => decodeMessage(hex`${MARKER} 001f 01 04 fde9 005a c0000201 02 02 05`, ctx), ErrCode.OpenMessage, OpenSub.Unspecific);
  });

  it('rejects a bad type with the type octet', () => {
    expectBgpError(() => decodeMessage(hex`${MARKER} 0013 09`, ctx), ErrCode.MessageHeader, HeaderSub.BadMessageType, hex`09`);
  });
});

describe('encodeMessage size limits', () => {
  const bigNotification: BgpMessage = { type: 'notification', code: 6, subcode: 0, data: new Uint8Array(5000) };

  it('throws BgpError for a message above 4096 octets without extended messages', () => {
    expectBgpError(() => encodeMessage(bigNotification, ctx), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`139d`);
  });

  it('allows it once extended messages are negotiated', () => {
    const bytes = encodeMessage(bigNotification, extCtx);
    expect(bytes.length).toBe(5021);
    expect(decodeMessage(bytes, extCtx)).toEqual(bigNotification);
  });

  it('keeps OPEN within 4096 octets whatever was negotiated (RFC 8654 §4)', () => {
    const caps: Capability[] = Array.from({ length: 20 }, (_, i) => ({ code: 200 + i, kind: 'unknown', value: new Uint8Array(255) }));
    const open: BgpMessage = { type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.0.2.1', capabilities: caps, otherParams: [] };
    expectBgpError(() => encodeMessage(open, extCtx), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`1437`);
  });
});

describe('encodeKeepalive', () => {
  it('returns the 19 KEEPALIVE octets', () => {
    expectBytes(encodeKeepalive(), hex`${MARKER} 0013 04`);
  });

  it('cannot be corrupted by a caller writing into the result', () => {
    encodeKeepalive().fill(0);
    expectBytes(encodeKeepalive(), hex`${MARKER} 0013 04`);
  });
});

describe('mutated messages only ever raise BgpError', () => {
  // OPEN, NOTIFICATION and ROUTE-REFRESH fixtures with random octets replaced
  // (the marker is left alone so the body codecs are reached).
  const seeds = FIXTURES.filter((f) => f.msg.type !== 'update').map((f) => f.bytes);
  it('decodes or throws BgpError for 3000 mutations', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (seed, edits, ext) => {
          const b = seed.slice();
          for (const [at, v] of edits) if (b.length > 16) b[16 + (at % (b.length - 16))] = v;
          try {
            const m = decodeMessage(b, ext ? extCtx : ctx);
            // Whatever decodes must encode back to a message that decodes the same.
            expect(decodeMessage(encodeMessage(m, extCtx), extCtx)).toEqual(m);
          } catch (e) {
            if (!(e instanceof BgpError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
