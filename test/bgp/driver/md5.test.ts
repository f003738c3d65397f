// TCP MD5 (RFC 2385) end to end through the kernel: a Node listener with
// per-peer keys (tcp-md5.ts) and connectTcp (connect.ts), in a network
// namespace this file creates, entered by the test process with setns(2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connectTcp, readMd5Counters, type ConnectOptions } from '../../../bgp/driver/connect.js';
import { applyListenerMd5, removeListenerMd5 } from '../../../bgp/driver/tcp-md5.js';
import { testNetns } from '../../support/netns-enter.js';
import { close, listen, port, readAll } from '../../support/net-helpers.js';

const netns = testNetns({ file: 'test/bgp/driver/md5.test.ts', tag: 'md5' });
const NS = netns.name;
const KEY = 'correct horse battery';

async function expectRejects(opts: ConnectOptions): Promise<Error & { code?: string }> {
  const t0 = performance.now();
  const err = await connectTcp(opts).then(
    (s) => {
      s.destroy();
      throw new Error('connect unexpectedly succeeded');
    },
    (e: Error) => e,
  );
  const took = performance.now() - t0;
  expect(took).toBeGreaterThanOrEqual(opts.timeoutMs - 5);
  expect(took).toBeLessThan(opts.timeoutMs + 500);
  return err;
}

describe.skipIf(!netns.canRun)('TCP MD5 through the kernel (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.1/32', '192.0.2.2/32', '192.0.2.3/32', '2001:db8::1/128', '2001:db8::2/128']));
  afterAll(() => netns.cleanUp());

  it('(a) connects with the same key on both sides and data flows both ways', async () => {
    const srv = await listen('192.0.2.1', (s) => s.once('data', (d) => s.end(`echo:${String(d)}`)));
    try {
      applyListenerMd5(srv, [{ address: '192.0.2.2', key: KEY }]);
      const before = await readMd5Counters();
      const sock = await connectTcp({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', md5Key: KEY, timeoutMs: 2000 });
      expect(sock.remoteAddress).toBe('192.0.2.1');
      expect(sock.localAddress).toBe('192.0.2.2');
      sock.write('ping');
      expect(await readAll(sock)).toBe('echo:ping');
      const after = await readMd5Counters();
      expect(after).toEqual(before);
    } finally {
      await close(srv);
    }
  });

  it('(b) a wrong key times out with a message naming the likely cause, and TCPMD5Failure rises on the listener', async () => {
    const srv = await listen('192.0.2.1');
    try {
      applyListenerMd5(srv, [{ address: '192.0.2.2', key: KEY }]);
      const before = await readMd5Counters();
      const err = await expectRejects({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', md5Key: 'not the key', timeoutMs: 300 });
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.message).toContain('no answer to TCP SYN within 0.3s');
      expect(err.message).toContain("the peer's password differs or it has none");
      expect(err.message).toContain('TcpExtTCPMD5Failure/TCPMD5NotFound');
      expect(err.message).not.toContain('not the key');
      const after = await readMd5Counters();
      expect(after.md5Failure).toBeGreaterThan(before.md5Failure);
      expect(after.md5NotFound).toBe(before.md5NotFound);
    } finally {
      await close(srv);
    }
  });

  it('(c) a client without a key is dropped (TCPMD5NotFound), and one with a key the listener lacks too (TCPMD5Unexpected)', async () => {
    const srv = await listen('192.0.2.1');
    try {
      applyListenerMd5(srv, [{ address: '192.0.2.2', key: KEY }]);
      const before = await readMd5Counters();
      const err = await expectRejects({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', timeoutMs: 300 });
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.message).not.toContain('TCP MD5'); // no MD5 on our side: no MD5 hint
      const mid = await readMd5Counters();
      expect(mid.md5NotFound).toBeGreaterThan(before.md5NotFound);

      // 192.0.2.3 has no key on the listener, but signs its SYN.
      await expectRejects({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.3', md5Key: KEY, timeoutMs: 300 });
      const after = await readMd5Counters();
      expect(after.md5Unexpected).toBeGreaterThan(mid.md5Unexpected);
    } finally {
      await close(srv);
    }
  });

  it('(d) IPv6: the right key connects, a wrong key times out and counts as TCPMD5Failure', async () => {
    const srv = await listen('2001:db8::1');
    try {
      applyListenerMd5(srv, [{ address: '2001:db8::2', key: KEY }]);
      const sock = await connectTcp({ host: '2001:db8::1', port: port(srv), localAddress: '2001:db8::2', md5Key: KEY, timeoutMs: 2000 });
      expect(sock.remoteAddress).toBe('2001:db8::1');
      expect(await readAll(sock)).toBe('hello from the listener');
      const before = await readMd5Counters();
      const err = await expectRejects({ host: '2001:db8::1', port: port(srv), localAddress: '2001:db8::2', md5Key: 'nope', timeoutMs: 300 });
      expect(err.message).toContain('connect to [2001:db8::1]:');
      expect((await readMd5Counters()).md5Failure).toBeGreaterThan(before.md5Failure);
    } finally {
      await close(srv);
    }
  });

  it('keys an IPv4 peer on a dual-stack :: listener by its IPv4-mapped address (either spelling)', async () => {
    for (const keyedAs of ['192.0.2.2', '::ffff:192.0.2.2']) {
      const remotes: string[] = [];
      const srv = await listen('::', (s) => {
        remotes.push(s.remoteAddress ?? '');
        s.end('ok');
      });
      try {
        applyListenerMd5(srv, [{ address: keyedAs, key: KEY }]);
        const sock = await connectTcp({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', md5Key: KEY, timeoutMs: 2000 });
        expect(await readAll(sock)).toBe('ok');
        expect(remotes).toEqual(['::ffff:192.0.2.2']);
        const before = await readMd5Counters();
        await expectRejects({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', md5Key: 'other', timeoutMs: 250 });
        expect((await readMd5Counters()).md5Failure).toBeGreaterThan(before.md5Failure);
      } finally {
        await close(srv);
      }
    }
  });

  it('removeListenerMd5 lets an unsigned peer in again, and removing twice is not an error', async () => {
    const srv = await listen('192.0.2.1');
    try {
      applyListenerMd5(srv, [{ address: '192.0.2.2', key: KEY }]);
      await expectRejects({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', timeoutMs: 200 });
      removeListenerMd5(srv, '192.0.2.2');
      removeListenerMd5(srv, '192.0.2.2');
      const sock = await connectTcp({ host: '192.0.2.1', port: port(srv), localAddress: '192.0.2.2', timeoutMs: 2000 });
      expect(await readAll(sock)).toBe('hello from the listener');
    } finally {
      await close(srv);
    }
  });

  it('refuses an IPv6 peer key on an IPv4 listener with a clear error that does not contain the key', async () => {
    const srv = await listen('192.0.2.1');
    try {
      expect(() => applyListenerMd5(srv, [{ address: '2001:db8::2', key: KEY }])).toThrow(/IPv6 address cannot be used on an IPv4 socket/);
      let msg = '';
      try {
        applyListenerMd5(srv, [{ address: '192.0.2.2', key: 'k'.repeat(81) }]);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/81 bytes; Linux allows at most 80/);
      expect(msg).not.toContain('kkkk');
    } finally {
      await close(srv);
    }
  });

  const bird = spawnSync('sh', ['-c', 'command -v bird'], { encoding: 'utf8' }).stdout.trim();
  it.skipIf(!bird)('accepts BIRD configured with the same password, and counts a wrong one as TCPMD5Failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-md5-bird-'));
    const pids: number[] = [];
    try {
      for (const [password, expectConnect] of [[KEY, true], ['wrong password', false]] as const) {
        let accepted: ((b: Buffer) => void) | undefined;
        const firstBytes = new Promise<Buffer>((r) => (accepted = r));
        const srv = await listen('192.0.2.1', (s) => s.once('data', (d: Buffer) => accepted?.(d)));
        try {
          applyListenerMd5(srv, [{ address: '192.0.2.2', key: KEY }]);
          const before = await readMd5Counters();
          const conf = join(dir, 'bird.conf');
          writeFileSync(
            conf,
            [
              'router id 192.0.2.2;',
              'protocol device {}',
              'protocol bgp herald {',
              '  local 192.0.2.2 as 65002;',
              `  neighbor 192.0.2.1 port ${port(srv)} as 65001;`,
              `  password "${password}";`,
              '  multihop; # both addresses sit on lo: not a directly connected neighbor to BIRD',
              '  connect delay time 1;',
              '  ipv4 { import none; export none; };',
              '}',
              '',
            ].join('\n'),
          );
          const child = spawn('ip', ['netns', 'exec', NS, 'bird', '-f', '-c', conf, '-s', join(dir, 'bird.ctl')], { stdio: 'ignore' });
          if (child.pid) pids.push(child.pid);
          try {
            if (expectConnect) {
              const bytes = await Promise.race([firstBytes, new Promise<Buffer>((_, rej) => setTimeout(() => rej(new Error('BIRD did not connect')), 8000))]);
              expect(bytes.subarray(0, 16).equals(Buffer.alloc(16, 0xff))).toBe(true); // BGP marker of BIRD's OPEN
              expect(bytes[18]).toBe(1); // OPEN
            } else {
              const deadline = performance.now() + 8000;
              while ((await readMd5Counters()).md5Failure <= before.md5Failure && performance.now() < deadline) {
                await new Promise((r) => setTimeout(r, 100));
              }
              expect((await readMd5Counters()).md5Failure).toBeGreaterThan(before.md5Failure);
            }
          } finally {
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          }
        } finally {
          await close(srv);
        }
      }
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
