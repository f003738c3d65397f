import { describe, expect, it } from 'vitest';
import { Framer } from '../../../bgp/wire/framer.js';
import { ErrCode, HeaderSub, MsgType } from '../../../bgp/wire/iana.js';
import { BgpError } from '../../../bgp/wire/errors.js';
import { MARKER, dump, expectBgpError, frame, hex } from './msg-fixture.js';

// A stream of one message of each type, as a peer might send them back to back.
const MESSAGES: Uint8Array[] = [
  hex`${MARKER} 0025 01 04 fde9 005a c0000201 08 02 06 41 04 0000fde9`, // OPEN
  hex`${MARKER} 0013 04`, // KEEPALIVE
  hex`${MARKER} 0017 02 0000 0000`, // UPDATE: IPv4 End-of-RIB
  frame(MsgType.UPDATE, new Uint8Array(40).fill(0x5a)), // UPDATE-typed filler, bodies are not parsed here
  hex`${MARKER} 0017 05 0001 00 01`, // ROUTE-REFRESH
  hex`${MARKER} 0018 03 06 02 02 6869`, // NOTIFICATION Cease/2 "hi"
];
const STREAM = concat(MESSAGES);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Push the chunks one by one, draining after each, and return every frame. */
function run(chunks: Uint8Array[], f = new Framer()): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    f.push(c);
    for (const m of f) out.push(m);
  }
  return out;
}

const dumps = (frames: Uint8Array[]): string[] => frames.map(dump);

describe('Framer stitching', () => {
  it('cuts one chunk into its messages, as views of the chunk', () => {
    const frames = run([STREAM]);
    expect(dumps(frames)).toEqual(dumps(MESSAGES));
    for (const fr of frames) expect(fr.buffer).toBe(STREAM.buffer);
  });

  it('gives the same messages for a split at every offset', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const frames = run([STREAM.subarray(0, i), STREAM.subarray(i)]);
      expect(dumps(frames), `split at ${i}`).toEqual(dumps(MESSAGES));
    }
  });

  it('gives the same messages for every three-way split', () => {
    let runs = 0;
    for (let i = 0; i <= STREAM.length; i += 1) {
      for (let j = i; j <= STREAM.length; j += 3) {
        const frames = run([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]);
        expect(frames.length).toBe(MESSAGES.length);
        for (let k = 0; k < frames.length; k++) {
          if (dump(frames[k]!) !== dump(MESSAGES[k]!)) throw new Error(`split ${i}/${j}, message ${k}:\n${dump(frames[k]!)}`);
        }
        runs++;
      }
    }
    expect(runs).toBeGreaterThan(1000);
  });

  it('gives the same messages fed one byte at a time', () => {
    const chunks = Array.from(STREAM, (b) => Uint8Array.of(b));
    expect(dumps(run(chunks))).toEqual(dumps(MESSAGES));
  });

  it('returns null until a message is whole, and counts buffered bytes', () => {
    const f = new Framer();
    const open = MESSAGES[0]!;
    f.push(open.subarray(0, 10));
    expect(f.next()).toBeNull();
    f.push(open.subarray(10, 30));
    expect(f.next()).toBeNull();
    expect(f.bufferedBytes).toBe(30);
    f.push(open.subarray(30));
    expect(dump(f.next()!)).toBe(dump(open));
    expect(f.next()).toBeNull();
    expect(f.bufferedBytes).toBe(0);
  });

  it('copies a message that spans chunks, so later writes to the chunks do not change it', () => {
    const a = STREAM.slice(0, 25);
    const b = STREAM.slice(25);
    const f = new Framer();
    f.push(a);
    f.push(b);
    const first = f.next()!;
    a.fill(0);
    expect(dump(first)).toBe(dump(MESSAGES[0]!));
  });

  it('ignores empty chunks', () => {
    expect(dumps(run([new Uint8Array(0), STREAM, new Uint8Array(0)]))).toEqual(dumps(MESSAGES));
  });

  it('handles a 65535-octet message in 1-octet chunks', () => {
    const big = frame(MsgType.UPDATE, new Uint8Array(65535 - 19).fill(7));
    const f = new Framer(65535);
    let got: Uint8Array | null = null;
    for (let i = 0; i < big.length; i++) {
      f.push(big.subarray(i, i + 1));
      got = f.next() ?? got;
    }
    expect(got?.length).toBe(65535);
    expect(got![65534]).toBe(7);
  });

  it('handles many chunks across queue compaction', () => {
    const many = concat(Array.from({ length: 50 }, () => STREAM));
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < many.length; i += 7) chunks.push(many.subarray(i, i + 7));
    const frames = run(chunks);
    expect(frames.length).toBe(50 * MESSAGES.length);
    expect(dump(frames[frames.length - 1]!)).toBe(dump(MESSAGES[MESSAGES.length - 1]!));
  });
});

describe('Framer errors fail fast', () => {
  /** Push chunks (push itself must not throw), then expect next() to throw this error. */
  const failsWith = (chunks: Uint8Array[], code: number, subcode: number, data?: Uint8Array, f = new Framer()): Framer => {
    for (const c of chunks) expect(() => f.push(c)).not.toThrow();
    expect(f.error, 'error recorded as soon as the bytes were pushed').not.toBeNull();
    expectBgpError(() => f.next(), code, subcode, data);
    return f;
  };

  it('flags a garbage first octet at once', () => {
    failsWith([Uint8Array.of(0x47)], ErrCode.MessageHeader, HeaderSub.ConnectionNotSynchronized);
  });

  it('flags a bad marker octet in a later chunk', () => {
    const f = new Framer();
    f.push(hex`ffffffffff`);
    expect(f.error).toBeNull();
    expect(f.next()).toBeNull();
    failsWith([hex`ff ff 00`], ErrCode.MessageHeader, HeaderSub.ConnectionNotSynchronized, undefined, f);
  });

  it('returns the good message before reporting a bad marker after it', () => {
    const f = new Framer();
    f.push(hex`${MARKER} 0013 04 ff ff fe`);
    expect(f.next()?.length).toBe(19);
    expectBgpError(() => f.next(), ErrCode.MessageHeader, HeaderSub.ConnectionNotSynchronized);
  });

  it('stays failed: drops later bytes and rethrows the same error', () => {
    const f = failsWith([hex`00`], ErrCode.MessageHeader, HeaderSub.ConnectionNotSynchronized);
    const first = f.error!;
    f.push(hex`${MARKER} 0013 04`);
    expect(() => f.next()).toThrow(first);
    expect(f.error).toBe(first);
  });

  it('flags an over-long message as soon as its header is in, before its body', () => {
    failsWith([hex`${MARKER} 1388 02`], ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`1388`);
  });

  it('accepts the same length once the maximum is raised to 65535', () => {
    const f = new Framer();
    f.setMaxLength(65535);
    const big = frame(MsgType.UPDATE, new Uint8Array(5000 - 19));
    f.push(big);
    expect(f.next()?.length).toBe(5000);
  });

  it('still rejects an OPEN above 4096 with a raised maximum (RFC 8654 §4)', () => {
    failsWith([hex`${MARKER} 1388 01`], ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`1388`, new Framer(65535));
  });

  it('rejects an unknown type and a bad KEEPALIVE length from the header alone', () => {
    failsWith([hex`${MARKER} 0013 07`], ErrCode.MessageHeader, HeaderSub.BadMessageType, hex`07`);
    failsWith([hex`${MARKER} 0020 04`], ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`0020`);
  });

  it('judges the message behind the KEEPALIVE that completes the session by the limit set after it (RFC 8654)', () => {
    // One TCP segment: the peer's KEEPALIVE, then at once a 5000-octet UPDATE.
    const update = new Uint8Array(5000);
    update.set(hex(MARKER));
    update.set([0x13, 0x88, MsgType.UPDATE], 16);
    const f = new Framer();
    f.push(concat([hex`${MARKER} 0013 04`, update]));
    expect(f.next()!.length).toBe(19);
    // The driver handles the KEEPALIVE: Established with Extended Message.
    f.setMaxLength(65535);
    expect(f.next()!.length).toBe(5000);
    // Without the larger limit the same bytes fail with the length as data.
    const g = new Framer();
    g.push(concat([hex`${MARKER} 0013 04`, update]));
    expect(g.next()!.length).toBe(19);
    expectBgpError(() => g.next(), ErrCode.MessageHeader, HeaderSub.BadMessageLength, hex`1388`);
  });

  it('refuses a maximum outside 19..65535', () => {
    expect(() => new Framer(18)).toThrow(RangeError);
    expect(() => new Framer().setMaxLength(65536)).toThrow(RangeError);
  });

  it('only ever throws BgpError on random streams', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let run = 0; run < 300; run++) {
      const f = new Framer();
      // Half the runs start with a valid marker so the length/type checks are reached.
      const prefix = run % 2 === 0 ? hex(MARKER) : new Uint8Array(0);
      const junk = Uint8Array.from({ length: 40 }, rnd);
      try {
        f.push(concat([prefix, junk]));
        for (const _ of f) void _;
      } catch (e) {
        expect(e).toBeInstanceOf(BgpError);
      }
    }
  });
});
