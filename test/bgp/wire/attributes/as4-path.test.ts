/**
 * AS4_PATH / AS4_AGGREGATOR reconstruction (RFC 6793 §4.2.3) and the
 * 2-octet encoding with AS_TRANS (RFC 6793 §4.2.2).
 */
import { describe, expect, it } from 'vitest';
import { AsPathSegType } from '../../../../bgp/wire/iana.js';
import { reconstructAsPath, asPathLength } from '../../../../bgp/wire/attributes/index.js';
import type { AsPathSegment } from '../../../../bgp/wire/types.js';
import { CTX2, decodeBody, encodeBody, hex, nlri, toHex, update } from './fixtures.js';

const { AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET } = AsPathSegType;
const seq = (...asns: number[]): AsPathSegment => ({ type: AS_SEQUENCE, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: AS_SET, asns });
const T = 23456; // AS_TRANS
const BIG = 4200000000;

describe('asPathLength (RFC 4271 §9.1.2.2, RFC 5065 §5.3)', () => {
  it('counts a set as one and confederation segments as zero', () => {
    expect(asPathLength([seq(1, 2, 3), set(4, 5, 6), { type: AS_CONFED_SEQUENCE, asns: [7, 8] }, { type: AS_CONFED_SET, asns: [9] }])).toBe(4);
  });
});

describe('reconstructAsPath (RFC 6793 §4.2.3)', () => {
  it('takes AS4_PATH whole when the lengths match', () => {
    expect(reconstructAsPath([seq(T, 65001)], [seq(BIG, 65001)])).toEqual([seq(BIG, 65001)]);
  });
  it('prepends what OLD speakers added in front of AS4_PATH', () => {
    expect(reconstructAsPath([seq(65010, 65011, T, 65001)], [seq(BIG, 65001)])).toEqual([seq(65010, 65011, BIG, 65001)]);
  });
  it('ignores AS4_PATH when it is longer than AS_PATH', () => {
    expect(reconstructAsPath([seq(T)], [seq(BIG, 65001)])).toEqual([seq(T)]);
  });
  it('counts AS_SET as one when taking from AS_PATH', () => {
    expect(reconstructAsPath([seq(65010, T), set(1, 2)], [seq(BIG), set(1, 2)])).toEqual([seq(65010, BIG), set(1, 2)]);
    expect(reconstructAsPath([set(7, 8), seq(T)], [seq(BIG)])).toEqual([set(7, 8), seq(BIG)]);
  });
  it('carries a leading confederation segment along', () => {
    const confed: AsPathSegment = { type: AS_CONFED_SEQUENCE, asns: [65100] };
    expect(reconstructAsPath([confed, seq(65010, T)], [seq(BIG)])).toEqual([confed, seq(65010, BIG)]);
  });
  it('does not modify its inputs', () => {
    const a = [seq(65010, T)];
    const b = [seq(BIG)];
    reconstructAsPath(a, b);
    expect(a).toEqual([seq(65010, T)]);
    expect(b).toEqual([seq(BIG)]);
  });
});

describe('decode from a 2-octet peer', () => {
  // ORIGIN, NEXT_HOP and one /24 around whatever path attributes a case adds.
  const body = (attrs: string) => {
    const a = hex(`40 01 01 00 40 03 04 c0000201 ${attrs}`);
    return new Uint8Array([0, 0, a.length >> 8, a.length & 0xff, ...a, 0x18, 0xc6, 0x33, 0x64]);
  };

  it('merges AS4_PATH into AS_PATH, keeping the raw AS4_PATH', () => {
    const m = decodeBody(body('40 02 08 02 03 fdf2 5ba0 fde9   c0 11 0a 02 02 fa56ea00 0000fde9'), CTX2);
    expect(m.errors).toBeUndefined();
    expect(m.attributes.asPath).toEqual([seq(65010, BIG, 65001)]);
    expect(m.attributes.as4Path).toEqual([seq(BIG, 65001)]);
  });
  it('takes AS4_AGGREGATOR when AGGREGATOR holds AS_TRANS', () => {
    const m = decodeBody(
      body('40 02 04 02 01 5ba0  c0 07 06 5ba0 c0000202  c0 11 06 02 01 fa56ea00  c0 12 08 fa56ea00 c0000202'),
      CTX2,
    );
    expect(m.attributes.aggregator).toEqual({ asn: BIG, address: '192.0.2.2' });
    expect(m.attributes.as4Aggregator).toEqual({ asn: BIG, address: '192.0.2.2' });
    expect(m.attributes.asPath).toEqual([seq(BIG)]);
  });
  it('ignores AS4_PATH and AS4_AGGREGATOR when AGGREGATOR is not AS_TRANS', () => {
    const m = decodeBody(
      body('40 02 04 02 01 5ba0  c0 07 06 fde9 c0000202  c0 11 06 02 01 fa56ea00  c0 12 08 fa56ea00 c0000202'),
      CTX2,
    );
    expect(m.attributes.aggregator).toEqual({ asn: 65001, address: '192.0.2.2' });
    expect(m.attributes.asPath).toEqual([seq(T)]);
  });
  it('drops confederation segments from AS4_PATH and says so (RFC 6793 §6)', () => {
    const as4 = 'c0 11 0c 03 01 0000fe4c 02 01 fa56ea00';
    const m = decodeBody(body(`40 02 04 02 01 5ba0 ${as4}`), CTX2);
    expect(m.attributes.as4Path).toEqual([seq(BIG)]);
    expect(m.attributes.asPath).toEqual([seq(BIG)]);
    expect(m.errors?.map((e) => [e.subcode, e.action, toHex(e.data)])).toEqual([[11, 'attribute-discard', toHex(hex(as4))]]);
  });
});

describe('encode to a 2-octet peer (RFC 6793 §4.2.2)', () => {
  it('writes AS_TRANS in AS_PATH and the true path, minus confederation segments, in AS4_PATH', () => {
    const m = update({
      attributes: { origin: 0, asPath: [{ type: AS_CONFED_SEQUENCE, asns: [65100] }, seq(BIG, 65001)], nextHop: '192.0.2.1' },
      nlri: [nlri('198.51.100.0/24')],
    });
    expect(toHex(encodeBody(m, CTX2))).toBe(
      toHex(
        hex(`
          0000 0025
          40 01 01 00
          40 02 0a 03 01 fe4c 02 02 5ba0 fde9     # AS_PATH (65100) AS_TRANS 65001
          40 03 04 c0000201
          c0 11 0a 02 02 fa56ea00 0000fde9        # AS4_PATH 4200000000 65001
          18 c6 33 64
        `),
      ),
    );
  });
  it('sends no AS4_PATH when every AS fits in two octets', () => {
    const b = encodeBody(update({ attributes: { asPath: [seq(65000, 65001)] } }), CTX2);
    expect(toHex(b)).toBe(toHex(hex('0000 0009 40 02 06 02 02 fde8 fde9')));
  });
});
