// Real LXD 5.0 (Debian `lxd` / `lxd-client`) for herald's LXD source tests:
// `LxdDaemon` starts one LXD inside a lab namespace with a private LXD_DIR,
// UTS hostname (so `/1.0` environment.server_name differs per daemon) and
// client config dir, builds a `dir` storage pool (source outside LXD_DIR, as
// LXD requires), a bridge network without NAT or firewall, and busybox
// containers that really start (no images: `lxc init --empty` plus a rootfs
// written straight into the pool), with NIC `ipv4.routes.external` etc.
// It speaks the REST API and the events websocket over the unix socket, can
// listen on HTTPS (core.https_address) and trust a client certificate made
// here with openssl, and cleans up by pid: instances first (`lxc stop -f`), then `lxd shutdown`,
// then any `[lxc monitor]` left behind for this LXD_DIR (those are reparented
// to pid 1, so they are no descendants of the lxd pid the lab holds).
// LXD's own BGP (`core.bgp_address`) is never set: it would bind port 179.
// No RFC: this is test infrastructure.

import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { isRoot, type Lab } from './netns.js';
import { descendants, run, sleep, type LabProcess, type RunOptions, type RunResult } from './process.js';

/** Binaries the LXD lab needs, with the Debian package providing each. */
export const LXD_BINARIES: readonly { path: string; pkg: string }[] = [
  { path: '/usr/bin/lxd', pkg: 'lxd' },
  { path: '/usr/bin/lxc', pkg: 'lxd-client' },
  { path: '/bin/busybox', pkg: 'busybox-static' },
  { path: '/usr/bin/unshare', pkg: 'util-linux' },
  // LXD runs dnsmasq for every managed bridge (only a Recommends of the lxd package).
  { path: '/usr/sbin/dnsmasq', pkg: 'dnsmasq-base' },
  // Client certificates for the HTTPS tests.
  { path: '/usr/bin/openssl', pkg: 'openssl' },
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The daemon, client and environment names of LXD and of its fork Incus (same REST API). */
export interface LxdFlavor {
  name: 'lxd' | 'incus';
  daemon: string;
  client: string;
  dirVar: string;
  confVar: string;
}
export const LXD_FLAVOR: LxdFlavor = { name: 'lxd', daemon: 'lxd', client: 'lxc', dirVar: 'LXD_DIR', confVar: 'LXD_CONF' };
/** Incus from Debian 12 backports (`incus-base`: incusd in /usr/libexec/incus, no VM support, no qemu needed). */
export const INCUS_FLAVOR: LxdFlavor = { name: 'incus', daemon: '/usr/libexec/incus/incusd', client: 'incus', dirVar: 'INCUS_DIR', confVar: 'INCUS_CONF' };

/** Return why real Incus cannot run here, or undefined when it can. */
export function incusMissingReason(): string | undefined {
  const problems: string[] = [];
  if (!isRoot()) problems.push('the Incus lab needs root');
  for (const p of [INCUS_FLAVOR.daemon, '/usr/bin/incus']) if (!executable(p)) problems.push(`${p} missing: apt-get install -t bookworm-backports incus-base (Debian 12 backports)`);
  if (!executable('/bin/busybox')) problems.push('/bin/busybox missing: apt-get install busybox-static');
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** Like lxdReady, for Incus. */
export function incusReady(what: string): boolean {
  const reason = incusMissingReason();
  if (reason === undefined) return true;
  const message = `${what}: cannot run: ${reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing incus is a failure, not a skip)`);
  console.warn(`\n*** SKIPPING ${message} ***\n`);
  return false;
}

/** Binaries the OVN variant needs on top of LXD_BINARIES. */
export const OVN_BINARIES: readonly { path: string; pkg: string }[] = [
  { path: '/usr/sbin/ovsdb-server', pkg: 'openvswitch-switch' },
  { path: '/usr/sbin/ovs-vswitchd', pkg: 'openvswitch-switch' },
  { path: '/usr/bin/ovs-vsctl', pkg: 'openvswitch-switch' },
  { path: '/usr/bin/ovn-northd', pkg: 'ovn-central' },
  { path: '/usr/bin/ovn-controller', pkg: 'ovn-host' },
  { path: '/usr/bin/ovn-nbctl', pkg: 'ovn-central' },
  { path: '/usr/bin/ovsdb-client', pkg: 'openvswitch-common' },
  // TX checksum offload off where TCP meets the userspace datapath (see txChecksumOff).
  { path: '/usr/sbin/ethtool', pkg: 'ethtool' },
];

/** Return why real LXD (and OVN when asked) cannot run here, or undefined when it can. */
export function lxdMissingReason(opts: { ovn?: boolean } = {}): string | undefined {
  const problems: string[] = [];
  if (!isRoot()) problems.push('the LXD lab needs root (network namespaces, cgroup mounts)');
  const absent = [...LXD_BINARIES, ...(opts.ovn === true ? OVN_BINARIES : [])].filter((b) => !executable(b.path));
  if (absent.length > 0) {
    problems.push(`${absent.map((b) => b.path).join(', ')} missing: apt-get install ${[...new Set(absent.map((b) => b.pkg))].join(' ')}`);
  }
  if (executable('/bin/busybox') && !/statically linked|static-pie/.test(fileKind('/bin/busybox'))) {
    problems.push('/bin/busybox is not static (the container rootfs has no libc): apt-get install busybox-static');
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

function fileKind(path: string): string {
  try {
    return execFileSync('file', ['-L', path], { encoding: 'utf8' });
  } catch {
    return 'statically linked'; // no `file` tool: trust the package name
  }
}

/**
 * Check that real LXD can run; outside CI print a loud skip message naming the
 * Debian packages and return false, with CI=true throw (never a silent skip).
 */
export function lxdReady(what = 'LXD interop test', opts: { ovn?: boolean } = {}): boolean {
  const reason = lxdMissingReason(opts);
  if (reason === undefined) return true;
  const message = `${what}: cannot run: ${reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing lxd is a failure, not a skip)`);
  console.warn(`\n*** SKIPPING ${message} ***\n`);
  return false;
}

export interface LxdDaemonOptions {
  /** Namespace to run in (must belong to the lab); default: a new one from `lab.addNamespace(role)`. */
  ns?: string;
  /** Role name for a new namespace; default "lxd". */
  role?: string;
  /** UTS hostname of the daemon, which LXD reports as `environment.server_name`; default the namespace name. */
  hostname?: string;
  /** Extra environment for lxd (e.g. OVS_RUNDIR for OVN). */
  env?: Record<string, string>;
  /** How long to wait for the API; default 60 s. */
  readyTimeoutMs?: number;
  /** OVN/OVS stack in the same namespace: sets OVS_RUNDIR and `network.ovn.northbound_connection`. */
  ovn?: OvnStack;
  /**
   * Set `network.ovn.northbound_connection` at start (default true). A server
   * about to join a cluster leaves it: the key is cluster-wide and comes
   * with the cluster's config.
   */
  setOvnConnection?: boolean;
  /** LXD (default) or Incus. */
  flavor?: LxdFlavor;
}

export interface LxdBridgeOptions {
  /** Gateway address on the bridge, CIDR; default 203.0.113.193/26. "none" disables IPv4. */
  ipv4?: string;
  /** Gateway address on the bridge, CIDR; default 2001:db8:1d::1/64. "none" disables IPv6. */
  ipv6?: string;
  /** Extra `key=value` config. */
  config?: Record<string, string>;
}

export interface LxdContainerOptions {
  /** Network the NIC `eth0` attaches to; omit for a container without NIC. */
  network?: string;
  /** NIC `ipv4.address` (static DHCP lease), e.g. 203.0.113.200. */
  ipv4Address?: string;
  /** NIC `ipv6.address`. */
  ipv6Address?: string;
  /** NIC `ipv4.routes.external`, e.g. ["198.51.100.10/32"]. */
  ipv4RoutesExternal?: string[];
  /** NIC `ipv6.routes.external`. */
  ipv6RoutesExternal?: string[];
  /** More NIC keys (e.g. `ipv4.routes`). */
  nic?: Record<string, string>;
  /** Instance config keys (e.g. `user.herald.routes`); `security.privileged=true` is always set. */
  config?: Record<string, string>;
  /** Project; default "default". */
  project?: string;
  /** Cluster member to create it on (`--target`); must be this daemon's own member name (its rootfs goes into this member's pool). */
  target?: string;
  /** Storage pool; default the pool made by createDirPool(). */
  pool?: string;
  /** Shell lines /sbin/init runs first (e.g. `ip addr add 198.51.100.2/25 dev eth0`); busybox applets only. */
  initCommands?: string[];
}

/** One LXD lifecycle (or other) event as sent on /1.0/events. */
export interface LxdEvent {
  type: string;
  timestamp: string;
  location?: string;
  project?: string;
  metadata: { action?: string; source?: string; context?: Record<string, unknown>; [k: string]: unknown };
  /** Local time (Date.now()) when the event arrived here. */
  receivedAt: number;
}

/** An open /1.0/events websocket collecting every event it receives. */
export interface LxdEventStream {
  readonly events: LxdEvent[];
  /** Resolve with the first event (already received or future) matching pred; throw after timeoutMs. */
  waitFor(pred: (e: LxdEvent) => boolean, timeoutMs?: number): Promise<LxdEvent>;
  close(): Promise<void>;
}

/** Parsed JSON envelope of the LXD REST API. */
export interface LxdResponse<T> {
  type: 'sync' | 'async' | 'error';
  status_code: number;
  error_code: number;
  error: string;
  metadata: T;
  operation?: string;
}

const daemons = new Set<LxdDaemon>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // The lab's own handler kills registered pids (lxd and dnsmasq); container
  // monitors hang off pid 1, so they are found here by their LXD_DIR.
  process.once('exit', () => {
    for (const d of daemons) killPids(d.strayPids(), 'SIGKILL');
  });
}

function killPids(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A real LXD daemon in a lab namespace, with helpers to build what herald's tests need. */
export class LxdDaemon {
  /** Milliseconds from spawn to the API answering `GET /1.0`, for the last (re)start. */
  readyMs = 0;
  private proc: LabProcess | undefined;
  private defaultPool: string | undefined;
  private readonly pools = new Map<string, string>();

  private constructor(
    private readonly lab: Lab,
    /** Namespace the daemon (and its bridges and containers' host ends) live in. */
    readonly ns: string,
    /** LXD_DIR of this daemon (a lab temp dir). */
    readonly dir: string,
    /** Hostname = `environment.server_name` in `/1.0`. */
    readonly hostname: string,
    private readonly env: Record<string, string>,
    private readonly readyTimeoutMs: number,
    /** The OVN stack this daemon uses, if any. */
    readonly ovn: OvnStack | undefined,
    /** LXD or Incus. */
    readonly flavor: LxdFlavor = LXD_FLAVOR,
  ) {}

  /** Create (or use) a namespace, start LXD in it and wait until its API answers. */
  static async start(lab: Lab, opts: LxdDaemonOptions = {}): Promise<LxdDaemon> {
    const ns = opts.ns ?? opts.ovn?.ns ?? (await lab.addNamespace(opts.role ?? 'lxd'));
    const dir = await lab.tempDir('lxd');
    await mkdir(join(dir, 'client'), { recursive: true });
    const hostname = opts.hostname ?? opts.ovn?.hostname ?? ns;
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(hostname)) throw new Error(`LXD hostname "${hostname}" must be [a-z][a-z0-9-]*`);
    if (opts.ovn !== undefined && opts.ovn.ns !== ns) throw new Error(`LXD in ${ns} needs its OVN stack in the same namespace (got ${opts.ovn.ns})`);
    const env = { ...(opts.ovn !== undefined ? { OVS_RUNDIR: opts.ovn.dir } : {}), ...opts.env };
    const d = new LxdDaemon(lab, ns, dir, hostname, env, opts.readyTimeoutMs ?? 60_000, opts.ovn, opts.flavor);
    installExitHandler();
    daemons.add(d);
    await d.startDaemon();
    if (opts.ovn !== undefined && opts.setOvnConnection !== false) await d.lxc(['config', 'set', 'network.ovn.northbound_connection', opts.ovn.nbConnection]);
    return d;
  }

  /** Path of the daemon's unix socket (for herald's LXD client, curl `--unix-socket`, `ws+unix://`). */
  get socketPath(): string {
    return join(this.dir, 'unix.socket');
  }

  /** Pid of the running lxd process (undefined while it is stopped). */
  get pid(): number | undefined {
    return this.proc?.isRunning() === true ? this.proc.pid : undefined;
  }

  /** Environment for the lxc client and lxd subcommands talking to this daemon. */
  clientEnv(): NodeJS.ProcessEnv {
    return { ...process.env, [this.flavor.dirVar]: this.dir, [this.flavor.confVar]: join(this.dir, 'client'), ...this.env };
  }

  /**
   * Start lxd (again) in the namespace and wait for the API. The shell mounts
   * a private cgroup v1 tree over /sys/fs/cgroup first: `ip netns exec` gives
   * a fresh /sys without the cgroup mounts, and liblxc then fails with
   * "Failed to setup cgroup limits". `unshare --uts` gives the daemon its own
   * hostname. Every step execs, so the pid held is lxd's own.
   */
  async startDaemon(): Promise<void> {
    if (this.pid !== undefined) throw new Error(`LXD in ${this.ns} is already running (pid ${this.pid})`);
    const script = [
      'set -e',
      'mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup',
      'for c in cpu cpuacct cpuset memory devices freezer blkio pids; do mkdir -p /sys/fs/cgroup/$c; mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c; done',
      'mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified',
      'mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd',
      'mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified',
      `echo ${this.hostname} > /proc/sys/kernel/hostname`,
      `exec ${this.flavor.daemon} --group root --logfile ${join(this.dir, 'lxd.log')}`,
    ].join('\n');
    const started = Date.now();
    this.proc = this.lab.spawn(this.ns, this.flavor.name, 'unshare', ['--uts', 'sh', '-c', script], {
      logFile: join(this.dir, 'stdout.log'),
      env: this.clientEnv(),
    });
    const proc = this.proc;
    const deadline = started + this.readyTimeoutMs;
    for (;;) {
      if (!proc.isRunning()) throw new Error(`LXD in ${this.ns} exited during start: ${this.logTail()}`);
      const ok = await this.get<{ api_status?: string }>('/1.0').then(
        (r) => r.api_status !== undefined,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`LXD in ${this.ns} not ready after ${this.readyTimeoutMs} ms: ${this.logTail()}`);
      await sleep(50);
    }
    this.readyMs = Date.now() - started;
  }

  /** Return the last lines of lxd's log and stdout (for error messages). */
  logTail(lines = 15): string {
    const read = (f: string): string => {
      try {
        return readFileSync(join(this.dir, f), 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    };
    return `\n--- lxd.log ---\n${read('lxd.log')}\n--- stdout.log ---\n${read('stdout.log')}`;
  }

  /** Run the lxc client against this daemon; throw on failure unless allowFail. */
  lxc(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(this.flavor.client, args, { timeoutMs: 60_000, ...opts, env: { ...this.clientEnv(), ...opts.env } });
  }

  /** Call the REST API over the unix socket and return the parsed envelope (any status). */
  request<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<LxdResponse<T>> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: { host: 'lxd', ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LxdResponse<T>);
            } catch (err) {
              reject(new Error(`LXD ${method} ${path}: HTTP ${res.statusCode ?? '?'} with a body that is not JSON: ${String(err)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`LXD ${method} ${path}: timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Listen on HTTPS at `address` (host:port, a documentation address in this
   * daemon's namespace): `lxc config set core.https_address`. Return the URL
   * and the server certificate to pin (LXD_DIR/server.crt, the one
   * `/1.0` → environment.certificate shows).
   */
  async enableHttps(address: string): Promise<{ url: string; serverCert: string }> {
    await this.lxc(['config', 'set', 'core.https_address', address]);
    const serverCert = readFileSync(join(this.dir, 'server.crt'), 'utf8');
    const env = (await this.get<{ environment?: { certificate?: string; addresses?: string[] } }>('/1.0')).environment;
    if (env?.certificate?.trim() !== serverCert.trim()) throw new Error(`LXD in ${this.ns}: server.crt is not the certificate /1.0 reports`);
    return { url: `https://${address}`, serverCert };
  }

  /** Trust a PEM client certificate (file path): `lxc config trust add FILE`. */
  async trustCertificate(certPath: string): Promise<void> {
    await this.lxc(['config', 'trust', 'add', certPath]);
  }

  /** GET a path and return its metadata; throw on an LXD error. */
  async get<T = unknown>(path: string): Promise<T> {
    const r = await this.request<T>('GET', path);
    if (r.type === 'error') throw new Error(`LXD GET ${path}: ${r.error_code} ${r.error}`);
    return r.metadata;
  }

  /** Create a `dir` storage pool whose source is a lab temp dir outside LXD_DIR (LXD refuses one inside). */
  async createDirPool(name = 'default'): Promise<string> {
    const source = await this.lab.tempDir('lxdpool');
    await this.lxc(['storage', 'create', name, 'dir', `source=${source}`]);
    this.pools.set(name, source);
    this.defaultPool ??= name;
    return source;
  }

  /** Note a pool's source on this member (a cluster pool made with per-member `source`), for createContainer(). */
  registerPool(name: string, source: string): void {
    this.pools.set(name, source);
    this.defaultPool ??= name;
  }

  /**
   * Create a bridge network without NAT and without firewall rules (there is no
   * iptables/nft here): `lxc network create NAME ipv4.address=... ipv4.nat=false ...`.
   */
  async createBridge(name = 'br1', opts: LxdBridgeOptions = {}): Promise<void> {
    const ipv4 = opts.ipv4 ?? '203.0.113.193/26';
    const ipv6 = opts.ipv6 ?? '2001:db8:1d::1/64';
    const config: Record<string, string> = {
      'ipv4.address': ipv4,
      'ipv6.address': ipv6,
      ...(ipv4 !== 'none' ? { 'ipv4.nat': 'false', 'ipv4.firewall': 'false' } : {}),
      ...(ipv6 !== 'none' ? { 'ipv6.nat': 'false', 'ipv6.firewall': 'false' } : {}),
      ...opts.config,
    };
    await this.lxc(['network', 'create', name, ...Object.entries(config).map(([k, v]) => `${k}=${v}`)]);
  }

  /**
   * Create a `physical` uplink network for OVN on interface `parent` (in this
   * namespace), e.g. gateway 203.0.113.1/24, OVN router range
   * 203.0.113.10-203.0.113.20, routes 198.51.100.0/24.
   */
  async createUplink(name: string, parent: string, opts: { ipv4Gateway: string; ipv4OvnRanges: string; ipv4Routes?: string; config?: Record<string, string> }): Promise<void> {
    const config: Record<string, string> = {
      parent,
      'ipv4.gateway': opts.ipv4Gateway,
      'ipv4.ovn.ranges': opts.ipv4OvnRanges,
      ...(opts.ipv4Routes !== undefined ? { 'ipv4.routes': opts.ipv4Routes } : {}),
      'dns.nameservers': opts.ipv4Gateway.split('/')[0] ?? '',
      ...opts.config,
    };
    await this.lxc(['network', 'create', name, '--type=physical', ...Object.entries(config).map(([k, v]) => `${k}=${v}`)]);
  }

  /**
   * Create an OVN network on an uplink (`config` e.g. ipv4.address=198.51.100.1/25,
   * ipv4.nat=false, ipv6.address=none), then switch the uplink's OVS bridges
   * (`lxdovnN`) to the userspace datapath: this kernel has no openvswitch module.
   * Return the network's `volatile.network.ipv4.address` (the OVN router on the uplink).
   */
  async createOvnNetwork(name: string, uplink: string, config: Record<string, string>): Promise<string | undefined> {
    const ovn = this.ovn;
    if (ovn === undefined) throw new Error('createOvnNetwork: start LxdDaemon with { ovn: await OvnStack.start(...) }');
    await this.lxc(['network', 'create', name, '--type=ovn', `network=${uplink}`, ...Object.entries(config).map(([k, v]) => `${k}=${v}`)]);
    await ovn.useNetdevDatapath();
    const net = await this.get<{ config: Record<string, string> }>(`/1.0/networks/${encodeURIComponent(name)}`);
    return net.config['volatile.network.ipv4.address'];
  }

  /**
   * Create a startable container: `lxc init --empty`, a busybox-static rootfs
   * written into the pool (`/sbin/init` sleeps and exits on SIGPWR, so a
   * graceful `lxc stop` takes ~1 s), `security.privileged=true`, and NIC eth0.
   */
  async createContainer(name: string, opts: LxdContainerOptions = {}): Promise<void> {
    const pool = opts.pool ?? this.defaultPool;
    if (pool === undefined) throw new Error('createContainer: call createDirPool() first');
    const source = this.pools.get(pool);
    if (source === undefined) throw new Error(`createContainer: pool ${pool} was not made by createDirPool()`);
    const project = opts.project ?? 'default';
    const config = { 'security.privileged': 'true', ...opts.config };
    await this.lxc([
      'init',
      '--empty',
      name,
      '--project',
      project,
      '--storage',
      pool,
      ...(opts.target !== undefined ? ['--target', opts.target] : []),
      ...Object.entries(config).flatMap(([k, v]) => ['--config', `${k}=${v}`]),
    ]);
    // The dir driver keeps non-default projects' volumes as "<project>_<name>".
    const volume = project === 'default' ? name : `${project}_${name}`;
    await writeBusyboxRootfs(join(source, 'containers', volume, 'rootfs'), opts.initCommands);
    if (opts.network !== undefined) {
      const nic: Record<string, string> = {
        network: opts.network,
        ...(opts.ipv4Address !== undefined ? { 'ipv4.address': opts.ipv4Address } : {}),
        ...(opts.ipv6Address !== undefined ? { 'ipv6.address': opts.ipv6Address } : {}),
        ...(opts.ipv4RoutesExternal !== undefined ? { 'ipv4.routes.external': opts.ipv4RoutesExternal.join(',') } : {}),
        ...(opts.ipv6RoutesExternal !== undefined ? { 'ipv6.routes.external': opts.ipv6RoutesExternal.join(',') } : {}),
        ...opts.nic,
      };
      await this.lxc([
        'config',
        'device',
        'add',
        name,
        'eth0',
        'nic',
        '--project',
        project,
        ...Object.entries(nic).map(([k, v]) => `${k}=${v}`),
      ]);
    }
  }

  /**
   * Turn TX checksum offload off on a running container's NIC (ethtool in
   * its network namespace, by the init pid from the API). OVS's userspace
   * datapath reads veths through AF_PACKET and forwards a locally sent TCP
   * segment with its checksum still partial (left to the NIC that never
   * comes), so the far end drops it; ping works either way (ICMP is summed in
   * software).
   */
  async txChecksumOff(name: string, dev = 'eth0', project = 'default'): Promise<void> {
    const st = await this.get<{ pid: number }>(`/1.0/instances/${encodeURIComponent(name)}/state?project=${encodeURIComponent(project)}`);
    if (!(st.pid > 0)) throw new Error(`instance ${name} has no init pid (not running?)`);
    await run('nsenter', ['-t', String(st.pid), '-n', 'ethtool', '-K', dev, 'tx', 'off']);
  }

  /** Start an instance (`lxc start`). */
  async startInstance(name: string, project = 'default'): Promise<void> {
    await this.lxc(['start', name, '--project', project]);
  }

  /** Stop an instance: force (SIGKILL, ~0.3 s) by default, or graceful (SIGPWR to init, ~1 s). */
  async stopInstance(name: string, opts: { project?: string; force?: boolean } = {}): Promise<void> {
    await this.lxc(['stop', name, '--project', opts.project ?? 'default', ...(opts.force === false ? [] : ['--force'])]);
  }

  /** Return `status` (Running, Stopped, ...) of an instance from the API. */
  async instanceStatus(name: string, project = 'default'): Promise<string> {
    const r = await this.get<{ status: string }>(`/1.0/instances/${encodeURIComponent(name)}?project=${encodeURIComponent(project)}`);
    return r.status;
  }

  /** Open /1.0/events over the unix socket (types: lifecycle, logging, operation) and collect events. */
  async openEvents(types: readonly string[] = ['lifecycle'], project?: string): Promise<LxdEventStream> {
    const query = `type=${types.join(',')}${project !== undefined ? `&project=${encodeURIComponent(project)}` : '&all-projects=true'}`;
    const ws = new WebSocket(`ws+unix://${this.socketPath}:/1.0/events?${query}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const events: LxdEvent[] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (data: WebSocket.RawData) => {
      const e = JSON.parse(String(data)) as Omit<LxdEvent, 'receivedAt'>;
      events.push({ ...e, receivedAt: Date.now() });
      for (const w of [...waiters]) w();
    });
    return {
      events,
      waitFor(pred, timeoutMs = 10_000) {
        const found = events.find(pred);
        if (found !== undefined) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
          const check = (): void => {
            const e = events.find(pred);
            if (e === undefined) return;
            waiters.delete(check);
            clearTimeout(timer);
            resolve(e);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`no matching LXD event within ${timeoutMs} ms; got: ${events.map((x) => x.metadata.action ?? x.type).join(', ')}`));
          }, timeoutMs);
          waiters.add(check);
        });
      },
      close() {
        if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
        return new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.terminate();
        });
      },
    };
  }

  /** Force-stop every running instance in every project. */
  async stopAllInstances(): Promise<void> {
    const list = await this.get<{ name: string; project: string; status: string }[]>('/1.0/instances?recursion=1&all-projects=true');
    await Promise.all(
      list
        .filter((i) => i.status !== 'Stopped')
        .map((i) => this.lxc(['stop', i.name, '--project', i.project, '--force'], { allowFail: true })),
    );
  }

  /**
   * Take the daemon down while leaving instances running, as a crash would:
   * signal lxd by pid together with its own children (dnsmasq); the container
   * monitors hang off pid 1 and survive. (`lxd shutdown` would stop the
   * instances.) Bring it back with startDaemon().
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || !proc.isRunning()) return;
    killPids([...descendants(proc.pid), proc.pid], signal);
    await proc.exited;
  }

  /** Pids left for this LXD_DIR outside the lxd process tree: `[lxc monitor]`s, their payloads, `lxd forkstart`s. */
  strayPids(): number[] {
    const own = new Set<number>([process.pid]);
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (own.has(pid)) continue;
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (cmd.includes(`${this.dir}/containers`) || (cmd.includes(this.dir) && /\blxd\b|incusd|lxc monitor/.test(cmd))) {
        for (const p of [pid, ...descendants(pid)]) if (!out.includes(p)) out.push(p);
      }
    }
    return out.filter(alive);
  }

  /**
   * Stop everything: force-stop instances (unless `instances: false`: a
   * cluster member, whose instances the cluster stopped member by member),
   * `lxd shutdown`, wait for the pid to exit (SIGTERM/SIGKILL if it does
   * not), then kill strays by pid.
   */
  async stop(opts: { instances?: boolean } = {}): Promise<void> {
    const proc = this.proc;
    if (proc !== undefined && proc.isRunning()) {
      if (opts.instances !== false) await this.stopAllInstances().catch(() => undefined);
      await run(this.flavor.daemon, ['shutdown', '--timeout', '20'], { env: this.clientEnv(), allowFail: true, timeoutMs: 30_000 });
      const timer = sleep(5_000).then(() => 'timeout' as const);
      if ((await Promise.race([proc.exited, timer])) === 'timeout') await proc.stop();
    }
    const strays = this.strayPids();
    if (strays.length > 0) {
      killPids(strays, 'SIGKILL');
      await sleep(100);
    }
    daemons.delete(this);
  }
}

/** A throwaway self-signed certificate (P-384, 2 days) made with openssl: file paths and PEM text. */
export interface TestCertificate {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/** Make a self-signed client or server certificate in dir with openssl. */
export function makeCertificate(dir: string, name: string): TestCertificate {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-days', '2', '-subj', `/O=herald test/CN=${name}`, '-keyout', keyPath, '-out', certPath],
    { stdio: 'ignore' },
  );
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

const CLONE_NEWNET = 0x40000000;
let setnsFn: ((fd: number, nstype: number) => number) | undefined;

/**
 * Run fn with the calling thread inside lab namespace ns (setns(2) through
 * koffi, as test/support/netns-enter.ts does), so the sockets fn opens
 * (herald's LXD client over HTTPS, say) live there; the thread returns to
 * its own namespace afterwards, also on error. Sockets opened inside stay in
 * ns: close them (stop the client or source) inside fn. Nothing else may
 * open sockets meanwhile (the tests await fn).
 */
export async function inNamespace<T>(ns: string, fn: () => Promise<T>): Promise<T> {
  if (setnsFn === undefined) {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    setnsFn = koffi.load('libc.so.6').func('int setns(int, int)') as (fd: number, nstype: number) => number;
  }
  const setns = setnsFn;
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const target = openSync(`/var/run/netns/${ns}`, 'r');
  const entered = setns(target, CLONE_NEWNET) === 0;
  closeSync(target);
  if (!entered) {
    closeSync(home);
    throw new Error(`setns into ${ns} failed`);
  }
  const back = (): void => {
    const ok = setns(home, CLONE_NEWNET) === 0;
    closeSync(home);
    if (!ok) throw new Error(`setns back from ${ns} failed: this thread is still in the lab namespace`);
  };
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    back();
    throw e;
  }
  back();
  return result;
}

/** Write a minimal busybox-static rootfs whose /sbin/init idles until SIGPWR/SIGTERM. */
export async function writeBusyboxRootfs(rootfs: string, initCommands: readonly string[] = []): Promise<void> {
  for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'root', 'var']) {
    await mkdir(join(rootfs, d), { recursive: true });
  }
  await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'ip', 'ping', 'cat', 'ls', 'ps', 'kill', 'wget', 'nc', 'ifconfig', 'hostname']) {
    await symlink('busybox', join(rootfs, 'bin', applet));
  }
  // `sleep & wait` lets the trap run at once; a plain foreground sleep would defer it.
  const init = ['#!/bin/sh', 'trap "exit 0" PWR TERM INT', ...initCommands, 'while :; do sleep 3600 & wait $!; done', ''].join('\n');
  await writeFile(join(rootfs, 'sbin', 'init'), init, { mode: 0o755 });
  await writeFile(join(rootfs, 'etc', 'hostname'), 'c\n');
}

export interface OvnStackOptions {
  /** Namespace to run in; default a new one. */
  ns?: string;
  role?: string;
  /** Chassis hostname; default the namespace name. */
  hostname?: string;
  /** Use this central NB/SB/northd instead of running them here (a chassis of a cluster). */
  central?: OvnCentral;
  /** Geneve endpoint: the underlay interface (in ns, without address) and the endpoint address (CIDR) put on br-phy. Default 127.0.0.1, no tunnels. */
  encap?: { ifname: string; cidr: string };
}

/**
 * OVN's central part alone: the NB and SB databases and ovn-northd, in the
 * foreground in a lab namespace. The chassis (OvnStack with `central`) reach
 * it over its unix sockets, which work across network namespaces.
 */
export class OvnCentral {
  private constructor(
    private readonly lab: Lab,
    readonly ns: string,
    readonly dir: string,
  ) {}

  static async start(lab: Lab, opts: { ns?: string; role?: string } = {}): Promise<OvnCentral> {
    const ns = opts.ns ?? (await lab.addNamespace(opts.role ?? 'ovnc'));
    const c = new OvnCentral(lab, ns, await lab.tempDir('ovn-central'));
    const p = (f: string): string => join(c.dir, f);
    await run('ovsdb-tool', ['create', p('ovnnb_db.db'), '/usr/share/ovn/ovn-nb.ovsschema']);
    await run('ovsdb-tool', ['create', p('ovnsb_db.db'), '/usr/share/ovn/ovn-sb.ovsschema']);
    const env = c.env();
    const procs = [
      lab.spawn(ns, 'ovnnb', 'ovsdb-server', [p('ovnnb_db.db'), `--remote=punix:${p('ovnnb_db.sock')}`, `--log-file=${p('ovnnb.log')}`, `--unixctl=${p('ovnnb.ctl')}`], { logFile: p('ovnnb.stdout'), env }),
      lab.spawn(ns, 'ovnsb', 'ovsdb-server', [p('ovnsb_db.db'), `--remote=punix:${p('ovnsb_db.sock')}`, `--log-file=${p('ovnsb.log')}`, `--unixctl=${p('ovnsb.ctl')}`], { logFile: p('ovnsb.stdout'), env }),
    ];
    await waitForOrThrow(
      async () => {
        const dead = procs.find((x) => !x.isRunning());
        if (dead !== undefined) throw new Error(`OVN central: ${dead.name} exited at start; see ${c.dir}`);
        return existsSync(p('ovnnb_db.sock')) && existsSync(p('ovnsb_db.sock')) ? true : undefined;
      },
      15_000,
      () => `OVN central databases in ${c.dir} did not open their sockets`,
    );
    lab.spawn(
      ns,
      'ovn-northd',
      'ovn-northd',
      [`--ovnnb-db=${c.nbConnection}`, `--ovnsb-db=${c.sbConnection}`, `--log-file=${p('ovn-northd.log')}`, `--unixctl=${p('ovn-northd.ctl')}`],
      { logFile: p('ovn-northd.stdout'), env },
    );
    return c;
  }

  get nbConnection(): string {
    return `unix:${join(this.dir, 'ovnnb_db.sock')}`;
  }

  get sbConnection(): string {
    return `unix:${join(this.dir, 'ovnsb_db.sock')}`;
  }

  /** Path of the SB database's unix socket (for herald's `ovn_sb`). */
  get sbSocket(): string {
    return join(this.dir, 'ovnsb_db.sock');
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return { ...process.env, OVN_RUNDIR: d, OVN_DBDIR: d, OVN_LOGDIR: d, OVS_RUNDIR: d };
  }

  nbctl(args: readonly string[]): Promise<RunResult> {
    return run('ovn-nbctl', [`--db=${this.nbConnection}`, ...args], { env: this.env() });
  }

  sbctl(args: readonly string[]): Promise<RunResult> {
    return run('ovn-sbctl', [`--db=${this.sbConnection}`, ...args], { env: this.env() });
  }
}

/** OVS (userspace datapath) and OVN (NB/SB databases, northd, controller) in one lab namespace, all in the foreground. */
export class OvnStack {
  private constructor(
    private readonly lab: Lab,
    /** Namespace shared with the LXD daemon that uses this stack. */
    readonly ns: string,
    /** OVS_RUNDIR / OVN_RUNDIR: databases, sockets, logs. */
    readonly dir: string,
    /** Chassis hostname (what `/1.0/networks/NAME/state` reports as ovn.chassis). */
    readonly hostname: string,
    /** NB/SB/northd elsewhere (a cluster member's chassis); undefined: this stack runs its own. */
    readonly central?: OvnCentral,
  ) {}

  /**
   * Start ovsdb-server (OVS, NB, SB), ovs-vswitchd, ovn-northd and
   * ovn-controller inside ns (a new lab namespace when omitted). Nothing is
   * started with --detach: a daemonised process reparented to pid 1 is never
   * reaped here, so each runs as a child of node and the lab stops it by pid.
   */
  static async start(lab: Lab, opts: OvnStackOptions = {}): Promise<OvnStack> {
    const ns = opts.ns ?? (await lab.addNamespace(opts.role ?? 'lxd'));
    const dir = await lab.tempDir('ovn');
    const stack = new OvnStack(lab, ns, dir, opts.hostname ?? ns, opts.central);
    await stack.boot(opts.encap);
    return stack;
  }

  /** NB database address for LXD's `network.ovn.northbound_connection` (the central one's when this is a chassis only). */
  get nbConnection(): string {
    return this.central?.nbConnection ?? `unix:${join(this.dir, 'ovnnb_db.sock')}`;
  }

  /** SB database address (ovn-controller's `ovn-remote`). */
  get sbConnection(): string {
    return this.central?.sbConnection ?? `unix:${join(this.dir, 'ovnsb_db.sock')}`;
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return { ...process.env, OVS_RUNDIR: d, OVS_DBDIR: d, OVS_LOGDIR: d, OVN_RUNDIR: d, OVN_DBDIR: d, OVN_LOGDIR: d };
  }

  private async boot(encap: OvnStackOptions['encap']): Promise<void> {
    const d = this.dir;
    const p = (f: string): string => join(d, f);
    const env = this.env();
    const own = this.central === undefined;
    await run('ovsdb-tool', ['create', p('conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    if (own) {
      await run('ovsdb-tool', ['create', p('ovnnb_db.db'), '/usr/share/ovn/ovn-nb.ovsschema']);
      await run('ovsdb-tool', ['create', p('ovnsb_db.db'), '/usr/share/ovn/ovn-sb.ovsschema']);
    }
    const procs: LabProcess[] = [];
    // ovn-controller 23.03 has no --unixctl option: it puts its control socket in OVN_RUNDIR.
    const spawn = (name: string, cmd: string, args: string[], unixctl = true): void => {
      const extra = [`--log-file=${p(`${name}.log`)}`, `--pidfile=${p(`${name}.pid`)}`, ...(unixctl ? [`--unixctl=${p(`${name}.ctl`)}`] : [])];
      procs.push(this.lab.spawn(this.ns, name, cmd, [...args, ...extra], { logFile: p(`${name}.stdout`), env }));
    };
    const check = (): void => {
      const dead = procs.find((x) => !x.isRunning());
      if (dead !== undefined) throw new Error(`OVN: ${dead.name} exited at start; see ${p(`${dead.name}.stdout`)}`);
    };
    spawn('ovsdb-server', 'ovsdb-server', [p('conf.db'), `--remote=punix:${p('db.sock')}`]);
    if (own) {
      spawn('ovnnb', 'ovsdb-server', [p('ovnnb_db.db'), `--remote=punix:${p('ovnnb_db.sock')}`]);
      spawn('ovnsb', 'ovsdb-server', [p('ovnsb_db.db'), `--remote=punix:${p('ovnsb_db.sock')}`]);
    }
    const sockets = own ? ['db.sock', 'ovnnb_db.sock', 'ovnsb_db.sock'] : ['db.sock'];
    await waitForOrThrow(
      async () => {
        check();
        return sockets.every((f) => existsSync(p(f))) ? true : undefined;
      },
      15_000,
      () => `OVS/OVN databases in ${d} did not open their sockets`,
    );
    await this.vsctl(['--no-wait', 'init']);
    spawn('ovs-vswitchd', 'ovs-vswitchd', [`unix:${p('db.sock')}`]);
    if (own) spawn('ovn-northd', 'ovn-northd', [`--ovnnb-db=unix:${p('ovnnb_db.sock')}`, `--ovnsb-db=unix:${p('ovnsb_db.sock')}`]);
    let encapIp = '127.0.0.1';
    if (encap !== undefined) {
      // Geneve between chassis on the userspace datapath: the tunnel
      // endpoint address must sit on an OVS bridge of the same (netdev)
      // datapath, here br-phy with the namespace's underlay veth as its
      // port; ovs-vswitchd routes and ARPs for tunnel packets itself.
      await this.vsctl(['add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', '--', 'add-port', 'br-phy', encap.ifname]);
      await this.lab.ip(this.ns, ['addr', 'add', encap.cidr, 'dev', 'br-phy']);
      await this.lab.ip(this.ns, ['link', 'set', 'dev', 'br-phy', 'up']);
      encapIp = encap.cidr.split('/')[0]!;
    }
    await this.vsctl([
      '--no-wait',
      'set',
      'open_vswitch',
      '.',
      `external_ids:system-id=${this.hostname}`,
      `external_ids:hostname=${this.hostname}`,
      `external_ids:ovn-remote=${this.sbConnection}`,
      'external_ids:ovn-encap-type=geneve',
      `external_ids:ovn-encap-ip=${encapIp}`,
      'external_ids:ovn-bridge-datapath-type=netdev',
    ]);
    spawn('ovn-controller', 'ovn-controller', [`unix:${p('db.sock')}`], false);
    // Ready once ovn-controller has registered this chassis in the southbound database.
    const sb = `--db=${this.sbConnection}`;
    await waitForOrThrow(
      async () => {
        check();
        const r = await run('ovn-sbctl', [sb, '--bare', '--columns=name', 'find', 'Chassis', `hostname=${this.hostname}`], { env, allowFail: true });
        return r.stdout.trim() !== '' ? true : undefined;
      },
      15_000,
      () => `OVN chassis ${this.hostname} never registered (logs in ${d})`,
    );
  }

  /** Run ovs-vsctl against this stack's OVS database. */
  vsctl(args: readonly string[]): Promise<RunResult> {
    return run('ovs-vsctl', [`--db=unix:${join(this.dir, 'db.sock')}`, ...args], { env: this.env() });
  }

  /** Run ovn-nbctl against this stack's NB database. */
  nbctl(args: readonly string[]): Promise<RunResult> {
    return run('ovn-nbctl', [`--db=${this.nbConnection}`, ...args], { env: this.env() });
  }

  /** Run ovn-sbctl against this stack's SB database. */
  sbctl(args: readonly string[]): Promise<RunResult> {
    return run('ovn-sbctl', [`--db=${this.sbConnection}`, ...args], { env: this.env() });
  }

  /** Run ovs-appctl against one of this stack's daemons (ovs-vswitchd, ovn-controller, ...). */
  appctl(target: 'ovs-vswitchd' | 'ovn-controller', args: readonly string[]): Promise<RunResult> {
    const ctl = target === 'ovn-controller' ? this.controllerCtl() : join(this.dir, `${target}.ctl`);
    return run(target === 'ovn-controller' ? 'ovn-appctl' : 'ovs-appctl', ['-t', ctl, ...args], { env: this.env(), allowFail: true });
  }

  private controllerCtl(): string {
    const pid = readFileSync(join(this.dir, 'ovn-controller.pid'), 'utf8').trim();
    return join(this.dir, `ovn-controller.${pid}.ctl`);
  }

  /** Switch every OVS bridge LXD made for an uplink (lxdovnN) to the userspace datapath. */
  async useNetdevDatapath(): Promise<void> {
    const bridges = (await this.vsctl(['list-br'])).stdout.split('\n').filter((b) => b.startsWith('lxdovn'));
    for (const br of bridges) await this.vsctl(['set', 'bridge', br, 'datapath_type=netdev']);
  }
}

// Like the lab's waitFor, but an exception from fn (a daemon that died) ends the wait at once.
async function waitForOrThrow(fn: () => Promise<true | undefined>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fn()) === undefined) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(50);
  }
}
