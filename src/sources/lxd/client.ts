/**
 * LXD / Incus REST client: the only code of the LXD source that talks to
 * the LXD daemon's API: pipelined HTTP/1.1 GETs over the unix socket
 * (http1.ts), or node:https with a client certificate and a pinned server
 * certificate, TLS 1.3 only, on a keep-alive agent.
 *
 * `readView()` performs one complete read of everything the derivation
 * needs (see types.ts for the endpoints). Instances are read with
 * recursion=1, which already carries status, location and the expanded
 * devices and config; recursion=2 would make LXD collect every instance's
 * live state (processes, network counters), which herald does not read and
 * which is slow with thousands of instances.
 *
 * The instance listing (`instanceListing`, ~25 MB at 10,000 instances) is
 * read into a buffer the client reuses from read to read and kept as bytes
 * (listing.ts): no string of the body, no parse of the whole, so a resync
 * that finds the instances as they were allocates next to nothing
 * (decision 0043). Every other response is small and parsed as a whole.
 *
 * A read fails as a whole (LxdApiError) rather than returning a partial
 * view, so a transient error never withdraws routes: the source keeps its
 * last snapshot.
 */
import { existsSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import type { ClientOptions } from 'ws';
import type { LxdRules } from './derive.js';
import { Http1Unix, type BodySink } from './http1.js';
import { Listing, ListingSyntaxError } from './listing.js';
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
  /** Connections a batch of GETs is pipelined over (unix socket), or requests in flight at once (HTTPS); default 8. */
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

/** The per-project and per-network paths readView reads. */
const PATHS = {
  networks: (project: string): string => `/1.0/networks?recursion=1&project=${enc(project)}`,
  state: (project: string, name: string): string => `/1.0/networks/${enc(name)}/state?project=${enc(project)}`,
  forwards: (project: string, name: string): string => `/1.0/networks/${enc(name)}/forwards?recursion=1&project=${enc(project)}`,
  loadBalancers: (project: string, name: string): string => `/1.0/networks/${enc(name)}/load-balancers?recursion=1&project=${enc(project)}`,
};

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

/** The first size of a listing's read buffer; it grows (doubling) to the largest body read. */
const FIRST_BUFFER = 1 << 20;

export class LxdClient {
  /** The unix socket's pipelined GETs (null: HTTPS). */
  private readonly h1: Http1Unix | null;
  /**
   * HTTPS (null: unix socket): our own keep-alive agent, so close() can end
   * its connections; host and port of every request; the path prefix of
   * the endpoint's URL ("" normally).
   */
  private readonly tls: { agent: HttpsAgent; target: RequestOptions; base: string } | null;
  private readonly timeout: number;
  private readonly concurrency: number;
  /** SHA-256 fingerprint of the pinned server certificate (HTTPS only). */
  private readonly pinned: string | null;
  /** A read buffer a listing no longer uses (`recycle`), taken by the next listing read. */
  private spare: Buffer | null = null;

  constructor(
    readonly endpoint: LxdEndpoint,
    opts: LxdClientOptions = {},
  ) {
    this.concurrency = opts.concurrency ?? 8;
    this.timeout = opts.timeoutMs ?? 10_000;
    if (endpoint.kind === 'unix') {
      this.pinned = null;
      this.tls = null;
      this.h1 = new Http1Unix(endpoint.socket, this.timeout, this.concurrency);
    } else {
      this.pinned = certFingerprint(endpoint.serverCert);
      const u = new URL(endpoint.url);
      const agent = new HttpsAgent({ ...lxdTlsOptions(endpoint), keepAlive: true });
      this.tls = { agent, target: { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 443 : Number(u.port), agent }, base: u.pathname.replace(/\/+$/, '') };
      this.h1 = null;
    }
  }

  /** Close the kept-alive connections (the client stays usable: a later request connects again). */
  close(): void {
    this.tls?.agent.destroy();
    this.h1?.close();
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

  /**
   * GET a path over HTTPS; each piece of the body goes to `chunk`. Resolves
   * with the HTTP status once the body is complete; a transport error, a
   * timeout (no byte for `timeoutMs`) or a body cut short rejects with
   * LxdApiError.
   */
  private fetchTls(tls: NonNullable<LxdClient['tls']>, path: string, chunk: (c: Buffer) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      const fail = (e: unknown): void => reject(new LxdApiError(`LXD ${this.describe()} ${path}: ${describeTransportError(e, this.pinned)}`, path, null));
      const opts: RequestOptions = { ...tls.target, method: 'GET', path: tls.base + path };
      const onResponse = (res: IncomingMessage): void => {
        res.on('data', chunk);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('the response ended before its body was complete'));
        });
      };
      const req = httpsRequest(opts, onResponse);
      req.setTimeout(this.timeout, () => req.destroy(Object.assign(new Error(`timeout of ${this.timeout}ms exceeded`), { code: 'ETIMEDOUT' })));
      req.on('error', fail);
      req.end();
    });
  }

  /** The envelope's verdict: the metadata's owner, or an LxdApiError naming LXD's error (or the HTTP status). */
  private check(path: string, status: number, body: { type?: unknown; error?: unknown } | null): void {
    if (status !== 200 || body === null || typeof body !== 'object' || body.type === 'error') {
      const msg = body !== null && typeof body === 'object' && typeof body.error === 'string' && body.error ? body.error : `HTTP ${status}`;
      throw new LxdApiError(`LXD ${path}: ${msg}`, path, status);
    }
  }

  /**
   * GET every path, each body to its sink; resolves with the statuses in
   * order. Unix socket: pipelined over up to `concurrency` connections;
   * HTTPS: up to `concurrency` requests at a time. Throws LxdApiError
   * (naming the first path) on a transport failure.
   */
  private async fetchAll(paths: readonly string[], sinks: readonly BodySink[]): Promise<number[]> {
    const tls = this.tls;
    if (tls !== null) return this.pool(paths.map((p, i) => () => this.fetchTls(tls, p, (c) => sinks[i]!(c, 0, c.length))));
    try {
      return await this.h1!.getAll(paths, sinks);
    } catch (e) {
      const more = paths.length > 1 ? ` (and ${paths.length - 1} more)` : '';
      throw new LxdApiError(`LXD ${this.describe()} ${paths[0]}${more}: ${describeTransportError(e, null)}`, paths[0]!, null);
    }
  }

  /** GET a path and return the response's metadata; throws LxdApiError. */
  async get<T>(path: string): Promise<T> {
    return (await this.getAll<T>([path]))[0]!;
  }

  /** GET every path and return each response's metadata, in order; throws LxdApiError (the first failing path's). */
  async getAll<T>(paths: readonly string[]): Promise<T[]> {
    const bodies = paths.map(() => [] as Buffer[]);
    // The views are valid only during the call: copied.
    const statuses = await this.fetchAll(
      paths,
      bodies.map((chunks) => (b: Buffer, s: number, e: number) => void chunks.push(Buffer.from(b.subarray(s, e)))),
    );
    return paths.map((path, i) => {
      const status = statuses[i]!;
      let body: LxdResponse<T> | null = null;
      try {
        const chunks = bodies[i]!;
        body = JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')) as LxdResponse<T>;
      } catch {
        // Not JSON: reported by its HTTP status (or as not JSON when that is 200).
        if (status === 200) throw new LxdApiError(`LXD ${path}: the response is not JSON`, path, status);
      }
      this.check(path, status, body);
      return body!.metadata;
    });
  }

  /**
   * GET /1.0/instances?recursion=1&all-projects=true as a Listing: the body
   * read into the client's reused buffer and scanned, each instance parsed
   * only when asked (listing.ts); scanned against `last` (the listing
   * before, still intact) where their bytes agree. Valid until handed back
   * with `recycle`.
   */
  async instanceListing(last: Listing | null = null): Promise<Listing> {
    const path = '/1.0/instances?recursion=1&all-projects=true';
    let buf = this.spare ?? Buffer.allocUnsafeSlow(FIRST_BUFFER);
    this.spare = null;
    let len = 0;
    const append = (c: Buffer, s: number, e: number): void => {
      const n = e - s;
      if (len + n > buf.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, len + n));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      c.copy(buf, len, s, e);
      len += n;
    };
    const status = await this.fetchAll([path], [append]).then(
      (s) => s[0]!,
      (e: unknown) => {
        this.spare = buf;
        throw e;
      },
    );
    let listing: Listing;
    try {
      listing = Listing.scan(buf.subarray(0, len), last);
    } catch (e) {
      this.spare = buf;
      if (status === 200 && e instanceof ListingSyntaxError) throw new LxdApiError(`LXD ${path}: the response is not JSON: ${e.message}`, path, status);
      throw new LxdApiError(`LXD ${path}: HTTP ${status}`, path, status);
    }
    try {
      this.check(path, status, listing.envelope);
    } catch (e) {
      this.spare = buf;
      throw e;
    }
    return listing;
  }

  /** Hand a listing's buffer back for the next listing read (the listing must not be used after). */
  recycle(l: Listing): void {
    const ab = l.bytes.buffer;
    if (this.spare === null || this.spare.length < ab.byteLength - l.bytes.byteOffset) this.spare = Buffer.from(ab, l.bytes.byteOffset, ab.byteLength - l.bytes.byteOffset);
  }

  /** GET /1.0. */
  server(): Promise<LxdServer & { api_extensions?: string[] }> {
    return this.get('/1.0');
  }

  /** GET /1.0/projects?recursion=1. */
  projects(): Promise<LxdProject[]> {
    return this.get('/1.0/projects?recursion=1');
  }

  /** GET /1.0/instances?recursion=1&all-projects=true, every instance parsed (the source reads `instanceListing`). */
  async instances(): Promise<LxdInstance[]> {
    const l = await this.instanceListing();
    const all = l.all() as LxdInstance[];
    this.recycle(l);
    return all;
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
    return this.get(PATHS.networks(project));
  }

  /** GET /1.0/networks/NAME/state. */
  networkState(project: string, name: string): Promise<LxdNetworkState> {
    return this.get(PATHS.state(project, name));
  }

  /** GET /1.0/networks/NAME/forwards?recursion=1. */
  forwards(project: string, name: string): Promise<LxdNetworkForward[]> {
    return this.get(PATHS.forwards(project, name));
  }

  /** GET /1.0/networks/NAME/load-balancers?recursion=1. */
  loadBalancers(project: string, name: string): Promise<LxdNetworkLoadBalancer[]> {
    return this.get(PATHS.loadBalancers(project, name));
  }

  /** GET /1.0/cluster/members/NAME. */
  clusterMember(name: string): Promise<LxdClusterMember> {
    return this.get(`/1.0/cluster/members/${enc(name)}`);
  }

  /**
   * Read everything the derivation needs, in one consistent-enough pass;
   * throws LxdApiError. With `listing`, the instances stay a Listing
   * (`view.listing`, `view.instances` empty; scanned against `last`) for
   * the caller to compare and `recycle`.
   */
  async readView(rules: Pick<LxdRules, 'announceFrom' | 'forwards' | 'loadBalancers'>, opts: { listing?: boolean; last?: Listing | null } = {}): Promise<LxdView> {
    const server = await this.server();
    if (server.auth === 'untrusted') {
      const which = this.endpoint.kind === 'https' ? ` (SHA-256 ${certFingerprint(this.endpoint.cert)})` : '';
      throw new LxdApiError(`LXD ${this.describe()} does not trust herald's client certificate${which}: add it with 'lxc config trust add'`, '/1.0', 200);
    }
    const env = server.environment ?? {};
    const serverName = env.server_name ?? 'none';
    const clustered = env.server_clustered === true;
    const ext = new Set(server.api_extensions ?? []);
    const [projects, listing, memberStatus] = await Promise.all([
      this.projects(),
      this.instanceListing(opts.last ?? null),
      clustered ? this.clusterMember(serverName).then((m) => m.status) : Promise.resolve(null),
    ]);
    try {
      return await this.readNetworks(rules, ext, { serverName, clustered, memberStatus, projects, listing }, opts.listing === true);
    } catch (e) {
      this.recycle(listing);
      throw e;
    }
  }

  /** The rest of readView: networks, then their states, forwards and load balancers. */
  private async readNetworks(
    rules: Pick<LxdRules, 'announceFrom' | 'forwards' | 'loadBalancers'>,
    ext: ReadonlySet<string>,
    r: { serverName: string; clustered: boolean; memberStatus: string | null; projects: LxdProject[]; listing: Listing },
    keepListing: boolean,
  ): Promise<LxdView> {
    const { serverName, clustered, memberStatus, projects, listing } = r;
    const netProjects = ['default', ...projects.filter((p) => p.name !== 'default' && p.config?.['features.networks'] === 'true').map((p) => p.name)];
    // Each batch pipelined on the unix socket (http1.ts): ~450 GETs at 200 networks.
    const lists = await this.getAll<LxdNetwork[]>(netProjects.map((p) => PATHS.networks(p)));
    const networks = lists.flatMap((ns, i) => (ns ?? []).map((n) => ({ ...n, project: netProjects[i]! })));
    const states = new Map<string, LxdNetworkState>();
    const forwards = new Map<string, LxdNetworkForward[]>();
    const loadBalancers = new Map<string, LxdNetworkLoadBalancer[]>();
    const paths: string[] = [];
    const put: ((v: unknown) => void)[] = [];
    const wantForwards = rules.forwards && (ext.size === 0 || ext.has('network_forward'));
    const wantLbs = rules.loadBalancers && (ext.size === 0 || ext.has('network_load_balancer'));
    for (const n of networks) {
      if (!n.managed) continue;
      const p = n.project!;
      const key = `${p}/${n.name}`;
      if (n.type === 'ovn') {
        if (rules.announceFrom === 'active-chassis') {
          paths.push(PATHS.state(p, n.name));
          put.push((v) => void states.set(key, v as LxdNetworkState));
        }
        if (wantLbs) {
          paths.push(PATHS.loadBalancers(p, n.name));
          put.push((v) => void loadBalancers.set(key, (v as LxdNetworkLoadBalancer[] | null) ?? []));
        }
      }
      if (wantForwards && (n.type === 'ovn' || n.type === 'bridge')) {
        paths.push(PATHS.forwards(p, n.name));
        put.push((v) => void forwards.set(key, (v as LxdNetworkForward[] | null) ?? []));
      }
    }
    if (paths.length > 0) (await this.getAll<unknown>(paths)).forEach((v, i) => put[i]!(v));
    const base = { serverName, clustered, memberStatus, projects, networks, states, forwards, loadBalancers };
    if (keepListing) return { ...base, instances: [], listing };
    const instances = listing.all() as LxdInstance[];
    this.recycle(listing);
    return { ...base, instances };
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
