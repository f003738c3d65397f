// The control API against a fake daemon on a temp unix socket (no BGP):
// JSON shapes, streamed route lists, errors, read-only mode, socket set-up.
import * as fs from 'node:fs';
import * as http from 'node:http';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiResponseError, UnreachableError } from '../../../src/api/client.js';
import { apiHandler, startApiServer, type ApiServer } from '../../../src/api/server.js';
import { fakeDaemon } from './fake-daemon.js';
import type { ExplainState, RouteState, SummaryState } from '../../../src/state/index.js';

const N = 20_000;

describe('control API on a unix socket', () => {
  let dir = '';
  let sock = '';
  let server: ApiServer;
  let api: ApiClient;
  const d = fakeDaemon(N);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-api-'));
    sock = path.join(dir, 'sub', 'dir', 'herald.sock');
    server = await startApiServer(d, { socket: sock, mode: 0o640 });
    api = new ApiClient(sock);
  });

  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the directory and sets the socket mode', () => {
    expect(fs.statSync(sock).isSocket()).toBe(true);
    expect(fs.statSync(sock).mode & 0o777).toBe(0o640);
  });

  it('summary counts without listing routes', async () => {
    const s = await api.get<SummaryState>('/v1/summary');
    expect(s).toMatchObject({ version: 1, asn: 65011, peers: { total: 1, established: 1, down: 0 }, routes: { announced: N + 1 }, services: { up: 1 } });
  });

  it('streams a large route list as one JSON array, one route per line', async () => {
    let n = 0;
    let last: RouteState | null = null;
    const count = await api.stream<RouteState>('/v1/routes', (r) => {
      n++;
      last = r;
    });
    expect(count).toBe(N + 1);
    expect(n).toBe(N + 1);
    expect(last).toMatchObject({ peer: 'up1', status: 'announced', nextHop: '192.0.2.11', sources: ['static'] });
    // The raw body parses as plain JSON too.
    const chunks: Buffer[] = [];
    const sink = new (await import('node:stream')).Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        cb();
      },
    });
    await api.pipe('/v1/routes?service=dns', sink);
    const arr = JSON.parse(Buffer.concat(chunks).toString()) as RouteState[];
    expect(arr.map((r) => r.prefix)).toEqual(['198.51.100.53/32']);
  });

  it('explain canonicalises the prefix', async () => {
    const x = await api.get<ExplainState>('/v1/explain/198.51.100.53');
    expect(x).toMatchObject({ prefix: '198.51.100.53/32', announced: true, wanted: true });
    expect(x.sources[0]).toMatchObject({ source: 'service:dns', wants: true });
  });

  it('answers errors as JSON with a stable code', async () => {
    const err = async (p: Promise<unknown>): Promise<ApiResponseError> => {
      const e = await p.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ApiResponseError);
      return e as ApiResponseError;
    };
    expect(await err(api.get('/v1/nope'))).toMatchObject({ status: 404, code: 'not-found' });
    expect(await err(api.get('/v1/explain/banana'))).toMatchObject({ status: 400, code: 'bad-prefix' });
    expect(await err(api.get('/v1/explain?prefix=192.0.2.1/24'))).toMatchObject({ status: 400, code: 'bad-prefix', message: expect.stringContaining('did you mean 192.0.2.0/24, or 192.0.2.1/32') });
    expect(await err(api.get('/v1/received/up1?prefix=banana'))).toMatchObject({ status: 400, code: 'bad-prefix' });
    expect(await err(api.get('/v1/routes?family=ipx'))).toMatchObject({ status: 400 });
    expect(await err(api.get('/v1/routes?peer=zz'))).toMatchObject({ status: 404, code: 'no-such-peer' });
    expect(await err(api.post('/v1/drain', {}))).toMatchObject({ status: 400, code: 'bad-request' });
    expect(await err(api.post('/v1/drain', { services: ['web'] }))).toMatchObject({ status: 404, code: 'no-such-service' });
    expect(await err(api.post('/v1/summary'))).toMatchObject({ status: 405 });
    d.reloadOk = false;
    const r = await err(api.post('/v1/reload'));
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ ok: false, errors: ['f.yaml:1:1: asn: bad'] });
    d.reloadOk = true;
  });

  it('drain and the event stream', async () => {
    const ac = new AbortController();
    const seen: { type: string; data: unknown }[] = [];
    const done = api.events((type, data) => seen.push({ type, data }), ac.signal);
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await api.post('/v1/drain', { all: true, wait: true })).toMatchObject({ services: ['dns'], phase: 'withdrawn', withdrawalSent: true });
    expect(d.drained).toEqual([[]]);
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await done;
    expect(seen[0]!.type).toBe('hello');
    expect(seen[1]).toMatchObject({ type: 'drain', data: { type: 'drain', phase: 'withdrawn' } });
  });

  it('restart answers 202 with the peers that keep the routes, then asks the daemon for the planned restart', async () => {
    const r = await api.post<{ restarting: boolean; gracefulRestart: string[]; flushing: string[] }>('/v1/restart');
    expect(r).toEqual({ restarting: true, gracefulRestart: ['up1'], flushing: ['rs'] });
    for (let i = 0; i < 50 && d.restarts.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(d.restarts).toEqual(['routes restart']);
    await expect(api.get('/v1/restart')).rejects.toMatchObject({ status: 405 });
  });

  it('refuses a second server on a live socket; replaces a stale one', async () => {
    await expect(startApiServer(d, { socket: sock, mode: 0o660 })).rejects.toThrow(/already serves/);
    const stale = path.join(dir, 'stale.sock');
    // A process that exits without closing leaves its socket file behind, as a crashed daemon would.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
    expect(fs.existsSync(stale)).toBe(true);
    const again = await startApiServer(d, { socket: stale, mode: 0o660 });
    expect((await new ApiClient(stale).get<SummaryState>('/v1/summary')).version).toBe(1);
    await again.close();
    expect(fs.existsSync(stale)).toBe(false);
    fs.writeFileSync(stale, 'not a socket');
    await expect(startApiServer(d, { socket: stale, mode: 0o660 })).rejects.toThrow(/not a socket/);
  });

  it('a read-only handler refuses every POST', async () => {
    const ro = http.createServer(apiHandler(d, { readOnly: true }));
    const p = path.join(dir, 'ro.sock');
    await new Promise<void>((r) => ro.listen(p, r));
    const c = new ApiClient(p);
    await expect(c.post('/v1/reload')).rejects.toMatchObject({ status: 403, code: 'read-only' });
    await expect(c.post('/v1/restart')).rejects.toMatchObject({ status: 403, code: 'read-only' });
    expect((await c.get<SummaryState>('/v1/summary')).version).toBe(1);
    await new Promise((r) => ro.close(r));
  });

  it('names an unreachable socket and what to do', async () => {
    const e = await new ApiClient(path.join(dir, 'none.sock')).get('/v1/summary').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnreachableError);
    expect((e as Error).message).toMatch(/cannot reach .*none\.sock: no such socket; is herald running\?/);
  });
});
