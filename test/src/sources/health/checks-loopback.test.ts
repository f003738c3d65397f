// Check kinds against small servers on 127.0.0.1, runnable without root:
// HTTP edge cases a real nginx does not produce on demand (a body cut short,
// HEAD), serverName rules, the tcp check, DNS responses nsd does not send
// (malformed, another ID, TC over UDP then an answer over TCP), and
// maintenance file errors.
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probe, runCheck, checkLabel } from '../../../../src/sources/health/index.js';
import { serverName } from '../../../../src/sources/health/checks/http.js';
import type { DnsCheck, HttpCheck } from '../../../../src/config/index.js';

const servers: net.Server[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A raw TCP server that writes `reply` to each connection after reading the request head. */
function raw(reply: string, end = true): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => (end ? s.end(reply) : s.write(reply, () => s.destroy())));
  });
  servers.push(srv);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
}

const http = (port: number, over: Partial<HttpCheck> = {}): HttpCheck => ({
  kind: 'http', url: `http://127.0.0.1:${port}/health`, method: 'GET', status: [200], headers: {}, verifyTls: false, timeoutMs: 1000, ...over,
});

describe('http check on loopback', () => {
  it('a body cut short fails, naming it', async () => {
    const port = await raw('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nWelcome', false);
    const r = await probe(http(port, { body: 'Welcome' }));
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(new RegExp(`^HTTP 200 from http://127\\.0\\.0\\.1:${port}/health, connection closed mid-body`));
  });

  it('HEAD checks the status only; extra headers are sent', async () => {
    let head = '';
    const srv = net.createServer((s) => {
      s.once('data', (d) => {
        head = String(d);
        s.end('HTTP/1.1 204 No Content\r\n\r\n');
      });
    });
    servers.push(srv);
    const port = await new Promise<number>((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port)));
    const r = await probe(http(port, { method: 'HEAD', status: [204], headers: { 'X-Probe': 'herald' }, host: 'www.example.org' }));
    expect(r).toMatchObject({ ok: true, detail: `HTTP 204 from http://127.0.0.1:${port}/health` });
    expect(head).toMatch(/^HEAD \/health HTTP\/1\.1\r\n/);
    expect(head).toContain('X-Probe: herald');
    expect(head).toMatch(/\r\nhost: www\.example\.org\r\n/i);
  });

  it('a garbage response is a failure', async () => {
    const port = await raw('SSH-2.0-OpenSSH_9.2\r\n');
    const r = await probe(http(port));
    expect(r.ok).toBe(false);
    expect(r.detail).toContain(`HTTP request to http://127.0.0.1:${port}/health failed: Parse Error`);
  });

  it('picks the TLS server name: sni, else Host without port, else the URL host, never an address', () => {
    const u = (s: string): URL => new URL(s);
    expect(serverName({ sni: 'a.example', host: 'b.example' }, u('https://c.example/'))).toBe('a.example');
    expect(serverName({ host: 'b.example:8443' }, u('https://c.example/'))).toBe('b.example');
    expect(serverName({}, u('https://c.example/'))).toBe('c.example');
    expect(serverName({}, u('https://192.0.2.1/'))).toBeUndefined();
    expect(serverName({}, u('https://[2001:db8::1]/'))).toBeUndefined();
    expect(serverName({ host: '[2001:db8::1]:443' }, u('https://c.example/'))).toBeUndefined();
  });
});

describe('tcp check on loopback', () => {
  it('opens and closes a connection; an aborted signal fails at once', async () => {
    const port = await raw('');
    expect(await probe({ kind: 'tcp', address: '127.0.0.1', port, timeoutMs: 1000 })).toMatchObject({ ok: true });
    const ac = new AbortController();
    ac.abort();
    const r = await runCheck({ kind: 'tcp', address: '127.0.0.1', port, timeoutMs: 1000 }, ac.signal);
    expect(r).toMatchObject({ ok: false, detail: `TCP connect to 127.0.0.1:${port} timed out after 0ms` });
  });
});

/** A DNS server on 127.0.0.1 answering each UDP query with the datagrams `reply` makes from it, and each TCP query with `tcpReply` (length-prefixed). */
async function dnsServer(reply: (q: dnsPacket.DecodedPacket) => Buffer[], tcpReply?: (q: dnsPacket.DecodedPacket) => Buffer): Promise<number> {
  // UDP takes a free port; TCP needs the same number, which another socket on
  // this busy machine may hold: then both are given up and another port tried.
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, from) => {
      for (const d of reply(dnsPacket.decode(m))) udp.send(d, from.port, from.address);
    });
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    if (!tcpReply) {
      sockets.push(udp);
      return port;
    }
    const srv = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d) => {
        const body = tcpReply(dnsPacket.decode(d.subarray(2)));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        s.end(Buffer.concat([len, body]));
      });
    });
    const listening = await new Promise<boolean>((resolve, reject) => {
      srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' && attempt < 20 ? resolve(false) : reject(e)));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (listening) {
      sockets.push(udp);
      servers.push(srv);
      return port;
    }
    udp.close();
  }
}

const answerA = (q: dnsPacket.DecodedPacket, over: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'response', id: q.id, flags: 0, questions: q.questions, answers: [{ type: 'A', name: 'www.example.org', ttl: 60, data: '192.0.2.80' }], ...over });

describe('dns check on loopback', () => {
  const dns = (port: number, over: Partial<DnsCheck> = {}): DnsCheck => ({
    kind: 'dns', server: '127.0.0.1', port, protocol: 'udp', query: 'www.example.org', type: 'A', rcode: 'NOERROR', timeoutMs: 2000, ...over,
  });

  it('over UDP ignores a malformed datagram and one with another ID, then takes ours (RFC 5452 §4.3)', async () => {
    const port = await dnsServer((q) => [Buffer.from('0001ffff', 'hex'), answerA(q, { id: (q.id! + 1) & 0xffff }), answerA(q)]);
    expect(await probe(dns(port))).toMatchObject({ ok: true, detail: `DNS www.example.org A @127.0.0.1:${port}/udp: NOERROR, 1 answer: 192.0.2.80` });
  });

  it('over UDP only mismatches run into the timeout, which names what was ignored', async () => {
    const port = await dnsServer((q) => [Buffer.from('0001ffff', 'hex'), answerA(q, { questions: [{ type: 'A', name: 'www.example.com' }] })]);
    const r = await probe(dns(port, { timeoutMs: 300 }));
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(new RegExp(`^DNS www.example.org A @127\\.0\\.0\\.1:${port}/udp timed out after \\d+ms; ignored 2 response\\(s\\): malformed: the message has 4 octets, less than a header \\(12\\)$`));
  });

  it('a truncated UDP answer is asked again over TCP (RFC 7766 §5); over TCP a malformed or mismatched answer fails', async () => {
    const tc = await dnsServer((q) => [answerA(q, { flags: dnsPacket.TRUNCATED_RESPONSE, answers: [] })], (q) => answerA(q));
    expect(await probe(dns(tc))).toMatchObject({ ok: true, detail: `DNS www.example.org A @127.0.0.1:${tc}/tcp: NOERROR, 1 answer: 192.0.2.80` });
    const bad = await dnsServer(() => [], () => Buffer.from('0001ffff', 'hex'));
    expect(await probe(dns(bad, { protocol: 'tcp' }))).toMatchObject({
      ok: false, detail: `DNS www.example.org A @127.0.0.1:${bad}/tcp: malformed response: the message has 4 octets, less than a header (12)`,
    });
    const other = await dnsServer(() => [], (q) => answerA(q, { id: (q.id! + 1) & 0xffff }));
    expect(await probe(dns(other, { protocol: 'tcp' }))).toMatchObject({ ok: false, detail: expect.stringMatching(new RegExp(`^DNS www.example.org A @127\\.0\\.0\\.1:${other}/tcp: a response with ID \\d+, not our \\d+$`)) });
  });
});

describe('maintenance_file', () => {
  it('a path through a regular file is absent; labels name the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-maint-'));
    try {
      writeFileSync(join(dir, 'file'), '');
      const check = { kind: 'maintenance_file', path: join(dir, 'file', 'below') } as const;
      expect(await probe(check)).toMatchObject({ ok: true });
      expect(checkLabel(check)).toBe(`maintenance_file ${check.path}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
