// On-link networks read from procfs (src/host/interfaces.ts): the parsers
// keep device routes with no gateway and drop gateway, reject, blackhole and
// local routes; and on this host they agree with iproute2's view of the
// main tables (`ip -j route`), which they replaced (decision 0045).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { onLinkFromProcIpv6Route, onLinkFromProcRoute, readHostFacts } from '../../../src/host/interfaces.js';

// A /proc/net/route as the kernel prints it: default via 192.0.2.1, 192.0.2.0/24 on eth0,
// 198.51.100.7/32 on-link on eth1 (a hosting provider's /32), a blackhole and an unreachable route.
const ROUTE4 = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth1\t076433C6\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
  '*\t007100CB\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  '*\t0A7100CB\t00000000\t0205\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
  '',
].join('\n');

// /proc/net/ipv6_route: 2001:db8:1::/64 on eth0, fe80::/64 on eth0, a default via a gateway,
// our own address and ::1 (RTF_LOCAL, on lo), an unreachable route (RTF_REJECT, on lo).
const Z = '00000000000000000000000000000000';
const ROUTE6 = [
  `20010db8000100000000000000000000 40 ${Z} 00 ${Z} 00000100 00000001 00000000 00000001     eth0`,
  `fe800000000000000000000000000000 40 ${Z} 00 ${Z} 00000100 00000002 00000000 00000001     eth0`,
  `${Z} 00 ${Z} 00 20010db8000100000000000000000001 00000400 00000003 00000000 00000003     eth0`,
  `20010db8000100000000000000000005 80 ${Z} 00 ${Z} 00000000 00000004 00000000 80200001     eth0`,
  `00000000000000000000000000000001 80 ${Z} 00 ${Z} 00000000 00000002 00000000 80200001       lo`,
  `20010db8000200000000000000000000 30 ${Z} 00 ${Z} 00000400 00000001 00000000 00200200       lo`,
  '',
].join('\n');

describe('on-link networks from procfs', () => {
  it('IPv4: device routes with no gateway, none of the gateway, blackhole or reject routes', () => {
    expect(onLinkFromProcRoute(ROUTE4)).toEqual(['192.0.2.0/24', '198.51.100.7/32']);
  });

  it('IPv6: device routes with no gateway, none of the gateway, local or reject routes', () => {
    expect(onLinkFromProcIpv6Route(ROUTE6)).toEqual(['2001:db8:1::/64', 'fe80::/64']);
  });

  it("on this host, agree with iproute2's main tables", async () => {
    const facts = await readHostFacts();
    expect(facts.onLinkFrom).toBe('routes');
    const fromIp = (fam: string): string[] =>
      (JSON.parse(execFileSync('ip', ['-j', fam, 'route', 'show', 'table', 'main'], { encoding: 'utf8' }) || '[]') as { dst: string; gateway?: string; nexthops?: unknown; type?: string; dev?: string }[])
        .filter((r) => r.gateway === undefined && r.nexthops === undefined && (r.type === undefined || r.type === 'unicast') && r.dev !== undefined && r.dev !== 'lo')
        .map((r) => (r.dst === 'default' ? (fam === '-4' ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${fam === '-4' ? 32 : 128}`));
    const v4 = onLinkFromProcRoute(readFileSync('/proc/net/route', 'latin1'));
    console.log(`this host: ${v4.length} IPv4 and ${facts.onLink.length - v4.length} IPv6 on-link networks from procfs`);
    expect(v4.sort()).toEqual(fromIp('-4').sort());
    // procfs lists every IPv6 table: the main table's on-link routes are among them.
    expect(facts.onLink).toEqual(expect.arrayContaining(fromIp('-6')));
  });
});
