import { describe, expect, it } from 'vitest';
import { decodeCapabilities, encodeCapabilities, findCapabilities, findCapability, CAPABILITY_CODECS } from '../../../bgp/wire/capabilities/index.js';
import { CapCode, ErrCode, OpenSub } from '../../../bgp/wire/iana.js';
import type { Capability } from '../../../bgp/wire/types.js';
import { expectBgpError, expectBytes, hex } from './msg-fixture.js';

interface Fixture {
  name: string;
  bytes: Uint8Array;
  caps: Capability[];
}

// Each fixture is one or more <code, length, value> triples as they appear in
// the Capabilities Optional Parameter, and the decoded model; used both ways.
const FIXTURES: Fixture[] = [
  {
    name: 'multiprotocol IPv4 unicast (RFC 4760 §8)',
    bytes: hex`01 04 | 0001 00 01   # AFI 1, reserved, SAFI 1`,
    caps: [{ code: 1, kind: 'multiprotocol', afi: 1, safi: 1 }],
  },
  {
    name: 'multiprotocol IPv6 unicast and IPv4 multicast',
    bytes: hex`01 04 0002 00 01 | 01 04 0001 00 02`,
    caps: [
      { code: 1, kind: 'multiprotocol', afi: 2, safi: 1 },
      { code: 1, kind: 'multiprotocol', afi: 1, safi: 2 },
    ],
  },
  { name: 'route refresh (RFC 2918)', bytes: hex`02 00`, caps: [{ code: 2, kind: 'route-refresh' }] },
  {
    name: 'extended next hop: IPv4 unicast and IPv4 VPN over IPv6 (RFC 8950 §3)',
    bytes: hex`05 0c | 0001 0001 0002 | 0001 0080 0002   # NLRI AFI, NLRI SAFI (2 octets), next-hop AFI`,
    caps: [
      {
        code: 5,
        kind: 'extended-next-hop',
        entries: [
          { afi: 1, safi: 1, nextHopAfi: 2 },
          { afi: 1, safi: 128, nextHopAfi: 2 },
        ],
      },
    ],
  },
  { name: 'extended message (RFC 8654)', bytes: hex`06 00`, caps: [{ code: 6, kind: 'extended-message' }] },
  {
    name: 'graceful restart, R and N bits, 120 s, two families (RFC 4724, RFC 8538)',
    bytes: hex`
      40 0a
      c0 78          # flags R|N (0xc), restart time 0x078 = 120
      0001 01 80     # IPv4 unicast, forwarding preserved
      0002 01 00     # IPv6 unicast, not preserved`,
    caps: [
      {
        code: 64,
        kind: 'graceful-restart',
        restarting: true,
        notification: true,
        restartTime: 120,
        families: [
          { afi: 1, safi: 1, forwardingPreserved: true },
          { afi: 2, safi: 1, forwardingPreserved: false },
        ],
      },
    ],
  },
  {
    name: 'graceful restart helper only: N bit, no families, 4095 s',
    bytes: hex`40 02 4f ff`,
    caps: [{ code: 64, kind: 'graceful-restart', restarting: false, notification: true, restartTime: 4095, families: [] }],
  },
  {
    name: 'four-octet AS 4200000000 (RFC 6793 §3)',
    bytes: hex`41 04 fa56ea00`,
    caps: [{ code: 65, kind: 'four-octet-as', asn: 4200000000 }],
  },
  {
    name: 'ADD-PATH receive IPv4, send IPv6, both IPv4 multicast (RFC 7911 §4)',
    bytes: hex`45 0c | 0001 01 01 | 0002 01 02 | 0001 02 03`,
    caps: [
      {
        code: 69,
        kind: 'add-path',
        families: [
          { afi: 1, safi: 1, sendReceive: 1 },
          { afi: 2, safi: 1, sendReceive: 2 },
          { afi: 1, safi: 2, sendReceive: 3 },
        ],
      },
    ],
  },
  { name: 'enhanced route refresh (RFC 7313)', bytes: hex`46 00`, caps: [{ code: 70, kind: 'enhanced-route-refresh' }] },
  {
    name: 'FQDN edge1 / example.net (hostname capability)',
    bytes: hex`49 12 | 05 6564676531 | 0b 6578616d706c652e6e6574   # "edge1", "example.net"`,
    caps: [{ code: 73, kind: 'fqdn', hostname: 'edge1', domain: 'example.net' }],
  },
  {
    name: 'FQDN with empty domain',
    bytes: hex`49 07 | 05 6564676531 | 00`,
    caps: [{ code: 73, kind: 'fqdn', hostname: 'edge1', domain: '' }],
  },
  {
    name: 'unknown capabilities kept opaque: LLGR (71), BGP role (9), Cisco route refresh (128)',
    bytes: hex`
      47 07 0001 01 80 0000b4   # LLGR IPv4 unicast, F bit, 180 s
      09 01 03                  # role: customer
      80 00                     # pre-standard route refresh`,
    caps: [
      { code: 71, kind: 'unknown', value: hex`0001 01 80 0000b4` },
      { code: 9, kind: 'unknown', value: hex`03` },
      { code: 128, kind: 'unknown', value: new Uint8Array(0) },
    ],
  },
];

describe('capability fixtures, both ways', () => {
  for (const f of FIXTURES) {
    it(`decodes ${f.name}`, () => {
      expect(decodeCapabilities(f.bytes)).toEqual(f.caps);
    });
    it(`encodes ${f.name}`, () => {
      expectBytes(encodeCapabilities(f.caps), f.bytes);
    });
  }

  it('has a fixture for every registered codec', () => {
    const covered = new Set(FIXTURES.flatMap((f) => f.caps.map((c) => c.code)));
    for (const code of CAPABILITY_CODECS.keys()) expect(covered.has(code), `code ${code}`).toBe(true);
    expect(CAPABILITY_CODECS.size).toBe(Object.keys(CapCode).length);
  });

  it('keeps unknown values as copies, not views of the input', () => {
    const bytes = hex`47 02 abcd`;
    const [cap] = decodeCapabilities(bytes);
    bytes[2] = 0;
    expect(cap).toEqual({ code: 71, kind: 'unknown', value: hex`abcd` });
  });
});

describe('capability decode details', () => {
  it('ignores the multiprotocol reserved octet', () => {
    expect(decodeCapabilities(hex`01 04 0002 ff 01`)).toEqual([{ code: 1, kind: 'multiprotocol', afi: 2, safi: 1 }]);
  });

  it('ignores the other graceful restart flag bits', () => {
    const [gr] = decodeCapabilities(hex`40 06 3001 0001 01 7f`);
    expect(gr).toEqual({
      code: 64,
      kind: 'graceful-restart',
      restarting: false,
      notification: false,
      restartTime: 1,
      families: [{ afi: 1, safi: 1, forwardingPreserved: false }],
    });
  });

  it('skips ADD-PATH entries with an undefined Send/Receive value', () => {
    expect(decodeCapabilities(hex`45 08 0001 01 00 | 0002 01 03`)).toEqual([
      { code: 69, kind: 'add-path', families: [{ afi: 2, safi: 1, sendReceive: 3 }] },
    ]);
  });

  it('finds capabilities by kind', () => {
    const caps = decodeCapabilities(hex`01 04 0001 00 01 | 41 04 0000fde9 | 01 04 0002 00 01`);
    expect(findCapability(caps, 'four-octet-as')?.asn).toBe(65001);
    expect(findCapabilities(caps, 'multiprotocol').map((c) => c.afi)).toEqual([1, 2]);
    expect(findCapability(caps, 'fqdn')).toBeUndefined();
  });

  it('decodes an empty list', () => {
    expect(decodeCapabilities(new Uint8Array(0))).toEqual([]);
  });
});

describe('malformed capabilities are OPEN Message Error / Unspecific (as BIRD and FRR)', () => {
  const cases: [string, Uint8Array][] = [
    ['a lone capability code', hex`01`],
    ['a value running past the parameter', hex`01 04 0001 00`],
    ['multiprotocol of length 3', hex`01 03 0001 01`],
    ['multiprotocol of length 5', hex`01 05 0001 00 01 00`],
    ['route refresh with a value', hex`02 01 00`],
    ['extended message with a value', hex`06 01 00`],
    ['enhanced route refresh with a value', hex`46 01 00`],
    ['extended next hop of length 5', hex`05 05 0001 0001 00`],
    ['graceful restart of length 1', hex`40 01 00`],
    ['graceful restart of length 5', hex`40 05 0078 0001 01`],
    ['four-octet AS of length 2', hex`41 02 fde9`],
    ['ADD-PATH of length 3', hex`45 03 0001 01`],
    ['FQDN hostname running past the value', hex`49 03 05 6564`],
    ['FQDN without domain length', hex`49 02 01 61`],
    ['FQDN with trailing octets', hex`49 04 01 61 00 00`],
    ['a good capability followed by a truncated one', hex`02 00 41 04 0000`],
  ];
  for (const [name, bytes] of cases) {
    it(`rejects ${name}`, () => {
      expectBgpError(() => decodeCapabilities(bytes), ErrCode.OpenMessage, OpenSub.Unspecific);
    });
  }
});

describe('capability encode limits', () => {
  it('refuses a graceful restart time above 12 bits', () => {
    expect(() =>
      encodeCapabilities([{ code: 64, kind: 'graceful-restart', restarting: false, notification: false, restartTime: 4096, families: [] }]),
    ).toThrow(RangeError);
  });

  it('refuses a capability value above 255 octets', () => {
    const entries = Array.from({ length: 43 }, () => ({ afi: 1, safi: 1, nextHopAfi: 2 })); // 258 octets
    expect(() => encodeCapabilities([{ code: 5, kind: 'extended-next-hop', entries }])).toThrow(RangeError);
  });
});
