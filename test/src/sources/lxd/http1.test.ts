/**
 * http1.ts: the LXD client's pipelined HTTP/1.1 GETs over a unix socket.
 * The framer is fed one stream of responses (Content-Length, chunked with
 * an extension and a trailer field, 204, a 1xx before its final response,
 * a body ended by the close) whole, split at every offset and byte by
 * byte, and must hand on the same; malformed streams throw Http1Error.
 * `Http1Unix` is checked against node:http servers (nobody's code here):
 * pipelined GETs over several connections, a server that closes after
 * every response, one that closes without answering, one that never answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Error, Http1Unix, ResponseFramer } from '../../../../src/sources/lxd/http1.js';

const STREAM = [
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"b c"}',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"x"\r\n0a\r\n:[1,2,3]}\n\r\n0\r\nX-Trailer: y\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end',
].join('');
const WANT = [
  { status: 200, body: '{"a":"b c"}', close: false },
  { status: 404, body: '{}', close: false },
  { status: 200, body: '{"x":[1,2,3]}\n', close: false },
  { status: 204, body: '', close: false },
  { status: 200, body: 'until the end', close: true },
];

function feed(pieces: Buffer[]): { status: number; body: string; close: boolean }[] {
  const out: { status: number; body: string; close: boolean }[] = [];
  let cur = { status: 0, body: '', close: false };
  const f = new ResponseFramer({
    status: (c) => (cur = { status: c, body: '', close: false }),
    body: (b, s, e) => void (cur.body += b.toString('latin1', s, e)),
    end: (close) => out.push({ ...cur, close }),
  });
  for (const p of pieces) f.push(p, 0, p.length);
  f.eof();
  return out;
}

describe('ResponseFramer', () => {
  it('reads pipelined responses whole, split at every offset, and byte by byte', () => {
    const all = Buffer.from(STREAM, 'latin1');
    expect(feed([all])).toEqual(WANT);
    for (let i = 0; i <= all.length; i++) expect(feed([all.subarray(0, i), all.subarray(i)])).toEqual(WANT);
    expect(feed([...all].map((b) => Buffer.from([b])))).toEqual(WANT);
    // Bytes inside a larger buffer (the read buffer's views): only [s, e) counts.
    const padded = Buffer.concat([Buffer.from('garbage'), all, Buffer.from('garbage')]);
    const got: string[] = [];
    const f = new ResponseFramer({ status: () => {}, body: (b, s, e) => void got.push(b.toString('latin1', s, e)), end: () => {} });
    f.push(padded, 7, 7 + all.length);
    f.eof();
    expect(got.join('')).toBe(WANT.map((w) => w.body).join(''));
  });

  it('throws Http1Error on what is not HTTP/1.1, and on a response cut short', () => {
    const bad = [
      'HTTP/2 200\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n',
    ];
    for (const b of bad) expect(() => feed([Buffer.from(b, 'latin1')]), b).toThrow(Http1Error);
  });
});

describe('Http1Unix', () => {
  let dir = '';
  let server: Server | net.Server | null = null;
  afterEach(async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    server = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const listen = async (s: Server | net.Server): Promise<string> => {
    dir = mkdtempSync(join(tmpdir(), 'herald-http1-'));
    const path = join(dir, 's.sock');
    server = s;
    await new Promise<void>((r) => s.listen(path, r));
    return path;
  };
  const collect = (n: number): { bodies: string[]; sinks: ((b: Buffer, s: number, e: number) => void)[] } => {
    const bodies = Array.from({ length: n }, () => '');
    return { bodies, sinks: bodies.map((_, i) => (b: Buffer, s: number, e: number) => void (bodies[i] += b.toString('utf8', s, e))) };
  };

  it('pipelines GETs over several connections and returns each body and status in order, large bodies too', async () => {
    const conns = new Set<unknown>();
    const path = await listen(
      createServer((req, res) => {
        conns.add(req.socket);
        const n = Number(new URL(req.url!, 'http://x').searchParams.get('n'));
        res.writeHead(n % 7 === 0 ? 404 : 200, { 'content-type': 'application/json' });
        // Some bodies chunked and large (several reads), some with a length.
        res.end(n % 5 === 0 ? JSON.stringify({ n, pad: 'é'.repeat(300_000) }) : JSON.stringify({ n }));
      }),
    );
    const h = new Http1Unix(path, 5000, 3);
    const paths = Array.from({ length: 40 }, (_, n) => `/x?n=${n}`);
    const { bodies, sinks } = collect(paths.length);
    const statuses = await h.getAll(paths, sinks);
    expect(statuses).toEqual(paths.map((_, n) => (n % 7 === 0 ? 404 : 200)));
    expect(bodies.map((b) => (JSON.parse(b) as { n: number }).n)).toEqual(paths.map((_, n) => n));
    expect(JSON.parse(bodies[5]!).pad).toHaveLength(300_000);
    expect(conns.size).toBe(3);
  });

  it('goes on over a new connection when the server closes one after a response; fails when it closes without answering, or never answers', async () => {
    // One response per connection, then close (as a server without keep-alive).
    let served = 0;
    const path = await listen(
      net.createServer((sock) => {
        sock.once('data', () => {
          served++;
          const body = `"${served}"`;
          sock.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        });
      }),
    );
    const h = new Http1Unix(path, 2000, 2);
    const { bodies, sinks } = collect(6);
    expect(await h.getAll(Array.from({ length: 6 }, () => '/'), sinks)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(served).toBe(6);
    expect(bodies.every((b) => /^"\d"$/.test(b))).toBe(true);
    await new Promise<void>((r) => server!.close(() => r()));
    rmSync(dir, { recursive: true, force: true });

    const mute = await listen(net.createServer((sock) => sock.once('data', () => sock.end())));
    await expect(new Http1Unix(mute, 2000, 1).getAll(['/'], collect(1).sinks)).rejects.toMatchObject({ code: 'ECONNRESET' });
    await new Promise<void>((r) => server!.close(() => r()));
    rmSync(dir, { recursive: true, force: true });

    const held: net.Socket[] = [];
    const silent = await listen(net.createServer((sock) => void held.push(sock)));
    const t0 = performance.now();
    await expect(new Http1Unix(silent, 150, 1).getAll(['/'], collect(1).sinks)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    for (const s of held) s.destroy();
    await expect(new Http1Unix(join(dir, 'missing'), 500, 1).getAll(['/'], collect(1).sinks)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
