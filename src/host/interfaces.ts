/**
 * This host's addresses and on-link networks as the kernel has them — the
 * facts behind the config warnings (src/config/warnings.ts), the multihop
 * hint on a failed connect, and the built-in host address check.
 *
 * Addresses come from getifaddrs(3) through os.networkInterfaces() (no
 * process to start; it lists interfaces that are up). On-link networks come
 * from the kernel's routing tables as procfs shows them, /proc/net/route
 * (IPv4, the main table) and /proc/net/ipv6_route (IPv6): a route with a
 * device and no gateway is on-link, which also covers a device route with
 * no address of ours in it (the /32-on-link setups of some hosting
 * providers). Reading two files costs no process: `ip -j route`, used
 * before, was two forks of the daemon at every start and reload (decision
 * 0045). Without procfs, the networks of our own addresses stand in.
 *
 * Address text and containment go through src/ip.ts (ip-address). No RFC.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { parseIpAddress, parsePrefixText, prefixContains, unmapped, type IpAddress } from '../ip.js';

/** One address on one interface. */
export interface HostAddress {
  interface: string;
  /** Canonical text (RFC 5952 for IPv6). */
  address: string;
  prefixLen: number;
  family: 'ipv4' | 'ipv6';
}

/** What the warnings and hints read of the host. */
export interface HostFacts {
  addresses: readonly HostAddress[];
  /** On-link networks (CIDR): routes with no gateway, or our addresses' networks. */
  onLink: readonly string[];
  /** Where onLink came from. */
  onLinkFrom: 'routes' | 'addresses';
}

/**
 * An address as the host sees it (src/ip.ts), IPv4-mapped IPv6 taken as
 * its IPv4 address ("::ffff:192.0.2.1" is 192.0.2.1 on a dual-stack
 * socket); null when it is not an address.
 */
export function hostIp(text: string): IpAddress | null {
  const a = parseIpAddress(text);
  return typeof a === 'string' ? null : unmapped(a);
}

/** Canonical text of an address: IPv4-mapped IPv6 shown as IPv4 ("::ffff:192.0.2.1" → "192.0.2.1"); the text itself when it is no address. */
export function canonicalIp(text: string): string {
  return hostIp(text)?.text ?? text;
}

/** Tell whether `address` lies in `cidr` (same family only; `cidr` may have host bits set, as an interface's does). */
export function inNetwork(address: string, cidr: string): boolean {
  const a = hostIp(address);
  const n = parsePrefixText(cidr, { hostBits: 'mask' });
  return a !== null && typeof n !== 'string' && prefixContains(n, a);
}

/** Every address on an interface that is up (getifaddrs). */
export function hostAddresses(): HostAddress[] {
  const out: HostAddress[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      const cidr = a.cidr ?? `${a.address}/${a.family === 'IPv4' ? 32 : 128}`;
      out.push({ interface: name, address: canonicalIp(a.address.replace(/%.*$/, '')), prefixLen: Number(cidr.split('/')[1]), family: a.family === 'IPv4' ? 'ipv4' : 'ipv6' });
    }
  }
  return out;
}

// Route flags (linux/route.h, linux/ipv6_route.h) as procfs prints them.
const RTF_GATEWAY = 0x2;
const RTF_REJECT = 0x200;
const RTF_LOCAL = 0x80000000;

/**
 * On-link IPv4 networks from /proc/net/route (the main table): routes with
 * a device ("*": none, as a blackhole has) and no gateway, not unreachable
 * or prohibit (RTF_REJECT). Destination and mask are the kernel's 32-bit
 * words in host (little-endian) byte order, as hex.
 */
export function onLinkFromProcRoute(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dst, , flagsHex, , , , maskHex] = f as [string, string, string, string, string, string, string, string];
    const flags = parseInt(flagsHex, 16);
    if (iface === '*' || flags & RTF_GATEWAY || flags & RTF_REJECT) continue;
    const d = parseInt(dst, 16) >>> 0;
    let mask = parseInt(maskHex, 16) >>> 0;
    let len = 0;
    for (; mask !== 0; mask >>>= 1) len += mask & 1;
    out.push(`${d & 255}.${(d >>> 8) & 255}.${(d >>> 16) & 255}.${d >>> 24}/${len}`);
  }
  return out;
}

/**
 * On-link IPv6 networks from /proc/net/ipv6_route: routes with no gateway
 * that are not reject routes (unreachable, prohibit, blackhole) nor our own
 * addresses (RTF_LOCAL; those and the reject routes sit on `lo`). procfs
 * lists every table, so a route of a policy table counts too.
 */
export function onLinkFromProcIpv6Route(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[0]!.length !== 32) continue;
    const flags = parseInt(f[8]!, 16) >>> 0;
    if (f[9] === 'lo' || flags & RTF_GATEWAY || flags & RTF_REJECT || (flags & RTF_LOCAL) !== 0) continue;
    const p = parsePrefixText(`${f[0]!.match(/.{4}/g)!.join(':')}/${parseInt(f[1]!, 16)}`, { hostBits: 'mask' });
    if (typeof p !== 'string') out.push(p.text);
  }
  return out;
}

/** On-link networks from procfs; null when it cannot be read. */
async function onLinkRoutes(): Promise<string[] | null> {
  try {
    const [v4, v6] = await Promise.all([readFile('/proc/net/route', 'latin1'), readFile('/proc/net/ipv6_route', 'latin1').catch(() => '')]);
    return [...onLinkFromProcRoute(v4), ...onLinkFromProcIpv6Route(v6)];
  } catch {
    return null;
  }
}

/** Read this host's addresses and on-link networks. */
export async function readHostFacts(): Promise<HostFacts> {
  const addresses = hostAddresses();
  const routes = await onLinkRoutes();
  if (routes) return { addresses, onLink: routes, onLinkFrom: 'routes' };
  const nets = addresses.filter((a) => !(a.family === 'ipv4' ? a.address.startsWith('127.') : a.address === '::1')).map((a) => `${a.address}/${a.prefixLen}`);
  return { addresses, onLink: nets, onLinkFrom: 'addresses' };
}

/** Tell whether `address` is this host's own (loopback counts). */
export function isLocal(facts: Pick<HostFacts, 'addresses'>, address: string): boolean {
  const a = hostIp(address);
  if (!a) return false;
  if (a.family === 'ipv4' ? inNetwork(a.text, '127.0.0.0/8') : a.text === '::1') return true;
  return facts.addresses.some((h) => h.address === a.text);
}

/** Tell whether `address` is on a connected network (reachable with TTL 1). */
export function isOnLink(facts: Pick<HostFacts, 'onLink'>, address: string): boolean {
  return facts.onLink.some((n) => inNetwork(address, n));
}
