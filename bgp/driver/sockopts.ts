/**
 * Socket options Node 20 has no API for, set through libc with koffi.
 *
 * Owns: the lazily loaded libc bindings (socket, setsockopt, getsockopt, bind,
 * connect, close, poll, getsockname), sockaddr encoding, and typed helpers for
 *   - TCP MD5 signatures (RFC 2385 §2; Linux `TCP_MD5SIG`, `struct tcp_md5sig`),
 *   - the outgoing TTL / hop limit (`IP_TTL`, `IPV6_UNICAST_HOPS`) for eBGP
 *     multihop and GTSM senders (RFC 5082 §3),
 *   - the minimum accepted TTL / hop count (`IP_MINTTL`, `IPV6_MINHOPCOUNT`),
 *     the receiving half of GTSM (RFC 5082 §3),
 *   - `SO_ERROR`, the result of a non-blocking connect,
 *   - classic BPF socket filters (`SO_ATTACH_FILTER`, `struct sock_fprog`) and
 *     draining a UDP socket's queue, for BFD's TTL check (bgp/bfd/ttl-filter.ts,
 *     decision 0021), and the fd behind a `dgram` socket.
 *
 * Linux only: the option numbers and struct layouts below are Linux's (the
 * same on x86_64 and aarch64). koffi is loaded on first use, so importing this
 * module costs nothing for a speaker that needs none of it.
 *
 * An MD5 key is a secret: it never appears in an error message or a log line.
 * Errors carry `code` (errno name), `errno` and `syscall` like Node's own.
 *
 *   struct tcp_md5sig (216 bytes, <linux/tcp.h>):
 *   0                 128     129        130       132        136        216
 *   +-----------------+-------+----------+---------+----------+----------+
 *   | sockaddr_storage| flags | prefixlen| keylen  | ifindex  | key[80]  |
 *   |  (peer address) |  u8   |   u8     | u16     |  i32     |          |
 *   +-----------------+-------+----------+---------+----------+----------+
 */
import { createRequire } from 'node:module';
import { constants as osConstants, endianness } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/prefix.js';

/** The address family of a socket: 4 (AF_INET) or 6 (AF_INET6). */
export type IpFamily = 4 | 6;

/** Linux constants used here (<sys/socket.h>, <netinet/in.h>, <linux/tcp.h>, <poll.h>). */
export const Linux = {
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_ERROR: 4,
  SO_ATTACH_FILTER: 26,
  MSG_DONTWAIT: 0x40,
  IPPROTO_IP: 0,
  IPPROTO_TCP: 6,
  IPPROTO_IPV6: 41,
  IP_TTL: 2,
  IP_MINTTL: 21,
  IPV6_UNICAST_HOPS: 16,
  IPV6_MINHOPCOUNT: 73,
  TCP_MD5SIG: 14,
  TCP_MD5SIG_MAXKEYLEN: 80,
  TCP_MD5SIG_LEN: 216,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
} as const;

const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;
const MD5_KEYLEN_OFF = 130;
const MD5_KEY_OFF = 136;

/** An error from a libc call, shaped like Node's system errors. */
export class SocketError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number, context: string) {
    const code = errnoName(errno);
    super(`${syscall} ${context}: ${code} (${errnoText(errno)})`);
    this.name = 'SocketError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
}

/** Name an errno value, e.g. 22 → "EINVAL". */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

function errnoText(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? errnoName(errno);
}

// ---------------------------------------------------------------------------
// libc bindings, loaded on first use

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  bind(fd: number, addr: Buffer, len: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  close(fd: number): number;
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  if_nametoindex(name: string): number;
  setsockoptFprog(fd: number, level: number, name: number, value: { len: number; filter: Buffer }, len: number): number;
  fprogSize: number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: Buffer): number;
  /** errno as left by the last libc call on this thread. */
  errno(): number;
}

let libcCache: Libc | undefined;

function libc(): Libc {
  if (libcCache) return libcCache;
  if (process.platform !== 'linux') {
    throw new Error(`TCP MD5 / TTL socket options are implemented for Linux only (this is ${process.platform})`);
  }
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (<linux/filter.h>);
  // koffi lays it out (16 octets on 64-bit) and passes a Buffer as the pointer.
  const fprog = koffi.struct('herald_sock_fprog', { len: 'uint16_t', filter: 'void *' });
  libcCache = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    poll: lib.func('int poll(void *, unsigned long, int)'),
    getsockname: lib.func('int getsockname(int, void *, void *)'),
    if_nametoindex: lib.func('unsigned int if_nametoindex(const char *)'),
    setsockoptFprog: lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(fprog), 'uint32_t']),
    fprogSize: koffi.sizeof(fprog),
    recv: lib.func('long recv(int, void *, unsigned long, int)'),
    recvfrom: lib.func('long recvfrom(int, void *, unsigned long, int, void *, void *)'),
    errno: () => koffi.errno(),
  };
  return libcCache;
}

/**
 * Load the libc bindings now, if they can be, instead of at the first socket
 * option. The engine thread calls this while it waits for its first command:
 * a directly connected eBGP session sets TTL 1 on its socket before the SYN
 * (connect.ts), so loading koffi at that moment (~8 ms) would come between
 * the config and the first OPEN (decision 0046). A failure is left for the
 * first real use to report.
 */
export function preloadLibc(): void {
  if (process.platform !== 'linux') return;
  try {
    libc();
  } catch {
    /* reported where the options are needed */
  }
}

const LE = endianness() === 'LE';

function writeU16Host(b: Buffer, v: number, off: number): void {
  if (LE) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}

function writeU32Host(b: Buffer, v: number, off: number): void {
  if (LE) b.writeUInt32LE(v, off);
  else b.writeUInt32BE(v, off);
}

function readI32Host(b: Buffer, off: number): number {
  return LE ? b.readInt32LE(off) : b.readInt32BE(off);
}

// ---------------------------------------------------------------------------
// addresses

/** A parsed IP address: family, raw bytes (4 or 16) and IPv6 scope id. */
export interface IpAddress {
  family: IpFamily;
  bytes: Uint8Array;
  scopeId: number;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function isV4Mapped(b: Uint8Array): boolean {
  return b.length === 16 && V4_MAPPED_PREFIX.every((v, i) => b[i] === v);
}

/** Parse an IP literal; an IPv4-mapped IPv6 address becomes IPv4; "%zone" sets the scope id. */
export function parseIp(text: string): IpAddress {
  const pct = text.indexOf('%');
  const base = pct >= 0 ? text.slice(0, pct) : text;
  if (!base.includes(':')) {
    const v4 = parseIPv4(base);
    if (!v4 || pct >= 0) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
    return { family: 4, bytes: v4, scopeId: 0 };
  }
  const v6 = parseIPv6(base);
  if (!v6) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  if (isV4Mapped(v6)) return { family: 4, bytes: v6.slice(12), scopeId: 0 };
  let scopeId = 0;
  if (pct >= 0) {
    const zone = text.slice(pct + 1);
    scopeId = /^\d+$/.test(zone) ? Number(zone) : libc().if_nametoindex(zone);
    if (!scopeId) throw new Error(`unknown IPv6 zone in ${JSON.stringify(text)}`);
  }
  return { family: 6, bytes: v6, scopeId };
}

/**
 * Encode `addr` as a sockaddr for a socket of `sockFamily` into `out` at 0.
 * An IPv4 address on an IPv6 socket becomes IPv4-mapped (::ffff:a.b.c.d),
 * which is how a dual-stack socket sees an IPv4 peer. Returns the length.
 */
function encodeSockaddr(out: Buffer, sockFamily: IpFamily, addr: IpAddress, port: number): number {
  if (sockFamily === 4) {
    if (addr.family !== 4) throw new Error('an IPv6 address cannot be used on an IPv4 socket');
    out.fill(0, 0, SOCKADDR_IN_LEN);
    writeU16Host(out, Linux.AF_INET, 0);
    out.writeUInt16BE(port, 2);
    out.set(addr.bytes, 4);
    return SOCKADDR_IN_LEN;
  }
  out.fill(0, 0, SOCKADDR_IN6_LEN);
  writeU16Host(out, Linux.AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  if (addr.family === 4) {
    out.set(V4_MAPPED_PREFIX, 8);
    out.set(addr.bytes, 20);
  } else {
    out.set(addr.bytes, 8);
    writeU32Host(out, addr.scopeId, 24);
  }
  return SOCKADDR_IN6_LEN;
}

// ---------------------------------------------------------------------------
// raw socket calls

/** Open a non-blocking, close-on-exec TCP socket of `family`; returns the fd. */
export function openTcpSocket(family: IpFamily): number {
  const c = libc();
  const domain = family === 4 ? Linux.AF_INET : Linux.AF_INET6;
  const fd = c.socket(domain, Linux.SOCK_STREAM | Linux.SOCK_NONBLOCK | Linux.SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SocketError('socket', c.errno(), `(IPv${family} TCP)`);
  return fd;
}

/** Close an fd that no Node handle owns; errors are ignored (the fd is gone either way on Linux). */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** Bind `fd` (of `family`) to `address` and `port` (0: any port). */
export function bindAddress(fd: number, family: IpFamily, address: string, port = 0): void {
  const c = libc();
  const sa = Buffer.alloc(SOCKADDR_IN6_LEN);
  const len = encodeSockaddr(sa, family, parseIp(address), port);
  if (c.bind(fd, sa, len) < 0) throw new SocketError('bind', c.errno(), `to ${address}`);
}

/**
 * Start a non-blocking connect of `fd` to `host`:`port`.
 * Returns true if it completed at once, false if it is in progress (EINPROGRESS).
 */
export function startConnect(fd: number, family: IpFamily, host: string, port: number): boolean {
  const c = libc();
  const sa = Buffer.alloc(SOCKADDR_IN6_LEN);
  const len = encodeSockaddr(sa, family, parseIp(host), port);
  if (c.connect(fd, sa, len) === 0) return true;
  const e = c.errno();
  // A non-blocking connect interrupted by a signal goes on in the background
  // like EINPROGRESS (POSIX connect(), "EINTR").
  if (e === osConstants.errno.EINPROGRESS || e === osConstants.errno.EINTR) return false;
  throw new SocketError('connect', e, `to ${formatHostPort(host, port)}`);
}

/** Check without waiting whether `fd` is writable or has an error pending (a connect has finished). */
export function pollWritable(fd: number): boolean {
  const c = libc();
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  if (LE) {
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(Linux.POLLOUT, 4);
  } else {
    pfd.writeInt32BE(fd, 0);
    pfd.writeInt16BE(Linux.POLLOUT, 4);
  }
  const n = c.poll(pfd, 1, 0);
  if (n < 0) {
    const e = c.errno();
    if (e === osConstants.errno.EINTR) return false;
    throw new SocketError('poll', e, `(fd ${fd})`);
  }
  if (n === 0) return false;
  const revents = LE ? pfd.readInt16LE(6) : pfd.readInt16BE(6);
  if (revents & Linux.POLLNVAL) throw new SocketError('poll', osConstants.errno.EBADF, `(fd ${fd})`);
  return (revents & (Linux.POLLOUT | Linux.POLLERR | Linux.POLLHUP)) !== 0;
}

function getIntOpt(fd: number, level: number, name: number, what: string): number {
  const c = libc();
  const val = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  writeU32Host(len, 4, 0);
  if (c.getsockopt(fd, level, name, val, len) < 0) throw new SocketError('getsockopt', c.errno(), `(${what})`);
  return readI32Host(val, 0);
}

function setIntOpt(fd: number, level: number, name: number, value: number, what: string): void {
  const c = libc();
  const val = Buffer.alloc(4);
  if (LE) val.writeInt32LE(value, 0);
  else val.writeInt32BE(value, 0);
  if (c.setsockopt(fd, level, name, val, 4) < 0) throw new SocketError('setsockopt', c.errno(), `(${what}=${value})`);
}

/** Read the pending error of `fd` (SO_ERROR) and clear it: 0 when there is none, else an errno. */
export function getSocketError(fd: number): number {
  return getIntOpt(fd, Linux.SOL_SOCKET, Linux.SO_ERROR, 'SO_ERROR');
}

/** Read the address family a socket was created with (from getsockname). */
export function socketFamily(fd: number): IpFamily {
  const c = libc();
  const sa = Buffer.alloc(128);
  const len = Buffer.alloc(4);
  writeU32Host(len, sa.length, 0);
  if (c.getsockname(fd, sa, len) < 0) throw new SocketError('getsockname', c.errno(), `(fd ${fd})`);
  const fam = LE ? sa.readUInt16LE(0) : sa.readUInt16BE(0);
  if (fam === Linux.AF_INET) return 4;
  if (fam === Linux.AF_INET6) return 6;
  throw new Error(`fd ${fd} is not an IP socket (family ${fam})`);
}

// ---------------------------------------------------------------------------
// typed helpers

/**
 * Set (or with `key` null, remove) the TCP MD5 key for `peerAddress` on `fd`.
 *
 * RFC 2385 §2: "Every segment sent on a TCP connection to be protected against
 * spoofing will contain the 16-byte MD5 digest". On Linux the kernel signs and
 * checks every segment once a key for the peer is set; a segment from that
 * peer without a valid signature is dropped silently (counted in
 * TcpExtTCPMD5NotFound / TcpExtTCPMD5Failure). `family` is the family of the
 * socket `fd`, not of the peer: on a dual-stack IPv6 socket an IPv4 peer is
 * keyed by its IPv4-mapped address. Removing a key that is not set is not an error.
 */
export function setTcpMd5(fd: number, peerAddress: string, key: string | null, family: IpFamily): void {
  const c = libc();
  const peer = parseIp(peerAddress);
  const buf = Buffer.alloc(Linux.TCP_MD5SIG_LEN);
  encodeSockaddr(buf, family, peer, 0);
  if (key !== null) {
    const bytes = Buffer.from(key, 'utf8');
    if (bytes.length === 0) throw new Error(`TCP MD5 key for ${peerAddress} is empty (use null to remove a key)`);
    if (bytes.length > Linux.TCP_MD5SIG_MAXKEYLEN) {
      throw new Error(`TCP MD5 key for ${peerAddress} is ${bytes.length} bytes; Linux allows at most ${Linux.TCP_MD5SIG_MAXKEYLEN}`);
    }
    writeU16Host(buf, bytes.length, MD5_KEYLEN_OFF);
    bytes.copy(buf, MD5_KEY_OFF);
    bytes.fill(0);
  }
  const rc = c.setsockopt(fd, Linux.IPPROTO_TCP, Linux.TCP_MD5SIG, buf, buf.length);
  const e = rc < 0 ? c.errno() : 0;
  buf.fill(0); // do not leave the key lying in memory longer than needed
  if (rc === 0) return;
  if (key === null && e === osConstants.errno.ENOENT) return;
  const what = key === null ? 'removing the key' : 'setting the key';
  throw new SocketError('setsockopt', e, `(TCP_MD5SIG, ${what} for ${peerAddress})`);
}

function checkTtl(ttl: number, min: number, what: string): void {
  if (!Number.isInteger(ttl) || ttl < min || ttl > 255) throw new Error(`${what} must be an integer ${min}..255, got ${ttl}`);
}

/**
 * Set the TTL / hop limit of packets sent on `fd` (IP_TTL, IPV6_UNICAST_HOPS).
 * On an IPv6 socket IP_TTL is set as well, for IPv4-mapped peers of a dual-stack socket.
 */
export function setTtl(fd: number, family: IpFamily, ttl: number): void {
  checkTtl(ttl, 1, 'TTL');
  if (family === 6) setIntOpt(fd, Linux.IPPROTO_IPV6, Linux.IPV6_UNICAST_HOPS, ttl, 'IPV6_UNICAST_HOPS');
  setIntOpt(fd, Linux.IPPROTO_IP, Linux.IP_TTL, ttl, 'IP_TTL');
}

/**
 * Give `fd` back the OS default TTL / hop limit (setsockopt with -1, which
 * Linux documents for IPV6_UNICAST_HOPS and accepts for IP_TTL).
 */
export function resetTtl(fd: number, family: IpFamily): void {
  if (family === 6) setIntOpt(fd, Linux.IPPROTO_IPV6, Linux.IPV6_UNICAST_HOPS, -1, 'IPV6_UNICAST_HOPS');
  setIntOpt(fd, Linux.IPPROTO_IP, Linux.IP_TTL, -1, 'IP_TTL');
}

/** Read the TTL / hop limit of packets sent on `fd`. */
export function getTtl(fd: number, family: IpFamily): number {
  return family === 6
    ? getIntOpt(fd, Linux.IPPROTO_IPV6, Linux.IPV6_UNICAST_HOPS, 'IPV6_UNICAST_HOPS')
    : getIntOpt(fd, Linux.IPPROTO_IP, Linux.IP_TTL, 'IP_TTL');
}

/**
 * Drop packets arriving on `fd` with a TTL / hop limit below `ttl` (0 disables).
 *
 * RFC 5082 §3: "If the TTL/Hop Limit of the received packet is less than the
 * configured value, the packet is discarded" — with the sender at TTL 255 and
 * the receiver expecting 255 - hops (GTSM). On an IPv6 socket IP_MINTTL is set
 * as well, for IPv4-mapped peers of a dual-stack socket.
 */
export function setMinTtl(fd: number, family: IpFamily, ttl: number): void {
  checkTtl(ttl, 0, 'minimum TTL');
  if (family === 6) setIntOpt(fd, Linux.IPPROTO_IPV6, Linux.IPV6_MINHOPCOUNT, ttl, 'IPV6_MINHOPCOUNT');
  setIntOpt(fd, Linux.IPPROTO_IP, Linux.IP_MINTTL, ttl, 'IP_MINTTL');
}

/** Read the minimum accepted TTL / hop count of `fd` (0: none). */
export function getMinTtl(fd: number, family: IpFamily): number {
  return family === 6
    ? getIntOpt(fd, Linux.IPPROTO_IPV6, Linux.IPV6_MINHOPCOUNT, 'IPV6_MINHOPCOUNT')
    : getIntOpt(fd, Linux.IPPROTO_IP, Linux.IP_MINTTL, 'IP_MINTTL');
}

/** Return the OS fd behind a listening server or a connected socket (throws if it has none yet). */
export function fdOf(owner: net.Server | net.Socket): number {
  const handle = (owner as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor (not listening or connected yet, or closed)');
  return fd;
}

/**
 * Return the OS fd behind a bound `dgram` socket. Node has no public accessor
 * and its `_handle` getter prints a deprecation warning (DEP0112), so this
 * reads the same handle through the socket's internal state symbol.
 */
export function dgramFd(socket: dgram.Socket): number {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const state = sym === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: unknown } | null } | undefined>)[sym];
  const fd = state?.handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('dgram socket has no file descriptor (not bound yet, closed, or this Node version keeps it elsewhere)');
  return fd;
}

/**
 * Attach a classic BPF program (`SO_ATTACH_FILTER`) to `fd`, replacing any
 * filter it had. `program` holds `struct sock_filter` entries, 8 octets each
 * in host byte order (u16 code, u8 jt, u8 jf, u32 k).
 */
export function attachSocketFilter(fd: number, program: Uint8Array): void {
  if (program.length === 0 || program.length % 8 !== 0 || program.length / 8 > 4096) {
    throw new Error(`a BPF program is 1..4096 instructions of 8 octets, got ${program.length} octets`);
  }
  const c = libc();
  const filter = Buffer.from(program.buffer, program.byteOffset, program.byteLength);
  if (c.setsockoptFprog(fd, Linux.SOL_SOCKET, Linux.SO_ATTACH_FILTER, { len: program.length / 8, filter }, c.fprogSize) < 0) {
    throw new SocketError('setsockopt', c.errno(), `(SO_ATTACH_FILTER, ${program.length / 8} instructions)`);
  }
}

/**
 * Read and drop every datagram already queued on `fd` without blocking;
 * returns how many there were. Used right after attaching a filter, in the
 * same tick as the bind, to drop what arrived before the filter was in place
 * (Node's event loop has not read the socket yet).
 */
export function drainDatagrams(fd: number): number {
  const c = libc();
  const buf = Buffer.alloc(65536);
  let n = 0;
  for (;;) {
    if (c.recv(fd, buf, buf.length, Linux.MSG_DONTWAIT) < 0) {
      const e = c.errno();
      if (e === osConstants.errno.EAGAIN || e === osConstants.errno.EWOULDBLOCK) return n;
      if (e === osConstants.errno.EINTR) continue;
      throw new SocketError('recv', e, `(draining fd ${fd})`);
    }
    n += 1;
  }
}

/** One datagram read by readDatagrams: its payload and where it came from (as Node's dgram names it). */
export interface WaitingDatagram {
  payload: Buffer;
  address: string;
  port: number;
}

/**
 * Read up to `max` datagrams already queued on `fd` without blocking, in
 * arrival order, with their source addresses (recvfrom with MSG_DONTWAIT).
 * For a thread that was stalled and must see what arrived meanwhile before
 * it decides anything on a timer: Node runs due timers before it polls its
 * sockets. Reading behind Node's back is safe for a datagram socket: the
 * event loop later finds the queue shorter or empty (EAGAIN).
 * The address is written as Node's dgram writes `rinfo.address`, with a
 * link-local IPv6 address's zone as its interface index ("fe80::1%2").
 */
export function readDatagrams(fd: number, max: number): WaitingDatagram[] {
  const c = libc();
  const buf = Buffer.alloc(65536);
  const sa = Buffer.alloc(SOCKADDR_IN6_LEN);
  const saLen = Buffer.alloc(4);
  const out: WaitingDatagram[] = [];
  while (out.length < max) {
    writeU32Host(saLen, sa.length, 0);
    const n = c.recvfrom(fd, buf, buf.length, Linux.MSG_DONTWAIT, sa, saLen);
    if (n < 0) {
      const e = c.errno();
      if (e === osConstants.errno.EAGAIN || e === osConstants.errno.EWOULDBLOCK) break;
      if (e === osConstants.errno.EINTR) continue;
      throw new SocketError('recvfrom', e, `(fd ${fd})`);
    }
    const fam = LE ? sa.readUInt16LE(0) : sa.readUInt16BE(0);
    const port = sa.readUInt16BE(2);
    let address: string;
    if (fam === Linux.AF_INET) address = formatIPv4(sa, 4);
    else if (fam === Linux.AF_INET6) {
      const scope = LE ? sa.readUInt32LE(24) : sa.readUInt32BE(24);
      address = scope === 0 ? formatIPv6(sa, 8) : `${formatIPv6(sa, 8)}%${scope}`;
    } else continue; // not an IP datagram: nothing herald could have sent itself
    out.push({ payload: Buffer.from(buf.subarray(0, n)), address, port });
  }
  return out;
}

/** Format host and port for messages, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
