import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsPathSegType, WellKnownCommunity } from '../../../bgp/wire/iana.js';
import { BgpError } from '../../../bgp/wire/errors.js';
import { withContext, type CodecContext } from '../../../bgp/wire/context.js';
import { Writer } from '../../../bgp/wire/writer.js';
import { Reader } from '../../../bgp/wire/reader.js';
import {
  decodeUpdateBody,
  formatAttributes,
  isEndOfRib,
  makeEndOfRib,
  prepareAttributes,
  writeAnnounceUpdate,
  writeWithdrawUpdate,
} from '../../../bgp/wire/messages/update.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';
import type { Nlri } from '../../../bgp/wire/prefix.js';
import { CTX2, CTX4, IBGP4, addPathCtx, decodeBody, encodeBody, hex, nlri, toHex, update } from './attributes/fixtures.js';

const { AS_SEQUENCE } = AsPathSegType;

interface Fixture {
  name: string;
  ctx: CodecContext;
  bytes: string;
  msg: UpdateMessage;
}

// Each fixture runs both ways: bytes -> message (deep equal) and message -> bytes.
const FIXTURES: Fixture[] = [
  {
    name: 'IPv4 announce, 2-octet AS',
    ctx: CTX2,
    bytes: `
      0000                          # withdrawn routes length 0
      0026                          # total path attribute length 38
      40 01 01 00                   # ORIGIN IGP
      40 02 06 02 02 fde8 fde9      # AS_PATH SEQUENCE 65000 65001 (2-octet)
      40 03 04 c0 00 02 01          # NEXT_HOP 192.0.2.1
      80 04 04 00 00 00 64          # MULTI_EXIT_DISC 100
      c0 08 08 fde8 0001 ffffff01   # COMMUNITIES 65000:1 NO_EXPORT
      18 c6 33 64                   # 198.51.100.0/24
      20 cb 00 71 01                # 203.0.113.1/32
    `,
    msg: update({
      attributes: {
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [65000, 65001] }],
        nextHop: '192.0.2.1',
        med: 100,
        communities: [65000 * 65536 + 1, WellKnownCommunity.NO_EXPORT],
      },
      nlri: [nlri('198.51.100.0/24'), nlri('203.0.113.1/32')],
    }),
  },
  {
    name: 'IPv4 announce, 4-octet AS, iBGP, every simple attribute',
    ctx: IBGP4,
    bytes: `
      0000
      005d                                   # 93 bytes of attributes
      40 01 01 02                            # ORIGIN INCOMPLETE
      40 02 0e 02 03 0000fde8 fa56ea00 00010000  # AS_PATH SEQUENCE 65000 4200000000 65536
      40 03 04 c6 33 64 01                   # NEXT_HOP 198.51.100.1
      40 05 04 00 00 00 c8                   # LOCAL_PREF 200
      40 06 00                               # ATOMIC_AGGREGATE
      c0 07 08 fa56ea00 c0 00 02 02          # AGGREGATOR 4200000000 192.0.2.2 (8 bytes with as4)
      80 09 04 c0 00 02 03                   # ORIGINATOR_ID 192.0.2.3
      80 0a 08 c0 00 02 04 c0 00 02 05       # CLUSTER_LIST 192.0.2.4 192.0.2.5
      c0 10 08 00 02 fde8 00000064           # EXTENDED_COMMUNITIES rt:65000:100
      c0 20 0c fa56ea00 00000001 00000002    # LARGE_COMMUNITY 4200000000:1:2
      18 c0 00 02                            # 192.0.2.0/24
    `,
    msg: update({
      attributes: {
        origin: 2,
        asPath: [{ type: AS_SEQUENCE, asns: [65000, 4200000000, 65536] }],
        nextHop: '198.51.100.1',
        localPref: 200,
        atomicAggregate: true,
        aggregator: { asn: 4200000000, address: '192.0.2.2' },
        originatorId: '192.0.2.3',
        clusterList: ['192.0.2.4', '192.0.2.5'],
        extendedCommunities: [hex('0002fde800000064')],
        largeCommunities: [[4200000000, 1, 2]],
      },
      nlri: [nlri('192.0.2.0/24')],
    }),
  },
  {
    name: '2-octet peer, 4-octet AS in the path: AS_TRANS + AS4_PATH, AS4_AGGREGATOR (RFC 6793 §4.2.2)',
    ctx: CTX2,
    bytes: `
      0000
      0035
      40 01 01 00                         # ORIGIN IGP
      40 02 06 02 02 5ba0 fde9            # AS_PATH SEQUENCE AS_TRANS 65001
      40 03 04 c0 00 02 01                # NEXT_HOP 192.0.2.1
      c0 07 06 5ba0 c0 00 02 02           # AGGREGATOR AS_TRANS 192.0.2.2
      c0 11 0a 02 02 fa56ea00 0000fde9    # AS4_PATH SEQUENCE 4200000000 65001
      c0 12 08 fa56ea00 c0 00 02 02       # AS4_AGGREGATOR 4200000000 192.0.2.2
      20 c6 33 64 07                      # 198.51.100.7/32
    `,
    msg: update({
      attributes: {
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [4200000000, 65001] }],
        nextHop: '192.0.2.1',
        aggregator: { asn: 4200000000, address: '192.0.2.2' },
        as4Path: [{ type: AS_SEQUENCE, asns: [4200000000, 65001] }],
        as4Aggregator: { asn: 4200000000, address: '192.0.2.2' },
      },
      nlri: [nlri('198.51.100.7/32')],
    }),
  },
  {
    name: 'IPv6 MP_REACH_NLRI, global + link-local next hop (RFC 2545)',
    ctx: CTX4,
    bytes: `
      0000
      004b
      80 0e 3b                            # MP_REACH_NLRI, 59 bytes
         0002 01                          #   AFI IPv6, SAFI unicast
         20                               #   next hop length 32
         20010db8 00000000 00000000 00000001  # 2001:db8::1
         fe800000 00000000 00000000 00000001  # fe80::1
         00                               #   reserved
         20 20010db8                      #   2001:db8::/32
         80 20010db8 00010000 00000000 00000001  # 2001:db8:1::1/128
      40 01 01 00                         # ORIGIN IGP
      40 02 06 02 01 0000fde8             # AS_PATH SEQUENCE 65000
    `,
    msg: update({
      attributes: {
        mpReach: {
          afi: 2,
          safi: 1,
          nextHops: ['2001:db8::1', 'fe80::1'],
          nlri: [nlri('2001:db8::/32'), nlri('2001:db8:1::1/128')],
        },
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [65000] }],
      },
    }),
  },
  {
    name: 'IPv4 NLRI with IPv6 next hop (RFC 8950)',
    ctx: withContext(CTX4, { extendedNextHop: new Set(['1/1' as const]) }),
    bytes: `
      0000
      0029
      80 0e 19 0001 01 10                 # MP_REACH_NLRI IPv4 unicast, next hop length 16
         20010db8 00000000 00000000 00000001  # 2001:db8::1
         00 18 c0 00 02                   # reserved; 192.0.2.0/24
      40 01 01 00
      40 02 06 02 01 0000fde8
    `,
    msg: update({
      attributes: {
        mpReach: { afi: 1, safi: 1, nextHops: ['2001:db8::1'], nlri: [nlri('192.0.2.0/24')] },
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [65000] }],
      },
    }),
  },
  {
    name: 'IPv4 in MP_REACH_NLRI with a 4-byte next hop',
    ctx: CTX4,
    bytes: `
      0000
      001d
      80 0e 0d 0001 01 04 c0 00 02 01 00 18 c6 33 64   # MP_REACH IPv4 via 192.0.2.1: 198.51.100.0/24
      40 01 01 00
      40 02 06 02 01 0000fde8
    `,
    msg: update({
      attributes: {
        mpReach: { afi: 1, safi: 1, nextHops: ['192.0.2.1'], nlri: [nlri('198.51.100.0/24')] },
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [65000] }],
      },
    }),
  },
  {
    name: 'IPv6 withdrawal in MP_UNREACH_NLRI',
    ctx: CTX4,
    bytes: `
      0000
      000b
      80 0f 08 0002 01 20 20010db8        # MP_UNREACH_NLRI IPv6 unicast 2001:db8::/32
    `,
    msg: update({ attributes: { mpUnreach: { afi: 2, safi: 1, nlri: [nlri('2001:db8::/32')] } } }),
  },
  {
    name: 'ADD-PATH IPv4 in the body (RFC 7911)',
    ctx: addPathCtx(CTX4, '1/1'),
    bytes: `
      0008 00000001 18 c0 00 02           # withdrawn: path 1 192.0.2.0/24
      0014
      40 01 01 00
      40 02 06 02 01 0000fde8
      40 03 04 c0 00 02 01
      00000002 20 c6 33 64 01             # path 2 198.51.100.1/32
    `,
    msg: update({
      withdrawn: [nlri('192.0.2.0/24', 1)],
      attributes: { origin: 0, asPath: [{ type: AS_SEQUENCE, asns: [65000] }], nextHop: '192.0.2.1' },
      nlri: [nlri('198.51.100.1/32', 2)],
    }),
  },
  {
    name: 'ADD-PATH IPv6 in MP_REACH_NLRI',
    ctx: addPathCtx(CTX4, '2/1'),
    bytes: `
      0000
      0032
      80 0e 22 0002 01 10 20010db8 00000000 00000000 00000001 00
         0000000a 40 20010db8 00000001    # path 10 2001:db8:0:1::/64
      40 01 01 00
      40 02 06 02 01 0000fde8
    `,
    msg: update({
      attributes: {
        mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: [nlri('2001:db8:0:1::/64', 10)] },
        origin: 0,
        asPath: [{ type: AS_SEQUENCE, asns: [65000] }],
      },
    }),
  },
  {
    name: 'IPv4 withdrawal only',
    ctx: CTX2,
    bytes: `0005 20 c6 33 64 07   0000`,
    msg: update({ withdrawn: [nlri('198.51.100.7/32')] }),
  },
  { name: 'End-of-RIB IPv4 unicast', ctx: CTX4, bytes: `0000 0000`, msg: makeEndOfRib(1, 1) },
  { name: 'End-of-RIB IPv6 unicast', ctx: CTX4, bytes: `0000 0006 80 0f 03 0002 01`, msg: makeEndOfRib(2, 1) },
];

describe('UPDATE fixtures, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes: ${f.name}`, () => {
      const m = decodeBody(hex(f.bytes), f.ctx);
      expect(m.errors).toBeUndefined();
      expect(m).toEqual(f.msg);
    });
    it(`encodes: ${f.name}`, () => {
      expect(toHex(encodeBody(f.msg, f.ctx))).toBe(toHex(hex(f.bytes)));
    });
  }
});

describe('End-of-RIB (RFC 4724 §2)', () => {
  it('recognises the empty UPDATE and the empty MP_UNREACH_NLRI', () => {
    expect(isEndOfRib(decodeBody(hex('0000 0000'), CTX4))).toEqual({ afi: 1, safi: 1 });
    expect(isEndOfRib(decodeBody(hex('0000 0006 800f03 0002 01'), CTX4))).toEqual({ afi: 2, safi: 1 });
    expect(isEndOfRib(makeEndOfRib(1, 2))).toEqual({ afi: 1, safi: 2 });
  });
  it('is not fooled by an UPDATE carrying anything else', () => {
    expect(isEndOfRib(decodeBody(hex('0000 000b 800f08 000201 20 20010db8'), CTX4))).toBeNull();
    expect(isEndOfRib(decodeBody(hex('0005 20c6336407 0000'), CTX4))).toBeNull();
    expect(isEndOfRib(decodeBody(hex('0000 000a 800f03 000201 40010100'), CTX4))).toBeNull();
    expect(isEndOfRib(update({ attributes: { origin: 0 } }))).toBeNull();
  });
});

describe('Extended Length', () => {
  it('reads an attribute with the Extended Length bit, writes the short form back', () => {
    const m = decodeBody(hex('0000 0008 40010100 50020000'), CTX4);
    expect(m.attributes).toEqual({ origin: 0, asPath: [] });
    expect(toHex(encodeBody(m, CTX4))).toBe(toHex(hex('0000 0007 40010100 400200')));
  });
  it('switches to a 2-octet length for a value over 255 bytes and reads it back', () => {
    const asns = Array.from({ length: 300 }, (_, i) => 4200000000 + i);
    const m = update({ attributes: { origin: 0, asPath: [{ type: AS_SEQUENCE, asns }], nextHop: '192.0.2.1' }, nlri: [nlri('192.0.2.0/24')] });
    const b = encodeBody(m, CTX4);
    // ORIGIN is 4 bytes at offset 4; AS_PATH header follows: flags 0x50, type 2, 2-octet length.
    expect(b[8]).toBe(0x50);
    expect((b[10]! << 8) | b[11]!).toBe(2 + 255 * 4 + 2 + 45 * 4);
    const back = decodeBody(b, CTX4);
    expect(back.attributes.asPath).toEqual([
      { type: AS_SEQUENCE, asns: asns.slice(0, 255) },
      { type: AS_SEQUENCE, asns: asns.slice(255) },
    ]);
    expect(back.nlri).toEqual(m.nlri);
  });
});

describe('unknown attributes (RFC 4271 §5)', () => {
  const bytes = `
    0000 0010
    40 01 01 00        # ORIGIN
    40 02 00           # AS_PATH empty
    c0 63 02 aa bb     # type 99, optional transitive: kept
    80 64 01 cc        # type 100, optional non-transitive: dropped quietly
  `;
  it('keeps optional transitive, drops optional non-transitive', () => {
    const m = decodeBody(hex(bytes), CTX4);
    expect(m.attributes).toEqual({ origin: 0, asPath: [], unknown: [{ flags: 0xc0, type: 99, value: hex('aabb') }] });
    expect(m.errors).toBeUndefined();
  });
  it('passes them on with the Partial bit set, in type order', () => {
    const m = decodeBody(hex(bytes), CTX4);
    m.attributes.unknown!.push({ flags: 0xc0, type: 3, value: hex('01020304') }); // shadows NEXT_HOP: never written
    m.attributes.unknown!.push({ flags: 0xc0, type: 40, value: hex('01') });
    m.attributes.largeCommunities = [[1, 2, 3]];
    expect(toHex(encodeBody(m, CTX4))).toBe(
      toHex(hex('0000 001f 40010100 400200 c0 20 0c 00000001 00000002 00000003 e0 28 01 01 e0 63 02 aabb')),
    );
  });
});

describe('LOCAL_PREF and the iBGP context (RFC 4271 §5.1.5)', () => {
  const bytes = '0000 0007 40 05 04 00000064';
  it('keeps it from an internal peer and drops it from an external one', () => {
    expect(decodeBody(hex(bytes), IBGP4).attributes).toEqual({ localPref: 100 });
    expect(decodeBody(hex(bytes), CTX4).attributes).toEqual({});
  });
  it('never sends it to an external peer', () => {
    expect(toHex(encodeBody(update({ attributes: { localPref: 100 } }), CTX4))).toBe(toHex(hex('0000 0000')));
  });
});

describe('formatAttributes', () => {
  it('renders every attribute on one line', () => {
    const m = decodeBody(hex(FIXTURES[1]!.bytes), IBGP4);
    expect(formatAttributes(m.attributes)).toBe(
      'origin incomplete; as-path 65000 4200000000 65536; next-hop 198.51.100.1' +
        '; local-pref 200; atomic-aggregate yes; aggregator 4200000000 192.0.2.2; originator-id 192.0.2.3;' +
        ' cluster-list 192.0.2.4 192.0.2.5; ext-communities rt:65000:100; large-communities 4200000000:1:2',
    );
  });
  it('names well-known communities, sets and confederation segments', () => {
    expect(
      formatAttributes({
        asPath: [
          { type: AsPathSegType.AS_CONFED_SEQUENCE, asns: [65100, 65101] },
          { type: AS_SEQUENCE, asns: [65000] },
          { type: AsPathSegType.AS_SET, asns: [1, 2] },
        ],
        communities: [WellKnownCommunity.NO_EXPORT, 64500 * 65536 + 7, WellKnownCommunity.BLACKHOLE],
        mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: [] },
        unknown: [{ flags: 0xc0, type: 99, value: hex('aabb') }],
      }),
    ).toBe('mp-reach 2/1 via 2001:db8::1, 0 nlri; as-path (65100 65101) 65000 {1,2}; communities no-export 64500:7 blackhole; attr-99 flags 0xc0 0xaabb');
  });
});

// ---------------------------------------------------------------- bulk packing

/** Split a stream of whole messages and decode each UPDATE body. */
function decodeStream(buf: Uint8Array, ctx: CodecContext, maxLen: number): UpdateMessage[] {
  const out: UpdateMessage[] = [];
  let p = 0;
  while (p < buf.length) {
    for (let i = 0; i < 16; i++) if (buf[p + i] !== 0xff) throw new Error(`bad marker at ${p}`);
    const len = (buf[p + 16]! << 8) | buf[p + 17]!;
    expect(len).toBeLessThanOrEqual(maxLen);
    expect(buf[p + 18]).toBe(2);
    out.push(decodeUpdateBody(new Reader(buf, { code: 1, subcode: 2 }, p + 19, p + len), ctx));
    p += len;
  }
  return out;
}

function hostRoutes(n: number): Nlri[] {
  const out: Nlri[] = new Array<Nlri>(n);
  for (let i = 0; i < n; i++) {
    const addr = Uint8Array.of(10 + (i >>> 24), (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff);
    out[i] = { prefix: { afi: 1, len: 32, addr } };
  }
  return out;
}

describe('bulk UPDATE packing', () => {
  const attrs = { origin: 0 as const, asPath: [{ type: AS_SEQUENCE, asns: [65000] }], nextHop: '192.0.2.1' };

  it('packs IPv4 announcements into full 4096-byte messages that decode back', () => {
    const routes = hostRoutes(5000);
    const prep = prepareAttributes(attrs, CTX4);
    const w = new Writer(1 << 16);
    let i = 0;
    let msgs = 0;
    while (i < routes.length) {
      i = writeAnnounceUpdate(w, prep, routes, i, CTX4);
      msgs++;
    }
    const decoded = decodeStream(w.view(), CTX4, 4096);
    expect(decoded.length).toBe(msgs);
    // 4096 - 19 header - 4 lengths - 20 attributes = 4053 bytes: 810 /32s each.
    expect(decoded[0]!.nlri.length).toBe(810);
    expect(decoded.flatMap((m) => m.nlri)).toEqual(routes);
    for (const m of decoded) {
      expect(m.errors).toBeUndefined();
      expect(m.attributes).toEqual(attrs);
    }
  });

  it('packs IPv6 announcements into MP_REACH_NLRI, attributes after it', () => {
    const routes: Nlri[] = Array.from({ length: 600 }, (_, i) => nlri(`2001:db8::${i.toString(16)}/128`));
    const v6 = { mpReach: { afi: 2 as const, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: [] }, origin: 0 as const, asPath: [] };
    const prep = prepareAttributes(v6, CTX4);
    const w = new Writer();
    for (let i = 0; i < routes.length; ) i = writeAnnounceUpdate(w, prep, routes, i, CTX4);
    const decoded = decodeStream(w.view(), CTX4, 4096);
    expect(decoded.length).toBe(3);
    expect(decoded.flatMap((m) => m.attributes.mpReach!.nlri)).toEqual(routes);
    expect(decoded[0]!.attributes).toMatchObject({ origin: 0, asPath: [] });
    expect(decoded[0]!.errors).toBeUndefined();
  });

  it('packs withdrawals, with path ids under ADD-PATH', () => {
    const ctx = addPathCtx(CTX4, '1/1', '2/1');
    const v4 = hostRoutes(2000).map((n, i) => ({ ...n, pathId: i }));
    const v6 = Array.from({ length: 300 }, (_, i) => nlri(`2001:db8::${i.toString(16)}/128`, 7));
    const w = new Writer();
    for (let i = 0; i < v4.length; ) i = writeWithdrawUpdate(w, 1, 1, v4, i, ctx);
    for (let i = 0; i < v6.length; ) i = writeWithdrawUpdate(w, 2, 1, v6, i, ctx);
    const decoded = decodeStream(w.view(), ctx, 4096);
    expect(decoded.flatMap((m) => m.withdrawn)).toEqual(v4);
    expect(decoded.flatMap((m) => m.attributes.mpUnreach?.nlri ?? [])).toEqual(v6);
  });

  it('uses the extended message size when negotiated (RFC 8654)', () => {
    const ctx = withContext(CTX4, { extendedMessage: true });
    const w = new Writer();
    const next = writeAnnounceUpdate(w, prepareAttributes(attrs, ctx), hostRoutes(20000), 0, ctx);
    expect(next).toBe(Math.floor((65535 - 19 - 4 - 20) / 5));
    expect((w.buf[16]! << 8) | w.buf[17]!).toBeLessThanOrEqual(65535);
  });

  it('packs 1M /32 into UPDATEs and decodes every one back', () => {
    const routes = hostRoutes(1_000_000);
    const prep = prepareAttributes(attrs, CTX4);
    const w = new Writer(8 << 20);
    const t0 = performance.now();
    for (let i = 0; i < routes.length; ) i = writeAnnounceUpdate(w, prep, routes, i, CTX4);
    const encMs = performance.now() - t0;
    const t1 = performance.now();
    const decoded = decodeStream(w.view(), CTX4, 4096);
    const decMs = performance.now() - t1;
    let n = 0;
    for (const m of decoded) n += m.nlri.length;
    expect(n).toBe(1_000_000);
    console.log(`1M /32: encode ${encMs.toFixed(0)} ms, decode ${decMs.toFixed(0)} ms, ${decoded.length} messages`);
    // Timing is printed, not asserted: speed is measured by `npm run bench`.
  });
});

// ---------------------------------------------------------------- random bytes

describe('random and mutated bodies only ever raise BgpError', () => {
  const ctxs = [CTX2, CTX4, addPathCtx(CTX4, '1/1', '2/1'), withContext(CTX4, { extendedNextHop: new Set(['1/1' as const]) })];
  const check = (b: Uint8Array, ctx: CodecContext) => {
    try {
      decodeBody(b, ctx);
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
    }
  };
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: ctxs.length - 1 }), (b, c) => check(b, ctxs[c]!)),
      { numRuns: 3000 },
    );
  });
  it('fixtures with one byte changed', () => {
    for (const f of FIXTURES) {
      const base = hex(f.bytes);
      for (let i = 0; i < base.length; i++) {
        for (const v of [0x00, 0xff, base[i]! ^ 0x80, base[i]! + 1]) {
          const b = base.slice();
          b[i] = v & 0xff;
          for (const ctx of ctxs) check(b, ctx);
        }
      }
    }
  });
});
