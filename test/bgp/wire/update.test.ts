import { writeEndOfRib } from '../../../bgp/rib/update-builder.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AsPathSegType, WellKnownCommunity } from '../../../bgp/wire/iana.js';
import { BgpError } from '../../../bgp/wire/errors.js';
import { withContext, type CodecContext } from '../../../bgp/wire/context.js';
import { Writer } from '../../../bgp/wire/writer.js';
import { formatAttributes, isEndOfRib } from '../../../bgp/wire/messages/update.js';
import type { UpdateMessage } from '../../../bgp/wire/types.js';
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
  { name: 'End-of-RIB IPv4 unicast', ctx: CTX4, bytes: `0000 0000`, msg: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } },
  { name: 'End-of-RIB IPv6 unicast', ctx: CTX4, bytes: `0000 0006 80 0f 03 0002 01`, msg: { type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, nlri: [] } }, nlri: [] } },
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
    expect(isEndOfRib({ type: 'update', withdrawn: [], attributes: { mpUnreach: { afi: 1, safi: 2, nlri: [] } }, nlri: [] })).toEqual({ afi: 1, safi: 2 });
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

describe('End-of-RIB: the one writer (the Adj-RIB-Out\'s) gives the fixture bytes', () => {
  it.each([
    [1, 1, 'ffffffffffffffffffffffffffffffff 0017 02 0000 0000'],
    [2, 1, 'ffffffffffffffffffffffffffffffff 001d 02 0000 0006 800f03 000201'],
  ])('AFI %i SAFI %i', (afi, safi, bytes) => {
    const w = new Writer();
    writeEndOfRib(w, afi, safi);
    expect(Buffer.from(w.view()).toString('hex')).toBe(Buffer.from(hex(bytes)).toString('hex'));
    expect(isEndOfRib(decodeBody(w.view().subarray(19), CTX4))).toEqual({ afi, safi });
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
