import { describe, expect, it } from 'vitest';
import { checkMarker, decodeHeader, finishHeader, writeHeader } from '../../../bgp/wire/messages/header.js';
import { ErrCode, HeaderSub, MsgType } from '../../../bgp/wire/iana.js';
import { Writer } from '../../../bgp/wire/writer.js';
import { MARKER, expectBgpError, expectBytes, hex } from './msg-fixture.js';

const H = ErrCode.MessageHeader;

describe('header decode', () => {
  it('decodes a KEEPALIVE header', () => {
    expect(decodeHeader(hex`${MARKER} 0013 04`, 4096)).toEqual({ length: 19, type: MsgType.KEEPALIVE });
  });

  it('decodes a header at an offset', () => {
    expect(decodeHeader(hex`00 00 ${MARKER} 0017 05`, 4096, 2)).toEqual({ length: 23, type: MsgType.ROUTE_REFRESH });
  });

  it('accepts the largest lengths for the context', () => {
    expect(decodeHeader(hex`${MARKER} 1000 02`, 4096).length).toBe(4096);
    expect(decodeHeader(hex`${MARKER} ffff 02`, 65535).length).toBe(65535);
    expect(decodeHeader(hex`${MARKER} 1000 01`, 65535).length).toBe(4096);
  });
});

describe('header errors (RFC 4271 §6.1)', () => {
  it('rejects a marker that is not all ones: Connection Not Synchronized, no data', () => {
    expectBgpError(() => decodeHeader(hex`ffffffffffffffffffffffffffff7fff 0013 04`, 4096), H, HeaderSub.ConnectionNotSynchronized);
    expectBgpError(() => checkMarker(hex`ff ff 00`, 0, 3), H, HeaderSub.ConnectionNotSynchronized);
  });

  const badLengths: [string, string, number][] = [
    ['length below 19', '0012 04', 4096],
    ['length zero', '0000 02', 4096],
    ['length above 4096 without extended messages', '1001 02', 4096],
    ['OPEN above 4096 even with extended messages (RFC 8654 §4)', '1001 01', 65535],
    ['OPEN below 29', '001c 01', 4096],
    ['UPDATE below 23', '0016 02', 4096],
    ['NOTIFICATION below 21', '0014 03', 4096],
    ['KEEPALIVE above 19', '0014 04', 4096],
    ['ROUTE-REFRESH below 23', '0016 05', 4096],
  ];
  for (const [name, tail, max] of badLengths) {
    it(`rejects ${name}: Bad Message Length with the length field as data`, () => {
      const b = hex(`${MARKER} ${tail}`);
      expectBgpError(() => decodeHeader(b, max), H, HeaderSub.BadMessageLength, b.subarray(16, 18));
    });
  }

  it('checks the length before the type', () => {
    expectBgpError(() => decodeHeader(hex`${MARKER} 0005 63`, 4096), H, HeaderSub.BadMessageLength, hex`0005`);
  });

  for (const t of [0, 6, 255]) {
    it(`rejects type ${t}: Bad Message Type with the type as data`, () => {
      expectBgpError(() => decodeHeader(hex(`${MARKER} 0013 ${t.toString(16).padStart(2, '0')}`), 4096), H, HeaderSub.BadMessageType, Uint8Array.of(t));
    });
  }

  it('rejects fewer than 19 octets', () => {
    expectBgpError(() => decodeHeader(hex`${MARKER} 00`, 4096), H, HeaderSub.BadMessageLength, hex`0011`);
  });

  it('accepts a ROUTE-REFRESH longer than 23 octets: RFC 7313 §5 judges it by subtype', () => {
    expect(decodeHeader(hex`${MARKER} 0018 05`, 4096).length).toBe(24);
  });
});

describe('header encode', () => {
  it('writes marker, length and type', () => {
    const w = new Writer(4);
    const at = writeHeader(w, MsgType.NOTIFICATION);
    w.u8(6).u8(2);
    expect(finishHeader(w, at)).toBe(21);
    expectBytes(w.finish(), hex`${MARKER} 0015 03 06 02`);
  });

  it('patches the length of a header written after other bytes', () => {
    const w = new Writer();
    w.u8(0xaa);
    const at = writeHeader(w, MsgType.KEEPALIVE);
    expect(finishHeader(w, at)).toBe(19);
    expectBytes(w.finish(), hex`aa ${MARKER} 0013 04`);
  });
});
