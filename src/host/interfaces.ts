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
 * Containment questions go through ip-address. No RFC.
 */
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { Address4, Address6 } from 'ip-address';

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

type Parsed = Address4 | Address6;

/** Parse an address or CIDR; IPv4-mapped IPv6 becomes IPv4; null when it is neither. */
export function parseIp(text: string): Parsed | null {
  try {
    if (Address4.isValid(text)) return new Address4(text);
    const a = new Address6(text);
    return a.is4() && !text.includes('/') ? a.to4() : a;
  } catch {
    return null;
  }
}

/** Canonical text of an address: IPv4-mapped IPv6 shown as IPv4 ("::ffff:192.0.2.1" → "192.0.2.1"). */
export function canonicalIp(text: string): string {
  const a = parseIp(text);
  return a ? a.correctForm() : text;
}

/** Tell whether `address` lies in `cidr` (same family only). */
export function inNetwork(address: string, cidr: string): boolean {
  const a = parseIp(address);
  const n = parseIp(cidr);
  if (!a || !n || a.v4 !== n.v4) return false;
  return (a as Address4).isInSubnet(n as Address4);
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
  const a = parseIp(address);
  if (!a) return false;
  if (a.v4 ? inNetwork(address, '127.0.0.0/8') : a.correctForm() === '::1') return true;
  const text = a.correctForm();
  return facts.addresses.some((h) => h.address === text);
}

/** Tell whether `address` is on a connected network (reachable with TTL 1). */
export function isOnLink(facts: Pick<HostFacts, 'onLink'>, address: string): boolean {
  return facts.onLink.some((n) => inNetwork(address, n));
}
