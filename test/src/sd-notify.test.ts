// systemd readiness (src/sd-notify.ts, sd_notify(3) protocol): the address
// encoding, and the real `herald run` against a unix datagram receiver made
// here with libc through koffi (Node has no unix datagram socket): READY=1
// arrives only once the control API answers and the BGP listener accepts,
// STOPPING=1 when SIGTERM arrives, and exec checks do not inherit
// NOTIFY_SOCKET. In a network namespace of its own, on its loopback. No RFC: systemd's protocol.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyAddress } from '../../src/sd-notify.js';
import { testNetns } from '../support/netns-enter.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'herald-notify-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('notifyAddress', () => {
  it('encodes an abstract name with a leading NUL and no terminator', () => {
    const { addr, len } = notifyAddress('@herald/notify');
    expect(addr.readUInt16LE(0)).toBe(1);
    expect(addr[2]).toBe(0);
    expect(addr.subarray(3, len).toString()).toBe('herald/notify');
    expect(len).toBe(2 + 1 + 'herald/notify'.length);
  });

  it('encodes a path NUL-terminated', () => {
    const { addr, len } = notifyAddress('/run/systemd/notify');
    expect(addr.subarray(2, len - 1).toString()).toBe('/run/systemd/notify');
    expect(addr[len - 1]).toBe(0);
  });

  it('refuses a relative name and one longer than sun_path', () => {
    expect(() => notifyAddress('run/notify')).toThrow(/neither an absolute path nor an abstract name/);
    expect(() => notifyAddress(`/${'x'.repeat(107)}`)).toThrow(/longer than 107 bytes/);
  });
});

/** A unix datagram socket bound to an abstract name, read without blocking. */
function receiver(name: string): { recv(): string | null; close(): void } {
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)');
  const bind = lib.func('int bind(int, const void *, uint32_t)');
  const recv = lib.func('long recv(int, void *, unsigned long, int)');
  const close = lib.func('int close(int)');
  const fd = socket(1, 2, 0) as number;
  expect(fd).toBeGreaterThanOrEqual(0);
  const { addr, len } = notifyAddress(`@${name}`);
  expect(bind(fd, addr, len)).toBe(0);
  const buf = Buffer.alloc(4096);
  return {
    recv: () => {
      const n = recv(fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */) as number;
      return n > 0 ? buf.subarray(0, n).toString() : null;
    },
    close: () => close(fd),
  };
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });

// herald runs in a namespace of this file's own (a routing daemon never runs in the host's);
// the notify socket is abstract, so the receiver is made in it too.
const netns = testNetns({ file: 'test/src/sd-notify.test.ts', tag: 'notify', scope: 'herald run under Type=notify in' });

describe.skipIf(!netns.canRun)('herald run under Type=notify (network namespace)', () => {
  beforeAll(() => netns.setUp(['192.0.2.11/32']));
  afterAll(() => netns.cleanUp());

  it('sends READY=1 once the listener and the API are up, STOPPING=1 on SIGTERM, and hides NOTIFY_SOCKET from checks', async () => {
    const name = `herald-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const r = receiver(name);
    try {
      const port = await freePort();
      const sock = join(tmp, 'herald.sock');
      const envFile = join(tmp, 'check-env');
      const config = join(tmp, 'herald.yaml');
      writeFileSync(
        config,
        `router_id: 192.0.2.11
asn: 65011
listen: { address: 127.0.0.1, port: ${port} }
api: { socket: ${sock} }
peers:
  - { name: up, address: 127.0.0.1, asn: 65000, passive: true }
services:
  - name: svc
    prefixes: [198.51.100.80/32]
    checks: [{ exec: { command: 'printf "[%s]" "$NOTIFY_SOCKET" > ${envFile}' } }]
    interval: 1s
drain: { period: 0s }
`,
      );
      const child = spawn(process.execPath, [join(root, 'src/bin/herald.mjs'), 'run', '--config', config], {
        env: { ...process.env, NOTIFY_SOCKET: `@${name}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += String(d)));
      child.stderr.on('data', (d: Buffer) => (out += String(d)));
      const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
      const messages: string[] = [];
      const waitMessage = async (want: RegExp): Promise<string> => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const m = r.recv();
          if (m !== null) {
            messages.push(m);
            if (want.test(m)) return m;
          }
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${want} (got ${JSON.stringify(messages)}):\n${out}`);
          await new Promise((res) => setTimeout(res, 5));
        }
      };
      const ready = await waitMessage(/^READY=1$/m);
      expect(ready).toMatch(/^STATUS=running with /m);
      // At READY=1 both are already up.
      expect(existsSync(sock)).toBe(true);
      expect(await accepts(port)).toBe(true);
      expect(out).toContain('control API listening');
      // The exec check's environment has no NOTIFY_SOCKET.
      const deadline = Date.now() + 15_000;
      while (!existsSync(envFile) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(readFileSync(envFile, 'utf8')).toBe('[]');
      child.kill('SIGTERM');
      await waitMessage(/^STOPPING=1$/m);
      expect(await exited).toBe(0);
    } finally {
      r.close();
    }
  }, 60_000);
});
