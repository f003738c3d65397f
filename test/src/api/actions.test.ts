// The control API's per-peer actions, longest-match lookup, access control
// and bounds, through the real server on unix sockets (issue 10 item 7,
// issue 12 "read-only vs operator access", "API errors 4xx", "event streams
// drop slow readers with a counter"). The daemon behind it is fake-daemon.ts
// (the real state model, a real Reconciler, a fake engine); what the speaker
// does with an action is tested in test/bgp and against FRR in
// test/interop/peer-actions.test.ts.
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedRoute } from '../../../bgp/index.js';
import { ApiClient, ApiResponseError } from '../../../src/api/client.js';
import { ApiStats, startApiServer, type ApiServer } from '../../../src/api/server.js';
import type { LookupState, SummaryState } from '../../../src/state/index.js';
import { fakeDaemon } from './fake-daemon.js';

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const nogroup = spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' });
const NOGROUP_GID = nogroup.status === 0 ? Number(nogroup.stdout.split(':')[2]) : null;

/** One raw request: status, headers and body text (the client hides the headers). */
function raw(sock: string, method: string, target: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, method, path: target, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const err = async (p: Promise<unknown>): Promise<ApiResponseError> => {
  const e = await p.catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ApiResponseError);
  return e as ApiResponseError;
};

const received: ReceivedRoute[] = [
  { prefix: '198.51.100.0/24', afi: 1, pathId: undefined, nextHops: ['192.0.2.1'], attrs: { origin: 0, asPath: [{ type: 2, asns: [65000] }] } },
  { prefix: '198.51.100.0/25', afi: 1, pathId: undefined, nextHops: ['192.0.2.1'], attrs: { origin: 0, asPath: [{ type: 2, asns: [65000, 65001] }] } },
];

describe('peer actions, lookup, 4xx and bounds on the real API server', () => {
  let dir = '';
  let sock = '';
  let roSock = '';
  let server: ApiServer;
  let ro: ApiServer;
  let api: ApiClient;
  const stats = new ApiStats();
  const d = Object.assign(fakeDaemon(300, received), { apiCounts: stats });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-actions-'));
    sock = path.join(dir, 'herald.sock');
    roSock = path.join(dir, 'herald-ro.sock');
    server = await startApiServer(d, { socket: sock, mode: 0o660, handler: { stats, maxEventClients: 3, eventBufferBytes: 64 * 1024 } });
    ro = await startApiServer(d, { socket: roSock, mode: 0o666, handler: { readOnly: true, operatorSocket: sock, stats } });
    api = new ApiClient(sock);
  });

  afterAll(async () => {
    await server?.close();
    await ro?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('POST /v1/peers/NAME/ACTION carries the action and its message to the daemon', async () => {
    const r = await api.post<{ peer: string; action: string; changed: boolean; detail: string; peerState: { name: string } }>('/v1/peers/up1/down', { message: 'maintenance until 03:00' });
    expect(r).toMatchObject({ peer: 'up1', action: 'down', changed: true, detail: 'up1: down done', peerState: { name: 'up1' } });
    for (const a of ['up', 'reset', 'refresh']) await api.post(`/v1/peers/up1/${a}`);
    expect(d.actions).toEqual([
      ['up1', 'down', 'maintenance until 03:00'],
      ['up1', 'up', undefined],
      ['up1', 'reset', undefined],
      ['up1', 'refresh', undefined],
    ]);
  });

  it('refuses bad peer actions with a 4xx and does not reach the daemon', async () => {
    const before = d.actions.length;
    expect(await err(api.post('/v1/peers/zz/down'))).toMatchObject({ status: 404, code: 'no-such-peer' });
    // 'off' is configured but shut down: the engine does not run it.
    expect(await err(api.post('/v1/peers/off/up'))).toMatchObject({ status: 404, code: 'no-such-peer' });
    expect(await err(api.post('/v1/peers/up1/explode'))).toMatchObject({ status: 404, code: 'not-found' });
    expect(await err(api.post('/v1/peers/up1/up', { message: 'x' }))).toMatchObject({ status: 400, code: 'bad-request' });
    expect(await err(api.post('/v1/peers/up1/down', { message: 7 }))).toMatchObject({ status: 400, code: 'bad-request' });
    const long = await err(api.post('/v1/peers/up1/down', { message: 'é'.repeat(128) }));
    expect(long).toMatchObject({ status: 400 });
    expect(long.message).toMatch(/256 octets of UTF-8; RFC 9003 allows 255/);
    expect(d.actions.length).toBe(before);
  });

  it('a refused action answers 409 with the reason and the peer', async () => {
    const snaps = d.engine!.snapshot();
    const up1 = snaps[0]!;
    const was = up1.state;
    up1.state = 'Idle';
    try {
      const e = await err(api.post('/v1/peers/up1/refresh'));
      expect(e.status).toBe(409);
      expect(e.body).toMatchObject({ error: { code: 'no-session' }, peer: 'up1', action: 'refresh', changed: false });
    } finally {
      up1.state = was;
    }
  });

  it('lookup: longest own match explained, less specific ones listed, each peer’s longest received match', async () => {
    const x = await api.get<LookupState>('/v1/lookup?address=198.51.100.53');
    expect(x).toMatchObject({ address: '198.51.100.53', family: 'ipv4', prefix: '198.51.100.53/32', covering: [] });
    expect(x.explain).toMatchObject({ prefix: '198.51.100.53/32', announced: true });
    expect(x.received).toEqual([expect.objectContaining({ peer: 'up1', prefix: '198.51.100.0/25' })]);
    expect(x.received[0]!.reason).toMatch(/never sent on/);
    expect(x.reason).toMatch(/^198\.51\.100\.53\/32: announced .*received from up1 \(198\.51\.100\.0\/25\)/);
    // An address in a static /24 (the 300 fixture routes are 240.0.i.0/24).
    const y = await api.get<LookupState>('/v1/lookup?address=240.0.5.77');
    expect(y).toMatchObject({ prefix: '240.0.5.0/24', received: [] });
    // No own route, no received one.
    const z = await api.get<LookupState>('/v1/lookup?address=2001:db8::1');
    expect(z).toMatchObject({ family: 'ipv6', prefix: null, explain: null, received: [] });
    expect(z.reason).toMatch(/no route of herald's own contains 2001:db8::1/);
    expect(await err(api.get('/v1/lookup?address=banana'))).toMatchObject({ status: 400, code: 'bad-address' });
    expect(await err(api.get('/v1/lookup'))).toMatchObject({ status: 400, code: 'bad-address' });
  });

  it('4xx for bad requests: malformed %-escape 400, wrong method 405 with Allow, unknown path 404', async () => {
    for (const t of ['/v1/received/%ZZ', '/v1/explain/%E0%A4%A', '/v1/peers/%/down']) {
      const method = t.startsWith('/v1/peers') ? 'POST' : 'GET';
      const r = await raw(sock, method, t);
      expect(r.status, t).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'bad-request' } });
    }
    const m = await raw(sock, 'DELETE', '/v1/summary');
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('GET, HEAD');
    expect(JSON.parse(m.body).error.code).toBe('method-not-allowed');
    const g = await raw(sock, 'GET', '/v1/peers/up1/down');
    expect(g.status).toBe(405);
    expect(g.headers.allow).toBe('POST');
    expect((await raw(sock, 'GET', '/v2/anything')).status).toBe(404);
    expect((await raw(sock, 'POST', '/v1/drain', '{not json')).status).toBe(400);
  });

  it('drain refuses an empty list (it used to drain everything); all: true is the way to drain all', async () => {
    const before = d.drained.length;
    const e = await err(api.post('/v1/drain', { services: [] }));
    expect(e).toMatchObject({ status: 400, code: 'bad-request' });
    expect(e.message).toMatch(/"services" is empty/);
    expect(await err(api.post('/v1/undrain', { services: [] }))).toMatchObject({ status: 400 });
    expect(await err(api.post('/v1/drain', { services: ['dns'], all: true }))).toMatchObject({ status: 400 });
    expect(await err(api.post('/v1/drain', { services: ['dns', 'web', 'ntp'] }))).toMatchObject({ status: 404, message: expect.stringMatching(/'web', 'ntp'/) });
    expect(d.drained.length).toBe(before);
  });

  it('the read-only socket answers every GET and refuses every POST with 403 naming the operator socket', async () => {
    const c = new ApiClient(roSock);
    expect(fs.statSync(roSock).mode & 0o777).toBe(0o666);
    expect((await c.get<SummaryState>('/v1/summary')).version).toBe(1);
    expect((await c.get<LookupState>('/v1/lookup?address=198.51.100.53')).prefix).toBe('198.51.100.53/32');
    const before = d.actions.length;
    for (const p of ['/v1/peers/up1/down', '/v1/drain', '/v1/reload', '/v1/restart']) {
      const e = await err(c.post(p, { all: true }));
      expect(e).toMatchObject({ status: 403, code: 'read-only' });
      expect(e.message).toContain(sock);
    }
    expect(d.actions.length).toBe(before);
    expect((await raw(roSock, 'GET', '/v1/summary')).headers['x-herald-access']).toBe('read-only');
    expect((await raw(sock, 'GET', '/v1/summary')).headers['x-herald-access']).toBe('operator');
  });

  it('event clients are capped (503, counted); a client that stops reading is dropped and counted, the others keep theirs', async () => {
    const base = { ...stats };
    // A reader that keeps up, and one that never reads.
    const ac = new AbortController();
    const seen: string[] = [];
    const good = api.events((type) => seen.push(type), ac.signal);
    const stalled = net.connect(sock);
    await new Promise<void>((r) => stalled.once('connect', r));
    stalled.write('GET /v1/events HTTP/1.1\r\nHost: herald\r\n\r\n');
    stalled.pause();
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    stalled.on('error', () => {});
    for (let i = 0; i < 100 && stats.eventClients < base.eventClients + 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stats.eventClients).toBe(base.eventClients + 2);
    // A third client fits (cap 3); a fourth is refused.
    const third = await new Promise<http.IncomingMessage>((resolve) => http.get({ socketPath: sock, path: '/v1/events' }, resolve).on('error', () => {}));
    third.on('error', () => {});
    expect(third.statusCode).toBe(200);
    const fourth = await raw(sock, 'GET', '/v1/events');
    expect(fourth.status).toBe(503);
    expect(fourth.headers['retry-after']).toBe('5');
    expect(stats.eventClientsRefused).toBe(base.eventClientsRefused + 1);
    third.destroy();
    // 4 MiB of events: the socket buffers take some, the stalled client falls behind past 64 KiB.
    const services = Array.from({ length: 200 }, (_, i) => `service-${i}`);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      d.emit({ type: 'drain', at: new Date().toISOString(), services, phase: 'withdrawn' });
      // 20 KiB at a time, then a pause in which a client that reads takes it.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
    }
    for (let i = 0; i < 300 && stats.eventClientsDropped === base.eventClientsDropped; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stats.eventClientsDropped).toBe(base.eventClientsDropped + 1);
    // The server let go of it: no longer counted, and once the client reads
    // again it finds the stream ended (the server cut it off after the grace second).
    expect(stats.eventClients).toBe(base.eventClients + 1);
    await new Promise((r) => setTimeout(r, 1_200));
    let tail = '';
    stalled.on('data', (b: Buffer) => (tail = (tail + b.toString('latin1')).slice(-4096)));
    stalled.resume();
    for (let i = 0; i < 500 && !stalledClosed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stalledClosed).toBe(true);
    const gotFinal = tail.includes('event: dropped');
    // The good reader saw every event.
    for (let i = 0; i < 300 && seen.filter((t) => t === 'drain').length < 1000; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.filter((t) => t === 'drain').length).toBe(1000);
    const s = await api.get<SummaryState>('/v1/summary');
    expect(s.api).toMatchObject({ eventClients: base.eventClients + 1, eventClientsMax: 3, eventClientsDropped: base.eventClientsDropped + 1 });
    ac.abort();
    await good;
    console.log(`event stream: 1000 events of ${JSON.stringify(services).length + 60} bytes; stalled client dropped and closed within ${(performance.now() - t0).toFixed(0)} ms (its final 'dropped' event ${gotFinal ? 'read' : 'lost with the unsent bytes'}); the reading client got all 1000`);
  });
});

describe.skipIf(!isRoot || NOGROUP_GID === null)('api.operators: who may change state on the operator socket (SO_PEERCRED, as root)', () => {
  let dir = '';
  let sock = '';
  let server: ApiServer;
  const d = fakeDaemon();

  /** POST as uid 65534 (nobody) with primary group `gid`; the HTTP status and body, or the error code. */
  async function postAs(target: string, gid: number): Promise<string> {
    const js = `const r=require('node:http').request({socketPath:${JSON.stringify(sock)},method:'POST',path:${JSON.stringify(target)}},(res)=>{let b='';res.on('data',(c)=>b+=c);res.on('end',()=>console.log(res.statusCode+' '+b.replace(/\\s+/g,' ')))});r.on('error',(e)=>console.log(e.code));r.end('{}')`;
    // Asynchronously: the server answering it runs in this process.
    const r = await execFileAsync(process.execPath, ['-e', js], { encoding: 'utf8', uid: 65534, gid });
    return r.stdout.trim() || r.stderr.trim();
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-operators-'));
    fs.chmodSync(dir, 0o755);
    sock = path.join(dir, 'herald.sock');
    // Anyone may connect (0666); only group 4242 (and root) may change state.
    server = await startApiServer(d, { socket: sock, mode: 0o666, handler: { operators: { uids: new Set(), gids: new Set([4242]), text: 'group 4242' } } });
  });

  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a caller outside api.operators may read but gets 403 not-operator on a POST; one in the group may change state; root always may', async () => {
    const outsider = await postAs('/v1/peers/up1/reset', NOGROUP_GID!);
    expect(outsider).toMatch(/^403 .*"code": "not-operator".*uid 65534 .*may read but not change state: api\.operators lists who may \(group 4242\)/);
    expect(d.actions).toEqual([]);
    const member = await postAs('/v1/peers/up1/reset', 4242);
    expect(member).toMatch(/^200 /);
    expect(d.actions).toEqual([['up1', 'reset', undefined]]);
    await new ApiClient(sock).post('/v1/peers/up1/refresh');
    expect(d.actions).toHaveLength(2);
    // A GET needs no list.
    const js = `require('node:http').get({socketPath:${JSON.stringify(sock)},path:'/v1/summary'},(res)=>console.log(res.statusCode))`;
    expect((await execFileAsync(process.execPath, ['-e', js], { encoding: 'utf8', uid: 65534, gid: NOGROUP_GID! })).stdout.trim()).toBe('200');
  });
  it('routes run by a user the operator socket refuses reads through the read-only socket beside it; a change stays refused', async () => {
    const op = path.join(dir, 'ops', 'herald.sock');
    fs.mkdirSync(path.dirname(op), { mode: 0o755 });
    const opServer = await startApiServer(d, { socket: op, mode: 0o660 });
    const roServer = await startApiServer(d, { socket: path.join(dir, 'ops', 'herald-ro.sock'), mode: 0o666, handler: { readOnly: true, operatorSocket: op } });
    const bin = path.resolve(__dirname, '../../../src/bin/routes.cjs');
    const routesAs = (...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [bin, '--socket', op, ...argv], { encoding: 'utf8', uid: 65534, gid: NOGROUP_GID!, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    try {
      const read = await routesAs('peers', '--json');
      expect(read.code, read.stderr).toBe(0);
      expect(JSON.parse(read.stdout)[0]).toMatchObject({ name: 'up1' });
      expect(read.stderr).toContain(`permission denied on ${op}; reading through the read-only socket`);
      const change = await routesAs('peer', 'up1', 'down');
      expect(change.code).toBe(2);
      expect(change.stderr).toMatch(/permission denied/);
    } finally {
      await opServer.close();
      await roServer.close();
    }
  });
});
