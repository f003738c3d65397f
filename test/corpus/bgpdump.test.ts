/**
 * The bgpdump -m formatter's conventions that the corpus does not exercise
 * (confederation segments, well-known communities, IPv6 text oddities), and
 * the line comparer the corpus tests rely on to fail.
 */
import { describe, expect, it } from 'vitest';
import { parseIPv6, parsePrefix } from '../../bgp/wire/prefix.js';
import { bgpdumpAsPath, bgpdumpCommunities, bgpdumpIPv6, bgpdumpRouteLine, bgpdumpUpdateLines } from './bgpdump.js';
import { diffLines } from './corpus-support.js';

const v6 = (s: string): string => bgpdumpIPv6(parseIPv6(s)!);

describe('bgpdump -m formatter', () => {
  it('prints IPv6 as bgpdump fmt_ipv6 does (its own self-test cases, and a lone zero group)', () => {
    expect(v6('fe80::')).toBe('fe80::');
    expect(v6('2001:db8::1')).toBe('2001:db8::1');
    expect(v6('::ffff:192.168.2.1')).toBe('::ffff:192.168.2.1');
    expect(v6('::192.168.1.2')).toBe('::192.168.1.2');
    expect(v6('2001:7f8:30::2:1:0:8447')).toBe('2001:7f8:30::2:1:0:8447');
    // Unlike RFC 5952, a single zero group is compressed too.
    expect(v6('2001:db8:0:1:1:1:1:1')).toBe('2001:db8::1:1:1:1:1');
    expect(v6('::')).toBe('::');
    expect(v6('::1')).toBe('::1');
  });

  it('prints AS_PATH segments: sequence, {set}, (confed seq), [confed set]', () => {
    expect(
      bgpdumpAsPath([
        { type: 3, asns: [65001, 65002] },
        { type: 4, asns: [65003, 65004] },
        { type: 2, asns: [64500, 4200000000] },
        { type: 1, asns: [1, 2, 3] },
      ]),
    ).toBe('(65001 65002) [65003,65004] 64500 4200000000 {1,2,3}');
    expect(bgpdumpAsPath(undefined)).toBe('');
    expect(bgpdumpAsPath([])).toBe('');
  });

  it('prints communities with bgpdump names for the three it knows', () => {
    expect(bgpdumpCommunities([0xffffff01, 0xffffff02, 0xffffff03, 0xffffff04, 0x0d1c0064])).toBe('no-export no-advertise local-AS 65535:65284 3356:100');
  });

  it('prints absent attributes as bgpdump does: INCOMPLETE, 255.255.255.255, 0, 0, NAG, empty aggregator', () => {
    const line = bgpdumpRouteLine({ label: 'TABLE_DUMP2', time: 1, peerIp: '192.0.2.1', peerAs: 64500 }, parsePrefix('198.51.100.0/24')!, {});
    expect(line).toBe('TABLE_DUMP2|1|B|192.0.2.1|64500|198.51.100.0/24||INCOMPLETE|255.255.255.255|0|0||NAG||');
  });

  it('orders UPDATE lines: withdrawn, MP_UNREACH, body NLRI, MP_REACH; ET time has microseconds', () => {
    const lines = bgpdumpUpdateLines(
      { label: 'BGP4MP_ET', time: 7, micros: 42, peerIp: '2001:db8::1', peerAs: 64500 },
      {
        type: 'update',
        withdrawn: [{ prefix: parsePrefix('203.0.113.0/24')! }],
        attributes: {
          origin: 1,
          asPath: [{ type: 2, asns: [64500] }],
          nextHop: '192.0.2.1',
          aggregator: { asn: 64500, address: '192.0.2.2' },
          atomicAggregate: true,
          mpUnreach: { afi: 2, safi: 1, nlri: [{ prefix: parsePrefix('2001:db8:1::/48')! }] },
          mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::2', 'fe80::2'], nlri: [{ prefix: parsePrefix('2001:db8:2::/48')! }] },
        },
        nlri: [{ prefix: parsePrefix('198.51.100.0/24')! }],
      },
    );
    expect(lines).toEqual([
      'BGP4MP_ET|7.000042|W|2001:db8::1|64500|203.0.113.0/24',
      'BGP4MP_ET|7.000042|W|2001:db8::1|64500|2001:db8:1::/48',
      'BGP4MP_ET|7.000042|A|2001:db8::1|64500|198.51.100.0/24|64500|EGP|192.0.2.1|0|0||AG|64500 192.0.2.2|',
      'BGP4MP_ET|7.000042|A|2001:db8::1|64500|2001:db8:2::/48|64500|EGP|2001:db8::2|0|0||AG|64500 192.0.2.2|',
    ]);
  });

  it('the line comparer reports a changed line and a missing one', () => {
    const d = diffLines(['a', 'b', 'x'], ['a', 'b', 'c', 'd']);
    expect(d.mismatches).toBe(2);
    expect(d.compared).toBe(3);
    expect(d.report.join('\n')).toContain('expected: c');
    expect(d.report.join('\n')).toContain('line count: expected 4, actual 3');
  });
});
