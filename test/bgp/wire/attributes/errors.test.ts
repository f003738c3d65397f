/**
 * RFC 7606 error fixtures: for each malformed attribute, the code, subcode,
 * NOTIFICATION data bytes and action, and what survives of the message.
 */
import { describe, expect, it } from 'vitest';
import { BgpError, type ErrorAction } from '../../../../bgp/wire/errors.js';
import { withContext, type CodecContext } from '../../../../bgp/wire/context.js';
import { FamilyError } from '../../../../bgp/wire/attributes/index.js';
import { CTX2, CTX4, IBGP4, decodeBody, hex, thrown, toHex } from './fixtures.js';

// Valid building blocks (4-octet context).
const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fde8';
const NEXT_HOP = '40 03 04 c0 00 02 01';
const NLRI = '18 c6 33 64'; // 198.51.100.0/24

/** Build a body: no withdrawn routes, the given attributes, then NLRI. */
function body(attrs: string, nlri = NLRI, withdrawn = ''): Uint8Array {
  const a = hex(attrs);
  const w = hex(withdrawn);
  const n = hex(nlri);
  const out = new Uint8Array(4 + w.length + a.length + n.length);
  out[0] = w.length >> 8;
  out[1] = w.length & 0xff;
  out.set(w, 2);
  out[2 + w.length] = a.length >> 8;
  out[3 + w.length] = a.length & 0xff;
  out.set(a, 4 + w.length);
  out.set(n, 4 + w.length + a.length);
  return out;
}

interface Expect {
  subcode: number;
  data: string;
  action: ErrorAction;
}

function expectError(e: unknown, x: Expect): void {
  expect(e).toBeInstanceOf(BgpError);
  const b = e as BgpError;
  expect({ code: b.code, subcode: b.subcode, action: b.action }).toEqual({ code: 3, subcode: x.subcode, action: x.action });
  expect(toHex(b.data)).toBe(toHex(hex(x.data)));
}

interface Case {
  name: string;
  ctx?: CodecContext;
  attrs: string;
  nlri?: string;
  error: Expect;
  /** What must still be decoded alongside the error. */
  keeps?: Record<string, unknown>;
  /** Attribute that must be gone. */
  drops?: string;
}

// Non-fatal: recorded in msg.errors, the rest of the message decoded.
const CONTAINED: Case[] = [
  {
    name: 'ORIGIN length 2 (RFC 7606 §7.1)',
    attrs: `40 01 02 00 00 ${AS_PATH} ${NEXT_HOP}`,
    error: { subcode: 5, data: '40 01 02 00 00', action: 'treat-as-withdraw' },
    keeps: { nextHop: '192.0.2.1' },
    drops: 'origin',
  },
  {
    name: 'ORIGIN undefined value 3 (RFC 7606 §7.1)',
    attrs: `40 01 01 03 ${AS_PATH} ${NEXT_HOP}`,
    error: { subcode: 6, data: '40 01 01 03', action: 'treat-as-withdraw' },
    drops: 'origin',
  },
  {
    name: 'ORIGIN flagged optional (RFC 7606 §3 a)',
    attrs: `c0 01 01 00 ${AS_PATH} ${NEXT_HOP}`,
    error: { subcode: 4, data: 'c0 01 01 00', action: 'treat-as-withdraw' },
    drops: 'origin',
  },
  {
    name: 'COMMUNITIES flagged non-transitive (RFC 7606 §3 a)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 80 08 04 fde80001`,
    error: { subcode: 4, data: '80 08 04 fde80001', action: 'treat-as-withdraw' },
    drops: 'communities',
  },
  {
    name: 'AS_PATH segment length 0 (RFC 7606 §7.2)',
    attrs: `${ORIGIN} 40 02 02 02 00 ${NEXT_HOP}`,
    error: { subcode: 11, data: '40 02 02 02 00', action: 'treat-as-withdraw' },
    drops: 'asPath',
  },
  {
    name: 'AS_PATH segment overruns the attribute (RFC 7606 §7.2)',
    attrs: `${ORIGIN} 40 02 06 02 02 0000fde8 ${NEXT_HOP}`,
    error: { subcode: 11, data: '40 02 06 02 02 0000fde8', action: 'treat-as-withdraw' },
  },
  {
    name: 'AS_PATH single octet after the last segment (RFC 7606 §7.2)',
    attrs: `${ORIGIN} 40 02 07 02 01 0000fde8 02 ${NEXT_HOP}`,
    error: { subcode: 11, data: '40 02 07 02 01 0000fde8 02', action: 'treat-as-withdraw' },
  },
  {
    name: 'AS_PATH unrecognized segment type 5 (RFC 7606 §7.2)',
    attrs: `${ORIGIN} 40 02 06 05 01 0000fde8 ${NEXT_HOP}`,
    error: { subcode: 11, data: '40 02 06 05 01 0000fde8', action: 'treat-as-withdraw' },
  },
  {
    name: 'AS_PATH of 2-octet numbers with an odd byte (2-octet context)',
    ctx: CTX2,
    attrs: `${ORIGIN} 40 02 05 02 01 fde8 00 ${NEXT_HOP}`,
    error: { subcode: 11, data: '40 02 05 02 01 fde8 00', action: 'treat-as-withdraw' },
  },
  {
    name: 'NEXT_HOP length 5 (RFC 7606 §7.3)',
    attrs: `${ORIGIN} ${AS_PATH} 40 03 05 c0 00 02 01 00`,
    error: { subcode: 5, data: '40 03 05 c0 00 02 01 00', action: 'treat-as-withdraw' },
    drops: 'nextHop',
  },
  {
    name: 'NEXT_HOP 0.0.0.0 (RFC 4271 §6.3)',
    attrs: `${ORIGIN} ${AS_PATH} 40 03 04 00 00 00 00`,
    error: { subcode: 8, data: '40 03 04 00 00 00 00', action: 'treat-as-withdraw' },
  },
  {
    name: 'NEXT_HOP multicast 224.0.0.5 (RFC 4271 §6.3)',
    attrs: `${ORIGIN} ${AS_PATH} 40 03 04 e0 00 00 05`,
    error: { subcode: 8, data: '40 03 04 e0 00 00 05', action: 'treat-as-withdraw' },
  },
  {
    name: 'MULTI_EXIT_DISC length 3 (RFC 7606 §7.4)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 80 04 03 000064`,
    error: { subcode: 5, data: '80 04 03 000064', action: 'treat-as-withdraw' },
  },
  {
    name: 'LOCAL_PREF length 2 (RFC 7606 §7.5)',
    ctx: IBGP4,
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 40 05 02 0064`,
    error: { subcode: 5, data: '40 05 02 0064', action: 'treat-as-withdraw' },
  },
  {
    name: 'ATOMIC_AGGREGATE length 1 (RFC 7606 §7.6: attribute discard)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 40 06 01 00`,
    error: { subcode: 5, data: '40 06 01 00', action: 'attribute-discard' },
    keeps: { origin: 0, nextHop: '192.0.2.1' },
    drops: 'atomicAggregate',
  },
  {
    name: 'AGGREGATOR of 8 bytes to a 2-octet peer (RFC 7606 §7.7: attribute discard)',
    ctx: CTX2,
    attrs: `${ORIGIN} 40 02 04 02 01 fde8 ${NEXT_HOP} c0 07 08 0000fde8 c0000202`,
    error: { subcode: 5, data: 'c0 07 08 0000fde8 c0000202', action: 'attribute-discard' },
    drops: 'aggregator',
  },
  {
    name: 'AGGREGATOR of 6 bytes to a 4-octet peer (RFC 7606 §7.7: attribute discard)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 07 06 fde8 c0000202`,
    error: { subcode: 5, data: 'c0 07 06 fde8 c0000202', action: 'attribute-discard' },
    drops: 'aggregator',
  },
  {
    name: 'COMMUNITIES length 5 (RFC 7606 §7.8)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 08 05 fde80001 02`,
    error: { subcode: 5, data: 'c0 08 05 fde80001 02', action: 'treat-as-withdraw' },
  },
  {
    name: 'COMMUNITIES length 0 (RFC 7606 §7.8)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 08 00`,
    error: { subcode: 5, data: 'c0 08 00', action: 'treat-as-withdraw' },
  },
  {
    name: 'ORIGINATOR_ID length 3 (RFC 7606 §7.9)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 80 09 03 c00002`,
    error: { subcode: 5, data: '80 09 03 c00002', action: 'treat-as-withdraw' },
  },
  {
    name: 'CLUSTER_LIST length 6 (RFC 7606 §7.10)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} 80 0a 06 c0000201 0000`,
    error: { subcode: 5, data: '80 0a 06 c0000201 0000', action: 'treat-as-withdraw' },
  },
  {
    name: 'EXTENDED_COMMUNITIES length 12 (RFC 7606 §7.14)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 10 0c 0002fde800000064 00000000`,
    error: { subcode: 5, data: 'c0 10 0c 0002fde800000064 00000000', action: 'treat-as-withdraw' },
  },
  {
    name: 'LARGE_COMMUNITY length 8 (RFC 8092 §6)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 20 08 00000001 00000002`,
    error: { subcode: 5, data: 'c0 20 08 00000001 00000002', action: 'treat-as-withdraw' },
  },
  {
    name: 'AS4_PATH malformed from a 2-octet peer (RFC 6793 §6: attribute discard)',
    ctx: CTX2,
    attrs: `${ORIGIN} 40 02 04 02 01 5ba0 ${NEXT_HOP} c0 11 03 02 01 00`,
    error: { subcode: 11, data: 'c0 11 03 02 01 00', action: 'attribute-discard' },
    keeps: { asPath: [{ type: 2, asns: [23456] }] },
    drops: 'as4Path',
  },
  {
    name: 'AS4_AGGREGATOR length 6 (RFC 6793 §6: attribute discard)',
    ctx: CTX2,
    attrs: `${ORIGIN} 40 02 04 02 01 fde8 ${NEXT_HOP} c0 12 06 fde8 c0000202`,
    error: { subcode: 5, data: 'c0 12 06 fde8 c0000202', action: 'attribute-discard' },
  },
  {
    name: 'missing ORIGIN with NLRI (RFC 7606 §3 d)',
    attrs: `${AS_PATH} ${NEXT_HOP}`,
    error: { subcode: 3, data: '01', action: 'treat-as-withdraw' },
    keeps: { nextHop: '192.0.2.1' },
  },
  {
    name: 'missing AS_PATH with NLRI (RFC 7606 §3 d)',
    attrs: `${ORIGIN} ${NEXT_HOP}`,
    error: { subcode: 3, data: '02', action: 'treat-as-withdraw' },
  },
  {
    name: 'missing NEXT_HOP with body NLRI (RFC 7606 §3 d)',
    attrs: `${ORIGIN} ${AS_PATH}`,
    error: { subcode: 3, data: '03', action: 'treat-as-withdraw' },
  },
  {
    name: 'missing ORIGIN with only MP_REACH_NLRI NLRI (RFC 7606 §3 d)',
    attrs: `80 0e 0d 0001 01 04 c0000201 00 18 c63364 ${AS_PATH}`,
    nlri: '',
    error: { subcode: 3, data: '01', action: 'treat-as-withdraw' },
  },
  {
    name: 'last attribute overruns Total Path Attribute Length (RFC 7606 §4)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 08 08 fde80001`,
    error: { subcode: 1, data: '', action: 'treat-as-withdraw' },
    keeps: { origin: 0, nextHop: '192.0.2.1' },
  },
  {
    name: 'fewer than 3 octets left for an attribute (RFC 7606 §4)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 08`,
    error: { subcode: 1, data: '', action: 'treat-as-withdraw' },
  },
  {
    name: 'Extended Length attribute with 3 octets left (RFC 7606 §4)',
    attrs: `${ORIGIN} ${AS_PATH} ${NEXT_HOP} d0 08 00`,
    error: { subcode: 1, data: '', action: 'treat-as-withdraw' },
  },
  {
    name: 'MP_REACH_NLRI flagged transitive: still parsed, withdrawn (RFC 7606 §3 a)',
    attrs: `c0 0e 0d 0001 01 04 c0000201 00 18 c63364 ${ORIGIN} ${AS_PATH}`,
    nlri: '',
    error: { subcode: 4, data: 'c0 0e 0d 0001 01 04 c0000201 00 18 c63364', action: 'treat-as-withdraw' },
    keeps: { mpReach: { afi: 1, safi: 1, nextHops: ['192.0.2.1'], nlri: [{ prefix: { afi: 1, len: 24, addr: hex('c6336400') } }] } },
  },
];

describe('RFC 7606 contained errors: recorded, rest of the UPDATE decoded', () => {
  for (const c of CONTAINED) {
    it(c.name, () => {
      const m = decodeBody(body(c.attrs, c.nlri), c.ctx ?? CTX4);
      expect(m.errors?.length).toBe(1);
      expectError(m.errors![0], c.error);
      if (c.keeps) expect(m.attributes).toMatchObject(c.keeps);
      if (c.drops) expect(m.attributes).not.toHaveProperty(c.drops);
      // The body NLRI are still there for the receiver to withdraw.
      if ((c.nlri ?? NLRI) !== '') expect(m.nlri.length).toBe(1);
    });
  }
});

describe('quiet cases: no error', () => {
  it('keeps the first of duplicate attributes (RFC 7606 §3 g)', () => {
    const m = decodeBody(body(`${ORIGIN} 40 01 01 01 ${AS_PATH} ${NEXT_HOP} 40 03 04 c0000263`), CTX4);
    expect(m.errors).toBeUndefined();
    expect(m.attributes).toMatchObject({ origin: 0, nextHop: '192.0.2.1' });
  });
  it('needs no mandatory attributes for a withdraw-only UPDATE', () => {
    expect(decodeBody(body('', '', NLRI), CTX4).errors).toBeUndefined();
  });
  it('needs no NEXT_HOP when the NLRI are in MP_REACH_NLRI (RFC 4760 §3)', () => {
    expect(decodeBody(body(`80 0e 0d 0001 01 04 c0000201 00 18 c63364 ${ORIGIN} ${AS_PATH}`, ''), CTX4).errors).toBeUndefined();
  });
  it('drops AS4_PATH and AS4_AGGREGATOR from a 4-octet peer (RFC 6793 §6)', () => {
    const m = decodeBody(body(`${ORIGIN} ${AS_PATH} ${NEXT_HOP} c0 11 06 02 01 0000fde9 c0 12 08 0000fde9 c0000202`), CTX4);
    expect(m.errors).toBeUndefined();
    expect(m.attributes.as4Path).toBeUndefined();
    expect(m.attributes.as4Aggregator).toBeUndefined();
    expect(m.attributes.asPath).toEqual([{ type: 2, asns: [65000] }]);
  });
});

describe('MP_REACH_NLRI / MP_UNREACH_NLRI errors (RFC 7606 §7.11, §7.12; RFC 4760 §7)', () => {
  const family = (m: ReturnType<typeof decodeBody>) => {
    const e = m.errors?.[0];
    expect(e).toBeInstanceOf(FamilyError);
    return { afi: (e as FamilyError).afi, safi: (e as FamilyError).safi };
  };
  it('IPv6 next hop length 4: AFI/SAFI disable, data is the attribute, IPv4 body still decoded', () => {
    const mp = '80 0e 0d 0002 01 04 c0000201 00 18 c63364';
    const m = decodeBody(body(`${mp} ${ORIGIN} ${AS_PATH} ${NEXT_HOP}`), CTX4);
    expectError(m.errors![0], { subcode: 9, data: mp, action: 'afi-safi-disable' });
    expect(family(m)).toEqual({ afi: 2, safi: 1 });
    expect(m.attributes.mpReach).toBeUndefined();
    expect(m.nlri.length).toBe(1);
  });
  it('IPv4 NLRI with a 16-byte next hop without RFC 8950 negotiated', () => {
    const mp = '80 0e 19 0001 01 10 20010db8000000000000000000000001 00 18 c00002';
    const m = decodeBody(body(`${mp} ${ORIGIN} ${AS_PATH}`, ''), CTX4);
    expectError(m.errors![0], { subcode: 9, data: mp, action: 'afi-safi-disable' });
    expect(family(m)).toEqual({ afi: 1, safi: 1 });
  });
  it('IPv6 prefix length 129 in MP_REACH_NLRI (RFC 7606 §5.3)', () => {
    const mp = '80 0e 17 0002 01 10 20010db8000000000000000000000001 00 81 20';
    const m = decodeBody(body(`${mp} ${ORIGIN} ${AS_PATH}`, ''), CTX4);
    expectError(m.errors![0], { subcode: 9, data: mp, action: 'afi-safi-disable' });
  });
  it('MP_UNREACH_NLRI prefix overrun', () => {
    const mp = '80 0f 06 0002 01 40 2001';
    const m = decodeBody(body(mp, ''), CTX4);
    expectError(m.errors![0], { subcode: 9, data: mp, action: 'afi-safi-disable' });
    expect(family(m)).toEqual({ afi: 2, safi: 1 });
  });
  it('unsupported family (VPNv4, SAFI 128)', () => {
    const m = decodeBody(body('80 0f 03 0001 80', ''), CTX4);
    expect(family(m)).toEqual({ afi: 1, safi: 128 });
  });
  it('MP_REACH_NLRI too short to name a family: session reset', () => {
    expectError(
      thrown(() => decodeBody(body(`80 0e 02 0002 ${ORIGIN}`, ''), CTX4)),
      { subcode: 9, data: '80 0e 02 0002', action: 'session-reset' },
    );
  });
  it('MP_REACH_NLRI twice: Malformed Attribute List, session reset (RFC 7606 §3 g)', () => {
    const mp = '80 0f 03 0002 01';
    expectError(thrown(() => decodeBody(body(`${mp} ${mp}`, ''), CTX4)), { subcode: 1, data: '', action: 'session-reset' });
  });
});

describe('fatal errors: session reset', () => {
  const cases: { name: string; bytes: Uint8Array; ctx?: CodecContext; error: Expect }[] = [
    {
      name: 'IPv4 NLRI length 33 (RFC 7606 §5.3)',
      bytes: body(`${ORIGIN} ${AS_PATH} ${NEXT_HOP}`, '21 c6336400 00'),
      error: { subcode: 10, data: '', action: 'session-reset' },
    },
    {
      name: 'NLRI prefix overruns the message (RFC 7606 §5.3)',
      bytes: body(`${ORIGIN} ${AS_PATH} ${NEXT_HOP}`, '18 c633'),
      error: { subcode: 10, data: '', action: 'session-reset' },
    },
    {
      name: 'withdrawn prefix length 40 (RFC 7606 §5.3)',
      bytes: body('', '', '28 c6336400 00'),
      error: { subcode: 10, data: '', action: 'session-reset' },
    },
    {
      name: 'Withdrawn Routes Length exceeds the body (RFC 4271 §6.3)',
      bytes: hex('0009 18 c63364 0000'),
      error: { subcode: 1, data: '', action: 'session-reset' },
    },
    {
      name: 'Total Path Attribute Length exceeds the body (RFC 4271 §6.3)',
      bytes: hex('0000 0010 40010100'),
      error: { subcode: 1, data: '', action: 'session-reset' },
    },
    {
      name: 'body shorter than the two length fields',
      bytes: hex('00 00 00'),
      error: { subcode: 1, data: '', action: 'session-reset' },
    },
    {
      name: 'attribute list overrun with no NLRI to withdraw (RFC 7606 §5.3)',
      bytes: body(`${ORIGIN} c0 08 08 fde80001`, ''),
      error: { subcode: 1, data: '', action: 'session-reset' },
    },
    {
      name: 'unrecognized well-known attribute (RFC 4271 §6.3)',
      bytes: body(`${ORIGIN} 40 63 02 aabb ${AS_PATH} ${NEXT_HOP}`),
      error: { subcode: 2, data: '40 63 02 aabb', action: 'session-reset' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => expectError(thrown(() => decodeBody(c.bytes, c.ctx ?? CTX4)), c.error));
  }
});

describe('more than one error in one UPDATE', () => {
  it('records each, in order', () => {
    const m = decodeBody(body(`40 01 01 07 ${AS_PATH} ${NEXT_HOP} 40 06 01 00 c0 08 03 000000`), withContext(CTX4, {}));
    expect(m.errors!.map((e) => [e.subcode, e.action])).toEqual([
      [6, 'treat-as-withdraw'],
      [5, 'attribute-discard'],
      [5, 'treat-as-withdraw'],
    ]);
  });
});
