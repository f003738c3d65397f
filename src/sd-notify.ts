/**
 * systemd readiness: `READY=1` once the BGP listener and the control API are
 * up, `STOPPING=1` when a stop begins (sd_notify(3) protocol, Type=notify).
 *
 * The protocol is one datagram on the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a path, or "@name" for the abstract namespace). Node 20 has no unix
 * datagram sockets, so the datagram is sent through libc with koffi, which
 * herald already carries for TCP MD5 and TTL (decisions/0008). Sent from the
 * main process itself, so the unit keeps NotifyAccess=main and no child (an
 * exec check) can speak for herald; `systemd-notify --ready` from a child
 * would need NotifyAccess=all and races its own exit on systemd 252, which
 * then cannot tell which unit the message came from (decision 0027).
 *
 * `takeNotifySocket()` (called before anything starts) keeps NOTIFY_SOCKET
 * and removes it from the environment, as sd_notify's unset_environment
 * does, so exec checks do not inherit it. Without NOTIFY_SOCKET (not under
 * systemd) every notification is a no-op.
 */
import { createRequire } from 'node:module';

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un.sun_path) on Linux. */
const SUN_PATH_LEN = 108;

interface NotifyLibc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, alen: number): number;
  close(fd: number): number;
  errno(): number;
}

let target: string | null | undefined;
let libc: NotifyLibc | undefined;

function loadLibc(): NotifyLibc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    sendto: lib.func('long sendto(int, const void *, unsigned long, int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    errno: () => koffi.errno(),
  };
  return libc;
}

/** Encode $NOTIFY_SOCKET as a struct sockaddr_un; returns the buffer and the length to pass. */
export function notifyAddress(socket: string): { addr: Buffer; len: number } {
  const abstract = socket.startsWith('@');
  if (!abstract && !socket.startsWith('/')) throw new Error(`NOTIFY_SOCKET ${JSON.stringify(socket)} is neither an absolute path nor an abstract name (@...)`);
  const name = Buffer.from(abstract ? socket.slice(1) : socket, 'utf8');
  // Abstract: a leading NUL, then the name, no terminator; a path: NUL-terminated.
  const pathLen = abstract ? 1 + name.length : name.length + 1;
  if (pathLen > SUN_PATH_LEN) throw new Error(`NOTIFY_SOCKET is longer than ${SUN_PATH_LEN - 1} bytes`);
  const addr = Buffer.alloc(2 + SUN_PATH_LEN);
  addr.writeUInt16LE(AF_UNIX, 0); // sa_family_t in host order; Linux on x86_64 and aarch64 is little-endian
  name.copy(addr, abstract ? 3 : 2);
  return { addr, len: 2 + pathLen };
}

/** Keep $NOTIFY_SOCKET for sdNotify and remove it from `env`; returns it (null when unset). */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): string | null {
  if (target === undefined) {
    target = env.NOTIFY_SOCKET || null;
    delete env.NOTIFY_SOCKET;
  }
  return target;
}

/**
 * Send one notification ("READY=1", "STOPPING=1", "STATUS=..."). Returns
 * false when not under systemd; throws with errno when the send fails.
 */
export function sdNotify(state: string): boolean {
  takeNotifySocket();
  if (!target) return false;
  const { addr, len } = notifyAddress(target);
  const c = loadLibc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`sd_notify: socket(AF_UNIX, SOCK_DGRAM) failed: errno ${c.errno()}`);
  try {
    const msg = Buffer.from(state, 'utf8');
    if (c.sendto(fd, msg, msg.length, MSG_NOSIGNAL, addr, len) < 0) throw new Error(`sd_notify: sendto ${target} failed: errno ${c.errno()}`);
  } finally {
    c.close(fd);
  }
  return true;
}
