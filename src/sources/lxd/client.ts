/**
 * LXD / Incus REST client: the only code of the LXD source that talks to
 * the LXD daemon's API (axios over the unix socket, or HTTPS with a client
 * certificate and a pinned server certificate, TLS 1.3 only).
 *
 * `readView()` performs one complete read of everything the derivation
 * needs (see types.ts for the endpoints). Instances are read with
 * recursion=1, which already carries status, location and the expanded
 * devices and config; recursion=2 would make LXD collect every instance's
 * live state (processes, network counters), which herald does not read and
 * which is slow with thousands of instances.
 *
 * A read fails as a whole (LxdApiError) rather than returning a partial
 * view, so a transient error never withdraws routes: the source keeps its
 * last snapshot.
 */
import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import axios, { type AxiosInstance } from 'axios';
import type { ClientOptions } from 'ws';
import type { LxdRules } from './derive.js';
import type {
  LxdClusterMember,
  LxdInstance,
  LxdNetwork,
  LxdNetworkForward,
  LxdNetworkLoadBalancer,
  LxdNetworkState,
  LxdProject,
  LxdResponse,
  LxdServer,
  LxdView,
} from './types.js';

/** Default API socket paths, probed in this order: snap LXD, Debian LXD, Incus. */
export const DEFAULT_SOCKETS = ['/var/snap/lxd/common/lxd/unix.socket', '/var/lib/lxd/unix.socket', '/var/lib/incus/unix.socket'] as const;

export type LxdEndpoint =
  | { kind: 'unix'; socket: string }
  | {
      kind: 'https';
      /** e.g. "https://192.0.2.5:8443" */
      url: string;
      /** PEM client certificate and key (trusted by LXD: `lxc config trust add`). */
      cert: string;
      key: string;
      /** PEM server certificate; the connection is accepted only if the server presents exactly it. */
      serverCert: string;
    };

export interface LxdClientOptions {
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Concurrent per-network requests during a read; default 8. */
  concurrency?: number;
}

/** An LXD API request that failed: transport error, HTTP error or an LXD error response. */
export class LxdApiError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'LxdApiError';
  }
}

/** Return the first existing default socket, or null. */
export function findSocket(candidates: readonly string[] = DEFAULT_SOCKETS): string | null {
  for (const c of candidates) if (existsSync(c)) return c;
  return null;
}

/** SHA-256 fingerprint of a PEM certificate, formatted as Node prints it (AA:BB:...). */
export function certFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

const enc = encodeURIComponent;

/** TLS verification failures that, with only the pinned certificate trusted, mean "not the pinned certificate". */
const NOT_PINNED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** TLS options of an HTTPS endpoint: client certificate, only the pinned server certificate trusted, TLS 1.3 only. Shared by HTTPS and the events websocket. */
export function lxdTlsOptions(endpoint: Extract<LxdEndpoint, { kind: 'https' }>) {
  const fingerprint = certFingerprint(endpoint.serverCert);
  return {
    cert: endpoint.cert,
    key: endpoint.key,
    ca: [endpoint.serverCert],
    minVersion: 'TLSv1.3' as const,
    rejectUnauthorized: true,
    // The pin replaces hostname checks: LXD's certificates rarely name the host.
    // Only reached when the chain verified against the pinned certificate
    // alone; this also refuses a certificate the pinned one merely signed.
    checkServerIdentity: (_host: string, peer: PeerCertificate): Error | undefined =>
      peer.fingerprint256 === fingerprint
        ? undefined
        : new Error(`the server's certificate (SHA-256 ${peer.fingerprint256}) is not the pinned server certificate (SHA-256 ${fingerprint})`),
  };
}

/** Say what a failed HTTPS request means, for the operator: a pin mismatch, no TLS 1.3, or the transport error as is. */
function describeTransportError(e: unknown, pinned: string | null): string {
  const err = e as { message?: string; code?: string; cause?: { code?: string } };
  const code = err.code ?? err.cause?.code ?? '';
  const msg = err.message ?? String(e);
  if (pinned !== null && NOT_PINNED_CODES.has(code)) {
    return `the server's certificate is not the pinned server certificate (SHA-256 ${pinned}): TLS verification failed: ${msg} (${code})`;
  }
  // OpenSSL's own words, e.g. "tlsv1 alert protocol version", without its file and line.
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(msg)?.[1];
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|WRONG_VERSION_NUMBER/.test(code) || /protocol version|unsupported protocol|no protocols available/.test(ssl ?? '')) {
    return `TLS 1.3 could not be negotiated (herald requires it): ${ssl ?? msg} (${code})`;
  }
  if (ssl !== undefined) return `${ssl} (${code})`;
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

export class LxdClient {
  private readonly http: AxiosInstance;
  /** Our own keep-alive agent, so close() can end its connections. */
  private readonly agent: HttpAgent;
  private readonly concurrency: number;
  /** SHA-256 fingerprint of the pinned server certificate (HTTPS only). */
  private readonly pinned: string | null;

  constructor(
    readonly endpoint: LxdEndpoint,
    opts: LxdClientOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 8;
    const timeout = opts.timeoutMs ?? 10_000;
    if (endpoint.kind === 'unix') {
      this.pinned = null;
      this.agent = new HttpAgent({ keepAlive: true });
      this.http = axios.create({ baseURL: 'http://lxd', socketPath: endpoint.socket, httpAgent: this.agent, timeout, proxy: false });
    } else {
      this.pinned = certFingerprint(endpoint.serverCert);
      this.agent = new HttpsAgent({ ...lxdTlsOptions(endpoint), keepAlive: true });
      this.http = axios.create({ baseURL: endpoint.url.replace(/\/+$/, ''), httpsAgent: this.agent, timeout, proxy: false });
    }
  }

  /** Close the kept-alive connections (the client stays usable: a later request connects again). */
  close(): void {
    this.agent.destroy();
  }

  /** Describe the endpoint for logs. */
  describe(): string {
    return this.endpoint.kind === 'unix' ? `unix:${this.endpoint.socket}` : this.endpoint.url;
  }

  /** The events websocket's URL and options (lifecycle and operation events of all projects; see isMemberEvacuation). */
  eventsTarget(): { url: string; options: ClientOptions } {
    const path = '/1.0/events?type=lifecycle,operation&all-projects=true';
    if (this.endpoint.kind === 'unix') return { url: `ws+unix://${this.endpoint.socket}:${path}`, options: {} };
    const base = this.endpoint.url.replace(/^https:/, 'wss:').replace(/\/+$/, '');
    // ws hands these to tls.connect, so Node's checkServerIdentity signature applies.
    return { url: `${base}${path}`, options: lxdTlsOptions(this.endpoint) as unknown as ClientOptions };
  }

  /** GET a path and return the response's metadata; throws LxdApiError. */
  async get<T>(path: string): Promise<T> {
    let res;
    try {
      res = await this.http.get<LxdResponse<T>>(path, { validateStatus: () => true, responseType: 'json' });
    } catch (e) {
      throw new LxdApiError(`LXD ${this.describe()} ${path}: ${describeTransportError(e, this.pinned)}`, path, null);
    }
    const body = res.data as LxdResponse<T> | undefined;
    if (res.status !== 200 || !body || typeof body !== 'object' || body.type === 'error') {
      const msg = body && typeof body === 'object' && body.error ? body.error : `HTTP ${res.status}`;
      throw new LxdApiError(`LXD ${path}: ${msg}`, path, res.status);
    }
    return body.metadata;
  }

  /** GET /1.0. */
  server(): Promise<LxdServer & { api_extensions?: string[] }> {
    return this.get('/1.0');
  }

  /** GET /1.0/projects?recursion=1. */
  projects(): Promise<LxdProject[]> {
    return this.get('/1.0/projects?recursion=1');
  }

  /** GET /1.0/instances?recursion=1&all-projects=true. */
  instances(): Promise<LxdInstance[]> {
    return this.get('/1.0/instances?recursion=1&all-projects=true');
  }

  /** GET /1.0/instances/NAME?project=P: the instance, or null when LXD has none by that name (404). */
  async instance(project: string, name: string): Promise<LxdInstance | null> {
    try {
      const i = await this.get<LxdInstance>(`/1.0/instances/${enc(name)}?project=${enc(project)}`);
      return i && typeof i === 'object' ? { ...i, project: i.project || project } : null;
    } catch (e) {
      if (e instanceof LxdApiError && e.status === 404) return null;
      throw e;
    }
  }

  /** GET /1.0/networks?recursion=1 of one project. */
  networks(project: string): Promise<LxdNetwork[]> {
    return this.get(`/1.0/networks?recursion=1&project=${enc(project)}`);
  }

  /** GET /1.0/networks/NAME/state. */
  networkState(project: string, name: string): Promise<LxdNetworkState> {
    return this.get(`/1.0/networks/${enc(name)}/state?project=${enc(project)}`);
  }

  /** GET /1.0/networks/NAME/forwards?recursion=1. */
  forwards(project: string, name: string): Promise<LxdNetworkForward[]> {
    return this.get(`/1.0/networks/${enc(name)}/forwards?recursion=1&project=${enc(project)}`);
  }

  /** GET /1.0/networks/NAME/load-balancers?recursion=1. */
  loadBalancers(project: string, name: string): Promise<LxdNetworkLoadBalancer[]> {
    return this.get(`/1.0/networks/${enc(name)}/load-balancers?recursion=1&project=${enc(project)}`);
  }

  /** GET /1.0/cluster/members/NAME. */
  clusterMember(name: string): Promise<LxdClusterMember> {
    return this.get(`/1.0/cluster/members/${enc(name)}`);
  }

  /** Read everything the derivation needs, in one consistent-enough pass; throws LxdApiError. */
  async readView(rules: Pick<LxdRules, 'announceFrom' | 'forwards' | 'loadBalancers'>): Promise<LxdView> {
    const server = await this.server();
    if (server.auth === 'untrusted') {
      const which = this.endpoint.kind === 'https' ? ` (SHA-256 ${certFingerprint(this.endpoint.cert)})` : '';
      throw new LxdApiError(`LXD ${this.describe()} does not trust herald's client certificate${which}: add it with 'lxc config trust add'`, '/1.0', 200);
    }
    const env = server.environment ?? {};
    const serverName = env.server_name ?? 'none';
    const clustered = env.server_clustered === true;
    const ext = new Set(server.api_extensions ?? []);
    const [projects, instances, memberStatus] = await Promise.all([
      this.projects(),
      this.instances(),
      clustered ? this.clusterMember(serverName).then((m) => m.status) : Promise.resolve(null),
    ]);
    const netProjects = ['default', ...projects.filter((p) => p.name !== 'default' && p.config?.['features.networks'] === 'true').map((p) => p.name)];
    const lists = await this.pool(netProjects.map((p) => () => this.networks(p).then((ns) => ns.map((n) => ({ ...n, project: p })))));
    const networks = lists.flat();
    const states = new Map<string, LxdNetworkState>();
    const forwards = new Map<string, LxdNetworkForward[]>();
    const loadBalancers = new Map<string, LxdNetworkLoadBalancer[]>();
    const jobs: (() => Promise<void>)[] = [];
    const wantForwards = rules.forwards && (ext.size === 0 || ext.has('network_forward'));
    const wantLbs = rules.loadBalancers && (ext.size === 0 || ext.has('network_load_balancer'));
    for (const n of networks) {
      if (!n.managed) continue;
      const p = n.project!;
      const key = `${p}/${n.name}`;
      if (n.type === 'ovn') {
        if (rules.announceFrom === 'active-chassis') jobs.push(async () => void states.set(key, await this.networkState(p, n.name)));
        if (wantLbs) jobs.push(async () => void loadBalancers.set(key, (await this.loadBalancers(p, n.name)) ?? []));
      }
      if (wantForwards && (n.type === 'ovn' || n.type === 'bridge')) jobs.push(async () => void forwards.set(key, (await this.forwards(p, n.name)) ?? []));
    }
    await this.pool(jobs);
    return { serverName, clustered, memberStatus, projects, instances: instances ?? [], networks, states, forwards, loadBalancers };
  }

  /** Run tasks with at most `concurrency` in flight; rejects on the first failure. */
  private async pool<T>(tasks: (() => Promise<T>)[]): Promise<T[]> {
    const out = new Array<T>(tasks.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, tasks.length) }, worker));
    return out;
  }
}
