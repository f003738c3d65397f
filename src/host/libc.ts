/**
 * The process-level libc calls the daemon needs and Node 20 has no API for,
 * through koffi (decision 0008; loaded on first use, Linux only):
 *
 * - the credentials of the process at the other end of a unix socket
 *   connection: `SO_PEERCRED` (struct ucred: pid, uid, gid) and
 *   `SO_PEERGROUPS` (its supplementary groups, Linux ≥ 4.13), for the
 *   control API's `api.operators` (decision 0032);
 * - `prctl(PR_SET_CHILD_SUBREAPER)`, so that what an exec health check
 *   leaves behind when its parent dies is reparented to herald rather than
 *   to init, and `waitpid` to reap exactly such a process (decision 0033);
 * - `malloc_trim`, to give the kernel back what glibc's allocator keeps
 *   after a large hand-off has been freed (decision 0047).
 *
 * The socket options of BGP sessions stay in bgp/driver/sockopts.ts; this
 * module holds what is not BGP's. Errors carry the errno name as `code`.
 *
 *   struct ucred (12 octets, <sys/socket.h>): pid_t pid | uid_t uid | gid_t gid
 */
import { createRequire } from 'node:module';
import { constants as osConstants, endianness } from 'node:os';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SO_PEERGROUPS = 59;
const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;
const WNOHANG = 1;
const ERANGE = 34;

interface Libc {
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  prctl(option: number, ...args: unknown[]): number;
  waitpid(pid: number, status: Buffer | null, options: number): number;
  mallocTrim(pad: number): number;
  errno(): number;
}

let cache: Libc | undefined;

function libc(): Libc {
  if (cache) return cache;
  if (process.platform !== 'linux') throw Object.assign(new Error(`peer credentials and child reaping are implemented for Linux only (this is ${process.platform})`), { code: 'ENOSYS' });
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const prctl = lib.func('int prctl(int option, ...)');
  cache = {
    getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
    // prctl is variadic in glibc: the four unsigned long arguments are passed as such.
    prctl: (option, ...args) => prctl(option, ...args) as number,
    waitpid: lib.func('int waitpid(int, void *, int)'),
    mallocTrim: lib.func('int malloc_trim(size_t)'),
    errno: () => koffi.errno(),
  };
  return cache;
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
const errnoName = (errno: number): string => ERRNO_NAMES.get(errno) ?? `errno ${errno}`;

/** An error from a libc call, with the errno name as `code`. */
function sysError(call: string, errno: number, what: string): Error & { code: string } {
  const code = errnoName(errno);
  return Object.assign(new Error(`${call} ${what}: ${code}`), { code, errno, syscall: call });
}

const LE = endianness() === 'LE';
const u32 = (b: Buffer, off: number): number => (LE ? b.readUInt32LE(off) : b.readUInt32BE(off));
const putU32 = (b: Buffer, v: number): void => {
  if (LE) b.writeUInt32LE(v, 0);
  else b.writeUInt32BE(v, 0);
};

/** Who is at the other end of a unix socket connection. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  /** The primary group. */
  gid: number;
  /** Supplementary groups (empty when the kernel cannot tell). */
  groups: number[];
}

/** Read the credentials of the process that connected to unix socket `fd` (as they were at connect time). */
export function peerCredentials(fd: number): PeerCredentials {
  const c = libc();
  const cred = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  putU32(len, 12);
  if (c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, len) !== 0) throw sysError('getsockopt', c.errno(), 'SO_PEERCRED');
  const out: PeerCredentials = { pid: u32(cred, 0), uid: u32(cred, 4), gid: u32(cred, 8), groups: [] };
  // SO_PEERGROUPS answers ERANGE with the size it needs when the buffer is short.
  let buf = Buffer.alloc(64 * 4);
  for (let tries = 0; tries < 3; tries++) {
    putU32(len, buf.length);
    if (c.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, len) === 0) {
      const n = u32(len, 0) / 4;
      for (let i = 0; i < n; i++) out.groups.push(u32(buf, i * 4));
      return out;
    }
    const e = c.errno();
    if (e !== ERANGE) break; // ENOPROTOOPT on kernels before 4.13: the primary group is all we know
    buf = Buffer.alloc(Math.max(u32(len, 0), buf.length * 2));
  }
  return out;
}

/**
 * Make this process the subreaper of its descendants (prctl
 * PR_SET_CHILD_SUBREAPER, Linux ≥ 3.4): a process whose parent dies is
 * reparented to herald instead of init. Returns false with the reason when
 * the call is refused (a seccomp filter) or not available.
 */
export function becomeSubreaper(): true | string {
  try {
    const c = libc();
    if (c.prctl(PR_SET_CHILD_SUBREAPER, 'unsigned long', 1, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) !== 0) {
      return sysError('prctl', c.errno(), 'PR_SET_CHILD_SUBREAPER').message;
    }
    return true;
  } catch (e) {
    return (e as Error).message;
  }
}

/** True when this process is a child subreaper (prctl PR_GET_CHILD_SUBREAPER). */
export function isSubreaper(): boolean {
  const c = libc();
  const v = Buffer.alloc(4);
  if (c.prctl(PR_GET_CHILD_SUBREAPER, 'void *', v, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) !== 0) return false;
  return u32(v, 0) !== 0;
}

/**
 * Reap child `pid` if it has ended (waitpid WNOHANG): 'reaped', 'running',
 * or 'gone' (not our child, or reaped already: ECHILD). Only ever called
 * for a process herald adopted and killed, never for one libuv spawned,
 * whose exit status belongs to Node's child_process.
 */
export function reapChild(pid: number): 'reaped' | 'running' | 'gone' {
  const c = libc();
  const r = c.waitpid(pid, null, WNOHANG);
  if (r === pid) return 'reaped';
  if (r === 0) return 'running';
  const e = c.errno();
  if (errnoName(e) === 'ECHILD') return 'gone';
  throw sysError('waitpid', e, String(pid));
}

/**
 * Return the free memory glibc's allocator holds to the kernel
 * (`malloc_trim(0)`: every arena, every free page, not only the top of the
 * heap). True when memory was released.
 */
export function trimMalloc(): boolean {
  return libc().mallocTrim(0) === 1;
}
