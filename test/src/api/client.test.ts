// The control API's client (src/api/client.ts) against plain node:http
// servers on unix sockets, byte by byte: it reads its answers with the
// HTTP/1.1 framer it shares with the LXD client (no node:http of its own),
// so what node's server sends — chunked streams, Content-Length bodies,
// header fields — must come through whatever the socket's pieces.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, ApiResponseError } from '../../../src/api/client.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-client-'));
  dirs.push(dir);
  const sock = join(dir, 'api.sock');
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(sock, r));
  return sock;
}

/** Write `bytes` one octet per write, each flushed before the next. */
async function trickle(res: import('node:http').ServerResponse, bytes: Buffer): Promise<void> {
  for (const b of bytes) {
    res.write(Buffer.of(b));
    await new Promise((r) => setImmediate(r));
  }
}

describe('ApiClient on its own HTTP/1.1 reader', () => {
  it('streams a chunked array sent one octet at a time, UTF-8 cut anywhere, and keeps x-herald-access', async () => {
    const items = [{ name: 'dns-ü' }, { name: 'web—東京' }, { name: 'plain' }];
    const body = Buffer.from(`[\n${items.map((x, i) => `${i ? ',' : ''}${JSON.stringify(x)}`).join('\n')}\n]\n`, 'utf8');
    const sock = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-herald-access': 'read-only' });
      void trickle(res, body).then(() => res.end());
    });
    const api = new ApiClient(sock);
    const seen: unknown[] = [];
    const n = await api.stream('/v1/routes', (x) => seen.push(x));
    expect(n).toBe(3);
    expect(seen).toEqual(items);
    expect(api.access).toBe('read-only');
  });

  it('reads a Content-Length body, sends a POST body, and turns an error status into ApiResponseError', async () => {
    const sock = await serve((req, res) => {
      let got = '';
      req.on('data', (c: Buffer) => (got += c.toString()));
      req.on('end', () => {
        if (req.url === '/ok') {
          const b = JSON.stringify({ method: req.method, got: JSON.parse(got) as unknown, type: req.headers['content-type'] });
          res.writeHead(200, { 'content-length': Buffer.byteLength(b), 'x-herald-access': 'operator' });
          res.end(b);
        } else {
          res.writeHead(409, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'busy', message: 'a reload is running' } }));
        }
      });
    });
    const api = new ApiClient(sock);
    expect(await api.post('/ok', { service: 'dns' })).toEqual({ method: 'POST', got: { service: 'dns' }, type: 'application/json' });
    expect(api.access).toBe('operator');
    const e = await api.get('/busy').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiResponseError);
    expect(e).toMatchObject({ status: 409, code: 'busy', message: 'a reload is running' });
  });
});
