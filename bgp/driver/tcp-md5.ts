/**
 * TCP MD5 signatures (RFC 2385) and GTSM (RFC 5082) on the listening side.
 *
 * Owns: per-peer MD5 keys on a listening `net.Server`, and its TTL / minimum
 * TTL. Linux keeps MD5 keys per socket, keyed by peer address; a connection
 * accepted from a keyed peer inherits the key, so it must be on the listener
 * before the peer's SYN arrives. RFC 2385 §2: "Upon receiving a signed
 * segment, the receiver MUST validate it by calculating its own digest from
 * the same data (using its own key) and comparing the two digests. A failing
 * comparison MUST result in the segment being dropped" — the kernel does
 * this; we only install the keys.
 *
 * A dual-stack listener (`::`) sees an IPv4 peer as ::ffff:a.b.c.d; its key
 * is installed under that IPv4-mapped address (Linux stores it as an IPv4
 * key, which is what the IPv4 receive path looks up). A plain IPv4 sockaddr
 * on an IPv6 socket is refused by the kernel (EINVAL).
 *
 * Keys are secrets: none of these functions log, and errors never contain them.
 */
import type * as net from 'node:net';
import { fdOf, resetTtl, setMinTtl, setTcpMd5, setTtl, type IpFamily } from './sockopts.js';

/** A peer address and its TCP MD5 key. */
export interface Md5Peer {
  address: string;
  key: string;
}

/** Return the address family of a listening server's socket. */
export function listenerFamily(server: net.Server): IpFamily {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('server is not listening on an IP address');
  // Node 18.0–18.3 reported the family as a number; later versions as a string.
  const fam = a.family as string | number;
  return fam === 'IPv6' || fam === 6 ? 6 : 4;
}

/** Install the MD5 key of each peer on a listening server (call after 'listening'). */
export function applyListenerMd5(server: net.Server, peers: readonly Md5Peer[]): void {
  const fd = fdOf(server);
  const family = listenerFamily(server);
  for (const p of peers) setTcpMd5(fd, p.address, p.key, family);
}

/** Remove the MD5 key of `address` from a listening server (no error if there was none). */
export function removeListenerMd5(server: net.Server, address: string): void {
  setTcpMd5(fdOf(server), address, null, listenerFamily(server));
}

/**
 * Set the outgoing TTL (a number, or 'default' for the OS default) and/or the
 * minimum incoming TTL on a listening server. The kernel sends the SYN-ACK
 * with the listener's TTL, and accepted connections inherit both. The
 * minimum TTL applies to every peer reaching this listener, so use it only
 * when all of them run GTSM; otherwise set it per connection on the accepted
 * socket (`setMinTtl(fdOf(sock), ...)`).
 */
export function setListenerTtl(server: net.Server, opts: { ttl?: number | 'default'; minTtl?: number }): void {
  const fd = fdOf(server);
  const family = listenerFamily(server);
  if (opts.ttl === 'default') resetTtl(fd, family);
  else if (opts.ttl !== undefined) setTtl(fd, family, opts.ttl);
  if (opts.minTtl !== undefined) setMinTtl(fd, family, opts.minTtl);
}
