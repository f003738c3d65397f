/**
 * This host's addresses and on-link networks as the kernel has them — the
 * facts behind the config warnings (src/config/warnings.ts), the multihop
 * hint on a failed connect, and the built-in host address check.
 *
 * Addresses come from getifaddrs(3) through os.networkInterfaces() (no
 * process to start; it lists interfaces that are up). On-link networks come
 * from the kernel's main routing tables through `ip -j route` (iproute2's
 * JSON output, decision 0029): a route without a gateway is on-link, which
 * also covers a device route with no address of ours in it (the /32-on-link
 * setups of some hosting providers). Without `ip`, the networks of our own
 * addresses stand in for them.
 *
 * Address text and containment go through src/ip.ts (ip-address). No RFC.
 */
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { parseIpAddress, parsePrefixText, prefixContains, unmapped, type IpAddress } from '../ip.js';

const execFileAsync = promisify(execFile);

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

interface IpRoute {
  dst?: string;
  gateway?: string;
  type?: string;
  nexthops?: unknown[];
}

/** On-link networks from the main routing tables (`ip -j route`); null when ip cannot be run. */
async function onLinkRoutes(): Promise<string[] | null> {
  const out: string[] = [];
  try {
    for (const fam of ['-4', '-6']) {
      const { stdout } = await execFileAsync('ip', ['-j', fam, 'route', 'show', 'table', 'main'], { timeout: 5_000 });
      for (const r of JSON.parse(stdout || '[]') as IpRoute[]) {
        if (r.gateway !== undefined || r.nexthops !== undefined || (r.type !== undefined && r.type !== 'unicast') || !r.dst) continue;
        const dst = r.dst === 'default' ? (fam === '-4' ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${fam === '-4' ? 32 : 128}`;
        out.push(dst);
      }
    }
  } catch {
    return null;
  }
  return out;
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
