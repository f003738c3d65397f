// libc socket options (sockopts.ts) and connectTcp (connect.ts) against the
// kernel: TTL, minimum TTL (GTSM), local address binding, refusals, timeouts,
// aborts and fd hygiene, in a network namespace this file creates and the
// test process enters with setns(2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import * as dgram from 'node:dgram';
import { connectTcp, readTcpExt } from '../../../bgp/driver/connect.js';
import { setListenerTtl } from '../../../bgp/driver/tcp-md5.js';
import {
  SocketError,
  errnoName,
  fdOf,
  getMinTtl,
  getSocketError,
  getTtl,
  openTcpSocket,
  closeFd,
  parseIp,
  dgramFd,
  readDatagrams,
  resetTtl,
  setMinTtl,
  setTcpMd5,
  setTtl,
  socketFamily,
} from '../../../bgp/driver/sockopts.js';
import { testNetns } from '../../support/netns-enter.js';
import { close, listen, port } from '../../support/net-helpers.js';

describe('parseIp and errnoName (no kernel needed)', () => {
  it('parses both families, unwraps IPv4-mapped addresses and numeric zones', () => {
    expect(parseIp('192.0.2.7')).toEqual({ family: 4, bytes: Uint8Array.from([192, 0, 2, 7]), scopeId: 0 });
    expect(parseIp('::ffff:198.51.100.1')).toEqual({ family: 4, bytes: Uint8Array.from([198, 51, 100, 1]), scopeId: 0 });
    const v6 = parseIp('fe80::1%7');
    expect(v6.family).toBe(6);
    expect(v6.scopeId).toBe(7);
    expect(v6.bytes[0]).toBe(0xfe);
    expect(() => parseIp('peer.example')).toThrow(/not an IP address/);
    expect(() => parseIp('192.0.2.1%eth0')).toThrow(/not an IP address/);
    expect(() => parseIp('2001:db8::1%no-such-if0')).toThrow(/unknown IPv6 zone/);
  });

  it('rejects (never throws) on a host that is not an IP literal or a bad port', async () => {
    let p: Promise<unknown> | undefined;
    expect(() => (p = connectTcp({ host: 'peer.example', port: 179, timeoutMs: 100 }))).not.toThrow();
    await expect(p).rejects.toThrow(/not an IP address: "peer.example"/);
    await expect(connectTcp({ host: '192.0.2.1', port: 0, md5Key: 'k', timeoutMs: 100 })).rejects.toThrow(/invalid port 0/);
  });

  it('names errno values', () => {
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(115)).toBe('EINPROGRESS');
    expect(errnoName(99999)).toBe('errno 99999');
  });

  it('reports a bad fd as a SocketError with the errno name and without the key', () => {
    let err: unknown;
    try {
      setTcpMd5(987654, '192.0.2.1', 'very secret key', 4);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SocketError);
    const se = err as SocketError;
    expect(se.code).toBe('EBADF');
    expect(se.errno).toBe(9);
    expect(se.syscall).toBe('setsockopt');
    expect(se.message).toMatch(/^setsockopt \(TCP_MD5SIG, setting the key for 192\.0\.2\.1\): EBADF/);
    expect(se.message).not.toContain('secret');
  });

  it('validates TTL ranges before calling the kernel', () => {
    const fd = openTcpSocket(4);
    try {
      expect(() => setTtl(fd, 4, 0)).toThrow(/TTL must be an integer 1\.\.255/);
      expect(() => setTtl(fd, 4, 256)).toThrow(/TTL must be an integer 1\.\.255/);
      expect(() => setMinTtl(fd, 4, -1)).toThrow(/minimum TTL must be an integer 0\.\.255/);
      expect(() => setTcpMd5(fd, '192.0.2.1', '', 4)).toThrow(/empty/);
    } finally {
      closeFd(fd);
    }
  });
});

const netns = testNetns({ file: 'test/bgp/driver/sockopts.test.ts', tag: 'sockopt', scope: 'kernel tests in' });

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe.skipIf(!netns.canRun)('sockets through the kernel (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.1/32', '192.0.2.2/32', '2001:db8::1/128', '2001:db8::2/128']));
  afterAll(() => netns.cleanUp());

  it('(e) binds the local address on both paths: the server sees it as the remote address', async () => {
    for (const [server, client, opts] of [
      ['192.0.2.1', '192.0.2.2', { ttl: 64 }], // libc path
      ['192.0.2.1', '192.0.2.2', {}], // net.connect path
      ['2001:db8::1', '2001:db8::2', { ttl: 64 }],
      ['2001:db8::1', '2001:db8::2', {}],
    ] as const) {
      const seen: string[] = [];
      const srv = await listen(server, (s) => {
        seen.push(s.remoteAddress ?? '');
        s.end();
      });
      try {
        const sock = await connectTcp({ host: server, port: port(srv), localAddress: client, timeoutMs: 2000, ...opts });
        expect(sock.localAddress).toBe(client);
        await new Promise((r) => sock.once('close', r).resume());
        expect(seen).toEqual([client]);
      } finally {
        await close(srv);
      }
    }
  });

  it('(f) sets TTL / hop limit and minimum TTL, read back with getsockopt on the connected socket', async () => {
    for (const [host, family] of [['192.0.2.1', 4], ['2001:db8::1', 6]] as const) {
      const srv = await listen(host, () => {});
      try {
        setListenerTtl(srv, { ttl: 255 }); // else our minimum TTL of 200 drops its SYN-ACK (TTL 64)
        const sock = await connectTcp({ host, port: port(srv), ttl: 7, minTtl: 200, timeoutMs: 2000 });
        const fd = fdOf(sock);
        expect(socketFamily(fd)).toBe(family);
        expect(getTtl(fd, family)).toBe(7);
        expect(getMinTtl(fd, family)).toBe(200);
        if (family === 6) {
          // the IPv4 options are set too, for IPv4-mapped peers of dual-stack sockets
          expect(getTtl(fd, 4)).toBe(7);
          expect(getMinTtl(fd, 4)).toBe(200);
        }
        expect(getSocketError(fd)).toBe(0);
        sock.destroy();
      } finally {
        await close(srv);
      }
    }
  });

  it('a listener raised to TTL 255 (GTSM peers) goes back to the OS default, and so does an accepted socket', async () => {
    for (const [host, family] of [['192.0.2.1', 4], ['2001:db8::1', 6]] as const) {
      const srv = await listen(host, () => {});
      try {
        const fd = fdOf(srv);
        const dflt = getTtl(fd, family);
        setListenerTtl(srv, { ttl: 255 });
        expect(getTtl(fd, family)).toBe(255);
        setListenerTtl(srv, { ttl: 'default' });
        // getsockopt reports the route's / sysctl's default (64 in a fresh namespace), not -1
        expect(getTtl(fd, family)).toBe(dflt);
        expect(dflt).toBe(64);
        setListenerTtl(srv, { ttl: 255 });
        const accepted = new Promise<import('node:net').Socket>((r) => srv.once('connection', r));
        const sock = await connectTcp({ host, port: port(srv), timeoutMs: 2000 });
        const a = await accepted;
        expect(getTtl(fdOf(a), family)).toBe(255);
        resetTtl(fdOf(a), family);
        expect(getTtl(fdOf(a), family)).toBe(64);
        sock.destroy();
        a.destroy();
      } finally {
        await close(srv);
      }
    }
  });

  it('GTSM (RFC 5082): a listener with minimum TTL 255 accepts TTL 255 and drops TTL 254 (TCPMinTTLDrop)', async () => {
    for (const host of ['192.0.2.1', '2001:db8::1']) {
      const srv = await listen(host);
      try {
        setListenerTtl(srv, { ttl: 255, minTtl: 255 });
        const ok = await connectTcp({ host, port: port(srv), ttl: 255, minTtl: 255, timeoutMs: 2000 });
        ok.destroy();
        const before = readTcpExt()['TCPMinTTLDrop'] ?? 0;
        const err = await connectTcp({ host, port: port(srv), ttl: 254, timeoutMs: 250 }).then(
          (s) => {
            s.destroy();
            throw new Error('TTL 254 got through a minimum TTL of 255');
          },
          (e: Error & { code?: string }) => e,
        );
        expect(err.code).toBe('ETIMEDOUT');
        expect(err.message).toMatch(/no answer to TCP SYN within 0\.25s$/);
        expect(readTcpExt()['TCPMinTTLDrop'] ?? 0).toBeGreaterThan(before);
      } finally {
        await close(srv);
      }
    }
  });

  it('rejects a refused connect with ECONNREFUSED on both paths and leaks no fd', async () => {
    const srv = await listen('192.0.2.1');
    const p = port(srv);
    await close(srv);
    const fds = openFds();
    for (const opts of [{ ttl: 64 }, {}]) {
      const err = await connectTcp({ host: '192.0.2.1', port: p, timeoutMs: 2000, ...opts }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe('ECONNREFUSED');
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(openFds()).toBe(fds);
  });

  it('rejects at once with a clear error when the local address is not on this host or of the other family', async () => {
    const e1 = await connectTcp({ host: '192.0.2.1', port: 179, localAddress: '203.0.113.9', ttl: 1, timeoutMs: 1000 }).then(
      () => null,
      (e: SocketError) => e,
    );
    expect(e1?.code).toBe('EADDRNOTAVAIL');
    expect(e1?.message).toMatch(/^bind to 203\.0\.113\.9: EADDRNOTAVAIL/);
    await expect(connectTcp({ host: '192.0.2.1', port: 179, localAddress: '2001:db8::2', timeoutMs: 1000 })).rejects.toThrow(
      /different address families/,
    );
  });

  it('says in the timeout message that its own minimum TTL may be dropping the replies', async () => {
    const srv = await listen('192.0.2.1'); // answers with TTL 64
    try {
      const err = await connectTcp({ host: '192.0.2.1', port: port(srv), minTtl: 255, timeoutMs: 200 }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      expect(err?.code).toBe('ETIMEDOUT');
      expect(err?.message).toMatch(/with a minimum TTL of 255 here, replies arriving with a lower TTL are dropped \(nstat TcpExtTCPMinTTLDrop\)$/);
    } finally {
      await close(srv);
    }
  });

  it('aborts a pending connect through the signal, promptly, and closes its fd', async () => {
    const srv = await listen('192.0.2.1');
    try {
      setListenerTtl(srv, { minTtl: 255 }); // drops SYNs with TTL 1 or the default 64: the connect hangs
      const fds = openFds();
      for (const opts of [{ ttl: 1 }, {}]) {
        const ac = new AbortController();
        const t0 = performance.now();
        setTimeout(() => ac.abort(new Error('shutting down')), 50);
        const err = await connectTcp({ host: '192.0.2.1', port: port(srv), timeoutMs: 5000, signal: ac.signal, ...opts }).then(
          () => null,
          (e: Error & { code?: string; cause?: unknown }) => e,
        );
        expect(performance.now() - t0).toBeLessThan(1000);
        expect(err?.code).toBe('ABORT_ERR');
        expect((err?.cause as Error).message).toBe('shutting down');
      }
      const pre = new AbortController();
      pre.abort();
      await expect(connectTcp({ host: '192.0.2.1', port: port(srv), timeoutMs: 5000, signal: pre.signal })).rejects.toMatchObject({
        code: 'ABORT_ERR',
      });
      await new Promise((r) => setTimeout(r, 20));
      expect(openFds()).toBe(fds);
    } finally {
      await close(srv);
    }
  });

  it('hands over a socket Node fully owns: writes, reads and end-of-stream work, and destroy closes the fd', async () => {
    const srv = await listen('192.0.2.1', (s) => s.pipe(s));
    try {
      const fds = openFds();
      const sock = await connectTcp({ host: '192.0.2.1', port: port(srv), ttl: 255, timeoutMs: 2000 });
      expect(openFds()).toBe(fds + 1);
      const big = Buffer.alloc(1 << 20, 0xab);
      let got = 0;
      sock.on('data', (d: Buffer) => (got += d.length));
      sock.end(big);
      await new Promise((r) => sock.once('end', r));
      expect(got).toBe(big.length);
      sock.destroy();
      await new Promise((r) => setTimeout(r, 20));
      expect(openFds()).toBe(fds);
    } finally {
      await close(srv);
    }
  });

  it('readDatagrams reads what is queued on a datagram socket at once, in order, with Node\'s source address, up to its limit', async () => {
    for (const [type, rx, tx] of [['udp4', '192.0.2.1', '192.0.2.2'], ['udp6', '2001:db8::1', '2001:db8::2']] as const) {
      const r = dgram.createSocket(type);
      const t = dgram.createSocket(type);
      await new Promise<void>((ok) => r.bind(0, rx, ok));
      await new Promise<void>((ok) => t.bind(0, tx, ok));
      try {
        const fd = dgramFd(r);
        expect(readDatagrams(fd, 10)).toEqual([]);
        // A bound dgram socket is read by the event loop, so everything below
        // happens before this thread returns to it: the sends go out from
        // process.nextTick (Node's lookup of an address literal) and libuv
        // sends at once when nothing is queued; loopback delivers in the send.
        let sent = 0;
        for (let i = 0; i < 5; i++) t.send(Buffer.from([i, i, i]), r.address().port, rx, () => sent++);
        for (let i = 0; i < 3; i++) await new Promise((ok) => process.nextTick(ok));
        const first = readDatagrams(fd, 3);
        expect(first.map((d) => [...d.payload])).toEqual([[0, 0, 0], [1, 1, 1], [2, 2, 2]]);
        expect(first.every((d) => d.address === tx && d.port === t.address().port)).toBe(true);
        const rest = readDatagrams(fd, 10);
        expect(rest.map((d) => d.payload[0])).toEqual([3, 4]);
        expect(readDatagrams(fd, 10)).toEqual([]);
        expect(sent).toBe(5);
        // Node's own reading goes on afterwards: the socket is still its.
        const got = new Promise<dgram.RemoteInfo>((ok) => r.once('message', (_m, ri) => ok(ri)));
        t.send(Buffer.from([9]), r.address().port, rx);
        expect((await got).address).toBe(tx);
      } finally {
        r.close();
        t.close();
      }
    }
  });
});
