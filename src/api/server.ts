/**
 * The control API: HTTP/JSON on unix sockets, serving the one state model
 * (src/state/) to the `routes` CLI and to scripts.
 *
 *   GET  /v1/summary                          counts: sessions, routes, services, event clients
 *   GET  /v1/peers                            every peer's snapshot
 *   GET  /v1/routes?peer=&service=&family=    announced routes, streamed as a JSON array, one route per line
 *   GET  /v1/received/:peer[?prefix=]         received routes, streamed the same way
 *   GET  /v1/services                         services with their last check results
 *   GET  /v1/explain/:prefix                  why a prefix is (not) announced
 *   GET  /v1/lookup?address=                  longest match of an address, own and received routes
 *   GET  /v1/lxd                              the LXD source: reachability, counts, every derived and skipped route
 *   GET  /v1/events                           server-sent events of peer/service/reload/drain/lxd changes
 *   POST /v1/drain   {services:[..]|all:true, wait?}   kept across restarts (state_dir)
 *   POST /v1/undrain {services?:[..]|all:true}
 *   POST /v1/peers/:peer/down|up|reset|refresh {message?}
 *   POST /v1/reload
 *   POST /v1/restart                          planned restart: stop keeping routes at routers, exit 75
 *
 * Access (decision 0032): the operator socket (`api.socket`, file mode and
 * group) serves everything; with `api.operators` a POST there also needs
 * the connecting process's uid or one of its groups in that list (read with
 * SO_PEERCRED / SO_PEERGROUPS). The read-only socket (`api.readonly_socket`,
 * mode 0666 by default) serves every GET and answers every POST with 403
 * `read-only`. `handler({readOnly: true})` is what a TCP listener may reuse.
 *
 * Requests that are wrong get a 4xx with `{"error":{"code","message"}}`: an
 * unknown path 404, a known path with the wrong method 405 with `Allow`, a
 * malformed %-escape, bad JSON or a bad argument 400. Every structure fed
 * from outside is bounded: request bodies (1 MiB), event clients (at most
 * `maxEventClients`, 503 beyond), and each event client's unsent bytes
 * (`eventBufferBytes`: a client that falls that far behind is sent a final
 * `dropped` event and disconnected, and counted). Shapes: docs/api.md.
 * No RFC: herald's own protocol (HTTP/1.1 per RFC 9112, SSE per the HTML
 * living standard's EventSource).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import type * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { every, realClock, type Clock } from '../../bgp/index.js';
import { PEER_ACTIONS, type PeerAction, type PeerActionResult } from '../../bgp/index.js';
import { peerCredentials, type PeerCredentials } from '../host/libc.js';
import { parseLookupAddress } from '../state/address.js';
import {
  explain,
  readPrefix,
  jsonReplacer,
  lookup,
  lxd,
  peers,
  peerState,
  received,
  routes,
  services,
  summary,
  type ApiCounts,
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
  /** An operator's action on one peer (rejects with code ENOPEER for an unknown peer). */
  peerAction?(name: string, action: PeerAction, message?: string): Promise<PeerActionResult>;
  onEvent(fn: (e: StateEvent) => void): () => void;
  /** The clock of the event stream's keepalive (default the real clock). */
  readonly clock?: Clock;
}

/** Who may change state on the operator socket (api.operators, resolved to ids); root and herald's own uid always may. */
export interface Operators {
  uids: ReadonlySet<number>;
  gids: ReadonlySet<number>;
  /** The config's words, for messages. */
  text: string;
}

/** The API's own counts, shared by its sockets; the state model and the metrics read them. */
export class ApiStats implements ApiCounts {
  eventClients = 0;
  eventClientsMax = DEFAULT_MAX_EVENT_CLIENTS;
  eventClientsDropped = 0;
  eventClientsRefused = 0;
}

export interface HandlerOptions {
  /** Refuse every state change (the read-only socket, or a TCP listener). */
  readOnly?: boolean;
  /** For the read-only socket's refusals: where state can be changed (api.socket). */
  operatorSocket?: string;
  /** With a list, a POST needs the caller's uid or a group in it (SO_PEERCRED); null/absent: anyone who can connect. */
  operators?: Operators | null;
  /** Give up waiting for `drain --wait` to flush after this long (ms); default 60 s beyond the drain period. */
  flushTimeoutMs?: number;
  /** Counts shared with the daemon (a fresh object when absent). */
  stats?: ApiStats;
  /** Most event clients at once (default 64); more are answered 503. */
  maxEventClients?: number;
  /** Unsent bytes an event client may fall behind before it is dropped (default 1 MiB). */
  eventBufferBytes?: number;
}

/** An HTTP error with a stable code for scripts. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const DEFAULT_MAX_EVENT_CLIENTS = 64;
const DEFAULT_EVENT_BUFFER_BYTES = 1 << 20;
/** How long a dropped event client gets to take its final event before its socket is destroyed. */
const DROP_GRACE_MS = 1_000;
/** RFC 9003 §2: a shutdown communication is at most 255 octets of UTF-8. */
const MAX_SHUTDOWN_TEXT = 255;

const execFileAsync = promisify(execFile);

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Build the request handler for a daemon. */
export function apiHandler(d: ApiDaemon, opts: HandlerOptions = {}): Handler {
  const o: Ctx['opts'] = { ...opts, stats: opts.stats ?? new ApiStats() };
  if (opts.maxEventClients !== undefined) o.stats.eventClientsMax = opts.maxEventClients;
  return (req, res) => {
    res.setHeader('x-herald-access', opts.readOnly ? 'read-only' : 'operator');
    dispatch(d, o, req, res).catch((e: unknown) => sendError(res, e));
  };
}

/** One request as the route functions see it. */
interface Ctx {
  d: ApiDaemon;
  opts: HandlerOptions & { stats: ApiStats };
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  /** The path's captured parts, %-decoded. */
  params: string[];
}

interface Route {
  path: RegExp;
  method: 'GET' | 'POST';
  run(c: Ctx): Promise<void> | void;
}

const ROUTES: Route[] = [
  { path: /^\/v1\/summary$/, method: 'GET', run: (c) => sendJson(c.res, 200, summary(c.d)) },
  { path: /^\/v1\/peers$/, method: 'GET', run: (c) => sendJson(c.res, 200, peers(c.d)) },
  { path: /^\/v1\/services$/, method: 'GET', run: (c) => sendJson(c.res, 200, services(c.d)) },
  { path: /^\/v1\/routes$/, method: 'GET', run: routeList },
  { path: /^\/v1\/received\/([^/]+)$/, method: 'GET', run: receivedList },
  { path: /^\/v1\/explain(?:\/([^/]+))?$/, method: 'GET', run: explainOne },
  { path: /^\/v1\/lookup$/, method: 'GET', run: lookupOne },
  { path: /^\/v1\/lxd$/, method: 'GET', run: lxdState },
  { path: /^\/v1\/events$/, method: 'GET', run: events },
  { path: /^\/v1\/drain$/, method: 'POST', run: drainServices },
  { path: /^\/v1\/undrain$/, method: 'POST', run: undrainServices },
  { path: /^\/v1\/peers\/([^/]+)\/([^/]+)$/, method: 'POST', run: peerActionOne },
  { path: /^\/v1\/reload$/, method: 'POST', run: reload },
  { path: /^\/v1\/restart$/, method: 'POST', run: restart },
  {
    path: /^\/(?:v1)?$/,
    method: 'GET',
    run: (c) =>
      sendJson(c.res, 200, {
        version: 1,
        paths: ['/v1/summary', '/v1/peers', '/v1/routes', '/v1/received/:peer', '/v1/services', '/v1/explain/:prefix', '/v1/lookup?address=', '/v1/lxd', '/v1/events'],
      }),
  },
];

async function dispatch(d: ApiDaemon, opts: Ctx['opts'], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const target = req.url ?? '/';
  // A request target is an absolute path (RFC 9112 §3.2.1); "//x" would parse as a host.
  if (!target.startsWith('/') || target.startsWith('//')) throw new ApiError(400, 'bad-request', `the request target must be a path like /v1/summary, not ${JSON.stringify(target.slice(0, 100))}`);
  let url: URL;
  try {
    url = new URL(target, 'http://herald');
  } catch {
    throw new ApiError(400, 'bad-request', `cannot parse the request target ${JSON.stringify(target.slice(0, 100))}`);
  }
  const p = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
  let allowed: string[] = [];
  for (const r of ROUTES) {
    const m = r.path.exec(p);
    if (m === null) continue;
    if (r.method !== method) {
      allowed.push(r.method === 'GET' ? 'GET, HEAD' : r.method);
      continue;
    }
    const params = m.slice(1).map((x) => (x === undefined ? '' : decodePart(x)));
    if (r.method === 'POST') await mayChange(opts, req);
    return r.run({ d, opts, req, res, url, params });
  }
  allowed = [...new Set(allowed)];
  if (allowed.length) throw new ApiError(405, 'method-not-allowed', `${p} takes ${allowed.join(' or ')}, not ${req.method}`, { allow: allowed.join(', ') });
  throw new ApiError(404, 'not-found', `no such path ${p}; see docs/api.md`);
}

/** %-decode one path segment; a malformed escape is the client's mistake (400), not ours. */
function decodePart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, 'bad-request', `malformed %-escape in the path: '${s.slice(0, 100)}'`);
  }
}

/** Refuse a state change on the read-only socket, or from a caller who is not in api.operators. */
async function mayChange(opts: HandlerOptions, req: http.IncomingMessage): Promise<void> {
  if (opts.readOnly) {
    const where = opts.operatorSocket ? ` (api.socket, ${opts.operatorSocket})` : '';
    throw new ApiError(403, 'read-only', `this socket is read-only: it answers GET only; change state through the operator socket${where}`);
  }
  const ops = opts.operators;
  if (!ops) return;
  let cred: PeerCredentials;
  try {
    cred = credentialsOf(req.socket);
  } catch (e) {
    throw new ApiError(403, 'not-operator', `cannot tell who is calling (${(e as Error).message}); api.operators allows changes only to the users and groups it lists`);
  }
  if (cred.uid === 0 || cred.uid === process.getuid?.()) return;
  if (ops.uids.has(cred.uid) || ops.gids.has(cred.gid) || cred.groups.some((g) => ops.gids.has(g))) return;
  const who = await userName(cred.uid);
  throw new ApiError(403, 'not-operator', `${who} may read but not change state: api.operators lists who may (${ops.text})`);
}

const credentialCache = new WeakMap<net.Socket, PeerCredentials>();

/** The caller's credentials, read once per connection (they are the connect-time ones anyway). */
function credentialsOf(sock: net.Socket): PeerCredentials {
  const known = credentialCache.get(sock);
  if (known) return known;
  const fd = (sock as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no file descriptor');
  const c = peerCredentials(fd);
  credentialCache.set(sock, c);
  return c;
}

/** "uid 1001 (bob)", or "uid 1001" when the name is unknown. */
async function userName(uid: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync('getent', ['passwd', String(uid)], { encoding: 'utf8', timeout: 2_000 });
    const name = stdout.split(':')[0];
    return name ? `uid ${uid} (${name})` : `uid ${uid}`;
  } catch {
    return `uid ${uid}`;
  }
}

// ---------------------------------------------------------------- reads

async function routeList(c: Ctx): Promise<void> {
  const { d, url } = c;
  const fam = url.searchParams.get('family');
  if (fam !== null && fam !== 'ipv4' && fam !== 'ipv6') throw new ApiError(400, 'bad-request', `family must be ipv4 or ipv6, not '${fam}'`);
  const peer = url.searchParams.get('peer');
  const service = url.searchParams.get('service');
  if (peer !== null && !peerNames(d).includes(peer)) throw new ApiError(404, 'no-such-peer', unknownPeer(d, peer));
  if (service !== null && !d.config?.services.some((s) => s.name === service)) throw new ApiError(404, 'no-such-service', unknownService(d, [service]));
  const filter = { ...(peer !== null ? { peer } : {}), ...(service !== null ? { service } : {}), ...(fam !== null ? { family: fam as Family } : {}) };
  return streamArray(c.res, routes(d, filter));
}

async function receivedList(c: Ctx): Promise<void> {
  const peer = c.params[0]!;
  const text = c.url.searchParams.get('prefix');
  const r = text === null ? null : readPrefix(text);
  if (r !== null && 'reason' in r) throw new ApiError(400, 'bad-prefix', `${r.reason} (try 198.51.100.53/32 or 2001:db8::53/128)`);
  const it = received(c.d, peer, r?.prefix);
  if (it === null) throw new ApiError(404, 'no-such-peer', unknownPeer(c.d, peer));
  return streamArray(c.res, it);
}

async function explainOne(c: Ctx): Promise<void> {
  const text = c.url.searchParams.get('prefix') ?? c.params[0] ?? '';
  if (text === '') throw new ApiError(400, 'bad-prefix', 'name the prefix: /v1/explain/198.51.100.53%2F32 or /v1/explain?prefix=198.51.100.53/32');
  const r = readPrefix(text);
  const x = 'prefix' in r ? await explain(c.d, r.prefix) : null;
  if (x === null) throw new ApiError(400, 'bad-prefix', `${'reason' in r ? r.reason : `'${text}' is not a prefix or address`} (try 198.51.100.53/32 or 2001:db8::53/128)`);
  return sendJson(c.res, 200, x);
}

async function lookupOne(c: Ctx): Promise<void> {
  const text = c.url.searchParams.get('address');
  if (text === null) throw new ApiError(400, 'bad-address', 'name the address: /v1/lookup?address=198.51.100.53');
  const a = parseLookupAddress(text);
  if (typeof a === 'string') throw new ApiError(400, 'bad-address', a);
  return sendJson(c.res, 200, await lookup(c.d, a.address, a.family));
}

function lxdState(c: Ctx): void {
  const x = lxd(c.d);
  if (x === null) throw new ApiError(404, 'not-configured', 'the LXD source is not configured (no lxd section in the config; see docs/lxd.md)');
  sendJson(c.res, 200, x);
}

// ---------------------------------------------------------------- changes

async function drainServices(c: Ctx): Promise<void> {
  const { d, opts } = c;
  const body = await readBody(c.req);
  const names = serviceNames(d, body, 'drain');
  const wait = body.wait === true;
  const done = d.drain(names, { persist: true });
  const saved = d.drainSaved ?? null;
  const cfg = d.config!;
  const targets = names.length ? names : cfg.services.map((s) => s.name);
  if (wait) {
    await done;
    const flushed = await d.waitFlushed(opts.flushTimeoutMs ?? 60_000);
    if (!flushed) throw new ApiError(504, 'flush-timeout', 'drained, but a peer has not taken the withdrawal yet; check `routes peers`');
  }
  return sendJson(c.res, 200, {
    services: targets,
    periodMs: cfg.drain.periodMs,
    phase: cfg.drain.periodMs > 0 && !wait ? 'graceful-shutdown' : 'withdrawn',
    withdrawalSent: wait,
    persisted: saved !== null && saved.error === null,
    stateFile: saved?.file ?? null,
    persistError: saved?.error ?? null,
  });
}

async function undrainServices(c: Ctx): Promise<void> {
  const { d } = c;
  const body = await readBody(c.req);
  const names = serviceNames(d, body, 'undrain');
  d.undrain(names);
  const saved = d.drainSaved ?? null;
  return sendJson(c.res, 200, {
    services: names.length ? names : (d.config?.services.map((s) => s.name) ?? []),
    stateFile: saved?.file ?? null,
    persistError: saved?.error ?? null,
  });
}

async function peerActionOne(c: Ctx): Promise<void> {
  const { d } = c;
  const [name, action] = c.params as [string, string];
  if (!(PEER_ACTIONS as readonly string[]).includes(action)) {
    throw new ApiError(404, 'not-found', `no peer action '${action}': POST /v1/peers/${name}/${PEER_ACTIONS.join('|')}`);
  }
  const body = await readBody(c.req);
  const message = body.message;
  if (message !== undefined && typeof message !== 'string') throw new ApiError(400, 'bad-request', '"message" must be a string (the RFC 9003 shutdown communication)');
  if (message !== undefined && action !== 'down' && action !== 'reset') throw new ApiError(400, 'bad-request', `"message" goes with down and reset (RFC 9003 shutdown communication), not ${action}`);
  if (message !== undefined && Buffer.byteLength(message) > MAX_SHUTDOWN_TEXT) {
    throw new ApiError(400, 'bad-request', `"message" is ${Buffer.byteLength(message)} octets of UTF-8; RFC 9003 allows ${MAX_SHUTDOWN_TEXT}`);
  }
  if (!peerNames(d).includes(name) || !d.peerAction) throw new ApiError(404, 'no-such-peer', unknownPeer(d, name));
  let r: PeerActionResult;
  try {
    r = await d.peerAction(name, action as PeerAction, message);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOPEER') throw new ApiError(404, 'no-such-peer', unknownPeer(d, name));
    throw e;
  }
  const answer = { peer: r.peer, action: r.action, changed: r.changed, detail: r.refused?.message ?? r.detail, peerState: peerState(d, r.snapshot) };
  if (r.refused) return sendJson(c.res, 409, { error: { code: r.refused.code, message: r.refused.message }, ...answer });
  return sendJson(c.res, 200, answer);
}

async function reload(c: Ctx): Promise<void> {
  const r = await c.d.reload();
  if (!r.ok) return sendJson(c.res, 422, { ok: false, errors: r.errors });
  return sendJson(c.res, 200, { ok: true, errors: [] });
}

function restart(c: Ctx): void {
  const cfg = c.d.config;
  const gr = (cfg?.peers ?? []).filter((x) => !x.shutdown && x.gracefulRestartTime !== undefined).map((x) => x.name);
  const all = (cfg?.peers ?? []).filter((x) => !x.shutdown).map((x) => x.name);
  sendJson(c.res, 202, { restarting: true, gracefulRestart: gr, flushing: all.filter((n) => !gr.includes(n)) });
  // After the answer has left: the restart closes this API.
  c.res.once('finish', () => setImmediate(() => c.d.plannedRestart('routes restart')));
}

/** The peers the engine runs (configured and not shut down). */
function peerNames(d: ApiDaemon): string[] {
  return (d.engine?.snapshot() ?? []).map((p) => p.name);
}

function unknownPeer(d: ApiDaemon, peer: string): string {
  return `no peer named '${peer}'; configured: ${peerNames(d).join(', ') || 'none'}`;
}

function unknownService(d: ApiDaemon, names: string[]): string {
  const list = names.map((n) => `'${n}'`).join(', ');
  return `no service named ${list}; configured: ${d.config?.services.map((s) => s.name).join(', ') || 'none'}`;
}

/**
 * Read the service list of a drain/undrain body: `{"services": [...]}` names
 * them, `{"all": true}` means every service ([] returned). An empty list is
 * refused (400): draining everything takes the explicit `all`. Undrain also
 * takes `{}` for all, its documented default. Unknown names: one 404 naming them all.
 */
function serviceNames(d: ApiDaemon, body: Record<string, unknown>, verb: 'drain' | 'undrain'): string[] {
  const s = body.services;
  if (body.all !== undefined && body.all !== true && body.all !== false) throw new ApiError(400, 'bad-request', '"all" must be true or false');
  if (body.all === true) {
    if (s !== undefined) throw new ApiError(400, 'bad-request', 'give "services" or "all": true, not both');
    return [];
  }
  if (s === undefined) {
    if (verb === 'drain') throw new ApiError(400, 'bad-request', 'name the services to drain ({"services":["dns"]}) or drain all with {"all":true}');
    return [];
  }
  if (!Array.isArray(s) || !s.every((x) => typeof x === 'string')) throw new ApiError(400, 'bad-request', '"services" must be a list of service names');
  if (s.length === 0) throw new ApiError(400, 'bad-request', `"services" is empty: name at least one service, or ${verb} every one with {"all":true}`);
  const unknown = (s as string[]).filter((n) => !d.config?.services.some((c) => c.name === n));
  if (unknown.length) throw new ApiError(404, 'no-such-service', unknownService(d, unknown));
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
  } catch (e) {
    throw new ApiError(400, 'bad-json', `the request body is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'bad-json', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body, jsonReplacer, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, 'internal', (e as Error)?.message ?? String(e));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, err.headers);
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

/**
 * Serve server-sent events until the client goes away; a comment line every
 * 15 s keeps proxies happy. Bounded twice: at most `maxEventClients` clients
 * (503 beyond), and each client's unsent bytes (what the socket has not
 * taken, `writableLength`) at most `eventBufferBytes` — a client that falls
 * further behind gets a final `dropped` event and is disconnected, counted
 * in `eventClientsDropped`, instead of growing the heap without end.
 */
function events(c: Ctx): void {
  const { d, req, res, opts } = c;
  const stats = opts.stats;
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.end();
    return;
  }
  if (stats.eventClients >= stats.eventClientsMax) {
    stats.eventClientsRefused++;
    throw new ApiError(503, 'too-many-clients', `${stats.eventClientsMax} clients already follow /v1/events; try again later`, { 'retry-after': '5' });
  }
  const cap = opts.eventBufferBytes ?? DEFAULT_EVENT_BUFFER_BYTES;
  stats.eventClients++;
  let open = true;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const end = (): void => {
    if (!open) return;
    open = false;
    stats.eventClients--;
    ka();
    off();
  };
  const send = (text: string): void => {
    if (!open) return;
    if (res.writableLength + text.length > cap) return drop(res.writableLength);
    res.write(text);
  };
  const drop = (behind: number): void => {
    stats.eventClientsDropped++;
    end();
    // The final event is queued behind what the client has not read; a slow
    // reader still gets it, one that never reads is cut off after a moment.
    res.end(`event: dropped\ndata: ${JSON.stringify({ type: 'dropped', at: new Date().toISOString(), reason: `fell ${behind} bytes behind (limit ${cap}): events were lost; reconnect and re-read the state` })}\n\n`);
    const t = setTimeout(() => res.destroy(), DROP_GRACE_MS);
    t.unref();
    res.once('close', () => clearTimeout(t));
  };
  const off = d.onEvent((e) => send(`event: ${e.type}\ndata: ${JSON.stringify(e, jsonReplacer)}\n\n`));
  const ka = every(d.clock ?? realClock, 15_000, () => send(': keepalive\n\n'));
  send(`event: hello\ndata: ${JSON.stringify(summary(d))}\n\n`);
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
  // node:http is loaded here, when the API starts (after the engine's start), not with the daemon's code (decision 0041).
  const { createServer } = createRequire(import.meta.url)('node:http') as typeof http;
  const server = createServer(apiHandler(d, o.handler));
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

/** Turn api.operators' names into ids (numbers pass through); an unknown name is an error naming it. */
export async function resolveOperators(o: { users: readonly (string | number)[]; groups: readonly (string | number)[] }): Promise<Operators> {
  const uids = new Set<number>();
  const gids = new Set<number>();
  for (const u of o.users) uids.add(await resolveUser(u));
  for (const g of o.groups) gids.add(await resolveGroup(g));
  const text = [...o.users.map((u) => `user ${u}`), ...o.groups.map((g) => `group ${g}`)].join(', ') || 'nobody but root';
  return { uids, gids, text };
}

/** Turn a user name into a uid (a number, or digits, is the uid). */
export function resolveUser(user: string | number): Promise<number> {
  return resolveId('passwd', user, `api.operators: user '${user}' is not a user on this system; give an existing name or a numeric uid`);
}

/** Turn api.group into a gid: a number (or digits) is the gid; a name is looked up in the system's group database. */
export function resolveGroup(group: string | number): Promise<number> {
  return resolveId('group', group, `api.group '${group}' is not a group on this system; create it (groupadd ${group}) or give a numeric gid`);
}

/** A name's id in the passwd or group database (getent, else the file itself); digits are the id. */
async function resolveId(db: 'passwd' | 'group', name: string | number, notFound: string): Promise<number> {
  if (typeof name === 'number') return name;
  if (/^\d+$/.test(name)) return Number(name);
  let out: string;
  try {
    ({ stdout: out } = await execFileAsync('getent', [db, name], { encoding: 'utf8' }));
  } catch {
    out = (await fs.readFile(`/etc/${db}`, 'utf8').catch(() => '')).split('\n').find((l) => l.split(':')[0] === name) ?? '';
  }
  const id = Number(out.trim().split(':')[2]);
  if (out.trim() === '' || !Number.isInteger(id)) throw new Error(notFound);
  return id;
}
