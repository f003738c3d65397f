import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeNotificationBody,
  encodeNotificationBody,
  makeHardReset,
  makeShutdownNotification,
  parseShutdownText,
} from '../../../bgp/wire/messages/notification.js';
import { decodeHeader, finishHeader, writeHeader } from '../../../bgp/wire/messages/header.js';
import { BgpError } from '../../../bgp/wire/errors.js';
import { CeaseSub, ErrCode, MsgType } from '../../../bgp/wire/iana.js';
import { Reader } from '../../../bgp/wire/reader.js';
import { Writer } from '../../../bgp/wire/writer.js';
import type { NotificationMessage } from '../../../bgp/wire/types.js';
import { MARKER, expectBytes, hex } from './msg-fixture.js';

const SHORT = { code: ErrCode.MessageHeader, subcode: 2 };
const decodeNotification = (bytes: Uint8Array): NotificationMessage => {
  const h = decodeHeader(bytes, 4096);
  expect(h.type).toBe(MsgType.NOTIFICATION);
  return decodeNotificationBody(new Reader(bytes, SHORT, 19, h.length));
};
const encodeNotification = (msg: NotificationMessage): Uint8Array => {
  const w = new Writer();
  const at = writeHeader(w, MsgType.NOTIFICATION);
  encodeNotificationBody(w, msg);
  finishHeader(w, at);
  return w.finish();
};

const FIXTURES: { name: string; bytes: Uint8Array; msg: NotificationMessage }[] = [
  {
    name: 'Hold Timer Expired, no data',
    bytes: hex`${MARKER} 0015 03 | 04 00`,
    msg: { type: 'notification', code: 4, subcode: 0, data: new Uint8Array(0) },
  },
  {
    name: 'OPEN / Unsupported Capability carrying the capability',
    bytes: hex`${MARKER} 001b 03 | 02 07 | 01 04 0002 00 01`,
    msg: { type: 'notification', code: 2, subcode: 7, data: hex`01 04 0002 00 01` },
  },
  {
    name: 'Cease / Administrative Shutdown with an RFC 9003 communication',
    bytes: hex`
      ${MARKER} 0022 03
      06 02                       # Cease, Administrative Shutdown
      0c 6d61696e74656e616e6365   # length 12, "maintenance"
      21                          # ... "!"`,
    msg: { type: 'notification', code: 6, subcode: 2, data: hex`0c 6d61696e74656e616e636521`, shutdownText: 'maintenance!' },
  },
  {
    name: 'Cease / Administrative Reset with a UTF-8 communication',
    bytes: hex`${MARKER} 001c 03 | 06 04 | 06 c3a9 74c3a9 21   # "été!"`,
    msg: { type: 'notification', code: 6, subcode: 4, data: hex`06 c3a974c3a921`, shutdownText: 'été!' },
  },
  {
    name: 'Cease / Administrative Shutdown with no data at all',
    bytes: hex`${MARKER} 0015 03 | 06 02`,
    msg: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) },
  },
  {
    name: 'Cease / Administrative Shutdown with a zero-length communication',
    bytes: hex`${MARKER} 0016 03 | 06 02 | 00`,
    msg: { type: 'notification', code: 6, subcode: 2, data: hex`00` },
  },
  {
    name: 'Cease / Peer De-configured: data is never read as text',
    bytes: hex`${MARKER} 0018 03 | 06 03 | 02 6869`,
    msg: { type: 'notification', code: 6, subcode: 3, data: hex`02 6869` },
  },
  {
    name: 'Cease / Hard Reset carrying Cease / Administrative Shutdown with a communication (RFC 8538 §3)',
    bytes: hex`
      ${MARKER} 001a 03
      06 09                       # Cease, Hard Reset
      06 02                       # inner: Cease, Administrative Shutdown
      02 6869                     # inner data: length 2, "hi"`,
    msg: {
      type: 'notification',
      code: 6,
      subcode: 9,
      data: hex`06 02 02 6869`,
      hardReset: { code: 6, subcode: 2, data: hex`02 6869` },
      shutdownText: 'hi',
    },
  },
  {
    name: 'Cease / Hard Reset carrying Hold Timer Expired',
    bytes: hex`${MARKER} 0017 03 | 06 09 | 04 00`,
    msg: { type: 'notification', code: 6, subcode: 9, data: hex`04 00`, hardReset: { code: 4, subcode: 0, data: new Uint8Array(0) } },
  },
  {
    name: 'Cease / Hard Reset with one octet of data names no inner message',
    bytes: hex`${MARKER} 0016 03 | 06 09 | 06`,
    msg: { type: 'notification', code: 6, subcode: 9, data: hex`06` },
  },
];

describe('NOTIFICATION fixtures, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes ${f.name}`, () => {
      expect(decodeNotification(f.bytes)).toEqual(f.msg);
    });
    it(`encodes ${f.name}`, () => {
      expectBytes(encodeNotification(f.msg), f.bytes);
    });
  }
});

describe('RFC 9003 malformed shutdown communications keep the raw data, no text', () => {
  const cases: [string, string][] = [
    ['a length past the data', '05 6869'],
    ['invalid UTF-8', '02 ff fe'],
    ['a truncated multi-octet character', '01 c3'],
    ['an overlong encoding', '02 c0 af'],
  ];
  for (const [name, data] of cases) {
    it(`decodes ${name} without shutdownText`, () => {
      const d = hex(data);
      const m = decodeNotification(hex(`${MARKER} ${(21 + d.length).toString(16).padStart(4, '0')} 03 06 02 ${data}`));
      expect(m).toEqual({ type: 'notification', code: 6, subcode: 2, data: d });
      expect(parseShutdownText(d)).toBeUndefined();
    });
  }
});

describe('makeShutdownNotification', () => {
  it('builds Cease / Administrative Shutdown with the text', () => {
    const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, 'bye');
    expect(m).toEqual({ type: 'notification', code: 6, subcode: 2, data: hex`03 627965`, shutdownText: 'bye' });
  });

  it('builds an empty communication for empty text', () => {
    expect(makeShutdownNotification(CeaseSub.AdministrativeReset, '')).toEqual({ type: 'notification', code: 6, subcode: 4, data: hex`00` });
  });

  it('truncates ASCII to 255 octets', () => {
    const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, 'x'.repeat(300));
    expect(m.data.length).toBe(256);
    expect(m.data[0]).toBe(255);
    expect(m.shutdownText).toBe('x'.repeat(255));
  });

  it('cuts before a 2-octet character that would cross octet 255', () => {
    const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, `${'a'.repeat(254)}é`);
    expect(m.data[0]).toBe(254);
    expect(m.shutdownText).toBe('a'.repeat(254));
  });

  it('keeps a 2-octet character that ends exactly at octet 255', () => {
    const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, `${'a'.repeat(253)}éz`);
    expect(m.data[0]).toBe(255);
    expect(m.shutdownText).toBe(`${'a'.repeat(253)}é`);
  });

  it('cuts before a 4-octet emoji at every alignment, and the result decodes', () => {
    for (let pad = 250; pad <= 255; pad++) {
      const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, `${'a'.repeat(pad)}🛠️🛠️`);
      expect(m.data.length - 1).toBe(m.data[0]);
      expect(m.data[0]).toBeLessThanOrEqual(255);
      expect(parseShutdownText(m.data)).toBe(m.shutdownText);
      expect(`${'a'.repeat(pad)}🛠️🛠️`.startsWith(m.shutdownText!)).toBe(true);
    }
  });

  it('round-trips through the wire', () => {
    const m = makeShutdownNotification(CeaseSub.AdministrativeShutdown, 'planned maintenance, back at 14:00 UTC');
    expect(decodeNotification(encodeNotification(m))).toEqual(m);
  });

  it('encodes a shutdownText given without data', () => {
    const bytes = encodeNotification({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0), shutdownText: 'hi' });
    expectBytes(bytes, hex`${MARKER} 0018 03 06 02 02 6869`);
  });
});

describe('makeHardReset (RFC 8538 §3)', () => {
  it('wraps the inner code, subcode and data, keeping the shutdown text readable', () => {
    const inner = makeShutdownNotification(CeaseSub.AdministrativeShutdown, 'bye');
    const m = makeHardReset(inner);
    expect([m.code, m.subcode]).toEqual([ErrCode.Cease, CeaseSub.HardReset]);
    expect([...m.data]).toEqual([6, 2, 3, 0x62, 0x79, 0x65]);
    expect(m.shutdownText).toBe('bye');
    expect(decodeNotification(encodeNotification(m))).toEqual(m);
  });

  it('builds the RFC 9003 data of an inner message given only as text', () => {
    const m = makeHardReset({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0), shutdownText: 'x' });
    expect([...m.data]).toEqual([6, 2, 1, 0x78]);
  });

  it('wraps a non-Cease error unchanged', () => {
    const m = makeHardReset({ type: 'notification', code: 3, subcode: 11, data: hex`01 02` });
    expect([...m.data]).toEqual([3, 11, 1, 2]);
    expect(m.shutdownText).toBeUndefined();
  });
});

describe('NOTIFICATION decoding never throws anything but BgpError', () => {
  it('survives random bodies', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (body) => {
        try {
          const m = decodeNotificationBody(new Reader(body, SHORT));
          expect(m.data.length).toBe(body.length - 2);
        } catch (e) {
          expect(e).toBeInstanceOf(BgpError);
          expect(body.length).toBeLessThan(2);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('survives random Cease 2 and 4 data', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 4), fc.uint8Array({ maxLength: 300 }), (sub, data) => {
        const body = new Uint8Array(2 + data.length);
        body.set([6, sub]);
        body.set(data, 2);
        const m = decodeNotificationBody(new Reader(body, SHORT));
        if (m.shutdownText !== undefined) expect(m.data[0]).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
