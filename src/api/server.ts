/**
 * The control API: HTTP/JSON on a unix socket, serving the one state model
 * (src/state/) to the `routes` CLI and to scripts.
 *
 *   GET  /v1/summary                          counts: sessions, routes, services
 *   GET  /v1/peers                            every peer's snapshot
 *   GET  /v1/routes?peer=&service=&family=    announced routes, streamed as a JSON array, one route per line
 *   GET  /v1/received/:peer[?prefix=]         received routes, streamed the same way
 *   GET  /v1/services                         services with their last check results
 *   GET  /v1/explain/:prefix                  why a prefix is (not) announced
 *   GET  /v1/lxd                              the LXD source: reachability, counts, every derived and skipped route
 *   GET  /v1/events                           server-sent events of peer/service/reload/drain/lxd changes
 *   POST /v1/drain   {services:[..]|all:true, wait?}   kept across restarts (state_dir)
 *   POST /v1/undrain {services?:[..]}
 *   POST /v1/reload
 *   POST /v1/restart                          planned restart: stop keeping routes at routers, exit 75
 *
 * Only the unix socket changes state: its file mode (api.mode, default 0660)
 * and group (api.group) are the access control. `handler({readOnly: true})` is what a TCP listener
 * may reuse (it refuses every POST). Errors are `{"error":{"code","message"}}`
 * with a matching HTTP status. Shapes are documented in docs/api.md.
 * No RFC: herald's own protocol (HTTP/1.1 per RFC 9112, SSE per the HTML
 * living standard's EventSource).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { every, realClock, type Clock } from '../../bgp/index.js';
import {
  explain,
  readPrefix,
  jsonReplacer,
  lxd,
  peers,
  received,
  routes,
  services,
  summary,
  type Family,
  type StateEvent,
  type StateSource,
} from '../state/index.js';

/** What the API needs of the daemon besides the state model (src/daemon.ts Daemon fits). */
export interface ApiDaemon extends StateSource {
  /** Resolve true once every Established peer has taken everything handed so far (false after the timeout). */
  waitFlushed(timeoutMs: number): Promise<boolean>;
  /** With `persist`, the drain is kept across restarts (state_dir); `drainSaved` then says where, or why not. */
  drain(names?: string[], opts?: { persist?: boolean }): Promise<void>;
  readonly drainSaved?: { file: string; error: string | null } | null;
  undrain(names?: string[]): void;
  reload(): Promise<{ ok: true } | { ok: false; errors: string[] }>;
  /** Planned restart (Graceful Restart): stop without withdrawing and exit for the service manager to restart. */
  plannedRestart(reason: string): void;
  onEvent(fn: (e: StateEvent) => void): () => void;
  /** The clock of the event stream's keepalive (default the real clock). */
  readonly clock?: Clock;
}

export interface HandlerOptions {
  /** Refuse every state change (for a TCP listener). */
  readOnly?: boolean;
  /** Give up waiting for `drain --wait` to flush after this long (ms); default 60 s beyond the drain period. */
  flushTimeoutMs?: number;
}

/** An HTTP error with a stable code for scripts. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const execFileAsync = promisify(execFile);

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Build the request handler for a daemon. */
export function apiHandler(d: ApiDaemon, opts: HandlerOptions = {}): Handler {
  return (req, res) => {
    route(d, opts, req, res).catch((e: unknown) => sendError(res, e));
  };
}

async function route(d: ApiDaemon, opts: HandlerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://herald');
  const p = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const get = (): void => {
    if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'method-not-allowed', `${p} takes GET`);
  };
  const post = (): void => {
    if (method !== 'POST') throw new ApiError(405, 'method-not-allowed', `${p} takes POST`);
    if (opts.readOnly) throw new ApiError(403, 'read-only', 'this listener is read-only; change state through the unix socket');
  };
  if (p === '/v1/summary') return get(), sendJson(res, 200, summary(d));
  if (p === '/v1/peers') return get(), sendJson(res, 200, peers(d));
  if (p === '/v1/services') return get(), sendJson(res, 200, services(d));
  if (p === '/v1/routes') {
    get();
    const fam = url.searchParams.get('family');
    if (fam !== null && fam !== 'ipv4' && fam !== 'ipv6') throw new ApiError(400, 'bad-request', `family must be ipv4 or ipv6, not '${fam}'`);
    const peer = url.searchParams.get('peer');
    const service = url.searchParams.get('service');
    if (peer !== null && !peerNames(d).includes(peer)) throw new ApiError(404, 'no-such-peer', unknownPeer(d, peer));
    if (service !== null && !d.config?.services.some((s) => s.name === service)) throw new ApiError(404, 'no-such-service', unknownService(d, service));
    const filter = { ...(peer !== null ? { peer } : {}), ...(service !== null ? { service } : {}), ...(fam !== null ? { family: fam as Family } : {}) };
    return streamArray(res, routes(d, filter));
  }
  if (p.startsWith('/v1/received/')) {
    get();
    const peer = decodeURIComponent(p.slice('/v1/received/'.length));
    const text = url.searchParams.get('prefix');
    const r = text === null ? null : readPrefix(text);
    if (r !== null && 'reason' in r) throw new ApiError(400, 'bad-prefix', `${r.reason} (try 198.51.100.53/32 or 2001:db8::53/128)`);
    const it = received(d, peer, r?.prefix);
    if (it === null) throw new ApiError(404, 'no-such-peer', unknownPeer(d, peer));
    return streamArray(res, it);
  }
  if (p.startsWith('/v1/explain/') || p === '/v1/explain') {
    get();
    const text = url.searchParams.get('prefix') ?? decodeURIComponent(p.slice('/v1/explain/'.length));
    const r = readPrefix(text);
    const x = 'prefix' in r ? await explain(d, r.prefix) : null;
    if (x === null) throw new ApiError(400, 'bad-prefix', `${'reason' in r ? r.reason : `'${text}' is not a prefix or address`} (try 198.51.100.53/32 or 2001:db8::53/128)`);
    return sendJson(res, 200, x);
  }
  if (p === '/v1/lxd') {
    get();
    const x = lxd(d);
    if (x === null) throw new ApiError(404, 'not-configured', 'the LXD source is not configured (no lxd section in the config; see docs/lxd.md)');
    return sendJson(res, 200, x);
  }
  if (p === '/v1/events') return get(), events(d, req, res);
  if (p === '/v1/drain') {
    post();
    const body = await readBody(req);
    const names = serviceNames(d, body, true);
    const wait = body.wait === true;
    const done = d.drain(names, { persist: true });
    const saved = d.drainSaved ?? null;
    const c = d.config!;
    const targets = names.length ? names : c.services.map((s) => s.name);
    if (wait) {
      await done;
      const flushed = await d.waitFlushed(opts.flushTimeoutMs ?? 60_000);
      if (!flushed) throw new ApiError(504, 'flush-timeout', 'drained, but a peer has not taken the withdrawal yet; check `routes peers`');
    }
    return sendJson(res, 200, {
      services: targets,
      periodMs: c.drain.periodMs,
      phase: c.drain.periodMs > 0 && !wait ? 'graceful-shutdown' : 'withdrawn',
      withdrawalSent: wait,
      persisted: saved !== null && saved.error === null,
      stateFile: saved?.file ?? null,
      persistError: saved?.error ?? null,
    });
  }
  if (p === '/v1/undrain') {
    post();
    const body = await readBody(req);
    const names = serviceNames(d, body, false);
    d.undrain(names);
    const saved = d.drainSaved ?? null;
    return sendJson(res, 200, {
      services: names.length ? names : (d.config?.services.map((s) => s.name) ?? []),
      stateFile: saved?.file ?? null,
      persistError: saved?.error ?? null,
    });
  }
  if (p === '/v1/reload') {
    post();
    const r = await d.reload();
    if (!r.ok) return sendJson(res, 422, { ok: false, errors: r.errors });
    return sendJson(res, 200, { ok: true, errors: [] });
  }
  if (p === '/v1/restart') {
    post();
    const c = d.config;
    const gr = (c?.peers ?? []).filter((x) => !x.shutdown && x.gracefulRestartTime !== undefined).map((x) => x.name);
    const all = (c?.peers ?? []).filter((x) => !x.shutdown).map((x) => x.name);
    sendJson(res, 202, { restarting: true, gracefulRestart: gr, flushing: all.filter((n) => !gr.includes(n)) });
    // After the answer has left: the restart closes this API.
    res.once('finish', () => setImmediate(() => d.plannedRestart('routes restart')));
    return;
  }
  if (p === '/' || p === '/v1') {
    return get(), sendJson(res, 200, { version: 1, paths: ['/v1/summary', '/v1/peers', '/v1/routes', '/v1/received/:peer', '/v1/services', '/v1/explain/:prefix', '/v1/lxd', '/v1/events'] });
  }
  throw new ApiError(404, 'not-found', `no such path ${p}; see docs/api.md`);
}

/** The peers the engine runs (configured and not shut down). */
function peerNames(d: ApiDaemon): string[] {
  return (d.engine?.snapshot() ?? []).map((p) => p.name);
}

function unknownPeer(d: ApiDaemon, peer: string): string {
  return `no peer named '${peer}'; configured: ${peerNames(d).join(', ') || 'none'}`;
}

function unknownService(d: ApiDaemon, name: string): string {
  return `no service named '${name}'; configured: ${d.config?.services.map((s) => s.name).join(', ') || 'none'}`;
}

/** Read the service list of a drain/undrain body; [] means all. */
function serviceNames(d: ApiDaemon, body: Record<string, unknown>, requireChoice: boolean): string[] {
  if (body.all === true) return [];
  const s = body.services;
  if (s === undefined) {
    if (requireChoice) throw new ApiError(400, 'bad-request', 'name the services to drain ({"services":["dns"]}) or {"all":true}');
    return [];
  }
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw new ApiError(400, 'bad-request', '"services" must be a list of service names');
  for (const n of s as string[]) if (!d.config?.services.some((c) => c.name === n)) throw new ApiError(404, 'no-such-service', unknownService(d, n));
  return s as string[];
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 1 << 20) throw new ApiError(413, 'too-large', 'request body over 1 MiB');
  }
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad-json', 'the request body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'bad-json', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, jsonReplacer, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, 'internal', (e as Error)?.message ?? String(e));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } });
}

const CHUNK = 64 * 1024;

/**
 * Write an iterable as a JSON array, one element per line ("[", then each
 * element on its own line, the 2nd on prefixed with ",", then "]"), in
 * chunks of about 64 KiB, waiting for 'drain' when the socket is full.
 */
async function streamArray(res: http.ServerResponse, items: Iterable<unknown> | AsyncIterable<unknown>): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-herald-stream': 'json-lines-array' });
  let buf = '[\n';
  let first = true;
  for await (const it of items) {
    buf += (first ? '' : ',') + JSON.stringify(it, jsonReplacer) + '\n';
    first = false;
    if (buf.length >= CHUNK) {
      if (res.destroyed) return;
      const ok = res.write(buf);
      buf = '';
      if (!ok) await new Promise<void>((r) => {
        const done = (): void => (res.off('close', done), res.off('drain', done), r());
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  res.end(`${buf}]\n`);
}

/** Serve server-sent events until the client goes away; a comment line every 15 s keeps proxies happy. */
function events(d: ApiDaemon, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(`event: hello\ndata: ${JSON.stringify(summary(d))}\n\n`);
  const off = d.onEvent((e) => {
    res.write(`event: ${e.type}\ndata: ${JSON.stringify(e, jsonReplacer)}\n\n`);
  });
  const ka = every(d.clock ?? realClock, 15_000, () => res.write(': keepalive\n\n'));
  const end = (): void => {
    ka();
    off();
  };
  req.on('close', end);
  res.on('close', end);
}

export interface ApiServerOptions {
  socket: string;
  /** File mode of the socket, e.g. 0o660. */
  mode: number;
  /** Group that owns the socket (name or gid); null/absent: the daemon's own group. */
  group?: string | number | null;
  handler?: HandlerOptions;
}

/** A listening control API; close() stops it and removes the socket file. */
export interface ApiServer {
  readonly socket: string;
  close(): Promise<void>;
}

/** Listen on the unix socket: create its directory, remove a stale socket file, set its mode. */
export async function startApiServer(d: ApiDaemon, o: ApiServerOptions): Promise<ApiServer> {
  await fs.mkdir(path.dirname(o.socket), { recursive: true, mode: 0o755 });
  await removeStale(o.socket);
  // Resolve the group before listening, so a typo leaves no socket behind.
  const gid = o.group === undefined || o.group === null ? null : await resolveGroup(o.group);
  const server = http.createServer(apiHandler(d, o.handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    if (gid !== null) await fs.chown(o.socket, -1, gid);
    await fs.chmod(o.socket, o.mode);
  } catch (e) {
    const closed = new Promise<void>((r) => server.close(() => r()));
    await closed;
    await fs.rm(o.socket, { force: true });
    throw new Error(`cannot give ${o.socket} group ${String(o.group)} and mode 0${o.mode.toString(8)}: ${(e as Error).message}`);
  }
  return {
    socket: o.socket,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await fs.rm(o.socket, { force: true });
    },
  };
}

/** Remove a socket file nobody listens on; refuse when a daemon still answers or the path is not a socket. */
async function removeStale(file: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(file);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`api.socket ${file} exists and is not a socket; remove it or choose another path`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another process already serves ${file}; is herald already running?`);
  await fs.rm(file, { force: true });
}

/** Turn api.group into a gid: a number (or digits) is the gid; a name is looked up in the system's group database. */
export async function resolveGroup(group: string | number): Promise<number> {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  let out: string;
  try {
    ({ stdout: out } = await execFileAsync('getent', ['group', group], { encoding: 'utf8' }));
  } catch {
    out = (await fs.readFile('/etc/group', 'utf8').catch(() => '')).split('\n').find((l) => l.split(':')[0] === group) ?? '';
  }
  const gid = Number(out.trim().split(':')[2]);
  if (out.trim() === '' || !Number.isInteger(gid)) throw new Error(`api.group '${group}' is not a group on this system; create it (groupadd ${group}) or give a numeric gid`);
  return gid;
}
