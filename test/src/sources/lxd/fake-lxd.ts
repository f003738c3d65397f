/**
 * A fake LXD REST API on a unix socket in a temp dir, for the client and
 * source tests. Built only from the documented response shapes (the sync
 * envelope, error envelope, recursion, project / all-projects parameters)
 * and the real LXD 5.0 responses in ../shared/lab/lxd-samples/. It serves
 * what the test puts in `data`, logs every request path, and pushes
 * lifecycle events to connected /1.0/events websockets.
 *
 * `startTls()` serves the same API over HTTPS on loopback as LXD's
 * core.https_address does: the server certificate given, a client
 * certificate requested, and a client whose certificate is not in
 * `trusted` is answered as LXD answers one: `/1.0` with auth "untrusted",
 * everything else 403.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LxdInstance, LxdNetwork, LxdNetworkForward, LxdNetworkLoadBalancer, LxdProject } from '../../../../src/sources/lxd/types.js';

export interface FakeData {
  serverName: string;
  clustered: boolean;
  memberStatus: string;
  apiExtensions: string[];
  projects: LxdProject[];
  instances: LxdInstance[];
  /** Each network with its `project`. */
  networks: LxdNetwork[];
  chassis: Map<string, string>;
  forwards: Map<string, LxdNetworkForward[]>;
  loadBalancers: Map<string, LxdNetworkLoadBalancer[]>;
}

export class FakeLxd {
  readonly dir = mkdtempSync(join(tmpdir(), 'herald-fake-lxd-'));
  readonly socket = join(this.dir, 'unix.socket');
  readonly requests: string[] = [];
  data: FakeData = {
    serverName: 'none',
    clustered: false,
    memberStatus: 'Online',
    apiExtensions: ['network_forward', 'network_load_balancer'],
    projects: [{ name: 'default', config: {} }],
    instances: [],
    networks: [],
    chassis: new Map(),
    forwards: new Map(),
    loadBalancers: new Map(),
  };
  /** Delay every response by this many ms. */
  delayMs = 0;
  /** Delay a response this many ms after it is made (its data as it was when the request arrived); by path and query. */
  respondDelayMs: (pathAndQuery: string) => number = () => 0;
  /** TLS: SHA-256 fingerprints (AA:BB:..) of trusted client certificates. */
  readonly trusted = new Set<string>();
  /** TLS: protocol and client certificate fingerprint of each request, in order. */
  readonly tlsRequests: { protocol: string | null; client: string | null }[] = [];
  private server: Server | null = null;
  private tlsServer: HttpsServer | null = null;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly clients = new Set<WebSocket>();

  /** Listen on the socket. */
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (this.delayMs > 0) setTimeout(() => this.handle(req, res), this.delayMs);
      else this.handle(req, res);
    });
    server.on('upgrade', (req, sock, head) => this.upgrade(req, sock, head));
    await new Promise<void>((resolve) => server.listen(this.socket, resolve));
    this.server = server;
  }

  /** Also serve the API over HTTPS on 127.0.0.1 (as core.https_address); returns the https:// URL. */
  async startTls(opts: { cert: string; key: string; maxVersion?: SecureVersion }): Promise<string> {
    const server = createHttpsServer(
      { cert: opts.cert, key: opts.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}) },
      (req, res) => {
        const sock = req.socket as TLSSocket;
        const peer = sock.getPeerX509Certificate();
        const client = peer ? new X509Certificate(peer.raw).fingerprint256 : null;
        this.tlsRequests.push({ protocol: sock.getProtocol(), client });
        const trusted = client !== null && this.trusted.has(client);
        if (!trusted && new URL(req.url ?? '/', 'https://lxd').pathname !== '/1.0') {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', status: '', status_code: 0, operation: '', error_code: 403, error: 'not authorized', metadata: null }));
          return;
        }
        this.handle(req, res, trusted ? 'trusted' : 'untrusted');
      },
    );
    server.on('upgrade', (req, sock, head) => this.upgrade(req, sock, head));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.tlsServer = server;
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Stop listening (LXD down): closes every connection and the event sockets. */
  async stop(): Promise<void> {
    for (const c of this.clients) c.terminate();
    this.clients.clear();
    for (const s of [this.server, this.tlsServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    this.server = null;
    this.tlsServer = null;
  }

  /** Stop and remove the temp dir. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  get eventClients(): number {
    return this.clients.size;
  }

  /** Push a lifecycle event to every events client. */
  emit(action: string, source: string, project = 'default'): void {
    const e = {
      type: 'lifecycle',
      timestamp: new Date().toISOString(),
      location: this.data.serverName,
      project,
      metadata: { action, source, context: {} },
    };
    for (const c of this.clients) c.send(JSON.stringify(e));
  }

  /** Push an operation event (as LXD sends for every operation state change) to every events client. */
  emitOperation(description: string, status = 'Running'): void {
    const e = { type: 'operation', timestamp: new Date().toISOString(), location: this.data.serverName, project: '', metadata: { id: 'op', class: 'task', description, status, resources: null } };
    for (const c of this.clients) c.send(JSON.stringify(e));
  }

  private upgrade(req: IncomingMessage, sock: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://lxd');
    if (url.pathname !== '/1.0/events' || !(url.searchParams.get('type') ?? '').split(',').includes('lifecycle')) {
      sock.destroy();
      return;
    }
    this.wss.handleUpgrade(req, sock, head, (ws) => {
      this.clients.add(ws);
      ws.on('close', () => this.clients.delete(ws));
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse, auth: 'trusted' | 'untrusted' = 'trusted'): void {
    const url = new URL(req.url ?? '/', 'http://lxd');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const project = url.searchParams.get('project') ?? 'default';
    const d = this.data;
    const later = this.respondDelayMs(`${url.pathname}${url.search}`);
    const ok = (metadata: unknown): void => {
      const body = JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: '', metadata });
      const send = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      };
      if (later > 0) setTimeout(send, later);
      else send();
    };
    const err = (code: number, msg: string): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', status: '', status_code: 0, operation: '', error_code: code, error: msg, metadata: null }));
    };
    if (req.method !== 'GET') return err(405, 'method not allowed');
    const p = url.pathname;
    if (p === '/1.0') {
      return ok({
        api_extensions: d.apiExtensions,
        api_status: 'stable',
        api_version: '1.0',
        auth,
        environment: { server_name: d.serverName, server_clustered: d.clustered, server: 'lxd', server_version: '5.0.2' },
      });
    }
    if (p === '/1.0/projects') return ok(url.searchParams.get('recursion') === '1' ? d.projects : d.projects.map((x) => `/1.0/projects/${x.name}`));
    if (p === '/1.0/instances') {
      const list = url.searchParams.get('all-projects') === 'true' ? d.instances : d.instances.filter((i) => i.project === project);
      return ok(url.searchParams.get('recursion') ? list : list.map((i) => `/1.0/instances/${i.name}`));
    }
    const im = /^\/1\.0\/instances\/([^/]+)$/.exec(p);
    if (im) {
      // GET /1.0/instances/NAME?project=P: the instance as recursion=1 lists it, or 404.
      const name = decodeURIComponent(im[1]!);
      const i = d.instances.find((x) => x.name === name && x.project === project);
      return i ? ok(i) : err(404, 'Instance not found');
    }
    if (p === '/1.0/networks') {
      const list = d.networks.filter((n) => (n.project ?? 'default') === project).map(({ project: _p, ...n }) => n);
      return ok(url.searchParams.get('recursion') === '1' ? list : list.map((n) => `/1.0/networks/${n.name}`));
    }
    const m = /^\/1\.0\/networks\/([^/]+)\/(state|forwards|load-balancers)$/.exec(p);
    if (m) {
      const name = decodeURIComponent(m[1]!);
      const net = d.networks.find((n) => n.name === name && (n.project ?? 'default') === project);
      if (!net) return err(404, 'Network not found');
      const key = `${project}/${name}`;
      if (m[2] === 'state') return ok({ addresses: [], counters: {}, hwaddr: '', mtu: 1500, state: 'up', type: 'broadcast', ovn: d.chassis.has(key) ? { chassis: d.chassis.get(key) } : null });
      if (m[2] === 'forwards') return ok(d.forwards.get(key) ?? []);
      if (net.type !== 'ovn') return err(400, 'Network driver does not support load balancers');
      return ok(d.loadBalancers.get(key) ?? []);
    }
    const cm = /^\/1\.0\/cluster\/members\/([^/]+)$/.exec(p);
    if (cm) {
      if (!d.clustered) return err(400, 'Server is not clustered');
      return ok({ server_name: decodeURIComponent(cm[1]!), status: d.memberStatus, roles: [], url: '', database: false, message: '' });
    }
    return err(404, 'not found');
  }
}
