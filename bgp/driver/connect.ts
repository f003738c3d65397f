/**
 * Outgoing TCP connections for BGP sessions (RFC 4271 §8.2.1 ConnectRetry /
 * "initiate a TCP connection to the other BGP peer"), with what Node 20's
 * `net.connect` cannot do: a TCP MD5 key (RFC 2385), the outgoing TTL (eBGP
 * multihop, GTSM sender per RFC 5082 §3) and a minimum incoming TTL (GTSM
 * receiver), all set on the socket before its SYN leaves.
 *
 * Owns: `connectTcp` and `readMd5Counters`.
 *
 * With none of those options the plain `net.connect` is used. Otherwise the
 * socket is built with libc (sockopts.ts): socket(), setsockopt()s, optional
 * bind() to the local address, a non-blocking connect(), then a poll() with a
 * zero timeout on a backing-off timer until the connect has finished (the
 * event loop never blocks; a koffi async poll would hold a libuv threadpool
 * thread for the whole wait), SO_ERROR for the outcome, and finally the fd
 * handed to `new net.Socket({ fd })`, which owns and closes it from then on.
 *
 * With MD5 on and a peer whose key differs (or who has none), the peer's
 * kernel drops our SYNs without a word: the only symptom here is a timeout,
 * so the timeout message says so. The peer's side shows it in its TcpExt
 * counters, which `readMd5Counters` reads for a listener in this namespace.
 */
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import {
  SocketError,
  bindAddress,
  closeFd,
  formatHostPort,
  getSocketError,
  openTcpSocket,
  parseIp,
  pollWritable,
  setMinTtl,
  setTcpMd5,
  setTtl,
  startConnect,
  type IpFamily,
} from './sockopts.js';
import { after, realClock, type Clock } from './clock.js';

export interface ConnectOptions {
  /** The peer's IP address (no DNS: a BGP neighbor is an address). "%zone" allowed for link-local IPv6. */
  host: string;
  port: number;
  /** Local address to bind before connecting (port chosen by the kernel). */
  localAddress?: string;
  /** TCP MD5 key (RFC 2385) for this peer. */
  md5Key?: string;
  /** TTL / hop limit of outgoing packets (255 for GTSM, 1 for plain eBGP, more for multihop). */
  ttl?: number;
  /** Minimum TTL / hop count accepted from the peer (GTSM receiver, RFC 5082). */
  minTtl?: number;
  /** Give up after this long without a completed handshake. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The clock the timeout and the connect polling run on (default the real clock). */
  clock?: Clock;
}

/** An error with a Node-style `code` (ETIMEDOUT, ABORT_ERR, ...). */
export class ConnectError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectError';
    this.code = code;
  }
}

/** Delays (ms) between poll()s of a connecting socket: quick at first, then at most every 25 ms. */
const POLL_BACKOFF_MS = [0, 1, 1, 2, 4, 8, 16] as const;
const POLL_MAX_MS = 25;

/** Open a TCP connection to a BGP peer with optional MD5 key, TTL and minimum TTL. */
export function connectTcp(opts: ConnectOptions): Promise<net.Socket> {
  let family: IpFamily;
  try {
    family = parseIp(opts.host).family;
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new Error(`invalid port ${opts.port}`);
    if (opts.localAddress !== undefined && parseIp(opts.localAddress).family !== family) {
      throw new Error(`local address ${opts.localAddress} and peer ${opts.host} are of different address families`);
    }
  } catch (e) {
    return Promise.reject(e as Error);
  }
  if (opts.signal?.aborted) return Promise.reject(abortError(opts));
  const needLibc = opts.md5Key !== undefined || opts.ttl !== undefined || opts.minTtl !== undefined;
  return needLibc ? connectWithLibc(opts, family) : connectWithNet(opts);
}

function abortError(opts: ConnectOptions): ConnectError {
  return new ConnectError('ABORT_ERR', `connect to ${formatHostPort(opts.host, opts.port)} aborted`, { cause: opts.signal?.reason });
}

function timeoutError(opts: ConnectOptions): ConnectError {
  const secs = Number((opts.timeoutMs / 1000).toFixed(3));
  let msg = `connect to ${formatHostPort(opts.host, opts.port)}: no answer to TCP SYN within ${secs}s`;
  if (opts.md5Key !== undefined) {
    msg +=
      " — with TCP MD5 enabled this usually means the peer's password differs or it has none" +
      ' (check nstat TcpExtTCPMD5Failure/TCPMD5NotFound on the peer)';
  }
  if (opts.minTtl !== undefined && opts.minTtl > 0) {
    msg += `; with a minimum TTL of ${opts.minTtl} here, replies arriving with a lower TTL are dropped (nstat TcpExtTCPMinTTLDrop)`;
  }
  return new ConnectError('ETIMEDOUT', msg);
}

function connectWithNet(opts: ConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      cancelTimer();
      opts.signal?.removeEventListener('abort', onAbort);
      sock.off('connect', onConnect);
      sock.off('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        resolve(sock);
      }
    };
    const onConnect = (): void => finish(null);
    const onError = (err: Error): void => finish(err);
    const onAbort = (): void => finish(abortError(opts));
    const cancelTimer = after(opts.clock ?? realClock, opts.timeoutMs, () => finish(timeoutError(opts)));
    sock.once('connect', onConnect);
    sock.once('error', onError);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function connectWithLibc(opts: ConnectOptions, family: IpFamily): Promise<net.Socket> {
  let fd: number;
  let connected: boolean;
  try {
    fd = openTcpSocket(family);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  try {
    if (opts.md5Key !== undefined) setTcpMd5(fd, opts.host, opts.md5Key, family);
    if (opts.ttl !== undefined) setTtl(fd, family, opts.ttl);
    if (opts.minTtl !== undefined) setMinTtl(fd, family, opts.minTtl);
    if (opts.localAddress !== undefined) bindAddress(fd, family, opts.localAddress, 0);
    connected = startConnect(fd, family, opts.host, opts.port);
  } catch (e) {
    closeFd(fd);
    return Promise.reject(e as Error);
  }

  return new Promise((resolve, reject) => {
    const clock = opts.clock ?? realClock;
    let done = false;
    let cancelPoll: (() => void) | undefined;
    let step = 0;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      cancelDeadline();
      cancelPoll?.();
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        closeFd(fd);
        reject(err);
        return;
      }
      try {
        resolve(new net.Socket({ fd, readable: true, writable: true }));
      } catch (e) {
        closeFd(fd);
        reject(e as Error);
      }
    };
    const check = (): void => {
      cancelPoll = undefined;
      if (done) return;
      try {
        if (pollWritable(fd)) {
          const so = getSocketError(fd);
          finish(so === 0 ? null : new SocketError('connect', so, `to ${formatHostPort(opts.host, opts.port)}`));
          return;
        }
      } catch (e) {
        finish(e as Error);
        return;
      }
      const delay = POLL_BACKOFF_MS[step] ?? POLL_MAX_MS;
      step++;
      cancelPoll = after(clock, delay, check);
    };
    const onAbort = (): void => finish(abortError(opts));
    const cancelDeadline = after(clock, opts.timeoutMs, () => finish(timeoutError(opts)));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (connected) finish(null);
    else check();
  });
}

/** TcpExt counters of TCP MD5 drops in this thread's network namespace. */
export interface Md5Counters {
  /** Segments whose MD5 signature did not verify (wrong key). */
  md5Failure: number;
  /** Segments without a signature from a peer that has a key (peer has no key). */
  md5NotFound: number;
  /** Signed segments from a peer that has no key here. */
  md5Unexpected: number;
}

/** Read all TcpExt counters (/proc/net/netstat) of this thread's network namespace. */
export function readTcpExt(): Record<string, number> {
  // /proc/thread-self follows the calling thread's namespace (setns is per
  // thread); read synchronously so it is this thread and not a libuv worker.
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/net/netstat', 'utf8');
  } catch {
    text = readFileSync('/proc/net/netstat', 'utf8');
  }
  const lines = text.split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (names[0] !== 'TcpExt:' || values[0] !== 'TcpExt:') continue;
    for (let j = 1; j < names.length && j < values.length; j++) {
      if (names[j]) out[names[j]!] = Number(values[j]);
    }
    break;
  }
  return out;
}

/** Read the TCP MD5 drop counters of this namespace (TcpExt TCPMD5Failure, TCPMD5NotFound, TCPMD5Unexpected). */
export async function readMd5Counters(): Promise<Md5Counters> {
  const t = readTcpExt();
  return {
    md5Failure: t['TCPMD5Failure'] ?? 0,
    md5NotFound: t['TCPMD5NotFound'] ?? 0,
    md5Unexpected: t['TCPMD5Unexpected'] ?? 0,
  };
}
