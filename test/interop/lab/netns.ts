// Network namespaces for the interop lab. A `Lab` owns a uniquely named set of
// namespaces for one test run (`hr<pid base36><counter>`), builds veth links
// and a bridge topology inside them with documentation addresses only
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), and deletes
// exactly the namespaces it created and kills exactly the pids it started —
// on close(), and from exit / SIGINT / SIGTERM handlers if a test crashes.
// No RFC: this is test infrastructure.

import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, nsRun, spawnInNs, killAllRegisteredSync, deleteNsSync, type RunOptions, type RunResult, type LabProcess, type SpawnOptions } from './process.js';

const ownedNamespaces = new Set<string>();
const ownedDirs = new Set<string>();
let counter = 0;
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupSync = (): void => {
    killAllRegisteredSync();
    for (const ns of ownedNamespaces) deleteNsSync(ns);
    ownedNamespaces.clear();
    if (process.env.HERALD_LAB_KEEP !== '1') for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
    ownedDirs.clear();
  };
  process.once('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanupSync();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Make a namespace name unique to this process and run: `hr<pid base36><counter base36>`. */
export function uniqueNsName(): string {
  counter += 1;
  return `hr${process.pid.toString(36)}${counter.toString(36)}`;
}

/** Tell whether the current process runs as root (the lab needs it). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export interface Ns {
  /** Namespace name as `ip netns` knows it. */
  readonly name: string;
  /** Short role given by the test ("upstream", "herald", ...), for messages. */
  readonly role: string;
}

export interface LinkEnd {
  ns: string;
  ifname: string;
  /** Addresses in CIDR form, e.g. "192.0.2.1/24" and "2001:db8::1/64" (IPv6 gets `nodad`). */
  addresses?: string[];
}

/** One test run's namespaces, links, temp dirs and daemons; close() undoes all of it. */
export class Lab {
  readonly namespaces: Ns[] = [];
  private readonly dirs: string[] = [];
  private readonly processes: LabProcess[] = [];
  private closed = false;

  /** Create a namespace with `lo` up and return its name. */
  async addNamespace(role: string): Promise<string> {
    installExitHandlers();
    const name = uniqueNsName();
    await run('ip', ['netns', 'add', name]);
    ownedNamespaces.add(name);
    this.namespaces.push({ name, role });
    await this.ip(name, ['link', 'set', 'dev', 'lo', 'up']);
    return name;
  }

  /** Run `ip -n NS args...`. */
  ip(ns: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['-n', ns, ...args], opts);
  }

  /** Run a command inside a namespace. */
  exec(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return nsRun(ns, cmd, args, opts);
  }

  /** Create a veth pair whose ends are born inside their namespaces, address them and bring them up. */
  async veth(a: LinkEnd, b: LinkEnd): Promise<void> {
    checkIfname(a.ifname);
    checkIfname(b.ifname);
    await run('ip', ['link', 'add', a.ifname, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
    for (const end of [a, b]) {
      for (const addr of end.addresses ?? []) await this.addAddress(end.ns, end.ifname, addr);
      await this.ip(end.ns, ['link', 'set', 'dev', end.ifname, 'up']);
    }
  }

  /** Add an address (CIDR) to an interface; IPv6 addresses get `nodad` so they are usable at once. */
  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    checkDocAddress(cidr);
    const extra = cidr.includes(':') ? ['nodad'] : [];
    await this.ip(ns, ['addr', 'add', cidr, 'dev', ifname, ...extra]);
  }

  /** Set a sysctl inside a namespace (e.g. net.ipv4.ip_forward=1). */
  async sysctl(ns: string, key: string, value: string | number): Promise<void> {
    await nsRun(ns, 'sysctl', ['-qw', `${key}=${value}`]);
  }

  /** Turn on IPv4/IPv6 forwarding and L4-hash multipath in a namespace (for an ECMP upstream). */
  async enableForwarding(ns: string): Promise<void> {
    await this.sysctl(ns, 'net.ipv4.ip_forward', 1);
    await this.sysctl(ns, 'net.ipv6.conf.all.forwarding', 1);
    await this.sysctl(ns, 'net.ipv4.fib_multipath_hash_policy', 1);
    await this.sysctl(ns, 'net.ipv6.fib_multipath_hash_policy', 1);
  }

  /** Make a private temp directory that close() removes (kept when HERALD_LAB_KEEP=1). */
  async tempDir(tag: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `herald-lab-${tag}-`));
    this.dirs.push(dir);
    ownedDirs.add(dir);
    return dir;
  }

  /** Start a daemon inside a namespace and track it so close() stops it. */
  spawn(ns: string, name: string, cmd: string, args: readonly string[], opts: SpawnOptions): LabProcess {
    const p = spawnInNs(ns, name, cmd, args, opts);
    this.processes.push(p);
    return p;
  }

  /** Stop every daemon this lab started, delete its namespaces and temp dirs. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.processes.map((p) => p.stop()));
    for (const ns of this.namespaces) {
      await run('ip', ['netns', 'delete', ns.name], { allowFail: true });
      ownedNamespaces.delete(ns.name);
    }
    if (process.env.HERALD_LAB_KEEP !== '1') {
      for (const dir of this.dirs) await rm(dir, { recursive: true, force: true });
    }
    for (const dir of this.dirs) ownedDirs.delete(dir);
  }
}

export interface Spoke {
  ns: string;
  /** Interface inside the spoke namespace. */
  ifname: string;
  v4: string;
  v6: string;
}

export interface BridgeTopology {
  /** The namespace holding the bridge (where an upstream router runs). */
  router: string;
  bridge: string;
  routerV4: string;
  routerV6: string;
  prefixV4: number;
  prefixV6: number;
  spokes: Spoke[];
}

export interface BridgeOptions {
  /** First three octets of the /24; default "192.0.2". */
  v4Net?: '192.0.2' | '198.51.100' | '203.0.113';
  /** IPv6 /64 prefix without the trailing "::"; default "2001:db8:0:1". */
  v6Net?: string;
  /** Role names for the spokes (default spoke1..N). */
  roles?: string[];
}

/**
 * Build one router namespace with bridge br0 at .1 / ::1 and n spoke
 * namespaces, each with eth0 at .(10+i) / ::(10+i) (i from 1) on the bridge.
 */
export async function bridgeTopology(lab: Lab, n: number, opts: BridgeOptions = {}): Promise<BridgeTopology> {
  const v4Net = opts.v4Net ?? '192.0.2';
  const v6Net = opts.v6Net ?? '2001:db8:0:1';
  const router = await lab.addNamespace('router');
  await lab.ip(router, ['link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
  const routerV4 = `${v4Net}.1`;
  const routerV6 = `${v6Net}::1`;
  await lab.addAddress(router, 'br0', `${routerV4}/24`);
  await lab.addAddress(router, 'br0', `${routerV6}/64`);
  await lab.ip(router, ['link', 'set', 'dev', 'br0', 'up']);
  const spokes: Spoke[] = [];
  for (let i = 1; i <= n; i++) {
    const ns = await lab.addNamespace(opts.roles?.[i - 1] ?? `spoke${i}`);
    const v4 = `${v4Net}.${10 + i}`;
    const v6 = `${v6Net}::${(10 + i).toString(16)}`;
    await lab.veth({ ns, ifname: 'eth0', addresses: [`${v4}/24`, `${v6}/64`] }, { ns: router, ifname: `sp${i}` });
    await lab.ip(router, ['link', 'set', 'dev', `sp${i}`, 'master', 'br0']);
    spokes.push({ ns, ifname: 'eth0', v4, v6 });
  }
  return { router, bridge: 'br0', routerV4, routerV6, prefixV4: 24, prefixV6: 64, spokes };
}

export interface PointToPoint {
  a: string;
  b: string;
  aV4: string;
  bV4: string;
  aV6: string;
  bV6: string;
}

/**
 * Join two namespaces with a veth pair: eth-side names `ifA`/`ifB` (default
 * "eth0"), addresses <v4Net>.<4k+1>/30 and .<4k+2>/30, <v6Net>::1/64 and ::2/64.
 */
export async function pointToPoint(
  lab: Lab,
  a: string,
  b: string,
  opts: { index?: number; ifA?: string; ifB?: string; v4Net?: '192.0.2' | '198.51.100' | '203.0.113'; v6Net?: string } = {},
): Promise<PointToPoint> {
  const k = opts.index ?? 0;
  if (k < 0 || k > 63) throw new Error(`pointToPoint index ${k} outside 0..63`);
  const v4Net = opts.v4Net ?? '192.0.2';
  const v6Net = opts.v6Net ?? `2001:db8:0:${(0x100 + k).toString(16)}`;
  const aV4 = `${v4Net}.${4 * k + 1}`;
  const bV4 = `${v4Net}.${4 * k + 2}`;
  const aV6 = `${v6Net}::1`;
  const bV6 = `${v6Net}::2`;
  await lab.veth(
    { ns: a, ifname: opts.ifA ?? 'eth0', addresses: [`${aV4}/30`, `${aV6}/64`] },
    { ns: b, ifname: opts.ifB ?? 'eth0', addresses: [`${bV4}/30`, `${bV6}/64`] },
  );
  return { a, b, aV4, bV4, aV6, bV6 };
}

// `ip link` parses some words as keywords ("vf", "up", ...) even as names;
// we always pass `dev NAME`, but keep names short and plain anyway.
function checkIfname(name: string): void {
  if (!/^[a-z][a-z0-9]{0,14}$/.test(name)) throw new Error(`interface name "${name}" must be 1-15 chars [a-z0-9]`);
}

const DOC_V4 = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./];

/** Throw unless an address (CIDR or bare) is in the documentation ranges. */
export function checkDocAddress(addr: string): void {
  const ip = addr.split('/')[0] ?? '';
  if (ip.includes(':')) {
    if (!/^2001:0?db8:/i.test(ip)) throw new Error(`${addr} is not in 2001:db8::/32`);
    return;
  }
  if (!DOC_V4.some((re) => re.test(ip))) throw new Error(`${addr} is not a documentation address`);
}
